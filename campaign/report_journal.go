package campaign

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"

	"github.com/pecbatch/pecbatch/journal"
)

// WriteReport writes the delivery report of the journal r to w, in the
// format opts asks for. It only reads, so it works on a journal opened with
// journal.OpenReadOnly while a run writes to it; a runner holding a
// *journal.Journal passes its Reader. The totals and the lines are read
// moments apart: during a run they may differ by the rows that moved in
// between.
func WriteReport(ctx context.Context, r *journal.Reader, w io.Writer, opts ReportOptions) error {
	d, err := JournalReportData(ctx, r)
	if err != nil {
		return err
	}
	return WriteReportData(ctx, d, w, opts)
}

// SaveReport writes the delivery report of the journal r to the file path,
// atomically, and returns the path written. An empty path means the
// default, DefaultReportPath: "<campaign name>-report.csv" (or .html) next
// to the journal.
func SaveReport(ctx context.Context, r *journal.Reader, path string, opts ReportOptions) (string, error) {
	d, err := JournalReportData(ctx, r)
	if err != nil {
		return "", err
	}
	if path == "" {
		path = DefaultReportPath(r.Path(), d.Campaign, opts.Format)
	}
	err = WriteReportFile(path, func(w io.Writer) error { return WriteReportData(ctx, d, w, opts) })
	if err != nil {
		return "", err
	}
	return path, nil
}

// JournalReportData adapts a journal to the report's input: its campaign
// name, its counts by state, its report lines (streamed) and its receipt
// archive.
func JournalReportData(ctx context.Context, r *journal.Reader) (*ReportData, error) {
	m, err := r.Meta(ctx)
	if errors.Is(err, journal.ErrNotInitialized) {
		return nil, fmt.Errorf("report: %s holds no campaign yet: run 'pecbatch run' first: %w", r.Path(), err)
	}
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	counts, err := r.Counts(ctx)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	d := &ReportData{Campaign: m.Campaign, Counts: make(map[string]int, len(counts))}
	for s, n := range counts {
		d.Counts[string(s)] = n
	}
	d.Rows = journalReportRows(r.ReportRows(ctx))
	d.Receipts = func(ctx context.Context, rowID int64) ([]ReportReceipt, error) {
		stored, err := r.Receipts(ctx, rowID)
		if err != nil {
			return nil, err
		}
		out := make([]ReportReceipt, len(stored))
		for i, s := range stored {
			out[i] = ReportReceipt{Kind: s.Kind, Recipient: s.Addressee, Date: s.Date, DateText: s.DateText,
				Subject: s.Subject, Body: s.Body}
		}
		return out, nil
	}
	return d, nil
}

func journalReportRows(rows iter.Seq2[journal.ReportRow, error]) iter.Seq2[ReportRow, error] {
	return func(yield func(ReportRow, error) bool) {
		for l, err := range rows {
			if err != nil {
				yield(ReportRow{}, err)
				return
			}
			// The journal falls back to the row's error for a recipient
			// with none of its own; a recipient whose own outcome is not a
			// failure (delivered in a row another recipient failed) must
			// not show the other recipient's error as its own.
			errText := l.Error
			if l.State != l.RowState && l.State != journal.StateFailed && l.State != journal.StateExpired {
				errText = ""
			}
			if !yield(ReportRow{
				RowID: l.RowID, Row: l.RowNumber, Key: l.Key, Recipient: l.Recipient, Subject: l.Subject,
				MessageID: l.MessageID, State: string(l.State), Error: errText,
				SubmittedAt: l.SubmittedAt, AcceptedAt: l.AcceptedAt, DeliveredAt: l.DeliveredAt, FailedAt: l.FailedAt,
				Receipts: l.Receipts,
			}, nil) {
				return
			}
		}
	}
}
