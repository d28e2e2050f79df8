package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
// process with SIGKILL at seeded random moments, 20 times, during sending
// and during tracking. Until the last kill, a proxy in the test holds back
// the delivery receipts of one row in ten (they arrive late), so no run can
// end the campaign before the kills land, however fast the machine. It
// then runs it again until it finishes (with --resend-unknown once the
// reconciliation window has passed) and checks, from the sandbox's own
// list of what it sent, that every row was sent exactly once and that the
// journal agrees with the sandbox row by row.
//
// Not parallel: its SIGKILLs land at moments chosen from the run's pace,
// and other tests competing for the CPU would move them.
//
//nolint:paralleltest // see above
func TestCrashExactlyOnce(t *testing.T) {
	const kills = 20
	bin := buildPecbatch(t)
	url := startSandboxProcess(t, bin, "--fail-rate", "0.05", "--drop-rate", "0.1", "--send-rate", "20",
		"--accept-delay", "50ms", "--deliver-delay", "1s", "--seed", "11")
	hold := startDeliveryHold(t, url, func(subject string) bool {
		for i := 1; i <= crashRows; i += 10 {
			if subject == fmt.Sprintf("Crash test C%03d", i) {
				return true
			}
		}
		return false
	})
	dir := t.TempDir()
	writeCrashCampaign(t, dir)
	campaignFile := filepath.Join(dir, "campaign.yaml")
	env := append(os.Environ(), "PECMASSIVA_URL="+hold.url, "PECMASSIVA_TOKEN=sandbox-token",
		"PEC_USERNAME=sandbox@pec.sandbox.test", "PEC_PASSWORD=sandbox")

	// Each run is killed at a random moment of its first half second, while it
	// starts, sends, tracks or reconciles, until every kill has landed;
	// then runs go to the end. A run that ends by itself with rows unknown
	// (exit 4) is followed, once the reconciliation window has passed, by
	// one with --resend-unknown (every run has it).
	rng := rand.New(rand.NewPCG(2026, 11))
	killed, done := 0, false
	for i := 0; i < 100 && !done; i++ {
		var after time.Duration
		if killed < kills {
			after = time.Duration(30+rng.IntN(500)) * time.Millisecond
		} else {
			hold.release()
		}
		code, out := crashRunPecbatch(t, bin, env, after, "run", campaignFile, "--yes", "--resend-unknown", "--report", "-")
		switch code {
		case -1:
			killed++
		case 0:
			done = true
			if killed < kills {
				t.Fatalf("run %d ended the campaign with delivery receipts held back, after %d kills:\n%s", i, killed, out)
			}
		case exitRowsUnknown:
			// run returns this only once every unknown row's
			// reconciliation window has passed: the next run sends them.
		default:
			t.Fatalf("run %d: exit %d:\n%s", i, code, out)
		}
	}
	if !done {
		t.Fatalf("the campaign never finished (%d kills)", killed)
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
	t.Logf("%d kills survived (%d delivery receipts held back meanwhile); %d sends, 0 duplicates",
		killed, hold.held.Load(), len(sends))
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
	sends, err := readSandboxSends(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	return sends
}

func readSandboxSends(ctx context.Context, url string) ([]sandboxSend, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/_sandbox/sends", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer sandbox-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET /_sandbox/sends: %w", err)
	}
	defer resp.Body.Close()
	var ans struct {
		Sends []sandboxSend `json:"sends"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
		return nil, fmt.Errorf("GET /_sandbox/sends: %w", err)
	}
	return ans.Sends, nil
}

// deliveryHold is a proxy in the test process in front of a sandbox
// process (startDeliveryHold).
type deliveryHold struct {
	url     string
	holding atomic.Bool
	// held counts the delivery receipts left out of the polls' answers.
	held atomic.Int64
}

// release lets every delivery receipt through from now on.
func (h *deliveryHold) release() { h.holding.Store(false) }

// startDeliveryHold serves the sandbox at url through a proxy that, until
// release, answers the receipt polls of the sends whose subject held
// accepts without their delivery receipts, as if the deliveries were late:
// those rows cannot become final, so no run can end the campaign. The
// sandbox itself is untouched (the polls after release list everything),
// and a connection it cuts without an answer is cut to the client too.
func startDeliveryHold(t *testing.T, url string, held func(subject string) bool) *deliveryHold {
	t.Helper()
	target, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	h := &deliveryHold{}
	h.holding.Store(true)
	var mu sync.Mutex
	subjects := map[string]string{} // code → subject
	subjectOf := func(ctx context.Context, code string) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if s, ok := subjects[code]; ok {
			return s, nil
		}
		sends, err := readSandboxSends(ctx, url)
		if err != nil {
			return "", err
		}
		for _, s := range sends {
			subjects[s.Code] = s.Subject
		}
		return subjects[code], nil
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		r := resp.Request
		code, poll := strings.CutPrefix(r.URL.Path, "/send/")
		if !h.holding.Load() || r.Method != http.MethodGet || !poll || resp.StatusCode != http.StatusOK {
			return nil
		}
		subject, err := subjectOf(r.Context(), code)
		if err != nil || !held(subject) {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		status, body, n, err := withoutDeliveries(body)
		if err != nil {
			return fmt.Errorf("poll %s: %w", code, err)
		}
		h.held.Add(int64(n))
		resp.StatusCode, resp.Status = status, fmt.Sprintf("%d %s", status, http.StatusText(status))
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	proxy.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		// The sandbox cut the connection (a drop) or the client went: the
		// client gets no answer, as it would without the proxy.
		if conn, _, herr := http.NewResponseController(w).Hijack(); herr == nil {
			_ = conn.Close()
			return
		}
		w.WriteHeader(http.StatusBadGateway)
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	h.url = srv.URL
	return h
}
