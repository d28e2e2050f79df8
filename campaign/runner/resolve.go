package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/journal"
)

// ResolveOptions says which unknown row the operator decides, and how.
type ResolveOptions struct {
	// Journal is the journal file; "" means sending.journal.
	Journal string
	// Row is the row's number in the recipients file, Key its key: exactly
	// one of them is set.
	Row int
	Key string
	// As is the decision; MessageID the send's message id, required for
	// journal.DecidedSent and refused for journal.DecidedNotSent.
	As        journal.Decision
	MessageID string
	// Note is kept with the decision (why, who, what was checked).
	Note string
}

// ResolveResult is the row as the decision left it.
type ResolveResult struct {
	Journal   string
	Row       int
	Key       string
	As        journal.Decision
	MessageID string
	// State is the row's new state: submitted (then tracked by run and
	// poll) or pending (then sent by the next run).
	State journal.State
}

// Resolve records the operator's decision on a row whose send has an
// unknown outcome: decided sent, the message id is claimed for the row in
// the mailbox's claim ledger (refused if another row, of this journal or
// another, owns it) and the row is tracked from it; decided not sent, the
// row is pending and the next run sends it. A row in any other state is
// refused, with its state: nothing changes. It takes the journal's run
// lock, so it is refused while a run goes on. When it returns nil the
// decision is on disk.
func Resolve(ctx context.Context, c *campaign.Campaign, d Deps, o ResolveOptions) (*ResolveResult, error) {
	o.MessageID, o.Key = strings.TrimSpace(o.MessageID), strings.TrimSpace(o.Key)
	switch {
	case (o.Row > 0) == (o.Key != ""):
		return nil, fmt.Errorf("resolve: name the row by its number or by its key, one of the two: %w", campaign.ErrInvalidInput)
	case !o.As.Valid():
		return nil, fmt.Errorf("resolve: decide the row %q or %q, not %q: %w", journal.DecidedSent, journal.DecidedNotSent, o.As,
			campaign.ErrInvalidInput)
	case o.As == journal.DecidedSent && o.MessageID == "":
		return nil, fmt.Errorf("resolve: a row decided sent needs its message id (--message-id), as the acceptance "+
			"receipt or the provider's web mail shows it: %w", campaign.ErrInvalidInput)
	case o.As == journal.DecidedNotSent && o.MessageID != "":
		return nil, fmt.Errorf("resolve: a row decided not sent has no message id: drop --message-id: %w", campaign.ErrInvalidInput)
	}
	e, closeJournal, err := d.offlineEnv(ctx, c, "resolve", o.Journal)
	if err != nil {
		return nil, err
	}
	defer closeJournal()
	row, err := e.findRow(ctx, "resolve", o.Row, o.Key)
	if err != nil {
		return nil, err
	}
	if row.State != journal.StateUnknown {
		return nil, fmt.Errorf("resolve: row %d (key %q) is %s, not unknown: only a row whose send has an unknown outcome "+
			"is decided by hand (%s); nothing changed: %w", row.RowNumber, row.Key, row.State, stateHint(row.State),
			campaign.ErrInvalidInput)
	}
	res := &ResolveResult{Journal: e.j.Path(), Row: row.RowNumber, Key: row.Key, As: o.As, MessageID: o.MessageID}
	if o.As == journal.DecidedSent {
		taken, err := e.j.MessageIDTaken(ctx, o.MessageID)
		if err != nil {
			return nil, fmt.Errorf("resolve: %w", err)
		}
		if taken {
			return nil, fmt.Errorf("resolve: message id %s already belongs to another row (or an earlier attempt) of "+
				"the journal %s: check the id; nothing changed: %w", o.MessageID, e.j.Path(), campaign.ErrInvalidInput)
		}
		closeLedger, err := e.openLedger(ctx)
		if err != nil {
			return nil, err
		}
		defer closeLedger()
		// The claim comes first, as for a send: a message id is one row's
		// for ever, in every journal that sends from the mailbox.
		if err := e.ledger.Claim(ctx, o.MessageID, e.owner(row)); err != nil {
			if errors.Is(err, journal.ErrClaimed) {
				return nil, fmt.Errorf("resolve: %w; nothing changed: %w", err, campaign.ErrInvalidInput)
			}
			return nil, fmt.Errorf("resolve: %w", err)
		}
	}
	if err := e.j.Resolve(ctx, row.ID, o.As, o.MessageID, o.Note); err != nil {
		return nil, fmt.Errorf("resolve: %w", err)
	}
	after, err := e.j.Row(ctx, row.ID)
	if err != nil {
		return nil, fmt.Errorf("resolve: %w", err)
	}
	res.State = after.State
	return res, nil
}

// stateHint says, for a row Resolve refuses, what happens to it instead.
func stateHint(s journal.State) string {
	switch s {
	case journal.StatePending:
		return "a pending row was not sent: the next run sends it"
	case journal.StateSending:
		return "a run stopped during its send: the next run makes it unknown and reconciles it; decide it then if still unknown"
	case journal.StateFailed, journal.StateRejected, journal.StateExpired:
		return "its outcome is known: to send it again, use `pecbatch retry`"
	}
	return "its outcome is known from the service"
}

// RetryOptions says which final rows get a new attempt.
type RetryOptions struct {
	// Journal is the journal file; "" means sending.journal.
	Journal string
	// States are the states whose rows are retried: some of
	// journal.RetryStates.
	States []journal.State
	// Rows, when not nil, retries only the rows whose number it accepts
	// (`--rows 1,5-9`); nil means every row in States.
	Rows func(row int) bool
	// Note is kept with each retry (why: a full mailbox, say).
	Note string
}

// RetriedRow is a row queued for a new attempt.
type RetriedRow struct {
	Row int
	Key string
	// From is the state of the previous attempt, MessageID its id ("" for
	// a rejected row), Attempt the new attempt's number.
	From      journal.State
	MessageID string
	Attempt   int
}

// RetryResult is what Retry did.
type RetryResult struct {
	// Retried are the rows queued for a new attempt, by row number.
	Retried []RetriedRow
	// Skipped are the rows Rows selected in a state not in States
	// ("row 4 (key "P004") is delivered"), left as they are.
	Skipped []string
}

// Retry queues rows in a final state that did not reach every recipient
// (failed, rejected, expired) for a new attempt: each goes back to pending
// with the next attempt number, its previous attempt kept in the journal's
// history (journal.Reader.Attempts) and shown by status and the report;
// the next run sends it, exactly once, like any pending row. Rows selected
// by Rows in other states are left alone and listed in Skipped; when no
// row at all is retried and some were skipped, it is an error matching
// campaign.ErrInvalidInput. It takes the journal's run lock.
func Retry(ctx context.Context, c *campaign.Campaign, d Deps, o RetryOptions) (*RetryResult, error) {
	if len(o.States) == 0 {
		return nil, fmt.Errorf("retry: say which rows to retry by their state (failed, rejected or expired): %w", campaign.ErrInvalidInput)
	}
	for _, s := range o.States {
		if !slices.Contains(journal.RetryStates(), s) {
			return nil, fmt.Errorf("retry: rows in state %q are not retried: only failed, rejected and expired rows are: %w",
				s, campaign.ErrInvalidInput)
		}
	}
	e, closeJournal, err := d.offlineEnv(ctx, c, "retry", o.Journal)
	if err != nil {
		return nil, err
	}
	defer closeJournal()
	states := o.States
	if o.Rows != nil {
		states = journal.States() // to name the state of the rows skipped
	}
	rows, err := e.j.RowsInState(ctx, 0, states...)
	if err != nil {
		return nil, fmt.Errorf("retry: %w", err)
	}
	res := &RetryResult{}
	for _, row := range rows {
		switch {
		case o.Rows != nil && !o.Rows(row.RowNumber):
			continue
		case !slices.Contains(o.States, row.State):
			res.Skipped = append(res.Skipped, fmt.Sprintf("row %d (key %q) is %s", row.RowNumber, row.Key, row.State))
			continue
		}
		attempt, err := e.j.Retry(ctx, row.ID, o.Note)
		if err != nil {
			return res, fmt.Errorf("retry: %w", err)
		}
		res.Retried = append(res.Retried, RetriedRow{Row: row.RowNumber, Key: row.Key, From: row.State, MessageID: row.MessageID,
			Attempt: attempt})
	}
	if len(res.Retried) == 0 && len(res.Skipped) > 0 {
		return res, fmt.Errorf("retry: no row of --rows is %s (%s): nothing was queued: %w", joinStates(o.States),
			strings.Join(limitLines(res.Skipped, 20), ", "), campaign.ErrInvalidInput)
	}
	return res, nil
}

func joinStates(states []journal.State) string {
	s := make([]string, len(states))
	for i, st := range states {
		s[i] = string(st)
	}
	return strings.Join(s, " or ")
}

// offlineEnv opens an existing journal of the campaign for a command that
// changes it without talking to the API (resolve, retry): the run lock is
// held until the returned function is called.
func (d Deps) offlineEnv(ctx context.Context, c *campaign.Campaign, op, path string) (*runEnv, func(), error) {
	e := &runEnv{c: c, clk: d.Clock, log: d.Logger, pr: d.Printer, ledgerPath: d.LedgerPath}
	if e.clk == nil {
		e.clk = SystemClock{}
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	if e.pr == nil {
		e.pr = discard{}
	}
	path = journalPath(c, path)
	// Open would create a journal: there must be one already.
	if _, err := os.Stat(path); err != nil {
		return nil, nil, fmt.Errorf("%s: no journal at %s (%w): the campaign was never run, there is nothing to decide: %w",
			op, path, err, campaign.ErrInvalidInput)
	}
	j, err := journal.Open(ctx, path, journal.WithNow(e.clk.Now))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	closer := func() {
		if err := j.Close(); err != nil {
			e.log.Warn("closing the journal", "error", err)
		}
	}
	if _, err := j.Meta(ctx); err != nil {
		closer()
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	e.j = j
	return e, closer, nil
}

// findRow finds a row by its number in the recipients file or by its key.
func (e *runEnv) findRow(ctx context.Context, op string, number int, key string) (journal.Row, error) {
	if key != "" {
		row, err := e.j.RowByKey(ctx, key)
		if errors.Is(err, journal.ErrNotFound) {
			return row, fmt.Errorf("%s: no row has the key %q in the journal %s: %w", op, key, e.j.Path(), campaign.ErrInvalidInput)
		}
		if err != nil {
			return row, fmt.Errorf("%s: %w", op, err)
		}
		return row, nil
	}
	rows, err := e.j.RowsByNumber(ctx, number)
	switch {
	case err != nil:
		return journal.Row{}, fmt.Errorf("%s: %w", op, err)
	case len(rows) == 0:
		return journal.Row{}, fmt.Errorf("%s: no row %d in the journal %s: %w", op, number, e.j.Path(), campaign.ErrInvalidInput)
	case len(rows) > 1:
		return journal.Row{}, fmt.Errorf("%s: %d rows of the journal were row %d of the recipients file (it changed "+
			"between runs): name the row by its key: %w", op, len(rows), number, campaign.ErrInvalidInput)
	}
	return rows[0], nil
}
