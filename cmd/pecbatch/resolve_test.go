package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/client/sandbox"
)

// TestResolveAndRetryCommands: a row left unknown by a 500 is decided not
// sent, a rejected row is queued for a second attempt, status shows both
// decisions, and the next run sends the two rows, each once; decisions on
// rows in another state are refused with their state.
func TestResolveAndRetryCommands(t *testing.T) {
	t.Parallel()
	opts := sandbox.DefaultOptions()
	opts.AcceptDelay, opts.DeliverDelay, opts.SendRate = 50*time.Millisecond, 150*time.Millisecond, 0
	sb := sandbox.New(opts)
	var faults atomic.Bool
	faults.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if faults.Load() && r.Method == http.MethodPost && r.URL.Path == "/send" {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(strings.NewReader(string(body)))
			switch {
			case strings.Contains(string(body), "Comunicazione R02"):
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(500)
				_, _ = w.Write([]byte(`{"success":false,"message":"MySQL Error 2006"}`))
				return
			case strings.Contains(string(body), "Comunicazione R03"):
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(400)
				_, _ = w.Write([]byte(`{"success":false,"message":"Post parameter is not valid"}`))
				return
			}
		}
		sb.ServeHTTP(w, r)
	}))
	defer srv.Close()
	env := map[string]string{"PECMASSIVA_URL": srv.URL, "PECMASSIVA_TOKEN": opts.Token,
		"PEC_USERNAME": opts.Username, "PEC_PASSWORD": opts.Password}
	file := runCmdCampaign(t, 3)

	_, stderr, code := pecbatchEnv(t, env, "run", file, "--yes", "--no-wait", "--report", "-")
	if code != exitRowsUnknown || len(sb.Sends()) != 1 {
		t.Fatalf("run: exit %d, %d sends\n%s", code, len(sb.Sends()), stderr)
	}
	faults.Store(false)

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"resolve", file, "--row", "3", "--as", "not-sent"}, exitInvalid, `row 3 (key "R03") is rejected, not unknown`},
		{[]string{"resolve", file, "--row", "2", "--as", "sent"}, exitInvalid, "needs --message-id"},
		{[]string{"resolve", file, "--row", "2", "--key", "R02", "--as", "not-sent"}, exitInvalid, "one of the two"},
		{[]string{"resolve", file, "--row", "2", "--as", "maybe"}, exitInvalid, "sent or not-sent"},
		{[]string{"retry", file, "--state", "delivered"}, exitInvalid, "only failed, rejected and expired"},
		{[]string{"retry", file, "--state", "rejected", "--rows", "1-2"}, exitInvalid, `row 1 (key "R01") is delivered`},
		{[]string{"retry", file, "--state", "rejected", "--rows", "3-1"}, exitInvalid, "not a range of rows"},
	} {
		stdout, stderr, code := pecbatchEnv(t, env, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, want %d and %q\n%s%s", tc.args, code, tc.code, tc.want, stdout, stderr)
		}
	}

	stdout, stderr, code := pecbatchEnv(t, env, "resolve", file, "--key", "R02", "--as", "not-sent", "--note", "not in the sent folder")
	if code != 0 || !strings.Contains(stdout, `Row 2 (key "R02") decided not sent`) {
		t.Fatalf("resolve: exit %d\n%s%s", code, stdout, stderr)
	}
	stdout, stderr, code = pecbatchEnv(t, env, "retry", file, "--state", "rejected,failed", "--rows", "1,3-9", "--note", "fixed")
	if code != 0 || !strings.Contains(stdout, `Row 3 (key "R03"): attempt 2 queued (attempt 1 was rejected)`) ||
		!strings.Contains(stdout, `Not retried: row 1 (key "R01") is`) {
		t.Fatalf("retry: exit %d\n%s%s", code, stdout, stderr)
	}
	stdout, _, code = pecbatchEnv(t, env, "status", file)
	for _, want := range []string{"Decisions of the operator (2)", "decided not sent", "note: not in the sent folder",
		"retried: attempt 2; attempt 1 was rejected: Post parameter is not valid"} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("status: exit %d, lacks %q\n%s", code, want, stdout)
		}
	}
	if stdout, _, code = pecbatchEnv(t, env, "status", file, "--json"); code != 0 || !strings.Contains(stdout, `"decision_count": 2`) {
		t.Errorf("status --json: exit %d\n%s", code, stdout)
	}

	_, stderr, code = pecbatchEnv(t, env, "run", file, "--yes", "--report", "-")
	if code != 0 || len(sb.Sends()) != 3 || !strings.Contains(stderr, "Rows: 3 delivered") {
		t.Fatalf("run after the decisions: exit %d, %d sends\n%s", code, len(sb.Sends()), stderr)
	}
	subjects := map[string]int{}
	for _, s := range sb.Sends() {
		subjects[s.Subject]++
	}
	for subject, n := range subjects {
		if n != 1 {
			t.Errorf("%q sent %d times", subject, n)
		}
	}
	stdout, _, _ = pecbatchEnv(t, env, "--help")
	for _, cmd := range []string{"resolve", "retry"} {
		if !strings.Contains(stdout, "\n  "+cmd+" ") {
			t.Errorf("--help does not list %s:\n%s", cmd, stdout)
		}
	}
}

// TestResolveThenCrash: a row left unknown by a 500 is decided not sent;
// the next run, a real process, is killed (SIGKILL) while that row's send
// is in flight, after the service took it. The decision was on disk, the
// killed run left the row in sending, and the run after reconciles it from
// the mailbox instead of sending it again: every row goes out once.
func TestResolveThenCrash(t *testing.T) {
	t.Parallel()
	bin := buildPecbatch(t)
	opts := sandbox.DefaultOptions()
	opts.AcceptDelay, opts.DeliverDelay, opts.SendRate = 50*time.Millisecond, 150*time.Millisecond, 0
	sb := sandbox.New(opts)
	var mode atomic.Int32 // 0: pass, 1: 500 for R02, 2: R02 sent, its answer never comes
	var hung atomic.Bool
	inFlight := make(chan struct{}) // closed when R02's send hangs: the moment to kill
	var hangOnce sync.Once
	mode.Store(1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/send" && mode.Load() != 0 {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(strings.NewReader(string(body)))
			if strings.Contains(string(body), "Comunicazione R02") {
				if mode.Load() == 1 {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(500)
					_, _ = w.Write([]byte(`{"success":false,"message":"MySQL Error 2006"}`))
					return
				}
				sb.ServeHTTP(httptest.NewRecorder(), r)
				hung.Store(true)
				hangOnce.Do(func() { close(inFlight) })
				<-r.Context().Done() // until the process is killed
				return
			}
		}
		sb.ServeHTTP(w, r)
	}))
	defer srv.Close()
	env := map[string]string{"PECMASSIVA_URL": srv.URL, "PECMASSIVA_TOKEN": opts.Token,
		"PEC_USERNAME": opts.Username, "PEC_PASSWORD": opts.Password}
	file := runCmdCampaign(t, 3)

	if _, stderr, code := pecbatchEnv(t, env, "run", file, "--yes", "--no-wait", "--report", "-"); code != exitRowsUnknown {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	if stdout, stderr, code := pecbatchEnv(t, env, "resolve", file, "--row", "2", "--as", "not-sent"); code != 0 {
		t.Fatalf("resolve: exit %d\n%s%s", code, stdout, stderr)
	}
	mode.Store(2)
	procEnv := append(os.Environ(), "PECMASSIVA_URL="+srv.URL, "PECMASSIVA_TOKEN="+opts.Token,
		"PEC_USERNAME="+opts.Username, "PEC_PASSWORD="+opts.Password)
	code, out := killRunPecbatch(t, bin, procEnv, inFlight, "run", file, "--yes", "--report", "-")
	if code != -1 || !hung.Load() {
		t.Fatalf("the run was not killed during the send of row 2 (exit %d, in flight %v):\n%s", code, hung.Load(), out)
	}
	mode.Store(0)
	code, out = crashRunPecbatch(t, bin, procEnv, 0, "run", file, "--yes", "--report", "-")
	if code != 0 || !strings.Contains(out, "Rows: 3 delivered") {
		t.Fatalf("run after the crash: exit %d\n%s", code, out)
	}
	subjects := map[string]int{}
	for _, s := range sb.Sends() {
		subjects[s.Subject]++
	}
	if len(subjects) != 3 {
		t.Errorf("sent %v, want the 3 rows", subjects)
	}
	for subject, n := range subjects {
		if n != 1 {
			t.Errorf("%q sent %d times", subject, n)
		}
	}
}
