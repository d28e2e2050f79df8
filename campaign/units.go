package campaign

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Rate is a number of events per period, as the campaign file writes it:
// "1/s", "30/m", "2/s", "3600/h", "0.5/s".
type Rate struct {
	// Events happen at most this many times per Per.
	Events float64
	// Per is the period: a second, a minute or an hour.
	Per time.Duration
}

// PerSecond returns the rate in events per second.
func (r Rate) PerSecond() float64 {
	if r.Per <= 0 {
		return 0
	}
	return r.Events / r.Per.Seconds()
}

// Interval returns the time between two events at this rate.
func (r Rate) Interval() time.Duration { return r.TimeFor(1) }

// String writes the rate as the campaign file does ("1/s").
func (r Rate) String() string {
	unit := "s"
	switch r.Per {
	case time.Minute:
		unit = "m"
	case time.Hour:
		unit = "h"
	}
	return strconv.FormatFloat(r.Events, 'f', -1, 64) + "/" + unit
}

// ParseRate reads a rate: a positive number, '/', and a unit s (sec,
// second), m (min, minute) or h (hour).
func ParseRate(s string) (Rate, error) {
	num, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Rate{}, fmt.Errorf("%q is not a rate: write a number of events per unit, such as 1/s, 30/m or 3600/h", s)
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || n <= 0 || math.IsInf(n, 0) || math.IsNaN(n) {
		return Rate{}, fmt.Errorf("%q is not a rate: the number before / must be positive, as in 1/s or 30/m", s)
	}
	var per time.Duration
	switch strings.ToLower(strings.TrimSpace(unit)) {
	case "s", "sec", "second":
		per = time.Second
	case "m", "min", "minute":
		per = time.Minute
	case "h", "hour":
		per = time.Hour
	default:
		return Rate{}, fmt.Errorf("%q is not a rate: the unit after / must be s, m or h", s)
	}
	r := Rate{Events: n, Per: per}
	if r.PerSecond() < MinRatePerSecond {
		return Rate{}, fmt.Errorf("%q is slower than one a day (0.0417/h), the slowest rate pecbatch takes: "+
			"write a faster one, such as 1/s, 30/m or 1/h", s)
	}
	return r, nil
}

// MinRatePerSecond is the slowest rate ParseRate accepts: one a day.
// Slower rates are typos, and their intervals overflow a time.Duration.
const MinRatePerSecond = 1.0 / (24 * 60 * 60)

// TimeFor returns how long n events take at this rate, saturating at the
// largest time.Duration instead of overflowing; 0 when the rate is not set.
func (r Rate) TimeFor(n int) time.Duration {
	ps := r.PerSecond()
	if ps <= 0 || n <= 0 {
		return 0
	}
	d := float64(n) / ps * float64(time.Second)
	if d >= math.MaxInt64 || math.IsNaN(d) {
		return math.MaxInt64
	}
	return time.Duration(d)
}

// Size units. The decimal ones (KB, MB, GB) are powers of 1000, the binary
// ones (KiB, MiB, GiB) powers of 1024.
var sizeUnits = []struct {
	suffix string
	factor int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9},
	{"k", 1e3}, {"m", 1e6}, {"g", 1e9},
	{"b", 1},
}

// ParseSize reads a size in bytes: a non-negative number with an optional
// unit, B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024),
// case-insensitive, with or without a space: "30MB" is 30,000,000 bytes,
// "30 MiB" 31,457,280, "1.5MB" 1,500,000, "4096" 4,096.
func ParseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	factor := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t = strings.TrimSpace(strings.TrimSuffix(t, u.suffix))
			factor = u.factor
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 || math.IsInf(n, 0) || math.IsNaN(n) || n*float64(factor) > math.MaxInt64/2 {
		return 0, fmt.Errorf("%q is not a size: write a number and a unit, such as 30MB or 30 MiB", s)
	}
	return int64(math.Round(n * float64(factor))), nil
}

// FormatSize writes n bytes for people: "20.0 KB", "29.4 MB", "512 B".
func FormatSize(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f KB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

// FormatDuration writes an estimate for people: "45s", "2h 46m", "3d 4h";
// a negative d (an overflow somewhere) is written as 0s, never as a
// negative time.
func FormatDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Round(time.Second)/time.Second))
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm %02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < 24*time.Hour:
		d = d.Round(time.Minute)
		return fmt.Sprintf("%dh %02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	d = d.Round(time.Hour)
	return fmt.Sprintf("%dd %dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}
