package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pecbatch/pecbatch/campaign/report"
	"github.com/pecbatch/pecbatch/internal/testutil"
)

// esitiAttachment is the static attachment the evidence tests add to their
// copy of the esiti example, which has none: a pack must rebuild and check
// attachments too.
const esitiAttachment = "informativa-privacy.pdf"

// esitiWithAttachment is esitiCopy (imap, csv) with esitiAttachment
// attached to every row.
func esitiWithAttachment(t *testing.T, imap bool, csv string) string {
	t.Helper()
	file := esitiCopy(t, imap, csv)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte("\n  body: corpo.html\n"), []byte("\n  body: corpo.html\n  attachments:\n    - file: "+esitiAttachment+"\n"), 1)
	if !bytes.Contains(b, []byte("- file: "+esitiAttachment)) {
		t.Fatalf("the esiti example changed: no body: line to add to\n%s", b)
	}
	pdf, err := os.ReadFile(filepath.Join(examplesDir, "avviso", esitiAttachment))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(file)
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, esitiAttachment), pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// packFolders lists the row folders of an evidence pack.
func packFolders(t *testing.T, pack string) []string {
	t.Helper()
	entries, err := os.ReadDir(pack)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	return dirs
}

// TestEvidenceEsiti runs the esiti example (one row per outcome, with an
// attachment added, without tracking.imap) against the built-in sandbox,
// then makes its evidence
// pack: every row has its message rebuilt and checked, every receipt file
// is an API summary and says so, `evidence verify` passes and, after one
// byte of one attachment changes, fails naming that file; --zip, --rows
// and --key select and pack the same way; a campaign attachment changed
// after the send leaves the message out with NON-CORRISPONDE.txt. Each
// attestazione.html prints to a one-page PDF in headless Chromium.
func TestEvidenceEsiti(t *testing.T) {
	t.Parallel()
	file := esitiWithAttachment(t, false, "")
	dir := filepath.Dir(file)
	run := func(what string, want int, args ...string) (string, string) {
		t.Helper()
		stdout, stderr, code := pecbatch(t, args...)
		if code != want {
			t.Fatalf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", what, code, want, stdout, stderr)
		}
		return stdout, stderr
	}
	run("run", exitRowsFailed, "run", file, "--sandbox", "--yes")

	pack := filepath.Join(dir, "pack")
	_, stderr := run("evidence", exitOK, "evidence", file, "--sandbox", "-o", pack)
	manifestSum := regexp.MustCompile(`SHA-256 of manifest.json: ([0-9a-f]{64})\b`).FindStringSubmatch(stderr)
	if manifestSum == nil {
		t.Fatalf("evidence does not print the manifest's SHA-256:\n%s", stderr)
	}
	folders := packFolders(t, pack)
	want := []string{"1-consegna@pec.sandbox.test", "2-casella@invalid.sandbox.test", "3-casella@full.sandbox.test",
		"4-casella@slow.sandbox.test", "5-casella@expire.sandbox.test", "6-casella@ordinary.sandbox.test",
		"7-casella@virus.sandbox.test", "8-casella@reject.sandbox.test"}
	if !slices.Equal(folders, want) {
		t.Fatalf("row folders %q, want %q", folders, want)
	}
	attachment, err := os.ReadFile(filepath.Join(dir, esitiAttachment))
	if err != nil {
		t.Fatal(err)
	}
	subject := regexp.MustCompile(`^Prova esito [a-z_]+ \[rif\. [0-9A-Z]{8}\]$`)
	for _, f := range folders {
		got, err := os.ReadFile(filepath.Join(pack, f, "allegati", esitiAttachment))
		if err != nil || !bytes.Equal(got, attachment) {
			t.Errorf("%s: the attachment is not the campaign's (%v)", f, err)
		}
		// The subject as sent, with the reference sending.reference added.
		if s, err := os.ReadFile(filepath.Join(pack, f, "oggetto.txt")); err != nil || !subject.Match(s) {
			t.Errorf("%s/oggetto.txt is %q (%v), want the subject sent, with its [rif. ...]", f, s, err)
		}
		page, err := os.ReadFile(filepath.Join(pack, f, "attestazione.html"))
		if err != nil || !bytes.Contains(page, []byte("sono i riassunti forniti dall'API PEC Massiva, non le ricevute firmate")) {
			t.Errorf("%s/attestazione.html does not say its receipts are the API's summaries (%v)", f, err)
		}
	}
	// Every delivered recipient's CONSEGNA, and every other receipt, is a
	// summary labelled as such.
	for _, f := range []string{"1-consegna@pec.sandbox.test", "4-casella@slow.sandbox.test"} {
		receipts, err := filepath.Glob(filepath.Join(pack, f, "ricevuta-[0-9][0-9]-CONSEGNA.txt"))
		if err != nil || len(receipts) != 1 {
			t.Errorf("%s: CONSEGNA files %q (%v), want one", f, receipts, err)
		}
	}
	receipts, err := filepath.Glob(filepath.Join(pack, "*", "ricevuta-*.txt"))
	if err != nil || len(receipts) < len(folders) {
		t.Fatalf("receipt files %q (%v)", receipts, err)
	}
	for _, name := range receipts {
		b, err := os.ReadFile(name)
		if err != nil || !bytes.HasPrefix(b, []byte("RIASSUNTO DI UNA RICEVUTA PEC FORNITO DALL'API PEC MASSIVA\r\n"+
			"Questo file NON è la ricevuta firmata")) {
			t.Errorf("%s is not labelled as the API's summary (%v):\n%.300s", name, err, b)
		}
	}

	// The subtests share one pack and run in order: the last ones change it.
	t.Run("verify", func(t *testing.T) { //nolint:paralleltest // see above
		stdout, _ := run("verify", exitOK, "evidence", "verify", pack)
		if !strings.HasPrefix(stdout, "ok: ") || !strings.Contains(stdout, "campaign esiti-sandbox") ||
			!strings.Contains(stdout, "SHA-256 of manifest.json: "+manifestSum[1]+"\n") {
			t.Errorf("verify says:\n%s", stdout)
		}
	})

	t.Run("zip", func(t *testing.T) { //nolint:paralleltest // see above
		zipped := filepath.Join(dir, "pack-zip")
		stdout, _ := run("evidence --zip", exitOK, "evidence", file, "--sandbox", "--zip", "-o", zipped)
		if strings.TrimSpace(stdout) != zipped+".zip" {
			t.Errorf("evidence --zip printed %q, want the path %s.zip", stdout, zipped)
		}
		zr, err := zip.OpenReader(zipped + ".zip")
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		var inZip, inDir []string
		for _, f := range zr.File {
			inZip = append(inZip, f.Name)
		}
		err = filepath.WalkDir(pack, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(pack, p)
				inDir = append(inDir, filepath.ToSlash(rel))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(inZip)
		slices.Sort(inDir)
		if !slices.Equal(inZip, inDir) {
			t.Errorf("the zip holds %q, the folder %q", inZip, inDir)
		}
		run("verify the zip", exitOK, "evidence", "verify", zipped+".zip")
	})

	t.Run("rows and key", func(t *testing.T) { //nolint:paralleltest // see above
		for _, c := range []struct {
			args []string
			want []string
		}{
			{[]string{"--rows", "1,5-9"}, []string{"1-consegna@pec.sandbox.test", "5-casella@expire.sandbox.test",
				"6-casella@ordinary.sandbox.test", "7-casella@virus.sandbox.test", "8-casella@reject.sandbox.test"}},
			{[]string{"--key", "casella@slow.sandbox.test"}, []string{"4-casella@slow.sandbox.test"}},
		} {
			t.Run(strings.Join(c.args, " "), func(t *testing.T) { //nolint:paralleltest // before the pack changes
				out := filepath.Join(t.TempDir(), "pack")
				run("evidence "+strings.Join(c.args, " "), exitOK, slices.Concat([]string{"evidence", file, "--sandbox", "-o", out}, c.args)...)
				if got := packFolders(t, out); !slices.Equal(got, c.want) {
					t.Errorf("folders %q, want %q", got, c.want)
				}
				var m report.Manifest
				b, err := os.ReadFile(filepath.Join(out, report.ManifestName))
				if err != nil || json.Unmarshal(b, &m) != nil || m.Rows != len(c.want) {
					t.Errorf("manifest.json: %d rows (%v), want %d", m.Rows, err, len(c.want))
				}
			})
		}
		_, stderr := run("evidence --key unknown", exitError, "evidence", file, "--sandbox", "-o", filepath.Join(t.TempDir(), "none"), "--key", "nobody")
		if !strings.Contains(stderr, "no row sent among the rows selected") || !strings.Contains(stderr, "pecbatch status") {
			t.Errorf("evidence --key nobody says:\n%s", stderr)
		}
	})

	t.Run("pdf", func(t *testing.T) { //nolint:paralleltest // see above
		// One A4 page per row, whatever its outcome: the multi-receipt
		// rows (slow, expire) are the longest.
		pages := regexp.MustCompile(`/Type\s*/Page\b`)
		for _, f := range folders {
			pdf := filepath.Join(t.TempDir(), f+".pdf")
			res := testutil.ChromiumPDF(t, filepath.Join(pack, f, "attestazione.html"), pdf)
			if len(res.Console) > 0 {
				t.Errorf("%s: the page logged console messages:\n%s", f, strings.Join(res.Console, "\n"))
			}
			b, err := os.ReadFile(pdf)
			if err != nil || !bytes.HasPrefix(b, []byte("%PDF-")) {
				t.Fatalf("%s: no PDF written (%v)", f, err)
			}
			if n := len(pages.FindAll(b, -1)); n != 1 {
				t.Errorf("%s/attestazione.html prints to %d pages, want 1", f, n)
			}
		}
	})

	// Last, as it changes the pack: one byte of one attachment.
	t.Run("verify after a change", func(t *testing.T) { //nolint:paralleltest // see above
		changed := filepath.Join(pack, "4-casella@slow.sandbox.test", "allegati", esitiAttachment)
		b := slices.Clone(attachment)
		b[len(b)/2] ^= 1
		if err := os.WriteFile(changed, b, 0o600); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, code := pecbatch(t, "evidence", "verify", pack)
		if code != exitError {
			t.Fatalf("verify after a change: exit %d, want %d\n%s%s", code, exitError, stdout, stderr)
		}
		if stdout != "changed: 4-casella@slow.sandbox.test/allegati/"+esitiAttachment+"\n" {
			t.Errorf("verify after a change says:\n%s", stdout)
		}
		if !strings.Contains(stderr, "1 changed, 0 missing") {
			t.Errorf("verify after a change: stderr\n%s", stderr)
		}
	})

	// The campaign's attachment changes after the send: the pack says so
	// and holds no message, never one that was not sent.
	t.Run("campaign changed after send", func(t *testing.T) { //nolint:paralleltest // see above
		if err := os.WriteFile(filepath.Join(dir, esitiAttachment), []byte("%PDF-1.4 another document\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "pack")
		_, stderr := run("evidence after a change", exitOK, "evidence", file, "--sandbox", "-o", out, "--rows", "1")
		if !strings.Contains(stderr, "1 row(s) changed since they were sent (rows 1)") {
			t.Errorf("evidence does not warn of the change:\n%s", stderr)
		}
		row := filepath.Join(out, "1-consegna@pec.sandbox.test")
		for _, gone := range []string{"oggetto.txt", "corpo.html", "allegati"} {
			if _, err := os.Stat(filepath.Join(row, gone)); err == nil {
				t.Errorf("%s is in the pack of a row whose files changed after the send", gone)
			}
		}
		note, err := os.ReadFile(filepath.Join(row, "NON-CORRISPONDE.txt"))
		if err != nil || !bytes.HasPrefix(note, []byte("IL MESSAGGIO INVIATO NON È IN QUESTA CARTELLA")) {
			t.Errorf("NON-CORRISPONDE.txt: %v\n%s", err, note)
		}
		page, err := os.ReadFile(filepath.Join(row, "attestazione.html"))
		if err != nil || !bytes.Contains(page, []byte("I file della campagna sono cambiati dopo l'invio")) {
			t.Errorf("attestazione.html does not say the files changed (%v)", err)
		}
		if _, err := os.Stat(filepath.Join(row, "ricevuta-02-CONSEGNA.txt")); err != nil {
			t.Errorf("the receipts are not in the pack of a changed row: %v", err)
		}
		run("verify", exitOK, "evidence", "verify", out)
	})
}

// TestEvidenceEsitiSigned runs the esiti example as it is, reading the
// sandbox's mailbox over IMAP, with a row added on badsig.sandbox.test,
// and makes its evidence pack: every delivered recipient has its signed
// CONSEGNA as an .eml whose signature the attestazione calls valid, the
// altered one is called not valid, and `evidence verify` names an .eml
// changed by one byte.
func TestEvidenceEsitiSigned(t *testing.T) {
	t.Parallel()
	csv, err := os.ReadFile(filepath.Join(examplesDir, "esiti", "destinatari.csv"))
	if err != nil {
		t.Fatal(err)
	}
	csv = append(csv, "casella@badsig.sandbox.test,delivered,\"a CONSEGNA whose signature does not verify\"\n"...)
	file := esitiWithAttachment(t, true, string(csv))
	if _, stderr, code := pecbatch(t, "run", file, "--sandbox", "--yes"); code != exitRowsFailed {
		t.Fatalf("run: exit %d, want %d\n%s", code, exitRowsFailed, stderr)
	}
	pack := filepath.Join(filepath.Dir(file), "pack")
	if _, stderr, code := pecbatch(t, "evidence", file, "--sandbox", "-o", pack); code != exitOK {
		t.Fatalf("evidence: exit %d\n%s", code, stderr)
	}
	for _, c := range []struct{ folder, addr, signature string }{
		{"1-consegna@pec.sandbox.test", "consegna@pec.sandbox.test", "firma valida (catena verificata)"},
		{"4-casella@slow.sandbox.test", "casella@slow.sandbox.test", "firma valida (catena verificata)"},
		{"9-casella@badsig.sandbox.test", "casella@badsig.sandbox.test", "FIRMA NON VALIDA"},
	} {
		emls, err := filepath.Glob(filepath.Join(pack, c.folder, "ricevute", "[0-9][0-9]-CONSEGNA-"+c.addr+".eml"))
		if err != nil || len(emls) != 1 {
			t.Errorf("%s: signed CONSEGNA files %q (%v), want one", c.folder, emls, err)
			continue
		}
		eml, err := os.ReadFile(emls[0])
		if err != nil || !bytes.Contains(eml, []byte("X-Ricevuta: avvenuta-consegna")) ||
			!bytes.Contains(eml, []byte("application/pkcs7-signature")) {
			t.Errorf("%s is not a signed delivery receipt (%v):\n%.400s", emls[0], err, eml)
		}
		page, err := os.ReadFile(filepath.Join(pack, c.folder, "attestazione.html"))
		if err != nil || !bytes.Contains(page, []byte(c.signature)) || !bytes.Contains(page, []byte(filepath.Base(emls[0]))) {
			t.Errorf("%s/attestazione.html does not name %s with %q (%v)", c.folder, filepath.Base(emls[0]), c.signature, err)
		}
	}
	if stdout, stderr, code := pecbatch(t, "evidence", "verify", pack); code != exitOK {
		t.Fatalf("verify: exit %d\n%s%s", code, stdout, stderr)
	}
	emls, err := filepath.Glob(filepath.Join(pack, "1-consegna@pec.sandbox.test", "ricevute", "*-CONSEGNA-*.eml"))
	if err != nil || len(emls) != 1 {
		t.Fatalf("row 1's signed CONSEGNA: %q (%v)", emls, err)
	}
	b, err := os.ReadFile(emls[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(emls[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := pecbatch(t, "evidence", "verify", pack)
	if want := "changed: 1-consegna@pec.sandbox.test/ricevute/" + filepath.Base(emls[0]) + "\n"; code != exitError || stdout != want {
		t.Errorf("verify after one byte of a receipt changed: exit %d, stdout %q, want %d and %q\n%s", code, stdout, exitError, want, stderr)
	}
}
