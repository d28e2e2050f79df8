package report

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// ManifestName is the file at the top of an evidence pack that lists the
// SHA-256 of every other file.
const ManifestName = "manifest.json"

// manifestFormat names the layout of manifest.json; bump it if its
// meaning changes.
const manifestFormat = "pecbatch evidence v1"

// Manifest is the content of an evidence pack's manifest.json.
type Manifest struct {
	Format   string `json:"format"`
	Campaign string `json:"campaign"`
	// Journal is the identity of the journal the pack was made from
	// ((*journal.Reader).ID).
	Journal string `json:"journal_id"`
	// CreatedAt is when the pack was made.
	CreatedAt time.Time `json:"created_at"`
	// Rows is the number of row folders.
	Rows int `json:"rows"`
	// Files are every file of the pack but the manifest, by path.
	Files []ManifestFile `json:"files"`
}

// ManifestFile is one file of an evidence pack: its slash-separated path
// inside the pack, its size and its SHA-256 (hex).
type ManifestFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// sink is where a pack's files go: a folder or a zip archive.
type sink interface {
	put(name string, data []byte) error
}

// dirSink writes files under root, readable by their owner only: a pack
// holds personal data and the messages themselves.
type dirSink struct {
	root string
	made map[string]bool // folders created already: a pack has tens of thousands of files
}

func (d *dirSink) put(name string, data []byte) error {
	p := filepath.Join(d.root, filepath.FromSlash(name))
	if dir := filepath.Dir(p); !d.made[dir] {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("evidence: %w", err)
		}
		d.made[dir] = true
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("evidence: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("evidence: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("evidence: %w", err)
	}
	return nil
}

// zipSink writes files into a zip archive, all with one modification time
// (the pack's), so that the archive says when it was made.
type zipSink struct {
	w    *zip.Writer
	when time.Time
}

func (z zipSink) put(name string, data []byte) error {
	w, err := z.w.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: z.when})
	if err != nil {
		return fmt.Errorf("evidence: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("evidence: %w", err)
	}
	return nil
}

// pack adds files to a sink and remembers their hashes for the manifest.
type pack struct {
	sink  sink
	files []ManifestFile
	seen  map[string]bool
}

func newPack(s sink) *pack { return &pack{sink: s, seen: map[string]bool{}} }

// add writes data as name (slash-separated) and returns its hex SHA-256.
func (p *pack) add(name string, data []byte) (string, error) {
	if p.seen[name] || name == ManifestName {
		return "", fmt.Errorf("evidence: two files named %s in the pack", name)
	}
	p.seen[name] = true
	sum := sha256.Sum256(data)
	h := hex.EncodeToString(sum[:])
	if err := p.sink.put(name, data); err != nil {
		return "", err
	}
	p.files = append(p.files, ManifestFile{Path: name, Size: int64(len(data)), SHA256: h})
	return h, nil
}

// manifest writes manifest.json last (the files it lists are all
// written) and returns its hex SHA-256.
func (p *pack) manifest(m Manifest) (string, error) {
	m.Format = manifestFormat
	m.Files = slices.Clone(p.files)
	slices.SortFunc(m.Files, func(a, b ManifestFile) int { return strings.Compare(a.Path, b.Path) })
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return "", fmt.Errorf("evidence: manifest: %w", err)
	}
	b = append(b, '\n')
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), p.sink.put(ManifestName, b)
}

// VerifyResult is what VerifyEvidence found: the files whose content is
// not the one the manifest lists, the files it lists that are gone, and
// files it does not list. All are slash-separated paths, sorted.
type VerifyResult struct {
	Manifest Manifest
	// ManifestSHA256 is the hex SHA-256 of manifest.json as read: the one
	// SaveEvidence returned when the pack is as it was made.
	ManifestSHA256 string
	Changed        []string
	Missing        []string
	Extra          []string
}

// OK reports whether every file is as the manifest says.
func (v VerifyResult) OK() bool {
	return len(v.Changed) == 0 && len(v.Missing) == 0 && len(v.Extra) == 0
}

// VerifyEvidence recomputes the SHA-256 of every file of an evidence pack
// (a folder, or a .zip file) and compares them with its manifest.json.
func VerifyEvidence(packPath string) (VerifyResult, error) {
	fi, err := os.Stat(packPath)
	if err != nil {
		return VerifyResult{}, fmt.Errorf("evidence: %w", err)
	}
	if fi.IsDir() {
		return verifyFS(os.DirFS(packPath))
	}
	zr, err := zip.OpenReader(packPath)
	if err != nil {
		return VerifyResult{}, fmt.Errorf("evidence: %s is neither a folder nor a zip archive: %w", packPath, err)
	}
	defer zr.Close()
	return verifyFS(zr)
}

func verifyFS(fsys fs.FS) (VerifyResult, error) {
	var res VerifyResult
	b, err := fs.ReadFile(fsys, ManifestName)
	if err != nil {
		return res, fmt.Errorf("evidence: no readable %s: is this an evidence pack made by 'pecbatch evidence'? %w", ManifestName, err)
	}
	sum := sha256.Sum256(b)
	res.ManifestSHA256 = hex.EncodeToString(sum[:])
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res.Manifest); err != nil {
		return res, fmt.Errorf("evidence: %s: %w", ManifestName, err)
	}
	if res.Manifest.Format != manifestFormat {
		return res, fmt.Errorf("evidence: %s: format %q, want %q", ManifestName, res.Manifest.Format, manifestFormat)
	}
	want := make(map[string]string, len(res.Manifest.Files))
	for _, f := range res.Manifest.Files {
		want[f.Path] = f.SHA256
	}
	seen := map[string]bool{}
	err = fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || name == ManifestName {
			return nil
		}
		sum, ok := want[name]
		if !ok {
			res.Extra = append(res.Extra, name)
			return nil
		}
		seen[name] = true
		got, err := hashFile(fsys, name)
		if err != nil {
			return err
		}
		if got != sum {
			res.Changed = append(res.Changed, name)
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("evidence: %w", err)
	}
	for _, f := range res.Manifest.Files {
		if !seen[f.Path] {
			res.Missing = append(res.Missing, f.Path)
		}
	}
	slices.Sort(res.Changed)
	slices.Sort(res.Missing)
	slices.Sort(res.Extra)
	return res, nil
}

func hashFile(fsys fs.FS, name string) (string, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// safeName makes s usable as one file or folder name on Windows, macOS
// and Linux: the characters Windows forbids and control characters become
// '_', trailing dots and spaces (which Windows drops) go, and the name is
// kept short enough for Windows' 260-character paths.
func safeName(s string) string {
	const maxLen = 80
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(`<>:"/\|?*`, r) {
			return '_'
		}
		return r
	}, s)
	if len(s) > maxLen {
		// Cut on a rune boundary.
		cut := maxLen
		for cut > 0 && !utf8RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	s = strings.TrimRight(s, ". ")
	if s == "" {
		return "_"
	}
	if isReservedWindowsName(s) {
		return "_" + s
	}
	return s
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// isReservedWindowsName reports names Windows refuses whatever their
// extension: CON, PRN, AUX, NUL, COM1-9, LPT1-9.
func isReservedWindowsName(s string) bool {
	base := strings.ToUpper(strings.TrimSpace(strings.SplitN(s, ".", 2)[0]))
	switch base {
	case "CON", "PRN", "AUX", "NUL":
		return true
	}
	if len(base) == 4 && (strings.HasPrefix(base, "COM") || strings.HasPrefix(base, "LPT")) && base[3] >= '1' && base[3] <= '9' {
		return true
	}
	return false
}

// uniqueName returns name, or name with " (2)", " (3)"... before its
// extension when used already has it (case-insensitively: Windows and
// macOS folders are).
func uniqueName(name string, used map[string]bool) string {
	cand := name
	ext := path.Ext(name)
	for i := 2; used[strings.ToLower(cand)]; i++ {
		cand = fmt.Sprintf("%s (%d)%s", strings.TrimSuffix(name, ext), i, ext)
	}
	used[strings.ToLower(cand)] = true
	return cand
}

// errPackExists is returned when the pack's folder or file is already
// there: evidence is never overwritten.
var errPackExists = errors.New("already exists")
