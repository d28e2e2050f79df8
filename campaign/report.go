package campaign

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
)

// ReportFormat names the file format of a delivery report.
type ReportFormat string

// The report formats.
const (
	// ReportCSV is one line per row and recipient, for spreadsheets.
	ReportCSV ReportFormat = "csv"
	// ReportHTML is one self-contained page with totals, charts and the
	// table of rows with their receipts.
	ReportHTML ReportFormat = "html"
)

// DefaultMaxHTMLRows is how many table lines (row × recipient) the HTML
// report shows before it points to the CSV: beyond a few thousand lines a
// page is slow to open and no one reads it.
const DefaultMaxHTMLRows = 5000

// ParseReportFormat returns the ReportFormat named by s ("csv" or "html").
func ParseReportFormat(s string) (ReportFormat, error) {
	switch f := ReportFormat(strings.ToLower(strings.TrimSpace(s))); f {
	case ReportCSV, ReportHTML:
		return f, nil
	}
	return "", fmt.Errorf("report: unknown format %q: use csv or html", s)
}

// ReportOptions says how a report is written. The zero value writes a plain
// CSV with timestamps in the machine's time zone.
type ReportOptions struct {
	// Format is the file format; "" means ReportCSV.
	Format ReportFormat
	// Excel makes the CSV what Italian Excel opens with a double click: a
	// UTF-8 byte order mark, ';' between fields and CRLF line endings.
	// Ignored for HTML.
	Excel bool
	// Location is the time zone of every timestamp; nil means time.Local.
	Location *time.Location
	// Now gives the report's generation time; nil means time.Now.
	Now func() time.Time
	// MaxHTMLRows caps the lines of the HTML table: 0 means
	// DefaultMaxHTMLRows, a negative value means no cap.
	MaxHTMLRows int
}

func (o ReportOptions) location() *time.Location {
	if o.Location == nil {
		return time.Local
	}
	return o.Location
}

func (o ReportOptions) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

func (o ReportOptions) maxHTMLRows() int {
	switch {
	case o.MaxHTMLRows == 0:
		return DefaultMaxHTMLRows
	case o.MaxHTMLRows < 0:
		return int(^uint(0) >> 1)
	}
	return o.MaxHTMLRows
}

// ReportRow is one line of the delivery report: one recipient of one
// campaign row. Zero times are unset.
type ReportRow struct {
	RowID       int64  // identifies the row to ReportData.Receipts
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
}

// ReportReceipt is one archived receipt of a row, as the HTML report lists
// it.
type ReportReceipt struct {
	Kind      string    // the client's classification: acceptance, delivery, non-delivery...
	Recipient string    // the recipient the receipt names, if any
	Date      time.Time // the receipt's date; zero if it could not be read
	DateText  string    // the date as the API gave it
	Subject   string    // the receipt's subject, as received
	Body      string    // the receipt's text: the sender's evidence
}

// ReportData is what a report is drawn from, as plain values, so that a
// report can be written from the journal or from anything else that
// produces the same lines.
type ReportData struct {
	// Campaign is the campaign's name.
	Campaign string
	// Counts is the number of campaign rows in each state.
	Counts map[string]int
	// Rows yields every line of the report, ordered by row and then
	// recipient, the lines of one row next to each other. It is read once
	// and may stream from a database.
	Rows iter.Seq2[ReportRow, error]
	// Receipts returns the archived receipts of the row with the given
	// RowID, oldest first. It is called only after Rows is done. It may be
	// nil: the HTML table then lists no receipts.
	Receipts func(ctx context.Context, rowID int64) ([]ReportReceipt, error)
}

// WriteReportData writes the report of d to w in the format opts asks for.
// Rows are streamed: a CSV report holds only a small batch of lines in
// memory at a time whatever the campaign's size.
func WriteReportData(ctx context.Context, d *ReportData, w io.Writer, opts ReportOptions) error {
	if d == nil || d.Rows == nil {
		return errors.New("report: no rows to report")
	}
	switch opts.Format {
	case "", ReportCSV:
		return writeReportCSV(ctx, d, w, opts)
	case ReportHTML:
		return writeReportHTML(ctx, d, w, opts)
	}
	return fmt.Errorf("report: unknown format %q: use csv or html", opts.Format)
}

// DefaultReportPath returns where a campaign's report goes when no path is
// given: next to the journal, named after the campaign, as
// "<journal dir>/<campaign name>-report.<format>".
func DefaultReportPath(journalPath, campaignName string, f ReportFormat) string {
	if f == "" {
		f = ReportCSV
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

// WriteReportFile writes a report to path through write, atomically: the
// file appears complete or not at all, so a report opened while a run
// rewrites it is never half written. The file's mode is 0600.
func WriteReportFile(path string, write func(io.Writer) error) (err error) {
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
