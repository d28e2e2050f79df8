package report

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gocarina/gocsv"
)

// reportCSVLine is one line of the CSV report; its tags are the header.
// Every text field is already neutralised and every time already formatted.
type reportCSVLine struct {
	Row         int    `csv:"row"`
	Key         string `csv:"key"`
	Recipient   string `csv:"recipient"`
	Subject     string `csv:"subject"`
	MessageID   string `csv:"message_id"`
	State       string `csv:"state"`
	Error       string `csv:"error"`
	SubmittedAt string `csv:"submitted_at"`
	AcceptedAt  string `csv:"accepted_at"`
	DeliveredAt string `csv:"delivered_at"`
	FailedAt    string `csv:"failed_at"`
	Receipts    int    `csv:"receipts"`
	// Note is NoteChangedAfterSend or empty.
	Note string `csv:"note"`
}

// reportCSVBatch is how many lines are handed to gocsv at a time: enough to
// amortise its per-call reflection, small enough to keep memory flat.
const reportCSVBatch = 1024

// utf8BOM tells Excel the file is UTF-8; without it Excel reads it as the
// local code page and mangles every accented letter.
const utf8BOM = "\uFEFF"

func writeReportCSV(ctx context.Context, d *Data, w io.Writer, opts Options) error {
	if opts.Excel {
		if _, err := io.WriteString(w, utf8BOM); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	cw := csv.NewWriter(w)
	if opts.Excel {
		// Italian Excel uses ';' as the list separator, since ',' is the
		// decimal separator.
		cw.Comma = ';'
		cw.UseCRLF = true
	}
	loc := opts.location()
	batch := make([]reportCSVLine, 0, reportCSVBatch)
	header := true
	flush := func() error {
		var err error
		if header {
			// The first batch carries the header, even when it is empty:
			// an empty campaign still gets a CSV with its column names.
			err = gocsv.MarshalCSV(batch, cw)
			header = false
		} else {
			err = gocsv.MarshalCSVWithoutHeaders(batch, cw)
		}
		batch = batch[:0]
		if err != nil {
			return fmt.Errorf("report: write csv: %w", err)
		}
		return nil
	}
	for r, err := range d.Rows {
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
		batch = append(batch, reportCSVLine{
			Row:         r.Row,
			Key:         neutraliseCell(r.Key),
			Recipient:   neutraliseCell(r.Recipient),
			Subject:     neutraliseCell(r.Subject),
			MessageID:   neutraliseCell(r.MessageID),
			State:       neutraliseCell(r.State),
			Error:       neutraliseCell(r.Error),
			SubmittedAt: csvTime(r.SubmittedAt, loc),
			AcceptedAt:  csvTime(r.AcceptedAt, loc),
			DeliveredAt: csvTime(r.DeliveredAt, loc),
			FailedAt:    csvTime(r.FailedAt, loc),
			Receipts:    r.Receipts,
			Note:        rowNote(r),
		})
		if len(batch) == reportCSVBatch {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("report: %w", err)
			}
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if len(batch) > 0 || header {
		return flush()
	}
	return nil
}

// rowNote is the report's note on a row: NoteChangedAfterSend, the
// attempt after a retry, the operator's decision, or "".
func rowNote(r Row) string {
	var notes []string
	if r.ChangedAfterSend {
		notes = append(notes, NoteChangedAfterSend)
	}
	if r.Attempt > 1 {
		notes = append(notes, fmt.Sprintf("attempt %d", r.Attempt))
	}
	switch r.Decision {
	case "sent":
		notes = append(notes, "decided sent by the operator")
	case "not_sent":
		notes = append(notes, "decided not sent by the operator")
	}
	return strings.Join(notes, "; ")
}

// csvTime formats t as RFC 3339 with its offset in loc; unset is empty.
func csvTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Format(time.RFC3339)
}

// neutraliseCell defuses CSV injection ("formula injection"): a spreadsheet
// runs a cell that starts with '=', '+', '-' or '@' as a formula, and a
// leading tab or carriage return can hide such a start. As OWASP
// recommends, such a cell is prefixed with a single quote, which makes it
// text. The full-width forms of the four characters are included because
// some spreadsheets fold them to the ASCII ones. Subjects and keys come
// from the user's CSV, errors and receipts from remote servers: none of
// them may run in the office's spreadsheet.
func neutraliseCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	switch r, _ := utf8.DecodeRuneInString(s); r {
	case '＝', '＋', '－', '＠':
		return "'" + s
	}
	return s
}
