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
	"golang.org/x/text/message"
)

// reportCSVLine is one line of the CSV report, in column order; its tags
// name the catalogue entries of the header ("csv."+tag), which is written
// in the report's language. Every text field is already neutralised and
// every time already formatted.
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
	// Reason and NextStep say, for an Undelivered recipient, why it did
	// not get the message and what an office does next; empty otherwise.
	Reason   string `csv:"reason"`
	NextStep string `csv:"next_step"`
}

// csvColumns are the tags of reportCSVLine, in order.
func csvColumns() []string {
	return []string{"row", "key", "recipient", "subject", "message_id", "state", "error",
		"submitted_at", "accepted_at", "delivered_at", "failed_at", "receipts", "note", "reason", "next_step"}
}

// csvHeader is the header line in the printer's language.
func csvHeader(p *message.Printer) []string {
	cols := csvColumns()
	for i, c := range cols {
		cols[i] = p.Sprintf("csv." + c)
	}
	return cols
}

// excelTimeLayout is how --excel writes a time: Italian Excel reads
// day/month/year with the time as a date, which it can sort and compute on.
const excelTimeLayout = "02/01/2006 15:04:05"

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
	p := printer(opts.Lang)
	// The header is written first, even for an empty campaign, in the
	// report's language; gocsv writes only the lines.
	if err := cw.Write(csvHeader(p)); err != nil {
		return fmt.Errorf("report: write csv: %w", err)
	}
	timeText := func(t time.Time) string { return csvTime(t, loc) }
	messageID := neutraliseCell
	if opts.Excel {
		timeText = func(t time.Time) string { return excelTime(t, loc) }
		messageID = excelText
	}
	batch := make([]reportCSVLine, 0, reportCSVBatch)
	flush := func() error {
		err := gocsv.MarshalCSVWithoutHeaders(batch, cw)
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
		line := reportCSVLine{
			Row:         r.Row,
			Key:         neutraliseCell(r.Key),
			Recipient:   neutraliseCell(r.Recipient),
			Subject:     neutraliseCell(r.Subject),
			MessageID:   messageID(r.MessageID),
			State:       neutraliseCell(stateName(p, r.State)),
			Error:       neutraliseCell(r.Error),
			SubmittedAt: timeText(r.SubmittedAt),
			AcceptedAt:  timeText(r.AcceptedAt),
			DeliveredAt: timeText(r.DeliveredAt),
			FailedAt:    timeText(r.FailedAt),
			Receipts:    r.Receipts,
			Note:        rowNote(p, r),
		}
		if Undelivered(r.State) {
			reason, next := diagnosis(r.State, r.Error)
			line.Reason, line.NextStep = p.Sprintf(reason), p.Sprintf(next)
		}
		batch = append(batch, line)
		if len(batch) == reportCSVBatch {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("report: %w", err)
			}
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if len(batch) > 0 {
		if err := flush(); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("report: write csv: %w", err)
	}
	return nil
}

// rowNote is the report's note on a row, in the printer's language: changed
// after send, the attempt after a retry, the operator's decision, or "".
func rowNote(p *message.Printer, r Row) string {
	var notes []string
	if r.ChangedAfterSend {
		notes = append(notes, p.Sprintf("note.changed"))
	}
	if r.Attempt > 1 {
		notes = append(notes, p.Sprintf("note.attempt", r.Attempt))
	}
	switch r.Decision {
	case "sent":
		notes = append(notes, p.Sprintf("note.decided.sent"))
	case "not_sent":
		notes = append(notes, p.Sprintf("note.decided.not_sent"))
	}
	return strings.Join(notes, "; ")
}

// stateName is a state's name in the printer's language; a state the
// catalogue does not know keeps its own name.
func stateName(p *message.Printer, state string) string {
	// A key the catalogue lacks is used as a format: only a plain state
	// code is looked up, so a '%' in an odd state is never read as a verb.
	if state == "" || strings.ContainsFunc(state, func(r rune) bool { return (r < 'a' || r > 'z') && r != '_' }) {
		return state
	}
	key := "state." + state
	if name := p.Sprintf(key); name != key {
		return name
	}
	return state
}

// excelTime formats t as Italian Excel reads a date and time, in loc;
// unset is empty.
func excelTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Format(excelTimeLayout)
}

// excelText keeps s as text in Excel: a cell ="..." is a formula whose
// value is the string literal, which Excel (Italian too: there is no
// function name to translate) shows as text, so a 16-digit message id is
// not turned into 2,02611E+15. The literal's quotes are doubled, so s
// cannot end it and become a formula of its own. A value Excel could not
// hold in a literal (over 255 characters, or with line breaks) is
// neutralised as any other cell.
func excelText(s string) string {
	if s == "" {
		return ""
	}
	if len(s) > 255 || strings.ContainsAny(s, "\r\n\t") {
		return neutraliseCell(s)
	}
	return `="` + strings.ReplaceAll(s, `"`, `""`) + `"`
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
