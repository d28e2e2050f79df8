package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pecbatch/pecbatch/campaign"
)

// previewOptions are the arguments and flags of pecbatch preview.
type previewOptions struct {
	file string
	// rowsSet says --rows was given: rows it names that are missing are
	// then worth a warning.
	rowsSet bool
	out     string
	rows    string
}

// previewGenerator marks a folder written by preview, so that a later
// preview may replace it and nothing else.
const previewGenerator = "pecbatch preview"

// previewManifest is preview's manifest.json.
type previewManifest struct {
	Generator    string           `json:"generator"`
	Campaign     string           `json:"campaign"`
	CampaignFile string           `json:"campaign_file"`
	Sender       string           `json:"sender"`
	Hash         string           `json:"hash"`
	Messages     []previewMessage `json:"messages"`
}

// previewMessage is one message of the manifest.
type previewMessage struct {
	Row         int                 `json:"row"`
	Line        int                 `json:"line"`
	Key         string              `json:"key"`
	Recipients  []string            `json:"recipients"`
	Subject     string              `json:"subject"`
	Size        int                 `json:"size"`
	SHA256      string              `json:"sha256"`
	Folder      string              `json:"folder"`
	Attachments []previewAttachment `json:"attachments"`
}

// previewAttachment is one attachment of the manifest.
type previewAttachment struct {
	campaign.AttachmentInfo
	File string `json:"file"`
}

func newPreviewCommand(g *globalOptions) *cobra.Command {
	o := &previewOptions{}
	cmd := &cobra.Command{
		Use:   "preview CAMPAIGN.yaml [--out DIR] [--rows 1,5-9]",
		Short: "Render some rows' messages into files to look at",
		Long: `preview renders the messages of the selected rows exactly as run would send
them, without contacting the API, and writes for each row a folder with
message.html (the subject, sender, recipients, attachment list and content
hash shown at its top, then the body) and the rendered attachments, plus a
manifest.json listing every message with its SHA-256 content hash: the hash
run records in the journal when it sends that row.

Rows are numbered from 1, the header excluded: --rows 1,5-9. By default the
first 5 rows go into preview/ beside the campaign file. An existing output
folder is replaced only if an earlier preview wrote it.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.file = args[0]
			o.rowsSet = cmd.Flags().Changed("rows")
			return runPreview(cmd.Context(), g, o)
		},
	}
	cmd.Flags().StringVar(&o.out, "out", "", "folder to write into (default: preview/ beside the campaign file)")
	cmd.Flags().StringVar(&o.rows, "rows", "1-5", "rows to render: numbers and ranges, e.g. 1,5-9")
	return cmd
}

func runPreview(ctx context.Context, g *globalOptions, o *previewOptions) error {
	sel, err := parseRowSelection(o.rows)
	if err != nil {
		return &usageError{fmt.Errorf("--rows: %w", err)}
	}
	c, err := campaign.LoadFile(o.file, g.loadOptions(true))
	if err != nil {
		return fmt.Errorf("preview: %w", err)
	}
	out := o.out
	if out == "" {
		out = filepath.Join(c.Dir, "preview")
	}
	if err := preparePreviewDir(out); err != nil {
		return fmt.Errorf("preview: %w", err)
	}
	manifest := previewManifest{Generator: previewGenerator, Campaign: c.Name, CampaignFile: filepath.Base(c.Path),
		Sender: c.Sender.Address, Hash: "SHA-256 of the message content, as defined by pecbatch (message v1)", Messages: []previewMessage{}}
	width := max(4, len(strconv.Itoa(sel.max())))
	seen := map[int]bool{}
	failed := 0
	for m, err := range c.Messages(ctx, sel.contains) {
		var rowErr *campaign.RowError
		if errors.As(err, &rowErr) {
			failed++
			seen[rowErr.Row] = true
			for _, p := range rowErr.Problems {
				fmt.Fprintln(g.stderr, p)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("preview: %w", err)
		}
		seen[m.Row] = true
		folder := fmt.Sprintf("row-%0*d", width, m.Row)
		entry, err := writePreviewRow(filepath.Join(out, folder), folder, c.Sender.Address, m)
		if err != nil {
			return fmt.Errorf("preview: %w", err)
		}
		manifest.Messages = append(manifest.Messages, entry)
		fmt.Fprintf(g.stdout, "row %d  %s  %s  %s\n", m.Row, strings.Join(m.Recipients, ", "), m.SHA256[:16],
			filepath.Join(out, folder, "message.html"))
	}
	data, err := json.MarshalIndent(manifest, "", "  ")
	if err != nil {
		return fmt.Errorf("preview: %w", err)
	}
	if err := os.WriteFile(filepath.Join(out, "manifest.json"), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("preview: %w", err)
	}
	if missing := sel.missing(seen); len(missing) > 0 && o.rowsSet {
		fmt.Fprintf(g.stderr, "warning: no row %s in %s (or skipped as duplicates)\n", missing, c.Recipients.FileName)
	}
	fmt.Fprintf(g.stdout, "%d messages written to %s; manifest.json lists their SHA-256\n", len(manifest.Messages), out)
	if failed > 0 {
		fmt.Fprintf(g.stderr, "%d selected rows have problems (above); run 'pecbatch validate' to check every row\n", failed)
		return fmt.Errorf("preview: %w: %w", campaign.ErrInvalidInput, errReported)
	}
	return nil
}

// preparePreviewDir makes dir ready for a preview: created when missing,
// emptied of an earlier preview's files, refused when it holds anything
// else.
func preparePreviewDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	var m previewManifest
	if err != nil || json.Unmarshal(data, &m) != nil || m.Generator != previewGenerator {
		return fmt.Errorf("%s is not empty and was not written by preview: choose another folder with --out", dir)
	}
	for _, e := range entries {
		if e.Name() != "manifest.json" && !previewFolder.MatchString(e.Name()) {
			return fmt.Errorf("%s holds %s, which preview did not write: move it away or choose another folder with --out", dir, e.Name())
		}
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// previewFolder matches the per-row folders preview writes.
var previewFolder = regexp.MustCompile(`^row-[0-9]+$`)

// writePreviewRow writes one message's folder and returns its manifest entry.
func writePreviewRow(dir, folder, sender string, m *campaign.Message) (previewMessage, error) {
	entry := previewMessage{Row: m.Row, Line: m.Line, Key: m.Key, Recipients: m.Recipients, Subject: m.Subject,
		Size: m.Size, SHA256: m.SHA256, Folder: folder, Attachments: []previewAttachment{}}
	attDir := filepath.Join(dir, "attachments")
	if err := os.MkdirAll(attDir, 0o755); err != nil {
		return entry, err
	}
	used := map[string]bool{}
	var list strings.Builder
	for i, a := range m.Attachments {
		// Two attachments may share a name in a message; on disk they
		// cannot.
		file := a.Name
		for n := 2; used[file]; n++ {
			file = fmt.Sprintf("%d-%s", n, a.Name)
		}
		used[file] = true
		if err := os.WriteFile(filepath.Join(attDir, file), a.Content, 0o644); err != nil {
			return entry, err
		}
		info := campaign.AttachmentInfo{Name: a.Name, ContentType: a.ContentType, Size: int64(len(a.Content)), SHA256: sha256Hex(a.Content)}
		entry.Attachments = append(entry.Attachments, previewAttachment{AttachmentInfo: info, File: folder + "/attachments/" + file})
		if i > 0 {
			list.WriteString(", ")
		}
		fmt.Fprintf(&list, `<a href="attachments/%s">%s</a> (%s, %s)`, html.EscapeString(url.PathEscape(file)), html.EscapeString(a.Name),
			html.EscapeString(a.ContentType), campaign.FormatSize(int64(len(a.Content))))
	}
	if len(m.Attachments) == 0 {
		list.WriteString("none")
	}
	header := fmt.Sprintf(`<!-- pecbatch preview of row %d (line %d): this box is not part of the message -->
<div style="font-family: sans-serif; font-size: 13px; background: #f3f3f3; border: 1px solid #999; padding: 8px 12px; margin: 0 0 16px 0">
<div><b>Subject:</b> %s</div>
<div><b>From:</b> %s</div>
<div><b>To:</b> %s</div>
<div><b>Attachments:</b> %s</div>
<div><b>Size:</b> %s &middot; <b>SHA-256:</b> <code>%s</code></div>
</div>
`, m.Row, m.Line, html.EscapeString(m.Subject), html.EscapeString(sender), html.EscapeString(strings.Join(m.Recipients, ", ")),
		list.String(), campaign.FormatSize(int64(m.Size)), m.SHA256)
	page := insertAfterBody(m.Body, []byte(header))
	if err := os.WriteFile(filepath.Join(dir, "message.html"), page, 0o644); err != nil {
		return entry, err
	}
	return entry, nil
}

// bodyTag finds the opening <body> tag of an HTML document.
var bodyTag = regexp.MustCompile(`(?i)<body[^>]*>`)

// insertAfterBody puts header right after the body's <body> tag, or before
// everything when the body is a fragment.
func insertAfterBody(body, header []byte) []byte {
	loc := bodyTag.FindIndex(body)
	if loc == nil {
		return append(append([]byte{}, header...), body...)
	}
	out := make([]byte, 0, len(body)+len(header))
	out = append(out, body[:loc[1]]...)
	out = append(out, '\n')
	out = append(out, header...)
	return append(out, body[loc[1]:]...)
}

// rowSelection is a set of 1-based row ranges.
type rowSelection [][2]int

// parseRowSelection reads "1,5-9".
func parseRowSelection(s string) (rowSelection, error) {
	var sel rowSelection
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(strings.TrimSpace(lo))
		if err != nil || a < 1 {
			return nil, fmt.Errorf("%q is not a row number (rows count from 1, e.g. 1,5-9)", part)
		}
		b := a
		if isRange {
			b, err = strconv.Atoi(strings.TrimSpace(hi))
			if err != nil || b < a {
				return nil, fmt.Errorf("%q is not a range of rows (write it as 5-9)", part)
			}
		}
		sel = append(sel, [2]int{a, b})
	}
	if len(sel) == 0 {
		return nil, errors.New("no rows given (e.g. 1,5-9)")
	}
	return sel, nil
}

func (s rowSelection) contains(row int) bool {
	for _, r := range s {
		if row >= r[0] && row <= r[1] {
			return true
		}
	}
	return false
}

func (s rowSelection) max() int {
	m := 0
	for _, r := range s {
		m = max(m, r[1])
	}
	return m
}

// missing lists the selected rows not in seen, compactly ("7, 9-12"); it
// gives up listing beyond a few ranges.
func (s rowSelection) missing(seen map[int]bool) string {
	set := map[int]bool{}
	for _, r := range s {
		for i := r[0]; i <= r[1] && len(set) < 1000; i++ {
			if !seen[i] {
				set[i] = true
			}
		}
	}
	rows := make([]int, 0, len(set))
	for r := range set {
		rows = append(rows, r)
	}
	sort.Ints(rows)
	var parts []string
	for i := 0; i < len(rows); {
		j := i
		for j+1 < len(rows) && rows[j+1] == rows[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(rows[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", rows[i], rows[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// sha256Hex is the hex SHA-256 of data.
func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
