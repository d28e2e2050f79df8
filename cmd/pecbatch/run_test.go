package main

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/client/sandbox"
	"github.com/pecbatch/pecbatch/journal"
)

// runCmdCampaign writes a small campaign (rows delivered by any sandbox)
// and returns its file.
func runCmdCampaign(t *testing.T, rows int) string {
	t.Helper()
	dir := t.TempDir()
	var csv strings.Builder
	csv.WriteString("id,pec,nome\n")
	for i := 1; i <= rows; i++ {
		fmt.Fprintf(&csv, "R%02d,dest%d@pec.example.it,Persona %d\n", i, i, i)
	}
	files := map[string]string{
		"campaign.yaml": `name: comando-run
api:
  base_url: ${PECMASSIVA_URL:-https://ws.pecmassiva.com}
  token: ${PECMASSIVA_TOKEN}
sender:
  address: ufficio@pec.example.it
  username: ${PEC_USERNAME}
  password: ${PEC_PASSWORD}
recipients:
  file: destinatari.csv
  to: "{{.pec}}"
  key: "{{.id}}"
message:
  subject: "Comunicazione {{.id}}"
  body: corpo.html
sending:
  rate: 20/s
tracking:
  poll_rate: 50/s
`,
		"destinatari.csv": csv.String(),
		"corpo.html":      "<p>Gentile {{.nome}}.</p>\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "campaign.yaml")
}

// TestRunCommandSandbox runs a campaign against the sandbox built into the
// process: no credentials needed, a journal of its own, the report written
// and its path printed; status reads that journal; a second --sandbox run
// starts afresh.
func TestRunCommandSandbox(t *testing.T) {
	t.Parallel()
	file := runCmdCampaign(t, 3)
	dir := filepath.Dir(file)
	code, _, stderr := runPecbatch(t, "run", file, "--sandbox", "--yes")
	if code != 0 {
		t.Fatalf("run --sandbox: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"Sandbox: serving", "Rows: 3 delivered",
		"Report: " + filepath.Join(dir, "comando-run-sandbox-report.csv"),
		"Report: " + filepath.Join(dir, "comando-run-sandbox-report.html")} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "campaign.journal.db")); !os.IsNotExist(err) {
		t.Errorf("the real journal exists after a sandbox run (%v)", err)
	}

	code, stdout, stderr := runPecbatch(t, "status", file, "--sandbox", "--json")
	var st struct {
		Endpoint string         `json:"endpoint"`
		Counts   map[string]int `json:"counts"`
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &st) != nil || st.Counts["delivered"] != 3 || st.Endpoint != "sandbox:builtin" {
		t.Fatalf("status --sandbox --json: exit %d %+v\n%s%s", code, st, stdout, stderr)
	}
	code, stdout, _ = runPecbatch(t, "status", file, "--sandbox")
	if code != 0 || !strings.Contains(stdout, "3 row(s), 3 final") {
		t.Errorf("status --sandbox: exit %d\n%s", code, stdout)
	}

	code, _, stderr = runPecbatch(t, "run", file, "--sandbox", "--yes", "--limit", "1", "--no-wait")
	if code != 0 || !strings.Contains(stderr, "starting afresh") || !strings.Contains(stderr, "1 to send now") {
		t.Errorf("second run --sandbox: exit %d\n%s", code, stderr)
	}
}

// TestRunCommandSandboxShapes: the in-process sandbox takes --receipts,
// --seed, --fault and --daily-limit: every receipt style tracks the rows to
// the same end, and an account fault stops the run without a row sent.
func TestRunCommandSandboxShapes(t *testing.T) {
	t.Parallel()
	for _, style := range []string{"pec", "mixed"} {
		file := runCmdCampaign(t, 2)
		code, _, stderr := runPecbatch(t, "run", file, "--sandbox", "--yes", "--receipts", style, "--seed", "3")
		if code != 0 || !strings.Contains(stderr, "Rows: 2 delivered") {
			t.Errorf("run --sandbox --receipts %s: exit %d\n%s", style, code, stderr)
		}
	}
	file := runCmdCampaign(t, 2)
	code, _, stderr := runPecbatch(t, "run", file, "--sandbox", "--yes", "--fault", "smtp-auth")
	if code == 0 || !strings.Contains(stderr, "password") || strings.Contains(stderr, "delivered") {
		t.Errorf("run --sandbox --fault smtp-auth: exit %d\n%s", code, stderr)
	}
	file = runCmdCampaign(t, 2)
	code, _, stderr = runPecbatch(t, "run", file, "--sandbox", "--yes", "--daily-limit", "1")
	if code == 0 || !strings.Contains(stderr, "Daily sending limit reached") || !strings.Contains(stderr, "1 pending") {
		t.Errorf("run --sandbox --daily-limit 1: exit %d\n%s", code, stderr)
	}
}

// TestRunCommandNeedsConfirmation: without a terminal and without --yes,
// run refuses before sending anything, and before creating a journal.
func TestRunCommandNeedsConfirmation(t *testing.T) {
	t.Parallel()
	file := runCmdCampaign(t, 2)
	code, _, stderr := runPecbatch(t, "run", file, "--sandbox")
	if code != exitInvalid || !strings.Contains(stderr, "--yes") {
		t.Fatalf("exit %d, want %d with a hint about --yes:\n%s", code, exitInvalid, stderr)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(file), "*.db*")); len(left) > 0 {
		t.Errorf("a refused run left files behind: %v", left)
	}
}

func TestRunCommandUsage(t *testing.T) {
	t.Parallel()
	file := runCmdCampaign(t, 1)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"negative limit", []string{"run", file, "--limit", "-1"}, "--limit"},
		{"test-send without --to", []string{"test-send", file}, "--to is required"},
		{"test-send bad row", []string{"test-send", file, "--to", "a@pec.it", "--row", "0"}, "--row"},
		{"run without a campaign", []string{"run"}, "accepts 1 arg"},
		{"--receipts without --sandbox", []string{"run", file, "--yes", "--receipts", "pec"}, "add --sandbox"},
		{"--fault without --sandbox", []string{"test-send", file, "--to", "a@pec.it", "--fault", "smtp-auth"}, "add --sandbox"},
		{"unknown receipt style", []string{"run", file, "--sandbox", "--yes", "--receipts", "postale"}, "--receipts"},
		{"negative daily limit", []string{"run", file, "--sandbox", "--yes", "--daily-limit", "-2"}, "--daily-limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := runPecbatch(t, tt.args...)
			if code != exitInvalid || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, want %d with %q:\n%s", code, exitInvalid, tt.want, stderr)
			}
		})
	}
}

func TestTestSendCommand(t *testing.T) {
	t.Parallel()
	file := runCmdCampaign(t, 2)
	code, _, stderr := runPecbatch(t, "test-send", file, "--to", "Me@PEC.example.it", "--row", "2", "--sandbox")
	if code != 0 || !strings.Contains(stderr, `"[TEST] Comunicazione R02"`) || !strings.Contains(stderr, "me@pec.example.it") {
		t.Fatalf("test-send: exit %d\n%s", code, stderr)
	}
}

// TestPollCommand: run --no-wait sends and returns; poll tracks the rest;
// a run while another holds the journal refuses with a clear message.
func TestPollCommand(t *testing.T) {
	t.Parallel()
	opts := sandbox.DefaultOptions()
	opts.AcceptDelay, opts.DeliverDelay, opts.SendRate = 50*time.Millisecond, 150*time.Millisecond, 0
	sb := sandbox.New(opts)
	srv := httptest.NewServer(sb)
	defer srv.Close()
	env := map[string]string{"PECMASSIVA_URL": srv.URL, "PECMASSIVA_TOKEN": opts.Token,
		"PEC_USERNAME": opts.Username, "PEC_PASSWORD": opts.Password}
	file := runCmdCampaign(t, 3)

	_, stderr, code := pecbatchEnv(t, env, "run", file, "--yes", "--no-wait", "--report", "-")
	if code != 0 || len(sb.Sends()) != 3 {
		t.Fatalf("run --no-wait: exit %d, %d sends\n%s", code, len(sb.Sends()), stderr)
	}
	_, stderr, code = pecbatchEnv(t, env, "poll", file)
	if code != 0 || !strings.Contains(stderr, "Rows: 3 delivered") || !strings.Contains(stderr, "Report: ") {
		t.Fatalf("poll: exit %d\n%s", code, stderr)
	}

	j, err := journal.Open(t.Context(), filepath.Join(filepath.Dir(file), "campaign.journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	_, stderr, code = pecbatchEnv(t, env, "run", file, "--yes")
	if code != exitError || !strings.Contains(stderr, "holds the journal") || len(sb.Sends()) != 3 {
		t.Errorf("run while the journal is held: exit %d, %d sends\n%s", code, len(sb.Sends()), stderr)
	}
	stdout, _, code := pecbatchEnv(t, env, "status", file)
	if code != 0 || !strings.Contains(stdout, "3 row(s), 3 final") {
		t.Errorf("status while the journal is held: exit %d\n%s", code, stdout)
	}
}

// checkBadInputRun runs a case of the bad-input catalogue
// (badinput_test.go) through `pecbatch run` against a sandbox: a broken
// campaign ends with exit status 2 and nothing sent; a positive control
// sends its first row.
func checkBadInputRun(t *testing.T, bin string, tc badInputCase, campaignFile string) {
	opts := sandbox.DefaultOptions()
	opts.SendRate = 0
	sb := sandbox.New(opts)
	srv := httptest.NewServer(sb)
	defer srv.Close()
	env := append(badInputEnv(), "PECMASSIVA_URL="+srv.URL, "PECMASSIVA_TOKEN="+opts.Token,
		"PEC_USERNAME="+opts.Username, "PEC_PASSWORD="+opts.Password)
	code, out := crashRunPecbatch(t, bin, env, 0, "run", campaignFile, "--yes", "--no-wait", "--limit", "1", "--report", "-")
	wantSends := 0
	if tc.exit == 0 {
		wantSends = 1
	}
	if code != tc.exit || len(sb.Sends()) != wantSends {
		t.Errorf("run: exit %d with %d sends, want exit %d with %d\n%s", code, len(sb.Sends()), tc.exit, wantSends, out)
	}
	for _, w := range tc.want {
		if tc.exit != 0 && !strings.Contains(out, w) {
			t.Errorf("run output lacks %q\n%s", w, out)
		}
	}
}
