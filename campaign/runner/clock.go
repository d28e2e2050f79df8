package runner

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// Clock is the source of time of the runner and of tracking. Tests inject a
// manual clock so that the 12 h and 24 h notices of a campaign are reached
// in milliseconds.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// After is time.After.
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// sleep waits d on clk, or until ctx is done.
func sleep(ctx context.Context, clk Clock, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	select {
	case <-clk.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sleepUntil waits until t on clk, or until ctx is done.
func sleepUntil(ctx context.Context, clk Clock, t time.Time) error {
	return sleep(ctx, clk, t.Sub(clk.Now()))
}

// jitter is a source of randomness safe for the sender and the tracker to
// share. It is seeded by the caller so that a test's schedule is
// reproducible.
type jitter struct {
	mu  sync.Mutex
	rng *rand.Rand
}

func newJitter(seed uint64) *jitter {
	return &jitter{rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}
}

// float64 returns a number in [0, 1).
func (j *jitter) float64() float64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.rng.Float64()
}
