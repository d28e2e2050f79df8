package runner

import (
	"context"
	"errors"
	"fmt"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/journal"
)

// PollOptions says which journal Poll tracks.
type PollOptions struct {
	// Journal is the journal file; "" means sending.journal.
	Journal string
}

// Poll tracks a campaign already sent (in part or whole) until every row
// it sent is final: `pecbatch poll`, for a run that was stopped or run with
// --no-wait. It sends nothing. It reconciles the rows whose send had an
// unknown outcome (and those a crashed run left in sending), polls the
// receipts of the others, and writes the delivery report at the end (when
// d.SaveReports is set). Its error is as Run's.
func Poll(ctx context.Context, c *campaign.Campaign, d Deps, opts PollOptions) (*Result, error) {
	e, err := d.env(c)
	if err != nil {
		return nil, err
	}
	res := &Result{Journal: journalPath(c, opts.Journal)}
	j, err := journal.Open(ctx, res.Journal, journal.WithNow(e.clk.Now))
	if err != nil {
		return res, fmt.Errorf("poll: %w", err)
	}
	defer j.Close()
	e.j = j
	m, err := j.Meta(ctx)
	if errors.Is(err, journal.ErrNotInitialized) {
		return res, fmt.Errorf("poll: nothing was sent with the journal %s yet: run `pecbatch run` first", j.Path())
	}
	if err != nil {
		return res, fmt.Errorf("poll: %w", err)
	}
	if err := m.CheckTarget(e.endpoint, c.Sender.Address); err != nil {
		return res, fmt.Errorf("poll: %w", err)
	}
	closeLedger, err := e.openLedger(ctx)
	if err != nil {
		return res, err
	}
	defer closeLedger()

	rec := newReconciler(e)
	if err := rec.adoptInterrupted(ctx); err != nil {
		return res, err
	}
	if err := rec.reconcileDue(ctx); err != nil {
		return res, err
	}
	tr := newTracker(e, rec)
	if err := tr.load(ctx); err != nil {
		return res, err
	}
	counts, err := j.Counts(ctx)
	if err != nil {
		return res, fmt.Errorf("poll: %w", err)
	}
	e.note(NoteTracking, "Tracking campaign %q (journal %s): %d row(s) to track, %d unknown.", m.Campaign, j.Path(),
		counts[journal.StateSubmitted]+counts[journal.StateAccepted], counts[journal.StateUnknown])
	tr.sendingDone()
	stopSigned := e.startSigned(ctx, tr)
	trackErr := tr.run(ctx)
	stopSigned()
	res.Stats.Polls, res.Stats.Reconciled = tr.polls, rec.found
	if n := counts[journal.StatePending]; n > 0 {
		e.note(NoteNotSentYet, "%d row(s) are not sent yet: `pecbatch run` sends them.", n)
	}
	return res, e.finish(ctx, res, firstErr(trackErr), ctx.Err() != nil)
}
