package report

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"time"
	// Europe/Rome, the default zone, must load on a Windows office PC
	// without a zone database.
	_ "time/tzdata"
)

// Format names the file format of a delivery report.
type Format string

// The report formats.
const (
	// CSV is one line per row and recipient, for spreadsheets.
	CSV Format = "csv"
	// HTML is one self-contained page with totals, charts and the
	// table of rows with their receipts.
	HTML Format = "html"
)

// DefaultMaxHTMLRows is how many table lines (row × recipient) the HTML
// report shows before it points to the CSV: beyond a few thousand lines a
// page is slow to open and no one reads it.
const DefaultMaxHTMLRows = 5000

// ParseFormat returns the Format named by s ("csv" or "html").
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case CSV, HTML:
		return f, nil
	}
	return "", fmt.Errorf("report: unknown format %q: use csv or html", s)
}

// DefaultZone is the time zone of a report's times unless Options says
// otherwise: the one of the Italian offices that read it.
const DefaultZone = "Europe/Rome"

// Options says how a report is written. The zero value writes a plain
// CSV, in Italian, with every line and times in Europe/Rome.
type Options struct {
	// Format is the file format; "" means CSV.
	Format Format
	// Excel makes the CSV what Italian Excel opens with a double click: a
	// UTF-8 byte order mark, ';' between fields and CRLF line endings.
	// Ignored for HTML.
	Excel bool
	// Lang is the language of the headers, state names and texts; ""
	// means Italian.
	Lang Lang
	// Location is the time zone of every timestamp; nil means
	// DefaultZone.
	Location *time.Location
	// Only selects the lines: All, or OnlyUndelivered for the recipients
	// to contact again.
	Only Only
	// Now gives the report's generation time; nil means time.Now.
	Now func() time.Time
	// MaxHTMLRows caps the lines of the HTML table: 0 means
	// DefaultMaxHTMLRows, a negative value means no cap.
	MaxHTMLRows int
}

func (o Options) location() *time.Location {
	if o.Location == nil {
		// time/tzdata is linked in, so the name always loads.
		loc, err := time.LoadLocation(DefaultZone)
		if err != nil {
			return time.UTC
		}
		return loc
	}
	return o.Location
}

func (o Options) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

func (o Options) maxHTMLRows() int {
	switch {
	case o.MaxHTMLRows == 0:
		return DefaultMaxHTMLRows
	case o.MaxHTMLRows < 0:
		return int(^uint(0) >> 1)
	}
	return o.MaxHTMLRows
}

// Row is one line of the delivery report: one recipient of one
// campaign row. Zero times are unset.
type Row struct {
	RowID       int64  // identifies the row to Data.Receipts
	Row         int    // row number in the recipient list
	Key         string // the row's key column
	Recipient   string // one rendered recipient address
	Subject     string // the rendered subject
	MessageID   string // the code the API gave the send; "" if none yet
	State       string // this recipient's state (the row's, until its outcome is known)
	Error       string // why the send or the delivery failed, if it did
	SubmittedAt time.Time
	AcceptedAt  time.Time
	DeliveredAt time.Time
	FailedAt    time.Time
	Receipts    int // receipts archived for the row
	// ChangedAfterSend says the campaign's files, when a run last accepted
	// a change, render the row differently from what was sent (which the
	// row keeps): the report shows "changed after send".
	ChangedAfterSend bool
	// Attempt is the row's current attempt: 2 and more after `pecbatch
	// retry` (the report shows "attempt N").
	Attempt int
	// Decision is what the operator decided of the row's unknown send
	// with `pecbatch resolve` ("sent", "not_sent"), "" when nobody did.
	Decision string
}

// NoteChangedAfterSend is what the report says of a row changed after send.
const NoteChangedAfterSend = "changed after send"

// Receipt is one archived receipt of a row, as the HTML report lists
// it.
type Receipt struct {
	Kind      string    // the client's classification: acceptance, delivery, non-delivery...
	Recipient string    // the recipient the receipt names, if any
	Date      time.Time // the receipt's date; zero if it could not be read
	DateText  string    // the date as the API gave it
	Subject   string    // the receipt's subject, as received
	Body      string    // the receipt's text: the sender's evidence
}

// Data is what a report is drawn from, as plain values, so that a
// report can be written from the journal or from anything else that
// produces the same lines.
type Data struct {
	// Campaign is the campaign's name.
	Campaign string
	// Counts is the number of campaign rows in each state.
	Counts map[string]int
	// Rows yields every line of the report, ordered by row and then
	// recipient, the lines of one row next to each other. It is read once
	// and may stream from a database.
	Rows iter.Seq2[Row, error]
	// Receipts returns the archived receipts of the row with the given
	// RowID, oldest first. It is called only after Rows is done. It may be
	// nil: the HTML table then lists no receipts.
	Receipts func(ctx context.Context, rowID int64) ([]Receipt, error)
}

// WriteData writes the report of d to w in the format opts asks for.
// Rows are streamed: a CSV report holds only a small batch of lines in
// memory at a time whatever the campaign's size.
func WriteData(ctx context.Context, d *Data, w io.Writer, opts Options) error {
	if d == nil || d.Rows == nil {
		return errors.New("report: no rows to report")
	}
	if opts.Only == OnlyUndelivered {
		d = undeliveredOnly(d)
	}
	switch opts.Format {
	case "", CSV:
		return writeReportCSV(ctx, d, w, opts)
	case HTML:
		return writeReportHTML(ctx, d, w, opts)
	}
	return fmt.Errorf("report: unknown format %q: use csv or html", opts.Format)
}

// undeliveredOnly returns d with only its Undelivered lines. The totals
// stay the campaign's.
func undeliveredOnly(d *Data) *Data {
	out := *d
	out.Rows = func(yield func(Row, error) bool) {
		for r, err := range d.Rows {
			if err != nil || Undelivered(r.State) {
				if !yield(r, err) {
					return
				}
			}
		}
	}
	return &out
}

// DefaultPath returns where a campaign's report goes when no path is
// given: next to the journal, named after the campaign, as
// "<journal dir>/<campaign name>-report.<format>".
func DefaultPath(journalPath, campaignName string, f Format) string {
	if f == "" {
		f = CSV
	}
	return filepath.Join(filepath.Dir(journalPath), reportFileStem(campaignName)+"-report."+string(f))
}

// reportFileStem makes a campaign name safe as a file name on every system
// an office may use: anything but letters, digits, '.', '_' and '-' becomes
// '-'.
func reportFileStem(name string) string {
	stem := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '-'
	}, strings.TrimSpace(name))
	stem = strings.Trim(stem, ".-")
	if stem == "" {
		return "campaign"
	}
	return stem
}

// WriteFile writes a report to path through write, atomically: the
// file appears complete or not at all, so a report opened while a run
// rewrites it is never half written. The file's mode is 0600.
func WriteFile(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("report: cannot write in %s: %w: check that the folder exists and is writable", dir, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return err
	}
	// The file stays 0600, as CreateTemp made it: like the journal, a
	// report lists recipients' addresses, which are personal data.
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}
