package runner

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/client"
	"github.com/pecbatch/pecbatch/client/sandbox"
	"github.com/pecbatch/pecbatch/internal/testutil"
	"github.com/pecbatch/pecbatch/journal"
)

// testClock is a manual clock shared by the runner, the journal and the
// sandbox. Frozen, time moves only on Advance; jumping, every wait moves
// time forward at once to its end, so that tracking a campaign through its
// 12 h and 24 h notices takes milliseconds, in the order a real clock
// would give.
type testClock struct {
	mu      sync.Mutex
	now     time.Time
	jump    bool
	waiters []clockWaiter
}

type clockWaiter struct {
	at time.Time
	ch chan time.Time
}

func newTestClock() *testClock { return &testClock{now: t0} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if c.jump && d > 0 {
		c.advanceLocked(d)
		d = 0
	}
	at := c.now.Add(max(d, 0))
	if !at.After(c.now) {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, clockWaiter{at: at, ch: ch})
	return ch
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceLocked(d)
}

func (c *testClock) advanceLocked(d time.Duration) {
	c.now = c.now.Add(d)
	c.waiters = slices.DeleteFunc(c.waiters, func(w clockWaiter) bool {
		if !w.at.After(c.now) {
			w.ch <- c.now
			return true
		}
		return false
	})
}

// waiting reports whether something waits on the clock for at and has not
// been woken yet.
func (c *testClock) waiting(at time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.ContainsFunc(c.waiters, func(w clockWaiter) bool { return w.at.Equal(at) })
}

// advanceUntil moves the clock to the earliest wait before limit, again
// and again, until cond holds: time passes only as far as the run waits
// for, whatever the speed of the machine, and a wait begun while the
// clock moved (later than meant) is still reached. Waits at or after limit
// are left alone.
func (c *testClock) advanceUntil(t *testing.T, what string, limit time.Time, cond func() bool) {
	t.Helper()
	waitFor(t, what, func() bool {
		if cond() {
			return true
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		var next time.Time
		for _, w := range c.waiters {
			if w.at.Before(limit) && (next.IsZero() || w.at.Before(next)) {
				next = w.at
			}
		}
		if !next.IsZero() {
			c.advanceLocked(next.Sub(c.now))
		}
		return false
	})
}

func (c *testClock) setJump(on bool) {
	c.mu.Lock()
	c.jump = on
	c.mu.Unlock()
}

// domainCampaign is a row per outcome of the sandbox's domain table, and a
// row with three recipients of mixed outcomes.
var domainCampaign = []string{
	"D01,dest@pec.example.it,Consegna",
	"D02,casella@invalid.sandbox.test,Invalida",
	"D03,casella@full.sandbox.test,Piena",
	"D04,casella@slow.sandbox.test,Lenta",
	"D05,casella@expire.sandbox.test,Scade",
	"D06,casella@ordinary.sandbox.test,Ordinaria",
	"D07,casella@virus.sandbox.test,Virus",
	"D08,casella@reject.sandbox.test,Rifiuto",
	`D09,"uno@pec.example.it;due@invalid.sandbox.test;tre@ordinary.sandbox.test",Misto`,
}

// moreDomains are the sandbox's other magic domains, and rows with several
// PEC recipients whose unnamed delivery receipts add up.
var moreDomains = []string{
	"D10,casella@charge.sandbox.test,Presa",
	"D11,casella@infected.sandbox.test,Infetta",
	"D12,casella@anomaly.sandbox.test,Anomalia",
	"D13,casella@security.sandbox.test,Sicurezza",
	"D14,casella@duplicate.sandbox.test,Doppia",
	"D15,casella@unsorted.sandbox.test,Disordine",
	"D16,casella@foreign.sandbox.test,Estranea",
	`D17,"quattro@pec.example.it;cinque@charge.sandbox.test",Coppia`,
	`D18,"sei@pec.example.it;sette@full.sandbox.test;otto@slow.sandbox.test",Terna`,
}

// newClockFixture starts a fixture whose sandbox runs on a testClock with
// the documented delays (acceptance 1 s, delivery 3 s, notices 12 h and
// 24 h), in the default receipt style.
func newClockFixture(t *testing.T, rows ...string) (*fixture, *testClock) {
	return newStyleFixture(t, sandbox.StyleDocumented, rows...)
}

// newStyleFixture is newClockFixture with the sandbox's receipts in style.
func newStyleFixture(t *testing.T, style sandbox.ReceiptStyle, rows ...string) (*fixture, *testClock) {
	clk := newTestClock()
	opts := sandbox.DefaultOptions()
	opts.SendRate = 0
	opts.Now = clk.Now
	opts.Receipts = style
	opts.Seed = 7
	f := newFixture(t, opts, rows...)
	return f, clk
}

// sendAllFrozen sends every row with the clock frozen (--no-wait), so that
// they all go out at t0; tracking then runs on the jumping clock.
func sendAllFrozen(t *testing.T, f *fixture, clk *testClock) {
	t.Helper()
	res, out, err := f.run(t.Context(), testRun{NoWait: true, Clock: clk})
	if err != nil && !errors.Is(err, campaign.ErrRowsFailed) {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	if res.Sent != len(f.rowsByKey()) {
		t.Fatalf("sent %d rows\n%s", res.Sent, out)
	}
}

func (f *fixture) poll(ctx context.Context, o testRun) (*Result, string, error) {
	f.t.Helper()
	sw := &testutil.LockedBuffer{}
	f.rec = newRecorder(sw)
	if o.LedgerPath == "" {
		o.LedgerPath = f.ledgerPath()
	}
	res, err := Poll(ctx, f.campaign(), o.deps(sw, f.rec, time.Second), PollOptions{Journal: o.Journal})
	return res, sw.String(), err
}

func (f *fixture) reportRows() map[string]journal.ReportRow {
	f.t.Helper()
	r, err := journal.OpenReadOnly(f.t.Context(), f.campaign().Sending.Journal)
	if err != nil {
		f.t.Fatal(err)
	}
	defer r.Close()
	out := map[string]journal.ReportRow{}
	for rr, err := range r.ReportRows(f.t.Context()) {
		if err != nil {
			f.t.Fatal(err)
		}
		out[rr.Recipient] = rr
	}
	return out
}

// TestTrackingDomainTable tracks every outcome of the sandbox's domain
// table to its final state, through the 12 h and 24 h notices and the
// give-up time, on a jumping clock, in each of the sandbox's receipt
// styles: the documented one (receipts that name no addressee), the PEC
// providers' texts, and both mixed. The final states are the same in
// every style, except where receipts that name nobody cannot tell two
// recipients apart (row D09 in the documented style).
func TestTrackingDomainTable(t *testing.T) {
	type outcome struct {
		state journal.State
		err   string
	}
	wantRows := map[string]journal.State{
		"D01": journal.StateDelivered, "D02": journal.StateFailed, "D03": journal.StateFailed,
		"D04": journal.StateDelivered, "D05": journal.StateExpired, "D06": journal.StateAcceptedNotCertifiable,
		"D07": journal.StateFailed, "D08": journal.StateFailed, "D09": journal.StateFailed,
		"D10": journal.StateDelivered, "D11": journal.StateFailed, "D12": journal.StateAcceptedNotCertifiable,
		"D13": journal.StateFailed, "D14": journal.StateDelivered, "D15": journal.StateDelivered,
		"D16": journal.StateDelivered, "D17": journal.StateDelivered, "D18": journal.StateFailed,
	}
	wantRecipients := map[string]outcome{
		"dest@pec.example.it":            {journal.StateDelivered, ""},
		"casella@invalid.sandbox.test":   {journal.StateFailed, "5.1.1"},
		"casella@full.sandbox.test":      {journal.StateFailed, "5.2.2"},
		"casella@slow.sandbox.test":      {journal.StateDelivered, ""},
		"casella@expire.sandbox.test":    {journal.StateExpired, "5.4.1"},
		"casella@ordinary.sandbox.test":  {journal.StateAcceptedNotCertifiable, ""},
		"casella@virus.sandbox.test":     {journal.StateFailed, "virus"},
		"casella@reject.sandbox.test":    {journal.StateFailed, "5.7.1"},
		"due@invalid.sandbox.test":       {journal.StateFailed, "5.1.1"},
		"tre@ordinary.sandbox.test":      {journal.StateAcceptedNotCertifiable, ""},
		"casella@charge.sandbox.test":    {journal.StateDelivered, ""},
		"casella@infected.sandbox.test":  {journal.StateFailed, "virus"},
		"casella@anomaly.sandbox.test":   {journal.StateAcceptedNotCertifiable, "posta ordinaria"},
		"casella@security.sandbox.test":  {journal.StateFailed, ""},
		"casella@duplicate.sandbox.test": {journal.StateDelivered, ""},
		"casella@unsorted.sandbox.test":  {journal.StateDelivered, ""},
		"casella@foreign.sandbox.test":   {journal.StateDelivered, ""},
		"quattro@pec.example.it":         {journal.StateDelivered, ""},
		"cinque@charge.sandbox.test":     {journal.StateDelivered, ""},
		"sei@pec.example.it":             {journal.StateDelivered, ""},
		"sette@full.sandbox.test":        {journal.StateFailed, "5.2.2"},
		"otto@slow.sandbox.test":         {journal.StateDelivered, ""},
	}
	for _, style := range []sandbox.ReceiptStyle{sandbox.StyleDocumented, sandbox.StylePEC, sandbox.StyleMixed} {
		t.Run(string(style), func(t *testing.T) {
			f, clk := newStyleFixture(t, style, append(slices.Clone(domainCampaign), moreDomains...)...)
			sendAllFrozen(t, f, clk)
			clk.setJump(true)
			res, out, err := f.poll(t.Context(), testRun{Clock: clk})
			if !errors.Is(err, campaign.ErrRowsFailed) {
				t.Fatalf("Poll: %v, want campaign.ErrRowsFailed\n%s", err, out)
			}
			rows := f.rowsByKey()
			for key, want := range wantRows {
				if rows[key].State != want {
					t.Errorf("row %s is %s (%s), want %s", key, rows[key].State, rows[key].LastError, want)
				}
			}
			want := maps.Clone(wantRecipients)
			// uno shares its row with a non-PEC recipient: a delivery receipt
			// that names nobody cannot say which of the two it is about.
			want["uno@pec.example.it"] = outcome{journal.StateDelivered, ""}
			if !f.namesAddressees(rows["D09"].MessageID) {
				want["uno@pec.example.it"] = outcome{journal.StateAcceptedNotCertifiable, "1 of 2 delivery receipts, addressees not named"}
				want["tre@ordinary.sandbox.test"] = want["uno@pec.example.it"]
				if !f.rec.noted(NoteUnattributed) {
					t.Errorf("no %s note for row D09:\n%s", NoteUnattributed, out)
				}
			}
			rr := f.reportRows()
			for addr, w := range want {
				got := rr[addr]
				if got.State != w.state || !strings.Contains(got.Error, w.err) {
					t.Errorf("%s: %s %q, want %s with %q", addr, got.State, got.Error, w.state, w.err)
				}
			}
			if rr["casella@slow.sandbox.test"].Warnings != 1 {
				t.Errorf("the slow recipient had %d warnings, want 1", rr["casella@slow.sandbox.test"].Warnings)
			}
			// The archive holds each entry of each row's own receipts, by
			// multiplicity; the duplicate domain's delivery receipt comes
			// again a minute after the row is final, and is not polled for.
			f.checkArchive(1, rows["D14"].MessageID)
			if mean := float64(res.Stats.Polls) / float64(len(wantRows)); mean > 40 {
				t.Errorf("%.1f polls per row over 26 h", mean)
			}
			f.checkExactlyOnce(len(wantRows))
		})
	}
}

// namesAddressees reports whether the sandbox wrote the delivery receipts
// of code in the PEC providers' texts (which name their addressee), rather
// than as the documented original mail.
func (f *fixture) namesAddressees(code string) bool {
	for _, s := range f.sandboxReceipts(code) {
		if strings.HasPrefix(s.Subject, "CONSEGNA:") {
			return strings.HasPrefix(s.Body, "Ricevuta di avvenuta consegna")
		}
	}
	return false
}

// checkArchive asserts that the journal archived every receipt entry the
// sandbox serves for each tracked row that belongs to it, each exactly as
// many times as the sandbox lists it (times mult, for a test that serves
// every entry mult times): identical entries count by their multiplicity,
// entries of another send are not archived. For the codes in late, entries
// may have come after the row went final: each must be archived at least
// once and never more often than served.
func (f *fixture) checkArchive(mult int, late ...string) {
	f.t.Helper()
	r, err := journal.OpenReadOnly(f.t.Context(), f.campaign().Sending.Journal)
	if err != nil {
		f.t.Fatal(err)
	}
	defer r.Close()
	for key, row := range f.rowsByKey() {
		if !row.State.Tracked() || !row.ReceiptsDeletedAt.IsZero() {
			continue
		}
		stored, err := r.Receipts(f.t.Context(), row.ID)
		if err != nil {
			f.t.Fatal(err)
		}
		archived, served := map[string]int{}, map[string]int{}
		for _, s := range stored {
			archived[s.Subject+"|"+s.DateText+"|"+s.Body]++
		}
		for _, s := range f.sandboxReceipts(row.MessageID) {
			if client.ReceiptBelongsTo(s.Subject, row.MessageID) {
				served[s.Subject+"|"+s.DateText+"|"+s.Body] += mult
			}
		}
		for k := range archived {
			if served[k] == 0 {
				f.t.Errorf("row %s: %.80s archived, not served for it", key, k)
			}
		}
		for k, n := range served {
			a := archived[k]
			if a != n && !(slices.Contains(late, row.MessageID) && a >= 1 && a <= n) {
				f.t.Errorf("row %s: receipt archived %d times, served %d times: %.80s", key, a, n, k)
			}
		}
	}
}

type servedReceipt struct{ Subject, DateText, Body string }

// sandboxReceipts returns what GET /send/{code} serves now.
func (f *fixture) sandboxReceipts(code string) []servedReceipt {
	f.t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/send/"+code, nil)
	req.Header.Set("Authorization", "Bearer sandbox-token")
	req.Header.Set("x-username", "sandbox@pec.sandbox.test")
	req.Header.Set("x-password", "sandbox")
	w := httptest.NewRecorder()
	f.sb.ServeHTTP(w, req)
	var ans struct {
		Data []struct{ Object, Data, Message string } `json:"data"`
	}
	if w.Code == http.StatusNotFound {
		return nil
	}
	if err := json.Unmarshal(w.Body.Bytes(), &ans); err != nil {
		f.t.Fatalf("GET /send/%s: %d %v", code, w.Code, err)
	}
	var out []servedReceipt
	for _, d := range ans.Data {
		out = append(out, servedReceipt{d.Object, d.Data, d.Message})
	}
	return out
}

// TestTrackingDuplicatesAndDisorder: the API lists every receipt twice and
// in reverse order in every answer; the archive keeps both copies (two
// identical entries of one answer are two receipts), no poll adds more,
// and the outcomes are right.
func TestTrackingDuplicatesAndDisorder(t *testing.T) {
	f, clk := newClockFixture(t, domainCampaign[:5]...)
	f.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/send/") {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var ans map[string]any
		if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &ans) != nil {
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
		data, _ := ans["data"].([]any)
		var doubled []any
		for i := len(data) - 1; i >= 0; i-- {
			doubled = append(doubled, data[i], data[i])
		}
		ans["data"] = doubled
		b, _ := json.Marshal(ans)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	})
	sendAllFrozen(t, f, clk)
	clk.setJump(true)
	_, out, err := f.poll(t.Context(), testRun{Clock: clk})
	if !errors.Is(err, campaign.ErrRowsFailed) {
		t.Fatalf("Poll: %v\n%s", err, out)
	}
	want := map[string]journal.State{"D01": journal.StateDelivered, "D02": journal.StateFailed,
		"D03": journal.StateFailed, "D04": journal.StateDelivered, "D05": journal.StateExpired}
	for key, st := range f.states() {
		if st != want[key] {
			t.Errorf("row %s is %s, want %s", key, st, want[key])
		}
	}
	f.setWrap(nil)
	f.checkArchive(2)
}

// TestTrackingCrashResume interrupts tracking again and again (as a crash
// would, between any two polls) and resumes it: in the end every row is
// final and every receipt archived exactly once.
func TestTrackingCrashResume(t *testing.T) {
	f, clk := newClockFixture(t, domainCampaign...)
	sendAllFrozen(t, f, clk)
	clk.setJump(true)
	for i := 0; ; i++ {
		if i > 300 {
			t.Fatal("tracking never finished")
		}
		ctx, cancel := context.WithCancel(t.Context())
		polls := 0
		f.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			next.ServeHTTP(w, r)
			if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/send/") {
				if polls++; polls == 1+i%7 {
					cancel() // stop right after this poll's answer
				}
			}
		})
		_, out, err := f.poll(ctx, testRun{Clock: clk})
		cancel()
		if errors.Is(err, campaign.ErrRowsFailed) {
			break
		}
		if !errors.Is(err, campaign.ErrInterrupted) {
			t.Fatalf("poll %d: %v\n%s", i, err, out)
		}
	}
	f.setWrap(nil)
	f.checkArchive(1)
	if got := f.states()["D04"]; got != journal.StateDelivered {
		t.Errorf("the slow row is %s", got)
	}
}

// TestTrackingDeleteReceipts: with tracking.delete_receipts, a final row's
// receipts leave the mailbox once archived.
func TestTrackingDeleteReceipts(t *testing.T) {
	f, clk := newClockFixture(t, domainCampaign[:3]...)
	f.deleteReceipts = true
	f.writeCampaign()
	sendAllFrozen(t, f, clk)
	clk.setJump(true)
	if _, out, err := f.poll(t.Context(), testRun{Clock: clk}); !errors.Is(err, campaign.ErrRowsFailed) {
		t.Fatalf("Poll: %v\n%s", err, out)
	}
	r, err := journal.OpenReadOnly(t.Context(), f.campaign().Sending.Journal)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for key, row := range f.rowsByKey() {
		if row.ReceiptsDeletedAt.IsZero() {
			t.Errorf("row %s: receipts not deleted", key)
		}
		if left := f.sandboxReceipts(row.MessageID); len(left) != 0 {
			t.Errorf("row %s: %d receipts left in the mailbox", key, len(left))
		}
		stored, err := r.Receipts(t.Context(), row.ID)
		if err != nil || len(stored) < 2 {
			t.Errorf("row %s: %d receipts archived (%v)", key, len(stored), err)
		}
	}
}

// TestTrackingAlongsideSending: tracking runs while the run sends, and
// `run` returns once every row is final.
func TestTrackingAlongsideSending(t *testing.T) {
	f := newFixture(t, fastSandbox(), csvRows(8, "pec.example.it")...)
	f.rate = "20/s"
	f.writeCampaign()
	// The last send waits for the first poll: a run that tracked only
	// once sending is over would never poll, and the wait would end only
	// at the bound, against a hang.
	polled := make(chan struct{})
	var once sync.Once
	var sends atomic.Int32
	var pollBeforeLastSend atomic.Bool
	f.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		switch {
		case isSend(r) && sends.Add(1) == 8:
			select {
			case <-polled:
				pollBeforeLastSend.Store(true)
			case <-time.After(hangBound):
			}
		case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/send/"):
			once.Do(func() { close(polled) })
		}
		next.ServeHTTP(w, r)
	})
	res, out, err := f.run(t.Context(), testRun{})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	if !pollBeforeLastSend.Load() {
		t.Errorf("no poll before the last send (waited %s for one): tracking did not run alongside", hangBound)
	}
	if res.Counts[journal.StateDelivered] != 8 {
		t.Errorf("counts %v", res.Counts)
	}
}

// TestTrackingGivesUpWhenTheAPIStaysDown: when every poll fails, tracking
// must not wait forever; it stops with an error that says how to resume,
// and the rows stay tracked (not final) for the next `poll`.
func TestTrackingGivesUpWhenTheAPIStaysDown(t *testing.T) {
	f, clk := newClockFixture(t, domainCampaign[:2]...)
	sendAllFrozen(t, f, clk)
	f.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/send/") {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		next.ServeHTTP(w, r)
	})
	clk.setJump(true)
	_, out, err := f.poll(t.Context(), testRun{Clock: clk})
	if err == nil || !strings.Contains(err.Error(), "pecbatch poll") || !strings.Contains(err.Error(), "failed for") {
		t.Fatalf("Poll with the API down: err %v, want the outage error\n%s", err, out)
	}
	if elapsed := clk.Now().Sub(t0); elapsed < maxPollOutage || elapsed > maxPollOutage+5*time.Minute {
		t.Errorf("gave up after %s of clock time, want about %s", elapsed, maxPollOutage)
	}
	for key, st := range f.states() {
		if st.Final() {
			t.Errorf("row %s is %s: receipts that could not be read must not make a row final", key, st)
		}
	}
	// Once the API is back, a new poll finishes the campaign.
	f.setWrap(nil)
	if _, out, err := f.poll(t.Context(), testRun{Clock: clk}); err != nil && !errors.Is(err, campaign.ErrRowsFailed) {
		t.Fatalf("Poll after the outage: %v\n%s", err, out)
	}
	for key, st := range f.states() {
		if !st.Final() {
			t.Errorf("row %s is %s after the API came back, want final", key, st)
		}
	}
}
