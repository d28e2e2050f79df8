package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/client/sandbox"
	"github.com/pecbatch/pecbatch/journal"
)

// TestRunInterruptAndResume: a cancellation (SIGINT) while a request is in
// flight lets that request finish and records it; nothing new starts; a
// second run resumes and finishes, every row sent once.
func TestRunInterruptAndResume(t *testing.T) {
	f := newFixture(t, fastSandbox(), csvRows(6, "pec.example.it")...)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var sends atomic.Int32
	f.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if isSend(r) && sends.Add(1) == 3 {
			cancel() // the signal comes while the third request is in flight
			// and the answer comes after it. The signal is in before the
			// answer whatever the pause; the pause only gives a runner
			// that would drop the request on the signal the time to do it.
			time.Sleep(20 * time.Millisecond)
		}
		next.ServeHTTP(w, r)
	})
	res, out, err := f.run(ctx, testRun{})
	if !errors.Is(err, campaign.ErrInterrupted) {
		t.Fatalf("Run: %v, want campaign.ErrInterrupted\n%s", err, out)
	}
	if !f.rec.noted(NoteInterrupted) {
		t.Errorf("output does not say how to resume:\n%s", out)
	}
	if res.Sent != 3 {
		t.Errorf("sent %d, want 3 (the one in flight recorded)", res.Sent)
	}
	states := f.states()
	if countStates(states, journal.StatePending) != 3 || countStates(states, journal.StateSending) != 0 {
		t.Errorf("states after the interruption %v", states)
	}
	f.checkExactlyOnce(3)

	f.setWrap(nil)
	res, out, err = f.run(t.Context(), testRun{})
	if err != nil || res.Sent != 3 || res.Counts[journal.StateDelivered] != 6 {
		t.Fatalf("resumed: sent %d, counts %v, %v\n%s", res.Sent, res.Counts, err, out)
	}
	f.checkExactlyOnce(6)
}

// TestRunResumesRowLeftInSending: a crash between the commit of "sending"
// and the answer leaves the row in sending; the next run treats it as
// unknown and reconciles it from the mailbox, without sending it again.
func TestRunResumesRowLeftInSending(t *testing.T) {
	f := newFixture(t, fastSandbox(), csvRows(3, "pec.example.it")...)
	f.window = "1m"
	f.writeCampaign()
	if _, out, err := f.run(t.Context(), testRun{NoWait: true, Limit: 1}); err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	// The crash: row P002 committed as sending, its request made, and the
	// process gone before the answer was recorded.
	ctx := t.Context()
	c := f.campaign()
	j, err := journal.Open(ctx, c.Sending.Journal)
	if err != nil {
		t.Fatal(err)
	}
	row, err := j.RowByKey(ctx, "P002")
	if err == nil {
		err = j.MarkSending(ctx, row.ID)
	}
	j.Close()
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.RenderRow(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := NewClient(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	sent, err := cl.Send(ctx, sendRequest(c.Sender.Address, m))
	if err != nil {
		t.Fatal(err)
	}
	f.awaitReceipts(sent.MessageID)

	res, out, err := f.run(t.Context(), testRun{})
	if err != nil {
		t.Fatalf("resumed: %v\n%s", err, out)
	}
	if res.Sent != 1 || res.Counts[journal.StateDelivered] != 3 || !f.rec.noted(NoteReconciled) {
		t.Errorf("resumed run sent %d, counts %v\n%s", res.Sent, res.Counts, out)
	}
	if got := f.rec.steps[PhaseReconciling]; got != 1 {
		t.Errorf("reconciliation progress reached %d of 1 row", got)
	}
	f.checkExactlyOnce(3)
	if got := f.rowsByKey()["P002"].MessageID; got != sent.MessageID {
		t.Errorf("P002 recovered code %s, want %s", got, sent.MessageID)
	}
}

func TestRunLimit(t *testing.T) {
	f := newFixture(t, fastSandbox(), csvRows(5, "pec.example.it")...)
	res, out, err := f.run(t.Context(), testRun{Limit: 2})
	if err != nil || res.Sent != 2 {
		t.Fatalf("Run --limit 2: sent %d, %v\n%s", res.Sent, err, out)
	}
	if p := f.rec.plan(); p.Pending != 5 || p.ToSend != 2 {
		t.Errorf("output:\n%s", out)
	}
	if st := f.states(); st["P001"] != journal.StateDelivered || st["P003"] != journal.StatePending {
		t.Errorf("states %v: want the first two sent", st)
	}
	res, out, err = f.run(t.Context(), testRun{})
	if err != nil || res.Sent != 3 {
		t.Fatalf("second run: sent %d, %v\n%s", res.Sent, err, out)
	}
	f.checkExactlyOnce(5)
}

// TestRunAllowChanges: a changed campaign stops a resume with what
// changed; --allow-changes sends new and changed pending rows and never
// touches rows already sent.
func TestRunAllowChanges(t *testing.T) {
	f := newFixture(t, fastSandbox(), csvRows(3, "pec.example.it")...)
	if _, out, err := f.run(t.Context(), testRun{NoWait: true, Limit: 1}); err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	rows := csvRows(4, "pec.example.it")
	rows[2] = "P003,dest3@pec.example.it,Persona Tre Cambiata"
	f.writeRows(rows...)

	_, out, err := f.run(t.Context(), testRun{NoWait: true})
	if !errors.Is(err, campaign.ErrInvalidInput) {
		t.Fatalf("resume of a changed campaign: %v\n%s", err, out)
	}
	for _, want := range []string{"recipients", "changed", `row 3 (key "P003"): content changed (not sent yet)`, `row 4 (key "P004") is new`, "--allow-changes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	f.checkExactlyOnce(1)

	res, out, err := f.run(t.Context(), testRun{NoWait: true, AllowChanges: true})
	if err != nil || res.Sent != 3 {
		t.Fatalf("--allow-changes: sent %d, %v\n%s", res.Sent, err, out)
	}
	f.checkExactlyOnce(4)

	// A change to a row already sent needs --allow-changes too; the row
	// keeps what was sent and is not sent again.
	rows[0] = "P001,dest1@pec.example.it,Persona Uno Cambiata"
	f.writeRows(rows...)
	_, out, err = f.run(t.Context(), testRun{NoWait: true})
	if !errors.Is(err, campaign.ErrInvalidInput) || !strings.Contains(err.Error(), `row 1 (key "P001"): content changed after it was sent`) ||
		!strings.Contains(err.Error(), "--allow-changes") {
		t.Fatalf("change to a sent row: %v\n%s", err, out)
	}
	res, out, err = f.run(t.Context(), testRun{NoWait: true, AllowChanges: true})
	if err != nil || res.Sent != 0 || !f.rec.noted(NoteChangesAccepted) {
		t.Fatalf("change to a sent row with --allow-changes: sent %d, %v\n%s", res.Sent, err, out)
	}
	if row := f.rowsByKey()["P001"]; !row.ChangedAfterSend() {
		t.Errorf("row 1 is not marked changed after send: %+v", row)
	}
	f.checkExactlyOnce(4)
}

// TestRunRefusesAnotherEndpoint: a journal written against one endpoint
// never resumes against another (a sandbox run never counts as sent).
func TestRunRefusesAnotherEndpoint(t *testing.T) {
	f := newFixture(t, fastSandbox(), csvRows(2, "pec.example.it")...)
	if _, out, err := f.run(t.Context(), testRun{NoWait: true, Limit: 1, Endpoint: SandboxEndpoint}); err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	_, out, err := f.run(t.Context(), testRun{NoWait: true})
	if !errors.Is(err, journal.ErrOtherTarget) || !strings.Contains(err.Error(), SandboxEndpoint) {
		t.Fatalf("resume against another endpoint: %v\n%s", err, out)
	}
	f.checkExactlyOnce(1)
}

// TestRunPreflightProblems: one bad row and nothing is sent.
func TestRunPreflightProblems(t *testing.T) {
	rows := csvRows(3, "pec.example.it")
	rows[1] = "P002,not-an-address,Persona Due"
	f := newFixture(t, fastSandbox(), rows...)
	_, out, err := f.run(t.Context(), testRun{})
	if !errors.Is(err, campaign.ErrInvalidInput) || !f.rec.noted(NotePreflight) || !strings.Contains(out, "not-an-address") {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	f.checkExactlyOnce(0)
}

func TestRunConfirm(t *testing.T) {
	f := newFixture(t, fastSandbox(), csvRows(3, "pec.example.it")...)
	var plan Plan
	_, out, err := f.run(t.Context(), testRun{Confirm: func(p Plan) (bool, error) { plan = p; return false, nil }})
	if !errors.Is(err, campaign.ErrInterrupted) || plan.ToSend != 3 || plan.Rows != 3 || !f.rec.noted(NoteNotConfirmed) {
		t.Fatalf("declined: %v, plan %+v\n%s", err, plan, out)
	}
	f.checkExactlyOnce(0)
}

// TestRunConstantSubject: every row has the same subject and some sends
// are dropped after the sandbox acted. Where the acceptances name their
// recipients (PEC providers' style), each dropped row is reconciled and
// gets its own code. Where they name nobody (the provider's documented
// shape), no acceptance can be told apart from the others: the dropped
// rows stay unknown and are never resent, even with --resend-unknown.
func TestRunConstantSubject(t *testing.T) {
	for _, style := range []sandbox.ReceiptStyle{sandbox.StylePEC, sandbox.StyleDocumented} {
		t.Run(string(style), func(t *testing.T) {
			opts := fastSandbox()
			opts.Receipts = style
			f := newFixture(t, opts, csvRows(5, "pec.example.it")...)
			f.subject = "Avviso importante"
			// Where the acceptances name their recipients the window only
			// bounds the search against a hang (TestRunDroppedConnections);
			// where they do not, the run waits it out, so it is short.
			f.window = map[sandbox.ReceiptStyle]string{sandbox.StylePEC: "2m", sandbox.StyleDocumented: "5s"}[style]
			f.writeCampaign()
			var n atomic.Int32
			f.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
				if isSend(r) && n.Add(1)%2 == 0 {
					next.ServeHTTP(discardWriter{}, r) // sent, then the connection drops
					conn, _, _ := w.(http.Hijacker).Hijack()
					conn.Close()
					return
				}
				next.ServeHTTP(w, r)
			})
			res, out, err := f.run(t.Context(), testRun{})
			if style == sandbox.StyleDocumented {
				if !errors.Is(err, campaign.ErrRowsUnknown) || res.Stats.Reconciled != 0 {
					t.Fatalf("Run: %v, %d reconciled; want the 2 dropped rows unknown\n%s", err, res.Stats.Reconciled, out)
				}
				f.setWrap(nil)
				_, out, _ = f.run(t.Context(), testRun{NoWait: true, ResendUnknown: true, Clock: offsetClock(time.Minute)})
				if got := len(f.sb.Sends()); got != 5 {
					t.Errorf("%d sends, want 5: a row whose acceptance may be any of several was resent\n%s", got, out)
				}
				unknown := 0
				for _, st := range f.states() {
					if st == journal.StateUnknown {
						unknown++
					}
				}
				if unknown != 2 {
					t.Errorf("%d rows unknown, want the 2 dropped ones: %v", unknown, f.states())
				}
				return
			}
			if err != nil || res.Stats.Reconciled != 2 {
				t.Fatalf("Run: %v, %d reconciled\n%s", err, res.Stats.Reconciled, out)
			}
			byRecipient := map[string]string{}
			for _, s := range f.sb.Sends() {
				byRecipient[s.Recipients[0]] = s.Code
			}
			for key, row := range f.rowsByKey() {
				if byRecipient[row.Recipients[0]] != row.MessageID {
					t.Errorf("row %s has code %s, the sandbox sent it as %s", key, row.MessageID, byRecipient[row.Recipients[0]])
				}
			}
			if len(f.sb.Sends()) != 5 {
				t.Errorf("%d sends, want 5", len(f.sb.Sends()))
			}
		})
	}
}

type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (discardWriter) WriteHeader(int)             {}

func TestStatus(t *testing.T) {
	f := newFixture(t, fastSandbox(), csvRows(4, "pec.example.it")...)
	f.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if isSend(r) && strings.Contains(readBody(t, r), "Sollecito P002") {
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"success":false,"message":"Post parameter is not valid"}`))
			return
		}
		next.ServeHTTP(w, r)
	})
	if _, out, err := f.run(t.Context(), testRun{Limit: 3}); !errors.Is(err, campaign.ErrRowsFailed) {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	st, err := Status(t.Context(), f.campaign(), "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 4 || st.Counts["delivered"] != 2 || st.Counts["rejected"] != 1 || st.Counts["pending"] != 1 ||
		st.AttentionCount != 1 || st.Attention[0].Key != "P002" || st.Started.IsZero() || st.SendingETA <= 0 {
		t.Errorf("status %+v", st)
	}
	var text, js bytes.Buffer
	if err := st.WriteText(&text, time.UTC); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"4 row(s)", "delivered", "rejected", `row 2 (key "P002"`, "Post parameter is not valid", "still to send"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("status text lacks %q:\n%s", want, text.String())
		}
	}
	if err := st.WriteJSON(&js); err != nil || !strings.Contains(js.String(), `"rejected": 1`) {
		t.Errorf("status JSON (%v):\n%s", err, js.String())
	}
	// The estimate starts from the time given, not the machine's: the row
	// left waits for the window to open on Monday when asked on a Saturday.
	c := f.campaign()
	if c.Sending.Window, err = campaign.ParseWindow("mon-fri 08:00-13:00"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		now      time.Time
		min, max time.Duration
	}{
		{time.Date(2026, 12, 5, 10, 0, 0, 0, campaign.Rome()), 46 * time.Hour, 47 * time.Hour},
		{time.Date(2026, 12, 7, 10, 0, 0, 0, campaign.Rome()), 0, time.Minute},
	} {
		st, err := Status(t.Context(), c, "", tc.now)
		if err != nil {
			t.Fatal(err)
		}
		if st.SendingETA < tc.min || st.SendingETA > tc.max {
			t.Errorf("asked at %s: sending ETA %s, want in [%s, %s]", tc.now, st.SendingETA, tc.min, tc.max)
		}
	}
}

func TestTestSend(t *testing.T) {
	f := newFixture(t, fastSandbox(), csvRows(3, "pec.example.it")...)
	var out bytes.Buffer
	f.rec = newRecorder(&out)
	res, err := TestSend(t.Context(), f.campaign(), Deps{Printer: f.rec}, TestSendOptions{To: "Me@PEC.example.it", Row: 2})
	if err != nil {
		t.Fatalf("TestSend: %v", err)
	}
	sends := f.sb.Sends()
	if len(sends) != 1 || sends[0].Subject != "[TEST] Sollecito P002" || sends[0].Recipients[0] != "me@pec.example.it" ||
		sends[0].Code != res.MessageID {
		t.Fatalf("sandbox sends %+v, result %+v", sends, res)
	}
	r, err := journal.OpenReadOnly(t.Context(), f.campaign().Sending.Journal)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var kinds []string
	for ev, err := range r.Events(t.Context()) {
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(ev.Kind, "test_") {
			kinds = append(kinds, ev.Kind)
			if ev.Kind == EventTestSent && !strings.Contains(string(ev.Detail), res.MessageID) {
				t.Errorf("event %s", ev.Detail)
			}
		}
	}
	if strings.Join(kinds, ",") != "test_sending,test_sent" {
		t.Errorf("events %v", kinds)
	}
	// It is not a campaign row: the campaign still sends every row.
	if res, out, err := f.run(t.Context(), testRun{NoWait: true}); err != nil || res.Sent != 3 {
		t.Fatalf("Run after a test send: %d sent, %v\n%s", res.Sent, err, out)
	}
	if _, err := TestSend(t.Context(), f.campaign(), Deps{}, TestSendOptions{To: "not an address", Row: 1}); !errors.Is(err, campaign.ErrInvalidInput) {
		t.Errorf("bad --to: %v", err)
	}
}

// TestRunContentChangedUnderRun: an attachment changed while the run goes
// on makes the row render differently from what was journaled: the run
// stops before sending it.
func TestRunContentChangedUnderRun(t *testing.T) {
	f := newFixture(t, fastSandbox(), csvRows(4, "pec.example.it")...)
	if err := os.Mkdir(filepath.Join(f.dir, "allegati"), 0o700); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 4; i++ {
		f.write(fmt.Sprintf("allegati/P%03d.txt", i), fmt.Sprintf("nota %d\n", i))
	}
	f.write("campaign.yaml", strings.Replace(fmt.Sprintf(testCampaignYAML, f.subject, f.rate, f.window, f.maxConsecutive, false),
		"  body: corpo.html\n", "  body: corpo.html\n  attachments:\n    - file: \"allegati/{{.id}}.txt\"\n", 1))
	var sends atomic.Int32
	f.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if isSend(r) && sends.Add(1) == 2 {
			f.write("allegati/P003.txt", "nota cambiata\n")
		}
		next.ServeHTTP(w, r)
	})
	_, out, err := f.run(t.Context(), testRun{NoWait: true})
	if err == nil || !strings.Contains(err.Error(), `row 3 (key "P003") renders differently`) {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	if st := f.states(); st["P003"] != journal.StatePending || st["P004"] != journal.StatePending {
		t.Errorf("states %v: rows 3 and 4 must stay pending", st)
	}
	f.checkExactlyOnce(2)
}

func TestSandboxJournalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/a/campaign.journal.db": "/a/campaign.sandbox.journal.db",
		"/a/solleciti.db":        "/a/solleciti.sandbox.db",
		"/a/journal":             "/a/journal.sandbox",
	} {
		if got := SandboxJournalPath(in); got != want {
			t.Errorf("SandboxJournalPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestResetSandboxJournal: a sandbox journal is removed; any other is
// refused and kept.
func TestResetSandboxJournal(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t, fastSandbox(), csvRows(1, "pec.example.it")...)
	if _, out, err := f.run(ctx, testRun{NoWait: true, Endpoint: SandboxEndpoint}); err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	path := f.campaign().Sending.Journal
	if reset, err := ResetSandboxJournal(ctx, path); !reset || err != nil {
		t.Fatalf("ResetSandboxJournal = %v, %v", reset, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the sandbox journal is still there: %v", err)
	}
	if reset, err := ResetSandboxJournal(ctx, path); reset || err != nil {
		t.Errorf("no journal: ResetSandboxJournal = %v, %v", reset, err)
	}
	if _, out, err := f.run(ctx, testRun{NoWait: true}); err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	if _, err := ResetSandboxJournal(ctx, path); err == nil || !strings.Contains(err.Error(), "not to the built-in sandbox") {
		t.Errorf("a real journal: %v, want a refusal", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the real journal was touched: %v", err)
	}
}

// TestStatusListsUndelivered: rows that did not reach their recipients
// (failed, expired, not certifiable) are listed under attention, in the
// text and the JSON, with the row a pending row or a delivered row is not.
func TestStatusListsUndelivered(t *testing.T) {
	f := newFixture(t, fastSandbox(), csvRows(1, "pec.example.it")...)
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "status.journal.db")
	now := time.Date(2026, 11, 30, 17, 0, 0, 0, time.UTC)
	j, err := journal.Open(ctx, path, journal.WithNow(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	outcomes := []journal.RecipientState{journal.RecipientDelivered, journal.RecipientFailed, journal.RecipientExpired,
		journal.RecipientNotCertifiable, ""}
	var rows []journal.NewRow
	for i := range outcomes {
		rows = append(rows, journal.NewRow{Key: fmt.Sprintf("K%d", i+1), RowNumber: i + 1,
			Recipients: []string{fmt.Sprintf("dest%d@pec.example.it", i+1)}, Subject: "Sollecito",
			ContentSHA256: strings.Repeat(fmt.Sprint(i+1), 64)})
	}
	meta := journal.Meta{Campaign: "stato", Endpoint: "sandbox:builtin", Sender: "ufficio@pec.example.it",
		Fingerprint: journal.Fingerprint{"campaign file": strings.Repeat("a", 64)}}
	if _, err := j.Init(ctx, meta, journal.RowsOf(rows)); err != nil {
		t.Fatal(err)
	}
	for i, o := range outcomes {
		if o == "" {
			continue // stays pending
		}
		row, err := j.RowByKey(ctx, fmt.Sprintf("K%d", i+1))
		if err != nil {
			t.Fatal(err)
		}
		code := fmt.Sprintf("PM%04d", i+1)
		if err := j.MarkSending(ctx, row.ID); err != nil {
			t.Fatal(err)
		}
		if err := j.MarkSubmitted(ctx, row.ID, code); err != nil {
			t.Fatal(err)
		}
		_, err = j.ApplyReceipts(ctx, row.ID, []journal.Receipt{{Code: code, Kind: "acceptance", Date: now, DateText: "30/11/2026 18:00:00",
			Addressee: row.Recipients[0], Subject: "ACCETTAZIONE: Sollecito " + code, Body: "accettato"}},
			[]journal.Outcome{{Address: row.Recipients[0], State: o, At: now.Add(time.Minute), Error: "5.1.1 - indirizzo non valido"}})
		if err != nil {
			t.Fatal(err)
		}
	}
	j.Close()

	st, err := Status(ctx, f.campaign(), path, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, a := range st.Attention {
		keys = append(keys, a.Key+"="+a.State)
	}
	want := "K2=failed K3=expired K4=accepted_not_certifiable"
	if got := strings.Join(keys, " "); got != want || st.AttentionCount != 3 {
		t.Errorf("attention = %q (count %d), want %q (3)", got, st.AttentionCount, want)
	}
	var text, js bytes.Buffer
	if err := st.WriteText(&text, time.UTC); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"Rows that need attention (3)", `row 2 (key "K2", dest2@pec.example.it) failed`,
		`row 3 (key "K3", dest3@pec.example.it) expired`, `row 4 (key "K4", dest4@pec.example.it) accepted_not_certifiable`,
		"pecbatch report --only undelivered"} {
		if !strings.Contains(text.String(), w) {
			t.Errorf("status text lacks %q:\n%s", w, text.String())
		}
	}
	if err := st.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Attention []AttentionRow `json:"attention"`
		Count     int            `json:"attention_count"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Count != 3 || len(back.Attention) != 3 ||
		back.Attention[1].State != "expired" {
		t.Errorf("status JSON (%v): %+v\n%s", err, back, js.String())
	}
}
