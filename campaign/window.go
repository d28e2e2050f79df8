package campaign

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // Europe/Rome on a machine without a zone database (Windows)
)

// SendingZone is the time zone of sending.window and of the days that
// sending.daily_limit counts: the offices pecbatch serves and the PEC
// providers' plans are Italian.
const SendingZone = "Europe/Rome"

// Rome returns the Europe/Rome location. The zone database is linked into
// the binary, so it cannot fail; should it ever, UTC+1 is used.
func Rome() *time.Location {
	romeOnce.Do(func() {
		loc, err := time.LoadLocation(SendingZone)
		if err != nil {
			loc = time.FixedZone("CET", 3600)
		}
		rome = loc
	})
	return rome
}

var (
	romeOnce sync.Once
	rome     *time.Location
)

const minutesPerWeek = 7 * 24 * 60

// Window is when sends may start: sets of minutes of the week in
// Europe/Rome wall-clock time. The zero value is always open.
//
// Its grammar (sending.window), case-insensitive:
//
//	window = "always" | group { ";" group }
//	group  = days [ ranges ]
//	days   = span { "," span }               mon-fri   sat   mon,wed,fri   fri-mon
//	span   = day [ "-" day ]                  day: mon tue wed thu fri sat sun
//	ranges = range { "," range }              08:00-13:00,14:00-20:00
//	range  = hh:mm "-" hh:mm                  the end excluded; 24:00 is midnight at the end of the day
//
// A group without ranges is the whole day. A range does not cross
// midnight: write "mon-fri 22:00-24:00; tue-sat 00:00-06:00" for a night.
// Times are wall-clock times, so "08:00-20:00" stays 08:00-20:00 across
// the changes of daylight saving time.
type Window struct {
	spec string
	open *[minutesPerWeek]bool // indexed by weekday*1440 + minute; nil: always
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// ParseWindow parses a sending window such as "mon-fri 08:00-20:00" (see
// Window for the grammar). "" and "always" are the window always open.
func ParseWindow(s string) (Window, error) {
	spec := strings.Join(strings.Fields(strings.ToLower(s)), " ")
	if spec == "" || spec == "always" {
		return Window{}, nil
	}
	w := Window{spec: spec, open: new([minutesPerWeek]bool)}
	for _, group := range strings.Split(spec, ";") {
		fields := strings.Fields(group)
		if len(fields) == 0 {
			return Window{}, errors.New(`an empty group between two ";": write days and times, such as "mon-fri 08:00-20:00"`)
		}
		days, err := parseDays(fields[0])
		if err != nil {
			return Window{}, err
		}
		ranges := [][2]int{{0, 24 * 60}}
		if len(fields) > 1 {
			if ranges, err = parseRanges(strings.Join(fields[1:], "")); err != nil {
				return Window{}, err
			}
		}
		for _, d := range days {
			for _, r := range ranges {
				for m := r[0]; m < r[1]; m++ {
					w.open[int(d)*24*60+m] = true
				}
			}
		}
	}
	return w, nil
}

// parseDays parses "mon-fri", "sat", "mon,wed,fri-sun".
func parseDays(s string) ([]time.Weekday, error) {
	var out []time.Weekday
	for _, span := range strings.Split(s, ",") {
		from, to, isRange := strings.Cut(span, "-")
		a, ok := dayNames[from]
		b := a
		if ok && isRange {
			b, ok = dayNames[to]
		}
		if !ok {
			return nil, fmt.Errorf("%q: days are mon, tue, wed, thu, fri, sat, sun, or a span such as mon-fri, "+
				`followed by times, such as "mon-fri 08:00-20:00"`, span)
		}
		for d := a; ; d = (d + 1) % 7 {
			out = append(out, d)
			if d == b {
				break
			}
		}
	}
	return out, nil
}

// parseRanges parses "08:00-13:00,14:00-20:00" into minutes of the day.
func parseRanges(s string) ([][2]int, error) {
	var out [][2]int
	for _, r := range strings.Split(s, ",") {
		from, to, ok := strings.Cut(r, "-")
		a, errA := parseClock(from)
		b, errB := parseClock(to)
		switch {
		case !ok || errA != nil || errB != nil:
			return nil, fmt.Errorf("%q: write a time range as hh:mm-hh:mm, such as 08:00-20:00", r)
		case a >= b:
			return nil, fmt.Errorf("%q: the end must come after the start on the same day (24:00 is midnight at its end); "+
				"split a night in two groups, such as \"mon 22:00-24:00; tue 00:00-06:00\"", r)
		}
		out = append(out, [2]int{a, b})
	}
	return out, nil
}

// parseClock parses hh:mm, 00:00 to 24:00, into minutes.
func parseClock(s string) (int, error) {
	hh, mm, ok := strings.Cut(s, ":")
	if !ok || len(hh) != 2 || len(mm) != 2 {
		return 0, errors.New("not hh:mm")
	}
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if err1 != nil || err2 != nil || h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, errors.New("not hh:mm")
	}
	return h*60 + m, nil
}

// String returns the window as written (normalised), "always" for the
// window always open.
func (w Window) String() string {
	if w.open == nil {
		return "always"
	}
	return w.spec
}

// Always reports whether the window is always open.
func (w Window) Always() bool { return w.open == nil }

// Contains reports whether a send may start at t.
func (w Window) Contains(t time.Time) bool {
	if w.open == nil {
		return true
	}
	t = t.In(Rome())
	return w.open[int(t.Weekday())*24*60+t.Hour()*60+t.Minute()]
}

// scanLimit bounds the searches of NextOpen and NextClose: a week and a day
// covers every window, DST changes included.
const scanLimit = 8 * 24 * 60

// NextOpen returns the first time at or after t when a send may start; the
// zero time if the window is never open.
func (w Window) NextOpen(t time.Time) time.Time {
	if w.Contains(t) {
		return t
	}
	m := t.Truncate(time.Minute)
	for range scanLimit {
		m = m.Add(time.Minute)
		if w.Contains(m) {
			return m
		}
	}
	return time.Time{}
}

// NextClose returns the first time after t when the window is closed: the
// end of the opening t is in (t itself when closed); the zero time if the
// window never closes.
func (w Window) NextClose(t time.Time) time.Time {
	if w.open == nil {
		return time.Time{}
	}
	if !w.Contains(t) {
		return t
	}
	m := t.Truncate(time.Minute)
	for range scanLimit {
		m = m.Add(time.Minute)
		if !w.Contains(m) {
			return m
		}
	}
	return time.Time{}
}

// StartOfDay returns the midnight in Europe/Rome that starts t's calendar
// day there.
func StartOfDay(t time.Time) time.Time {
	y, m, d := t.In(Rome()).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, Rome())
}

// NextDay returns the midnight in Europe/Rome that ends t's calendar day
// there: 23 or 25 hours after StartOfDay on the days DST starts or ends.
func NextDay(t time.Time) time.Time {
	y, m, d := t.In(Rome()).Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, Rome())
}
