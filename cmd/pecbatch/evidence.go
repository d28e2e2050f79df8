package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/campaign/report"
)

// evidenceOptions are the arguments and flags of pecbatch evidence.
type evidenceOptions struct {
	file    string
	output  string
	rows    string
	key     string
	zip     bool
	sandbox bool
}

func newEvidenceCommand(g *globalOptions) *cobra.Command {
	o := &evidenceOptions{}
	cmd := &cobra.Command{
		Use:   "evidence CAMPAIGN.yaml [-o DIR] [--rows 1,5-9] [--key K] [--zip]",
		Short: "Put together the proof of each row sent: message, receipts, timeline, printable attestation",
		Long: `evidence writes, for each row sent (or those --rows or --key select), a
folder named after the row's number and key with:

  oggetto.txt, corpo.html, allegati/   the message as sent, rebuilt from the
      campaign's files and checked against the content hash journaled when
      it was sent; when the files changed since, NON-CORRISPONDE.txt says so
      with both hashes, and the message is left out (never a message that
      was not the one sent)
  ricevute/01-ACCETTAZIONE-messaggio.eml ...   with tracking.imap, the
      signed receipts read from the mailbox, untouched, named after the
      addressee their daticert.xml names
  ricevuta-01-ACCETTAZIONE.txt ...    each receipt as the PEC Massiva API
      summarised it, labelled as a summary (not the signed receipt)
  timeline.txt       intent, send, message id, acceptance, delivery or
      failure per recipient, retries, operator decisions (Europe/Rome)
  attestazione.html  one printable page in Italian: recipients, times, when
      the notification takes effect for the sender and for each recipient
      (art. 147 c.p.c.), and the SHA-256 of the message, attachments and
      receipt files; with signed receipts, the one that proves each
      recipient's outcome and its signature check, and which are kept but
      not used as proof (broken signature, daticert of another message)

manifest.json, at the top, lists the SHA-256 of every file, the campaign,
the journal's identity and when the pack was made; 'pecbatch evidence
verify DIR' checks them again. evidence prints the SHA-256 of manifest.json
itself: record it apart from the pack (a protocol register, a mail to the
lawyer) and it vouches for every file.

The pack goes next to the journal as <campaign name>-evidence unless -o
names it; --zip writes one .zip file instead of a folder. An existing pack
is never overwritten. With --sandbox it reads the last 'run --sandbox'.
The API token and the mailbox credentials are not needed.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.file = args[0]
			return runEvidence(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.output, "output", "o", "", "folder to write (with --zip, the .zip file; default: next to the journal)")
	f.StringVar(&o.rows, "rows", "", "only these rows, as numbers and ranges: 1,5-9 (default: every row sent)")
	f.StringVar(&o.key, "key", "", "only the row with this key")
	f.BoolVar(&o.zip, "zip", false, "write one zip archive instead of a folder")
	f.BoolVar(&o.sandbox, "sandbox", false, "read the last 'run --sandbox' (its own journal)")
	cmd.AddCommand(newEvidenceVerifyCommand(g))
	return cmd
}

func newEvidenceVerifyCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "verify DIR",
		Short: "Check every file of an evidence pack against its manifest.json",
		Long: `verify recomputes the SHA-256 of every file of an evidence pack (a folder,
or the .zip that --zip wrote) and compares them with its manifest.json. It
names each file changed, missing or not in the manifest, and exits with
status 1 when there is any; it prints the SHA-256 of manifest.json, to
compare with the one evidence printed.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEvidenceVerify(g, args[0])
		},
	}
}

// errEvidenceMismatch is returned when a pack's files are not those of its
// manifest.
var errEvidenceMismatch = errors.New("the evidence pack does not match its manifest")

func runEvidenceVerify(g *globalOptions, dir string) error {
	res, err := report.VerifyEvidence(dir)
	if err != nil {
		return fmt.Errorf("evidence verify: %w", err)
	}
	for _, l := range []struct {
		what  string
		paths []string
	}{{"changed", res.Changed}, {"missing", res.Missing}, {"not in the manifest", res.Extra}} {
		for _, p := range l.paths {
			fmt.Fprintf(g.stdout, "%s: %s\n", l.what, p)
		}
	}
	if !res.OK() {
		return fmt.Errorf("evidence verify: %s: %d changed, %d missing, %d not in the manifest: %w",
			dir, len(res.Changed), len(res.Missing), len(res.Extra), errEvidenceMismatch)
	}
	fmt.Fprintf(g.stdout, "ok: %d files match the manifest (campaign %s, journal %s, made %s)\nSHA-256 of %s: %s\n",
		len(res.Manifest.Files), res.Manifest.Campaign, res.Manifest.Journal, res.Manifest.CreatedAt.Format(time.RFC3339),
		report.ManifestName, res.ManifestSHA256)
	return nil
}

func runEvidence(ctx context.Context, g *globalOptions, o *evidenceOptions) error {
	opts := report.EvidenceOptions{Key: o.key, Zip: o.zip, Now: g.now}
	if o.rows != "" {
		sel, err := parseRowSelection(o.rows)
		if err != nil {
			return &usageError{fmt.Errorf("--rows: %w", err)}
		}
		opts.Rows = sel.contains
	}
	c, err := campaign.LoadFile(o.file, g.loadOptions(true))
	if err != nil {
		return fmt.Errorf("evidence: %w", err)
	}
	opts.Messages = c.Messages
	r, journalPath, err := openJournalToRead(ctx, c, "evidence", o.file, o.sandbox)
	if err != nil {
		return err
	}
	defer r.Close()

	path := o.output
	if path == "" {
		name := c.Name
		if o.sandbox {
			name += "-sandbox"
		}
		path = report.DefaultEvidencePath(journalPath, name)
	}
	if o.zip && !strings.EqualFold(filepath.Ext(path), ".zip") {
		path += ".zip"
	}
	res, err := report.SaveEvidence(ctx, r, path, opts)
	if errors.Is(err, report.ErrNoRowsSelected) {
		return fmt.Errorf("%w: check --rows and --key against 'pecbatch status %s'", err, o.file)
	}
	if err != nil {
		return err
	}
	if len(res.Mismatched) > 0 {
		fmt.Fprintf(g.stderr, "Warning: %d row(s) changed since they were sent (rows %s): their folders hold NON-CORRISPONDE.txt instead of the message\n",
			len(res.Mismatched), joinInts(res.Mismatched))
	}
	if res.Signed > 0 {
		fmt.Fprintf(g.stderr, "%d signed receipt(s) from the mailbox, as .eml files\n", res.Signed)
	}
	if len(res.NotProof) > 0 {
		fmt.Fprintf(g.stderr, "Warning: %d row(s) hold a signed receipt kept but not used as proof (rows %s): broken signature or daticert of another message; see their attestazione.html\n",
			len(res.NotProof), joinInts(res.NotProof))
	}
	if res.NotSent > 0 {
		fmt.Fprintf(g.stderr, "%d selected row(s) not sent yet: left out\n", res.NotSent)
	}
	fmt.Fprintf(g.stderr, "%d row(s); SHA-256 of %s: %s (keep it apart from the pack: it vouches for every file)\n",
		res.Rows, report.ManifestName, res.ManifestSHA256)
	fmt.Fprintln(g.stdout, res.Path)
	return nil
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}
