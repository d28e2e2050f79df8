package journal

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// The 100,000-row benchmarks (make bench) measure what issue 6 asks of the
// journal: status and report fast on a big campaign, the file well under
// 100 MB, and a cost per send small next to the 1 s pacing.

// receiptTexts writes a row's receipts in the wording of the common
// providers (see shared/pecmassiva/receipts.md), so that sizes and
// compression are those of real receipts: acceptance and delivery, and one
// row in ten a time-limit warning as well.
func receiptTexts(i int, addr, subject, code string, sent time.Time) []Receipt {
	provID := fmt.Sprintf("opec21012.%s.%06d.%03d.1.53@pec.aruba.it", sent.Format("20060102150405"), 100000+i*7%900000, i%1000)
	day, acc, del := sent.Format("02/01/2006"), sent.Add(2*time.Second), sent.Add(5*time.Second)
	sender := "ufficio@pec.example.it"
	full := subject + " " + code
	out := []Receipt{
		{Kind: "acceptance", Date: acc, DateText: acc.Format(time.RFC1123Z), Sender: "posta-certificata@pec.aruba.it",
			Recipient: sender, Subject: "ACCETTAZIONE: " + full,
			Body: "Ricevuta di accettazione del messaggio indirizzato a " + addr + " (\"posta certificata\")\r\n\r\n" +
				"Il giorno " + day + " alle ore " + acc.Format("15:04:05") + " (+0100) il messaggio con Oggetto \"" + full +
				"\" inviato da \"" + sender + "\" ed indirizzato a:\r\n" + addr + " (\"posta certificata\")\r\n" +
				"è stato accettato dal sistema ed inoltrato.\r\nIdentificativo del messaggio: " + provID + "\r\n"},
		{Kind: "delivery", Date: del, DateText: del.Format(time.RFC1123Z), Sender: "posta-certificata@pec.aruba.it",
			Recipient: sender, Addressee: addr, Subject: "CONSEGNA: " + full,
			Body: "Ricevuta di avvenuta consegna del messaggio indirizzato a " + addr + " (\"posta certificata\")\r\n\r\n" +
				"Il giorno " + day + " alle ore " + del.Format("15:04:05") + " (+0100) il messaggio con Oggetto \"" + full +
				"\" inviato da \"" + sender + "\" ed indirizzato a \"" + addr + "\" è stato consegnato nella casella di destinazione.\r\n" +
				"Identificativo del messaggio: " + provID + "\r\n"},
	}
	if i%10 == 0 {
		w := sent.Add(12 * time.Hour)
		out = append(out, Receipt{Kind: "timeout-warning", Date: w, DateText: w.Format(time.RFC1123Z),
			Sender: "posta-certificata@pec.aruba.it", Recipient: sender, Addressee: addr,
			Subject: "AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO: " + full,
			Body: "Avviso di mancata consegna del messaggio\r\n\r\nIl giorno " + w.Format("02/01/2006") + " alle ore " + w.Format("15:04:05") +
				" (+0100) nel messaggio \"" + full + "\" proveniente da \"" + sender + "\" e destinato all'utente \"" + addr +
				"\" non è ancora stata ricevuta la ricevuta di avvenuta consegna entro le prime 12 ore dall'invio.\r\n" +
				"Identificativo del messaggio: " + provID + "\r\n"})
	}
	return out
}

// populate builds a finished campaign of n rows: every row sent, tracked
// and delivered with its receipts. It commits in batches of 1,000 rows but
// goes through the same code as MarkSending, MarkSubmitted and
// ApplyReceipts, so the file is the one a real run leaves.
func populate(tb testing.TB, n int) (*Journal, string) {
	tb.Helper()
	ctx := tb.Context()
	j, c, path := openTest(tb)
	if _, err := j.Init(ctx, testMeta(), genRows(n)); err != nil {
		tb.Fatal(err)
	}
	const batch = 1000
	for start := 0; start < n; start += batch {
		err := j.write(ctx, "populate", func(tx *wtx, _ int64) error {
			for i := start; i < min(start+batch, n); i++ {
				r := newRow(i)
				id := int64(i + 1)
				sent := c.Now().Add(time.Duration(i) * time.Second)
				code := fmt.Sprintf("2026030210%07d", i)
				if err := transitionTx(ctx, tx, sent.UnixMilli(), id, sendingStep()); err != nil {
					return err
				}
				if err := transitionTx(ctx, tx, sent.UnixMilli(), id, submittedStep(code)); err != nil {
					return err
				}
				addr := strings.ToLower(r.Recipients[0])
				rc := receiptTexts(i, addr, r.Subject, code, sent)
				accepted := []Outcome{{Address: addr, State: RecipientAccepted, At: rc[0].Date}}
				if _, err := j.applyReceiptsTx(ctx, tx, sent.Add(3*time.Second).UnixMilli(), id, rc[:1], accepted); err != nil {
					return err
				}
				delivered := []Outcome{{Address: addr, State: RecipientDelivered, At: rc[1].Date, Warnings: len(rc) - 2}}
				if _, err := j.applyReceiptsTx(ctx, tx, sent.Add(time.Minute).UnixMilli(), id, rc[1:], delivered); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	// What a run leaves on disk after its last Close.
	if _, err := j.db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		tb.Fatal(err)
	}
	return j, path
}

func fileMB(tb testing.TB, path string) float64 {
	tb.Helper()
	st, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	return float64(st.Size()) / 1e6
}

// BenchmarkMarkSendingSubmitted measures the journal's cost per send: the
// two fsynced transactions the runner commits around each request.
func BenchmarkMarkSendingSubmitted(b *testing.B) {
	ctx := b.Context()
	j, _, _ := openTest(b)
	if _, err := j.Init(ctx, testMeta(), genRows(b.N)); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		id := int64(i + 1)
		if err := j.MarkSending(ctx, id); err != nil {
			b.Fatal(err)
		}
		if err := j.MarkSubmitted(ctx, id, fmt.Sprintf("M%d", i)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInsert100k is Init of a 100,000-row campaign: one transaction.
func BenchmarkInsert100k(b *testing.B) {
	ctx := b.Context()
	for b.Loop() {
		b.StopTimer()
		j, _, _ := openTest(b)
		b.StartTimer()
		if _, err := j.Init(ctx, testMeta(), genRows(100_000)); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		j.Close()
		b.StartTimer()
	}
}

// open100k populates a finished 100,000-row campaign and opens it
// read-only, as `pecbatch status` and `report` do. report reports the
// file's size; call it after the loop, which resets reported metrics.
func open100k(b *testing.B) (r *Reader, report func()) {
	b.Helper()
	j, path := populate(b, 100_000)
	j.Close()
	size := fileMB(b, path)
	r, err := OpenReadOnly(b.Context(), path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	return r, func() { b.ReportMetric(size, "MB-journal") }
}

// BenchmarkCounts100k is the status command's main query.
func BenchmarkCounts100k(b *testing.B) {
	ctx := b.Context()
	r, report := open100k(b)
	for b.Loop() {
		c, err := r.Counts(ctx)
		if err != nil || c.Total() != 100_000 {
			b.Fatal(c, err)
		}
	}
	report()
}

// BenchmarkStatus100k is everything `pecbatch status` reads.
func BenchmarkStatus100k(b *testing.B) {
	ctx := b.Context()
	r, report := open100k(b)
	for b.Loop() {
		if _, err := r.Meta(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := r.Counts(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := r.Times(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := r.NeedsAttention(ctx, 50); err != nil {
			b.Fatal(err)
		}
	}
	report()
}

// BenchmarkReport100k streams every report line with its row's receipts
// count, as the CSV report does.
func BenchmarkReport100k(b *testing.B) {
	ctx := b.Context()
	r, report := open100k(b)
	for b.Loop() {
		n := 0
		for _, err := range r.ReportRows(ctx) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 100_000 {
			b.Fatalf("%d lines", n)
		}
	}
	report()
}
