package runner

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/client"
	"github.com/pecbatch/pecbatch/client/sandbox"
	"github.com/pecbatch/pecbatch/journal"
)

// answerWith writes an answer to a send.
func answerWith(w http.ResponseWriter, status int, contentType, body string) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// TestRunAccountFailures: an answer about the account or the endpoint stops
// the run at the row it came for, which stays pending (or unknown when it may
// have been sent), and no row is rejected or final that was not sent; once
// the cause is gone, the next run finishes with nothing sent twice.
func TestRunAccountFailures(t *testing.T) {
	const rows = 5
	tests := []struct {
		name string
		// from is the first send (1-based, this run) the fault answers;
		// every send from it on gets the fault.
		from int
		// forward lets the sandbox act on the request before the answer.
		forward bool
		status  int
		ctype   string
		body    string
		// says is what the run's error must say.
		says []string
		// pending and unknown are the rows left so by the first run.
		pending, unknown []string
		// sentFirst is how many messages the first run sent.
		sentFirst int
	}{
		{
			name: "401", from: 2, status: http.StatusUnauthorized, ctype: "application/json",
			body:    `{"success":false,"message":"Unauthorized"}`,
			says:    []string{"401", "credentials", "api.token", "(key P002) is pending", "run the same command again"},
			pending: []string{"P002", "P003", "P004", "P005"}, sentFirst: 1,
		},
		{
			name: "403 daily limit", from: 3, status: http.StatusForbidden, ctype: "application/json",
			body:    `{"success":false,"message":"Daily limit of 3500 messages exceeded"}`,
			says:    []string{"403", "limit", "daily or monthly limit", "(key P003) is pending"},
			pending: []string{"P003", "P004", "P005"}, sentFirst: 2,
		},
		{
			name: "mailbox password refused, SMTP text in message_id", from: 2, status: http.StatusCreated,
			ctype:   "application/json",
			body:    `{"success":true,"sent":0,"message_id":"SMTP Error: 535 5.7.8 Error: authentication failed"}`,
			says:    []string{"mailbox-login", "sender.password", "(key P002) is pending"},
			pending: []string{"P002", "P003", "P004", "P005"}, sentFirst: 1,
		},
		{
			name: "HTML 502 page from a proxy after the request was forwarded", from: 2, forward: true,
			status: http.StatusBadGateway, ctype: "text/html",
			body:    "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>",
			says:    []string{"502", "endpoint", "api.base_url", "(key P002) is unknown"},
			pending: []string{"P003", "P004", "P005"}, unknown: []string{"P002"}, sentFirst: 2,
		},
		{
			name: "the first three sends refused with the same answer", from: 1, status: http.StatusBadRequest,
			ctype:   "application/json",
			body:    `{"success":false,"message":"Post parameter is not valid"}`,
			says:    []string{"first 3 sends", "rows 1, 2, 3", "Post parameter is not valid", "none rejected"},
			pending: []string{"P001", "P002", "P003", "P004", "P005"}, sentFirst: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fastSandbox(), csvRows(rows, "pec.example.it")...)
			var sends atomic.Int32
			f.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
				if !isSend(r) || int(sends.Add(1)) < tt.from {
					next.ServeHTTP(w, r)
					return
				}
				if tt.forward {
					next.ServeHTTP(httptest.NewRecorder(), r)
				}
				answerWith(w, tt.status, tt.ctype, tt.body)
			})
			res, out, err := f.run(t.Context(), testRun{})
			if err == nil || errors.Is(err, campaign.ErrInterrupted) || errors.Is(err, campaign.ErrRowsFailed) ||
				errors.Is(err, campaign.ErrRowsUnknown) {
				t.Fatalf("Run: %v, want the run stopped\n%s", err, out)
			}
			for _, s := range tt.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("the error does not say %q: %v", s, err)
				}
			}
			if want := tt.sentFirst - len(tt.unknown); res.Sent != want {
				t.Errorf("submitted %d, want %d", res.Sent, want)
			}
			st := f.rowsByKey()
			for _, k := range tt.pending {
				if st[k].State != journal.StatePending {
					t.Errorf("%s is %s, want pending", k, st[k].State)
				}
			}
			for _, k := range tt.unknown {
				if st[k].State != journal.StateUnknown {
					t.Errorf("%s is %s, want unknown", k, st[k].State)
				}
			}
			for k, row := range st {
				if row.State == journal.StateRejected || row.State == journal.StateFailed || row.State == journal.StateExpired {
					t.Errorf("%s is %s (%s): an account failure finalised a row", k, row.State, row.LastError)
				}
			}
			f.checkExactlyOnce(tt.sentFirst)

			// The account is fixed: the next run finishes, nothing twice.
			f.setWrap(nil)
			res, out, err = f.run(t.Context(), testRun{})
			if err != nil {
				t.Fatalf("run after the fix: %v\n%s", err, out)
			}
			if res.Counts[journal.StateDelivered] != rows {
				t.Errorf("after the fix: counts %v, want %d delivered", res.Counts, rows)
			}
			f.checkExactlyOnce(rows)
		})
	}
}

// TestRunOpeningRefusals: refusals at the start of a run are held (pending)
// until another answer shows they were about their rows; then, and when
// there is nothing more to send, they are rejected with their message.
func TestRunOpeningRefusals(t *testing.T) {
	refuse := func(keys ...string) func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			if isSend(r) {
				body := readBody(t, r)
				for _, k := range keys {
					if strings.Contains(body, `"subject":"Sollecito `+k+`"`) {
						answerWith(w, http.StatusBadRequest, "application/json",
							`{"success":false,"message":"Post parameter is not valid (`+k[len(k)-1:]+`)"}`)
						return
					}
				}
			}
			next.ServeHTTP(w, r)
		}
	}
	same := func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if isSend(r) {
			body := readBody(t, r)
			if strings.Contains(body, `"subject":"Sollecito P001"`) || strings.Contains(body, `"subject":"Sollecito P002"`) {
				answerWith(w, http.StatusBadRequest, "application/json", `{"success":false,"message":"Post parameter is not valid"}`)
				return
			}
		}
		next.ServeHTTP(w, r)
	}
	tests := []struct {
		name     string
		rows     int
		limit    int
		wrap     func(w http.ResponseWriter, r *http.Request, next http.Handler)
		rejected []string
		sent     int
	}{
		{name: "two same refusals, then a send", rows: 4, wrap: same, rejected: []string{"P001", "P002"}, sent: 2},
		{name: "three different refusals", rows: 4, wrap: refuse("P001", "P002", "P003"),
			rejected: []string{"P001", "P002", "P003"}, sent: 1},
		{name: "a trial of one refused row", rows: 3, limit: 1, wrap: refuse("P001"), rejected: []string{"P001"}},
		{name: "every row refused, fewer than three", rows: 2, wrap: same, rejected: []string{"P001", "P002"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fastSandbox(), csvRows(tt.rows, "pec.example.it")...)
			f.setWrap(tt.wrap)
			res, out, err := f.run(t.Context(), testRun{Limit: tt.limit, NoWait: true})
			if !errors.Is(err, campaign.ErrRowsFailed) {
				t.Fatalf("Run: %v, want campaign.ErrRowsFailed\n%s", err, out)
			}
			st := f.rowsByKey()
			for _, k := range tt.rejected {
				if st[k].State != journal.StateRejected || !strings.Contains(st[k].LastError, "Post parameter is not valid") {
					t.Errorf("%s is %s (%q), want rejected with the API's message", k, st[k].State, st[k].LastError)
				}
			}
			if got := res.Counts[journal.StateRejected]; got != len(tt.rejected) {
				t.Errorf("%d rejected, want %d: %v", got, len(tt.rejected), res.Counts)
			}
			if res.Sent != tt.sent {
				t.Errorf("sent %d, want %d", res.Sent, tt.sent)
			}
			f.checkExactlyOnce(tt.sent)
		})
	}
}

// TestRunOpeningRefusalsInterrupted: a run interrupted while refusals are
// held leaves those rows pending, none rejected: the next run decides.
func TestRunOpeningRefusalsInterrupted(t *testing.T) {
	f := newFixture(t, fastSandbox(), csvRows(4, "pec.example.it")...)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var sends atomic.Int32
	f.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if !isSend(r) {
			next.ServeHTTP(w, r)
			return
		}
		if sends.Add(1) == 2 {
			cancel() // Ctrl-C during the second send
		}
		answerWith(w, http.StatusBadRequest, "application/json", `{"success":false,"message":"Post parameter is not valid"}`)
	})
	_, out, err := f.run(ctx, testRun{})
	if !errors.Is(err, campaign.ErrInterrupted) {
		t.Fatalf("Run: %v, want campaign.ErrInterrupted\n%s", err, out)
	}
	st := f.states()
	if countStates(st, journal.StatePending) != 4 {
		t.Errorf("states %v, want every row pending", st)
	}
	f.checkExactlyOnce(0)
}

// TestRunSandboxAccountFaults: the sandbox's own account faults (not a
// wrapper's answers) stop the run from the second send on with no row
// finalised, and a rerun once the account is fixed finishes the campaign
// with every message sent once.
func TestRunSandboxAccountFaults(t *testing.T) {
	const rows = 4
	tests := []struct {
		fault sandbox.Fault
		// says is what the run's error must say.
		says string
		// unknown says the faulty answer may hide a send: the row is
		// unknown, and the rerun resends it only after its window.
		unknown bool
	}{
		{sandbox.FaultSMTPAuth, "mailbox-login", false},
		{sandbox.FaultSMTPAuthFalse, "mailbox-login", false},
		{sandbox.FaultDailyLimit, "limit", false},
		{sandbox.FaultProxy502, "endpoint", true},
	}
	for _, tt := range tests {
		t.Run(string(tt.fault), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fastSandbox(), csvRows(rows, "pec.example.it")...)
			f.window = "1s"
			f.writeCampaign()
			var sends atomic.Int32
			f.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
				if isSend(r) && sends.Add(1) == 2 {
					f.sb.SetFault(tt.fault)
				}
				next.ServeHTTP(w, r)
			})
			_, out, err := f.run(t.Context(), testRun{NoWait: true})
			if !errors.Is(err, client.ErrAccount) || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("Run: %v, want a stop for client.ErrAccount saying %q\n%s", err, tt.says, out)
			}
			st := f.states()
			want := journal.StatePending
			if tt.unknown {
				want = journal.StateUnknown
			}
			if st["P002"] != want || st["P003"] != journal.StatePending || st["P004"] != journal.StatePending {
				t.Errorf("states %v: want P002 %s and the rest pending", st, want)
			}
			f.checkExactlyOnce(1)

			f.sb.SetFault(sandbox.FaultNone)
			f.setWrap(nil)
			res, out, err := f.run(t.Context(), testRun{ResendUnknown: true, Clock: offsetClock(time.Minute)})
			if err != nil {
				t.Fatalf("run after the fix: %v\n%s", err, out)
			}
			if res.Counts[journal.StateDelivered] != rows {
				t.Errorf("after the fix: counts %v, want %d delivered", res.Counts, rows)
			}
			f.checkExactlyOnce(rows)
		})
	}
}
