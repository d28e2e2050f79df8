package report

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/internal/testutil"
	"github.com/pecbatch/pecbatch/journal"
)

// TestAttestazioneLongRowPrints: a row of one recipient prints on one A4
// page, and a row of twelve recipients, each with its delivery receipt,
// goes on over a second page (never more, never cut inside a table row)
// rather than shrinking out of reach; every page carries the row's number
// and its page count.
func TestAttestazioneLongRowPrints(t *testing.T) {
	ctx := t.Context()
	pages := regexp.MustCompile(`/Type\s*/Page\b`)
	for _, c := range []struct {
		recipients, wantPages int
	}{{1, 1}, {4, 1}, {12, 2}} {
		t.Run(fmt.Sprint(c.recipients, " recipients"), func(t *testing.T) {
			var to []string
			for i := range c.recipients {
				to = append(to, fmt.Sprintf("destinatario.numero.%02d@pec.example.it", i+1))
			}
			m := &campaign.Message{Row: 7, Key: "PRAT-007", Recipients: to, Subject: "Convocazione assemblea", Body: []byte("<p>Convocazione</p>"),
				Attachments: []campaign.Attachment{{Name: "convocazione.pdf", ContentType: "application/pdf", Content: []byte("%PDF-1.4\n")}}}
			m.SHA256 = campaign.ContentHash(m.Recipients, m.Subject, m.Body, m.Attachments)
			path := filepath.Join(t.TempDir(), "assemblea.journal.db")
			clk := &reportClock{t: time.Date(2026, 3, 10, 19, 0, 0, 0, time.UTC)}
			j, err := journal.Open(ctx, path, journal.WithNow(clk.Now))
			if err != nil {
				t.Fatal(err)
			}
			rows := func(yield func(journal.NewRow, error) bool) {
				yield(journal.NewRow{Key: m.Key, RowNumber: m.Row, Recipients: to, Subject: m.Subject, ContentSHA256: m.SHA256}, nil)
			}
			if _, err := j.Init(ctx, journal.Meta{Campaign: "assemblea", Endpoint: "sandbox:builtin", Sender: "condominio@pec.example.it",
				Fingerprint: journal.Fingerprint{"campaign file": strings.Repeat("cd", 32)}}, rows); err != nil {
				t.Fatal(err)
			}
			row, err := j.RowByKey(ctx, m.Key)
			if err != nil {
				t.Fatal(err)
			}
			if err := j.MarkSending(ctx, row.ID); err != nil {
				t.Fatal(err)
			}
			if err := j.MarkSubmitted(ctx, row.ID, "PM000007"); err != nil {
				t.Fatal(err)
			}
			var receipts []journal.Receipt
			var outcomes []journal.Outcome
			for i, addr := range to {
				// Some deliveries after 21:00 in Rome: their effect moves to 07:00.
				at := clk.Now().Add(time.Duration(i) * 10 * time.Minute)
				receipts = append(receipts, journal.Receipt{Code: "PM000007", Kind: "delivery", Date: at, DateText: at.Format(time.RFC1123Z),
					Addressee: addr, Subject: "CONSEGNA: " + m.Subject, Body: "Ricevuta di avvenuta consegna del messaggio indirizzato a " + addr})
				outcomes = append(outcomes, journal.Outcome{Address: addr, State: journal.RecipientDelivered, At: at})
			}
			if _, err := j.ApplyReceipts(ctx, row.ID, receipts, outcomes); err != nil {
				t.Fatal(err)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			r, err := journal.OpenReadOnly(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			dir := filepath.Join(t.TempDir(), "pack")
			if _, err := SaveEvidence(ctx, r, dir, EvidenceOptions{Messages: messagesOf([]*campaign.Message{m}, nil), Now: evidenceNow}); err != nil {
				t.Fatal(err)
			}
			page := filepath.Join(dir, "7-PRAT-007", "attestazione.html")
			b, err := os.ReadFile(page)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{`content: "Attestazione riga 7 \2014  pagina " counter(page) " di " counter(pages)`,
				"<thead><tr><th>Destinatario</th>", "<thead><tr><th>Elemento</th>"} {
				if !bytes.Contains(b, []byte(want)) {
					t.Errorf("the attestazione lacks %q", want)
				}
			}
			pdf := filepath.Join(t.TempDir(), "attestazione.pdf")
			if res := testutil.ChromiumPDF(t, page, pdf); len(res.Console) > 0 {
				t.Errorf("the page logged console messages:\n%s", strings.Join(res.Console, "\n"))
			}
			out, err := os.ReadFile(pdf)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(pages.FindAll(out, -1)); n != c.wantPages {
				t.Errorf("a row of %d recipients prints on %d pages, want %d", c.recipients, n, c.wantPages)
			}
		})
	}
}

// TestAttestazioneSignedPrints: with the signed receipts, their proof
// table and the statements about those not used as proof, every row of
// the signed journal still prints on one A4 page, the four-recipient row
// too.
func TestAttestazioneSignedPrints(t *testing.T) {
	r, msgs := signedJournal(t)
	dir := filepath.Join(t.TempDir(), "pack")
	if _, err := SaveEvidence(t.Context(), r, dir, EvidenceOptions{Messages: messagesOf(msgs, nil), Now: evidenceNow}); err != nil {
		t.Fatal(err)
	}
	pages := regexp.MustCompile(`/Type\s*/Page\b`)
	for i, m := range msgs {
		t.Run(m.Key, func(t *testing.T) {
			pdf := filepath.Join(t.TempDir(), "attestazione.pdf")
			page := filepath.Join(dir, fmt.Sprintf("%d-%s", i+1, m.Key), "attestazione.html")
			if res := testutil.ChromiumPDF(t, page, pdf); len(res.Console) > 0 {
				t.Errorf("the page logged console messages:\n%s", strings.Join(res.Console, "\n"))
			}
			out, err := os.ReadFile(pdf)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(pages.FindAll(out, -1)); n != 1 {
				t.Errorf("row %s prints on %d pages, want 1", m.Key, n)
			}
		})
	}
}
