package report

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"path/filepath"
	"strings"

	"github.com/pecbatch/pecbatch/journal"
)

// Write writes the delivery report of the journal r to w, in the
// format opts asks for. It only reads, so it works on a journal opened with
// journal.OpenReadOnly while a run writes to it; a runner holding a
// *journal.Journal passes its Reader. The totals and the lines are read
// moments apart: during a run they may differ by the rows that moved in
// between.
func Write(ctx context.Context, r *journal.Reader, w io.Writer, opts Options) error {
	d, err := JournalData(ctx, r)
	if err != nil {
		return err
	}
	return WriteData(ctx, d, w, opts)
}

// Save writes the delivery report of the journal r to the file path,
// atomically, and returns the path written. An empty path means the
// default, DefaultPath: "<campaign name>-report.csv" (or .html) next
// to the journal.
func Save(ctx context.Context, r *journal.Reader, path string, opts Options) (string, error) {
	d, err := JournalData(ctx, r)
	if err != nil {
		return "", err
	}
	if path == "" {
		path = DefaultPath(r.Path(), d.Campaign, opts.Format)
	}
	err = WriteFile(path, func(w io.Writer) error { return WriteData(ctx, d, w, opts) })
	if err != nil {
		return "", err
	}
	return path, nil
}

// JournalData adapts a journal to the report's input: its campaign
// name, its counts by state, its report lines (streamed) and its receipt
// archive.
func JournalData(ctx context.Context, r *journal.Reader) (*Data, error) {
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
	d := &Data{Campaign: m.Campaign, Counts: make(map[string]int, len(counts))}
	for s, n := range counts {
		d.Counts[string(s)] = n
	}
	d.Rows = journalReportRows(r.ReportRows(ctx))
	d.Receipts = func(ctx context.Context, rowID int64) ([]Receipt, error) {
		stored, err := r.Receipts(ctx, rowID)
		if err != nil {
			return nil, err
		}
		out := make([]Receipt, len(stored))
		for i, s := range stored {
			out[i] = Receipt{Kind: s.Kind, Recipient: s.Addressee, Date: s.Date, DateText: s.DateText,
				Subject: s.Subject, Body: s.Body}
		}
		return out, nil
	}
	return d, nil
}

func journalReportRows(rows iter.Seq2[journal.ReportRow, error]) iter.Seq2[Row, error] {
	return func(yield func(Row, error) bool) {
		for l, err := range rows {
			if err != nil {
				yield(Row{}, err)
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
			if !yield(Row{
				RowID: l.RowID, Row: l.RowNumber, Key: l.Key, Recipient: l.Recipient, Subject: l.Subject,
				MessageID: l.MessageID, State: string(l.State), Error: errText,
				SubmittedAt: l.SubmittedAt, AcceptedAt: l.AcceptedAt, DeliveredAt: l.DeliveredAt, FailedAt: l.FailedAt,
				Receipts: l.Receipts, ChangedAfterSend: l.ChangedAfterSend, Attempt: l.Attempt, Decision: string(l.Decision),
			}, nil) {
				return
			}
		}
	}
}

// SaveAll writes the delivery reports of a run's end and returns their
// paths: at path, whose extension picks the format, or, when path is "",
// both the CSV and the HTML report next to the journal, named after the
// campaign as name gives it.
func SaveAll(ctx context.Context, r *journal.Reader, path, name string) ([]string, error) {
	if path != "" {
		format := CSV
		if strings.EqualFold(filepath.Ext(path), ".html") {
			format = HTML
		}
		p, err := Save(ctx, r, path, Options{Format: format})
		if err != nil {
			return nil, err
		}
		return []string{p}, nil
	}
	var out []string
	for _, f := range []Format{CSV, HTML} {
		p, err := Save(ctx, r, DefaultPath(r.Path(), name, f), Options{Format: f})
		if err != nil {
			return out, err
		}
		out = append(out, p)
	}
	return out, nil
}
