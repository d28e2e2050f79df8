package template

import (
	"strings"
	"time"
)

// date formats a date with a Go layout and Italian month and weekday names:
// {{date "Monday 2 January 2006" .scadenza}} → "giovedì 31 dicembre 2026".
// The layout comes first so that {{.scadenza | date "02/01/2006"}} works.
func date(layout string, v any) (string, error) {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case string:
		var err error
		if t, err = parseDate(x); err != nil {
			return "", err
		}
	default:
		return "", invalidValue("date: cannot read a value of type %T as a date", v)
	}
	var buf [64]byte
	return string(appendDate(buf[:0], t, layout, italian())), nil
}

// parseDate accepts the spellings found in Italian spreadsheets and exports:
// 2006-01-02, 02/01/2006 or 2/1/2006 (day first), and RFC 3339 timestamps.
// Dates without a zone are UTC, so the output never depends on the machine.
func parseDate(s string) (time.Time, error) {
	t := strings.TrimSpace(s)
	layout := time.RFC3339
	switch {
	case strings.Contains(t, "/"):
		layout = "2/1/2006" // also reads 02/01/2006
	case len(t) == len(time.DateOnly):
		layout = time.DateOnly
	}
	if d, err := time.Parse(layout, t); err == nil {
		return d, nil
	}
	return time.Time{}, invalidValue("date: %q is not a date: write it as 31/12/2026, 2026-12-31 or 2026-12-31T09:30:00+01:00", s)
}

// locale supplies the names that a layout's January, Jan, Monday and Mon
// stand for.
type locale struct {
	month, monthShort func(time.Month) string
	day, dayShort     func(time.Weekday) string
}

func italian() locale {
	return locale{month: italianMonth, monthShort: italianMonthShort, day: italianDay, dayShort: italianDayShort}
}

// appendDate is time.AppendFormat with the names taken from loc. It splits
// the layout at the name tokens and lets time format everything between
// them. The split follows time's own reading of a layout: "Jan" and "Mon"
// count only when not followed by a lower-case letter (so "Janet" is text),
// and the M of "PM" belongs to that token. A test checks that with English
// names the result equals time.Format for arbitrary layouts.
func appendDate(b []byte, t time.Time, layout string, loc locale) []byte {
	start := 0
	for i := 0; i < len(layout); i++ {
		var name string
		n := 0
		switch layout[i] {
		case 'P':
			if i+1 < len(layout) && layout[i+1] == 'M' {
				i++
			}
			continue
		case 'J':
			if strings.HasPrefix(layout[i:], "January") {
				name, n = loc.month(t.Month()), len("January")
			} else if strings.HasPrefix(layout[i:], "Jan") && !startsWithLower(layout[i+3:]) {
				name, n = loc.monthShort(t.Month()), len("Jan")
			}
		case 'M':
			if strings.HasPrefix(layout[i:], "Monday") {
				name, n = loc.day(t.Weekday()), len("Monday")
			} else if strings.HasPrefix(layout[i:], "Mon") && !startsWithLower(layout[i+3:]) {
				name, n = loc.dayShort(t.Weekday()), len("Mon")
			}
		}
		if n == 0 {
			continue
		}
		b = t.AppendFormat(b, layout[start:i])
		b = append(b, name...)
		i += n - 1
		start = i + 1
	}
	return t.AppendFormat(b, layout[start:])
}

func startsWithLower(s string) bool { return s != "" && 'a' <= s[0] && s[0] <= 'z' }

func italianMonth(m time.Month) string {
	switch m {
	case time.January:
		return "gennaio"
	case time.February:
		return "febbraio"
	case time.March:
		return "marzo"
	case time.April:
		return "aprile"
	case time.May:
		return "maggio"
	case time.June:
		return "giugno"
	case time.July:
		return "luglio"
	case time.August:
		return "agosto"
	case time.September:
		return "settembre"
	case time.October:
		return "ottobre"
	case time.November:
		return "novembre"
	case time.December:
		return "dicembre"
	}
	return m.String()
}

// italianMonthShort gives the usual three-letter abbreviations (gen, feb, …,
// set, ott, dic).
func italianMonthShort(m time.Month) string {
	if m < time.January || m > time.December {
		return m.String()
	}
	return italianMonth(m)[:3]
}

func italianDay(d time.Weekday) string {
	switch d {
	case time.Sunday:
		return "domenica"
	case time.Monday:
		return "lunedì"
	case time.Tuesday:
		return "martedì"
	case time.Wednesday:
		return "mercoledì"
	case time.Thursday:
		return "giovedì"
	case time.Friday:
		return "venerdì"
	case time.Saturday:
		return "sabato"
	}
	return d.String()
}

// italianDayShort gives lun, mar, mer, gio, ven, sab, dom.
func italianDayShort(d time.Weekday) string {
	if d < time.Sunday || d > time.Saturday {
		return d.String()
	}
	return italianDay(d)[:3]
}
