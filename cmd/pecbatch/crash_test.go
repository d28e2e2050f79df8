package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/journal"
)

// crashCampaign is the campaign the crash test sends: fast pacing (the
// sandbox allows it) and a short reconciliation window, so that many kills
// fit in a minute.
const crashCampaign = `name: crash-test
api:
  base_url: ${PECMASSIVA_URL}
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
  subject: "Crash test {{.id}}"
  body: corpo.html
sending:
  rate: 15/s
  reconcile_window: 3s
  max_consecutive_errors: 1000
tracking:
  poll_rate: 100/s
`

const crashRows = 40

// TestCrashExactlyOnce runs a 40-row campaign against a `pecbatch sandbox`
// process that fails 5 % of the sends (500, not sent) and drops the
// connection of 10 % (sent, no answer), sending at 15 a second (the
// sandbox allows 20), and kills the `pecbatch run`
// process with SIGKILL at seeded random moments, again and again, during
// sending and during tracking. It then runs it again until it finishes
// (with --resend-unknown once the reconciliation window has passed) and
// checks, from the sandbox's own list of what it sent, that every row was
// sent exactly once and that the journal agrees with the sandbox row by
// row.
//
// Not parallel: its SIGKILLs land at moments chosen from the run's pace,
// and other tests competing for the CPU would move them.
//
//nolint:paralleltest // see above
func TestCrashExactlyOnce(t *testing.T) {
	const kills, minKills = 20, 12
	bin := buildPecbatch(t)
	url := startSandboxProcess(t, bin, "--fail-rate", "0.05", "--drop-rate", "0.1", "--send-rate", "20",
		"--accept-delay", "50ms", "--deliver-delay", "1s", "--seed", "11")
	dir := t.TempDir()
	writeCrashCampaign(t, dir)
	campaignFile := filepath.Join(dir, "campaign.yaml")
	env := append(os.Environ(), "PECMASSIVA_URL="+url, "PECMASSIVA_TOKEN=sandbox-token",
		"PEC_USERNAME=sandbox@pec.sandbox.test", "PEC_PASSWORD=sandbox")

	// Each run is killed at a random moment of its first half second, while it
	// starts, sends, tracks or reconciles, until enough kills have landed;
	// then runs go to the end. A run that ends by itself with rows unknown
	// (exit 4) is followed, once the reconciliation window has passed, by
	// one with --resend-unknown (every run has it).
	rng := rand.New(rand.NewPCG(2026, 11))
	killed, done := 0, false
	for i := 0; i < 60 && !done; i++ {
		var after time.Duration
		if killed < kills {
			after = time.Duration(30+rng.IntN(500)) * time.Millisecond
		}
		code, out := crashRunPecbatch(t, bin, env, after, "run", campaignFile, "--yes", "--resend-unknown", "--report", "-")
		switch code {
		case -1:
			killed++
		case 0:
			done = true
		case exitRowsUnknown:
			// run returns this only once every unknown row's
			// reconciliation window has passed: the next run sends them.
		default:
			t.Fatalf("run %d: exit %d:\n%s", i, code, out)
		}
	}
	if !done {
		t.Fatal("the campaign never finished")
	}
	if killed < minKills {
		t.Errorf("only %d kills landed before the campaign finished, want at least %d", killed, minKills)
	}

	sends := sandboxSends(t, url)
	bySubject := map[string][]string{}
	for _, s := range sends {
		bySubject[s.Subject] = append(bySubject[s.Subject], s.Code)
	}
	if len(sends) != crashRows {
		t.Errorf("the sandbox sent %d messages for %d rows", len(sends), crashRows)
	}
	r, err := journal.OpenReadOnly(t.Context(), filepath.Join(dir, "campaign.journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rows, err := r.RowsInState(t.Context(), 0, journal.States()...)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != crashRows {
		t.Fatalf("the journal has %d rows", len(rows))
	}
	for _, row := range rows {
		codes := bySubject[row.Subject]
		switch {
		case len(codes) != 1:
			t.Errorf("row %s was sent %d times: %v", row.Key, len(codes), codes)
		case row.MessageID != codes[0]:
			t.Errorf("row %s has message id %q, the sandbox sent it as %s", row.Key, row.MessageID, codes[0])
		case row.State != journal.StateDelivered:
			t.Errorf("row %s is %s", row.Key, row.State)
		}
	}
	t.Logf("%d kills survived; %d sends, 0 duplicates", killed, len(sends))
}

func writeCrashCampaign(t *testing.T, dir string) {
	t.Helper()
	var csv strings.Builder
	csv.WriteString("id,pec,nome\n")
	for i := 1; i <= crashRows; i++ {
		fmt.Fprintf(&csv, "C%03d,dest%d@pec.example.it,Persona %d\n", i, i, i)
	}
	files := map[string]string{
		"campaign.yaml":   crashCampaign,
		"destinatari.csv": csv.String(),
		"corpo.html":      "<p>Gentile {{.nome}}, pratica {{.id}}.</p>\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// startSandboxProcess starts `pecbatch sandbox` on a free port and returns
// its URL; the process is killed when the test ends.
func startSandboxProcess(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"sandbox", "--addr", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "PEC Massiva sandbox listening on "); ok {
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			return strings.TrimSpace(rest)
		}
	}
	t.Fatalf("the sandbox printed no URL (%v)", lines.Err())
	return ""
}

type sandboxSend struct {
	Code    string `json:"code"`
	Subject string `json:"subject"`
}

// sandboxSends reads GET /_sandbox/sends: what the sandbox actually sent.
func sandboxSends(t *testing.T, url string) []sandboxSend {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url+"/_sandbox/sends", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer sandbox-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ans struct {
		Sends []sandboxSend `json:"sends"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
		t.Fatalf("GET /_sandbox/sends: %v", err)
	}
	return ans.Sends
}
