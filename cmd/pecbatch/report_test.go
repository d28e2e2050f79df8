package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/journal"
)

// The credentials are ${VAR}s that no test environment sets: report must
// not need them.
const reportCampaignYAML = `name: solleciti-test
api:
  token: ${PECBATCH_TEST_REPORT_UNSET_TOKEN}
sender:
  address: ufficio@pec.example.it
  username: ${PECBATCH_TEST_REPORT_UNSET_USER}
  password: ${PECBATCH_TEST_REPORT_UNSET_PASSWORD}
recipients:
  file: destinatari.csv
  to: "{{.pec}}"
  key: "{{.codice}}"
message:
  subject: "Sollecito {{.codice}}"
  body: corpo.html
`

// reportCampaign writes a campaign folder and, unless noJournal, its
// journal with one delivered row, one formula-looking rejected row and one
// pending row. It returns the campaign file's path.
func reportCampaign(t *testing.T, noJournal bool) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"campaign.yaml":   reportCampaignYAML,
		"destinatari.csv": "codice,pec\nA1,mario@pec.example.it\n=1+1,luca@pec.example.it\nA3,anna@pec.example.it\n",
		"corpo.html":      "<p>Gentile cliente, {{.codice}}</p>\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if noJournal {
		return filepath.Join(dir, "campaign.yaml")
	}
	ctx := t.Context()
	now := time.Date(2025, 3, 2, 9, 0, 0, 0, time.UTC)
	j, err := journal.Open(ctx, filepath.Join(dir, "campaign.journal.db"), journal.WithNow(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var rows []journal.NewRow
	for i, r := range [][2]string{{"A1", "mario@pec.example.it"}, {"=1+1", "luca@pec.example.it"}, {"A3", "anna@pec.example.it"}} {
		h := sha256.Sum256([]byte(r[0]))
		rows = append(rows, journal.NewRow{Key: r[0], RowNumber: i + 1, Recipients: []string{r[1]},
			Subject: "Sollecito " + r[0], ContentSHA256: hex.EncodeToString(h[:])})
	}
	h := sha256.Sum256([]byte(reportCampaignYAML))
	meta := journal.Meta{Campaign: "solleciti-test", Endpoint: "sandbox:builtin", Sender: "ufficio@pec.example.it",
		Fingerprint: journal.Fingerprint{"campaign file": hex.EncodeToString(h[:])}}
	if _, err := j.Init(ctx, meta, journal.RowsOf(rows)); err != nil {
		t.Fatal(err)
	}
	first, err := j.RowByKey(ctx, "A1")
	if err != nil {
		t.Fatal(err)
	}
	second, err := j.RowByKey(ctx, "=1+1")
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(j.MarkSending(ctx, first.ID))
	must(j.MarkSubmitted(ctx, first.ID, "PM0001"))
	_, err = j.ApplyReceipts(ctx, first.ID, []journal.Receipt{{Code: "PM0001", Kind: "delivery", Date: now.Add(4 * time.Second),
		DateText: "02/03/2025 10:00:04", Addressee: "mario@pec.example.it", Subject: "CONSEGNA: Sollecito A1 PM0001", Body: "consegnato"}},
		[]journal.Outcome{{Address: "mario@pec.example.it", State: journal.RecipientDelivered, At: now.Add(4 * time.Second)}})
	must(err)
	must(j.MarkSending(ctx, second.ID))
	must(j.MarkRejected(ctx, second.ID, "400 Bad Request"))
	return filepath.Join(dir, "campaign.yaml")
}

func TestReportCommand(t *testing.T) {
	t.Parallel()
	camp := reportCampaign(t, false)
	dir := filepath.Dir(camp)

	t.Run("default csv next to the journal", func(t *testing.T) {
		t.Parallel()
		code, stdout, stderr := runPecbatch(t, "report", camp, "--lang", "en")
		want := filepath.Join(dir, "solleciti-test-report.csv")
		if code != 0 || strings.TrimSpace(stdout) != want {
			t.Fatalf("exit %d, stdout %q, stderr %q; want the path %s", code, stdout, stderr, want)
		}
		b, err := os.ReadFile(want)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 4 || recs[0][0] != "row" {
			t.Fatalf("records = %q", recs)
		}
		if recs[1][2] != "mario@pec.example.it" || recs[1][5] != "delivered" || recs[1][9] != "2025-03-02T10:00:04+01:00" {
			t.Errorf("line 1 = %q", recs[1])
		}
		if recs[2][1] != "'=1+1" || recs[2][5] != "rejected" || recs[2][6] != "400 Bad Request" {
			t.Errorf("line 2 = %q: the key must be neutralised", recs[2])
		}
		if recs[3][5] != "pending" || recs[3][7] != "" {
			t.Errorf("line 3 = %q", recs[3])
		}
	})

	t.Run("excel to stdout", func(t *testing.T) {
		t.Parallel()
		code, stdout, stderr := runPecbatch(t, "report", camp, "--excel", "-o", "-")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if !strings.HasPrefix(stdout, "\uFEFFriga;chiave;destinatario;") || !strings.Contains(stdout, "\r\n") {
			t.Errorf("stdout = %.80q, want an Excel CSV", stdout)
		}
	})

	t.Run("html inferred from -o", func(t *testing.T) {
		t.Parallel()
		out := filepath.Join(t.TempDir(), "rapporto.html")
		code, stdout, stderr := runPecbatch(t, "report", camp, "-o", out)
		if code != 0 || strings.TrimSpace(stdout) != out {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		b, _ := os.ReadFile(out)
		if !strings.Contains(string(b), `<section id="totals"`) || !strings.Contains(string(b), "Rapporto di consegna: solleciti-test") {
			t.Errorf("%s is not the HTML report in Italian", out)
		}
	})

	t.Run("italian by default, times in Europe/Rome", func(t *testing.T) {
		t.Parallel()
		code, stdout, stderr := runPecbatch(t, "report", camp, "-o", "-")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		recs, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 4 || recs[0][0] != "riga" || recs[0][5] != "stato" {
			t.Fatalf("records = %q, want an Italian header", recs)
		}
		if recs[1][5] != "consegnata" || recs[1][9] != "2025-03-02T10:00:04+01:00" {
			t.Errorf("line 1 = %q, want consegnata at 10:00:04 Rome time", recs[1])
		}
		if recs[2][5] != "rifiutata" || recs[3][5] != "da inviare" {
			t.Errorf("lines 2-3 = %q", recs[2:])
		}
	})

	t.Run("time zone by name", func(t *testing.T) {
		t.Parallel()
		code, stdout, stderr := runPecbatch(t, "report", camp, "-o", "-", "--time-zone", "UTC", "--lang", "en")
		if code != 0 || !strings.Contains(stdout, ",delivered,,2025-03-02T09:00:00Z,") {
			t.Errorf("exit %d, stderr %q, stdout:\n%s", code, stderr, stdout)
		}
	})

	t.Run("only undelivered", func(t *testing.T) {
		t.Parallel()
		code, stdout, stderr := runPecbatch(t, "report", camp, "-o", "-", "--only", "undelivered", "--excel")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		r := csv.NewReader(strings.NewReader(strings.TrimPrefix(stdout, "\uFEFF")))
		r.Comma = ';'
		recs, err := r.ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		// The rejected row alone: the delivered and the pending ones are
		// not to contact again.
		if len(recs) != 2 || recs[1][5] != "rifiutata" || recs[1][13] == "" || recs[1][14] == "" {
			t.Errorf("records = %q, want the rejected row with why and what to do", recs)
		}
		out := filepath.Join(t.TempDir(), "da-ricontattare.html")
		if code, _, stderr := runPecbatch(t, "report", camp, "-o", out, "--only", "undelivered"); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		b, _ := os.ReadFile(out)
		if strings.Contains(string(b), "mario@pec.example.it") || !strings.Contains(string(b), "luca@pec.example.it") {
			t.Errorf("the HTML of --only undelivered lists a delivered recipient or lacks the rejected one")
		}
	})

	t.Run("html by flag, default path", func(t *testing.T) {
		t.Parallel()
		code, stdout, _ := runPecbatch(t, "report", camp, "--format", "html")
		if want := filepath.Join(dir, "solleciti-test-report.html"); code != 0 || strings.TrimSpace(stdout) != want {
			t.Errorf("exit %d, stdout %q, want %s", code, stdout, want)
		}
	})

	t.Run("while a run holds the journal", func(t *testing.T) {
		t.Parallel()
		j, err := journal.Open(t.Context(), filepath.Join(dir, "campaign.journal.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		if code, _, stderr := runPecbatch(t, "report", camp, "-o", "-"); code != 0 {
			t.Errorf("exit %d while the journal is locked: %s", code, stderr)
		}
	})

	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"excel with html", []string{"--format", "html", "--excel"}, 2, "--excel applies to the CSV report only"},
		{"unknown format", []string{"--format", "pdf"}, 2, "use csv or html"},
		{"bad time zone", []string{"--time-zone", "Mars/Olympus"}, 2, "not a time zone name"},
		{"unknown language", []string{"--lang", "fr"}, 2, "use it or en"},
		{"unknown selection", []string{"--only", "delivered"}, 2, "use undelivered"},
		{"negative cap", []string{"--max-html-rows", "-1"}, 2, "cannot be negative"},
		{"unwritable output", []string{"-o", filepath.Join(dir, "no-such-dir", "r.csv")}, 1, "no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := runPecbatch(t, append([]string{"report", camp}, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tc.code, tc.stderr)
			}
		})
	}
}

func TestReportCommandNoJournal(t *testing.T) {
	t.Parallel()
	camp := reportCampaign(t, true)
	code, _, stderr := runPecbatch(t, "report", camp)
	if code != 1 || !strings.Contains(stderr, "has not been run yet") || !strings.Contains(stderr, "pecbatch run") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = runPecbatch(t, "report", filepath.Join(filepath.Dir(camp), "missing.yaml"))
	if code != 2 {
		t.Errorf("missing campaign file: exit %d, stderr %q; want 2", code, stderr)
	}
}
