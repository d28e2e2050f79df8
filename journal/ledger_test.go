package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func openLedgerTest(t *testing.T, path string) *Ledger {
	t.Helper()
	l, err := OpenLedger(context.Background(), path, WithNow(newClock().Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestLedgerClaim(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "dir", "ledger.db")
	l := openLedgerTest(t, path)
	a := ClaimOwner{JournalID: "j-a", JournalPath: "/x/a.journal", RowKey: "K1", Row: 2}
	b := ClaimOwner{JournalID: "j-b", JournalPath: "/x/b.journal", RowKey: "K1", Row: 2}
	moved := a
	moved.JournalPath = "/y/a.journal"
	otherRow := a
	otherRow.RowKey = "K2"
	tests := []struct {
		name    string
		id      string
		owner   ClaimOwner
		claimed bool // want a *ClaimedError naming a
	}{
		{"first claim", "M1", a, false},
		{"same owner again", "M1", a, false},
		{"same owner, journal moved", " M1 ", moved, false},
		{"another journal", "M1", b, true},
		{"another row of the same journal", "M1", otherRow, true},
		{"another message", "M2", b, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := l.Claim(ctx, tt.id, tt.owner)
			var ce *ClaimedError
			switch {
			case !tt.claimed && err != nil:
				t.Fatalf("Claim = %v", err)
			case tt.claimed && (!errors.As(err, &ce) || !errors.Is(err, ErrClaimed) || ce.Owner != a || ce.MessageID != "M1"):
				t.Fatalf("Claim = %v, want a *ClaimedError naming %+v", err, a)
			case tt.claimed && !strings.Contains(err.Error(), "/x/a.journal"):
				t.Errorf("message does not name the holder's journal: %v", err)
			}
		})
	}
	for _, bad := range []struct {
		id    string
		owner ClaimOwner
	}{{"", a}, {" ", a}, {"M3", ClaimOwner{RowKey: "K"}}, {"M3", ClaimOwner{JournalID: "j"}}} {
		if err := l.Claim(ctx, bad.id, bad.owner); err == nil {
			t.Errorf("Claim(%q, %+v) accepted", bad.id, bad.owner)
		}
	}
	if o, ok, err := l.Owner(ctx, "M1"); err != nil || !ok || o != a {
		t.Errorf("Owner(M1) = %+v %v %v, want %+v", o, ok, err, a)
	}
	if _, ok, err := l.Owner(ctx, "M9"); err != nil || ok {
		t.Errorf("Owner(M9) = %v %v, want not claimed", ok, err)
	}
	got, err := l.ClaimedAmong(ctx, []string{"M2", "M9", "M1", " M1"})
	if err != nil || len(got) != 2 || got["M1"] != a || got["M2"] != b {
		t.Errorf("ClaimedAmong = %v, %v", got, err)
	}
	if got, err := l.ClaimedAmong(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("ClaimedAmong(nil) = %v, %v", got, err)
	}

	// Claims survive a reopen and cannot be changed by SQL either.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := openLedgerTest(t, path)
	if o, ok, err := l2.Owner(ctx, "M1"); err != nil || !ok || o != a {
		t.Errorf("Owner(M1) after reopen = %+v %v %v", o, ok, err)
	}
	if err := l2.Claim(ctx, "M1", b); !errors.Is(err, ErrClaimed) {
		t.Errorf("Claim by b after reopen = %v", err)
	}
	for _, stmt := range []string{"UPDATE claims SET journal_id = 'j-b'", "DELETE FROM claims"} {
		if _, err := l2.db.Exec(stmt); err == nil || !strings.Contains(err.Error(), "a claim never changes") {
			t.Errorf("%s: %v", stmt, err)
		}
	}
}

// TestLedgerConcurrentClaims: two processes' worth of connections (two
// Ledgers on one file) race for the same ids; each id has exactly one
// winner, and the loser is told who won.
func TestLedgerConcurrentClaims(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	ledgers := []*Ledger{openLedgerTest(t, path), openLedgerTest(t, path)}
	const n = 40
	errs := make([][]error, 2)
	var wg sync.WaitGroup
	for g := range ledgers {
		errs[g] = make([]error, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := ClaimOwner{JournalID: fmt.Sprintf("journal-%d", g), RowKey: "K"}
			for i := range n {
				errs[g][i] = ledgers[g].Claim(ctx, fmt.Sprintf("M%d", i), owner)
			}
		}()
	}
	wg.Wait()
	for i := range n {
		var winners []int
		for g := range ledgers {
			var ce *ClaimedError
			switch err := errs[g][i]; {
			case err == nil:
				winners = append(winners, g)
			case !errors.As(err, &ce) || ce.Owner.JournalID != fmt.Sprintf("journal-%d", 1-g):
				t.Errorf("M%d, ledger %d: %v", i, g, err)
			}
		}
		if len(winners) != 1 {
			t.Errorf("M%d: winners %v, want exactly one", i, winners)
		}
		o, ok, err := ledgers[0].Owner(ctx, fmt.Sprintf("M%d", i))
		if err != nil || !ok || (len(winners) == 1 && o.JournalID != fmt.Sprintf("journal-%d", winners[0])) {
			t.Errorf("M%d: owner %+v %v %v, winners %v", i, o, ok, err, winners)
		}
	}
}

func TestOpenLedgerRefusesOtherFiles(t *testing.T) {
	ctx := context.Background()
	j, _, journalPath := openTest(t)
	j.Close()
	if _, err := OpenLedger(ctx, journalPath); !errors.Is(err, ErrNotJournal) {
		t.Errorf("OpenLedger on a journal: %v, want ErrNotJournal", err)
	}
	path := filepath.Join(t.TempDir(), "ledger.db")
	l := openLedgerTest(t, path)
	if _, err := l.db.Exec(fmt.Sprintf("PRAGMA user_version = %d", ledgerVersion+1)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if _, err := OpenLedger(ctx, path); !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("OpenLedger on a newer ledger: %v, want ErrSchemaTooNew", err)
	}
	if _, err := Open(ctx, path); !errors.Is(err, ErrNotJournal) {
		t.Errorf("Open on a ledger: %v, want ErrNotJournal", err)
	}
}

func TestDefaultLedgerPath(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir) // Linux
	t.Setenv("HOME", dir)            // macOS
	t.Setenv("AppData", dir)         // Windows
	p1, err := DefaultLedgerPath("Ufficio@PEC.example.it")
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := DefaultLedgerPath(" ufficio@pec.example.it ")
	p3, _ := DefaultLedgerPath("altro@pec.example.it")
	if p1 != p2 || p1 == p3 {
		t.Errorf("paths %s %s %s: want the same for one mailbox in any case, another for another", p1, p2, p3)
	}
	if filepath.Dir(filepath.Dir(filepath.Dir(p1))) == "" || filepath.Base(filepath.Dir(p1)) != "ledger" ||
		filepath.Base(filepath.Dir(filepath.Dir(p1))) != "pecbatch" || len(filepath.Base(p1)) != 16+len(".db") ||
		strings.Contains(p1, "ufficio") {
		t.Errorf("path %s: want <config>/pecbatch/ledger/<16 hex>.db without the address", p1)
	}
	if _, err := DefaultLedgerPath(" "); err == nil {
		t.Error("empty mailbox accepted")
	}
}

// TestJournalID: a new journal draws its id from the injected randomness
// once; reopening, and reading, give the same id; a second journal differs.
func TestJournalID(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.journal")
	seed := bytes.Repeat([]byte{0xab}, 16)
	j, err := Open(ctx, path, WithRand(bytes.NewReader(seed)))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Repeat("ab", 16)
	if j.ID() != want {
		t.Errorf("ID = %q, want %q", j.ID(), want)
	}
	j.Close()
	j, err = Open(ctx, path, WithRand(bytes.NewReader(bytes.Repeat([]byte{0xcd}, 16))))
	if err != nil {
		t.Fatal(err)
	}
	if j.ID() != want {
		t.Errorf("ID after reopen = %q, want %q", j.ID(), want)
	}
	if _, err := j.db.Exec("UPDATE identity SET journal_id = ?", strings.Repeat("0", 32)); err == nil {
		t.Error("the id was changed")
	}
	j.Close()
	r, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if r.ID() != want {
		t.Errorf("reader ID = %q, want %q", r.ID(), want)
	}
	r.Close()
	other, _, _ := openTest(t)
	if other.ID() == want || len(other.ID()) != 32 {
		t.Errorf("another journal's ID = %q", other.ID())
	}
	if _, err := Open(ctx, filepath.Join(t.TempDir(), "d.journal"), WithRand(bytes.NewReader(nil))); err == nil {
		t.Error("Open with no randomness succeeded")
	}
}

// TestMessageIDOneRow: within a journal a message id is given to one row
// only, whatever the path: the 201, reconciliation of an unknown row, or
// SQL that bypasses the methods.
func TestMessageIDOneRow(t *testing.T) {
	ctx := context.Background()
	j, _, _ := initTest(t, 3)
	ids := make([]int64, 3)
	for i := range ids {
		ids[i] = mustRow(t, j.Reader, newRow(i).Key).ID
	}
	submit(t, j, ids[0], "M1")
	if err := j.MarkSending(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	if err := j.MarkSubmitted(ctx, ids[1], "M1"); !errors.Is(err, ErrConflict) {
		t.Errorf("201 with a taken id: %v", err)
	}
	if err := j.MarkUnknown(ctx, ids[1], "timeout"); err != nil {
		t.Fatal(err)
	}
	if err := j.MarkSubmitted(ctx, ids[1], " M1 "); !errors.Is(err, ErrConflict) {
		t.Errorf("reconciliation with a taken id: %v", err)
	}
	_, err := j.db.Exec("UPDATE rows SET message_id = 'M1', state = 'submitted' WHERE id = ?", ids[2])
	if !isUniqueViolation(err) {
		t.Errorf("SQL giving a taken id to another row: %v", err)
	}
	var n int
	if err := j.db.QueryRow("SELECT count(*) FROM rows WHERE message_id = 'M1'").Scan(&n); err != nil || n != 1 {
		t.Errorf("%d rows hold M1 (%v)", n, err)
	}
}
