package runner

import (
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/campaign"
)

// TestScaledClock: the clock of --time-scale runs factor times faster than
// real time, and its waits are as many times shorter.
func TestScaledClock(t *testing.T) {
	clk := NewScaledClock(3600)
	start := clk.Now()
	realStart := time.Now()
	at := <-clk.After(time.Hour) // a second of real time
	real := time.Since(realStart)
	if real < 900*time.Millisecond || real > 10*time.Second {
		t.Errorf("an hour of the clock took %s of real time, want about a second", real)
	}
	if got := at.Sub(start); got < time.Hour || got > time.Duration(float64(real)*3600)+time.Minute {
		t.Errorf("the clock moved %s during the wait, want an hour or a little more", got)
	}
	if NewScaledClock(0).Factor() != 1 {
		t.Error("a factor of 0 is not taken as 1")
	}
}

// TestGateMargin: a send starts only if the window is still open one
// sending interval later, so none starts after it closes.
func TestGateMargin(t *testing.T) {
	w, err := campaign.ParseWindow("mon-fri 08:00-20:00")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		margin time.Duration
		at     string
		offset time.Duration
		open   bool
		next   string
	}{
		{time.Second, "2026-11-30 19:59", 58 * time.Second, true, "2026-11-30 19:59"},
		{time.Second, "2026-11-30 19:59", 59*time.Second + 500*time.Millisecond, false, "2026-12-01 08:00"},
		{time.Hour, "2026-11-30 18:30", 0, true, "2026-11-30 18:30"},
		{time.Hour, "2026-11-30 19:30", 0, false, "2026-12-01 08:00"},
		{time.Hour, "2026-11-30 18:59", 59 * time.Second, true, "2026-11-30 18:59"},
		{time.Second, "2026-12-04 20:00", 0, false, "2026-12-07 08:00"},
	}
	for _, tc := range tests {
		t.Run(tc.at+"+"+tc.offset.String()+"/"+tc.margin.String(), func(t *testing.T) {
			g := &sendGate{window: w, margin: tc.margin}
			at := romeAt(t, tc.at).Add(tc.offset)
			if got := g.openAt(at); got != tc.open {
				t.Errorf("openAt = %v, want %v", got, tc.open)
			}
			want := romeAt(t, tc.next)
			if tc.open {
				want = at
			}
			if got := g.nextOpen(at); !got.Equal(want) {
				t.Errorf("nextOpen = %s, want %s", got.In(campaign.Rome()), want.In(campaign.Rome()))
			}
		})
	}
}
