package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRunTypoFixAfterTrial: after `run --limit 5`, a typo fixed in the
// body is refused without --allow-changes (the rows and the option named,
// nothing sent); with it the 3 remaining rows go out with the new body,
// the 5 are not sent again, and status, status --json and the CSV report
// show the 5 as changed after send.
func TestRunTypoFixAfterTrial(t *testing.T) {
	t.Parallel()
	f := newRelFixture(t, buildPecbatch(t), relDefaults(8))
	body := filepath.Join(f.dir, "corpo.html")
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(body, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("<p>Gentile {{.nome}},</p>\n<p>le comunichiamo l'avvisso {{.codice}}.</p>\n")
	wantExit(t, "trial", f.runCampaign("--limit", "5", "--no-wait"), 0)
	write("<p>Gentile {{.nome}},</p>\n<p>le comunichiamo l'avviso {{.codice}}.</p>\n")

	res := f.runCampaign("--no-wait")
	wantExit(t, "typo fix without --allow-changes", res, exitInvalid)
	for _, want := range []string{`row 5 (key "R0005"): content changed after it was sent`, `row 6 (key "R0006"): content changed (not sent yet)`,
		"--allow-changes"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
		}
	}
	if n := len(f.sb.Sends()); n != 5 {
		t.Fatalf("the sandbox sent %d messages, want the 5 of the trial", n)
	}

	wantExit(t, "typo fix with --allow-changes", f.runCampaign("--allow-changes"), 0)
	f.checkNoDuplicates()
	if n := len(f.sb.Sends()); n != 8 {
		t.Errorf("the sandbox sent %d messages, want 8", n)
	}

	res = f.run("status", f.file)
	wantExit(t, "status", res, 0)
	if !strings.Contains(res.stdout, "Rows changed after send (5)") || !strings.Contains(res.stdout, `row 1 (key "R0001", delivered) changed after send`) {
		t.Errorf("status:\n%s", res.stdout)
	}
	res = f.run("status", f.file, "--json")
	wantExit(t, "status --json", res, 0)
	var st struct {
		Changed []struct {
			Key string `json:"key"`
		} `json:"changed_after_send"`
		Count int `json:"changed_after_send_count"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &st); err != nil || st.Count != 5 || len(st.Changed) != 5 || st.Changed[4].Key != "R0005" {
		t.Errorf("status --json: %+v, %v\n%s", st, err, res.stdout)
	}

	out := filepath.Join(f.dir, "esiti.csv")
	wantExit(t, "report", f.run("report", f.file, "-o", out, "--lang", "en"), 0)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(string(data))).ReadAll()
	if err != nil || len(recs) != 9 {
		t.Fatalf("report: %d records, %v", len(recs), err)
	}
	note := slices.Index(recs[0], "note")
	if note < 0 {
		t.Fatalf("no note column in %q", recs[0])
	}
	for _, r := range recs[1:] {
		want := ""
		if r[1] <= "R0005" {
			want = "changed after send"
		}
		if r[note] != want {
			t.Errorf("row %s: note %q, want %q", r[1], r[note], want)
		}
	}
}

// TestRunDuplicateContentFlag: a row whose message was already sent under
// another key is refused with the other row named, then sent with
// --allow-duplicate-content.
func TestRunDuplicateContentFlag(t *testing.T) {
	t.Parallel()
	cfg := relDefaults(2)
	cfg.subject = "Avviso di pagamento"
	f := newRelFixture(t, buildPecbatch(t), cfg)
	if err := os.WriteFile(filepath.Join(f.dir, "corpo.html"), []byte("<p>Gentile {{.nome}}.</p>\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wantExit(t, "first run", f.runCampaign("--no-wait"), 0)
	// Row 1's key corrected after its send.
	csvPath := filepath.Join(f.dir, "destinatari.csv")
	data, err := os.ReadFile(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(csvPath, []byte(strings.Replace(string(data), "R0001,", "R0001-BIS,", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	res := f.runCampaign("--no-wait", "--allow-changes")
	wantExit(t, "duplicate", res, exitInvalid)
	for _, want := range []string{`row 1 of destinatari.csv (key "R0001-BIS") is the same message as row 1 (key "R0001")`,
		"--allow-duplicate-content"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
		}
	}
	if n := len(f.sb.Sends()); n != 2 {
		t.Fatalf("the sandbox sent %d messages, want 2", n)
	}
	res = f.runCampaign("--no-wait", "--allow-changes", "--allow-duplicate-content")
	wantExit(t, "duplicate allowed", res, 0)
	if n := len(f.sb.Sends()); n != 3 || !strings.Contains(res.stdout+res.stderr, "--allow-duplicate-content") {
		t.Errorf("the sandbox sent %d messages, want 3, with a note:\n%s", n, res)
	}
}
