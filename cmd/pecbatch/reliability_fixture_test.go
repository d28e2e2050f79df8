package main

// The reliability fixture (relFixture) of the suites that break things
// (faults, crashes, concurrency, secrets): a campaign folder, the sandbox
// served in this test process behind a hook that can answer in its place,
// delay, cut connections or kill the pecbatch process at a chosen request,
// and the checks that every row was sent exactly once and that the journal
// agrees with the sandbox.

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/client"
	"github.com/pecbatch/pecbatch/client/sandbox"
	"github.com/pecbatch/pecbatch/internal/testutil"
	"github.com/pecbatch/pecbatch/journal"
)

// relConfig describes the campaign and the sandbox of a reliability test.
type relConfig struct {
	// rows is the number of rows; each has its own recipient.
	rows int
	// subject is the subject template; "" means one per row.
	subject string
	// rate is sending.rate, window sending.reconcile_window, maxErrors
	// sending.max_consecutive_errors and timeout api.timeout ("" leaves
	// the default).
	rate, window string
	maxErrors    int
	timeout      string
	// sandbox configures the sandbox; its zero delays mean fast ones.
	sandbox sandbox.Options
	// copyFrom, when set, is a campaign folder (such as an example) copied
	// instead of writing the generated campaign; verify does not apply.
	copyFrom string
}

// relDefaults returns a small, fast campaign against a sandbox that allows
// the campaign's rate.
func relDefaults(rows int) relConfig {
	o := sandbox.DefaultOptions()
	o.AcceptDelay = 100 * time.Millisecond
	o.DeliverDelay = 300 * time.Millisecond
	o.SendRate = 0
	return relConfig{rows: rows, rate: "20/s", window: "3s", maxErrors: 10, sandbox: o}
}

const relCampaignYAML = `name: affidabilita
api:
  base_url: ${PECMASSIVA_URL}
  token: ${PECMASSIVA_TOKEN}
%ssender:
  address: ufficio@pec.example.it
  username: ${PEC_USERNAME}
  password: ${PEC_PASSWORD}
recipients:
  file: destinatari.csv
  to: "{{.pec}}"
  key: "{{.codice}}"
message:
  subject: %q
  body: corpo.html
sending:
  rate: %s
  reconcile_window: %s
  max_consecutive_errors: %d
tracking:
  poll_rate: 100/s
`

// relCall is one request that reached the test's API server.
type relCall struct {
	// Kind is "send" (POST /send), "poll" (GET /send/{code}), "inbox"
	// (GET /inbox and /inbox/{id}) or "other".
	Kind string
	// N counts the requests of Kind since the hook was set, from 1.
	N int
	W http.ResponseWriter
	R *http.Request
	f *relFixture
}

// relHook sees every request first; it returns true when it answered it
// (or cut it) itself, false to let the sandbox answer.
type relHook func(c *relCall) bool

// relFixture is a campaign folder, the sandbox in this process behind an
// httptest server, and the pecbatch binary that runs against it.
type relFixture struct {
	t        *testing.T
	cfg      relConfig
	bin      string
	dir      string
	file     string
	journal  string
	sb       *sandbox.Server
	srv      *httptest.Server
	url      string
	username string

	mu     sync.Mutex
	hook   relHook
	counts map[string]int
	// answered counts the status codes of the answers to POST /send the
	// client got (0: none, the connection was cut).
	answered map[int]int
	token    string // what the runs put in PECMASSIVA_TOKEN
	proc     *os.Process
	exited   chan struct{}
	// stderr is what the running process wrote to its standard error.
	stderr *testutil.LockedBuffer
	// holdDelivery, when set, says which recipients' delivery receipts
	// the receipt polls leave out (holdDeliveries).
	holdDelivery func(address string) bool
	// extraEnv is added to every run's environment.
	extraEnv []string
	// reserved, while the server is stopped, releases the socket that
	// holds its port (stopListening).
	reserved func()
	// gone is set when the current server stops listening.
	gone *atomic.Bool
}

// handler is what a server of the fixture serves: f.serve until gone is
// set. A connection the server accepted just before it stopped (too late
// for CloseClientConnections to see it) then gets no answer either: a
// request must never be answered by a server that is gone.
func (f *relFixture) handler(gone *atomic.Bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if gone.Load() {
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				_ = conn.Close()
				return
			}
			panic(http.ErrAbortHandler)
		}
		f.serve(w, r)
	})
}

// newRelFixture writes the campaign and starts the sandbox. bin is the
// pecbatch binary (buildPecbatch).
func newRelFixture(t *testing.T, bin string, cfg relConfig) *relFixture {
	t.Helper()
	f := &relFixture{t: t, cfg: cfg, bin: bin, dir: t.TempDir(), counts: map[string]int{}, answered: map[int]int{},
		token: cfg.sandbox.Token, username: cfg.sandbox.Username}
	f.file = filepath.Join(f.dir, "campaign.yaml")
	f.journal = filepath.Join(f.dir, "campaign.journal.db")
	f.sb = sandbox.New(cfg.sandbox)
	ln, err := listenShared("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.gone = &atomic.Bool{}
	f.srv = httptest.NewUnstartedServer(f.handler(f.gone))
	f.srv.Listener.Close()
	f.srv.Listener = ln
	f.srv.Start()
	f.url = f.srv.URL
	t.Cleanup(f.close)

	if cfg.copyFrom != "" {
		if err := copyTree(cfg.copyFrom, f.dir); err != nil {
			t.Fatal(err)
		}
		return f
	}
	subject := cfg.subject
	if subject == "" {
		subject = "Avviso di pagamento {{.codice}}"
	}
	timeout := ""
	if cfg.timeout != "" {
		timeout = "  timeout: " + cfg.timeout + "\n"
	}
	var csv strings.Builder
	csv.WriteString("codice,pec,nome\n")
	for i := 1; i <= cfg.rows; i++ {
		fmt.Fprintf(&csv, "%s,%s,Destinatario %d\n", relKey(i), relAddress(i), i)
	}
	files := map[string]string{
		"campaign.yaml":   fmt.Sprintf(relCampaignYAML, timeout, subject, cfg.rate, cfg.window, cfg.maxErrors),
		"destinatari.csv": csv.String(),
		"corpo.html":      "<p>Gentile {{.nome}},</p>\n<p>le comunichiamo l'avviso {{.codice}}.</p>\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(f.dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func relKey(i int) string     { return fmt.Sprintf("R%04d", i) }
func relAddress(i int) string { return fmt.Sprintf("dest%04d@pec.example.it", i) }

func (f *relFixture) close() {
	f.mu.Lock()
	p, srv, reserved := f.proc, f.srv, f.reserved
	f.mu.Unlock()
	if p != nil {
		_ = p.Kill()
	}
	if reserved != nil {
		reserved()
	}
	srv.CloseClientConnections()
	srv.Close()
}

// setHook installs h (nil: none) and restarts its request counts.
func (f *relFixture) setHook(h relHook) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook = h
	f.counts = map[string]int{}
}

// requests returns how many requests of kind reached the server since the
// hook was last set.
func (f *relFixture) requests(kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[kind]
}

func relKind(r *http.Request) string {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/send":
		return "send"
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/send/"):
		return "poll"
	case strings.HasPrefix(r.URL.Path, "/inbox"):
		return "inbox"
	}
	return "other"
}

func (f *relFixture) serve(w http.ResponseWriter, r *http.Request) {
	kind := relKind(r)
	f.mu.Lock()
	f.counts[kind]++
	c := &relCall{Kind: kind, N: f.counts[kind], W: w, R: r, f: f}
	h := f.hook
	f.mu.Unlock()
	if kind == "send" {
		sw := &statusWriter{ResponseWriter: w}
		c.W = sw
		defer func() {
			f.mu.Lock()
			f.answered[sw.status]++
			f.mu.Unlock()
		}()
	}
	if h != nil && h(c) {
		return
	}
	if kind == "poll" && f.holding() {
		c.pass()
		return
	}
	f.sb.ServeHTTP(c.W, r)
}

// holdDeliveries makes the receipt polls of the sends to the addresses
// for which held is true answer without their delivery receipts (as if
// the delivery were late), so that those rows cannot become final and a
// campaign cannot end before the test lets it; nil lets every receipt
// through again. The sandbox itself is untouched: the next polls list
// what was held back.
func (f *relFixture) holdDeliveries(held func(address string) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.holdDelivery = held
}

func (f *relFixture) holding() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.holdDelivery != nil
}

// holdBack removes from rec, the sandbox's answer to the poll r, the
// delivery receipts holdDeliveries holds back.
func (f *relFixture) holdBack(r *http.Request, rec *httptest.ResponseRecorder) *httptest.ResponseRecorder {
	f.mu.Lock()
	held := f.holdDelivery
	f.mu.Unlock()
	if held == nil || rec.Code != http.StatusOK {
		return rec
	}
	code := strings.TrimPrefix(r.URL.Path, "/send/")
	hold := false
	for _, s := range f.sb.Sends() {
		if s.Code == code && slices.ContainsFunc(s.Recipients, held) {
			hold = true
		}
	}
	if !hold {
		return rec
	}
	status, body, _, err := withoutDeliveries(rec.Body.Bytes())
	if err != nil {
		f.t.Errorf("poll %s: %v", code, err)
		return rec
	}
	out := httptest.NewRecorder()
	maps.Copy(out.Header(), rec.Header())
	out.Header().Del("Content-Length")
	out.Code = status
	_, _ = out.Body.Write(body)
	return out
}

// withoutDeliveries returns the sandbox's answer body to a receipt poll
// without its delivery receipts, the status that answer has (404 "Result
// empty" when nothing is left, as the sandbox answers for no receipts),
// and how many receipts it left out.
func withoutDeliveries(body []byte) (int, []byte, int, error) {
	var ans struct {
		Data    []map[string]any `json:"data"`
		Success bool             `json:"success"`
		Message string           `json:"message"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return 0, nil, 0, fmt.Errorf("the sandbox's answer: %w", err)
	}
	n := len(ans.Data)
	ans.Data = slices.DeleteFunc(ans.Data, func(e map[string]any) bool {
		object, _ := e["object"].(string)
		return strings.Contains(object, "CONSEGNA")
	})
	var out any = ans
	status := http.StatusOK
	if len(ans.Data) == 0 {
		out, status = map[string]any{"success": false, "message": "Result empty"}, http.StatusNotFound
	}
	body, err := json.Marshal(out)
	if err != nil {
		return 0, nil, 0, err
	}
	return status, append(body, '\n'), n - len(ans.Data), nil
}

// answers returns how many answers to POST /send had the status code (0:
// the connection was cut without one), since the fixture started.
func (f *relFixture) answers(code int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.answered[code]
}

// statusWriter remembers the status code written; Unwrap lets
// http.ResponseController hijack the connection underneath.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// forward has the sandbox answer the request into a recorder, without
// writing anything to the client yet. dropped says the sandbox itself cut
// the connection (its DropRate): the message was sent, with no answer.
func (c *relCall) forward() (rec *httptest.ResponseRecorder, dropped bool) {
	rec = httptest.NewRecorder()
	defer func() {
		if v := recover(); v != nil {
			if err, ok := v.(error); !ok || !errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			dropped = true
		}
	}()
	c.f.sb.ServeHTTP(rec, c.R)
	if c.Kind == "poll" {
		rec = c.f.holdBack(c.R, rec)
	}
	return rec, false
}

// write sends a recorded answer to the client.
func (c *relCall) write(rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		c.W.Header()[k] = v
	}
	c.W.WriteHeader(rec.Code)
	_, _ = c.W.Write(rec.Body.Bytes())
}

// pass forwards the request and writes the sandbox's answer (or cuts the
// connection if the sandbox dropped it).
func (c *relCall) pass() {
	rec, dropped := c.forward()
	if dropped {
		c.drop()
		return
	}
	c.write(rec)
}

// drop closes the connection without an answer.
func (c *relCall) drop() {
	conn, _, err := http.NewResponseController(c.W).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// answer writes a JSON answer with the given status and raw body.
func (c *relCall) answer(status int, body string, header ...string) {
	for i := 0; i+1 < len(header); i += 2 {
		c.W.Header().Set(header[i], header[i+1])
	}
	if c.W.Header().Get("Content-Type") == "" {
		c.W.Header().Set("Content-Type", "application/json")
	}
	c.W.WriteHeader(status)
	_, _ = c.W.Write([]byte(body))
}

// kill sends SIGKILL to the running pecbatch process and waits until it is
// dead, so that what the handler does next (answer, cut) happens after.
func (c *relCall) kill() bool { return c.f.killRunning() }

func (f *relFixture) killRunning() bool {
	f.mu.Lock()
	p, exited := f.proc, f.exited
	f.mu.Unlock()
	if p == nil {
		return false
	}
	if err := p.Signal(syscall.SIGKILL); err != nil {
		return false
	}
	// What the caller does next (answer, cut) must come after the death:
	// only a hang makes the wait end otherwise, and then the test fails.
	select {
	case <-exited:
	case <-time.After(2 * time.Minute):
		f.t.Errorf("pecbatch still ran 2 min after SIGKILL")
	}
	return true
}

// relResult is how a pecbatch process ended.
type relResult struct {
	code           int
	stdout, stderr string
	// signal is the signal that ended the process, if one did.
	signal syscall.Signal
}

func (r relResult) String() string {
	s := fmt.Sprintf("exit status %d", r.code)
	if r.signal != 0 {
		s = "killed by " + r.signal.String()
	}
	return s + "\nstdout:\n" + r.stdout + "\nstderr:\n" + r.stderr
}

// env is the environment of a pecbatch process of the fixture: nothing of
// the caller's but PATH and HOME.
func (f *relFixture) env() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + f.dir,
		"PECMASSIVA_URL=" + f.url,
		"PECMASSIVA_TOKEN=" + f.token,
		"PEC_USERNAME=" + f.username,
		"PEC_PASSWORD=" + f.cfg.sandbox.Password,
	}
	return append(env, f.extraEnv...)
}

// setToken changes the token the next runs are given.
func (f *relFixture) setToken(token string) {
	f.mu.Lock()
	f.token = token
	f.mu.Unlock()
}

// start starts `pecbatch args...`; wait returns how it ended. Only one
// process at a time is the fixture's "running" one, the one hooks kill.
func (f *relFixture) start(args ...string) (wait func() relResult) {
	f.t.Helper()
	cmd := exec.Command(f.bin, args...)
	cmd.Env = f.env()
	cmd.Dir = f.dir
	var stdout, stderr testutil.LockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	exited := make(chan struct{})
	f.mu.Lock()
	f.proc, f.exited, f.stderr = cmd.Process, exited, &stderr
	f.mu.Unlock()
	done := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		close(exited)
		done <- err
	}()
	var once sync.Once
	var res relResult
	return func() relResult {
		once.Do(func() {
			var err error
			select {
			case err = <-done:
			case <-time.After(2 * time.Minute):
				_ = cmd.Process.Kill()
				err = <-done
				f.t.Fatalf("pecbatch %s did not finish in 2 minutes (%v):\nstdout:\n%s\nstderr:\n%s",
					strings.Join(args, " "), err, stdout.String(), stderr.String())
			}
			f.mu.Lock()
			if f.proc == cmd.Process {
				f.proc = nil
			}
			f.mu.Unlock()
			res = relResult{stdout: stdout.String(), stderr: stderr.String()}
			var exitErr *exec.ExitError
			switch {
			case err == nil:
			case errors.As(err, &exitErr):
				res.code = exitErr.ExitCode()
				if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					res.signal = ws.Signal()
				}
			default:
				f.t.Fatal(err)
			}
		})
		return res
	}
}

// run runs `pecbatch args...` to its end.
func (f *relFixture) run(args ...string) relResult {
	f.t.Helper()
	return f.start(args...)()
}

// runCampaign runs `pecbatch run` on the campaign with extra flags.
func (f *relFixture) runCampaign(flags ...string) relResult {
	f.t.Helper()
	return f.run(append([]string{"run", f.file, "--yes"}, flags...)...)
}

// relSummary is what verify measured.
type relSummary struct {
	sends, duplicates, missing, receipts int
}

// sendsByAddress groups the sandbox's sends by recipient.
func (f *relFixture) sendsByAddress() map[string][]sandbox.Send {
	out := map[string][]sandbox.Send{}
	for _, s := range f.sb.Sends() {
		for _, a := range s.Recipients {
			a = strings.ToLower(a)
			out[a] = append(out[a], s)
		}
	}
	return out
}

// checkNoDuplicates fails the test if the sandbox sent any row twice or
// sent anything that is not a row of the campaign. It is true at every
// moment, not only at the end.
func (f *relFixture) checkNoDuplicates() {
	f.t.Helper()
	by := f.sendsByAddress()
	for a, sends := range by {
		if len(sends) > 1 {
			codes := make([]string, len(sends))
			for i, s := range sends {
				codes[i] = s.Code
			}
			f.t.Errorf("%s was sent %d times: %v", a, len(sends), codes)
		}
	}
	if len(f.sb.Sends()) > f.cfg.rows {
		f.t.Errorf("the sandbox sent %d messages for %d rows", len(f.sb.Sends()), f.cfg.rows)
	}
}

// verify checks the end of a campaign: every row was sent exactly once
// (by the sandbox's own record), the journal has every row delivered with
// the code the sandbox gave its message, and the journal's receipt archive
// holds exactly the receipts GET /send/{code} lists for that code, each
// once.
func (f *relFixture) verify() relSummary {
	f.t.Helper()
	t := f.t
	ctx := f.t.Context()
	var sum relSummary
	by := f.sendsByAddress()
	sum.sends = len(f.sb.Sends())
	for i := 1; i <= f.cfg.rows; i++ {
		switch n := len(by[relAddress(i)]); {
		case n == 0:
			sum.missing++
			t.Errorf("row %d (%s) was never sent", i, relAddress(i))
		case n > 1:
			sum.duplicates += n - 1
			t.Errorf("row %d (%s) was sent %d times", i, relAddress(i), n)
		}
	}
	if sum.sends != f.cfg.rows {
		t.Errorf("the sandbox sent %d messages for %d rows", sum.sends, f.cfg.rows)
	}

	r, err := journal.OpenReadOnly(ctx, f.journal)
	if err != nil {
		t.Fatalf("open the journal: %v", err)
	}
	defer r.Close()
	rows, err := r.RowsInState(ctx, 0, journal.States()...)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != f.cfg.rows {
		t.Fatalf("the journal has %d rows, the campaign %d", len(rows), f.cfg.rows)
	}
	cl, err := client.NewClient(f.url, client.WithToken(f.sandboxToken()),
		client.WithCredentials(f.cfg.sandbox.Username, f.cfg.sandbox.Password), client.WithSendRate(0))
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		if len(row.Recipients) != 1 {
			t.Errorf("row %s has recipients %v", row.Key, row.Recipients)
			continue
		}
		sends := by[strings.ToLower(row.Recipients[0])]
		if len(sends) != 1 {
			continue // reported above
		}
		if row.MessageID != sends[0].Code {
			t.Errorf("row %s: the journal has message id %q, the sandbox sent it as %s", row.Key, row.MessageID, sends[0].Code)
		}
		if row.State != journal.StateDelivered {
			t.Errorf("row %s is %s (%s), want delivered", row.Key, row.State, row.LastError)
		}
		// The receipt archive against the mailbox.
		want, err := cl.Receipts(ctx, sends[0].Code)
		if err != nil {
			t.Fatalf("GET /send/%s: %v", sends[0].Code, err)
		}
		got, err := r.Receipts(ctx, row.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantKeys := make([]string, len(want))
		for i, rc := range want {
			wantKeys[i] = rc.Subject + " | " + rc.DateText
		}
		gotKeys := make([]string, len(got))
		for i, rc := range got {
			gotKeys[i] = rc.Subject + " | " + rc.DateText
		}
		slices.Sort(wantKeys)
		slices.Sort(gotKeys)
		if !slices.Equal(wantKeys, gotKeys) {
			t.Errorf("row %s: the journal archived receipts\n  %s\nthe mailbox has\n  %s", row.Key,
				strings.Join(gotKeys, "\n  "), strings.Join(wantKeys, "\n  "))
		}
		if row.Receipts != len(got) {
			t.Errorf("row %s counts %d receipts, the archive holds %d", row.Key, row.Receipts, len(got))
		}
		sum.receipts += len(got)
	}
	return sum
}

// sandboxToken is the token the sandbox accepts now (after a rotation, the
// fixture's runs are given it).
func (f *relFixture) sandboxToken() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.token
}

// journalRow reads one row of the journal by key.
func (f *relFixture) journalRow(key string) journal.Row {
	f.t.Helper()
	ctx := f.t.Context()
	r, err := journal.OpenReadOnly(ctx, f.journal)
	if err != nil {
		f.t.Fatal(err)
	}
	defer r.Close()
	row, err := r.RowByKey(ctx, key)
	if err != nil {
		f.t.Fatal(err)
	}
	return row
}

// status runs `pecbatch status --json` and decodes it.
func (f *relFixture) status() (*relStatus, relResult) {
	f.t.Helper()
	res := f.run("status", f.file, "--json")
	if res.code != 0 {
		return nil, res
	}
	var st relStatus
	if err := json.Unmarshal([]byte(res.stdout), &st); err != nil {
		f.t.Fatalf("status --json: %v\n%s", err, res.stdout)
	}
	return &st, res
}

// relStatus is the part of `status --json` the suites read.
type relStatus struct {
	Rows   int            `json:"rows"`
	Counts map[string]int `json:"counts"`
	Final  int            `json:"final"`
}

// stopListening closes the server: the listener and every connection.
// A socket bound to the port, not listening, holds it until listenAgain:
// connections are refused as by a server that is gone, and no other
// program can take the port meanwhile.
func (f *relFixture) stopListening() {
	f.mu.Lock()
	srv := f.srv
	f.gone.Store(true)
	f.mu.Unlock()
	release, err := reservePort(srv.Listener.Addr().(*net.TCPAddr))
	if err != nil {
		f.t.Errorf("stop listening: %v", err)
		release = func() {}
	}
	f.mu.Lock()
	f.reserved = release
	f.mu.Unlock()
	// The listener first: a connection made while the others close must
	// be refused, not accepted.
	srv.Listener.Close()
	srv.CloseClientConnections()
}

// listenAgain serves again on the same address after stopListening.
func (f *relFixture) listenAgain() error {
	addr := strings.TrimPrefix(f.url, "http://")
	var ln net.Listener
	var err error
	// Where the port is held (Linux) the first attempt binds; elsewhere
	// another program may hold it for a while.
	for range 50 {
		if ln, err = listenShared(addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("listen again on %s: %w", addr, err)
	}
	gone := &atomic.Bool{}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: f.handler(gone)}}
	srv.Start()
	f.mu.Lock()
	old, release := f.srv, f.reserved
	f.srv, f.reserved, f.gone = srv, nil, gone
	f.mu.Unlock()
	if release != nil {
		release()
	}
	old.Close()
	return nil
}

// waitStderr waits until the running process has written want to its
// standard error: the event a hook acts on next. It runs in the server's
// goroutines, so it reports a hang with Errorf, not Fatal; the bound only
// catches a hang, far beyond what any loaded machine needs.
func (f *relFixture) waitStderr(want string) bool {
	f.mu.Lock()
	stderr, exited := f.stderr, f.exited
	f.mu.Unlock()
	if stderr == nil {
		f.t.Errorf("no process to wait for %q from", want)
		return false
	}
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(stderr.String(), want) {
		select {
		case <-exited:
			if strings.Contains(stderr.String(), want) {
				return true
			}
			f.t.Errorf("pecbatch exited without writing %q:\n%s", want, stderr.String())
			return false
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			f.t.Errorf("pecbatch did not write %q within a minute:\n%s", want, stderr.String())
			return false
		}
	}
	return true
}

// waitExited waits until the running process has ended.
func (f *relFixture) waitExited() {
	f.t.Helper()
	f.mu.Lock()
	exited := f.exited
	f.mu.Unlock()
	if exited == nil {
		return
	}
	select {
	case <-exited:
	case <-time.After(time.Minute):
		f.t.Error("pecbatch did not exit within a minute")
	}
}

// signalRunning sends sig to the running pecbatch process.
func (f *relFixture) signalRunning(sig os.Signal) {
	f.mu.Lock()
	p := f.proc
	f.mu.Unlock()
	if p != nil {
		_ = p.Signal(sig)
	}
}

// wantExit fails the test unless res ended with the exit status code.
func wantExit(t *testing.T, what string, res relResult, code int) {
	t.Helper()
	if res.signal != 0 || res.code != code {
		t.Fatalf("%s: want exit status %d, got %s", what, code, res)
	}
}
