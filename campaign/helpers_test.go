package campaign

import (
	"crypto/sha256"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pecbatch/pecbatch/internal/testutil"
)

// update makes the golden-file tests of the package rewrite their files:
// go test ./campaign/ -update.
var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenCampaign checks got against testdata/campaign/name.
func goldenCampaign(t *testing.T, name string, got []byte) {
	t.Helper()
	testutil.Golden(t, filepath.Join("testdata", "campaign", name), got, *update)
}

// minimalPDF is a small but complete PDF document.
const minimalPDF = "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"

// baseCampaign is a valid campaign file; tests edit it.
const baseCampaign = `name: prova
api:
  token: ${PECMASSIVA_TOKEN}
sender:
  address: Ufficio@PEC.esempio.it
  username: ${PEC_USERNAME}
  password: ${PEC_PASSWORD}
recipients:
  file: destinatari.csv
  to: "{{.pec}}"
message:
  subject: "Sollecito fattura {{.numero}}"
  body: corpo.html
  attachments:
    - file: "fatture/{{.numero}}.pdf"
`

// baseFiles are the files next to baseCampaign.
func baseFiles() map[string]string {
	return map[string]string{
		"destinatari.csv":  "pec;nome;numero\nmario.rossi@pec.it;Mario;1\ngiulia.bianchi@pec.it;Giulia;2\n",
		"corpo.html":       "<p>Gentile {{.nome}}, fattura {{.numero}}.</p>\n",
		"fatture/1.pdf":    minimalPDF,
		"fatture/2.pdf":    minimalPDF + "%2\n",
		"riepilogo.txt":    "Fattura {{.numero}} di {{.nome}}\n",
		"informativa.html": "<p>Informativa per {{.nome}}</p>\n",
	}
}

// testEnv is the environment campaigns are loaded with.
func testEnv() map[string]string {
	return map[string]string{"PECMASSIVA_TOKEN": "tok-secret-123", "PEC_USERNAME": "ufficio@pec.esempio.it", "PEC_PASSWORD": "pw-secret-456"}
}

// writeCampaign writes a campaign folder and returns the campaign file's path.
func writeCampaign(t testing.TB, campaign string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "campaign.yaml")
	if err := os.WriteFile(path, []byte(campaign), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// lookupFrom returns a LookupEnv over env.
func lookupFrom(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// mustLoad loads a campaign that must be valid.
func mustLoad(t testing.TB, path string) *Campaign {
	t.Helper()
	c, err := LoadFile(path, LoadOptions{LookupEnv: lookupFrom(testEnv())})
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	return c
}

// problemStrings formats problems one a line.
func problemStrings(ps []Problem) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, "\n")
}

// validationProblems returns the problems of a *ValidationError.
func validationProblems(t testing.TB, err error) []Problem {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want a *ValidationError", err)
	}
	if !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("err does not wrap ErrInvalidInput")
	}
	return ve.Problems
}

// validate runs ValidateFile offline with the test environment.
func validate(t testing.TB, path string, opts PreflightOptions) *PreflightReport {
	t.Helper()
	rep, err := ValidateFile(t.Context(), path, LoadOptions{LookupEnv: lookupFrom(testEnv()), Offline: true}, opts)
	if err != nil {
		t.Fatalf("ValidateFile: %v", err)
	}
	return rep
}

// sha256Of is the SHA-256 of s.
func sha256Of(s string) [sha256.Size]byte { return sha256.Sum256([]byte(s)) }
