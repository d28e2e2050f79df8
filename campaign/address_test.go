package campaign

import (
	"strings"
	"testing"
)

func TestParseAddress(t *testing.T) {
	long := strings.Repeat("a", 64)
	label := strings.Repeat("b", 63)
	tests := []struct {
		in      string
		want    string
		wantErr string // substring of the error; "" means valid
	}{
		{"mario.rossi@pec.it", "mario.rossi@pec.it", ""},
		{"  Mario.Rossi@PEC.it ", "mario.rossi@pec.it", ""},
		{"a+b_c-d@sub.example-domain.it", "a+b_c-d@sub.example-domain.it", ""},
		{"o'brien@pec.example.ie", "o'brien@pec.example.ie", ""},
		{long + "@pec.it", long + "@pec.it", ""},
		{"x@" + label + ".it", "x@" + label + ".it", ""},
		{"x@pec.xn--p1ai", "x@pec.xn--p1ai", ""},
		{"", "", "empty"},
		{"mario.rossi@", "", "domain after @ is missing"},
		{"@pec.it", "", "before @ is missing"},
		{"mario.rossi", "", "no @"},
		{"a@b@pec.it", "", "more than one @"},
		{"Mario Rossi <mario@pec.it>", "", "display names are not allowed: write only the address (mario@pec.it)"},
		{"<mario@pec.it>", "", "display names"},
		{"mario@pec.it (ufficio)", "", "space"},
		{"mario(ufficio)@pec.it", "", "comments"},
		{`"mario rossi"@pec.it`, "", "quoted"},
		{`"mario"@pec.it`, "", "quoted"},
		{"mario@localhost", "", "no top-level domain"},
		{"mario@pec", "", "no top-level domain"},
		{"mario@[192.168.0.1]", "", "IP address literals"},
		{"mario@192.168.0.1", "", "too short"},
		{"mario@pec.123", "", "not a real one"},
		{"mario@pec.i", "", "too short"},
		{"mario@pec..it", "", "empty label"},
		{"mario@.pec.it", "", "empty label"},
		{"mario@pec.it.", "", "cannot end with '.'"},
		{"mario@-pec.it", "", "cannot start or end with '-'"},
		{"mario@pec_it.it", "", "not allowed in a domain"},
		{".mario@pec.it", "", "cannot start or end with '.'"},
		{"mario.@pec.it", "", "cannot start or end with '.'"},
		{"ma..rio@pec.it", "", "'..'"},
		{"marìo@pec.it", "", "only ASCII"},
		{"mario@pèc.it", "", "only ASCII"},
		{"ma\trio@pec.it", "", "space"},
		{"ma\x01rio@pec.it", "", "control character"},
		{"ma[rio@pec.it", "", "not allowed before @"},
		{long + "a@pec.it", "", "at most 64"},
		{"x@" + label + "b.it", "", "longer than 63"},
		{"x@" + strings.Repeat(label+".", 4) + "it", "", "at most 254"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseAddress(tt.in)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("ParseAddress(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseAddress(%q) = %q, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
			}
		})
	}
}

func TestParseAddressList(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr []string
	}{
		{"a@pec.it", []string{"a@pec.it"}, nil},
		{"a@pec.it, b@pec.it", []string{"a@pec.it", "b@pec.it"}, nil},
		{"a@pec.it;b@pec.it;", []string{"a@pec.it", "b@pec.it"}, nil},
		{"A@PEC.it; a@pec.it", []string{"a@pec.it"}, nil},
		{"b@pec.it; a@pec.it", []string{"b@pec.it", "a@pec.it"}, nil},
		{"", nil, []string{"empty"}},
		{" ; , ", nil, []string{"holds no address"}},
		{"a@pec.it; mario.rossi@; x", nil, []string{`"mario.rossi@"`, `"x"`}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseAddressList(tt.in)
			if tt.wantErr == nil {
				if err != nil || strings.Join(got, "|") != strings.Join(tt.want, "|") {
					t.Fatalf("got %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("got %q, want an error", got)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"mario.rossi@pec.it", "A@B.CD", "x@[1.2.3.4]", "Mario <m@pec.it>", "a@b", "", "@", "a@b.c.d.e.xn--zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		addr, err := ParseAddress(s)
		if err != nil {
			return
		}
		if addr != strings.ToLower(addr) || len(addr) > maxAddressLen || strings.Count(addr, "@") != 1 {
			t.Fatalf("ParseAddress(%q) accepted %q", s, addr)
		}
		again, err := ParseAddress(addr)
		if err != nil || again != addr {
			t.Fatalf("not idempotent: %q -> %q, %v", addr, again, err)
		}
		list, err := ParseAddressList(addr)
		if err != nil || len(list) != 1 || list[0] != addr {
			t.Fatalf("ParseAddressList(%q) = %q, %v", addr, list, err)
		}
	})
}
