package client

import (
	"testing"
	"time"
)

func TestParseDate(t *testing.T) {
	cest := time.FixedZone("", 2*3600)
	want := time.Date(2020, 8, 26, 10, 0, 35, 0, cest)
	tests := []struct {
		in   string
		want time.Time // zero: an error
	}{
		{"Wed, 26 Aug 2020 10:00:35 +0200", want},
		{"26 Aug 2020 10:00:35 +0200", want},
		{"  Wed, 26 Aug 2020 10:00:35 +0200  ", want},
		{"Wed, 26 Aug 2020 10:00:35 +0200 (CEST)", want},
		{"Wed,26 Aug 2020 10:00:35 +0200", want},
		{"wed, 26 aug 2020 10:00:35 +0200", want},
		{"Wed, 26 Aug 2020 08:00:35 +0000", want},
		{"Wed, 26 Aug 2020 08:00:35 GMT", want},
		{"Wed, 26 Aug 2020 10:00:35 CEST", want},
		{"Wed, 26 Feb 2020 09:00:35 CET", time.Date(2020, 2, 26, 8, 0, 35, 0, time.UTC)},
		{"Sun, 6 Sep 2020 10:00:35 +0200", time.Date(2020, 9, 6, 10, 0, 35, 0, cest)},
		{"Wed, 26 Aug 2020 10:00 +0200", time.Date(2020, 8, 26, 10, 0, 0, 0, cest)},
		{"2020-08-26T10:00:35+02:00", want},
		{"", time.Time{}},
		{"yesterday", time.Time{}},
		{"Wed, 32 Aug 2020 10:00:35 +0200", time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDate(tt.in)
			if tt.want.IsZero() {
				if err == nil {
					t.Fatalf("ParseDate(%q) = %v, want an error", tt.in, got)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) {
				t.Errorf("ParseDate(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}
