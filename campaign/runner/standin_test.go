package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/client"
	"github.com/pecbatch/pecbatch/journal"
)

// standIn answers like the PEC Massiva API as its documented examples show
// it, written here from the contract alone (not the project's sandbox):
// POST /send gives a 16-digit code; GET /send/{code} lists every entry
// whose subject holds the code (as a search by code would), each with the
// provider's envelope and the sending mailbox as recipient: an acceptance
// with an empty text a second after the send, then, two seconds after it,
// one delivery receipt per PEC recipient, identical, whose text is the
// original mail (HTML stripped, non-ASCII letters as U+FFFD). A recipient
// at ordinary.example.it gets no delivery receipt, and its send comes with
// another send, whose code is its own followed by 7, delivered at once.
type standIn struct {
	now     func() time.Time
	mailbox string

	mu      sync.Mutex
	seq     int
	entries []standInEntry
}

type standInEntry struct {
	at      time.Time
	object  string
	message string
}

var htmlTag = regexp.MustCompile(`<[^>]*>`)

func (s *standIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/send":
		var req struct {
			Recipient json.RawMessage `json:"recipient"`
			Subject   string          `json:"subject"`
			Body      string          `json:"body"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"success":false,"message":"Post parameter is not valid"}`))
			return
		}
		var recipients []string
		if json.Unmarshal(req.Recipient, &recipients) != nil {
			var one string
			_ = json.Unmarshal(req.Recipient, &one)
			recipients = []string{one}
		}
		s.seq++
		now := s.now()
		code := fmt.Sprintf("%s%02d", now.In(time.FixedZone("", 3600)).Format("20060102150405"), s.seq)
		text := strings.Map(func(r rune) rune {
			if r > 127 {
				return '\ufffd'
			}
			return r
		}, strings.TrimSpace(htmlTag.ReplaceAllString(req.Body, "")))
		s.entries = append(s.entries, standInEntry{now.Add(time.Second), "ACCETTAZIONE: " + req.Subject + " " + code, ""})
		for _, rc := range recipients {
			if strings.HasSuffix(rc, "@ordinary.example.it") {
				s.entries = append(s.entries, standInEntry{now.Add(time.Second), "CONSEGNA: " + req.Subject + " " + code + "7", text})
				continue
			}
			s.entries = append(s.entries, standInEntry{now.Add(2 * time.Second), "CONSEGNA: " + req.Subject + " " + code, text})
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"success":true,"sent":%d,"message":"","message_id":%q}`, len(recipients), code)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/send/"):
		code := strings.TrimPrefix(r.URL.Path, "/send/")
		type entry struct {
			Sender    string `json:"sender"`
			Recipient string `json:"recipient"`
			Data      string `json:"data"`
			Object    string `json:"object"`
			Message   string `json:"message"`
		}
		var data []entry
		for _, e := range s.entries {
			if !e.at.After(s.now()) && strings.Contains(e.object, code) {
				data = append(data, entry{"posta-certificata@pecmassiva.com", s.mailbox,
					e.at.In(time.FixedZone("", 3600)).Format(time.RFC1123Z), e.object, e.message})
			}
		}
		if len(data) == 0 {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"success":false,"message":"Result empty"}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"data": data, "success": true, "message": ""})
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"success":false,"message":"Result empty"}`))
	}
}

// TestTrackingAgainstDocumentedStandIn runs a campaign against a stand-in
// answering in the documented shapes only: a row with two PEC recipients
// (two identical delivery receipts in the same second), a row whose mail
// mentions another address, a non-PEC recipient whose send lists a
// delivery receipt of another send (<code>7), and a row with a PEC and a
// non-PEC recipient. Each recipient ends in the state its receipts prove,
// and every delivery receipt of each row is archived, once per entry.
func TestTrackingAgainstDocumentedStandIn(t *testing.T) {
	f, clk := newClockFixture(t,
		`S1,"a@pec.example.it;b@pec.example.it",Anna`,
		`S2,c@pec.example.it,Carlo`,
		`S3,x@ordinary.example.it,Ugo`,
		`S4,"d@pec.example.it;y@ordinary.example.it",Dario`,
	)
	f.write("corpo.html", "<p>Gentile {{.nome}}, la pratica {{.id}} \u00e8 indirizzata a ufficio.legale@example.it, "+
		"in copia a {{.pec}}.</p>\n")
	si := &standIn{now: clk.Now, mailbox: "ufficio@pec.example.it"}
	f.setWrap(func(w http.ResponseWriter, r *http.Request, _ http.Handler) { si.ServeHTTP(w, r) })
	res, out, err := f.run(t.Context(), testRun{NoWait: true, Clock: clk})
	if err != nil || res.Sent != 4 {
		t.Fatalf("Run: %v, sent %d\n%s", err, res.Sent, out)
	}
	clk.setJump(true)
	if _, out, err = f.poll(t.Context(), testRun{Clock: clk}); err != nil && !errors.Is(err, campaign.ErrRowsFailed) {
		t.Fatalf("Poll: %v\n%s", err, out)
	}
	const unnamed = "1 of 2 delivery receipts, addressees not named"
	want := map[string]struct {
		state journal.State
		err   string
	}{
		"a@pec.example.it":      {journal.StateDelivered, ""},
		"b@pec.example.it":      {journal.StateDelivered, ""},
		"c@pec.example.it":      {journal.StateDelivered, ""},
		"x@ordinary.example.it": {journal.StateAcceptedNotCertifiable, "non-PEC"},
		"d@pec.example.it":      {journal.StateAcceptedNotCertifiable, unnamed},
		"y@ordinary.example.it": {journal.StateAcceptedNotCertifiable, unnamed},
	}
	rr := f.reportRows()
	for addr, w := range want {
		if got := rr[addr]; got.State != w.state || !strings.Contains(got.Error, w.err) {
			t.Errorf("%s: %s %q, want %s with %q", addr, got.State, got.Error, w.state, w.err)
		}
	}
	if !f.rec.noted(NoteUnattributed) {
		t.Errorf("no %s note for row S4:\n%s", NoteUnattributed, out)
	}
	r, err := journal.OpenReadOnly(t.Context(), f.campaign().Sending.Journal)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	wantDeliveries := map[string]int{"S1": 2, "S2": 1, "S3": 0, "S4": 1}
	for key, row := range f.rowsByKey() {
		stored, err := r.Receipts(t.Context(), row.ID)
		if err != nil {
			t.Fatal(err)
		}
		deliveries, acceptances := 0, 0
		for _, s := range stored {
			if !client.ReceiptBelongsTo(s.Subject, row.MessageID) {
				t.Errorf("row %s: %q archived, a receipt of another send", key, s.Subject)
			}
			switch client.Kind(s.Kind) {
			case client.KindDelivery:
				deliveries++
				if s.Addressee != "" {
					t.Errorf("row %s: a delivery receipt archived as addressed to %q: the text is the mail's", key, s.Addressee)
				}
			case client.KindAcceptance:
				acceptances++
			}
		}
		if deliveries != wantDeliveries[key] || acceptances != 1 {
			t.Errorf("row %s: %d delivery receipts and %d acceptances archived, want %d and 1",
				key, deliveries, acceptances, wantDeliveries[key])
		}
	}
}
