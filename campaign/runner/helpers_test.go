package runner

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/client/sandbox"
	"github.com/pecbatch/pecbatch/internal/testutil"
	"github.com/pecbatch/pecbatch/journal"
)

// testCampaignYAML is the campaign file of the runner tests; %s is the
// extra settings of a test (indented under nothing: whole sections).
const testCampaignYAML = `name: prova-runner
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
  subject: "%s"
  body: corpo.html
sending:
  rate: %s
  reconcile_window: %s
  max_consecutive_errors: %d
tracking:
  poll_rate: 200/s
  delete_receipts: %v
`

// fixture is a campaign folder and a sandbox serving the API for it.
type fixture struct {
	t    *testing.T
	dir  string
	sb   *sandbox.Server
	srv  *httptest.Server
	mu   sync.Mutex
	wrap func(w http.ResponseWriter, r *http.Request, next http.Handler)

	subject        string
	rate           string
	window         string
	maxConsecutive int
	deleteReceipts bool
	// rec is the Printer of the last run or poll.
	rec *recorder
}

// fastSandbox returns sandbox options with short delays for tests on the
// real clock.
func fastSandbox() sandbox.Options {
	o := sandbox.DefaultOptions()
	o.AcceptDelay = 20 * time.Millisecond
	o.DeliverDelay = 60 * time.Millisecond
	o.SendRate = 0
	return o
}

// newFixture writes a campaign of the given CSV rows ("id,pec,nome" lines
// without the header) and starts a sandbox with opts.
func newFixture(t *testing.T, opts sandbox.Options, rows ...string) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), subject: "Sollecito {{.id}}", rate: "200/s", window: "1s", maxConsecutive: 10}
	f.sb = sandbox.New(opts)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		wrap := f.wrap
		f.mu.Unlock()
		if wrap != nil {
			wrap(w, r, f.sb)
			return
		}
		f.sb.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	f.writeRows(rows...)
	f.write("corpo.html", "<p>Gentile {{.nome}}, le scriviamo per la pratica {{.id}}.</p>\n")
	f.writeCampaign()
	return f
}

func (f *fixture) write(name, content string) {
	f.t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, name), []byte(content), 0o600); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) writeRows(rows ...string) {
	f.write("destinatari.csv", "id,pec,nome\n"+strings.Join(rows, "\n")+"\n")
}

func (f *fixture) writeCampaign() {
	f.write("campaign.yaml", fmt.Sprintf(testCampaignYAML, f.subject, f.rate, f.window, f.maxConsecutive, f.deleteReceipts))
}

// setWrap makes the server call wrap for every request instead of the
// sandbox directly (nil restores the sandbox).
func (f *fixture) setWrap(wrap func(w http.ResponseWriter, r *http.Request, next http.Handler)) {
	f.mu.Lock()
	f.wrap = wrap
	f.mu.Unlock()
}

func (f *fixture) env(name string) (string, bool) {
	v, ok := map[string]string{
		"PECMASSIVA_URL":   f.srv.URL,
		"PECMASSIVA_TOKEN": "sandbox-token",
		"PEC_USERNAME":     "sandbox@pec.sandbox.test",
		"PEC_PASSWORD":     "sandbox",
	}[name]
	return v, ok
}

func (f *fixture) campaign() *campaign.Campaign {
	f.t.Helper()
	c, err := campaign.LoadFile(filepath.Join(f.dir, "campaign.yaml"), campaign.LoadOptions{LookupEnv: f.env})
	if err != nil {
		f.t.Fatalf("LoadFile: %v", err)
	}
	return c
}

// testRun is what a test sets of a run or a poll: the options of the
// operation and the dependencies tests vary.
type testRun struct {
	Limit         int
	NoWait        bool
	ResendUnknown bool
	AllowChanges  bool
	// AllowDuplicateContent is RunOptions.AllowDuplicateContent.
	AllowDuplicateContent bool
	Confirm               func(Plan) (bool, error)
	Clock                 Clock
	Endpoint              string
	// Journal overrides sending.journal (another campaign on the same
	// mailbox); LedgerPath the fixture's claim ledger.
	Journal    string
	LedgerPath string
	// Report is "" for no report, "default" for the reports next to the
	// journal.
	Report string
}

// deps returns the Deps of a test run: a recorder as the Printer, writing
// the notes to w beside the log.
func (o testRun) deps(w io.Writer, rec *recorder, acceptDelay time.Duration) Deps {
	if o.LedgerPath == "" {
		// The runner's default is the user's own ledger: a test writing
		// there shares claims with every other run on the machine.
		panic("testRun.deps: no LedgerPath (use the fixture's f.ledgerPath())")
	}
	d := Deps{Endpoint: o.Endpoint, Clock: o.Clock, Seed: 1, Logger: slogTo(w), Printer: rec,
		Tuning: Tuning{AcceptanceDelay: acceptDelay}, LedgerPath: o.LedgerPath}
	if o.Report == "default" {
		d.SaveReports = func(ctx context.Context, r *journal.Reader, name string) ([]string, error) {
			var paths []string
			for _, ext := range []string{".csv", ".html"} {
				p := filepath.Join(filepath.Dir(r.Path()), name+"-report"+ext)
				if err := os.WriteFile(p, []byte("report\n"), 0o644); err != nil {
					return paths, err
				}
				paths = append(paths, p)
			}
			return paths, nil
		}
	}
	return d
}

// recorder is the Printer of the tests: it keeps what it is told, and
// writes the notes' text to w so that a failing test shows them in order
// with the log.
type recorder struct {
	w     io.Writer
	mu    sync.Mutex
	plans []Plan
	notes []Note
	steps map[string]int
}

func newRecorder(w io.Writer) *recorder { return &recorder{w: w, steps: map[string]int{}} }

func (r *recorder) Plan(p Plan) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.plans = append(r.plans, p)
	fmt.Fprintf(r.w, "plan: %+v\n", p)
}

func (r *recorder) Start(phase string, total, before int) {}

func (r *recorder) Step(phase string, done, total int, detail string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.steps[phase] = max(r.steps[phase], done)
}

func (r *recorder) End(phase string) {}

func (r *recorder) Note(n Note) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, n)
	fmt.Fprintf(r.w, "%s\n", n.Text)
}

// plan returns the last plan told.
func (r *recorder) plan() Plan {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.plans) == 0 {
		return Plan{}
	}
	return r.plans[len(r.plans)-1]
}

// noted reports whether a note of kind was told.
func (r *recorder) noted(kind NoteKind) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.ContainsFunc(r.notes, func(n Note) bool { return n.Kind == kind })
}

// run runs the campaign with o completed for tests; it returns the
// recorder in f.rec.
func (f *fixture) run(ctx context.Context, o testRun) (*Result, string, error) {
	f.t.Helper()
	sw := &testutil.LockedBuffer{}
	f.rec = newRecorder(sw)
	if o.LedgerPath == "" {
		o.LedgerPath = f.ledgerPath()
	}
	res, err := Run(ctx, f.campaign(), o.deps(sw, f.rec, 40*time.Millisecond), RunOptions{Limit: o.Limit, NoWait: o.NoWait,
		ResendUnknown: o.ResendUnknown, AllowChanges: o.AllowChanges, AllowDuplicateContent: o.AllowDuplicateContent,
		Confirm: o.Confirm, Journal: o.Journal})
	return res, sw.String(), err
}

// ledgerPath is the fixture's claim ledger: every journal of the fixture
// sends from one mailbox, and no test writes to the user's own ledger.
func (f *fixture) ledgerPath() string { return filepath.Join(f.dir, "ledger", "mailbox.db") }

// slogTo returns a debug logger writing to w.
func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// rowsByKey reads every journal row.
func (f *fixture) rowsByKey() map[string]journal.Row {
	f.t.Helper()
	path := f.campaign().Sending.Journal
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return map[string]journal.Row{}
	}
	r, err := journal.OpenReadOnly(f.t.Context(), path)
	if err != nil {
		f.t.Fatal(err)
	}
	defer r.Close()
	rows, err := r.RowsInState(f.t.Context(), 0, journal.States()...)
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]journal.Row{}
	for _, row := range rows {
		out[row.Key] = row
	}
	return out
}

// checkExactlyOnce asserts that the sandbox sent each row at most once,
// exactly once for every row the journal says was submitted (or later),
// and that the journal's message ids are the sandbox's codes.
func (f *fixture) checkExactlyOnce(wantSent int) {
	f.t.Helper()
	sends := f.sb.Sends()
	bySubject := map[string][]sandbox.Send{}
	for _, s := range sends {
		bySubject[s.Subject] = append(bySubject[s.Subject], s)
	}
	for subject, ss := range bySubject {
		if len(ss) > 1 {
			f.t.Errorf("%q was sent %d times", subject, len(ss))
		}
	}
	if len(sends) != wantSent {
		f.t.Errorf("the sandbox sent %d messages, want %d", len(sends), wantSent)
	}
	for key, row := range f.rowsByKey() {
		ss := bySubject[row.Subject]
		switch {
		case row.State.Tracked() && (len(ss) != 1 || ss[0].Code != row.MessageID):
			f.t.Errorf("row %s is %s with message id %q, but the sandbox sent %v", key, row.State, row.MessageID, ss)
		case row.State == journal.StatePending || row.State == journal.StateRejected:
			if len(ss) != 0 {
				f.t.Errorf("row %s is %s, but the sandbox sent it: %v", key, row.State, ss)
			}
		}
	}
}

func (f *fixture) states() map[string]journal.State {
	out := map[string]journal.State{}
	for k, r := range f.rowsByKey() {
		out[k] = r.State
	}
	return out
}

func csvRows(n int, domain string) []string {
	var rows []string
	for i := 1; i <= n; i++ {
		rows = append(rows, fmt.Sprintf("P%03d,dest%d@%s,Persona %d", i, i, domain, i))
	}
	return rows
}

// awaitReceipts waits until the sandbox's mailbox holds the first receipt
// (the acceptance, or the refusal) of each send with one of codes: what a
// later run must find to reconcile a send whose answer was lost. It asks
// the sandbox itself, so a fault a test sets on the fixture's server is
// not in the way.
func (f *fixture) awaitReceipts(codes ...string) {
	f.t.Helper()
	for _, code := range codes {
		waitFor(f.t, "the acceptance of "+code, func() bool {
			req := httptest.NewRequest(http.MethodGet, "/send/"+code, nil)
			req.Header.Set("Authorization", "Bearer sandbox-token")
			req.Header.Set("x-username", "sandbox@pec.sandbox.test")
			req.Header.Set("x-password", "sandbox")
			rec := httptest.NewRecorder()
			f.sb.ServeHTTP(rec, req)
			return rec.Code == http.StatusOK
		})
	}
}

// isSend reports whether r is a POST /send.
func isSend(r *http.Request) bool { return r.Method == http.MethodPost && r.URL.Path == "/send" }

func countStates(states map[string]journal.State, want journal.State) int {
	n := 0
	for _, s := range states {
		if s == want {
			n++
		}
	}
	return n
}
