package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pecbatch/pecbatch/campaign/runner"
	"github.com/pecbatch/pecbatch/journal"
)

// imapLine is the esiti example's tracking.imap setting.
var imapLine = regexp.MustCompile(`(?m)^  imap: .*\n`)

// esitiCopy copies the esiti example into a temporary folder, sending
// faster, without tracking.imap unless imap, with csv as its
// destinatari.csv ("" keeps the example's), and returns the campaign file.
func esitiCopy(t *testing.T, imap bool, csv string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"campaign.yaml", "corpo.html", "destinatari.csv"} {
		b, err := os.ReadFile(filepath.Join(examplesDir, "esiti", name))
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case name == "campaign.yaml":
			s := strings.Replace(string(b), "\nsending:\n", "\nsending:\n  rate: 20/s\n", 1)
			if !strings.Contains(s, "rate: 20/s") || !imapLine.MatchString(s) {
				t.Fatalf("the esiti example changed: no sending: block or tracking.imap line\n%s", s)
			}
			if !imap {
				s = imapLine.ReplaceAllString(s, "")
			}
			b = []byte(s)
		case name == "destinatari.csv" && csv != "":
			b = []byte(csv)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "campaign.yaml")
}

// expectedStates reads the esito_atteso column of a campaign's CSV, by
// address.
func expectedStates(t *testing.T, file string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(filepath.Dir(file), "destinatari.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, r := range records[1:] {
		want[r[0]] = r[1]
	}
	return want
}

// sandboxJournal opens the journal of a campaign's sandbox runs.
func sandboxJournal(t *testing.T, file string) *journal.Reader {
	t.Helper()
	r, err := journal.OpenReadOnly(t.Context(), runner.SandboxJournalPath(filepath.Join(filepath.Dir(file), "campaign.journal.db")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// recipientLines reads each recipient's line of the report, by address.
func recipientLines(t *testing.T, r *journal.Reader) map[string]journal.ReportRow {
	t.Helper()
	out := map[string]journal.ReportRow{}
	for line, err := range r.ReportRows(t.Context()) {
		if err != nil {
			t.Fatal(err)
		}
		out[line.Recipient] = line
	}
	return out
}

func sandboxRun(t *testing.T, file string, args ...string) (stderr string) {
	t.Helper()
	stdout, stderr, code := pecbatch(t, append([]string{"run", file, "--sandbox", "--yes"}, args...)...)
	if code != exitRowsFailed {
		t.Fatalf("run: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitRowsFailed, stdout, stderr)
	}
	return stderr
}

// TestSignedEsitiSandbox runs the esiti example with --sandbox: the
// sandbox serves its mailbox over IMAP, every delivered recipient has its
// signed CONSEGNA, valid, in the journal, and status counts them. The
// rows on badsig and mismatch have their receipts stored and counted as
// problems, never used: they end delivered through the API's receipts.
func TestSignedEsitiSandbox(t *testing.T) {
	t.Parallel()
	example, err := os.ReadFile(filepath.Join(examplesDir, "esiti", "destinatari.csv"))
	if err != nil {
		t.Fatal(err)
	}
	file := esitiCopy(t, true, string(example)+
		"casella@badsig.sandbox.test,delivered,\"a CONSEGNA whose signature does not verify\"\n"+
		"casella@mismatch.sandbox.test,delivered,\"a CONSEGNA whose daticert is of another message\"\n")
	stderr := sandboxRun(t, file)
	if !regexp.MustCompile(`Sandbox: serving the mailbox over IMAP at imaps://127\.0\.0\.1:\d+`).MatchString(stderr) {
		t.Errorf("run does not say it reads the sandbox's mailbox:\n%s", stderr)
	}
	if strings.Contains(stderr, "Warning: could not read the signed receipts") || strings.Contains(stderr, "refused the login") {
		t.Errorf("the mailbox could not be read:\n%s", stderr)
	}
	r := sandboxJournal(t, file)
	lines := recipientLines(t, r)
	problems := 0
	for addr, state := range expectedStates(t, file) { //nolint:paralleltest // they count problems into one total
		t.Run(addr, func(t *testing.T) {
			line := lines[addr]
			if string(line.State) != state {
				t.Errorf("state %q, want %q", line.State, state)
			}
			if state != string(journal.StateDelivered) {
				return
			}
			stored, err := r.SignedReceiptsFor(t.Context(), line.RowID)
			if err != nil {
				t.Fatal(err)
			}
			var deliveries []journal.StoredSignedReceipt
			for _, s := range stored {
				if s.Kind == "avvenuta-consegna" {
					deliveries = append(deliveries, s)
				}
			}
			if len(deliveries) != 1 {
				t.Fatalf("%d signed deliveries stored, want 1 (of %d signed receipts)", len(deliveries), len(stored))
			}
			d := deliveries[0]
			broken := strings.Contains(addr, "badsig") || strings.Contains(addr, "mismatch")
			switch {
			case broken && d.Usable():
				t.Errorf("the broken receipt (signature %q, agrees %t) is usable", d.Signature, d.Agrees)
			case broken:
				problems++
			case d.Signature != journal.SignatureValid || !d.Agrees || !strings.EqualFold(d.Consegna, addr):
				t.Errorf("signed delivery: signature %q (%s), agrees %t, consegna %q; want valid, agreeing, naming %s",
					d.Signature, d.SignatureDetail, d.Agrees, d.Consegna, addr)
			}
		})
	}
	if problems != 2 {
		t.Errorf("%d broken deliveries found, want 2 (badsig and mismatch)", problems)
	}
	stdout, _, code := pecbatch(t, "status", file, "--sandbox", "--json")
	if code != exitOK {
		t.Fatalf("status: exit %d\n%s", code, stdout)
	}
	var st struct {
		Signed    int `json:"signed_receipts"`
		Problems  int `json:"signed_receipts_with_problems"`
		Conflicts int `json:"signed_receipt_conflicts"`
	}
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, stdout)
	}
	sum, err := r.SignedSummary(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Signed == 0 || st.Signed != sum.Stored || st.Problems < 2 || st.Problems != sum.Problems || st.Conflicts != 0 {
		t.Errorf("status: %d signed, %d with problems, %d conflicts; journal %+v: want them all, badsig and mismatch among the problems",
			st.Signed, st.Problems, st.Conflicts, sum)
	}
}

// TestSignedMultiRecipient: one row to a PEC mailbox and an ordinary
// address. The documented API receipts name nobody, so without IMAP
// neither recipient can be told delivered (README, "Delivery tracking");
// with IMAP, daticert names the addressee of the CONSEGNA.
func TestSignedMultiRecipient(t *testing.T) {
	t.Parallel()
	const rows = "pec,esito_atteso,spiegazione\n\"uno@pec.sandbox.test;due@ordinary.sandbox.test\",mixed,two recipients\n"
	for _, tc := range []struct {
		name string
		imap bool
		want map[string]journal.State
	}{
		{"without IMAP", false, map[string]journal.State{
			"uno@pec.sandbox.test":      journal.StateAcceptedNotCertifiable,
			"due@ordinary.sandbox.test": journal.StateAcceptedNotCertifiable,
		}},
		{"with IMAP", true, map[string]journal.State{
			"uno@pec.sandbox.test":      journal.StateDelivered,
			"due@ordinary.sandbox.test": journal.StateAcceptedNotCertifiable,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			file := esitiCopy(t, tc.imap, rows)
			sandboxRun(t, file, "--receipts", "documented")
			lines := recipientLines(t, sandboxJournal(t, file))
			if len(lines) != len(tc.want) {
				t.Fatalf("%d recipients in the journal, want %d: %v", len(lines), len(tc.want), lines)
			}
			for addr, want := range tc.want {
				if got := lines[addr].State; got != want {
					t.Errorf("%s: %q, want %q", addr, got, want)
				}
			}
		})
	}
}

// TestSignedLoginRefused: the sandbox refusing the mailbox login is told
// once, without the password, and the run ends as it would without IMAP.
func TestSignedLoginRefused(t *testing.T) {
	t.Parallel()
	file := esitiCopy(t, true, "")
	stderr := sandboxRun(t, file, "--fault", "imap-login")
	var told []string
	for _, l := range strings.Split(stderr, "\n") {
		if !strings.Contains(l, "refused the login") {
			continue
		}
		if strings.Contains(l, "sandbox") {
			t.Errorf("a line may hold the password (%q): %s", "sandbox", l)
		}
		if strings.HasPrefix(l, "Warning: ") {
			told = append(told, l)
		}
	}
	if len(told) != 1 {
		t.Errorf("login warnings %q, want one", told)
	}
	if strings.Contains(stderr, `"sandbox"`) || strings.Contains(stderr, "password=") {
		t.Errorf("the password may have reached the output:\n%s", stderr)
	}
	lines := recipientLines(t, sandboxJournal(t, file))
	for addr, want := range expectedStates(t, file) {
		if got := lines[addr].State; string(got) != want {
			t.Errorf("%s: %q, want %q (as without IMAP)", addr, got, want)
		}
	}
}
