package main

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// badInputCase is one broken campaign of the bad-input catalogue, in
// testdata/badinput/<name>/: the files it has there replace those of
// testdata/badinput/_base/, a valid campaign.
type badInputCase struct {
	name string
	// exit is the status validate must end with: 2, or 0 for the positive
	// controls (input that looks suspicious but is fine).
	exit int
	// want are substrings the output must contain: the file and line, the
	// row, and the field (key or column) of the problem.
	want []string
}

// badInputCases lists the catalogue. Every case is a campaign a user could
// really write; each must be refused with exit status 2 and a message that
// says where (file:line, row) and what (key, column), and nothing sent.
func badInputCases() []badInputCase {
	return []badInputCase{
		// The campaign file.
		{"unknown-key", 2, []string{`campaign.yaml:19: sending.rat: unknown key "rat": did you mean "rate"?`}},
		{"bad-yaml", 2, []string{"campaign.yaml:12: YAML syntax error"}},
		{"duplicate-yaml-key", 2, []string{`campaign.yaml:16: mapping key "body" already defined at line 15`}},
		{"unset-variable", 2, []string{"campaign.yaml:6: sender.address: environment variable PEC_SENDER is not set"}},
		{"missing-recipients-file", 2, []string{"campaign.yaml:10: recipients.file: destinatari-2026.csv: no such file"}},
		{"missing-body-file", 2, []string{"campaign.yaml:15: message.body: lettera.html: no such file"}},
		{"bad-value", 2, []string{`campaign.yaml:19: sending.rate: "veloce" is not a rate`}},
		{"max-size-over-100mb", 2, []string{"campaign.yaml:16: message.max_size: 200MB is over the 100 MB"}},
		// The recipients file.
		{"wrong-delimiter", 2, []string{`destinatari.csv:1: header: only one column "codice;nome;pec;allegato" with recipients.delimiter ","`, `set recipients.delimiter: ";"`}},
		{"windows-1252-undeclared", 2, []string{`destinatari.csv:3: row 2: column "nome": is not valid UTF-8 text (byte 0xF2)`, "recipients.encoding: windows-1252"}},
		{"utf16", 2, []string{"destinatari.csv:1: the file is UTF-16 text"}},
		{"bom", 0, []string{"Rows:          3\n", "OK: nothing wrong."}},
		{"duplicate-headers", 2, []string{`destinatari.csv:1: header: column "nome" appears twice (columns 2 and 4)`}},
		{"empty-header-name", 2, []string{"destinatari.csv:1: header: column 4 has no name"}},
		{"ragged-row", 2, []string{"destinatari.csv:3: row 2: 3 fields where the header has 4"}},
		{"bad-quoting", 2, []string{`destinatari.csv:3: row 2: a " inside a field that is not quoted (line 3, column 11)`}},
		{"empty-csv", 2, []string{"destinatari.csv: the file is empty"}},
		{"header-only", 2, []string{"destinatari.csv:1: the file has a header but no rows"}},
		{"duplicate-keys", 2, []string{`destinatari.csv:4: row 3: column "codice": key "A1" is also the key of row 1 (line 2)`}},
		{"empty-key", 2, []string{`destinatari.csv:3: row 2: column "codice": the key is empty for this row`}},
		{"invalid-address", 2, []string{`destinatari.csv:3: row 2: column "pec": "giulia.bianchi@" is not a valid address`}},
		{"display-name-address", 2, []string{`destinatari.csv:3: row 2: column "pec": "Giulia Bianchi <giulia.bianchi@pec.sandbox.test>" is not a valid address: display names are not allowed`}},
		{"localhost-address", 2, []string{`destinatari.csv:3: row 2: column "pec": "giulia@localhost" is not a valid address`}},
		{"markup-in-address", 2, []string{`destinatari.csv:3: row 2: column "pec": "<b>giulia.bianchi@pec.sandbox.test</b>" is not a valid address`}},
		// A merge value with markup is escaped in the HTML body, never
		// interpreted: it is fine (preview and the template tests show the
		// escaping).
		{"markup-in-value", 0, []string{"OK: nothing wrong."}},
		// The templates.
		{"template-syntax-error", 2, []string{"corpo.html:3: template: "}},
		{"missing-merge-field", 2, []string{`corpo.html:3: message.body: column "cognome" is not in the header of destinatari.csv`}},
		{"missing-merge-field-in-subject", 2, []string{`campaign.yaml:14: message.subject: column "numero" is not in the header of destinatari.csv`}},
		{"empty-required-field", 2, []string{`destinatari.csv:3: row 2: column "nome": required field "nome" is empty`}},
		{"subject-with-line-break", 2, []string{"destinatari.csv:3: row 2: subject: the subject contains a line break"}},
		// The attachments.
		{"attachment-missing", 2, []string{`destinatari.csv:3: row 2: column "allegato": allegati/a9.pdf: no such file`}},
		{"attachment-outside-folder", 2, []string{`destinatari.csv:3: row 2: column "allegato": allegati/../../../../etc/passwd is outside the campaign's folder`}},
		{"attachment-absolute-path", 2, []string{`destinatari.csv:3: row 2: column "allegato": /etc/passwd: absolute paths are refused`}},
		{"attachment-symlink-outside", 2, []string{`destinatari.csv:3: row 2: column "allegato": allegati/fuga.pdf leads outside the campaign's folder through a symbolic link`}},
		{"attachment-blocked-extension", 2, []string{`destinatari.csv:3: row 2: column "allegato": "fattura.pdf.exe": .exe files are refused`}},
		{"attachment-unknown-extension", 2, []string{`destinatari.csv:3: row 2: column "allegato": "archivio.rar": .rar is not an attachment type pecbatch knows`}},
		{"attachment-content-mismatch", 2, []string{`destinatari.csv:3: row 2: column "allegato": allegati/foto.pdf is named as a PDF but its content looks like image/png`}},
		{"attachment-over-size-limit", 2, []string{`destinatari.csv:3: row 2: column "allegato": allegati/grande.pdf is 4.0 KB, more than message.max_size (2.0 KB)`}},
		{"attachment-zero-bytes", 2, []string{`destinatari.csv:3: row 2: column "allegato": allegati/vuoto.pdf is empty (0 bytes)`}},
	}
}

// badInputChecks are what is verified for every case, in order. The runner
// adds its own ("pecbatch run sends nothing, according to the sandbox") by
// appending here.
var badInputChecks = []struct {
	name  string
	check func(t *testing.T, bin string, tc badInputCase, campaignFile string)
}{
	{"validate", checkBadInputValidate},
	{"run sends nothing", checkBadInputRun},
}

func TestBadInputCatalogue(t *testing.T) {
	t.Parallel()
	cases := badInputCases()
	if len(cases) < 25 {
		t.Fatalf("the catalogue has %d cases, the issue asks for at least 25", len(cases))
	}
	bin := buildPecbatch(t)
	inCatalogue := map[string]bool{}
	for _, tc := range cases {
		inCatalogue[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			campaignFile := materializeBadInput(t, tc.name)
			for _, c := range badInputChecks {
				t.Run(c.name, func(t *testing.T) { c.check(t, bin, tc, campaignFile) })
			}
		})
	}
	// Every folder of testdata/badinput is a listed case.
	entries, err := os.ReadDir(filepath.Join("testdata", "badinput"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() && e.Name() != "_base" && !inCatalogue[e.Name()] {
			t.Errorf("testdata/badinput/%s is not in badInputCases", e.Name())
		}
	}
}

// checkBadInputValidate runs `pecbatch validate` on the case.
func checkBadInputValidate(t *testing.T, bin string, tc badInputCase, campaignFile string) {
	cmd := exec.Command(bin, "validate", campaignFile)
	cmd.Env = badInputEnv()
	out, err := cmd.CombinedOutput()
	code := 0
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	if code != tc.exit {
		t.Errorf("exit status %d, want %d", code, tc.exit)
	}
	for _, w := range tc.want {
		if !strings.Contains(string(out), w) {
			t.Errorf("output lacks %q", w)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

// badInputEnv is a clean environment with the API variables set (to values
// that would never work), so the cases do not depend on the caller's.
func badInputEnv() []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"PECMASSIVA_TOKEN=token-badinput",
		"PEC_USERNAME=user-badinput",
		"PEC_PASSWORD=password-badinput",
	}
}

// materializeBadInput copies _base and then the case's own files into a
// fresh folder, with a PDF just outside it (the target of the symlink
// case), and returns the campaign file's path.
func materializeBadInput(t *testing.T, name string) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "campagna")
	for _, src := range []string{"_base", name} {
		if err := copyTree(filepath.Join("testdata", "badinput", src), dir); err != nil {
			t.Fatal(err)
		}
	}
	outside, err := os.ReadFile(filepath.Join("testdata", "badinput", "_base", "allegati", "a1.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "fuori.pdf"), outside, 0o644); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "campaign.yaml")
}

// copyTree copies src over dst, keeping symbolic links as links.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			os.Remove(target)
			return os.Symlink(link, target)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}
