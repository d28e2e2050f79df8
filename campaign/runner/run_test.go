package runner

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/journal"
)

func TestRunHappyPath(t *testing.T) {
	f := newFixture(t, fastSandbox(), csvRows(5, "pec.example.it")...)
	res, out, err := f.run(t.Context(), testRun{Report: "default"})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	if res.Sent != 5 || res.Counts[journal.StateDelivered] != 5 {
		t.Errorf("sent %d, counts %v; want 5 delivered", res.Sent, res.Counts)
	}
	f.checkExactlyOnce(5)
	if len(res.Reports) != 2 {
		t.Errorf("reports %v, want the CSV and the HTML", res.Reports)
	}
	if p := f.rec.plan(); p.ToSend != 5 || p.Rows != 5 {
		t.Errorf("plan %+v, want 5 rows to send", p)
	}
	for _, want := range []NoteKind{NoteReport, NoteCounts} {
		if !f.rec.noted(want) {
			t.Errorf("no %s note:\n%s", want, out)
		}
	}
	if f.rec.steps[PhaseSending] != 5 {
		t.Errorf("sending progress reached %d of 5", f.rec.steps[PhaseSending])
	}
	if res.Stats.Sends != 5 || res.Stats.Polls < 5 {
		t.Errorf("stats %+v", res.Stats)
	}

	// A second run has nothing to send and the same outcome.
	res, out, err = f.run(t.Context(), testRun{})
	if err != nil || res.Sent != 0 {
		t.Fatalf("second run: sent %d, %v\n%s", res.Sent, err, out)
	}
	f.checkExactlyOnce(5)
}

// TestRunRejected: a 400 rejects its row with the API's message, and the
// run goes on with the others.
func TestRunRejected(t *testing.T) {
	f := newFixture(t, fastSandbox(), csvRows(4, "pec.example.it")...)
	f.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if isSend(r) && r.ContentLength > 0 {
			body := readBody(t, r)
			if strings.Contains(body, "Sollecito P002") || strings.Contains(body, "Sollecito P003") {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(400)
				_, _ = w.Write([]byte(`{"success":false,"message":"Post parameter is not valid"}`))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
	res, out, err := f.run(t.Context(), testRun{})
	if !errors.Is(err, campaign.ErrRowsFailed) {
		t.Fatalf("Run: %v, want campaign.ErrRowsFailed\n%s", err, out)
	}
	st := f.rowsByKey()
	for key, want := range map[string]journal.State{"P001": journal.StateDelivered, "P002": journal.StateRejected,
		"P003": journal.StateRejected, "P004": journal.StateDelivered} {
		if st[key].State != want {
			t.Errorf("%s is %s, want %s", key, st[key].State, want)
		}
	}
	if !strings.Contains(st["P002"].LastError, "Post parameter is not valid") {
		t.Errorf("P002 error %q lacks the API's message", st["P002"].LastError)
	}
	if res.Sent != 2 {
		t.Errorf("sent %d, want 2", res.Sent)
	}
	f.checkExactlyOnce(2)
}

// TestRunUnauthorized: a 401 stops the run at once with the row back to
// pending; once the credentials are right, the run resumes and finishes.
func TestRunUnauthorized(t *testing.T) {
	f := newFixture(t, fastSandbox(), csvRows(5, "pec.example.it")...)
	var sends atomic.Int32
	f.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if isSend(r) && sends.Add(1) == 3 {
			f.sb.SetToken("rotated-token") // the token is revoked mid-run
		}
		next.ServeHTTP(w, r)
	})
	_, out, err := f.run(t.Context(), testRun{})
	if err == nil || errors.Is(err, campaign.ErrInterrupted) || !strings.Contains(err.Error(), "credentials") ||
		!strings.Contains(err.Error(), "api.token") {
		t.Fatalf("Run: %v, want a credentials error\n%s", err, out)
	}
	states := f.states()
	if countStates(states, journal.StatePending) != 3 || countStates(states, journal.StateSending) != 0 {
		t.Errorf("states %v, want 2 sent and 3 pending", states)
	}
	f.checkExactlyOnce(2)

	f.sb.SetToken("sandbox-token")
	f.setWrap(nil)
	res, out, err := f.run(t.Context(), testRun{})
	if err != nil {
		t.Fatalf("resumed run: %v\n%s", err, out)
	}
	if res.Sent != 3 || res.Counts[journal.StateDelivered] != 5 {
		t.Errorf("resumed run sent %d, counts %v", res.Sent, res.Counts)
	}
	f.checkExactlyOnce(5)
}

// TestRunRateLimited: a sandbox stricter than the client answers 429; the
// same row is sent again after the wait, and nothing is sent twice.
func TestRunRateLimited(t *testing.T) {
	opts := fastSandbox()
	opts.SendRate = 4 // the client sends at 10/s
	f := newFixture(t, opts, csvRows(4, "pec.example.it")...)
	f.rate = "10/s"
	f.writeCampaign()
	var throttled atomic.Int32
	f.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if isSend(r) && rec.status == http.StatusTooManyRequests {
			throttled.Add(1)
		}
	})
	res, out, err := f.run(t.Context(), testRun{NoWait: true})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	if throttled.Load() == 0 {
		t.Errorf("the sandbox never answered 429: the test proves nothing")
	}
	if res.Sent != 4 {
		t.Errorf("sent %d, want 4", res.Sent)
	}
	f.checkExactlyOnce(4)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// faultOn answers the sends of the given subjects with fault while on is
// set: "500" (the sandbox does not see the request) or "drop" (the sandbox
// sends the message, then the connection closes without an answer).
func faultOn(t *testing.T, f *fixture, fault string, on *atomic.Bool, subjects ...string) {
	f.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if !isSend(r) || !on.Load() {
			next.ServeHTTP(w, r)
			return
		}
		body := readBody(t, r)
		hit := false
		for _, s := range subjects {
			hit = hit || strings.Contains(body, `"subject":"`+s+`"`)
		}
		switch {
		case !hit:
			next.ServeHTTP(w, r)
		case fault == "500":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(500)
			_, _ = w.Write([]byte(`{"success":false,"message":"MySQL Error 2006"}`))
		default:
			next.ServeHTTP(httptest.NewRecorder(), r)
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			conn.Close()
		}
	})
}

// TestRunServerErrors: a 500 leaves the row unknown; reconciliation finds
// no acceptance, the run ends with the rows unknown, and only
// --resend-unknown, once the window has passed, sends them again: each
// exactly once in the end.
func TestRunServerErrors(t *testing.T) {
	f := newFixture(t, fastSandbox(), csvRows(6, "pec.example.it")...)
	f.window = "1m"
	f.writeCampaign()
	var on atomic.Bool
	on.Store(true)
	faultOn(t, f, "500", &on, "Sollecito P002", "Sollecito P005")

	res, out, err := f.run(t.Context(), testRun{NoWait: true})
	if !errors.Is(err, campaign.ErrRowsUnknown) {
		t.Fatalf("Run: %v, want campaign.ErrRowsUnknown\n%s", err, out)
	}
	if res.Counts[journal.StateUnknown] != 2 || res.Sent != 4 {
		t.Fatalf("sent %d, counts %v; want 4 sent and 2 unknown", res.Sent, res.Counts)
	}
	f.checkExactlyOnce(4)
	on.Store(false)

	// Without --resend-unknown nothing is sent again; with it, not before
	// the window has passed.
	for _, resend := range []bool{false, true} {
		res, out, err = f.run(t.Context(), testRun{ResendUnknown: resend, NoWait: true})
		if !errors.Is(err, campaign.ErrRowsUnknown) || res.Sent != 0 {
			t.Fatalf("run (resend %v): sent %d, %v\n%s", resend, res.Sent, err, out)
		}
	}
	if !f.rec.noted(NoteWithinWindow) {
		t.Errorf("output does not say why the rows are not resent:\n%s", out)
	}
	f.checkExactlyOnce(4)

	// Two minutes later, the window has passed. (--no-wait: on a clock two
	// minutes ahead, tracking would take the rows sent by the first run for
	// late ones and poll them slowly; tracking is tested elsewhere.)
	res, out, err = f.run(t.Context(), testRun{ResendUnknown: true, NoWait: true, Clock: offsetClock(2 * time.Minute)})
	if err != nil {
		t.Fatalf("resend run: %v\n%s", err, out)
	}
	if res.Sent != 2 || res.Counts[journal.StateUnknown] != 0 || f.rec.plan().Resend != 2 {
		t.Errorf("resend run sent %d, counts %v\n%s", res.Sent, res.Counts, out)
	}
	f.checkExactlyOnce(6)
}

// offsetClock is the system clock moved forward by a fixed offset.
type offsetClock time.Duration

func (o offsetClock) Now() time.Time                         { return time.Now().Add(time.Duration(o)) }
func (o offsetClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// TestRunDroppedConnections: the sandbox sends the message and the
// connection drops: the row is unknown, and reconciliation finds its
// acceptance and recovers the right code; nothing is sent twice.
func TestRunDroppedConnections(t *testing.T) {
	f := newFixture(t, fastSandbox(), csvRows(6, "pec.example.it")...)
	// The window only bounds the search against a hang: each acceptance
	// arrives 20 ms after its send, and the search ends when it finds
	// them, however long a loaded machine takes to get there.
	f.window = "2m"
	f.writeCampaign()
	var on atomic.Bool
	on.Store(true)
	faultOn(t, f, "drop", &on, "Sollecito P001", "Sollecito P004", "Sollecito P006")
	res, out, err := f.run(t.Context(), testRun{})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	if res.Counts[journal.StateDelivered] != 6 || res.Stats.Reconciled != 3 {
		t.Errorf("counts %v, %d reconciled; want 6 delivered, 3 reconciled", res.Counts, res.Stats.Reconciled)
	}
	f.checkExactlyOnce(6)
}

func readBody(t *testing.T, r *http.Request) string {
	t.Helper()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := r.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	r.Body = nopCloser{strings.NewReader(b.String())}
	return b.String()
}

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }

// TestRunSandboxDropRate: the sandbox's own fault injection (seeded):
// dropped sends are reconciled with the right code, nothing sent twice.
func TestRunSandboxDropRate(t *testing.T) {
	opts := fastSandbox()
	opts.DropRate = 0.3
	opts.Seed = 5
	f := newFixture(t, opts, csvRows(10, "pec.example.it")...)
	f.window = "2m" // a bound against a hang only (TestRunDroppedConnections)
	f.writeCampaign()
	res, out, err := f.run(t.Context(), testRun{})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	if res.Stats.Reconciled == 0 {
		t.Fatalf("no send was dropped: the seed proves nothing\n%s", out)
	}
	if res.Counts[journal.StateDelivered] != 10 {
		t.Errorf("counts %v", res.Counts)
	}
	f.checkExactlyOnce(10)
}

func TestPacedRate(t *testing.T) {
	tests := []struct {
		limit, want float64
	}{
		{1, 1 / 1.01},    // 1 % of a second
		{0.5, 1 / 2.02},  // 1 % of two seconds
		{20, 1 / 0.055},  // 50 ms + at least 5 ms
		{100, 1 / 0.015}, // 10 ms + 5 ms
		{0, 0},           // no pacing stays no pacing
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.limit), func(t *testing.T) {
			got := pacedRate(tt.limit)
			if math.Abs(got-tt.want) > 1e-9*max(1, tt.want) {
				t.Errorf("pacedRate(%v) = %v, want %v", tt.limit, got, tt.want)
			}
			if tt.limit > 0 && got >= tt.limit {
				t.Errorf("pacedRate(%v) = %v is not below the limit", tt.limit, got)
			}
		})
	}
}
