package journal

import (
	"context"
	"fmt"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Rome on machines without a zone database
)

// TestSentPerDayAcrossDST: sends are counted on the calendar day of Rome
// they were committed on, on the 23-hour day daylight saving time starts
// (29 March 2026) and the 25-hour day it ends (25 October 2026); an
// attempt that never reached the service is not a send, its retry is.
func TestSentPerDayAcrossDST(t *testing.T) {
	ctx := context.Background()
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, rome)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	sends := []struct {
		at      string
		notSent bool // MarkNotSent after it
	}{
		{"2026-03-28 23:30", false}, // 22:30 UTC on the 28th
		{"2026-03-29 00:30", false}, // 23:30 UTC on the 28th: the 29th in Rome
		{"2026-03-29 01:59", true},  // never reached the service
		{"2026-03-29 03:00", false}, // the retry of that row, an hour of clock later
		{"2026-03-29 23:59", false}, // 21:59 UTC: still the 29th
		{"2026-03-30 00:00", false},
		{"2026-10-25 00:10", false},
		{"2026-10-25 02:30", false}, // the first of the two 02:30s
		{"2026-10-25 23:30", false}, // 22:30 UTC: a 24-hour day would end at 23:00
		{"2026-10-26 00:30", false},
	}
	c := newClock()
	path := t.TempDir() + "/c.journal"
	j, err := Open(ctx, path, WithNow(c.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if _, err := j.Init(ctx, testMeta(), genRows(len(sends))); err != nil {
		t.Fatal(err)
	}
	row := 0
	for _, s := range sends {
		id := mustRow(t, j.Reader, fmt.Sprintf("K%06d", row)).ID
		c.Set(at(s.at))
		if err := j.MarkSending(ctx, id); err != nil {
			t.Fatal(err)
		}
		if s.notSent {
			if err := j.MarkNotSent(ctx, id, "429"); err != nil {
				t.Fatal(err)
			}
			continue // the same row is sent again next
		}
		if err := j.MarkSubmitted(ctx, id, fmt.Sprintf("M%d", row)); err != nil {
			t.Fatal(err)
		}
		row++
	}
	tests := []struct {
		day  string
		want int
	}{
		{"2026-03-28 12:00", 1},
		{"2026-03-29 12:00", 3},
		{"2026-03-30 12:00", 1},
		{"2026-10-24 12:00", 0},
		{"2026-10-25 12:00", 3},
		{"2026-10-26 12:00", 1},
	}
	for _, tt := range tests {
		t.Run(tt.day, func(t *testing.T) {
			got, err := j.SentPerDay(ctx, rome, at(tt.day))
			if err != nil || got != tt.want {
				t.Errorf("SentPerDay = %d, %v; want %d", got, err, tt.want)
			}
			// The same instant given in UTC names the same Rome day.
			if got2, _ := j.SentPerDay(ctx, rome, at(tt.day).UTC()); got2 != got {
				t.Errorf("SentPerDay of the UTC instant = %d, want %d", got2, got)
			}
		})
	}
	if n, err := j.SentBetween(ctx, at("2026-01-01 00:00"), at("2027-01-01 00:00")); err != nil || n != len(sends)-1 {
		t.Errorf("SentBetween over the year = %d, %v; want %d", n, err, len(sends)-1)
	}
	if _, err := j.SentPerDay(ctx, nil, at("2026-03-29 12:00")); err == nil {
		t.Error("nil location accepted")
	}
	// A reader counts the same.
	r, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if n, err := r.SentPerDay(ctx, rome, at("2026-03-29 12:00")); err != nil || n != 3 {
		t.Errorf("reader SentPerDay = %d, %v", n, err)
	}
}
