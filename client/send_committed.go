package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// commitLead is how long before its turn a SendCommitted calls its commit:
// the commit (a journal write, fsynced) then happens while the send waits for
// its turn anyway, and the request still leaves on time.
const commitLead = 50 * time.Millisecond

// SendCommitted sends req like Send, for a caller that journals every send
// so that nothing is ever sent twice or lost:
//
//   - commit is called exactly once, after the wait for the send limiter and
//     just before the request is written: the caller records "sending" there.
//     If commit returns an error, nothing is sent and that error is returned
//     (wrapped; neither ErrNotSent nor ErrAmbiguous).
//   - Once commit has returned nil, cancelling ctx no longer abandons the
//     request: it is completed (bounded by the Client's timeout), so that its
//     outcome can be recorded. ctx still ends a wait after a 429 answer, with
//     ErrNotSent.
//   - Whatever commit takes, no two requests of SendCommitted start closer
//     together than the send rate allows: the spacing is measured at the
//     requests themselves, not at the limiter.
//
// A cancellation before commit returns an error matching ErrNotSent without
// calling commit. Errors are otherwise those of Send.
func (c *Client) SendCommitted(ctx context.Context, req *SendRequest, commit func() error) (*SendResult, error) {
	res, err := c.sendCommitted(ctx, req, commit)
	return res, c.scrubber.wrap(err)
}

func (c *Client) sendCommitted(ctx context.Context, req *SendRequest, commit func() error) (*SendResult, error) {
	body, err := c.encodeSend(req)
	if err != nil {
		return nil, fmt.Errorf("client: send: %w", err)
	}
	cl := &call{method: http.MethodPost, path: "/send", body: body, send: true}
	detached := context.WithoutCancel(ctx)
	for attempt := 1; ; attempt++ {
		if attempt == 1 {
			turn, err := c.waitTurnEarly(ctx, commitLead)
			if err != nil {
				return nil, fmt.Errorf("client: send: %w: waiting for the send rate limit: %w", ErrNotSent, err)
			}
			if err := commit(); err != nil {
				return nil, fmt.Errorf("client: send: commit: %w", err)
			}
			if d := turn.Sub(c.now()); d > 0 {
				if err := c.sleep(detached, d); err != nil {
					return nil, fmt.Errorf("client: send: %w", err)
				}
			}
		} else if err := c.waitTurn(ctx); err != nil {
			return nil, fmt.Errorf("client: send: %w: waiting after a 429: %w", ErrNotSent, err)
		}
		if err := c.waitSpacing(detached); err != nil {
			return nil, fmt.Errorf("client: send: %w", err)
		}
		if res, retry, err := c.sendAttempt(detached, cl, attempt); !retry {
			return res, err
		}
	}
}

// waitTurnEarly takes the next turn of the send limiter and waits until
// lead before it; it returns when the turn is. A caller whose context ends
// gives the turn back.
func (c *Client) waitTurnEarly(ctx context.Context, lead time.Duration) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	if err := c.waitHold(ctx); err != nil {
		return time.Time{}, err
	}
	now := c.now()
	if c.limiter == nil {
		return now, nil
	}
	r := c.limiter.ReserveN(now, 1)
	if !r.OK() {
		return time.Time{}, errors.New("the send limiter refused a reservation")
	}
	turn := now.Add(r.DelayFrom(now))
	if d := turn.Sub(now) - lead; d > 0 {
		if err := c.sleep(ctx, d); err != nil {
			r.CancelAt(c.now())
			return time.Time{}, err
		}
	}
	return turn, c.waitHold(ctx)
}

// waitSpacing waits until the send interval has passed since the previous
// SendCommitted request started, and records this one's start.
func (c *Client) waitSpacing(ctx context.Context) error {
	if c.limiter == nil {
		return nil
	}
	interval := time.Duration(float64(time.Second) / float64(c.limiter.Limit()))
	for {
		c.mu.Lock()
		d := c.lastSendStart.Add(interval).Sub(c.now())
		if d <= 0 || c.lastSendStart.IsZero() {
			c.lastSendStart = c.now()
			c.mu.Unlock()
			return nil
		}
		c.mu.Unlock()
		if err := c.sleep(ctx, d); err != nil {
			return err
		}
	}
}
