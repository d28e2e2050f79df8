package template

import (
	"errors"
	"math"
	"testing"
)

func TestEuro(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"dot decimal", "1234.5", "1.234,50"},
		{"comma decimal", "1234,50", "1.234,50"},
		{"italian grouped", "1.234,50", "1.234,50"},
		{"english grouped", "1,234.50", "1.234,50"},
		{"negative integer", "-3", "-3,00"},
		{"plus sign", "+3", "3,00"},
		{"zero", "0", "0,00"},
		{"small", "0,5", "0,50"},
		{"dot with two decimals", "12.34", "12,34"},
		{"dot with four decimals", "1.2345", "1,23"},
		{"leading zero dot three decimals", "0.125", "0,13"},
		{"comma three decimals", "1,234", "1,23"},
		{"italian millions", "1.234.567", "1.234.567,00"},
		{"italian millions with cents", "1.234.567,891", "1.234.567,89"},
		{"english millions", "1,234,567", "1.234.567,00"},
		{"spaces around", "  12,5 ", "12,50"},
		{"euro prefix", "€ 1.234,50", "1.234,50"},
		{"euro suffix", "1.234,50 €", "1.234,50"},
		{"euro then sign", "€ -7,1", "-7,10"},
		{"sign then euro", "-€7,1", "-7,10"},
		{"leading zeros", "007,5", "7,50"},
		{"half rounds up", "0,005", "0,01"},
		{"half away from zero negative", "-0,005", "-0,01"},
		{"below half", "2,674999", "2,67"},
		{"carry through nines", "999,995", "1.000,00"},
		{"carry to new digit", "9,999", "10,00"},
		{"negative rounds to zero", "-0,004", "0,00"},
		{"negative zero", "-0", "0,00"},
		{"huge exact", "123456789012345678901234567890,125", "123.456.789.012.345.678.901.234.567.890,13"},
		{"benchmark workload", "12345,07", "12.345,07"},
		{"int", 1234, "1.234,00"},
		{"negative int64", int64(-1234567), "-1.234.567,00"},
		{"int8", int8(-12), "-12,00"},
		{"int16", int16(1234), "1.234,00"},
		{"int32", int32(-2147483648), "-2.147.483.648,00"},
		{"uint", uint(7), "7,00"},
		{"uint8", uint8(255), "255,00"},
		{"uint16", uint16(65535), "65.535,00"},
		{"uint32", uint32(4294967295), "4.294.967.295,00"},
		{"max uint64", uint64(math.MaxUint64), "18.446.744.073.709.551.615,00"},
		{"float", 1234.5, "1.234,50"},
		{"float decimal not binary", 2.675, "2,68"},
		{"float big", 1e20, "100.000.000.000.000.000.000,00"},
		{"float32", float32(0.1), "0,10"},
		{"negative float", -0.015, "-0,02"},
		{"stringer", stringer("1.234,5"), "1.234,50"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := euro(tt.in)
			if err != nil {
				t.Fatalf("euro(%#v): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("euro(%#v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

type stringer string

func (s stringer) String() string { return string(s) }

func TestEuroErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   any
		msg  string
	}{
		{"empty", "", `euro: "" is not an amount: write it like 1234,50 or 1.234,50`},
		{"spaces", "   ", `euro: "   " is not an amount: write it like 1234,50 or 1.234,50`},
		{"letters", "abc", `euro: "abc" is not an amount: write it like 1234,50 or 1.234,50`},
		{"ambiguous dot thousands", "1.234", `euro: "1.234" is not an amount: it is ambiguous; write 1234,00 or 1.234,00 for thousands, or 1,234 for a decimal`},
		{"ambiguous negative", "-12.500", `euro: "-12.500" is not an amount: it is ambiguous; write 12500,00 or 12.500,00 for thousands, or 12,500 for a decimal`},
		{"two decimal separators", "1.234,5,6", `euro: "1.234,5,6" is not an amount: more than one decimal separator`},
		{"bad grouping", "12.34.56", `euro: "12.34.56" is not an amount: badly placed thousands separator`},
		{"bad grouping with decimals", "1.23,45", `euro: "1.23,45" is not an amount: badly placed thousands separator`},
		{"grouping after zero", "0.123.456", `euro: "0.123.456" is not an amount: badly placed thousands separator`},
		{"trailing separator", "5,", `euro: "5," is not an amount: no digits after the decimal separator`},
		{"trailing group separator", "1.234.", `euro: "1.234." is not an amount: badly placed thousands separator`},
		{"leading separator", ",50", `euro: ",50" is not an amount: no digits before the decimal separator`},
		{"two signs", "--3", `euro: "--3" is not an amount: write it like 1234,50 or 1.234,50`},
		{"two euro signs", "€3€", `euro: "€3€" is not an amount: write it like 1234,50 or 1.234,50`},
		{"space grouping", "1 234,50", `euro: "1 234,50" is not an amount: write it like 1234,50 or 1.234,50`},
		{"exponent", "1e3", `euro: "1e3" is not an amount: write it like 1234,50 or 1.234,50`},
		{"only sign", "-", `euro: "-" is not an amount: write it like 1234,50 or 1.234,50`},
		{"NaN", math.NaN(), `euro: NaN is not an amount`},
		{"infinity", math.Inf(1), `euro: +Inf is not an amount`},
		{"bool", true, `euro: cannot format a value of type bool as an amount`},
		{"nil", nil, `euro: cannot format a value of type <nil> as an amount`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := euro(tt.in)
			if err == nil {
				t.Fatalf("euro(%#v) = %q, want an error", tt.in, got)
			}
			if !errors.Is(err, ErrInvalidValue) {
				t.Errorf("euro(%#v): error %v is not ErrInvalidValue", tt.in, err)
			}
			if err.Error() != tt.msg {
				t.Errorf("euro(%#v) error\n got %s\nwant %s", tt.in, err, tt.msg)
			}
		})
	}
}
