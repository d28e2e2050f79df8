package template

import (
	"errors"
	"testing"
	"time"
)

func TestDate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		layout string
		in     any
		want   string
	}{
		{"iso to long italian", "2 January 2006", "2026-11-25", "25 novembre 2026"},
		{"day first slashes", "2 January 2006", "31/12/2026", "31 dicembre 2026"},
		{"day first no zeros", "02/01/2006", "2/1/2026", "02/01/2026"},
		{"weekday", "Monday 2 January 2006", "2026-11-25", "mercoledì 25 novembre 2026"},
		{"short names", "Mon 2 Jan 2006", "2026-01-04", "dom 4 gen 2026"},
		{"every month", "January", "2026-08-01", "agosto"},
		{"rfc3339 keeps its zone", "2 January 2006 15:04 MST", "2026-03-29T09:30:00+02:00", "29 marzo 2026 09:30 +0200"},
		{"rfc3339 utc", "02/01/2006 15:04", "2026-06-01T23:59:59Z", "01/06/2026 23:59"},
		{"spaces trimmed", "2006-01-02", " 1/2/2026 ", "2026-02-01"},
		{"text around tokens", "entro il 2 January 2006", "2026-05-07", "entro il 7 maggio 2026"},
		{"Janet is text", "Janet 2", "2026-05-07", "Janet 7"},
		{"Month is text", "Month 1", "2026-05-07", "Month 5"},
		{"PM then on", "3PMonday", "2026-05-07T15:04:05Z", "3PMonday"},
		{"time.Time value", "Monday", time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC), "lunedì"},
		{"leap day", "2 January 2006", "29/02/2028", "29 febbraio 2028"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := date(tt.layout, tt.in)
			if err != nil {
				t.Fatalf("date(%q, %#v): %v", tt.layout, tt.in, err)
			}
			if got != tt.want {
				t.Errorf("date(%q, %#v) = %q, want %q", tt.layout, tt.in, got, tt.want)
			}
		})
	}
}

func TestDateErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   any
		msg  string
	}{
		{"empty", "", `date: "" is not a date: write it as 31/12/2026, 2026-12-31 or 2026-12-31T09:30:00+01:00`},
		{"day out of range", "31/02/2026", `date: "31/02/2026" is not a date: write it as 31/12/2026, 2026-12-31 or 2026-12-31T09:30:00+01:00`},
		{"month out of range", "2026-13-01", `date: "2026-13-01" is not a date: write it as 31/12/2026, 2026-12-31 or 2026-12-31T09:30:00+01:00`},
		{"two digit year", "1/2/26", `date: "1/2/26" is not a date: write it as 31/12/2026, 2026-12-31 or 2026-12-31T09:30:00+01:00`},
		{"words", "domani", `date: "domani" is not a date: write it as 31/12/2026, 2026-12-31 or 2026-12-31T09:30:00+01:00`},
		{"not leap", "29/02/2026", `date: "29/02/2026" is not a date: write it as 31/12/2026, 2026-12-31 or 2026-12-31T09:30:00+01:00`},
		{"number", 20261231, `date: cannot read a value of type int as a date`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := date("2006-01-02", tt.in)
			if err == nil {
				t.Fatalf("date(%#v) = %q, want an error", tt.in, got)
			}
			if !errors.Is(err, ErrInvalidValue) {
				t.Errorf("error %v is not ErrInvalidValue", err)
			}
			if err.Error() != tt.msg {
				t.Errorf("error\n got %s\nwant %s", err, tt.msg)
			}
		})
	}
}

func TestItalianNames(t *testing.T) {
	t.Parallel()
	months := []string{"gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre"}
	short := []string{"gen", "feb", "mar", "apr", "mag", "giu", "lug", "ago", "set", "ott", "nov", "dic"}
	for i, want := range months {
		m := time.Month(i + 1)
		t.Run(m.String(), func(t *testing.T) {
			if got := italianMonth(m); got != want {
				t.Errorf("italianMonth(%v) = %q, want %q", m, got, want)
			}
			if got := italianMonthShort(m); got != short[i] {
				t.Errorf("italianMonthShort(%v) = %q, want %q", m, got, short[i])
			}
		})
	}
	days := []string{"domenica", "lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato"}
	dshort := []string{"dom", "lun", "mar", "mer", "gio", "ven", "sab"}
	for i, want := range days {
		d := time.Weekday(i)
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			if got := italianDay(d); got != want {
				t.Errorf("italianDay(%v) = %q, want %q", d, got, want)
			}
			if got := italianDayShort(d); got != dshort[i] {
				t.Errorf("italianDayShort(%v) = %q, want %q", d, got, dshort[i])
			}
		})
	}
}

// english gives the names time.Format uses, so appendDate can be checked
// against time.Format itself: any difference is a mistake in splitting the
// layout.
func english() locale {
	return locale{
		month:      func(m time.Month) string { return m.String() },
		monthShort: func(m time.Month) string { return m.String()[:3] },
		day:        func(d time.Weekday) string { return d.String() },
		dayShort:   func(d time.Weekday) string { return d.String()[:3] },
	}
}

func TestAppendDateMatchesTimeFormat(t *testing.T) {
	t.Parallel()
	when := time.Date(2026, time.November, 25, 15, 4, 5, 123456789, time.FixedZone("CET", 3600))
	layouts := []string{
		"", "Monday, 02-Jan-06 15:04:05 MST", time.RFC1123, time.RFC850, time.ANSIC, time.Kitchen,
		"January Jan Monday Mon", "Janet Monthly", "JanJanuaryMonMonday", "3PMon", "PM Mon", "pmMon",
		"MonMST", "Jan_2", "Mon.000", "Jan2006", "JJanMMon", "Janua", "Mond", "MonJan", "_2 Jan 2006",
	}
	for _, l := range layouts {
		t.Run(l, func(t *testing.T) {
			t.Parallel()
			if got, want := string(appendDate(nil, when, l, english())), when.Format(l); got != want {
				t.Errorf("appendDate(%q) = %q, time.Format = %q", l, got, want)
			}
		})
	}
}
