package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
	_ "time/tzdata" // --time-zone Europe/Rome works on a machine without a zone database

	"github.com/spf13/cobra"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/campaign/report"
)

// reportOptions are the arguments and flags of pecbatch report.
type reportOptions struct {
	file     string
	output   string
	format   string
	excel    bool
	timeZone string
	lang     string
	only     string
	maxRows  int
	sandbox  bool
}

func newReportCommand(g *globalOptions) *cobra.Command {
	o := &reportOptions{}
	cmd := &cobra.Command{
		Use:   "report CAMPAIGN.yaml [-o FILE] [--format csv|html] [--excel] [--lang it|en] [--time-zone NAME] [--only undelivered]",
		Short: "Write the delivery report of a campaign: CSV, or one HTML page",
		Long: `report writes, from the campaign's journal, which recipients got the
message and which did not. It only reads the journal, so it works at any
time, also while a run or a poll is going on.

The report is in Italian, with times in Europe/Rome; --lang en writes it
in English, --time-zone NAME in another zone.

CSV (the default): one line per row and recipient, with the columns
(in Italian) riga, chiave, destinatario, oggetto, id_messaggio, stato,
errore, inviata_il, accettata_il, consegnata_il, non_consegnata_il,
ricevute, nota, motivo, cosa_fare; (in English) row, key, recipient,
subject, message_id, state, error, submitted_at, accepted_at,
delivered_at, failed_at, receipts, note, reason, next_step.
Times are RFC 3339 with their offset (2025-03-02T10:00:04+01:00), empty
when the event has not happened. A cell that a spreadsheet would run as a
formula (it starts with = + - @, a tab or a carriage return) is prefixed
with a single quote. With --excel the file has a UTF-8 byte order mark,
';' between fields and CRLF line endings, as Italian Excel expects; times
are dates Excel reads (30/11/2026 18:05:00) and the message id is kept as
text (="...").

HTML: one self-contained page (no network, no scripts) that opens with
"Da ricontattare", every recipient not delivered with why and what to do
next, then the totals by state, a chart of sends and deliveries over
time, a chart of delivery latency and the table of rows with their
receipts (the first 5,000 recipients; every line is in the CSV).

--only undelivered lists only the recipients to contact again (failed,
expired, not certifiable, rejected, unknown), in the CSV and the HTML.

The report goes next to the journal as <campaign name>-report.csv (or
.html) unless -o names a file; -o - writes to standard output. The path
written is printed. The file is readable by its owner only, like the
journal: it lists personal data.

With --sandbox it reports on the last 'run --sandbox' (a journal of its
own), as <campaign name>-sandbox-report.csv (or .html) by default.

The API token and the mailbox credentials are not needed.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.file = args[0]
			return runReport(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.output, "output", "o", "", "file to write (- for standard output; default: next to the journal)")
	f.StringVar(&o.format, "format", "", "csv or html (default: from the -o file's extension, else csv)")
	f.BoolVar(&o.excel, "excel", false, "CSV for Excel: UTF-8 byte order mark, ';' separator, CRLF line endings")
	f.StringVar(&o.timeZone, "time-zone", report.DefaultZone, "time zone of the times, such as Europe/Rome or UTC")
	f.StringVar(&o.lang, "lang", string(report.Italian), "language of the report: it or en")
	f.StringVar(&o.only, "only", "", "undelivered: only the recipients to contact again")
	f.IntVar(&o.maxRows, "max-html-rows", report.DefaultMaxHTMLRows, "recipients listed in the HTML table (0: all)")
	f.BoolVar(&o.sandbox, "sandbox", false, "report on the last 'run --sandbox' (its own journal; the report is named <campaign>-sandbox-report)")
	return cmd
}

// reportFormat chooses the format from the flags: --format wins, then the
// extension of -o, then CSV.
func (o *reportOptions) reportFormat() (report.Format, error) {
	if o.format != "" {
		f, err := report.ParseFormat(o.format)
		if err != nil {
			return "", &usageError{fmt.Errorf("--format: %w", err)}
		}
		return f, nil
	}
	switch strings.ToLower(filepath.Ext(o.output)) {
	case ".html", ".htm":
		return report.HTML, nil
	}
	return report.CSV, nil
}

func (o *reportOptions) reportOptions() (report.Options, error) {
	format, err := o.reportFormat()
	if err != nil {
		return report.Options{}, err
	}
	if o.excel && format != report.CSV {
		return report.Options{}, &usageError{errors.New("--excel applies to the CSV report only")}
	}
	if o.maxRows < 0 {
		return report.Options{}, &usageError{errors.New("--max-html-rows cannot be negative")}
	}
	lang, err := report.ParseLang(o.lang)
	if err != nil {
		return report.Options{}, &usageError{fmt.Errorf("--lang: %w", err)}
	}
	only, err := report.ParseOnly(o.only)
	if err != nil {
		return report.Options{}, &usageError{fmt.Errorf("--only: %w", err)}
	}
	opts := report.Options{Format: format, Excel: o.excel, MaxHTMLRows: o.maxRows, Lang: lang, Only: only}
	if o.maxRows == 0 {
		opts.MaxHTMLRows = -1
	}
	if o.timeZone != "" {
		// time/tzdata is linked in: a zone name loads on Windows too.
		loc, err := time.LoadLocation(o.timeZone)
		if err != nil {
			return report.Options{}, &usageError{fmt.Errorf("--time-zone %q: not a time zone name: use one such as Europe/Rome or UTC", o.timeZone)}
		}
		opts.Location = loc
	}
	return opts, nil
}

func runReport(ctx context.Context, g *globalOptions, o *reportOptions) error {
	opts, err := o.reportOptions()
	if err != nil {
		return err
	}
	// Offline: the report never contacts the API, so unset credentials
	// are no obstacle.
	c, err := campaign.LoadFile(o.file, g.loadOptions(true))
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	r, journalPath, err := openJournalToRead(ctx, c, "report", o.file, o.sandbox)
	if err != nil {
		return err
	}
	defer r.Close()
	g.logger().Debug("report", "journal", journalPath, "format", opts.Format, "excel", opts.Excel, "lang", opts.Lang, "only", opts.Only)

	if o.output == "-" {
		if err := report.Write(ctx, r, g.stdout, opts); err != nil {
			return err
		}
		return nil
	}
	path := o.output
	if path == "" && o.sandbox {
		// As the sandbox run named its own: never over the real report.
		path = report.DefaultPath(journalPath, c.Name+"-sandbox", opts.Format)
	}
	path, err = report.Save(ctx, r, path, opts)
	if err != nil {
		return err
	}
	fmt.Fprintln(g.stdout, path)
	return nil
}
