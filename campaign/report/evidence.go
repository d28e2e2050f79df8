package report

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/message"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/journal"
)

// EvidenceOptions says what an evidence pack holds and how it is written.
type EvidenceOptions struct {
	// Messages renders the campaign's rows as its files are now: the
	// method value (*campaign.Campaign).Messages. Each row's message is
	// written only when its content hash is the one journaled at send time.
	Messages func(ctx context.Context, only func(row int) bool) iter.Seq2[*campaign.Message, error]
	// Rows selects rows by number; nil means every row sent.
	Rows func(row int) bool
	// Key, when set, selects the row with that key only.
	Key string
	// Zip writes one zip archive at the path instead of a folder.
	Zip bool
	// Now gives the pack's creation time; nil means time.Now.
	Now func() time.Time
	// Location is the zone of every time written; nil means DefaultZone.
	Location *time.Location
}

// EvidenceResult says what SaveEvidence wrote.
type EvidenceResult struct {
	// Path is the pack's folder or zip file.
	Path string
	// Rows is the number of row folders.
	Rows int
	// Mismatched are the numbers of the rows whose message could not be
	// rebuilt as sent (NON-CORRISPONDE.txt instead of the message).
	Mismatched []int
	// NotSent counts the selected rows never sent, left out of the pack.
	NotSent int
	// Signed counts the signed receipts (.eml) written; NotProof are the
	// numbers of the rows holding one kept but not used as proof (broken
	// signature, daticert missing or of another message).
	Signed   int
	NotProof []int
	// ManifestSHA256 is the hex SHA-256 of the pack's manifest.json, which
	// lists the SHA-256 of every other file: recorded elsewhere (a
	// protocol register, an e-mail), it vouches for the whole pack.
	ManifestSHA256 string
}

// ErrNoRowsSelected is returned when the selection names no row that was
// ever sent.
var ErrNoRowsSelected = errors.New("no row sent among the rows selected")

// SaveEvidence writes the evidence pack of the journal's sent rows (those
// opts select) at packPath: a folder, or with opts.Zip a zip file, that
// must not exist yet. See docs/evidence.md for its content.
func SaveEvidence(ctx context.Context, r *journal.Reader, packPath string, opts EvidenceOptions) (EvidenceResult, error) {
	res := EvidenceResult{Path: packPath}
	if opts.Messages == nil {
		return res, errors.New("evidence: no campaign to rebuild the messages from")
	}
	if _, err := os.Lstat(packPath); err == nil {
		return res, fmt.Errorf("evidence: %s %w: an evidence pack is never overwritten; choose another -o or move it away", packPath, errPackExists)
	}
	meta, err := r.Meta(ctx)
	if err != nil {
		return res, fmt.Errorf("evidence: %w", err)
	}
	src, err := loadEvidence(ctx, r, opts)
	if err != nil {
		return res, err
	}
	res.NotSent = src.notSent
	if len(src.rows) == 0 {
		return res, fmt.Errorf("evidence: %w (%d not sent yet)", ErrNoRowsSelected, src.notSent)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	_, readAt, err := r.SignedCursorAt(ctx)
	if err != nil {
		return res, fmt.Errorf("evidence: %w", err)
	}
	w := &evidenceWriter{r: r, src: src, meta: meta, loc: Options{Location: opts.Location}.location(),
		when: now(), journalID: r.ID(), used: map[string]bool{}, it: printer(Italian), mailboxAt: readAt}
	write := func(s sink) error {
		w.p = newPack(s)
		if err := w.writeRows(ctx, opts.Messages); err != nil {
			return err
		}
		sum, err := w.p.manifest(Manifest{Campaign: meta.Campaign, Journal: r.ID(), CreatedAt: w.when.UTC(), Rows: len(src.rows)})
		res.ManifestSHA256 = sum
		return err
	}
	if opts.Zip {
		err = WriteFile(packPath, func(f io.Writer) error {
			zw := zip.NewWriter(f)
			if err := write(zipSink{w: zw, when: w.when}); err != nil {
				return err
			}
			return zw.Close()
		})
	} else {
		err = writeDir(packPath, func(root string) error { return write(&dirSink{root: root, made: map[string]bool{}}) })
	}
	if err != nil {
		return res, err
	}
	res.Rows, res.Mismatched, res.Signed, res.NotProof = len(src.rows), w.mismatched, w.signed, w.notProof
	return res, nil
}

// writeDir builds the pack in a temporary folder beside dir and renames it
// at the end: a pack is there complete or not at all.
func writeDir(dir string, write func(root string) error) error {
	parent := filepath.Dir(dir)
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".*.tmp")
	if err != nil {
		return fmt.Errorf("evidence: cannot write in %s: %w: check that the folder exists and is writable", parent, err)
	}
	if err := write(tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("evidence: %w", err)
	}
	return nil
}

// evidenceSource is what the journal says of the selected rows.
type evidenceSource struct {
	rows      []journal.Row
	byKey     map[string]int // index in rows
	lines     map[int64][]journal.ReportRow
	events    map[int64][]journal.Event
	decisions map[int64][]journal.OperatorDecision
	notSent   int
}

func loadEvidence(ctx context.Context, r *journal.Reader, opts EvidenceOptions) (*evidenceSource, error) {
	src := &evidenceSource{byKey: map[string]int{}, lines: map[int64][]journal.ReportRow{},
		events: map[int64][]journal.Event{}, decisions: map[int64][]journal.OperatorDecision{}}
	var ids []int64
	for d, err := range r.RowDigests(ctx) {
		if err != nil {
			return nil, fmt.Errorf("evidence: %w", err)
		}
		if (opts.Rows != nil && !opts.Rows(d.RowNumber)) || (opts.Key != "" && d.Key != opts.Key) {
			continue
		}
		ids = append(ids, d.ID)
	}
	for _, id := range ids {
		row, err := r.Row(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("evidence: %w", err)
		}
		// A row back to pending after a retry had an attempt sent.
		if row.State == journal.StatePending && row.Attempt <= 1 {
			src.notSent++
			continue
		}
		src.byKey[row.Key] = len(src.rows)
		src.rows = append(src.rows, row)
	}
	if len(src.rows) == 0 {
		return src, nil
	}
	want := make(map[int64]bool, len(src.rows))
	for _, row := range src.rows {
		want[row.ID] = true
	}
	for l, err := range r.ReportRows(ctx) {
		if err != nil {
			return nil, fmt.Errorf("evidence: %w", err)
		}
		if want[l.RowID] {
			src.lines[l.RowID] = append(src.lines[l.RowID], l)
		}
	}
	for e, err := range r.Events(ctx) {
		if err != nil {
			return nil, fmt.Errorf("evidence: %w", err)
		}
		if want[e.RowID] {
			src.events[e.RowID] = append(src.events[e.RowID], e)
		}
	}
	decisions, _, err := r.Decisions(ctx, 0)
	if err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	for _, d := range decisions {
		if want[d.RowID] {
			src.decisions[d.RowID] = append(src.decisions[d.RowID], d)
		}
	}
	return src, nil
}

// evidenceWriter writes the row folders of one pack.
type evidenceWriter struct {
	r          *journal.Reader
	src        *evidenceSource
	meta       journal.Meta
	loc        *time.Location
	when       time.Time
	journalID  string
	p          *pack
	used       map[string]bool // folder names, lower-cased
	mismatched []int
	// signed counts the signed receipts written, notProof the rows with
	// one not used as proof.
	signed   int
	notProof []int
	// mailboxAt is when the mailbox (tracking.imap) was last read; zero
	// when it never was, and the pack holds the API's summaries only.
	mailboxAt time.Time
	// it words states in Italian; built once: a printer compiles the
	// whole catalogue.
	it *message.Printer
}

// writeRows renders the selected rows now, one at a time, and writes each
// row's folder; rows the campaign no longer renders get theirs after.
func (w *evidenceWriter) writeRows(ctx context.Context, messages func(context.Context, func(int) bool) iter.Seq2[*campaign.Message, error]) error {
	numbers := map[int]bool{}
	for _, row := range w.src.rows {
		numbers[row.RowNumber] = true
	}
	done := make([]bool, len(w.src.rows))
	why := map[int]string{} // row number → why it could not be rendered
	whole := ""             // a problem of the whole campaign
	for m, err := range messages(ctx, func(n int) bool { return numbers[n] }) {
		if err != nil {
			var rowErr *campaign.RowError
			if errors.As(err, &rowErr) {
				why[rowErr.Row] = rowErr.Error()
				continue
			}
			if ctx.Err() != nil {
				return fmt.Errorf("evidence: %w", ctx.Err())
			}
			whole = err.Error()
			break
		}
		i, ok := w.src.byKey[m.Key]
		if !ok || done[i] {
			continue
		}
		done[i] = true
		if err := w.writeRow(ctx, w.src.rows[i], m, ""); err != nil {
			return err
		}
	}
	for i, row := range w.src.rows {
		if done[i] {
			continue
		}
		reason := why[row.RowNumber]
		switch {
		case whole != "":
			reason = whole
		case reason == "":
			reason = fmt.Sprintf("la riga con chiave %q non è più nel file dei destinatari", row.Key)
		}
		if err := w.writeRow(ctx, row, nil, reason); err != nil {
			return err
		}
	}
	return nil
}

// rowFile is one file of a row folder, for the attestazione's hashes.
type rowFile struct {
	Name, SHA256 string
	// Sent is the attachment's name as sent when the file's name had to
	// differ (characters Windows refuses, a clash), else "".
	Sent string
}

// writeRow writes one row's folder. msg is the row rendered now (nil when
// it could not be, with reason saying why).
func (w *evidenceWriter) writeRow(ctx context.Context, row journal.Row, msg *campaign.Message, reason string) error {
	dir := uniqueName(safeName(fmt.Sprintf("%d-%s", row.RowNumber, row.Key)), w.used)
	put := func(name string, data []byte) (string, error) { return w.p.add(dir+"/"+name, data) }
	a := attestazione{Row: row, Campaign: w.meta.Campaign, Sender: w.meta.Sender, JournalID: w.journalID,
		Lines: w.src.lines[row.ID], loc: w.loc, Generated: w.when, p: w.it}
	verified := msg != nil && msg.SHA256 == row.ContentSHA256
	if verified && !sentSubject(row, msg.Subject, w.journalID) {
		verified = false
		reason = fmt.Sprintf("l'oggetto ricostruito oggi (%q) non è quello inviato (%q)", msg.Subject, row.Subject)
	}
	if verified {
		var err error
		// The subject as sent is the journal's: the rendered subject, with
		// the row's reference when sending.reference added it.
		if a.Subject, err = put("oggetto.txt", []byte(row.Subject)); err != nil {
			return err
		}
		if a.Body, err = put("corpo.html", msg.Body); err != nil {
			return err
		}
		names := map[string]bool{}
		for _, at := range msg.Attachments {
			name := "allegati/" + uniqueName(safeName(at.Name), names)
			sum, err := put(name, at.Content)
			if err != nil {
				return err
			}
			f := rowFile{Name: name, SHA256: sum}
			if name != "allegati/"+at.Name {
				f.Sent = at.Name
			}
			a.Attachments = append(a.Attachments, f)
		}
	} else {
		w.mismatched = append(w.mismatched, row.RowNumber)
		now := ""
		if msg != nil {
			now = msg.SHA256
		}
		a.Mismatch = true
		if _, err := put("NON-CORRISPONDE.txt", []byte(mismatchText(row, now, reason))); err != nil {
			return err
		}
	}
	rc, err := w.rowReceipts(ctx, row)
	if err != nil {
		return err
	}
	for _, f := range rc.files {
		sum, err := put(f.name, f.data)
		if err != nil {
			return err
		}
		a.Receipts = append(a.Receipts, rowFile{Name: f.name, SHA256: sum})
	}
	a.MailboxAt, a.Signed = w.mailboxAt, rc.signed
	w.signed += len(rc.signed)
	if slices.ContainsFunc(rc.signed, func(s signedFile) bool { return s.Current && notProof(s.SignedReceipt) != "" }) {
		w.notProof = append(w.notProof, row.RowNumber)
	}
	a.Conflicts = conflicts(w.src.events[row.ID], rc.signed)
	attempts, err := w.r.Attempts(ctx, row.ID)
	if err != nil {
		return fmt.Errorf("evidence: %w", err)
	}
	tl := timeline(w.it, row, a.Lines, w.src.events[row.ID], w.src.decisions[row.ID], attempts, rc.summaries)
	for _, s := range rc.signed {
		tl = append(tl, signedStep(s, w.loc))
	}
	for _, c := range a.Conflicts {
		tl = append(tl, step{c.At, "contrasto: " + c.What})
	}
	slices.SortStableFunc(tl, func(a, b step) int { return a.At.Compare(b.At) })
	if _, err := put("timeline.txt", []byte(timelineText(row, tl, w.loc))); err != nil {
		return err
	}
	page, err := a.render()
	if err != nil {
		return err
	}
	_, err = put("attestazione.html", page)
	return err
}

// sentSubject reports whether the journal's subject of row (the one sent)
// is subject as rendered now, alone or with the row's reference
// (sending.reference: subject), which is not part of the content hash.
func sentSubject(row journal.Row, subject, journalID string) bool {
	return row.Subject == subject || row.Subject == subject+campaign.SubjectReference(journalID, row.Key)
}

// receiptFile is one receipt file of a row folder.
type receiptFile struct {
	name string
	data []byte
}

// rowReceiptFiles is what rowReceipts found of a row.
type rowReceiptFiles struct {
	// summaries are the API's summaries from the journal, for the
	// timeline; signed the signed receipts read from the mailbox.
	summaries []journal.StoredReceipt
	signed    []signedFile
	// files are the receipt files to write: the signed receipts (.eml,
	// the bytes as fetched), then the summaries (.txt).
	files []receiptFile
}

// rowReceipts lists the receipt files of a row's folder: the one place
// that says which receipts a pack holds. The signed receipts read from
// the mailbox (tracking.imap) are written untouched as
// ricevute/NN-KIND-addressee.eml; the API's summaries are always written
// too, each a text file labelled as a summary that names its signed
// receipt when the folder holds it.
func (w *evidenceWriter) rowReceipts(ctx context.Context, row journal.Row) (rowReceiptFiles, error) {
	var out rowReceiptFiles
	var err error
	if out.summaries, err = w.r.Receipts(ctx, row.ID); err != nil {
		return out, fmt.Errorf("evidence: %w", err)
	}
	stored, err := w.r.SignedReceiptsFor(ctx, row.ID)
	if err != nil {
		return out, fmt.Errorf("evidence: %w", err)
	}
	out.signed = signedFiles(stored, row.MessageID)
	for _, s := range out.signed {
		raw, err := w.signedRaw(ctx, row, s)
		if err != nil {
			return out, err
		}
		out.files = append(out.files, receiptFile{name: s.Name, data: raw})
	}
	beside := matchSummaries(out.summaries, out.signed)
	for i, rc := range out.summaries {
		out.files = append(out.files, receiptFile{
			name: fmt.Sprintf("ricevuta-%02d-%s.txt", i+1, receiptLabel(rc.Kind)),
			data: []byte(receiptText(rc, w.loc, !w.mailboxAt.IsZero() || len(out.signed) > 0, beside[i])),
		})
	}
	return out, nil
}

// mismatchText is NON-CORRISPONDE.txt: why the message is not in the
// folder, in plain Italian, with both hashes.
func mismatchText(row journal.Row, now, reason string) string {
	var b strings.Builder
	b.WriteString("IL MESSAGGIO INVIATO NON È IN QUESTA CARTELLA\r\n\r\n")
	b.WriteString("I file della campagna (modello, destinatari, allegati) sono cambiati dopo l'invio:\r\n")
	b.WriteString("ricostruito oggi, il messaggio di questa riga non è più quello inviato, quindi non è\r\n")
	b.WriteString("stato scritto. Il resto (ricevute, cronologia, attestazione) è quello del giornale.\r\n\r\n")
	fmt.Fprintf(&b, "Riga: %d\r\nChiave: %s\r\n", row.RowNumber, row.Key)
	fmt.Fprintf(&b, "SHA-256 del messaggio inviato (dal giornale): %s\r\n", row.ContentSHA256)
	if now != "" {
		fmt.Fprintf(&b, "SHA-256 del messaggio ricostruito oggi:       %s\r\n", now)
	} else {
		b.WriteString("SHA-256 del messaggio ricostruito oggi:       (non ricostruibile)\r\n")
	}
	if reason != "" {
		fmt.Fprintf(&b, "Motivo: %s\r\n", reason)
	}
	b.WriteString("\r\nPer riavere il messaggio inviato, rimettere i file della campagna come erano al momento\r\n")
	b.WriteString("dell'invio e creare di nuovo il pacchetto con 'pecbatch evidence'.\r\n")
	return b.String()
}

// DefaultEvidencePath returns where a campaign's evidence pack goes when
// no path is given: "<journal dir>/<campaign name>-evidence".
func DefaultEvidencePath(journalPath, campaignName string) string {
	return filepath.Join(filepath.Dir(journalPath), reportFileStem(campaignName)+"-evidence")
}
