package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/journal"
)

// TestResendUnknownNeedsACompleteSearch: --resend-unknown sends a row
// again only after a search of the mailbox that went through. When the
// search fails, or stops before reaching the time of the send, the row's
// acceptance may be in the part not read: resending it could send the
// notice twice, so the row stays unknown.
func TestResendUnknownNeedsACompleteSearch(t *testing.T) {
	filler := func(w http.ResponseWriter, page int) {
		var data []map[string]any
		for i := range 25 {
			data = append(data, map[string]any{
				"sender": "posta-certificata@pec.sandbox.test", "recipient": "sandbox@pec.sandbox.test",
				"date":   time.Now().Format(time.RFC1123Z),
				"object": "CONSEGNA: Sollecito P001 99" + strconv.Itoa(page*100+i),
				"id":     fmt.Sprintf("9%05d%02d", page, i),
			})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"success": true, "message": "", "data": data,
			"total": 25 * (maxInboxPagesPerSubject + 1), "page": page, "n_of_pages": maxInboxPagesPerSubject + 1})
	}
	fail := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"success":false,"message":"MySQL Error 2006"}`))
	}
	tests := []struct {
		name    string
		mailbox func(w http.ResponseWriter, r *http.Request, next http.Handler)
	}{
		{"the search fails", func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			if r.URL.Path == "/inbox" {
				fail(w)
				return
			}
			next.ServeHTTP(w, r)
		}},
		{"a receipt cannot be read", func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			if strings.HasPrefix(r.URL.Path, "/inbox/") {
				fail(w)
				return
			}
			next.ServeHTTP(w, r)
		}},
		{"the search stops at its page bound", func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			if r.URL.Path != "/inbox" {
				next.ServeHTTP(w, r)
				return
			}
			// Newer messages fill the first pages; the acceptance is past
			// the bound.
			page, _ := strconv.Atoi(r.URL.Query().Get("page"))
			if page <= maxInboxPagesPerSubject {
				filler(w, page)
				return
			}
			q := r.URL.Query()
			q.Set("page", strconv.Itoa(page-maxInboxPagesPerSubject))
			r.URL.RawQuery = q.Encode()
			next.ServeHTTP(w, r)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fastSandbox(), csvRows(1, "pec.example.it")...)
			f.window = "1m"
			f.writeCampaign()
			// First run: the send happens, the connection drops, and the
			// mailbox is unavailable: the row stays unknown.
			f.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
				switch {
				case isSend(r):
					next.ServeHTTP(httptest.NewRecorder(), r)
					conn, _, err := w.(http.Hijacker).Hijack()
					if err == nil {
						conn.Close()
					}
				case strings.HasPrefix(r.URL.Path, "/inbox"):
					fail(w)
				default:
					next.ServeHTTP(w, r)
				}
			})
			_, out, err := f.run(t.Context(), testRun{NoWait: true})
			if !errors.Is(err, campaign.ErrRowsUnknown) || len(f.sb.Sends()) != 1 {
				t.Fatalf("first run: %v, %d sends; want campaign.ErrRowsUnknown, 1 send\n%s", err, len(f.sb.Sends()), out)
			}

			// Past the window, with the mailbox search not going through.
			f.setWrap(tt.mailbox)
			res, out, err := f.run(t.Context(), testRun{ResendUnknown: true, NoWait: true,
				Clock: offsetClock(2 * time.Minute)})
			if n := len(f.sb.Sends()); n != 1 || res.Sent != 0 {
				t.Fatalf("--resend-unknown without a complete search sent the row again (%d sends in all): %v\n%s", n, err, out)
			}
			if got := f.states()["P001"]; got != journal.StateUnknown {
				t.Errorf("P001 is %s, want unknown", got)
			}
			if !errors.Is(err, campaign.ErrRowsUnknown) {
				t.Errorf("second run: %v, want campaign.ErrRowsUnknown", err)
			}

			// With the mailbox back, the acceptance is found: still one send.
			f.setWrap(nil)
			res, out, err = f.run(t.Context(), testRun{ResendUnknown: true, NoWait: true,
				Clock: offsetClock(2 * time.Minute)})
			if err != nil || res.Sent != 0 || res.Stats.Reconciled != 1 {
				t.Fatalf("third run: %v, sent %d, reconciled %d\n%s", err, res.Sent, res.Stats.Reconciled, out)
			}
			f.checkExactlyOnce(1)
		})
	}
}

// TestReconcileNeverTakesTheAcceptanceOfASendInFlight: two rows with the
// same subject and recipient; the first send fails with a 500 (not sent),
// the second is acted on but its answer is slow. The acceptance of the
// second, already in the mailbox, must not be given to the first while the
// second is still in sending: the first would be reported submitted though
// never sent, and the second, its code taken, would stay unknown and be
// sent again by --resend-unknown.
func TestReconcileNeverTakesTheAcceptanceOfASendInFlight(t *testing.T) {
	f := newFixture(t, fastSandbox(), "P001,dest@pec.example.it,Uno", "P002,dest@pec.example.it,Due")
	f.subject = "Avviso importante"
	f.window = "1s"
	f.writeCampaign()

	release := make(chan struct{})
	var once sync.Once
	var readReceipt atomic.Bool
	f.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		switch {
		case isSend(r) && strings.Contains(readBody(t, r), "Gentile Uno"):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"success":false,"message":"MySQL Error 2006"}`))
		case isSend(r):
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			// The answer waits until reconciliation has read the
			// acceptance and searched again (or, failing that, a while).
			select {
			case <-release:
			case <-time.After(3 * time.Second):
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
		case strings.HasPrefix(r.URL.Path, "/inbox/"):
			next.ServeHTTP(w, r)
			readReceipt.Store(true)
		case r.URL.Path == "/inbox" && readReceipt.Load():
			once.Do(func() { close(release) })
			next.ServeHTTP(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
	_, out, err := f.run(t.Context(), testRun{NoWait: true})
	if !errors.Is(err, campaign.ErrRowsUnknown) {
		t.Errorf("Run: %v, want campaign.ErrRowsUnknown", err)
	}
	sends := f.sb.Sends()
	if len(sends) != 1 {
		t.Fatalf("%d sends, want 1\n%s", len(sends), out)
	}
	rows := f.rowsByKey()
	if got := rows["P001"]; got.State != journal.StateUnknown {
		t.Errorf("P001 (never sent) is %s with message id %q, want unknown\n%s", got.State, got.MessageID, out)
	}
	if got := rows["P002"]; got.State != journal.StateSubmitted || got.MessageID != sends[0].Code {
		t.Errorf("P002 is %s with message id %q, want submitted with %s\n%s", got.State, got.MessageID, sends[0].Code, out)
	}
}
