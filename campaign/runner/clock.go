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

// ScaledClock is a clock that runs Factor times faster than the system
// clock from the moment it is made: the clock of `run --sandbox
// --time-scale`, shared by the runner and the built-in sandbox, so that a
// campaign's days, its daily limits and its sending windows pass in
// minutes. Waits are shortened by the same factor.
type ScaledClock struct {
	start  time.Time
	factor float64
}

// NewScaledClock returns a clock that starts now and runs factor times
// faster than real time; a factor <= 0 is taken as 1.
func NewScaledClock(factor float64) *ScaledClock {
	if factor <= 0 {
		factor = 1
	}
	return &ScaledClock{start: time.Now(), factor: factor}
}

// Now returns the scaled time. It counts from the monotonic reading of
// the start, so a step of the wall clock (NTP, DST) does not move it.
func (c *ScaledClock) Now() time.Time {
	return c.start.Add(time.Duration(float64(time.Since(c.start)) * c.factor))
}

// After waits d of scaled time: d divided by the factor in real time.
func (c *ScaledClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	time.AfterFunc(time.Duration(float64(d)/c.factor), func() { ch <- c.Now() })
	return ch
}

// Factor returns how many times faster than real time the clock runs.
func (c *ScaledClock) Factor() float64 { return c.factor }
