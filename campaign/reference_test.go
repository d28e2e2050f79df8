package campaign

import (
	"regexp"
	"strings"
	"testing"
)

func TestSubjectReference(t *testing.T) {
	ref := SubjectReference("0123456789abcdef0123456789abcdef", "P001")
	if !regexp.MustCompile(`^ \[rif\. [0-9A-HJKMNP-TV-Z]{8}\]$`).MatchString(ref) {
		t.Errorf("SubjectReference = %q, want \" [rif. XXXXXXXX]\" in Crockford's base32", ref)
	}
	if again := SubjectReference("0123456789abcdef0123456789abcdef", "P001"); again != ref {
		t.Errorf("not stable: %q then %q", ref, again)
	}
	seen := map[string]string{ref: "P001 of the first journal"}
	for _, tc := range []struct{ seed, key, what string }{
		{"0123456789abcdef0123456789abcdef", "P002", "another row"},
		{"fedcba9876543210fedcba9876543210", "P001", "the same row of another journal"},
		{"0123456789abcdef0123456789abcdef", "P0", "a key that is a prefix"},
		{"0123456789abcdef0123456789abcdef0", "P001", "the seed and key split elsewhere"},
	} {
		r := SubjectReference(tc.seed, tc.key)
		if other, dup := seen[r]; dup {
			t.Errorf("%s has the reference of %s: %s", tc.what, other, r)
		}
		seen[r] = tc.what
	}
}

func TestSendingReferenceKey(t *testing.T) {
	tests := []struct {
		value   string
		want    string
		problem string
	}{
		{"subject", ReferenceSubject, ""},
		{"Subject", ReferenceSubject, ""},
		{"none", "", ""},
		{"body", "", `sending.reference: "body": use subject`},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			path := writeCampaign(t, baseCampaign+"sending:\n  reference: "+tt.value+"\n", baseFiles())
			c, err := LoadFile(path, LoadOptions{LookupEnv: lookupFrom(testEnv())})
			if tt.problem != "" {
				if got := problemStrings(validationProblems(t, err)); !strings.Contains(got, tt.problem) {
					t.Errorf("problems %q, want %q", got, tt.problem)
				}
				return
			}
			if err != nil || c.Sending.Reference != tt.want {
				t.Fatalf("LoadFile: %v, reference %q; want %q", err, c.Sending.Reference, tt.want)
			}
		})
	}
	// The key is known, not a typo of it.
	path := writeCampaign(t, baseCampaign+"sending:\n  refrence: subject\n", baseFiles())
	_, err := LoadFile(path, LoadOptions{LookupEnv: lookupFrom(testEnv())})
	if got := problemStrings(validationProblems(t, err)); !strings.Contains(got, "refrence") || !strings.Contains(got, "reference") {
		t.Errorf("misspelt key: %q, want it named with the right one", got)
	}
}

// TestPreflightSharedSubjects: validate recommends sending.reference when
// rows share a subject, once, naming two of them, and not when every
// subject differs or the reference is on.
func TestPreflightSharedSubjects(t *testing.T) {
	files := baseFiles()
	files["destinatari.csv"] = "pec;nome;numero\nmario@pec.it;Mario;1\ngiulia@pec.it;Giulia;2\nanna@pec.it;Anna;1\nluca@pec.it;Luca;1\n"
	tests := []struct {
		name, yaml, csv string
		want            string
	}{
		{"subjects shared", baseCampaign, files["destinatari.csv"],
			`message.subject: 2 row(s) have the subject of an earlier row (rows 1 and 3: "Sollecito fattura 1")`},
		{"every subject its own", baseCampaign, "pec;nome;numero\nmario@pec.it;Mario;1\ngiulia@pec.it;Giulia;2\n", ""},
		{"the reference on", baseCampaign + "sending:\n  reference: subject\n", files["destinatari.csv"], ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := baseFiles()
			f["destinatari.csv"] = tt.csv
			rep := validate(t, writeCampaign(t, tt.yaml, f), PreflightOptions{})
			got := problemStrings(rep.Warnings)
			if tt.want == "" {
				if strings.Contains(got, "sending.reference") {
					t.Errorf("warnings %q, want no recommendation", got)
				}
				return
			}
			if !strings.Contains(got, tt.want) || !strings.Contains(got, "sending.reference: subject") ||
				strings.Count(got, "sending.reference") != 1 {
				t.Errorf("warnings:\n%s\nwant one naming %q and recommending sending.reference: subject", got, tt.want)
			}
		})
	}
}
