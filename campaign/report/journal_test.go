package report

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/journal"
)

// reportClock is a manual clock for the journals these tests build.
type reportClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *reportClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *reportClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// reportScenario is what happens to one row of a test journal.
type reportScenario struct {
	recipients []string
	// final is the row state the scenario must end in.
	final journal.State
	// outcomes are the recipients' outcomes, in order; empty means the row
	// is never tracked.
	outcomes []journal.RecipientState
	// errText is the error of a failure, a rejection or an unknown send.
	errText string
}

// reportScenarios covers every row state, and a row with two recipients
// whose outcomes differ.
func reportScenarios() []reportScenario {
	return []reportScenario{
		{recipients: []string{"mario.rossi@pec.example.it"}, final: journal.StateDelivered,
			outcomes: []journal.RecipientState{journal.RecipientDelivered}},
		{recipients: []string{"luca.bianchi@pec.example.it", "ufficio@invalid.example.it"}, final: journal.StateFailed,
			outcomes: []journal.RecipientState{journal.RecipientDelivered, journal.RecipientFailed},
			errText:  "5.1.1 - sandbox - indirizzo non valido"},
		{recipients: []string{"scaduto@expired.example.it"}, final: journal.StateExpired,
			outcomes: []journal.RecipientState{journal.RecipientExpired}, errText: "5.4.1 - tempo massimo superato"},
		{recipients: []string{"anna.verdi@pec.example.it"}, final: journal.StateAccepted,
			outcomes: []journal.RecipientState{journal.RecipientAccepted}},
		{recipients: []string{"posta.ordinaria@example.com"}, final: journal.StateAcceptedNotCertifiable,
			outcomes: []journal.RecipientState{journal.RecipientNotCertifiable}},
		{recipients: []string{"respinto@pec.example.it"}, final: journal.StateRejected, errText: "400 Bad Request: invalid recipient"},
		{recipients: []string{"incerto@pec.example.it"}, final: journal.StateUnknown, errText: "timeout after the request was written"},
		{recipients: []string{"inviato@pec.example.it"}, final: journal.StateSubmitted},
		{recipients: []string{"dopo@pec.example.it"}, final: journal.StatePending},
		{recipients: []string{"lento@slow.example.it"}, final: journal.StateDelivered,
			outcomes: []journal.RecipientState{journal.RecipientDelivered}},
	}
}

// buildReportJournal writes a journal of n rows at path, row i playing
// scenario i mod len(reportScenarios()), the first rows once each, later
// rows pending beyond tracked (so that a big journal builds fast: each
// transition is a synced transaction). It returns the scenarios played.
func buildReportJournal(t testing.TB, path string, n, tracked int) []reportScenario {
	t.Helper()
	ctx := t.Context()
	clk := &reportClock{t: time.Date(2025, 3, 2, 9, 0, 0, 0, time.UTC)}
	j, err := journal.Open(ctx, path, journal.WithNow(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	scen := reportScenarios()
	rows := func(yield func(journal.NewRow, error) bool) {
		for i := range n {
			s := scen[i%len(scen)]
			h := sha256.Sum256([]byte(fmt.Sprint("row ", i)))
			recipients := s.recipients
			if i >= len(scen) {
				// Addresses are unique in a row, not in a campaign, but
				// distinct ones read better.
				recipients = nil
				for _, a := range s.recipients {
					recipients = append(recipients, fmt.Sprintf("r%d.%s", i+1, a))
				}
			}
			if !yield(journal.NewRow{Key: fmt.Sprintf("K%06d", i+1), RowNumber: i + 1, Recipients: recipients,
				Subject: fmt.Sprintf("Sollecito di pagamento fattura %d", i+1), ContentSHA256: hex.EncodeToString(h[:])}, nil) {
				return
			}
		}
	}
	h := sha256.Sum256([]byte("campaign"))
	meta := journal.Meta{Campaign: "solleciti-marzo", Endpoint: "sandbox:builtin", Sender: "ufficio@pec.example.it",
		Fingerprint: journal.Fingerprint{"campaign file": hex.EncodeToString(h[:])}}
	if _, err := j.Init(ctx, meta, rows); err != nil {
		t.Fatal(err)
	}
	var played []reportScenario
	for i := range min(n, tracked) {
		s := scen[i%len(scen)]
		played = append(played, s)
		row, err := j.RowByKey(ctx, fmt.Sprintf("K%06d", i+1))
		if err != nil {
			t.Fatal(err)
		}
		if err := playReportScenario(ctx, j, clk, row, s, i); err != nil {
			t.Fatalf("row %d: %v", i+1, err)
		}
		if row, err = j.Row(ctx, row.ID); err != nil || row.State != s.final {
			t.Fatalf("row %d ends %s (%v), want %s", i+1, row.State, err, s.final)
		}
	}
	return played
}

func playReportScenario(ctx context.Context, j *journal.Journal, clk *reportClock, row journal.Row, s reportScenario, i int) error {
	if s.final == journal.StatePending {
		return nil
	}
	clk.Advance(time.Second)
	if err := j.MarkSending(ctx, row.ID); err != nil {
		return err
	}
	switch s.final {
	case journal.StateRejected:
		return j.MarkRejected(ctx, row.ID, s.errText)
	case journal.StateUnknown:
		return j.MarkUnknown(ctx, row.ID, s.errText)
	}
	code := fmt.Sprintf("PM%06d", i+1)
	if err := j.MarkSubmitted(ctx, row.ID, code); err != nil || len(s.outcomes) == 0 {
		return err
	}
	sent := clk.Now()
	accepted := sent.Add(time.Second)
	receipts := []journal.Receipt{{Code: code, Kind: "acceptance", Date: accepted, DateText: accepted.Format("02/01/2006 15:04:05"),
		Subject: "ACCETTAZIONE: " + row.Subject + " " + code,
		Body:    "Ricevuta di accettazione del messaggio indirizzato a " + strings.Join(row.Recipients, ", ")}}
	// A first poll finds the acceptance, a later one the outcomes.
	var accepts []journal.Outcome
	for _, addr := range row.Recipients {
		accepts = append(accepts, journal.Outcome{Address: addr, State: journal.RecipientAccepted, At: accepted})
	}
	if _, err := j.ApplyReceipts(ctx, row.ID, receipts, accepts); err != nil {
		return err
	}
	receipts = nil
	var outcomes []journal.Outcome
	for k, addr := range row.Recipients {
		// The slow row is delivered twelve minutes after the others.
		at := sent.Add(time.Duration(3+k) * time.Second)
		if strings.Contains(addr, "slow") {
			at = sent.Add(12 * time.Minute)
		}
		o := journal.Outcome{Address: addr, State: s.outcomes[k], At: at}
		r := journal.Receipt{Code: code, Date: at, DateText: at.Format("02/01/2006 15:04:05"), Addressee: addr}
		switch o.State {
		case journal.RecipientDelivered:
			r.Kind, r.Subject, r.Body = "delivery", "CONSEGNA: "+row.Subject+" "+code, "Ricevuta di avvenuta consegna del messaggio indirizzato a "+addr
		case journal.RecipientFailed:
			o.Error = s.errText
			r.Kind, r.Subject, r.Body, r.ErrorText = "non-delivery", "AVVISO DI MANCATA CONSEGNA: "+row.Subject+" "+code,
				"Avviso di mancata consegna. È stato rilevato il seguente errore: "+s.errText, s.errText
		case journal.RecipientExpired:
			o.Error, o.At = s.errText, sent.Add(24*time.Hour)
			r.Kind, r.Subject, r.Date = "timeout-expired", "AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO: "+row.Subject+" "+code, o.At
			r.DateText = o.At.Format("02/01/2006 15:04:05")
		case journal.RecipientAccepted:
			continue
		case journal.RecipientNotCertifiable:
			r = journal.Receipt{}
		}
		outcomes = append(outcomes, o)
		if r.Kind != "" {
			receipts = append(receipts, r)
		}
	}
	if len(outcomes) == 0 {
		return nil
	}
	_, err := j.ApplyReceipts(ctx, row.ID, receipts, outcomes)
	return err
}

// openReportJournal builds a journal of the scenarios and opens it
// read-only, as `pecbatch report` does.
func openReportJournal(t testing.TB) (*journal.Reader, []reportScenario) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "solleciti.journal.db")
	played := buildReportJournal(t, path, len(reportScenarios()), len(reportScenarios()))
	r, err := journal.OpenReadOnly(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, played
}

func TestWriteReportFromJournal(t *testing.T) {
	ctx := t.Context()
	r, played := openReportJournal(t)
	var b bytes.Buffer
	if err := Write(ctx, r, &b, Options{Location: rome, Lang: English}); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	lines := 0
	for _, s := range played {
		lines += len(s.recipients)
	}
	if len(recs)-1 != lines {
		t.Fatalf("%d lines, want %d", len(recs)-1, lines)
	}
	byRecipient := map[string][]string{}
	for _, rec := range recs[1:] {
		byRecipient[rec[2]] = rec
	}
	for _, tc := range []struct {
		recipient, state, err string
		delivered, failed     bool
		receipts              string
	}{
		{"mario.rossi@pec.example.it", "delivered", "", true, false, "2"},
		{"luca.bianchi@pec.example.it", "delivered", "", true, false, "3"},
		{"ufficio@invalid.example.it", "failed", "5.1.1 - sandbox - indirizzo non valido", false, true, "3"},
		{"scaduto@expired.example.it", "expired", "5.4.1 - tempo massimo superato", false, true, "2"},
		{"anna.verdi@pec.example.it", "accepted", "", false, false, "1"},
		{"posta.ordinaria@example.com", "accepted_not_certifiable", "", false, false, "1"},
		{"respinto@pec.example.it", "rejected", "400 Bad Request: invalid recipient", false, true, "0"},
		{"incerto@pec.example.it", "unknown", "timeout after the request was written", false, false, "0"},
		{"inviato@pec.example.it", "submitted", "", false, false, "0"},
		{"dopo@pec.example.it", "pending", "", false, false, "0"},
	} {
		t.Run(tc.recipient, func(t *testing.T) {
			rec := byRecipient[tc.recipient]
			if rec == nil {
				t.Fatal("missing from the report")
			}
			if rec[5] != tc.state || rec[6] != tc.err || (rec[9] != "") != tc.delivered || (rec[10] != "") != tc.failed || rec[11] != tc.receipts {
				t.Errorf("line = %q, want state %s, error %q, delivered %v, failed %v, receipts %s",
					rec, tc.state, tc.err, tc.delivered, tc.failed, tc.receipts)
			}
			accepted := tc.state != "rejected" && tc.state != "unknown" && tc.state != "submitted" && tc.state != "pending"
			if (rec[8] != "") != accepted {
				t.Errorf("accepted_at = %q, want it set: %v", rec[8], accepted)
			}
			for _, cell := range rec[7:11] {
				if cell != "" && !strings.HasSuffix(cell, "+01:00") {
					t.Errorf("time %q not in the report's zone", cell)
				}
			}
		})
	}

	t.Run("html", func(t *testing.T) {
		var b bytes.Buffer
		if err := Write(ctx, r, &b, Options{Format: HTML, Location: rome, Now: fixedNow, Lang: English}); err != nil {
			t.Fatal(err)
		}
		page := b.String()
		counts, err := r.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for s, n := range counts {
			if want := fmt.Sprintf(`data-count="%d"`, n); !strings.Contains(page, `<tr data-state="`+string(s)+`"`) ||
				!strings.Contains(page[strings.Index(page, `<tr data-state="`+string(s)+`"`):], want) {
				t.Errorf("state %s: total %d missing", s, n)
			}
		}
		for _, want := range []string{"Delivery report: solleciti-marzo", "3 receipts", "non-delivery", "Avviso di mancata consegna",
			// The legend counts each outcome as the totals do: an expired or
			// rejected recipient is not counted as not delivered.
			"sent (8)", "delivered (3)", "not delivered (1)", "expired (1)", "rejected (1)"} {
			if !strings.Contains(page, want) {
				t.Errorf("page lacks %q", want)
			}
		}
	})
}

func TestSaveReport(t *testing.T) {
	ctx := t.Context()
	r, _ := openReportJournal(t)
	for _, f := range []Format{CSV, HTML} {
		t.Run(string(f), func(t *testing.T) {
			path, err := Save(ctx, r, "", Options{Format: f})
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(filepath.Dir(r.Path()), "solleciti-marzo-report."+string(f)); path != want {
				t.Errorf("path = %s, want %s", path, want)
			}
			if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
				t.Errorf("report not written: %v", err)
			}
		})
	}
	t.Run("explicit path", func(t *testing.T) {
		want := filepath.Join(t.TempDir(), "x.csv")
		if path, err := Save(ctx, r, want, Options{}); err != nil || path != want {
			t.Errorf("Save = %s, %v; want %s", path, err, want)
		}
	})
	t.Run("journal without a campaign", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "empty.journal.db")
		j, err := journal.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		j.Close()
		r, err := journal.OpenReadOnly(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		_, err = Save(ctx, r, "", Options{})
		if !errors.Is(err, journal.ErrNotInitialized) || !strings.Contains(err.Error(), "pecbatch run") {
			t.Errorf("err = %v, want ErrNotInitialized with advice", err)
		}
	})
}
