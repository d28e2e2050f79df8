package sandbox

import (
	"sync"
	"time"
)

// Clock is a manual clock for tests: time stands still until Advance moves
// it, so the 12 h and 24 h receipts of the domain table arrive in
// microseconds. Pass its Now method as Options.Now. It is safe for
// concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a manual clock that reads start until it is advanced.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start}
}

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d. A negative d panics: the sandbox
// derives receipts from elapsed time, and time going backwards would make
// an arrived receipt's successors arrive before it.
func (c *Clock) Advance(d time.Duration) {
	if d < 0 {
		panic("sandbox: Clock.Advance with a negative duration")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Accelerated returns a clock that starts at wall's current time and then
// runs factor times faster than wall (nil wall means time.Now). With factor
// 3600 a sandbox hour passes every real second, so the 12 h warning of
// slow.sandbox.test arrives 12 s after the send: that is what
// `pecbatch sandbox --time-scale` uses for demos. A factor <= 0 is taken as 1.
func Accelerated(wall func() time.Time, factor float64) func() time.Time {
	if wall == nil {
		wall = time.Now
	}
	if factor <= 0 {
		factor = 1
	}
	start := wall()
	return func() time.Time {
		// Sub uses the monotonic readings of time.Now, so a wall-clock step
		// (NTP, DST) neither freezes nor rewinds sandbox time.
		elapsed := wall().Sub(start)
		return start.Add(time.Duration(float64(elapsed) * factor))
	}
}
