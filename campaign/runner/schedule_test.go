package runner

import (
	"container/heap"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func TestPollPolicyNext(t *testing.T) {
	p := defaultPollPolicy(26 * time.Hour)
	const s = time.Second
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	tests := []struct {
		name     string
		state    pollState
		now      time.Duration
		expected time.Duration // 0: nothing learned
		want     time.Duration
	}{
		{"first poll, nothing learned", pollState{}, 0, 0, 1500 * time.Millisecond},
		{"blind polls grow by a tenth of the age", pollState{LastPoll: at(1500 * time.Millisecond)}, 1500 * time.Millisecond, 0, 1650 * time.Millisecond},
		{"blind polls skip to the campaign's frontier", pollState{LastPoll: at(1500 * time.Millisecond), Frontier: 5 * s}, 1500 * time.Millisecond, 0, 5 * s},
		{"a first poll skips to the frontier", pollState{Frontier: 5 * s}, 0, 0, 5 * s},
		{"the frontier does not matter once a latency is learned", pollState{Frontier: 5 * s}, 0, 3 * s, 3060 * time.Millisecond},
		{"first poll aims past the learned latency", pollState{}, 0, 3 * s, 3060 * time.Millisecond},
		{"a poll before the expected time goes to it", pollState{LastPoll: at(1500 * time.Millisecond)}, 1500 * time.Millisecond, 3 * s, 3060 * time.Millisecond},
		{"a late row steps in small steps first", pollState{LastPoll: at(3060 * time.Millisecond)}, 3060 * time.Millisecond, 3 * s, 3180 * time.Millisecond},
		{"late rows step further as they age", pollState{LastPoll: at(13060 * time.Millisecond)}, 13060 * time.Millisecond, 3 * s, 13060*time.Millisecond + 7620*time.Millisecond},
		{"the step is capped", pollState{LastPoll: at(5 * time.Hour)}, 5 * time.Hour, 3 * s, 6 * time.Hour},
		{"a poll goes just after the 12 h notice", pollState{LastPoll: at(11*time.Hour + 50*time.Minute)}, 11*time.Hour + 50*time.Minute, 0, 12*time.Hour + 2*s},
		{"polls restart quickly after the notice time", pollState{LastPoll: at(12*time.Hour + 2*s)}, 12*time.Hour + 2*s, 0, 12*time.Hour + 2200*ms},
		{"after a warning the learned latency counts from it", pollState{LastPoll: at(12*time.Hour + 2*s), Warning: at(12 * time.Hour)}, 12*time.Hour + 2*s, 3 * s, 12*time.Hour + 3060*time.Millisecond},
		{"a poll goes just after the 24 h notice", pollState{LastPoll: at(23*time.Hour + 30*time.Minute)}, 23*time.Hour + 30*time.Minute, 3 * s, 24*time.Hour + 2*s},
		{"the last poll is at the give-up time", pollState{LastPoll: at(25*time.Hour + 30*time.Minute)}, 25*time.Hour + 30*time.Minute, 3 * s, 26 * time.Hour},
		{"past the give-up time the row is due", pollState{LastPoll: at(26 * time.Hour)}, 27 * time.Hour, 3 * s, 27 * time.Hour},
		{"non-PEC rows skip the notices and poll rarely", pollState{LastPoll: at(11 * time.Hour), NonPECOnly: true}, 11 * time.Hour, 3 * s, 15 * time.Hour},
		{"non-PEC rows back off fast", pollState{LastPoll: at(10 * s), NonPECOnly: true}, 10 * s, 0, 20 * s},
		{"a schedule in the past is due now", pollState{}, time.Hour, 3 * s, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := tt.state
			st.Submitted = t0
			got := p.next(st, at(tt.now), tt.expected, tt.expected > 0, 0.5)
			if want := at(tt.want); !got.Equal(want) {
				t.Errorf("next = +%v, want +%v", got.Sub(t0), want.Sub(t0))
			}
		})
	}
}

// TestPollPolicyNextInvariants checks, over random states, that the next
// poll is never in the past, never after the give-up time unless that has
// passed, and always after the last poll.
func TestPollPolicyNextInvariants(t *testing.T) {
	p := defaultPollPolicy(26 * time.Hour)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		st := pollState{Submitted: t0, NonPECOnly: rng.IntN(4) == 0}
		if rng.IntN(5) > 0 {
			st.LastPoll = t0.Add(time.Duration(rng.Int64N(int64(27 * time.Hour))))
		}
		if rng.IntN(4) == 0 {
			st.Warning = t0.Add(time.Duration(rng.Int64N(int64(25 * time.Hour))))
		}
		now := maxTime(st.LastPoll, t0).Add(time.Duration(rng.Int64N(int64(time.Minute))))
		expected := time.Duration(rng.Int64N(int64(time.Minute)))
		got := p.next(st, now, expected, rng.IntN(2) == 0, rng.Float64())
		giveUp := p.giveUpAt(t0)
		switch {
		case got.Before(now):
			t.Fatalf("state %+v now %v: next %v is in the past", st, now, got)
		case got.After(giveUp) && got.After(now):
			t.Fatalf("state %+v now %v: next %v after the give-up time", st, now, got)
		case !st.LastPoll.IsZero() && !got.After(st.LastPoll) && st.LastPoll.Before(giveUp):
			t.Fatalf("state %+v now %v: next %v not after the last poll", st, now, got)
		}
	}
}

func TestLatencyModel(t *testing.T) {
	const s = time.Second
	tests := []struct {
		name    string
		samples []latencySample
		want    time.Duration // 0: nothing known
	}{
		{"nothing learned", nil, 0},
		{"one sample: its lower end", []latencySample{{2 * s, 3 * s}}, 2 * s},
		{"a steady latency: the highest lower end",
			[]latencySample{{2100 * ms, 3 * s}, {2900 * ms, 3100 * ms}, {2500 * ms, 3050 * ms}, {2990 * ms, 3900 * ms}}, 2900 * ms},
		{"varying latencies: capped by the low upper ends",
			[]latencySample{{1 * s, 2 * s}, {9 * s, 10 * s}, {19 * s, 20 * s}, {29 * s, 30 * s}}, 2 * s},
		{"no lower ends: the upper ones", []latencySample{{0, 4 * s}, {0, 5 * s}}, 4 * s},
		{"invalid samples are ignored", []latencySample{{5 * s, 4 * s}, {0, 0}, {1 * s, 2 * s}}, 1 * s},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m latencyModel
			for _, smp := range tt.samples {
				m.observe(smp)
			}
			got, ok := m.expected()
			if ok != (tt.want > 0) || got != tt.want {
				t.Errorf("expected = %v, %v; want %v", got, ok, tt.want)
			}
		})
	}
	t.Run("the window moves on", func(t *testing.T) {
		var m latencyModel
		m.observe(latencySample{1 * s, 2 * s})
		for i := 0; i < modelSize; i++ {
			m.observe(latencySample{20 * s, 21 * s})
		}
		if got, _ := m.expected(); got != 20*s {
			t.Errorf("expected = %v, want 20s", got)
		}
	})
}

const ms = time.Millisecond

func TestLatencyOf(t *testing.T) {
	sub := t0.Add(400 * ms)
	tests := []struct {
		name               string
		missed, seen, date time.Time
		want               latencySample
	}{
		{"seen soon after the date", time.Time{}, t0.Add(3100 * ms), t0.Add(3 * time.Second), latencySample{2600 * ms, 2700 * ms}},
		{"seen long after the date", time.Time{}, t0.Add(9 * time.Second), t0.Add(3 * time.Second), latencySample{2600 * ms, 3600 * ms}},
		{"a miss after the date", t0.Add(3200 * ms), t0.Add(3300 * ms), t0.Add(3 * time.Second), latencySample{2800 * ms, 2900 * ms}},
		{"no date", t0.Add(2 * time.Second), t0.Add(9 * time.Second), time.Time{}, latencySample{1600 * ms, 8600 * ms}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := latencyOf(sub, tt.missed, tt.seen, tt.date); got != tt.want {
				t.Errorf("latencyOf = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestScheduleEfficiency simulates tracking a 300-row campaign sent at one
// row per second against a service that delivers after a fixed delay and
// dates receipts to the second, as the sandbox does, and checks the two
// targets of the schedule together: at most 4 polls per row on average, and
// deliveries noticed within 10 % of their delay (95th percentile; the first
// rows, sent before anything was learned, are the slow ones).
func TestScheduleEfficiency(t *testing.T) {
	for _, tc := range []struct{ interval, delay time.Duration }{
		{time.Second, 3 * time.Second},
		{1010 * ms, 3 * time.Second},
		{1010 * ms, 8 * time.Second},
		{1010 * ms, 45 * time.Second},
	} {
		interval, delay := tc.interval, tc.delay
		t.Run(interval.String()+"/"+delay.String(), func(t *testing.T) {
			polls, lags := simulateTracking(t, 300, interval, delay, 2)
			mean := float64(polls) / 300
			slices.Sort(lags)
			p95 := lags[len(lags)*95/100]
			t.Logf("delay %v: %.2f polls per row, lag p50 %.1f%% p95 %.1f%% max %.1f%%",
				delay, mean, lags[len(lags)/2]*100, p95*100, lags[len(lags)-1]*100)
			if mean > 4 {
				t.Errorf("%.2f polls per row, want at most 4", mean)
			}
			if p95 > 0.10 {
				t.Errorf("95th percentile of the notice lag is %.1f%% of the delay, want at most 10%%", p95*100)
			}
		})
	}
}

type simEvent struct {
	at     time.Time
	row    int
	gen    int  // the row's schedule generation: a later one supersedes it
	submit bool // the row is submitted (its first poll is scheduled then)
}

type simQueue []simEvent

func (q simQueue) Len() int           { return len(q) }
func (q simQueue) Less(i, j int) bool { return q[i].at.Before(q[j].at) }
func (q simQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)        { *q = append(*q, x.(simEvent)) }
func (q *simQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// simulateTracking runs the schedule over n rows sent every interval, each
// delivered delay after the service recorded it, and returns the number of
// polls and, per row, the lag of noticing as a fraction of the delay. Polls
// go through a token bucket of pollRate per second, as the tracker's
// limiter does, and when a delivery teaches the model something the rows
// already waiting are pulled in, as the tracker does.
func simulateTracking(t *testing.T, n int, interval, delay time.Duration, pollRate float64) (int, []float64) {
	t.Helper()
	p := defaultPollPolicy(26 * time.Hour)
	var model latencyModel
	rng := rand.New(rand.NewPCG(7, 7))
	type row struct {
		sub, avail, date time.Time
		st               pollState
		submitted, done  bool
		scheduled        time.Time
		gen              int
	}
	rows := make([]row, n)
	q := &simQueue{}
	for i := range rows {
		sent := t0.Add(time.Duration(i)*interval + time.Duration(rng.IntN(30))*time.Millisecond)
		rows[i].sub = sent.Add(3 * time.Millisecond)
		rows[i].avail = sent.Add(delay)
		rows[i].date = rows[i].avail.Truncate(time.Second)
		rows[i].st = pollState{Submitted: rows[i].sub}
		heap.Push(q, simEvent{at: rows[i].sub, row: i, submit: true})
	}
	var frontier time.Duration
	schedule := func(i int, now time.Time) {
		r := &rows[i]
		r.st.Frontier = frontier
		e, ok := model.expected()
		r.scheduled = p.next(r.st, now, e, ok, rng.Float64())
		r.gen++
		heap.Push(q, simEvent{at: r.scheduled, row: i, gen: r.gen})
	}
	polls := 0
	lags := make([]float64, 0, n)
	// The tracker's limiter: a token bucket of pollBurst.
	tokens, tokensAt := float64(pollBurst), t0
	for q.Len() > 0 {
		ev := heap.Pop(q).(simEvent)
		r := &rows[ev.row]
		if ev.submit {
			r.submitted = true
			schedule(ev.row, ev.at)
			continue
		}
		if ev.gen != r.gen {
			continue
		}
		at := maxTime(ev.at, tokensAt)
		tokens = min(float64(pollBurst), tokens+at.Sub(tokensAt).Seconds()*pollRate)
		if tokens < 1 {
			at = at.Add(time.Duration((1 - tokens) / pollRate * float64(time.Second)))
			tokens = 1
		}
		tokens--
		tokensAt = at
		polls++
		if at.Before(r.avail) {
			r.st.LastPoll = at
			frontier = max(frontier, at.Sub(r.sub))
			schedule(ev.row, at)
			continue
		}
		r.done = true
		model.observe(latencyOf(r.sub, r.st.LastPoll, at, r.date))
		lags = append(lags, float64(at.Sub(r.avail))/float64(delay))
		e, ok := model.expected()
		for i := range rows {
			o := &rows[i]
			if !o.submitted || o.done {
				continue
			}
			if next := p.next(o.st, at, e, ok, rng.Float64()); next.Before(o.scheduled) {
				o.scheduled = next
				o.gen++
				heap.Push(q, simEvent{at: next, row: i, gen: o.gen})
			}
		}
	}
	return polls, lags
}
