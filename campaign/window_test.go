package campaign

import (
	"strings"
	"testing"
	"time"
)

// rome returns a wall-clock time in Europe/Rome.
func romeTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.ParseInLocation("2006-01-02 15:04", s, Rome())
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestParseWindow(t *testing.T) {
	// 2026-11-30 is a Monday; 2026-12-05 a Saturday, 2026-12-06 a Sunday.
	tests := []struct {
		name   string
		spec   string
		open   []string // Europe/Rome times inside the window
		closed []string // and outside
		err    string
	}{
		{name: "empty is always", spec: "", open: []string{"2026-11-30 00:00", "2026-12-06 23:59"}},
		{name: "always", spec: " Always ", open: []string{"2026-12-05 03:00"}},
		{name: "weekdays office hours", spec: "mon-fri 08:00-20:00",
			open:   []string{"2026-11-30 08:00", "2026-11-30 19:59", "2026-12-04 12:00"},
			closed: []string{"2026-11-30 07:59", "2026-11-30 20:00", "2026-12-05 12:00", "2026-12-06 12:00"}},
		{name: "lunch break and saturday", spec: "mon-fri 08:00-13:00,14:00-20:00; sat 09:00-12:00",
			open:   []string{"2026-12-01 12:59", "2026-12-01 14:00", "2026-12-05 09:00"},
			closed: []string{"2026-12-01 13:00", "2026-12-01 13:59", "2026-12-05 12:00", "2026-12-06 10:00"}},
		{name: "spaces after commas, upper case", spec: "MON,Wed 08:00-09:00, 10:00-11:00",
			open:   []string{"2026-11-30 08:30", "2026-12-02 10:30"},
			closed: []string{"2026-12-01 08:30", "2026-11-30 09:30"}},
		{name: "day without times is the whole day", spec: "sat",
			open: []string{"2026-12-05 00:00", "2026-12-05 23:59"}, closed: []string{"2026-12-06 00:00", "2026-12-04 23:59"}},
		{name: "span across the week end", spec: "fri-mon 10:00-24:00",
			open:   []string{"2026-12-04 23:59", "2026-12-06 10:00", "2026-11-30 10:00"},
			closed: []string{"2026-12-01 10:00", "2026-12-05 09:59"}},
		{name: "wall clock on the day DST ends", spec: "sun 08:00-20:00",
			open: []string{"2026-10-25 08:00", "2026-10-25 19:59"}, closed: []string{"2026-10-25 07:59", "2026-10-25 20:00"}},
		{name: "unknown day", spec: "lun-ven 08:00-20:00", err: `"lun-ven": days are mon`},
		{name: "times without days", spec: "08:00-20:00", err: `"08:00-20:00": days are`},
		{name: "range across midnight", spec: "mon 22:00-06:00", err: "the end must come after the start"},
		{name: "empty range", spec: "mon 08:00-08:00", err: "the end must come after the start"},
		{name: "bad time", spec: "mon 8:00-20:00", err: "hh:mm-hh:mm"},
		{name: "minutes past 59", spec: "mon 08:60-20:00", err: "hh:mm-hh:mm"},
		{name: "past 24:00", spec: "mon 08:00-24:01", err: "hh:mm-hh:mm"},
		{name: "empty group", spec: "mon 08:00-20:00;", err: "an empty group"},
		{name: "missing end", spec: "mon 08:00", err: "hh:mm-hh:mm"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, err := ParseWindow(tc.spec)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseWindow(%q) = %v, want an error with %q", tc.spec, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseWindow(%q): %v", tc.spec, err)
			}
			for _, s := range tc.open {
				if !w.Contains(romeTime(t, s)) {
					t.Errorf("%s is outside %q, want inside", s, tc.spec)
				}
			}
			for _, s := range tc.closed {
				if w.Contains(romeTime(t, s)) {
					t.Errorf("%s is inside %q, want outside", s, tc.spec)
				}
			}
		})
	}
}

func TestWindowNextOpenClose(t *testing.T) {
	w, err := ParseWindow("mon-fri 08:00-13:00,14:00-20:00")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		at, open, close string
	}{
		{"2026-11-30 07:30", "2026-11-30 08:00", "2026-11-30 07:30"},
		{"2026-11-30 09:15", "2026-11-30 09:15", "2026-11-30 13:00"},
		{"2026-11-30 13:30", "2026-11-30 14:00", "2026-11-30 13:30"},
		{"2026-12-04 20:00", "2026-12-07 08:00", "2026-12-04 20:00"}, // friday evening: monday
		// The last Sunday of October 2026 has 25 hours: still monday 08:00.
		{"2026-10-23 21:00", "2026-10-26 08:00", "2026-10-23 21:00"},
	}
	for _, tc := range tests {
		t.Run(tc.at, func(t *testing.T) {
			at := romeTime(t, tc.at)
			if got, want := w.NextOpen(at), romeTime(t, tc.open); !got.Equal(want) {
				t.Errorf("NextOpen = %s, want %s", got.In(Rome()), want)
			}
			if got, want := w.NextClose(at), romeTime(t, tc.close); !got.Equal(want) {
				t.Errorf("NextClose = %s, want %s", got.In(Rome()), want)
			}
		})
	}
	if got := (Window{}).NextClose(romeTime(t, "2026-11-30 07:30")); !got.IsZero() {
		t.Errorf("the window always open closes at %s", got)
	}
}

func TestRomeDays(t *testing.T) {
	tests := []struct {
		at         string
		start, end string
		hours      int
	}{
		{"2026-03-29 12:00", "2026-03-29 00:00", "2026-03-30 00:00", 23}, // DST starts
		{"2026-10-25 12:00", "2026-10-25 00:00", "2026-10-26 00:00", 25}, // DST ends
		{"2026-11-30 23:59", "2026-11-30 00:00", "2026-12-01 00:00", 24},
	}
	for _, tc := range tests {
		t.Run(tc.at, func(t *testing.T) {
			at := romeTime(t, tc.at)
			s, e := StartOfDay(at), NextDay(at)
			if !s.Equal(romeTime(t, tc.start)) || !e.Equal(romeTime(t, tc.end)) || e.Sub(s) != time.Duration(tc.hours)*time.Hour {
				t.Errorf("day of %s: %s to %s (%s), want %s to %s (%d h)", tc.at, s, e, e.Sub(s), tc.start, tc.end, tc.hours)
			}
		})
	}
}

// FuzzParseWindow: any input either is refused or gives a window that
// reads back the same from its String, whose NextOpen is open and not
// before the time asked, and whose NextClose is closed.
func FuzzParseWindow(f *testing.F) {
	for _, s := range []string{"", "always", "mon-fri 08:00-20:00", "mon-fri 08:00-13:00,14:00-20:00; sat 09:00-12:00",
		"sun", "fri-mon 00:00-24:00", "mon 24:00-24:00", "mon,,tue", "mon 08:00-", ";", "mon- 08:00-09:00", "tue 23:59-24:00"} {
		f.Add(s, int64(1_790_000_000))
	}
	f.Fuzz(func(t *testing.T, spec string, unix int64) {
		w, err := ParseWindow(spec)
		if err != nil {
			return
		}
		again, err := ParseWindow(w.String())
		if err != nil {
			t.Fatalf("ParseWindow(%q) = %q, which does not parse: %v", spec, w.String(), err)
		}
		if (w.open == nil) != (again.open == nil) || (w.open != nil && *w.open != *again.open) {
			t.Fatalf("ParseWindow(%q) reads back different from %q", spec, w.String())
		}
		at := time.Unix(unix%(1<<34), 0)
		open := w.NextOpen(at)
		if open.IsZero() || open.Before(at) || !w.Contains(open) {
			t.Fatalf("%q: NextOpen(%s) = %s", spec, at, open)
		}
		if c := w.NextClose(open); !c.IsZero() && (w.Contains(c) || !c.After(open)) {
			t.Fatalf("%q: NextClose(%s) = %s", spec, open, c)
		}
	})
}
