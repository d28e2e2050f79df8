package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/client"
	"github.com/pecbatch/pecbatch/journal"
)

// badGateway answers like a proxy whose upstream failed: the request never
// reached the service, but the client cannot know it.
func badGateway(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusBadGateway)
	_, _ = w.Write([]byte("<html><head><title>502 Bad Gateway</title></head><body>502 Bad Gateway</body></html>"))
}

// rowOf reads one row of the journal at path.
func rowOf(t *testing.T, path, key string) journal.Row {
	t.Helper()
	r, err := journal.OpenReadOnly(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	row, err := r.RowByKey(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	return row
}

// withReference turns sending.reference: subject on in the campaign file.
func (f *fixture) withReference() {
	f.t.Helper()
	yaml := fmt.Sprintf(testCampaignYAML, f.subject, f.rate, f.window, f.maxConsecutive, f.deleteReceipts)
	f.write("campaign.yaml", strings.Replace(yaml, "sending:\n", "sending:\n  reference: subject\n", 1))
}

// waitAcceptances waits until the sandbox's acceptances of the sends so
// far are in the mailbox.
func (f *fixture) waitAcceptances() {
	f.t.Helper()
	var codes []string
	for _, s := range f.sb.Sends() {
		codes = append(codes, s.Code)
	}
	f.awaitReceipts(codes...)
}

// TestTwoJournalsOneMailbox is issue 13's first case: two campaigns (two
// journals) send from one mailbox the same subject to the same recipient.
// One journal's only send gets a proxy's 502 and is not sent; the other's
// is sent. The first must never take the other's acceptance as its own
// (both would report one message as delivered): it stays unknown, and is
// sent itself once a complete search of the mailbox proves it was not.
// The same holds when a campaign is run again with a new journal.
func TestTwoJournalsOneMailbox(t *testing.T) {
	tests := []struct {
		name string
		// failFirst: the journal whose send fails is the first to send.
		failFirst bool
		// reference: sending.reference: subject.
		reference bool
	}{
		{"the failed send first, then the other campaign's", true, false},
		{"a campaign run again with a new journal: the new journal's send fails", false, false},
		{"with the reference, the failed send first", true, true},
		{"with the reference, a new journal's send fails", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fastSandbox(), "P001,dest@pec.example.it,Uno")
			f.subject = "Avviso importante"
			f.window = "1m"
			f.writeCampaign()
			if tt.reference {
				f.withReference()
			}
			failed := filepath.Join(f.dir, "failed.journal.db")
			other := filepath.Join(f.dir, "other.journal.db")

			sendFailed := func() {
				f.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
					if isSend(r) {
						badGateway(w)
						return
					}
					next.ServeHTTP(w, r)
				})
				_, out, err := f.run(t.Context(), testRun{NoWait: true, Journal: failed})
				f.setWrap(nil)
				// A proxy's 502 stops the run as an endpoint failure, the row
				// unknown: it may have been sent.
				if !errors.Is(err, client.ErrAccount) {
					t.Fatalf("the failing journal's run: %v, want a stop for client.ErrAccount\n%s", err, out)
				}
				if got := rowOf(t, failed, "P001"); got.State != journal.StateUnknown {
					t.Fatalf("after the 502 the row is %s, want unknown", got.State)
				}
			}
			sendOther := func() {
				if _, out, err := f.run(t.Context(), testRun{NoWait: true, Journal: other}); err != nil {
					t.Fatalf("the other journal's run: %v\n%s", err, out)
				}
			}
			if tt.failFirst {
				sendFailed()
				sendOther()
			} else {
				sendOther()
				sendFailed()
			}
			sends := f.sb.Sends()
			if len(sends) != 1 {
				t.Fatalf("%d sends, want the other journal's only", len(sends))
			}
			f.waitAcceptances()

			// Reconciliation sees the other journal's acceptance: same
			// subject, same recipient, within the window.
			_, out, err := f.run(t.Context(), testRun{NoWait: true, Journal: failed})
			if !errors.Is(err, campaign.ErrRowsUnknown) {
				t.Errorf("reconciling run: %v, want campaign.ErrRowsUnknown", err)
			}
			if got := rowOf(t, failed, "P001"); got.State != journal.StateUnknown || got.MessageID != "" {
				t.Fatalf("the row never sent is %s with message id %q (the other journal's is %s), want unknown\n%s",
					got.State, got.MessageID, sends[0].Code, out)
			}
			if got := rowOf(t, other, "P001"); got.MessageID != sends[0].Code {
				t.Errorf("the other journal's row has message id %q, want %s", got.MessageID, sends[0].Code)
			}

			// Past the window, the search proves it was not sent: it is
			// sent now, once, under its own code.
			res, out, err := f.run(t.Context(), testRun{NoWait: true, ResendUnknown: true, Journal: failed,
				Clock: offsetClock(2 * time.Minute)})
			if err != nil || res.Sent != 1 {
				t.Fatalf("--resend-unknown: %v, sent %d, want 1\n%s", err, res.Sent, out)
			}
			sends = f.sb.Sends()
			got := rowOf(t, failed, "P001")
			if len(sends) != 2 || got.MessageID != sends[1].Code || got.MessageID == sends[0].Code {
				t.Errorf("after the resend: %d sends %v, the row's id %q; want 2 sends, the row with the second",
					len(sends), sends, got.MessageID)
			}
		})
	}
}

// TestUnnamedAcceptanceIsNobodys: the provider's documented acceptance has
// an empty text, naming no recipient. Found for a row whose send was
// dropped, and whose subject another row of the journal also has, it
// cannot prove which row it belongs to: the row stays unknown, and
// --resend-unknown does not send it again, as it may well have been sent.
func TestUnnamedAcceptanceIsNobodys(t *testing.T) {
	f := newFixture(t, fastSandbox(), "P001,dest@pec.example.it,Uno", "P002,altro@pec.example.it,Due")
	f.subject = "Avviso importante"
	f.window = "1m"
	f.writeCampaign()
	blankReceipts := func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if !strings.HasPrefix(r.URL.Path, "/inbox/") {
			return false
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var answer map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
			t.Errorf("inbox message: %v", err)
		}
		if data, ok := answer["data"].(map[string]any); ok {
			data["body"] = ""
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rec.Code)
		_ = json.NewEncoder(w).Encode(answer)
		return true
	}
	f.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		switch {
		case blankReceipts(w, r, next):
		case isSend(r) && strings.Contains(readBody(t, r), "dest@pec.example.it"):
			// Sent, and the connection dropped before the answer.
			next.ServeHTTP(httptest.NewRecorder(), r)
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
		default:
			next.ServeHTTP(w, r)
		}
	})
	if _, out, err := f.run(t.Context(), testRun{NoWait: true}); !errors.Is(err, campaign.ErrRowsUnknown) {
		t.Fatalf("first run: %v, want campaign.ErrRowsUnknown\n%s", err, out)
	}
	f.waitAcceptances()
	f.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if !blankReceipts(w, r, next) {
			next.ServeHTTP(w, r)
		}
	})
	res, out, err := f.run(t.Context(), testRun{NoWait: true, ResendUnknown: true, Clock: offsetClock(2 * time.Minute)})
	if n := len(f.sb.Sends()); n != 2 || res.Sent != 0 {
		t.Fatalf("the row was sent again (%d sends) though an acceptance of its subject names nobody\n%s", n, out)
	}
	if got := f.states()["P001"]; got != journal.StateUnknown {
		t.Errorf("P001 is %s, want unknown (the acceptance names no recipient)\n%s", got, out)
	}
	if !errors.Is(err, campaign.ErrRowsUnknown) || !f.rec.noted(NoteNotResent) {
		t.Errorf("run: %v, note not_resent %v; want campaign.ErrRowsUnknown and the note\n%s", err, f.rec.noted(NoteNotResent), out)
	}
}

// TestSendAnsweredWithAClaimedID: a 201 whose message id the ledger gives
// to another journal's row is an anomaly: the row is not reported as that
// send, stays unknown with a message naming the owner, and is never sent
// again by --resend-unknown (its message may have gone out).
func TestSendAnsweredWithAClaimedID(t *testing.T) {
	const code = "2026113020185802"
	f := newFixture(t, fastSandbox(), "P001,dest@pec.example.it,Uno")
	f.window = "1s"
	f.writeCampaign()
	l, err := journal.OpenLedger(t.Context(), f.ledgerPath())
	if err != nil {
		t.Fatal(err)
	}
	owner := journal.ClaimOwner{JournalID: strings.Repeat("ab", 16), JournalPath: "/altrove/altra.journal.db", RowKey: "X9", Row: 4}
	if err := l.Claim(t.Context(), code, owner); err != nil {
		t.Fatal(err)
	}
	l.Close()
	emptyInbox := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"success":true,"message":"","data":[],"total":0,"page":1,"n_of_pages":1}`))
	}
	f.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		switch {
		case isSend(r):
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(rec.Code)
			_, _ = w.Write([]byte(`{"success":true,"sent":1,"message":"","message_id":"` + code + `"}`))
		case r.URL.Path == "/inbox":
			emptyInbox(w)
		default:
			next.ServeHTTP(w, r)
		}
	})
	_, out, err := f.run(t.Context(), testRun{NoWait: true})
	if !errors.Is(err, campaign.ErrRowsUnknown) {
		t.Errorf("run: %v, want campaign.ErrRowsUnknown\n%s", err, out)
	}
	got := rowOf(t, f.campaign().Sending.Journal, "P001")
	if got.State != journal.StateUnknown || got.MessageID != "" || !strings.Contains(got.LastError, "/altrove/altra.journal.db") {
		t.Fatalf("P001 is %s with id %q and error %q; want unknown, naming the owner's journal\n%s",
			got.State, got.MessageID, got.LastError, out)
	}
	before := len(f.sb.Sends())
	res, out, err := f.run(t.Context(), testRun{NoWait: true, ResendUnknown: true, Clock: offsetClock(2 * time.Minute)})
	if n := len(f.sb.Sends()); n != before || res.Sent != 0 {
		t.Errorf("--resend-unknown sent the row again (%d sends, %d before)\n%s", n, before, out)
	}
	if !errors.Is(err, campaign.ErrRowsUnknown) || !f.rec.noted(NoteNotResent) {
		t.Errorf("run: %v, want campaign.ErrRowsUnknown and a not_resent note\n%s", err, out)
	}
}

// TestLedgerClaims: every way a row gets a message id claims it (a 201, a
// reconciliation), and a journal's ids are claimed in a ledger that did
// not know them (a journal written before the ledger, or a ledger lost):
// an id that ledger gives to another journal's row is told loudly.
func TestLedgerClaims(t *testing.T) {
	f := newFixture(t, fastSandbox(), "P001,dest1@pec.example.it,Uno", "P002,dest2@pec.example.it,Due")
	f.window = "1m"
	f.writeCampaign()
	f.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if isSend(r) && strings.Contains(readBody(t, r), "Gentile Due") {
			next.ServeHTTP(httptest.NewRecorder(), r)
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
			return
		}
		next.ServeHTTP(w, r)
	})
	if _, out, err := f.run(t.Context(), testRun{NoWait: true}); err != nil && !errors.Is(err, campaign.ErrRowsUnknown) {
		t.Fatalf("first run: %v\n%s", err, out)
	}
	f.setWrap(nil)
	f.waitAcceptances()
	if _, out, err := f.run(t.Context(), testRun{NoWait: true}); err != nil {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	rows := f.rowsByKey()
	owners := func(path string) map[string]journal.ClaimOwner {
		t.Helper()
		l, err := journal.OpenLedger(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		got, err := l.ClaimedAmong(t.Context(), []string{rows["P001"].MessageID, rows["P002"].MessageID})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	got := owners(f.ledgerPath())
	for _, key := range []string{"P001", "P002"} {
		if o := got[rows[key].MessageID]; rows[key].MessageID == "" || o.RowKey != key {
			t.Errorf("%s (id %q, %s) is claimed by %+v, want by itself", key, rows[key].MessageID, rows[key].State, o)
		}
	}

	// A fresh ledger learns the journal's ids when a poll starts; one that
	// gives P002's id to another journal's row makes it say so.
	fresh := filepath.Join(t.TempDir(), "fresh.db")
	conflicting := filepath.Join(t.TempDir(), "conflicting.db")
	l, err := journal.OpenLedger(t.Context(), conflicting)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Claim(t.Context(), rows["P002"].MessageID, journal.ClaimOwner{JournalID: strings.Repeat("cd", 16),
		JournalPath: "/altrove/altra.journal.db", RowKey: "X1", Row: 2}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	for _, path := range []string{fresh, conflicting} {
		if _, out, err := f.poll(t.Context(), testRun{LedgerPath: path, NoWait: true}); err != nil {
			t.Fatalf("poll with %s: %v\n%s", filepath.Base(path), err, out)
		}
		if conflict := f.rec.noted(NoteClaimConflict); conflict != (path == conflicting) {
			t.Errorf("poll with %s: claim conflict noted %v", filepath.Base(path), conflict)
		}
	}
	if got := owners(fresh); got[rows["P001"].MessageID].RowKey != "P001" || got[rows["P002"].MessageID].RowKey != "P002" {
		t.Errorf("the fresh ledger holds %v, want both rows' ids", got)
	}
	if got := owners(conflicting); got[rows["P002"].MessageID].RowKey != "X1" {
		t.Errorf("the conflicting claim was replaced: %v", got)
	}
}

// TestReferenceMakesEachSendItsOwn: with sending.reference: subject every
// row is sent with its own code in the subject, derived from the journal's
// id; an acceptance that names nobody is then the row's for sure, and a
// new journal of the same campaign sends under other codes.
func TestReferenceMakesEachSendItsOwn(t *testing.T) {
	f := newFixture(t, fastSandbox(), "P001,dest@pec.example.it,Uno", "P002,dest@pec.example.it,Due")
	f.subject = "Avviso importante"
	f.window = "1m"
	f.withReference()
	blank := func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var answer map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &answer)
		if data, ok := answer["data"].(map[string]any); ok {
			data["body"] = ""
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rec.Code)
		_ = json.NewEncoder(w).Encode(answer)
	}
	f.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/inbox/"):
			blank(w, r, next)
		case isSend(r) && strings.Contains(readBody(t, r), "Gentile Uno"):
			next.ServeHTTP(httptest.NewRecorder(), r)
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
		default:
			next.ServeHTTP(w, r)
		}
	})
	if _, out, err := f.run(t.Context(), testRun{NoWait: true}); err != nil && !errors.Is(err, campaign.ErrRowsUnknown) {
		t.Fatalf("first run: %v\n%s", err, out)
	}
	f.waitAcceptances()
	if _, out, err := f.run(t.Context(), testRun{NoWait: true}); err != nil {
		t.Fatalf("second run: %v (the unnamed acceptance of the row's own subject is its own)\n%s", err, out)
	}
	r, err := journal.OpenReadOnly(t.Context(), f.campaign().Sending.Journal)
	if err != nil {
		t.Fatal(err)
	}
	id := r.ID()
	r.Close()
	rows := f.rowsByKey()
	sends := f.sb.Sends()
	if len(sends) != 2 {
		t.Fatalf("%d sends, want 2", len(sends))
	}
	for _, s := range sends {
		var row journal.Row
		for _, rr := range rows {
			if rr.MessageID == s.Code {
				row = rr
			}
		}
		if row.Key == "" || s.Subject != "Avviso importante"+campaign.SubjectReference(id, row.Key) || row.Subject != s.Subject {
			t.Errorf("send %s with subject %q: the journal's row %q has subject %q; want the subject with the row's reference",
				s.Code, s.Subject, row.Key, row.Subject)
		}
	}
	if sends[0].Subject == sends[1].Subject {
		t.Errorf("two rows sent with one subject %q", sends[0].Subject)
	}

	// A new journal of the same campaign: other codes.
	other := filepath.Join(f.dir, "other.journal.db")
	f.setWrap(nil)
	if _, out, err := f.run(t.Context(), testRun{NoWait: true, Journal: other}); err != nil {
		t.Fatalf("new journal: %v\n%s", err, out)
	}
	if got := rowOf(t, other, "P001"); got.Subject == rows["P001"].Subject || !strings.HasPrefix(got.Subject, "Avviso importante [rif. ") {
		t.Errorf("the new journal's P001 has subject %q, the old one's %q: want another reference", got.Subject, rows["P001"].Subject)
	}
}

// TestClaimedButNotJournaled: a run that stopped between the ledger's
// claim and the journal's record leaves the row in sending with its claim;
// the claim ties the acceptance to that row, which gets it even though
// the acceptance names nobody and the subject is shared.
func TestClaimedButNotJournaled(t *testing.T) {
	f := newFixture(t, fastSandbox(), "P001,dest@pec.example.it,Uno")
	f.subject = "Avviso importante"
	f.window = "1m"
	f.writeCampaign()
	journalPath := f.campaign().Sending.Journal
	f.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/inbox/"):
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var answer map[string]any
			_ = json.Unmarshal(rec.Body.Bytes(), &answer)
			if data, ok := answer["data"].(map[string]any); ok {
				data["body"] = ""
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(rec.Code)
			_ = json.NewEncoder(w).Encode(answer)
		case isSend(r):
			// The service acts; the run claims the code (as after a 201)
			// and dies before its journal records it: the answer never
			// comes.
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var answer struct {
				MessageID string `json:"message_id"`
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &answer)
			jr, err := journal.OpenReadOnly(t.Context(), journalPath)
			if err != nil {
				t.Error(err)
				return
			}
			id := jr.ID()
			jr.Close()
			l, err := journal.OpenLedger(t.Context(), f.ledgerPath())
			if err != nil {
				t.Error(err)
				return
			}
			if err := l.Claim(t.Context(), answer.MessageID, journal.ClaimOwner{JournalID: id, JournalPath: journalPath,
				RowKey: "P001", Row: 1}); err != nil {
				t.Error(err)
			}
			l.Close()
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
		default:
			next.ServeHTTP(w, r)
		}
	})
	if _, out, err := f.run(t.Context(), testRun{NoWait: true}); err != nil && !errors.Is(err, campaign.ErrRowsUnknown) {
		t.Fatalf("first run: %v\n%s", err, out)
	}
	f.waitAcceptances()
	if _, out, err := f.run(t.Context(), testRun{NoWait: true}); err != nil {
		t.Fatalf("second run: %v (the acceptance claimed for the row is its own)\n%s", err, out)
	}
	f.checkExactlyOnce(1)
}
