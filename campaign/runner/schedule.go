package runner

import (
	"slices"
	"sync"
	"time"
)

// pollPolicy is the per-row schedule of GET /send/{code}.
//
// A fixed schedule cannot be both cheap and quick: polling every second
// notices a delivery at once but costs dozens of requests per row, polling
// rarely costs little but notices late. So the schedule learns from the
// campaign itself: once some rows have been delivered, the next poll of a
// row goes just after the delivery latency observed so far (a low quantile
// of it, plus a small margin), and only a row that is slower than that falls
// back to polls that grow geometrically. Until something is learned, the
// schedule is geometric from FirstPoll.
type pollPolicy struct {
	// FirstPoll is the age of a row's first poll while no latency is known:
	// just after a typical acceptance.
	FirstPoll time.Duration
	// Growth is the factor by which the age of a blind poll grows: small,
	// because the oldest row explores for all the others (see Frontier).
	Growth float64
	// MinStep and MaxInterval bound the time between two polls of a row.
	MinStep, MaxInterval time.Duration
	// Margin is how far past the expected latency the expected poll goes,
	// as a fraction of it.
	Margin float64
	// Jitter spreads each interval by up to ±Jitter/2 of it.
	Jitter float64
	// Notices are the ages at which time-limit notices come (12 h and 24 h
	// after the send); polls restart quickly after each.
	Notices []time.Duration
	// NoticeLag is how long after a notice time the poll goes.
	NoticeLag time.Duration
	// GiveUpAfter is the age after which a row that is still not final is
	// settled as expired or not certifiable.
	GiveUpAfter time.Duration
}

// defaultPollPolicy returns the schedule for the given give-up age.
func defaultPollPolicy(giveUp time.Duration) pollPolicy {
	return pollPolicy{
		FirstPoll:   1500 * time.Millisecond,
		Growth:      1.1,
		MinStep:     100 * time.Millisecond,
		MaxInterval: time.Hour,
		Margin:      0.02,
		Jitter:      0.2,
		Notices:     []time.Duration{12 * time.Hour, 24 * time.Hour},
		NoticeLag:   2 * time.Second,
		GiveUpAfter: giveUp,
	}
}

// pollState is what the schedule needs to know of one row.
type pollState struct {
	// Submitted is when the row was submitted.
	Submitted time.Time
	// LastPoll is when the row was last polled; zero if never.
	LastPoll time.Time
	// Warning is the date of the latest time-limit warning of the row, zero
	// if none: a delivery may follow it, so polls restart from it.
	Warning time.Time
	// NonPECOnly says that every recipient still without an outcome is a
	// non-PEC address: no delivery receipt and no time-limit notice can come,
	// only an anomaly notice, so polls can be rare.
	NonPECOnly bool
	// Frontier is, while no latency is learned, the oldest age at which a
	// row of the campaign was polled and found not delivered yet: rows of a
	// campaign are alike, so a younger row need not be polled before that
	// age. The oldest row explores in small steps; the others follow it.
	Frontier time.Duration
}

// giveUpAt is when a row submitted at sub is settled if still not final.
func (p pollPolicy) giveUpAt(sub time.Time) time.Time { return sub.Add(p.GiveUpAfter) }

// next returns when the row should be polled next. expected is the
// delivery latency learned from the campaign (known false when nothing is
// learned yet) and r a random number in [0, 1) for the jitter.
func (p pollPolicy) next(s pollState, now time.Time, expected time.Duration, known bool, r float64) time.Time {
	giveUp := p.giveUpAt(s.Submitted)
	polled := !s.LastPoll.IsZero()
	if polled && !s.LastPoll.Before(giveUp) {
		return maxTime(now, s.LastPoll) // due: the tracker settles the row
	}
	// The anchor is where the latency counts from: the send, or the latest
	// notice time (or warning) already behind the last poll.
	anchor := s.Submitted
	if !s.NonPECOnly && polled {
		for _, n := range p.Notices {
			if t := s.Submitted.Add(n); !s.LastPoll.Before(t) && t.After(anchor) {
				anchor = t
			}
		}
	}
	if s.Warning.After(anchor) {
		anchor = s.Warning
	}
	polledSinceAnchor := polled && s.LastPoll.After(anchor)

	var next time.Time
	var step time.Duration
	switch {
	case known && expected > 0:
		target := anchor.Add(time.Duration(float64(expected) * (1 + p.Margin)))
		if !polledSinceAnchor || s.LastPoll.Before(target) {
			next = target
			break
		}
		// Slower than the campaign so far: small steps at first, because
		// the row is probably only a little late, then growing fast: a row
		// far behind the others is a slow or a non-PEC one, for hours.
		over := s.LastPoll.Sub(target)
		step = time.Duration(0.04*float64(expected) + 0.75*float64(over))
	case !polledSinceAnchor:
		if anchor.Equal(s.Submitted) {
			next = anchor.Add(max(p.FirstPoll, s.Frontier))
		} else {
			next = anchor.Add(p.NoticeLag)
		}
	default:
		growth := p.Growth
		if s.NonPECOnly {
			growth = 2
		}
		step = time.Duration(float64(s.LastPoll.Sub(anchor)) * (growth - 1))
		if anchor.Equal(s.Submitted) && !s.NonPECOnly {
			step = max(step, s.Submitted.Add(s.Frontier).Sub(s.LastPoll))
		}
	}
	if next.IsZero() {
		step = time.Duration(float64(step) * (1 + p.Jitter*(r-0.5)))
		maxStep := p.MaxInterval
		if s.NonPECOnly {
			maxStep *= 4
		}
		step = min(max(step, p.MinStep), maxStep)
		next = s.LastPoll.Add(step)
	}
	if !s.NonPECOnly {
		for _, n := range p.Notices {
			t := s.Submitted.Add(n + p.NoticeLag)
			if (!polled || s.LastPoll.Before(t)) && next.After(t) {
				next = t
			}
		}
	}
	if next.After(giveUp) {
		next = giveUp
	}
	return maxTime(next, now)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// pollBurst is the burst of the tracker's poll limiter: polls aimed at the
// expected delivery time of two rows can fall close together, and making
// one wait for the other's token would notice its delivery late.
const pollBurst = 4

// latencyModel keeps what a campaign taught about its delivery latency:
// for each delivered row, an interval that holds the time from submission
// to the moment its last delivery receipt could be seen. The lower end is
// the later of the receipt's date (receipt dates are truncated to the
// second) and the last poll that did not see it yet; the upper end is the
// earlier of the date plus one second and the poll that saw it.
//
// The expected latency is the 90th percentile of the lower ends, capped by
// the 10th percentile of the upper ends. Against a service with a steady
// latency the first is a lower bound a little under the truth, so polls
// aimed just past it land just after the receipt; and neither end can
// creep upwards by itself, as an estimate made of the polls' own times
// would (each poll a little late teaching the next to be later). When
// latencies vary, the cap keeps polls early for most rows: a poll too early
// costs one more request, a poll too late notices a delivery late.
type latencyModel struct {
	mu      sync.Mutex
	samples []latencySample
	next    int
}

// latencySample is what one delivered row taught.
type latencySample struct{ lo, hi time.Duration }

// modelSize bounds the samples kept: the latest ones, so that the estimate
// follows a provider that slows down or speeds up during a long campaign.
const modelSize = 128

func (m *latencyModel) observe(s latencySample) {
	if s.hi <= 0 || s.lo > s.hi {
		return
	}
	s.lo = max(s.lo, 0)
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.samples) < modelSize {
		m.samples = append(m.samples, s)
		return
	}
	m.samples[m.next] = s
	m.next = (m.next + 1) % modelSize
}

// expected returns the latency to aim polls at, and whether there is one.
func (m *latencyModel) expected() (time.Duration, bool) {
	m.mu.Lock()
	lo := make([]time.Duration, len(m.samples))
	hi := make([]time.Duration, len(m.samples))
	for i, s := range m.samples {
		lo[i], hi[i] = s.lo, s.hi
	}
	m.mu.Unlock()
	if len(lo) == 0 {
		return 0, false
	}
	slices.Sort(lo)
	slices.Sort(hi)
	e := min(lo[int(0.9*float64(len(lo)-1))], hi[int(0.1*float64(len(hi)-1))])
	if e <= 0 {
		e = hi[int(0.1*float64(len(hi)-1))]
	}
	return e, true
}

// latencyOf returns what a row delivered by a receipt dated date teaches:
// submitted is when it was submitted, missed the last poll that did not see
// the receipt yet (zero if none) and seen the poll that saw it.
func latencyOf(submitted, missed, seen, date time.Time) latencySample {
	s := latencySample{hi: seen.Sub(submitted)}
	if !missed.IsZero() {
		s.lo = missed.Sub(submitted)
	}
	if !date.IsZero() {
		s.lo = max(s.lo, date.Sub(submitted))
		s.hi = min(s.hi, date.Add(time.Second).Sub(submitted))
	}
	return s
}
