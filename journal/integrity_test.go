package journal

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// externalIntegrityCheck runs `PRAGMA integrity_check` on the closed
// journal at path with the SQLite of the system, as a user checking a
// journal with standard tools would, and returns its answer ("ok" when
// intact) and that SQLite's version.
func externalIntegrityCheck(t *testing.T, path string) (result, version string) {
	t.Helper()
	if py, err := exec.LookPath("python3"); err == nil {
		const script = `import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
print(sqlite3.sqlite_version)
print("\n".join(r[0] for r in c.execute("pragma integrity_check").fetchall()))`
		return splitCheck(t, runTool(t, py, "-c", script, path))
	}
	if cli, err := exec.LookPath("sqlite3"); err == nil {
		return splitCheck(t, runTool(t, cli, path, "select sqlite_version()", "pragma integrity_check"))
	}
	t.Fatal("neither python3 nor sqlite3 is on PATH: install python3 or sqlite3 " +
		"(Debian: apt-get install python3 sqlite3); this test checks journals with the system's SQLite")
	return "", ""
}

func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v: %s", name, err, errOut.String())
	}
	return out.String()
}

func splitCheck(t *testing.T, out string) (string, string) {
	t.Helper()
	version, result, ok := strings.Cut(strings.TrimSpace(out), "\n")
	if !ok {
		t.Fatalf("unexpected output of the integrity check: %q", out)
	}
	return strings.TrimSpace(result), strings.TrimSpace(version)
}

// before345 reports whether an SQLite version is older than 3.45, whose
// json_valid(NULL) is 0 rather than NULL.
func before345(version string) bool {
	var major, minor int
	if _, err := fmt.Sscanf(version, "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major < 3 || (major == 3 && minor < 45)
}

// TestIntegrityWithSystemSQLite: a fresh journal and one used through
// every kind of write pass `PRAGMA integrity_check` in the system's SQLite
// (3.40 on Debian 12), not only in the bundled one.
func TestIntegrityWithSystemSQLite(t *testing.T) {
	ctx := context.Background()
	t.Run("fresh", func(t *testing.T) {
		j, _, path := openTest(t)
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		if res, v := externalIntegrityCheck(t, path); res != "ok" {
			t.Errorf("integrity_check with SQLite %s: %s", v, res)
		}
	})
	t.Run("used", func(t *testing.T) {
		j, c, path := initTest(t, 5)
		ids := make([]int64, 5)
		for i := range ids {
			ids[i] = mustRow(t, j.Reader, newRow(i).Key).ID
		}
		submit(t, j, ids[0], "PM0")
		submit(t, j, ids[1], "PM1")
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(j.MarkSending(ctx, ids[2]))
		must(j.MarkRejected(ctx, ids[2], "destinatario non valido"))
		must(j.MarkSending(ctx, ids[3]))
		must(j.MarkUnknown(ctx, ids[3], "timeout"))
		must(j.MarkSending(ctx, ids[4]))
		must(j.MarkNotSent(ctx, ids[4], "429"))
		must(j.AddEvent(ctx, "run_start", nil))
		c.Advance(time.Minute)
		addr := newRow(0).Recipients[0]
		del := receipt("delivery", "Mon, 2 Mar 2026 10:00:05 +0000", addr)
		_, err := j.ApplyReceipts(ctx, ids[0], []Receipt{receipt("acceptance", "x", ""), del, del},
			[]Outcome{{Address: addr, State: RecipientDelivered}})
		must(err)
		must(j.MarkReceiptsDeleted(ctx, ids[0]))
		must(j.RecordPoll(ctx, ids[1], c.Now().Add(time.Hour)))
		must(j.Close())
		if res, v := externalIntegrityCheck(t, path); res != "ok" {
			t.Errorf("integrity_check with SQLite %s: %s", v, res)
		}
	})
}

// TestMigratedJournalIntegrity: a journal written by the old schema (v2,
// events without detail, receipts) fails the system's integrity_check when
// that SQLite is older than 3.45, and passes it once migrated.
func TestMigratedJournalIntegrity(t *testing.T) {
	ctx := context.Background()
	path, db := writeV1(t)
	c := newClock()
	if err := migrateTo(ctx, db, migrateEnv{now: func() int64 { return c.Now().UnixMilli() }}, 2); err != nil {
		t.Fatal(err)
	}
	packed := receiptContent{"posta-certificata@pec.it", "ufficio@pec.example.it", "CONSEGNA: s1", "body"}.pack()
	for _, stmt := range []string{
		`INSERT INTO events (at, row_id, kind, detail) VALUES (1700000002000, 1, 'submitted', NULL)`,
		`INSERT INTO receipts (row_id, kind, date_text, addressee, date, error_text, content, dict_id, archived_at)
		 VALUES (1, 'delivery', 'd1', 'uno@pec.it', 1700000003000, '', X'` + hex.EncodeToString(packed) + `', NULL, 1700000004000)`,
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	db.Close()
	if res, v := externalIntegrityCheck(t, path); before345(v) && res == "ok" {
		t.Errorf("the v2 journal passed integrity_check with SQLite %s: the test does not reproduce the bug", v)
	}

	j, err := Open(ctx, path, WithNow(c.Now))
	if err != nil {
		t.Fatal(err)
	}
	a := mustRow(t, j.Reader, "a")
	stored, err := j.Receipts(ctx, a.ID)
	if err != nil || len(stored) != 1 || stored[0].Occurrence != 1 || stored[0].Body != "body" {
		t.Fatalf("receipts after migration = %+v, %v", stored, err)
	}
	// The archived receipt is occurrence 1: an answer listing it twice adds one.
	rc := Receipt{Kind: "delivery", DateText: "d1", Addressee: "uno@pec.it", Body: "body"}
	res, err := j.ApplyReceipts(ctx, a.ID, []Receipt{rc, rc}, nil)
	if err != nil || res.NewReceipts != 1 {
		t.Fatalf("ApplyReceipts after migration = %+v, %v", res, err)
	}
	if len(j.ID()) != 32 {
		t.Errorf("migrated journal id = %q", j.ID())
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if res, v := externalIntegrityCheck(t, path); res != "ok" {
		t.Errorf("integrity_check of the migrated journal with SQLite %s: %s", v, res)
	}
}
