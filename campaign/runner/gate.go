package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pecbatch/pecbatch/campaign"
)

// ErrPaused is what Run returns, with NoWait, when sending stopped at the
// daily limit or outside the sending window with rows still to send. It
// matches campaign.ErrInterrupted too: the journal is consistent and the
// same command, run again, resumes (the command exits with the status of
// "run again"). The error says when.
var ErrPaused = errors.New("sending paused")

// PausedError is the error of a run paused by the daily limit or the
// sending window (with NoWait): errors.Is ErrPaused and
// campaign.ErrInterrupted.
type PausedError struct {
	// Reason says why, for people.
	Reason string
	// Resume is when sends may start again.
	Resume time.Time
}

func (e *PausedError) Error() string {
	return fmt.Sprintf("run: %s; run the same command again after %s to go on", e.Reason, formatResume(e.Resume))
}

// Is makes a PausedError match ErrPaused and campaign.ErrInterrupted.
func (e *PausedError) Is(target error) bool {
	return target == ErrPaused || target == campaign.ErrInterrupted
}

// formatResume writes a time the way the notes of a pause do: in
// Europe/Rome, with the weekday, since a pause may last over a weekend.
func formatResume(t time.Time) string {
	return t.In(campaign.Rome()).Format("Mon 2 Jan 2006 15:04 MST")
}

// The notes of a pause.
const (
	// NoteSendingPaused: the daily limit is reached or the sending window
	// is closed; the note says when sending resumes.
	NoteSendingPaused NoteKind = "sending_paused"
	// NoteSendingResumed: sending goes on after a pause.
	NoteSendingResumed NoteKind = "sending_resumed"
)

// sendGate decides when a send may start: inside sending.window, and while
// fewer than sending.daily_limit sends were made in the current calendar
// day in Europe/Rome (counted from the journal, over every run of the
// campaign). The sender asks it before every request.
type sendGate struct {
	e      *runEnv
	limit  int
	window campaign.Window
	noWait bool
	// margin is how long a send may take to start once admitted: the
	// client's pacing may hold it for one interval of sending.rate, and it
	// must not start after the window closes.
	margin time.Duration

	// prog, when set, shows a pause in the progress of sending.
	prog *progress

	day   time.Time // the midnight that starts the day counted
	count int       // sends of day: the journal's, plus those admitted since
}

func newSendGate(e *runEnv, noWait bool) *sendGate {
	return &sendGate{
		e: e, limit: e.c.Sending.DailyLimit, window: e.c.Sending.Window, noWait: noWait,
		margin: e.c.Sending.Rate.Interval(),
	}
}

// admit returns nil when a send may start now, after waiting on the
// clock for as long as sending is paused (tracking goes on meanwhile). It
// returns ctx's error when ctx is done, and with noWait a *PausedError
// instead of waiting.
func (g *sendGate) admit(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		now := g.e.clk.Now()
		reason, resume, err := g.check(ctx, now)
		if err != nil {
			return err
		}
		if reason == "" {
			g.count++
			return nil
		}
		if g.noWait {
			return &PausedError{Reason: reason, Resume: resume}
		}
		g.e.note(NoteSendingPaused, "Sending paused: %s. It resumes by itself at %s; tracking goes on meanwhile "+
			"(Ctrl-C stops; running the same command again resumes).", reason, formatResume(resume))
		g.e.log.Debug("sending paused", "reason", reason, "resume", resume)
		if g.prog != nil {
			g.prog.describe("paused until " + formatResume(resume))
		}
		if err := sleepUntil(ctx, g.e.clk, resume); err != nil {
			return err
		}
		if g.prog != nil {
			g.prog.describe("")
		}
		g.e.note(NoteSendingResumed, "Sending resumed at %s.", formatResume(g.e.clk.Now()))
	}
}

// check returns why no send may start at now and when one may, or "" when
// one may.
func (g *sendGate) check(ctx context.Context, now time.Time) (string, time.Time, error) {
	if !g.openAt(now) {
		next := g.nextOpen(now)
		return fmt.Sprintf("outside the sending window (sending.window: %s, Europe/Rome time)", g.window), next, nil
	}
	if g.limit <= 0 {
		return "", time.Time{}, nil
	}
	day := campaign.StartOfDay(now)
	if !day.Equal(g.day) || g.count >= g.limit {
		// The local count is a little high when a send ended not sent:
		// the journal has the exact one.
		n, err := g.e.j.SentPerDay(ctx, campaign.Rome(), now)
		if err != nil {
			return "", time.Time{}, fmt.Errorf("run: counting today's sends for sending.daily_limit: %w", err)
		}
		g.day, g.count = day, n
	}
	if g.count < g.limit {
		return "", time.Time{}, nil
	}
	next := g.nextOpen(campaign.NextDay(now))
	return fmt.Sprintf("the daily limit is reached (%d sends today, sending.daily_limit: %d)", g.count, g.limit), next, nil
}

// openAt reports whether a send admitted at t starts inside the window.
func (g *sendGate) openAt(t time.Time) bool {
	if g.window.Always() {
		return true
	}
	// The window is made of whole minutes: a minute's step cannot skip
	// over a closed one.
	for d := time.Duration(0); d < g.margin; d += time.Minute {
		if !g.window.Contains(t.Add(d)) {
			return false
		}
	}
	return g.window.Contains(t.Add(g.margin))
}

// nextOpen returns the first time at or after t when openAt holds.
func (g *sendGate) nextOpen(t time.Time) time.Time {
	for range 64 {
		if g.openAt(t) {
			return t
		}
		n := g.window.NextOpen(t)
		if n.IsZero() {
			break
		}
		if !n.After(t) {
			// Open, but closing within the margin: look past this opening.
			n = g.window.NextOpen(g.window.NextClose(t))
		}
		t = n
	}
	return t
}

// EstimateSending returns how long sending n more rows of c from now
// takes, sentToday sends of the campaign having been made today
// (journal.Reader.SentPerDay with campaign.Rome()): sending.rate,
// sending.daily_limit and sending.window. status can show it as the run's
// plan does.
func EstimateSending(c *campaign.Campaign, now time.Time, n, sentToday int) time.Duration {
	s := c.Sending
	return estimateSending(now, n, s.Rate.PerSecond(), s.DailyLimit, sentToday, s.Window)
}

// estimateSending returns how long sending n rows from start takes at
// rate per second, with at most limit sends a day (sentToday of them made
// on start's day already) and only inside window: what the plan's ETA
// says. It is an estimate: it counts no retries.
func estimateSending(start time.Time, n int, perSecond float64, limit, sentToday int, window campaign.Window) time.Duration {
	if n <= 0 || perSecond <= 0 {
		return 0
	}
	interval := time.Duration(float64(time.Second) / perSecond)
	t := start
	day, today := campaign.StartOfDay(start), sentToday
	// Each turn sends what fits in one opening of the window on one day;
	// the bound only guards against a window that never opens.
	for range 100_000 {
		t = window.NextOpen(t)
		if t.IsZero() {
			return 0
		}
		if d := campaign.StartOfDay(t); !d.Equal(day) {
			day, today = d, 0
		}
		if limit > 0 && today >= limit {
			t = campaign.NextDay(t)
			continue
		}
		end := campaign.NextDay(t)
		if c := window.NextClose(t); !c.IsZero() && c.Before(end) {
			end = c
		}
		fit := int(end.Sub(t)/interval) + 1
		if end.Sub(t)%interval == 0 {
			fit-- // a send at end itself would be outside
		}
		fit = max(fit, 1)
		if limit > 0 {
			fit = min(fit, limit-today)
		}
		if fit >= n {
			return t.Add(time.Duration(n-1) * interval).Sub(start)
		}
		n -= fit
		today += fit
		t = t.Add(time.Duration(fit) * interval)
	}
	return 0
}
