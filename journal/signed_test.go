package journal

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// signedFor builds a signed receipt of send code whose raw bytes are raw.
func signedFor(code, kind string, uid uint32, raw string) SignedReceipt {
	h := sha256.Sum256([]byte(raw))
	return SignedReceipt{
		Code: code, UIDValidity: 7, UID: uid, SHA256: hex.EncodeToString(h[:]), Raw: []byte(raw),
		Subject: "CONSEGNA: Sollecito " + code, Kind: kind, HasDaticert: true,
		Tipo: kind, Consegna: "Dest0@PEC.example.it", Identificativo: "opec.1@pec.example.it", MsgID: "<m1@pec.example.it>",
		Data:      time.Date(2026, 3, 2, 10, 0, 5, 0, time.FixedZone("CET", 3600)),
		Signature: SignatureValid, Signer: "CN=Posta Certificata", Agrees: true,
	}
}

func TestAddSignedReceipts(t *testing.T) {
	ctx := t.Context()
	j, c, _ := initTest(t, 2)
	row0 := mustRow(t, j.Reader, newRow(0).Key)
	submit(t, j, row0.ID, "PM0")
	// Bytes as fetched: CRLF, a bare CR and an invalid UTF-8 byte survive.
	raw := "Subject: CONSEGNA: Sollecito PM0\r\nX-Ricevuta: avvenuta-consegna\r\n\r\nbody\r\r\n\xff\x00end"
	good := signedFor("PM0", "avvenuta-consegna", 3, raw)
	broken := signedFor("PM0", "avvenuta-consegna", 4, raw+"x")
	broken.Signature, broken.SignatureDetail = SignatureInvalid, "content altered"
	disagrees := signedFor("PM0", "errore-consegna", 5, raw+"y")
	disagrees.Agrees = false
	foreign := signedFor("PM9", "avvenuta-consegna", 6, raw+"z")
	noCode := signedFor("", "accettazione", 7, raw+"w")

	added, err := j.AddSignedReceipts(ctx, []SignedReceipt{good, broken, disagrees, foreign, noCode}, SignedCursor{7, 7}, time.Time{})
	if err != nil || added != 3 {
		t.Fatalf("AddSignedReceipts = %d, %v; want 3 (not the foreign code, not the one without code)", added, err)
	}
	c.Advance(time.Minute)
	// The same messages fetched again (a UIDVALIDITY change) are stored once.
	again := good
	again.UIDValidity, again.UID = 8, 1
	added, err = j.AddSignedReceipts(ctx, []SignedReceipt{again}, SignedCursor{8, 1}, time.Time{})
	if err != nil || added != 0 {
		t.Fatalf("AddSignedReceipts of the same message = %d, %v; want 0", added, err)
	}
	if cur, err := j.SignedCursor(ctx); err != nil || cur != (SignedCursor{8, 1}) {
		t.Fatalf("SignedCursor = %+v, %v", cur, err)
	}

	stored, err := j.SignedReceiptsFor(ctx, row0.ID)
	if err != nil || len(stored) != 3 {
		t.Fatalf("SignedReceiptsFor = %d, %v", len(stored), err)
	}
	got := stored[0]
	if got.SHA256 != good.SHA256 || got.UID != 3 || got.UIDValidity != 7 || got.Consegna != good.Consegna ||
		!got.Data.Equal(good.Data) || got.Signature != SignatureValid || !got.Agrees || !got.Usable() || got.Raw != nil ||
		got.RowID != row0.ID || got.MsgID != good.MsgID || !got.FetchedAt.Equal(newClock().Now()) {
		t.Errorf("stored receipt = %+v", got)
	}
	if stored[1].Usable() || stored[2].Usable() {
		t.Errorf("a broken signature or a disagreeing daticert is usable: %+v", stored[1:])
	}
	back, err := j.SignedReceiptRaw(ctx, strings.ToUpper(good.SHA256))
	if err != nil || string(back) != raw {
		t.Fatalf("SignedReceiptRaw = %q, %v; want the bytes as fetched", back, err)
	}
	if _, err := j.SignedReceiptRaw(ctx, foreign.SHA256); !errors.Is(err, ErrNotFound) {
		t.Errorf("raw of a receipt not stored: %v, want ErrNotFound", err)
	}
	// Another part of the code finalised the recipient as failed: the
	// signed delivery is recorded as a conflict, once, never applied.
	addr := newRow(0).Recipients[0]
	if _, err := j.ApplyReceipts(ctx, row0.ID, nil, []Outcome{{Address: addr, State: RecipientFailed, Error: "x"}}); err != nil {
		t.Fatal(err)
	}
	for want := range []int{1, 0} {
		res, err := j.ApplySignedOutcomes(ctx, row0.ID, []SignedOutcome{{Outcome: Outcome{Address: strings.ToUpper(addr),
			State: RecipientDelivered}, SHA256: good.SHA256}})
		if err != nil || res.Conflicts != 1-want || res.State != StateFailed {
			t.Fatalf("ApplySignedOutcomes on a final recipient = %+v, %v; want %d conflict, failed kept", res, err, 1-want)
		}
	}
	cs, n, err := j.SignedConflicts(ctx, 10)
	if err != nil || n != 1 || len(cs) != 1 || cs[0].Address != strings.ToLower(addr) || cs[0].State != RecipientFailed ||
		cs[0].Signed != RecipientDelivered || cs[0].SHA256 != good.SHA256 || cs[0].RowNumber != row0.RowNumber {
		t.Errorf("SignedConflicts = %+v, %d, %v", cs, n, err)
	}
	if s, err := j.SignedSummary(ctx); err != nil || s != (SignedSummary{Stored: 3, Problems: 2, Conflicts: 1}) {
		t.Errorf("SignedSummary = %+v, %v", s, err)
	}

	t.Run("hash mismatch writes nothing", func(t *testing.T) {
		bad := signedFor("PM0", "avvenuta-consegna", 9, "other")
		bad.Raw = []byte("tampered")
		if _, err := j.AddSignedReceipts(ctx, []SignedReceipt{signedFor("PM0", "accettazione", 8, "fine"), bad}, SignedCursor{8, 9}, time.Time{}); err == nil {
			t.Fatal("a receipt whose hash is not its bytes' was accepted")
		}
		if cur, _ := j.SignedCursor(ctx); cur != (SignedCursor{8, 1}) {
			t.Errorf("cursor moved to %+v by a refused fetch", cur)
		}
		if s, _ := j.SignedSummary(ctx); s.Stored != 3 {
			t.Errorf("a refused fetch stored %d receipts", s.Stored-3)
		}
	})
	t.Run("append-only", func(t *testing.T) {
		for _, stmt := range []string{
			"UPDATE signed_receipts SET consegna = 'x@pec.it'",
			"UPDATE signed_receipts SET raw = X'00'",
			"DELETE FROM signed_receipts",
		} {
			if _, err := j.db.ExecContext(ctx, stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: %v, want the append-only trigger", stmt, err)
			}
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestSignedReceiptOfRetriedAttempt: a receipt of an attempt a retry
// closed still belongs to its row.
func TestSignedReceiptOfRetriedAttempt(t *testing.T) {
	ctx := t.Context()
	j, _, _ := initTest(t, 1)
	row := mustRow(t, j.Reader, newRow(0).Key)
	submit(t, j, row.ID, "PM-old")
	addr := newRow(0).Recipients[0]
	if _, err := j.ApplyReceipts(ctx, row.ID, nil, []Outcome{{Address: addr, State: RecipientFailed, Error: "5.1.1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Retry(ctx, row.ID, ""); err != nil {
		t.Fatal(err)
	}
	submit(t, j, row.ID, "PM-new")
	old := signedFor("PM-old", "errore-consegna", 1, "old")
	cur := signedFor("PM-new", "avvenuta-consegna", 2, "new")
	if n, err := j.AddSignedReceipts(ctx, []SignedReceipt{old, cur}, SignedCursor{1, 2}, time.Time{}); err != nil || n != 2 {
		t.Fatalf("AddSignedReceipts = %d, %v; want both stored", n, err)
	}
	stored, err := j.SignedReceiptsFor(ctx, row.ID)
	if err != nil || len(stored) != 2 || stored[0].Code != "PM-old" || stored[1].Code != "PM-new" {
		t.Fatalf("SignedReceiptsFor = %+v, %v", stored, err)
	}
}

// TestSignedReceiptExtractWithSQLiteTool: the command docs/journal.md gives
// writes the .eml byte for byte with the system's tools.
func TestSignedReceiptExtractWithSQLiteTool(t *testing.T) {
	ctx := t.Context()
	j, _, path := initTest(t, 1)
	row := mustRow(t, j.Reader, newRow(0).Key)
	submit(t, j, row.ID, "PM0")
	raw := "Subject: CONSEGNA: x PM0\r\n\r\n\xff\x00\r\nbinary"
	s := signedFor("PM0", "avvenuta-consegna", 1, raw)
	if _, err := j.AddSignedReceipts(ctx, []SignedReceipt{s}, SignedCursor{1, 1}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	must(t, j.Close())
	out := filepath.Join(t.TempDir(), "ricevuta.eml")
	query := "SELECT writefile('" + out + "', raw) FROM signed_receipts WHERE sha256 = '" + s.SHA256 + "'"
	if cli, err := exec.LookPath("sqlite3"); err == nil {
		runTool(t, cli, path, query)
	} else {
		py, err := exec.LookPath("python3")
		if err != nil {
			t.Fatal("neither sqlite3 nor python3 is on PATH: install one (Debian: apt-get install sqlite3)")
		}
		const script = `import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
open(sys.argv[2], "wb").write(c.execute("select raw from signed_receipts where sha256 = ?", (sys.argv[3],)).fetchone()[0])`
		runTool(t, py, "-c", script, path, out, s.SHA256)
	}
	got, err := os.ReadFile(out)
	if err != nil || string(got) != raw {
		t.Fatalf("extracted %q, %v; want the bytes as fetched", got, err)
	}
	if res, v := externalIntegrityCheck(t, path); res != "ok" {
		t.Errorf("integrity_check with SQLite %s: %s", v, res)
	}
}
