package client

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestSendCommittedCommitsBeforeTheRequest(t *testing.T) {
	var hitsAtCommit int64 = -1
	c, rec, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { jsonAnswer(w, 201, okSend) })
	res, err := c.SendCommitted(t.Context(), sampleSend(), func() error {
		hitsAtCommit = rec.hits.Load()
		return nil
	})
	if err != nil {
		t.Fatalf("SendCommitted: %v", err)
	}
	if res.MessageID != "2020082610003492" {
		t.Errorf("message id %q", res.MessageID)
	}
	if hitsAtCommit != 0 || rec.hits.Load() != 1 {
		t.Errorf("commit saw %d requests, server got %d; want 0 then 1", hitsAtCommit, rec.hits.Load())
	}
}

func TestSendCommittedCommitErrorSendsNothing(t *testing.T) {
	c, rec, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { jsonAnswer(w, 201, okSend) })
	boom := errors.New("disk full")
	_, err := c.SendCommitted(t.Context(), sampleSend(), func() error { return boom })
	if !errors.Is(err, boom) || errors.Is(err, ErrNotSent) || errors.Is(err, ErrAmbiguous) {
		t.Errorf("error %v: want the commit's error, neither not-sent nor ambiguous", err)
	}
	if n := rec.hits.Load(); n != 0 {
		t.Errorf("server got %d requests, want 0", n)
	}
}

func TestSendCommittedCancelledBeforeTurnIsNotSent(t *testing.T) {
	c, rec, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { jsonAnswer(w, 201, okSend) })
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	called := false
	_, err := c.SendCommitted(ctx, sampleSend(), func() error { called = true; return nil })
	if !errors.Is(err, ErrNotSent) || called || rec.hits.Load() != 0 {
		t.Errorf("error %v, commit called %v, %d requests: want ErrNotSent, no commit, no request", err, called, rec.hits.Load())
	}
}

// TestSendCommittedCompletesAfterCancel: a cancellation once the send is
// committed does not abandon the request, whose outcome the caller records.
func TestSendCommittedCompletesAfterCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	release := make(chan struct{})
	c, rec, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		cancel() // the signal arrives while the request is being served
		<-release
		jsonAnswer(w, 201, okSend)
	})
	go func() {
		<-ctx.Done()
		time.Sleep(20 * time.Millisecond)
		close(release)
	}()
	res, err := c.SendCommitted(ctx, sampleSend(), func() error { return nil })
	if err != nil || res.MessageID != "2020082610003492" {
		t.Fatalf("SendCommitted = %+v, %v; want the answer despite the cancellation", res, err)
	}
	if n := rec.hits.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestSendCommittedRetries429CommittingOnce(t *testing.T) {
	var mu sync.Mutex
	n := 0
	c, rec, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		first := n == 1
		mu.Unlock()
		if first {
			w.Header().Set("Retry-After", "2")
			jsonAnswer(w, 429, `{"success":false,"message":"Too many requests"}`)
			return
		}
		jsonAnswer(w, 201, okSend)
	})
	commits := 0
	if _, err := c.SendCommitted(t.Context(), sampleSend(), func() error { commits++; return nil }); err != nil {
		t.Fatalf("SendCommitted: %v", err)
	}
	if commits != 1 || rec.hits.Load() != 2 {
		t.Errorf("%d commits, %d requests; want 1 and 2", commits, rec.hits.Load())
	}
}

func TestSendCommittedCancelDuring429WaitIsNotSent(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	c, rec, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		cancel()
		w.Header().Set("Retry-After", "2")
		jsonAnswer(w, 429, `{"success":false,"message":"Too many requests"}`)
	})
	_, err := c.SendCommitted(ctx, sampleSend(), func() error { return nil })
	if !errors.Is(err, ErrNotSent) || rec.hits.Load() != 1 {
		t.Errorf("error %v after %d requests; want ErrNotSent after 1", err, rec.hits.Load())
	}
}

// TestSendCommittedSpacing: the commit happens while the send waits for
// its turn, and a slow commit never brings two requests closer than the
// rate allows. The sleeps listed include the commit's own (its time on the
// fake clock).
func TestSendCommittedSpacing(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name   string
		commit time.Duration // how long the commit takes
		want   []time.Duration
	}{
		// The second send sleeps until 50 ms before its turn, commits, then
		// sleeps the rest.
		{"quick commit", 0, []time.Duration{0, 950 * ms, 0, 50 * ms}},
		// The first request started 30 ms late (its commit), so the second
		// waits 30 ms more than its limiter turn.
		{"commit within the lead", 30 * ms, []time.Duration{30 * ms, 920 * ms, 30 * ms, 20 * ms, 30 * ms}},
		{"slow commit", 200 * ms, []time.Duration{200 * ms, 750 * ms, 200 * ms, 50 * ms}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, clock := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { jsonAnswer(w, 201, okSend) })
			var starts []time.Time
			for range 2 {
				_, err := c.SendCommitted(t.Context(), sampleSend(), func() error {
					return clock.Sleep(t.Context(), tt.commit)
				})
				if err != nil {
					t.Fatal(err)
				}
				c.mu.Lock()
				starts = append(starts, c.lastSendStart)
				c.mu.Unlock()
			}
			if gap := starts[1].Sub(starts[0]); gap < time.Second {
				t.Errorf("requests %v apart, want at least 1s", gap)
			}
			if got := clock.Sleeps(); !slices.Equal(got, tt.want) {
				t.Errorf("sleeps %v, want %v", got, tt.want)
			}
		})
	}
}
