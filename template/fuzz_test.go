package template

import (
	"bytes"
	"errors"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"
)

var (
	euroOutput = regexp.MustCompile(`^-?(0|[1-9][0-9]{0,2}(\.[0-9]{3})*),[0-9]{2}$`)
	plainInput = regexp.MustCompile(`^([+-]?)([0-9]+)(?:([.,])([0-9]+))?$`)
)

func FuzzEuro(f *testing.F) {
	for _, s := range []string{
		"1234.5", "1234,50", "1.234,50", "1,234.50", "-3", "0", "0,005", "-0,004", "999,995", "1.234",
		"€ 1.234,50", "1.234,50 €", "- € 3", "12.34.56", "1.234.567,891", "", " ", "abc", ",5", "5,",
		"00012,3", "123456789012345678901234567890,125", "1,,2", "1..2", "+-1", "€", "1.000.000", "0.500",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := euro(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidValue) {
				t.Fatalf("euro(%q): error %v is not ErrInvalidValue", s, err)
			}
			if !strings.Contains(err.Error(), "euro: ") {
				t.Fatalf("euro(%q): error does not say euro: %v", s, err)
			}
			if m := plainInput.FindStringSubmatch(strings.TrimSpace(s)); m != nil && !ambiguous(m) {
				t.Fatalf("euro(%q) refused a plain amount: %v", s, err)
			}
			return
		}
		if !euroOutput.MatchString(out) {
			t.Fatalf("euro(%q) = %q: not in the Italian format", s, out)
		}
		if again, err := euro(out); err != nil || again != out {
			t.Fatalf("euro(euro(%q)) = %q, %v; want %q", s, again, err, out)
		}
		if m := plainInput.FindStringSubmatch(strings.TrimSpace(s)); m != nil {
			if ambiguous(m) {
				t.Fatalf("euro(%q) = %q: the ambiguous shape must be refused", s, out)
			}
			if got, want := outputCents(out), oracleCents(m); got.Cmp(want) != 0 {
				t.Fatalf("euro(%q) = %q = %v cents, want %v", s, out, got, want)
			}
		}
	})
}

// ambiguous reports the one refused plain shape: 1-3 digits, dot, 3 digits.
func ambiguous(m []string) bool {
	return m[3] == "." && len(m[2]) <= 3 && m[2][0] != '0' && len(m[4]) == 3
}

// oracleCents computes the cents with math/big, rounding half away from zero.
func oracleCents(m []string) *big.Int {
	r, ok := new(big.Rat).SetString(m[2] + "." + m[4] + "0")
	if !ok {
		panic("bad oracle input " + m[0])
	}
	r.Mul(r, big.NewRat(100, 1))
	q, rem := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if rem.Lsh(rem, 1).Cmp(r.Denom()) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if m[1] == "-" {
		q.Neg(q)
	}
	return q
}

func outputCents(out string) *big.Int {
	digits := strings.NewReplacer(".", "", ",", "").Replace(out)
	n, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		panic("bad output " + out)
	}
	return n
}

func FuzzDate(f *testing.F) {
	for _, s := range [][2]string{
		{"2026-11-25", "2 January 2006"}, {"31/12/2026", "Monday 2 Jan 2006"}, {"2/1/2026", "02/01/2006"},
		{"2026-03-29T09:30:00+02:00", "15:04 MST Mon"}, {"31/02/2026", "Jan"}, {"", ""}, {"domani", "PMonday"},
		{"2026-13-01", "Janet Month"}, {"0001-01-01", "_2 Jan 06"}, {"2026-06-01T23:59:59.123Z", ".000 PM Mon"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, value, layout string) {
		out, err := date(layout, value)
		if err != nil {
			if !errors.Is(err, ErrInvalidValue) {
				t.Fatalf("date(%q, %q): error %v is not ErrInvalidValue", layout, value, err)
			}
			return
		}
		d, err := parseDate(value)
		if err != nil {
			t.Fatalf("date accepted %q but parseDate refuses it: %v", value, err)
		}
		if want := string(appendDate(nil, d, layout, italian())); out != want {
			t.Fatalf("date(%q, %q) = %q, want %q", layout, value, out, want)
		}
		// The layout is split exactly where time.Format would put names.
		if got, want := string(appendDate(nil, d, layout, english())), d.Format(layout); got != want {
			t.Fatalf("layout %q: English split gives %q, time.Format %q", layout, got, want)
		}
		if back, err := parseDate(d.Format(time.RFC3339Nano)); err != nil || !back.Equal(d) {
			t.Fatalf("%q read as %v, which does not read back: %v, %v", value, d, back, err)
		}
	})
}

// fuzzBody puts values in every HTML context a message body is likely to use.
const fuzzBody = `<html><head><title>{{.a}}</title></head><body>
<p>{{.a}} {{title .b}} {{upper .a}} {{.b | default "n/d"}} {{get . "Ragione sociale"}}</p>
<p>{{nl2br .b}}</p>
<td title="{{.a}}" class={{.b}}><a href="{{.a}}">x</a> <a href="https://e.it/?q={{.b}}&r={{.a}}">y</a></td>
<textarea>{{.b}}</textarea>
<script>var a = {{.a}}; var b = "{{.b}}";</script>
<!-- {{.a}} -->
<p style="color: {{.b}}">z</p>
</body></html>`

func FuzzRenderHTML(f *testing.F) {
	h, err := ParseHTML("fuzz.html", fuzzBody)
	if err != nil {
		f.Fatal(err)
	}
	var base bytes.Buffer
	if err := h.Execute(&base, Data{"a": "", "b": "", "Ragione sociale": ""}, testLimit); err != nil {
		f.Fatal(err)
	}
	baseScripts := strings.Count(strings.ToLower(base.String()), "<script")
	baseTags := strings.Count(base.String(), "<")
	for _, s := range [][2]string{
		{"<script>alert(1)</script>", "Rossi & Figli"}, {`" onmouseover="x`, "'><script>"}, {"javascript:alert(1)", "</script><script>"},
		{"<SCRIPT SRC=//x>", "a\nb\r\nc"}, {"\x00\xff", "--><script>"}, {"</title><script>", "</textarea><script>"},
		{"expression(alert(1))", "red;background:url(javascript:x)"}, {"", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		var out bytes.Buffer
		if err := h.Execute(&out, Data{"a": a, "b": b, "Ragione sociale": a + b}, testLimit); err != nil {
			t.Fatalf("render: %v", err)
		}
		s := out.String()
		if n := strings.Count(strings.ToLower(s), "<script"); n != baseScripts {
			t.Fatalf("%d <script in the output, template has %d:\n%s", n, baseScripts, s)
		}
		// nl2br adds one <br> per line break of b; nothing else from the data
		// may open a tag.
		if n, want := strings.Count(s, "<"), baseTags+lineBreaks(b); n != want {
			t.Fatalf("%d '<' in the output, want %d:\n%s", n, want, s)
		}
	})
}

func lineBreaks(s string) int {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.Count(s, "\n") + strings.Count(s, "\r")
}
