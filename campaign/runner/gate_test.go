package runner

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/client"
	"github.com/pecbatch/pecbatch/client/sandbox"
	"github.com/pecbatch/pecbatch/internal/testutil"
	"github.com/pecbatch/pecbatch/journal"
)

// romeAt returns a wall-clock time in Europe/Rome.
func romeAt(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.ParseInLocation("2006-01-02 15:04", s, campaign.Rome())
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// newPacedFixture starts a fixture whose sandbox, runner and journal share
// a frozen testClock that starts at start and moves forward by perSend
// after each POST /send: the sends of a run are perSend apart in the
// campaign's time, whatever the speed of the machine. limit, window and
// pollRate are sending.daily_limit, sending.window and tracking.poll_rate.
func newPacedFixture(t *testing.T, start time.Time, perSend time.Duration, limit int, window, pollRate string, rows ...string) (*fixture, *testClock) {
	t.Helper()
	clk := &testClock{now: start}
	opts := sandbox.DefaultOptions()
	opts.SendRate = 0
	opts.Now = clk.Now
	f := newFixture(t, opts, rows...)
	// The real-time pacing of the client must not be what limits the
	// test: the campaign's time is the clock's.
	f.rate = fmt.Sprintf("5000/s\n  daily_limit: %d\n  window: %q\n  journal: %s", limit, window,
		filepath.Join(ramDir(t), "prova.journal.db"))
	// Few receipt polls: what this fixture proves is when sends start;
	// polling each of thousands of rows would be most of a test's time.
	f.write("campaign.yaml", strings.Replace(fmt.Sprintf(testCampaignYAML, f.subject, f.rate, f.window, f.maxConsecutive,
		f.deleteReceipts), "poll_rate: 200/s", "poll_rate: "+pollRate, 1))
	f.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		next.ServeHTTP(w, r)
		if isSend(r) {
			clk.Advance(perSend)
		}
	})
	return f, clk
}

// ramDir returns a temporary folder in memory where the system has one
// (/dev/shm), else on disk: the journal syncs every write to disk, and
// thousands of sends would make the test minutes long for nothing it
// checks.
func ramDir(t *testing.T) string {
	t.Helper()
	if info, err := os.Stat("/dev/shm"); err == nil && info.IsDir() {
		dir, err := os.MkdirTemp("/dev/shm", "pecbatch-test-") //nolint:usetesting // t.TempDir is on disk: this one must be in memory
		if err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}

// sendsPerDay groups the sandbox's sends by calendar day in Europe/Rome,
// and fails the test for a send outside window.
func sendsPerDay(t *testing.T, f *fixture, window string) map[string]int {
	t.Helper()
	w, err := campaign.ParseWindow(window)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, s := range f.sb.Sends() {
		if !w.Contains(s.Time) {
			t.Errorf("%s was sent at %s, outside the window %q", s.Subject, s.Time.In(campaign.Rome()), window)
		}
		out[s.Time.In(campaign.Rome()).Format("Mon 2006-01-02")]++
	}
	return out
}

// unpacedRun runs f's campaign with --no-wait on clk, with a client that
// does not pace its sends: the client's pacing counts real time, and
// adds at least 5 ms to every interval, which would make 10,000 sends
// take a minute for nothing this test checks (the campaign's clock moves
// 10 s per send anyway).
func unpacedRun(t *testing.T, f *fixture, clk *testClock) (*Result, string, error) {
	t.Helper()
	cl, err := client.NewClient(f.srv.URL, client.WithToken("sandbox-token"),
		client.WithCredentials("sandbox@pec.sandbox.test", "sandbox"), client.WithSendRate(math.Inf(1)))
	if err != nil {
		t.Fatal(err)
	}
	sw := &testutil.LockedBuffer{}
	f.rec = newRecorder(sw)
	d := testRun{Clock: clk, LedgerPath: f.ledgerPath()}.deps(sw, f.rec, 40*time.Millisecond)
	d.Client = cl
	res, err := Run(t.Context(), f.campaign(), d, RunOptions{NoWait: true})
	return res, sw.String(), err
}

// TestDailyLimitAndWindowTenThousand is the campaign of issue 10: 10,000
// rows, 3,500 a day, Monday to Friday 08:00-13:00 and 14:00-20:00, one
// send every 10 s of the campaign's clock, run with --no-wait again and
// again, each time at the time the previous run said. Starting on a Friday
// morning before the window opens, across a weekend and the end of DST,
// every day sends exactly its 3,500 and only inside the window, and the
// journal counts the same.
func TestDailyLimitAndWindowTenThousand(t *testing.T) {
	const window = "mon-fri 08:00-13:00,14:00-20:00"
	start := romeAt(t, "2026-10-23 06:00") // a Friday; DST ends on Sunday the 25th
	f, clk := newPacedFixture(t, start, 10*time.Second, 3500, window, "5/s", csvRows(10_000, "pec.example.it")...)
	wantResumes := []string{
		"2026-10-23 08:00", // the window opens
		"2026-10-23 14:00", // 1,800 sent by 13:00: lunch
		"2026-10-26 08:00", // 3,500 by 18:43: Monday, past the weekend
		"2026-10-26 14:00",
		"2026-10-27 08:00",
		"2026-10-27 14:00",
	}
	var resumes []string
	for run := 0; ; run++ {
		if run > len(wantResumes) {
			t.Fatalf("still paused after %d runs: resumes %v", run, resumes)
		}
		res, out, err := unpacedRun(t, f, clk)
		if run == 0 {
			// At 5000/s each day's 3,500 take a second: Friday, Monday, Tuesday.
			p := f.rec.plan()
			end := start.Add(p.ETA).In(campaign.Rome())
			if p.Days != 5 || p.DailyLimit != 3500 || p.Window != window || end.Format("2006-01-02 15:04") != "2026-10-27 08:00" {
				t.Errorf("plan: %d days, limit %d, window %q, sending ends %s; want 5 days, 3500, %q, Tue 27 Oct 08:00",
					p.Days, p.DailyLimit, p.Window, end, window)
			}
		}
		var paused *PausedError
		if !errors.As(err, &paused) {
			if err != nil {
				t.Fatalf("run %d: %v\n%.3000s", run, err, out)
			}
			if f.rec.noted(NoteSendingPaused) {
				t.Errorf("run %d finished, yet noted a pause", run)
			}
			break
		}
		if !errors.Is(err, campaign.ErrInterrupted) || !f.rec.noted(NoteSendingPaused) {
			t.Errorf("run %d: %v is not resumable, or no note said when to resume", run, err)
		}
		if res.Sent > 3500 {
			t.Errorf("run %d sent %d", run, res.Sent)
		}
		resumes = append(resumes, paused.Resume.In(campaign.Rome()).Format("2006-01-02 15:04"))
		clk.Advance(paused.Resume.Sub(clk.Now()))
	}
	if fmt.Sprint(resumes) != fmt.Sprint(wantResumes) {
		t.Errorf("resumed at %v, want %v", resumes, wantResumes)
	}
	got := sendsPerDay(t, f, window)
	want := map[string]int{"Fri 2026-10-23": 3500, "Mon 2026-10-26": 3500, "Tue 2026-10-27": 3000}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("sends per day %v, want %v", got, want)
	}
	j, err := journal.OpenReadOnly(t.Context(), f.campaign().Sending.Journal)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for _, day := range []string{"2026-10-23 12:00", "2026-10-26 12:00", "2026-10-27 12:00"} {
		n, err := j.SentPerDay(t.Context(), campaign.Rome(), romeAt(t, day))
		if err != nil {
			t.Fatal(err)
		}
		if want := want[romeAt(t, day).Format("Mon 2006-01-02")]; n != want {
			t.Errorf("the journal counts %d sends on %s, want %d", n, day[:10], want)
		}
	}
	f.checkExactlyOnce(10_000)
}

// hangBound is how long a test waits for an event before it calls the
// wait a hang: far longer than any event takes on a loaded machine, so it
// never decides a result, only stops a test that would never end.
const hangBound = 2 * time.Minute

// waitFor waits until cond holds: cond reads the state an event leaves
// (the journal, the recorder, the clock's waiters), so only a hang makes
// the wait fail.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangBound)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s: the run hangs", hangBound, what)
		}
		time.Sleep(pause)
		// Backing off keeps the polling of the journal from competing
		// with the run it waits for on a loaded machine.
		pause = min(2*pause, 20*time.Millisecond)
	}
}

// notesOf returns the texts of the notes of kind told so far.
func (r *recorder) notesOf(kind NoteKind) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, n := range r.notes {
		if n.Kind == kind {
			out = append(out, n.Text)
		}
	}
	return out
}

// TestDailyLimitPausesAndResumes: a run that reaches the daily limit
// pauses, says when it resumes, keeps tracking what it sent, and resumes
// by itself at midnight in Europe/Rome: on the night DST starts, and so
// after a 23-hour Sunday.
func TestDailyLimitPausesAndResumes(t *testing.T) {
	start := romeAt(t, "2026-03-28 23:00") // Saturday; DST starts at 02:00 on Sunday
	f, clk := newPacedFixture(t, start, time.Minute, 10, "", "200/s", csvRows(25, "pec.example.it")...)
	sw := &testutil.LockedBuffer{}
	rec := newRecorder(sw)
	c := f.campaign()
	type result struct {
		res *Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := Run(t.Context(), c, testRun{Clock: clk, LedgerPath: f.ledgerPath()}.deps(sw, rec, 40*time.Millisecond), RunOptions{})
		done <- result{res, err}
	}()
	sent := func() int { return len(f.sb.Sends()) }
	paused := func(n int) func() bool {
		return func() bool { return len(rec.notesOf(NoteSendingPaused)) >= n }
	}

	sunday := romeAt(t, "2026-03-29 00:00")
	waitFor(t, "the first pause", paused(1))
	if n := sent(); n != 10 {
		t.Fatalf("%d sent before the first pause, want 10", n)
	}
	note := rec.notesOf(NoteSendingPaused)[0]
	if !strings.Contains(note, "Sun 29 Mar 2026 00:00 CET") || !strings.Contains(note, "daily limit") {
		t.Errorf("the pause note does not say it resumes at midnight: %q", note)
	}
	// The clock moves only once the sender waits on it: moved between the
	// sender's reading of the time and its wait, it would leave the wait
	// past midnight.
	waitFor(t, "the sender waiting for Sunday's midnight", func() bool { return clk.waiting(sunday) })
	// Tracking goes on during the pause: the receipts of Saturday's sends
	// (3 s after each) are applied before sending resumes. The clock goes
	// from one wait of the tracker to the next, never to midnight.
	clk.advanceUntil(t, "Saturday's rows delivered during the pause", sunday.Add(-time.Second), func() bool {
		return countStates(f.states(), journal.StateDelivered) == 10
	})
	if n := sent(); n != 10 {
		t.Fatalf("%d sent during the pause, want 10", n)
	}
	clk.Advance(sunday.Sub(clk.Now()) - time.Second)
	// A second before midnight the sender still waits for midnight: its
	// wait has not ended, so no send can have started.
	if !clk.waiting(sunday) {
		t.Fatalf("a second before midnight the sender no longer waits for midnight (%d sent)", sent())
	}
	if n := sent(); n != 10 {
		t.Fatalf("%d sent a second before midnight, want 10", n)
	}
	clk.Advance(time.Second)
	waitFor(t, "the second pause", paused(2))
	if note := rec.notesOf(NoteSendingPaused)[1]; !strings.Contains(note, "Mon 30 Mar 2026 00:00 CEST") {
		t.Errorf("the second pause note does not say Monday midnight: %q", note)
	}
	monday := romeAt(t, "2026-03-30 00:00")
	waitFor(t, "the sender waiting for Monday's midnight", func() bool { return clk.waiting(monday) })
	// Sunday has 23 hours: Monday starts 23 h after Sunday's midnight.
	clk.Advance(monday.Sub(clk.Now()))
	waitFor(t, "every row sent", func() bool { return sent() == 25 })
	clk.setJump(true)
	var r result
	clk.advanceUntil(t, "the end of the run", monday.Add(24*time.Hour), func() bool {
		select {
		case r = <-done:
			return true
		default:
			return false
		}
	})
	if r.err != nil {
		t.Fatalf("Run: %v\n%s", r.err, sw.String())
	}
	if r.res.Counts[journal.StateDelivered] != 25 {
		t.Errorf("counts %v, want 25 delivered", r.res.Counts)
	}
	got := sendsPerDay(t, f, "")
	want := map[string]int{"Sat 2026-03-28": 10, "Sun 2026-03-29": 10, "Mon 2026-03-30": 5}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("sends per day %v, want %v", got, want)
	}
	if n := len(rec.notesOf(NoteSendingResumed)); n != 2 {
		t.Errorf("%d resume notes, want 2", n)
	}
	f.checkExactlyOnce(25)
}

// TestEstimateSending: the plan's ETA counts the pauses of the daily limit
// and of the window, weekends and DST included.
func TestEstimateSending(t *testing.T) {
	always := campaign.Window{}
	office, err := campaign.ParseWindow("mon-fri 08:00-20:00")
	if err != nil {
		t.Fatal(err)
	}
	short, err := campaign.ParseWindow("mon-fri 08:00-08:10")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		start     string
		n         int
		perSecond float64
		limit     int
		sentToday int
		window    campaign.Window
		end       string // the last send, Europe/Rome
		endOffset time.Duration
	}{
		{"one day at 1/s", "2026-11-30 10:00", 10, 1, 3500, 0, always, "2026-11-30 10:00", 9 * time.Second},
		{"three days of 3500", "2026-11-30 00:00", 10_000, 1, 3500, 0, always, "2026-12-02 00:00", 2999 * time.Second},
		{"sent today already", "2026-11-30 10:00", 3500, 1, 3500, 3000, always, "2026-12-01 00:00", 2999 * time.Second},
		{"weekend and DST", "2026-10-23 19:00", 1000, 1, 3500, 3000, office, "2026-10-26 08:00", 499 * time.Second},
		{"window before limit", "2026-11-30 08:00", 1000, 1, 3500, 0, short, "2026-12-01 08:00", 399 * time.Second},
		{"waits for the window", "2026-11-30 06:00", 1, 1, 3500, 0, office, "2026-11-30 08:00", 0},
		{"the window closes on the dot", "2026-11-30 08:00", 601, 1, 0, 0, short, "2026-12-01 08:00", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := romeAt(t, tc.start)
			got := estimateSending(start, tc.n, tc.perSecond, tc.limit, tc.sentToday, tc.window)
			want := romeAt(t, tc.end).Add(tc.endOffset).Sub(start)
			if got != want {
				t.Errorf("estimate %s (ends %s), want %s (ends %s)", got, start.Add(got).In(campaign.Rome()), want,
					start.Add(want).In(campaign.Rome()))
			}
		})
	}
}
