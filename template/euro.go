package template

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// euro formats an amount the Italian way with two decimals: 1234.5 →
// "1.234,50". It takes numbers and strings; see parseAmount for the accepted
// spellings. Rounding is half away from zero, done on the decimal digits
// themselves, so neither float64 nor size ever changes the result.
func euro(v any) (string, error) {
	var (
		a   amount
		err error
	)
	switch x := v.(type) {
	case string:
		a, err = parseAmount(x)
	case int:
		a, err = parsePlainAmount(strconv.FormatInt(int64(x), 10))
	case int8:
		a, err = parsePlainAmount(strconv.FormatInt(int64(x), 10))
	case int16:
		a, err = parsePlainAmount(strconv.FormatInt(int64(x), 10))
	case int32:
		a, err = parsePlainAmount(strconv.FormatInt(int64(x), 10))
	case int64:
		a, err = parsePlainAmount(strconv.FormatInt(x, 10))
	case uint:
		a, err = parsePlainAmount(strconv.FormatUint(uint64(x), 10))
	case uint8:
		a, err = parsePlainAmount(strconv.FormatUint(uint64(x), 10))
	case uint16:
		a, err = parsePlainAmount(strconv.FormatUint(uint64(x), 10))
	case uint32:
		a, err = parsePlainAmount(strconv.FormatUint(uint64(x), 10))
	case uint64:
		a, err = parsePlainAmount(strconv.FormatUint(x, 10))
	case float32:
		a, err = parseFloatAmount(float64(x), 32)
	case float64:
		a, err = parseFloatAmount(x, 64)
	case fmt.Stringer: // json.Number and the like
		a, err = parseAmount(x.String())
	default:
		return "", invalidValue("euro: cannot format a value of type %T as an amount", v)
	}
	if err != nil {
		return "", err
	}
	return a.format(), nil
}

// amount is a decimal number as text: sign, integer digits, fraction digits.
type amount struct {
	neg       bool
	intDigits string // at least one digit; may have leading zeros
	frac      string // any number of digits
}

func amountError(s, why string) error {
	return invalidValue("euro: %q is not an amount%s", s, why)
}

// parseFloatAmount uses the shortest decimal that reads back as f, so 2.675
// is "2.675" (and rounds to 2,68) rather than its binary neighbour
// 2.67499999….
func parseFloatAmount(f float64, bits int) (amount, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return amount{}, invalidValue("euro: %v is not an amount", f)
	}
	return parsePlainAmount(strconv.FormatFloat(f, 'f', -1, bits))
}

// parsePlainAmount reads the machine form: -?digits(.digits)?
func parsePlainAmount(s string) (amount, error) {
	var a amount
	t := s
	if strings.HasPrefix(t, "-") {
		a.neg, t = true, t[1:]
	}
	a.intDigits, a.frac, _ = strings.Cut(t, ".")
	if !allDigits(a.intDigits) || (a.frac != "" && !allDigits(a.frac)) {
		return amount{}, amountError(s, "")
	}
	return a, nil
}

// parseAmount reads an amount as written in a spreadsheet cell:
//
//   - an optional sign and an optional € before or after the number;
//   - with both separators, the last one is the decimal separator and the
//     other groups thousands: "1.234,50" (Italian), "1,234.50";
//   - a single comma is the decimal separator: "1234,50", "0,5";
//   - several dots, or several commas, group thousands: "1.234.567";
//   - a single dot is the decimal separator ("1234.5", "0.125"), except in
//     the one ambiguous shape 1-3 digits, dot, 3 digits ("1.234"), which an
//     Italian reads as one thousand two hundred thirty-four and a program as
//     one point two three four: that is refused rather than guessed, because
//     a wrong amount in a legal notice is worse than a stopped campaign.
//
// Thousands groups must be well formed (1-3 digits then groups of 3).
func parseAmount(s string) (amount, error) {
	t := strings.TrimSpace(s)
	var a amount
	signed := false
	readSign := func() {
		if !signed && t != "" && (t[0] == '-' || t[0] == '+') {
			a.neg, signed = t[0] == '-', true
			t = strings.TrimSpace(t[1:])
		}
	}
	readSign()
	if rest, ok := strings.CutPrefix(t, "€"); ok {
		t = strings.TrimSpace(rest)
		readSign()
	} else if rest, ok := strings.CutSuffix(t, "€"); ok {
		t = strings.TrimSpace(rest)
	}
	if t == "" {
		return amount{}, amountError(s, ": write it like 1234,50 or 1.234,50")
	}
	dots, commas := 0, 0
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case c == '.':
			dots++
		case c == ',':
			commas++
		case c < '0' || c > '9':
			return amount{}, amountError(s, ": write it like 1234,50 or 1.234,50")
		}
	}
	var dec, group byte // decimal and thousands separators; 0 = none
	switch {
	case dots > 0 && commas > 0:
		if strings.LastIndexByte(t, '.') > strings.LastIndexByte(t, ',') {
			dec, group = '.', ','
		} else {
			dec, group = ',', '.'
		}
		if strings.Count(t, string(dec)) > 1 {
			return amount{}, amountError(s, ": more than one decimal separator")
		}
	case commas == 1:
		dec = ','
	case commas > 1:
		group = ','
	case dots == 1:
		dec = '.'
	case dots > 1:
		group = '.'
	}
	intPart, frac := t, ""
	if dec != 0 {
		i := strings.LastIndexByte(t, dec)
		intPart, frac = t[:i], t[i+1:]
		if frac == "" {
			return amount{}, amountError(s, ": no digits after the decimal separator")
		}
	}
	if dec == '.' && group == 0 && len(intPart) <= 3 && len(frac) == 3 && intPart != "" && intPart[0] != '0' {
		return amount{}, amountError(s, ": it is ambiguous; write "+intPart+frac+",00 or "+intPart+"."+frac+",00 for thousands, or "+intPart+","+frac+" for a decimal")
	}
	if group != 0 && strings.IndexByte(intPart, group) >= 0 {
		var ok bool
		if intPart, ok = ungroup(intPart, group); !ok {
			return amount{}, amountError(s, ": badly placed thousands separator")
		}
	}
	if intPart == "" {
		return amount{}, amountError(s, ": no digits before the decimal separator")
	}
	a.intDigits, a.frac = intPart, frac
	return a, nil
}

// ungroup removes thousands separators after checking the groups: the first
// has 1-3 digits and does not start with 0, every other has exactly 3.
func ungroup(s string, sep byte) (string, bool) {
	first, rest, _ := strings.Cut(s, string(sep))
	if len(first) < 1 || len(first) > 3 || first[0] == '0' {
		return "", false
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(first)
	for rest != "" {
		var g string
		g, rest, _ = strings.Cut(rest, string(sep))
		if len(g) != 3 {
			return "", false
		}
		b.WriteString(g)
	}
	// A trailing separator leaves an empty last group, refused above only
	// when something follows it; catch "1.234." here.
	if s[len(s)-1] == sep {
		return "", false
	}
	return b.String(), true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// format rounds to cents, half away from zero, and writes "-1.234.567,89".
func (a amount) format() string {
	var stack [64]byte
	// digits: integer digits followed by exactly two cent digits.
	digits := append(stack[:0], strings.TrimLeft(a.intDigits, "0")...)
	if len(digits) == 0 {
		digits = append(digits, '0')
	}
	for i := range 2 {
		if i < len(a.frac) {
			digits = append(digits, a.frac[i])
		} else {
			digits = append(digits, '0')
		}
	}
	if len(a.frac) > 2 && a.frac[2] >= '5' {
		i := len(digits) - 1
		for ; i >= 0 && digits[i] == '9'; i-- {
			digits[i] = '0'
		}
		if i >= 0 {
			digits[i]++
		} else {
			digits = append([]byte{'1'}, digits...)
		}
	}
	zero := true
	for _, c := range digits {
		if c != '0' {
			zero = false
			break
		}
	}
	ip, cents := digits[:len(digits)-2], digits[len(digits)-2:]
	// A leading zero survives only as the whole integer part ("0,50").
	for len(ip) > 1 && ip[0] == '0' {
		ip = ip[1:]
	}
	var out strings.Builder
	out.Grow(len(ip) + len(ip)/3 + 4)
	if a.neg && !zero {
		out.WriteByte('-')
	}
	for i, c := range ip {
		if i > 0 && (len(ip)-i)%3 == 0 {
			out.WriteByte('.')
		}
		out.WriteByte(c)
	}
	out.WriteByte(',')
	out.Write(cents)
	return out.String()
}
