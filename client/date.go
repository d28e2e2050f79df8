package client

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
)

// italianZoneOffset returns the offset of the Italian zone abbreviations that receipt dates may carry in
// place of a numeric offset; net/mail gives unknown abbreviations a zero offset, which would shift these
// dates by one or two hours.
func italianZoneOffset(name string) (seconds int, ok bool) {
	switch strings.ToUpper(name) {
	case "CET":
		return 1 * 3600, true
	case "CEST":
		return 2 * 3600, true
	}
	return 0, false
}

// ParseDate parses the RFC 2822 date of a receipt or inbox entry, e.g. "Wed, 26 Aug 2020 10:00:35 +0200".
// It tolerates the variants seen in mail: no weekday, a one-digit day, no seconds, a trailing comment
// such as "(CEST)", a zone abbreviation (CET and CEST get their real offsets), a missing space after the
// weekday's comma; and, failing those, RFC 3339.
func ParseDate(text string) (time.Time, error) {
	s := strings.TrimSpace(text)
	if s == "" {
		return time.Time{}, errors.New("client: empty date")
	}
	if i := strings.IndexByte(s, ','); i > 0 && i+1 < len(s) && s[i+1] != ' ' {
		s = s[:i+1] + " " + s[i+1:]
	}
	t, err := mail.ParseDate(s)
	if err == nil {
		if name, off := t.Zone(); off == 0 {
			if real, ok := italianZoneOffset(name); ok {
				t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(),
					time.FixedZone(strings.ToUpper(name), real))
			}
		}
		return t, nil
	}
	if t, err3339 := time.Parse(time.RFC3339, s); err3339 == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("client: unreadable date %q: %w", clip(text, 64), err)
}

// clip shortens s to at most n bytes of valid UTF-8 for an error message.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}
