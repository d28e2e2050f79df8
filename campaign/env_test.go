package campaign

import (
	"strings"
	"testing"
)

func TestExpandVars(t *testing.T) {
	env := map[string]string{"TOKEN": "tok-123", "EMPTY": "", "URL": "http://127.0.0.1:8025"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		in        string
		want      string
		wantUnset []string
		wantErr   string
	}{
		{"plain", "plain", nil, ""},
		{"${TOKEN}", "tok-123", nil, ""},
		{"Bearer ${TOKEN}!", "Bearer tok-123!", nil, ""},
		{"$${TOKEN}", "${TOKEN}", nil, ""},
		{"pa$s", "pa$s", nil, ""},
		{"cost $5", "cost $5", nil, ""},
		{"end$", "end$", nil, ""},
		{"$$$$", "$$", nil, ""},
		{"${EMPTY}", "", nil, ""},
		{"${EMPTY:-fallback}", "fallback", nil, ""},
		{"${MISSING:-https://ws.pecmassiva.com}", "https://ws.pecmassiva.com", nil, ""},
		{"${URL:-x}", "http://127.0.0.1:8025", nil, ""},
		{"${MISSING}", "", []string{"MISSING"}, ""},
		{"${A}${B}", "", []string{"A", "B"}, ""},
		{"${TOKEN", "", nil, "without its closing }"},
		{"${}", "", nil, "not a valid variable reference"},
		{"${1X}", "", nil, "not a valid variable reference"},
		{"${A-B}", "", nil, "not a valid variable reference"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			res, err := expandVars(tt.in, lookup)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("expandVars(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("expandVars(%q): %v", tt.in, err)
			}
			if res.value != tt.want || strings.Join(res.unset, ",") != strings.Join(tt.wantUnset, ",") {
				t.Fatalf("expandVars(%q) = %q unset %v, want %q unset %v", tt.in, res.value, res.unset, tt.want, tt.wantUnset)
			}
		})
	}
}

func FuzzExpandVars(f *testing.F) {
	for _, s := range []string{"${A}", "$$", "${A:-b}", "x$", "${", "${A}${B:-}", "$${A}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lookup := func(k string) (string, bool) { return "", false }
		res, err := expandVars(s, lookup)
		if err != nil {
			return
		}
		if !strings.Contains(s, "$") && res.value != s {
			t.Fatalf("a value without $ changed: %q -> %q", s, res.value)
		}
		if len(res.value) > len(s) {
			// Nothing is set, so expansion can only shrink the text
			// (defaults are part of it).
			t.Fatalf("expansion grew %q to %q", s, res.value)
		}
	})
}
