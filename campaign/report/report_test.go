package report

import (
	"context"
	"errors"
	"flag"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/internal/testutil"
)

// update makes the golden-file tests of the package rewrite their files:
// go test ./campaign/report/ -update.
var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// checkGolden checks got against testdata/report/name.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	testutil.Golden(t, filepath.Join("testdata", "report", name), got, *update)
}

// rome is a fixed zone, so the golden files do not depend on the machine's.
var rome = time.FixedZone("CET", 3600)

// at returns 2 March 2025 at hh:mm:ss in rome.
func at(hh, mm, ss int) time.Time { return time.Date(2025, 3, 2, hh, mm, ss, 0, rome) }

func fixedNow() time.Time { return time.Date(2025, 3, 3, 9, 30, 0, 0, time.UTC) }

// fixtureRows covers every state, a row with two recipients and mixed
// outcomes, cells a spreadsheet would run as formulas, cells that need CSV
// quoting, accented text and markup that must reach the page as text.
func fixtureRows() []Row {
	return []Row{
		{RowID: 1, Row: 1, Key: "A001", Recipient: "mario.rossi@pec.example.it", Subject: "Sollecito di pagamento — fattura n° 12",
			MessageID: "PM0001", State: "delivered", SubmittedAt: at(10, 0, 0), AcceptedAt: at(10, 0, 1), DeliveredAt: at(10, 0, 4), Receipts: 2},
		{RowID: 2, Row: 2, Key: `Bianchi, "Luca"`, Recipient: "luca.bianchi@pec.example.it", Subject: "Sollecito di pagamento",
			MessageID: "PM0002", State: "delivered", SubmittedAt: at(10, 0, 1), AcceptedAt: at(10, 0, 2), DeliveredAt: at(10, 0, 9), Receipts: 2},
		{RowID: 2, Row: 2, Key: `Bianchi, "Luca"`, Recipient: "ufficio@invalid.example.it", Subject: "Sollecito di pagamento",
			MessageID: "PM0002", State: "failed", Error: "5.1.1 - sandbox - indirizzo non valido", SubmittedAt: at(10, 0, 1), AcceptedAt: at(10, 0, 2), FailedAt: at(10, 0, 6), Receipts: 2},
		{RowID: 3, Row: 3, Key: "=HYPERLINK(\"http://evil.example/\",\"click\")", Recipient: "@evil.example", Subject: "+39 333 1234567",
			MessageID: "-PM0003", State: "expired", Error: "\t=1+1", SubmittedAt: at(10, 0, 2), AcceptedAt: at(10, 0, 3), FailedAt: at(10, 30, 2), Receipts: 3},
		{RowID: 4, Row: 4, Key: "A004", Recipient: "anna.verdi@pec.example.it", Subject: "<script>alert(1)</script> & \"quotes\"",
			MessageID: "PM0004", State: "accepted", SubmittedAt: at(10, 0, 3), AcceptedAt: at(10, 0, 4), Receipts: 1},
		{RowID: 5, Row: 5, Key: "A005", Recipient: "posta.ordinaria@example.com", Subject: "Sollecito",
			MessageID: "PM0005", State: "accepted_not_certifiable", SubmittedAt: at(10, 0, 4), AcceptedAt: at(10, 0, 5), Receipts: 1},
		{RowID: 6, Row: 6, Key: "A006", Recipient: "lento@slow.example.it", Subject: "Sollecito",
			MessageID: "PM0006", State: "delivered", SubmittedAt: at(10, 0, 5), AcceptedAt: at(10, 0, 6), DeliveredAt: at(10, 12, 5), Receipts: 2},
		{RowID: 7, Row: 7, Key: "A007", Recipient: "respinto@pec.example.it", Subject: "Sollecito", State: "rejected",
			Error: "400 Bad Request: invalid recipient"},
		{RowID: 8, Row: 8, Key: "A008", Recipient: "incerto@pec.example.it", Subject: "Sollecito", State: "unknown",
			Error: "\rtimeout after the request was written"},
		{RowID: 9, Row: 9, Key: "A009", Recipient: "dopo@pec.example.it", Subject: "Sollecito", State: "pending"},
	}
}

func fixtureCounts() map[string]int {
	return map[string]int{"delivered": 2, "failed": 1, "expired": 1, "accepted": 1, "accepted_not_certifiable": 1,
		"rejected": 1, "unknown": 1, "pending": 1}
}

func fixtureReceipts(_ context.Context, rowID int64) ([]Receipt, error) {
	switch rowID {
	case 1:
		return []Receipt{
			{Kind: "acceptance", Recipient: "mario.rossi@pec.example.it", Date: at(10, 0, 1), DateText: "02/03/2025 10:00:01",
				Subject: "ACCETTAZIONE: Sollecito di pagamento — fattura n° 12 PM0001",
				Body:    "Ricevuta di accettazione\nIl giorno 02/03/2025 alle ore 10:00:01 il messaggio è stato accettato."},
			{Kind: "delivery", Recipient: "mario.rossi@pec.example.it", Date: at(10, 0, 4),
				Subject: "CONSEGNA: Sollecito di pagamento — fattura n° 12 PM0001", Body: "</pre><img src=\"http://evil.example/x.png\">"},
		}, nil
	case 3:
		return []Receipt{
			{Kind: "acceptance", Date: at(10, 0, 3), Subject: "ACCETTAZIONE: +39 333 1234567 -PM0003"},
			{Kind: "timeout-warning", Recipient: "@evil.example", DateText: "unreadable date",
				Subject: "AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO: +39 333 1234567 -PM0003"},
			{Kind: "timeout-expired", Recipient: "@evil.example", Date: at(10, 30, 2),
				Subject: "AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO: +39 333 1234567 -PM0003"},
		}, nil
	}
	return nil, nil
}

// seqOf yields rows as Data.Rows does.
func seqOf(rows []Row) iter.Seq2[Row, error] {
	return func(yield func(Row, error) bool) {
		for _, r := range rows {
			if !yield(r, nil) {
				return
			}
		}
	}
}

func fixtureData() *Data {
	return &Data{Campaign: "Solleciti <marzo> 2025", Counts: fixtureCounts(), Rows: seqOf(fixtureRows()), Receipts: fixtureReceipts}
}

func TestParseReportFormat(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Format
		ok   bool
	}{
		{"csv", CSV, true}, {"HTML", HTML, true}, {" html ", HTML, true}, {"pdf", "", false}, {"", "", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseFormat(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("ParseFormat(%q) = %q, %v; want %q, ok=%v", tc.in, got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestDefaultReportPath(t *testing.T) {
	for _, tc := range []struct {
		journal, name string
		format        Format
		want          string
	}{
		{"/data/solleciti/solleciti.journal.db", "solleciti", CSV, "/data/solleciti/solleciti-report.csv"},
		{"/data/x/j.db", "solleciti", HTML, "/data/x/solleciti-report.html"},
		{"/data/x/j.db", "Solleciti marzo/2025", "", "/data/x/Solleciti-marzo-2025-report.csv"},
		{"/data/x/j.db", "../../etc", CSV, "/data/x/etc-report.csv"},
		{"/data/x/j.db", "  ", CSV, "/data/x/campaign-report.csv"},
		{"rel/j.db", "a", CSV, filepath.Join("rel", "a-report.csv")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := DefaultPath(tc.journal, tc.name, tc.format); got != filepath.FromSlash(tc.want) {
				t.Errorf("DefaultPath(%q, %q, %q) = %q, want %q", tc.journal, tc.name, tc.format, got, tc.want)
			}
		})
	}
}

func TestWriteReportFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.csv")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("failure leaves the old file and no temporary", func(t *testing.T) {
		err := WriteFile(path, func(w io.Writer) error {
			io.WriteString(w, "half")
			return errors.New("boom")
		})
		if err == nil {
			t.Fatal("no error")
		}
		if b, _ := os.ReadFile(path); string(b) != "old" {
			t.Errorf("file = %q, want the old content", b)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Errorf("directory holds %d entries, want 1", len(ents))
		}
	})
	t.Run("success replaces the file, mode 0600", func(t *testing.T) {
		if err := WriteFile(path, func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(path); string(b) != "new" {
			t.Errorf("file = %q, want new", b)
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("mode = %v, %v; want 0600", fi.Mode().Perm(), err)
		}
	})
}

func TestWriteReportDataErrors(t *testing.T) {
	boom := errors.New("disk on fire")
	failing := func(yield func(Row, error) bool) {
		if !yield(fixtureRows()[0], nil) {
			return
		}
		yield(Row{}, boom)
	}
	for _, f := range []Format{CSV, HTML} {
		t.Run(string(f)+" source error", func(t *testing.T) {
			err := WriteData(t.Context(), &Data{Rows: failing}, io.Discard, Options{Format: f})
			if !errors.Is(err, boom) {
				t.Errorf("err = %v, want it to wrap %v", err, boom)
			}
		})
		t.Run(string(f)+" cancelled", func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			rows := make([]Row, 3*reportCSVBatch)
			err := WriteData(ctx, &Data{Rows: seqOf(rows)}, io.Discard, Options{Format: f})
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want context.Canceled", err)
			}
		})
	}
	t.Run("unknown format", func(t *testing.T) {
		err := WriteData(t.Context(), fixtureData(), io.Discard, Options{Format: "pdf"})
		if err == nil || !strings.Contains(err.Error(), "csv or html") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("no rows", func(t *testing.T) {
		if err := WriteData(t.Context(), &Data{}, io.Discard, Options{}); err == nil {
			t.Error("no error")
		}
	})
	t.Run("receipts error", func(t *testing.T) {
		d := fixtureData()
		d.Receipts = func(context.Context, int64) ([]Receipt, error) { return nil, boom }
		err := WriteData(t.Context(), d, io.Discard, Options{Format: HTML})
		if !errors.Is(err, boom) {
			t.Errorf("err = %v, want it to wrap %v", err, boom)
		}
	})
}
