package runner

import (
	"bytes"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/journal"
)

// crashNextSend is the next run dying in the middle of row key's send: the
// row committed as sending and, with request, the request made, and the
// process gone before the answer was recorded. It returns the message id
// the service gave ("" without request).
func (f *fixture) crashNextSend(key string, request bool) string {
	f.t.Helper()
	ctx := f.t.Context()
	c := f.campaign()
	j, err := journal.Open(ctx, c.Sending.Journal)
	if err != nil {
		f.t.Fatal(err)
	}
	row, err := j.RowByKey(ctx, key)
	if err == nil {
		err = j.MarkSending(ctx, row.ID)
	}
	if cerr := j.Close(); err == nil {
		err = cerr
	}
	if err != nil || !request {
		if err != nil {
			f.t.Fatal(err)
		}
		return ""
	}
	m, err := c.RenderRow(ctx, row.RowNumber)
	if err != nil {
		f.t.Fatal(err)
	}
	cl, err := NewClient(c, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	req := sendRequest(c.Sender.Address, m)
	req.Subject = row.Subject
	sent, err := cl.Send(ctx, req)
	if err != nil {
		f.t.Fatal(err)
	}
	f.awaitReceipts(sent.MessageID)
	return sent.MessageID
}

func (f *fixture) resolve(o ResolveOptions) (*ResolveResult, error) {
	return Resolve(f.t.Context(), f.campaign(), Deps{LedgerPath: f.ledgerPath()}, o)
}

// TestResolveNotSentThenCrash: a row whose send failed with a 500 is
// unknown; the operator decides it was not sent and it is pending. The
// next run dies in the middle of its send, before or after the request:
// the decision holds (it was on disk when Resolve returned), and the runs
// after send the row exactly once.
func TestResolveNotSentThenCrash(t *testing.T) {
	for _, request := range []bool{true, false} {
		name := map[bool]string{true: "crash after the request", false: "crash before the request"}[request]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fastSandbox(), csvRows(4, "pec.example.it")...)
			f.window = "1m"
			f.writeCampaign()
			var on atomic.Bool
			on.Store(true)
			faultOn(t, f, "500", &on, "Sollecito P002")
			if _, out, err := f.run(t.Context(), testRun{NoWait: true}); !errors.Is(err, campaign.ErrRowsUnknown) {
				t.Fatalf("Run: %v, want ErrRowsUnknown\n%s", err, out)
			}
			on.Store(false)
			if _, err := f.resolve(ResolveOptions{Row: 1, As: journal.DecidedNotSent}); !errors.Is(err, campaign.ErrInvalidInput) ||
				!strings.Contains(err.Error(), "not unknown") {
				t.Errorf("resolve of a sent row: %v, want a refusal naming its state", err)
			}
			res, err := f.resolve(ResolveOptions{Row: 2, As: journal.DecidedNotSent, Note: "not in the sent folder"})
			if err != nil || res.State != journal.StatePending || res.Key != "P002" {
				t.Fatalf("Resolve = %+v, %v", res, err)
			}
			if row := f.rowsByKey()["P002"]; row.State != journal.StatePending || row.Decision != journal.DecidedNotSent {
				t.Fatalf("P002 after the decision: %s, decision %q", row.State, row.Decision)
			}

			code := f.crashNextSend("P002", request)
			run, out, err := f.run(t.Context(), testRun{NoWait: true})
			if request {
				// Reconciliation finds the send that went out: it is not sent again.
				if err != nil || run.Sent != 0 || f.rowsByKey()["P002"].MessageID != code {
					t.Fatalf("run after the crash: %v, sent %d, P002 %+v (want %s)\n%s", err, run.Sent, f.rowsByKey()["P002"], code, out)
				}
				f.checkExactlyOnce(4)
			} else {
				// Nothing proves the send either way: unknown again, never
				// sent by itself; the operator decides once more.
				if !errors.Is(err, campaign.ErrRowsUnknown) || run.Sent != 0 {
					t.Fatalf("run after the crash: %v, sent %d\n%s", err, run.Sent, out)
				}
				f.checkExactlyOnce(3)
				if _, err := f.resolve(ResolveOptions{Key: "P002", As: journal.DecidedNotSent}); err != nil {
					t.Fatal(err)
				}
				if run, out, err = f.run(t.Context(), testRun{NoWait: true}); err != nil || run.Sent != 1 {
					t.Fatalf("run after the second decision: %v, sent %d\n%s", err, run.Sent, out)
				}
				f.checkExactlyOnce(4)
			}

			st, err := Status(t.Context(), f.campaign(), "", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			last := st.Decisions[len(st.Decisions)-1]
			if last.Decision != "resolved not_sent" || last.Key != "P002" || last.Note != "not in the sent folder" {
				t.Errorf("status decisions = %+v", st.Decisions)
			}
			var text bytes.Buffer
			if err := st.WriteText(&text, time.UTC); err != nil || !strings.Contains(text.String(), "decided not sent") {
				t.Errorf("status text (%v) lacks the decision:\n%s", err, text.String())
			}
		})
	}
}

// TestResolveSent: the operator gives the message id of a send whose
// answer was lost; the row is tracked from it to delivered, and an id
// another row owns, in this journal or in the mailbox's claim ledger, is
// refused.
func TestResolveSent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	f := newFixture(t, fastSandbox(), csvRows(3, "pec.example.it")...)
	f.window = "1m"
	f.writeCampaign()
	if _, out, err := f.run(ctx, testRun{NoWait: true, Limit: 1}); err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	code := f.crashNextSend("P002", true)
	// The operator marks it unknown as a run would after the crash.
	j, err := journal.Open(ctx, f.campaign().Sending.Journal)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.MarkUnknown(ctx, f.rowsByKey()["P002"].ID, "timeout"); err != nil {
		t.Fatal(err)
	}
	j.Close()

	other := f.rowsByKey()["P001"].MessageID
	if _, err := f.resolve(ResolveOptions{Key: "P002", As: journal.DecidedSent, MessageID: other}); !errors.Is(err, campaign.ErrInvalidInput) {
		t.Errorf("resolve with P001's id: %v, want a refusal", err)
	}
	l, err := journal.OpenLedger(ctx, f.ledgerPath())
	if err != nil {
		t.Fatal(err)
	}
	err = l.Claim(ctx, "ELSEWHERE-1", journal.ClaimOwner{JournalID: strings.Repeat("e", 32), JournalPath: "/x", RowKey: "Z", Row: 9})
	l.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.resolve(ResolveOptions{Key: "P002", As: journal.DecidedSent, MessageID: "ELSEWHERE-1"}); !errors.Is(err, journal.ErrClaimed) {
		t.Errorf("resolve with an id another journal claimed: %v, want ErrClaimed", err)
	}
	if _, err := f.resolve(ResolveOptions{Key: "P002", As: journal.DecidedSent}); !errors.Is(err, campaign.ErrInvalidInput) {
		t.Errorf("resolve sent without an id: %v", err)
	}
	if row := f.rowsByKey()["P002"]; row.State != journal.StateUnknown || row.Decision != "" {
		t.Fatalf("refused decisions changed P002: %+v", row)
	}

	res, err := f.resolve(ResolveOptions{Key: "P002", As: journal.DecidedSent, MessageID: code, Note: "seen in web mail"})
	if err != nil || res.State != journal.StateSubmitted {
		t.Fatalf("Resolve = %+v, %v", res, err)
	}
	run, out, err := f.run(ctx, testRun{})
	if err != nil || run.Sent != 1 || run.Counts[journal.StateDelivered] != 3 {
		t.Fatalf("run after the decision: %v, sent %d, counts %v\n%s", err, run.Sent, run.Counts, out)
	}
	f.checkExactlyOnce(3)
	if row := f.rowsByKey()["P002"]; row.MessageID != code || row.Decision != journal.DecidedSent {
		t.Errorf("P002 = %s %q decision %q", row.State, row.MessageID, row.Decision)
	}
}

// TestRetryRejected: a rejected row is queued again once the cause is
// fixed and sent exactly once more; its first attempt stays in the
// history and in status; a row named in --rows in another state is
// refused and nothing changes.
func TestRetryRejected(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	f := newFixture(t, fastSandbox(), csvRows(3, "pec.example.it")...)
	var on atomic.Bool
	on.Store(true)
	f.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if on.Load() && isSend(r) && strings.Contains(readBody(t, r), "Sollecito P002") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"success":false,"message":"Mailbox full"}`))
			return
		}
		next.ServeHTTP(w, r)
	})
	if _, out, err := f.run(ctx, testRun{NoWait: true}); !errors.Is(err, campaign.ErrRowsFailed) {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	retry := func(o RetryOptions) (*RetryResult, error) {
		return Retry(ctx, f.campaign(), Deps{}, o)
	}
	only := func(rows ...int) func(int) bool { return func(n int) bool { return slices.Contains(rows, n) } }
	if _, err := retry(RetryOptions{States: []journal.State{journal.StateRejected}, Rows: only(1, 3)}); !errors.Is(err, campaign.ErrInvalidInput) ||
		!strings.Contains(err.Error(), `row 1 (key "P001") is`) {
		t.Errorf("retry of sent rows only: %v, want a refusal naming their state", err)
	}
	if _, err := retry(RetryOptions{States: []journal.State{journal.StateDelivered}}); !errors.Is(err, campaign.ErrInvalidInput) {
		t.Errorf("retry of delivered rows: %v, want a refusal", err)
	}
	if row := f.rowsByKey()["P002"]; row.State != journal.StateRejected || row.Attempt != 1 {
		t.Fatalf("refused retries changed P002: %s attempt %d", row.State, row.Attempt)
	}
	on.Store(false)
	res, err := retry(RetryOptions{States: []journal.State{journal.StateRejected, journal.StateFailed}, Rows: only(1, 2),
		Note: "mailbox emptied"})
	if err != nil || len(res.Retried) != 1 || len(res.Skipped) != 1 {
		t.Fatalf("Retry = %+v, %v", res, err)
	}
	if got := res.Retried[0]; got.Key != "P002" || got.Attempt != 2 || got.From != journal.StateRejected {
		t.Errorf("retried %+v", got)
	}
	run, out, err := f.run(ctx, testRun{})
	if err != nil || run.Sent != 1 || run.Counts[journal.StateDelivered] != 3 {
		t.Fatalf("run after the retry: %v, sent %d, counts %v\n%s", err, run.Sent, run.Counts, out)
	}
	f.checkExactlyOnce(3)
	row := f.rowsByKey()["P002"]
	if row.Attempt != 2 || row.State != journal.StateDelivered {
		t.Errorf("P002 = %s attempt %d", row.State, row.Attempt)
	}
	r, err := journal.OpenReadOnly(ctx, f.campaign().Sending.Journal)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	hist, err := r.Attempts(ctx, row.ID)
	if err != nil || len(hist) != 1 || hist[0].State != journal.StateRejected || !strings.Contains(hist[0].Error, "Mailbox full") {
		t.Errorf("history = %+v, %v", hist, err)
	}
	st, err := Status(ctx, f.campaign(), "", time.Now())
	if err != nil || st.DecisionCount != 1 || st.Decisions[0].Decision != "retried" || st.Decisions[0].From != "rejected" ||
		st.Decisions[0].Note != "mailbox emptied" {
		t.Errorf("status decisions = %+v, %v", st.Decisions, err)
	}
}
