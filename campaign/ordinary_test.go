package campaign

import (
	"strings"
	"testing"
)

func TestOrdinaryMailDomain(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		domain string
		want   bool
	}{
		{"mario.rossi@gmail.com", "gmail.com", true},
		{"Mario.Rossi@Libero.IT", "libero.it", true},
		{"x@outlook.it", "outlook.it", true},
		{"x@hotmail.it", "hotmail.it", true},
		{"x@yahoo.it", "yahoo.it", true},
		{"x@virgilio.it", "virgilio.it", true},
		{"x@tiscali.it", "tiscali.it", true},
		{"x@alice.it", "alice.it", true},
		{"x@icloud.com", "icloud.com", true},
		{"mario.rossi@pec.it", "pec.it", false},
		{"ufficio@pec.libero.it", "pec.libero.it", false},
		{"ufficio@legalmail.it", "legalmail.it", false},
		{"no-at-sign", "", false},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			domain, ok := OrdinaryMailDomain(tc.addr)
			if domain != tc.domain || ok != tc.want {
				t.Errorf("OrdinaryMailDomain(%q) = %q, %v; want %q, %v", tc.addr, domain, ok, tc.domain, tc.want)
			}
		})
	}
}

// TestValidateWarnsOrdinaryMail: a recipient at an ordinary e-mail provider
// is a warning, naming the row and the address, never a problem: the
// campaign stays valid.
func TestValidateWarnsOrdinaryMail(t *testing.T) {
	files := baseFiles()
	files["destinatari.csv"] = "pec;nome;numero\nmario.rossi@gmail.com;Mario;1\ngiulia.bianchi@pec.it;Giulia;2\n"
	rep := validate(t, writeCampaign(t, baseCampaign, files), PreflightOptions{})
	if !rep.OK() {
		t.Fatalf("problems: %s", problemStrings(rep.Problems))
	}
	var found []string
	for _, w := range rep.Warnings {
		if strings.Contains(w.Message, "ordinary e-mail") {
			found = append(found, w.String())
		}
	}
	if len(found) != 1 || !strings.Contains(found[0], "row 1") || !strings.Contains(found[0], "mario.rossi@gmail.com is at gmail.com") ||
		!strings.Contains(found[0], "never give a delivery receipt") {
		t.Errorf("ordinary-mail warnings = %q, want one for row 1", found)
	}
}
