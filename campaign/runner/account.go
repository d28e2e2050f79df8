package runner

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/pecbatch/pecbatch/client"
	"github.com/pecbatch/pecbatch/journal"
)

// openingRejections is how many sends at the start of a run, all refused
// with the same answer, make the run stop as an account problem: one
// refusal may be about its row, but the same refusal of the first three
// different rows is far more likely about the token, the mailbox, the
// sender or the plan, and rejecting rows for good on it would finalise rows
// that were never the problem.
const openingRejections = 3

// heldRow is a row refused at the start of a run and put back to pending
// until the run knows whether the refusal was about the row.
type heldRow struct {
	id      int64
	row     int
	message string
}

// opening follows the sends at the start of a run until one of them gets
// an answer other than one same refusal.
type opening struct {
	// settled is set once a send got another answer: the refusals held so
	// far were about their rows, and later ones are rejected at once.
	settled bool
	// answer is the refusal held (status and message); held the rows
	// refused with it, back in pending.
	answer string
	held   []heldRow
}

// accountStop records the row of an answer about the account or the
// endpoint (an *client.AccountError, or a 401 however it came) and returns
// the error that stops the run. The row stays pending when the answer
// proves that nothing was sent, and becomes unknown (to reconcile) when it
// may have been sent: it is never rejected, since nothing about it was
// wrong. Rows held at the start of the run stay pending too.
func (s *sender) accountStop(ctx context.Context, row journal.Row, err error, sendingAt time.Time) error {
	e := s.e
	state := "is pending again: it was not sent"
	if errors.Is(err, client.ErrAmbiguous) {
		if jerr := e.j.MarkUnknown(ctx, row.ID, err.Error()); jerr != nil {
			return fmt.Errorf("run: %w", jerr)
		}
		s.tr.unknown(row.ID, sendingAt)
		s.prog.add(1)
		state = "is unknown: it may have been sent, and the next run looks for it in the mailbox before sending anything"
	} else if jerr := e.j.MarkNotSent(ctx, row.ID, err.Error()); jerr != nil {
		return fmt.Errorf("run: %w", jerr)
	}
	problem, where := client.ProblemService, ""
	var ae *client.AccountError
	if errors.As(err, &ae) {
		problem = ae.Problem
	} else if errors.Is(err, client.ErrUnauthorized) {
		problem = client.ProblemCredentials
	}
	if problem == client.ProblemCredentials || problem == client.ProblemMailboxLogin {
		where = " (usually from ${PECMASSIVA_TOKEN}, ${PEC_USERNAME}, ${PEC_PASSWORD})"
	}
	e.log.Warn("stopping: an account or endpoint failure", "row", row.RowNumber, "key", row.Key, "problem", problem, "error", err)
	return fmt.Errorf("run: stopped at row %d, an account or endpoint failure (%s), not a problem of the row: %w; "+
		"row %d (key %s) %s; no row was marked failed for it: fix the setting%s, then run the same command again to resume",
		row.RowNumber, problem, err, row.RowNumber, row.Key, state, where)
}

// refused records a refusal of row by the API (an *client.APIError): it is
// rejected, final, unless the run is still at its opening, where the same
// refusal of the first rows is held and, at openingRejections of them, stops
// the run as an account problem with every such row pending again.
func (s *sender) refused(ctx context.Context, row journal.Row, apiErr *client.APIError, err error) error {
	e := s.e
	msg := apiErr.Message
	if msg == "" {
		msg = apiErr.Error()
	}
	answer := strconv.Itoa(apiErr.StatusCode) + " " + msg
	if !s.open.settled && (len(s.open.held) == 0 || s.open.answer == answer) {
		if jerr := e.j.MarkNotSent(ctx, row.ID, msg); jerr != nil {
			return fmt.Errorf("run: %w", jerr)
		}
		s.open.answer = answer
		s.open.held = append(s.open.held, heldRow{id: row.ID, row: row.RowNumber, message: msg})
		e.log.Warn("refused by the API at the start of the run; rejected once another send gets another answer",
			"row", row.RowNumber, "key", row.Key, "status", apiErr.StatusCode, "error", msg)
		if n := len(s.open.held); n >= openingRejections {
			return fmt.Errorf("run: the first %d sends of this run (rows %s) were all refused with the same answer, "+
				"%w: one answer for different rows is about the account, not the rows (the API token, the mailbox, "+
				"the sender address, the plan); nothing was sent and those rows are pending again, none rejected: "+
				"check the account, then run the same command again to resume (if the answer really is about these "+
				"rows, fix them and run again with --allow-changes)", n, s.heldRows(), err)
		}
		if ferr := s.failed(err); ferr != nil {
			// sending.max_consecutive_errors is below openingRejections:
			// the operator's limit decides, as for any refusal.
			if serr := s.settle(ctx); serr != nil {
				return serr
			}
			return ferr
		}
		return nil
	}
	if err := s.settle(ctx); err != nil {
		return err
	}
	if jerr := e.j.MarkRejected(ctx, row.ID, msg); jerr != nil {
		return fmt.Errorf("run: %w", jerr)
	}
	e.log.Warn("rejected by the API", "row", row.RowNumber, "key", row.Key, "status", apiErr.StatusCode, "error", msg)
	s.prog.add(1)
	return s.failed(err)
}

// settle ends the run's opening: the refusals held so far were about their
// rows (another answer came, or there is nothing more to send), so they are
// rejected now, with the message they got. Their journal shows the
// attempt, the row put back to pending while undecided, and the rejection.
func (s *sender) settle(ctx context.Context) error {
	if s.open.settled {
		return nil
	}
	s.open.settled = true
	for _, h := range s.open.held {
		if err := s.e.j.MarkSending(ctx, h.id); err != nil {
			return fmt.Errorf("run: %w", err)
		}
		if err := s.e.j.MarkRejected(ctx, h.id, h.message); err != nil {
			return fmt.Errorf("run: %w", err)
		}
		s.e.log.Warn("rejected by the API", "row", h.row, "error", h.message)
		s.prog.add(1)
	}
	s.open.held = nil
	return nil
}

// heldRows lists the rows held at the opening: "1, 2, 3".
func (s *sender) heldRows() string {
	var b []byte
	for i, h := range s.open.held {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = strconv.AppendInt(b, int64(h.row), 10)
	}
	return string(b)
}
