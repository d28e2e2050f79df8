package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/client"
	"github.com/pecbatch/pecbatch/journal"
)

// Backoff of a send that provably did not reach the service (no
// connection, or throttled past the client's own retries).
const (
	notSentBackoffBase = time.Second
	notSentBackoffMax  = time.Minute
)

// sender sends the pending rows, one at a time, each committed as sending
// before its request and recorded after it.
type sender struct {
	e    *runEnv
	tr   *tracker
	prog *progress
	// gate, when set, holds each send until the daily limit and the
	// sending window allow it.
	gate *sendGate

	submitted   int
	sends       int
	journalTime time.Duration
	first, last time.Time
	consecutive int
	lastErr     error
	open        opening
}

func newSender(e *runEnv, tr *tracker, prog *progress) *sender {
	return &sender{e: e, tr: tr, prog: prog}
}

func (s *sender) stats() Stats {
	st := Stats{Sends: s.sends, FirstSend: s.first, LastSend: s.last}
	if s.sends > 0 {
		st.JournalPerSend = s.journalTime / time.Duration(s.sends)
	}
	return st
}

// send sends up to limit pending rows in row order. It returns nil when
// they are all done or when ctx was cancelled (no new send starts then),
// and an error for what stops the run.
func (s *sender) send(ctx context.Context, limit int) error {
	if limit <= 0 {
		return nil
	}
	pending, err := s.e.j.RowsInState(ctx, limit, journal.StatePending)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	byNumber := make(map[int]journal.Row, len(pending))
	for _, r := range pending {
		byNumber[r.RowNumber] = r
	}
	for m, err := range s.e.c.Messages(ctx, func(n int) bool { _, ok := byNumber[n]; return ok }) {
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("run: rendering a row again for sending: %w; the campaign's files changed during the run: "+
				"nothing more was sent; fix them and run again", err)
		}
		row := byNumber[m.Row]
		delete(byNumber, m.Row)
		if m.Key != row.Key || m.SHA256 != row.ContentSHA256 {
			return fmt.Errorf("run: row %d (key %q) renders differently from when it was journaled (content hash %.12s, "+
				"journal %.12s): the campaign's files changed during the run; nothing was sent for it: undo the change, "+
				"or run again with --allow-changes", m.Row, row.Key, m.SHA256, row.ContentSHA256)
		}
		if err := s.e.recipients.check(); err != nil {
			return err
		}
		if err := s.sendRow(ctx, row, m); err != nil {
			return err
		}
	}
	if ctx.Err() == nil && len(byNumber) > 0 {
		return fmt.Errorf("run: %d pending row(s) are no longer in the recipients file: it changed during the run; "+
			"run again to see what changed", len(byNumber))
	}
	if ctx.Err() != nil {
		return nil // rows held at the opening stay pending: the next run decides
	}
	// Every row was sent: fewer than openingRejections refusals are taken
	// for what they say, refusals of their rows.
	return s.settle(context.WithoutCancel(ctx))
}

func sendRequest(sender string, m *campaign.Message) *client.SendRequest {
	req := &client.SendRequest{Sender: sender, Recipients: m.Recipients, Subject: m.Subject, Body: string(m.Body)}
	for _, a := range m.Attachments {
		req.Attachments = append(req.Attachments, client.Attachment{Name: a.Name, ContentType: a.ContentType, Content: a.Content})
	}
	return req
}

// sendRow sends one row until it is submitted, rejected or unknown, or
// until the run must stop.
func (s *sender) sendRow(ctx context.Context, row journal.Row, m *campaign.Message) error {
	e := s.e
	req := sendRequest(e.c.Sender.Address, m)
	subject, err := e.subjectToSend(row, m)
	if err != nil {
		return err
	}
	req.Subject = subject
	// What is recorded after a request was made must be recorded even if
	// the run is being interrupted.
	wctx := context.WithoutCancel(ctx)
	for attempt := 0; ; attempt++ {
		if ctx.Err() != nil {
			return nil // no new send starts
		}
		if s.gate != nil {
			if err := s.gate.admit(ctx); err != nil {
				if ctx.Err() != nil {
					return nil // no new send starts
				}
				return err
			}
		}
		committed := false
		var sendingAt time.Time
		res, err := e.cl.SendCommitted(ctx, req, func() error {
			t := e.clk.Now()
			err := e.j.MarkSending(wctx, row.ID)
			sendingAt = e.clk.Now()
			s.journalTime += sendingAt.Sub(t)
			committed = err == nil
			return err
		})
		if committed {
			s.sends++
			if s.first.IsZero() {
				s.first = sendingAt
			}
			s.last = sendingAt
		}
		log := e.log.With("row", row.RowNumber, "key", row.Key)
		var apiErr *client.APIError
		switch {
		case err == nil:
			t := e.clk.Now()
			// The ledger first: a send belongs to one row of one journal,
			// and a crash between the two leaves the row in sending with
			// its claim, which reconciliation then gives back to it alone.
			var ce *journal.ClaimedError
			if err := e.claim(wctx, row, res.MessageID); errors.As(err, &ce) {
				if err := e.claimRefused(wctx, row, ce); err != nil {
					return err
				}
				s.tr.unknown(row.ID, sendingAt)
				s.prog.add(1)
				return s.failed(ce)
			} else if err != nil {
				return fmt.Errorf("run: row %d was sent (message id %s) but the claim ledger could not record it: %w; "+
					"the row stays in sending and the next run reconciles it", row.RowNumber, res.MessageID, err)
			}
			if err := e.j.MarkSubmitted(wctx, row.ID, res.MessageID); err != nil {
				return fmt.Errorf("run: row %d was sent (message id %s) but the journal could not record it: %w; "+
					"the row stays in sending and the next run reconciles it", row.RowNumber, res.MessageID, err)
			}
			s.journalTime += e.clk.Now().Sub(t)
			if err := s.settle(wctx); err != nil {
				return err
			}
			log.Debug("submitted", "message_id", res.MessageID)
			s.submitted++
			s.consecutive = 0
			s.tr.submitted(row.ID, e.clk.Now())
			s.prog.add(1)
			return nil

		case !committed && errors.Is(err, client.ErrInvalidRequest):
			// The client refused to build the request: it cannot be sent
			// as it is, ever. Preflight should have caught it.
			if err := e.j.MarkSending(wctx, row.ID); err != nil {
				return fmt.Errorf("run: %w", err)
			}
			if err := e.j.MarkRejected(wctx, row.ID, err.Error()); err != nil {
				return fmt.Errorf("run: %w", err)
			}
			log.Warn("rejected by the client", "error", err)
			s.prog.add(1)
			return s.failed(err)

		case !committed:
			if ctx.Err() != nil {
				return nil // interrupted while waiting for our turn: nothing sent
			}
			return fmt.Errorf("run: row %d: %w", row.RowNumber, err)

		case errors.Is(err, client.ErrNotSent), errors.Is(err, client.ErrRateLimited):
			// Neither is ever an account failure nor ambiguous: checking
			// them first is the order docs/client.md gives.
			if jerr := e.j.MarkNotSent(wctx, row.ID, err.Error()); jerr != nil {
				return fmt.Errorf("run: %w", jerr)
			}
			if ctx.Err() != nil {
				return nil
			}
			if ferr := s.failed(err); ferr != nil {
				return ferr
			}
			d := s.backoff(attempt)
			log.Warn("not sent; retrying", "error", err, "in", d.Round(time.Millisecond))
			if sleep(ctx, e.clk, d) != nil {
				return nil
			}

		case errors.Is(err, client.ErrAccount),
			errors.Is(err, client.ErrUnauthorized) && !errors.Is(err, client.ErrAmbiguous):
			// About the token, the mailbox, the endpoint or the plan:
			// every further send would meet it, and the row is not at fault.
			return s.accountStop(wctx, row, err, sendingAt)

		case errors.Is(err, client.ErrAmbiguous):
			if jerr := s.settle(wctx); jerr != nil {
				return jerr
			}
			if jerr := e.j.MarkUnknown(wctx, row.ID, err.Error()); jerr != nil {
				return fmt.Errorf("run: %w", jerr)
			}
			log.Warn("outcome unknown: the message may have been sent; it is reconciled from the mailbox", "error", err)
			s.tr.unknown(row.ID, sendingAt)
			s.prog.add(1)
			return s.failed(err)

		case errors.As(err, &apiErr):
			// A definite refusal of this message (400 and the like):
			// nothing was sent and sending it again would be refused again.
			return s.refused(wctx, row, apiErr, err)

		default:
			// Not classified by the client: it may have been sent.
			if jerr := s.settle(wctx); jerr != nil {
				return jerr
			}
			if jerr := e.j.MarkUnknown(wctx, row.ID, err.Error()); jerr != nil {
				return fmt.Errorf("run: %w", jerr)
			}
			log.Warn("outcome unknown", "error", err)
			s.tr.unknown(row.ID, sendingAt)
			s.prog.add(1)
			return s.failed(err)
		}
	}
}

// failed counts a failure in a row and says when there have been too many.
func (s *sender) failed(err error) error {
	s.consecutive++
	s.lastErr = err
	limit := s.e.c.Sending.MaxConsecutiveErrors
	if limit <= 0 {
		limit = campaign.DefaultMaxConsecutiveErrors
	}
	if s.consecutive >= limit {
		return fmt.Errorf("run: %d sends failed in a row (sending.max_consecutive_errors), the last with: %w; "+
			"stopping: check the service and the campaign, then run again to resume", s.consecutive, err)
	}
	return nil
}

// backoff returns the wait before attempt+1 of a send that did not reach
// the service: exponential, capped, with jitter so that many pecbatch
// processes do not retry in step.
func (s *sender) backoff(attempt int) time.Duration {
	d := notSentBackoffBase << min(attempt, 10)
	d = min(d, notSentBackoffMax)
	return d/2 + time.Duration(s.e.jit.float64()*float64(d/2))
}
