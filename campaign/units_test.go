package campaign

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		in        string
		perSecond float64
		str       string
		ok        bool
	}{
		{"1/s", 1, "1/s", true},
		{"2/s", 2, "2/s", true},
		{"30/m", 0.5, "30/m", true},
		{"3600/h", 1, "3600/h", true},
		{"0.5/s", 0.5, "0.5/s", true},
		{" 1 / sec ", 1, "1/s", true},
		{"10/minute", 10.0 / 60, "10/m", true},
		{"1", 0, "", false},
		{"0/s", 0, "", false},
		{"-1/s", 0, "", false},
		{"1/d", 0, "", false},
		{"fast", 0, "", false},
		{"NaN/s", 0, "", false},
		{"0.0417/h", 0.0417 / 3600, "0.0417/h", true}, // about one a day: the slowest there is
		{"0.0416/h", 0, "", false},
		{"0.0000001/h", 0, "", false},
		{"5e-324/s", 0, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseRate(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseRate(%q) error = %v, want ok %v", tt.in, err, tt.ok)
			}
			if !tt.ok {
				return
			}
			if r.PerSecond() != tt.perSecond || r.String() != tt.str {
				t.Fatalf("ParseRate(%q) = %v (%v/s), want %s (%v/s)", tt.in, r, r.PerSecond(), tt.str, tt.perSecond)
			}
		})
	}
	if got := (Rate{Events: 2, Per: time.Second}).Interval(); got != 500*time.Millisecond {
		t.Errorf("Interval of 2/s = %v", got)
	}
}

// TestRateTimeFor: the time of n sends never overflows into a negative
// duration, whatever the rate and the count.
func TestRateTimeFor(t *testing.T) {
	tests := []struct {
		name string
		r    Rate
		n    int
		want time.Duration
	}{
		{"1/s, 3 sends", Rate{Events: 1, Per: time.Second}, 3, 3 * time.Second},
		{"30/m, 1 send", Rate{Events: 30, Per: time.Minute}, 1, 2 * time.Second},
		{"no rate", Rate{}, 5, 0},
		{"no sends", Rate{Events: 1, Per: time.Second}, 0, 0},
		{"0.0000001/h, 1 send", Rate{Events: 1e-7, Per: time.Hour}, 1, math.MaxInt64},
		{"1/d, a billion sends", Rate{Events: 1.0 / 24, Per: time.Hour}, 1e9, math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.r.TimeFor(tt.n)
			if got != tt.want {
				t.Errorf("TimeFor(%d) = %v, want %v", tt.n, got, tt.want)
			}
			if s := FormatDuration(got); strings.HasPrefix(s, "-") {
				t.Errorf("FormatDuration(%v) = %q: negative", got, s)
			}
		})
	}
	if s := FormatDuration(-9223372036 * time.Second); s != "0s" {
		t.Errorf("FormatDuration of a negative duration = %q, want 0s", s)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"30MB", 30_000_000, true},
		{"30 MB", 30_000_000, true},
		{"30mb", 30_000_000, true},
		{"30 MiB", 30 << 20, true},
		{"1.5MB", 1_500_000, true},
		{"100MB", 100_000_000, true},
		{"512KB", 512_000, true},
		{"4KiB", 4096, true},
		{"1GB", 1_000_000_000, true},
		{"4096", 4096, true},
		{"10B", 10, true},
		{"0", 0, true},
		{"-1MB", 0, false},
		{"MB", 0, false},
		{"30 megabytes", 0, false},
		{"1e300GB", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("ParseSize(%q) = %d, %v; want %d ok %v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	sizes := map[int64]string{512: "512 B", 20_480: "20.5 KB", 29_400_000: "29.4 MB", 2_100_000_000: "2.1 GB"}
	for n, want := range sizes {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
	durations := map[time.Duration]string{
		45 * time.Second:                "45s",
		33*time.Minute + 20*time.Second: "33m 20s",
		27*time.Hour + 46*time.Minute:   "1d 4h",
		2*time.Hour + 46*time.Minute:    "2h 46m",
	}
	for d, want := range durations {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"1/s", "30/m", "0.5/s", "3600/h", "1", "/s", "1e309/s", "-1/m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err != nil {
			return
		}
		if !(r.PerSecond() > 0) || r.Interval() < 0 {
			t.Fatalf("ParseRate(%q) = %+v: not a positive rate", s, r)
		}
		again, err := ParseRate(r.String())
		if err != nil || again.PerSecond() != r.PerSecond() {
			t.Fatalf("%q -> %s does not read back: %+v, %v", s, r, again, err)
		}
	})
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"30MB", "30 MiB", "1.5kb", "0", "100MB", "9e18GB", "-1", "MB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err == nil && n < 0 {
			t.Fatalf("ParseSize(%q) = %d", s, n)
		}
	})
}
