// Command benchload writes the 100,000-row campaign of scripts/bench-load.sh:
// a campaign folder (campaign file, recipients, body) and its journal as a
// finished run leaves it, every row sent and tracked to a final state with
// its receipts archived. The journal is written through the journal
// package's API, the calls a run makes (Init, MarkSending, MarkSubmitted,
// ApplyReceipts), one transaction each, so its schema, indexes, event log
// and compressed receipt archive are exactly a real run's.
//
//	go run ./scripts/benchload -rows 100000 -dir /tmp/carico
//
// Rows: 90 % delivered after an acceptance (2 receipts), 8 % delivered
// after the 12-hour warning (3 receipts), 2 % not delivered (mailbox full:
// 2 receipts); one row in 20 has two recipients, each with its own
// receipts. The receipts use the wording of a real provider.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pecbatch/pecbatch/journal"
)

const campaignYAML = `name: carico-100k
api:
  token: ${PECMASSIVA_TOKEN}
sender:
  address: ufficio@pec.example.it
  username: ${PEC_USERNAME}
  password: ${PEC_PASSWORD}
recipients:
  file: destinatari.csv
  to: "{{.pec}}"
  key: "{{.codice}}"
message:
  subject: "Avviso di pagamento n. {{.codice}}"
  body: corpo.html
sending:
  journal: campaign.journal.db
`

const (
	provider = "posta-certificata@pec.aruba.it"
	sender   = "ufficio@pec.example.it"
)

func main() {
	rows := flag.Int("rows", 100_000, "rows of the campaign")
	dir := flag.String("dir", "", "folder to write the campaign and its journal into (created; must not hold a journal)")
	flag.Parse()
	if *dir == "" || *rows < 1 {
		fmt.Fprintln(os.Stderr, "usage: benchload -rows N -dir DIR")
		os.Exit(2)
	}
	if err := run(context.Background(), *dir, *rows); err != nil {
		fmt.Fprintln(os.Stderr, "benchload:", err)
		os.Exit(1)
	}
}

// row is one generated row: its journal row and the outcome it gets.
type row struct {
	n       int
	key     string
	addrs   []string
	subject string
}

func genRow(i int) row {
	r := row{n: i + 1, key: fmt.Sprintf("AV%06d", i+1)}
	r.addrs = []string{fmt.Sprintf("contribuente%06d@pec.example.it", i+1)}
	if i%20 == 7 {
		r.addrs = append(r.addrs, fmt.Sprintf("studio%06d@pec.example.it", i+1))
	}
	r.subject = "Avviso di pagamento n. " + r.key
	return r
}

func run(ctx context.Context, dir string, n int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, "campaign.journal.db")
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s exists: choose an empty folder", path)
	}
	if err := writeCampaign(dir, n); err != nil {
		return err
	}

	// The journal's clock: a campaign that started at 9:00 and sent one
	// row a second, as a real one at the documented rate.
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	var now time.Time
	clock := func() time.Time { return now }
	now = start
	j, err := journal.Open(ctx, path, journal.WithNow(clock))
	if err != nil {
		return err
	}
	defer j.Close()

	newRows := func(yield func(journal.NewRow, error) bool) {
		for i := range n {
			r := genRow(i)
			sum := sha256.Sum256([]byte("content of " + r.key))
			if !yield(journal.NewRow{Key: r.key, RowNumber: r.n, Recipients: r.addrs, Subject: r.subject,
				ContentSHA256: hex.EncodeToString(sum[:])}, nil) {
				return
			}
		}
	}
	meta := journal.Meta{Campaign: "carico-100k", Endpoint: "https://ws.pecmassiva.com", Sender: sender,
		Fingerprint: journal.Fingerprint{"campaign.yaml": hexSum("campaign"), "destinatari.csv": hexSum("csv"),
			"corpo.html": hexSum("body")}}
	if _, err := j.Init(ctx, meta, iter.Seq2[journal.NewRow, error](newRows)); err != nil {
		return err
	}

	began := time.Now()
	receipts := 0
	for i := range n {
		r := genRow(i)
		id := int64(i + 1)
		sent := start.Add(time.Duration(i) * time.Second)
		code := sent.Format("20060102150405") + fmt.Sprintf("%02d", i%100)
		now = sent
		if err := j.MarkSending(ctx, id); err != nil {
			return err
		}
		now = sent.Add(300 * time.Millisecond)
		if err := j.MarkSubmitted(ctx, id, code); err != nil {
			return err
		}
		acc, outcome := receiptsOf(i, r, code, sent)
		now = sent.Add(3 * time.Second)
		if _, err := j.ApplyReceipts(ctx, id, acc, acceptedOutcomes(r, acc[0].Date)); err != nil {
			return fmt.Errorf("row %d: %w", r.n, err)
		}
		now = outcome.at.Add(time.Second)
		if _, err := j.ApplyReceipts(ctx, id, outcome.receipts, outcome.outcomes); err != nil {
			return fmt.Errorf("row %d: %w", r.n, err)
		}
		receipts += len(acc) + len(outcome.receipts)
		if (i+1)%10_000 == 0 {
			fmt.Fprintf(os.Stderr, "  %d rows journaled (%.0f rows/s)\n", i+1, float64(i+1)/time.Since(began).Seconds())
		}
	}
	fmt.Fprintf(os.Stderr, "  %d rows and %d receipts journaled in %v\n", n, receipts, time.Since(began).Round(time.Second))
	return j.Close()
}

func hexSum(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func writeCampaign(dir string, n int) error {
	var csv strings.Builder
	csv.WriteString("codice,pec,pec2\n")
	for i := range n {
		r := genRow(i)
		second := ""
		if len(r.addrs) > 1 {
			second = r.addrs[1]
		}
		fmt.Fprintf(&csv, "%s,%s,%s\n", r.key, r.addrs[0], second)
	}
	files := map[string]string{
		"campaign.yaml":   campaignYAML,
		"destinatari.csv": csv.String(),
		"corpo.html":      "<p>Gentile contribuente, le comunichiamo l'avviso {{.codice}}.</p>\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// outcome is what the second poll of a row finds.
type outcome struct {
	at       time.Time
	receipts []journal.Receipt
	outcomes []journal.Outcome
}

func acceptedOutcomes(r row, at time.Time) []journal.Outcome {
	out := make([]journal.Outcome, len(r.addrs))
	for i, a := range r.addrs {
		out[i] = journal.Outcome{Address: a, State: journal.RecipientAccepted, At: at}
	}
	return out
}

// receiptsOf returns a row's acceptance, then what follows it.
func receiptsOf(i int, r row, code string, sent time.Time) ([]journal.Receipt, outcome) {
	msgID := fmt.Sprintf("opec21012.%s.%06d.%03d.1.53@pec.aruba.it", sent.Format("20060102150405"), 100000+i*7%900000, i%1000)
	full := r.subject + " " + code
	accAt := sent.Add(2 * time.Second)
	acc := journal.Receipt{Kind: "acceptance", Date: accAt, DateText: accAt.Format(time.RFC1123Z), Sender: provider,
		Recipient: sender, Subject: "ACCETTAZIONE: " + full,
		Body: "Ricevuta di accettazione\r\n\r\nIl giorno " + accAt.Format("02/01/2006") + " alle ore " + accAt.Format("15:04:05") +
			" (+0100) il messaggio \"" + full + "\" proveniente da \"" + sender + "\" ed indirizzato a:\r\n" +
			strings.Join(r.addrs, " (\"posta certificata\")\r\n") + " (\"posta certificata\")\r\n" +
			"è stato accettato dal sistema ed inoltrato.\r\nIdentificativo messaggio: " + msgID + "\r\n"}
	var o outcome
	warn := i%100 < 8
	fail := i%100 == 50 || i%100 == 51
	o.at = sent.Add(5 * time.Second)
	if warn {
		o.at = sent.Add(12*time.Hour + 40*time.Minute)
	}
	for _, a := range r.addrs {
		if warn {
			w := sent.Add(12 * time.Hour)
			o.receipts = append(o.receipts, journal.Receipt{Kind: "timeout-warning", Date: w, DateText: w.Format(time.RFC1123Z),
				Sender: provider, Recipient: sender, Addressee: a, ErrorText: "4.4.7 - tempo massimo superato",
				Subject: "AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO: " + full,
				Body: "Avviso di mancata consegna\r\n\r\nIl giorno " + w.Format("02/01/2006") + " alle ore " + w.Format("15:04:05") +
					" (+0100) nel messaggio \"" + full + "\" proveniente da \"" + sender + "\" e destinato all'utente \"" + a +
					"\" non è ancora stata ricevuta la ricevuta di avvenuta consegna entro le prime 12 ore dall'invio.\r\n" +
					"Identificativo messaggio: " + msgID + "\r\n"})
		}
		if fail {
			o.receipts = append(o.receipts, journal.Receipt{Kind: "non-delivery", Date: o.at, DateText: o.at.Format(time.RFC1123Z),
				Sender: provider, Recipient: sender, Addressee: a, ErrorText: "5.2.2 - casella piena",
				Subject: "AVVISO DI MANCATA CONSEGNA: " + full,
				Body: "Avviso di mancata consegna\r\n\r\nIl giorno " + o.at.Format("02/01/2006") + " alle ore " + o.at.Format("15:04:05") +
					" (+0100) nel messaggio \"" + full + "\" proveniente da \"" + sender + "\" e destinato all'utente \"" + a +
					"\" è stato rilevato un errore 5.2.2 - casella piena.\r\nIdentificativo messaggio: " + msgID + "\r\n"})
			o.outcomes = append(o.outcomes, journal.Outcome{Address: a, State: journal.RecipientFailed, At: o.at,
				Error: "5.2.2 - casella piena"})
			continue
		}
		o.receipts = append(o.receipts, journal.Receipt{Kind: "delivery", Date: o.at, DateText: o.at.Format(time.RFC1123Z),
			Sender: provider, Recipient: sender, Addressee: a, Subject: "CONSEGNA: " + full,
			Body: "Ricevuta di avvenuta consegna\r\n\r\nIl giorno " + o.at.Format("02/01/2006") + " alle ore " + o.at.Format("15:04:05") +
				" (+0100) il messaggio \"" + full + "\" proveniente da \"" + sender + "\" ed indirizzato a \"" + a +
				"\" è stato consegnato nella casella di destinazione.\r\nIdentificativo messaggio: " + msgID + "\r\n"})
		warnings := 0
		if warn {
			warnings = 1
		}
		o.outcomes = append(o.outcomes, journal.Outcome{Address: a, State: journal.RecipientDelivered, At: o.at, Warnings: warnings})
	}
	return []journal.Receipt{acc}, o
}
