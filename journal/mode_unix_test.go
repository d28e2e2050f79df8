//go:build unix

package journal

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Owner-only modes are a POSIX notion: on Windows the files inherit the
// ACL of their folder (the user's profile), and os.Chmod only sets the
// read-only attribute.

func TestOpenCreatesPrivateFiles(t *testing.T) {
	// A permissive umask must not widen the files: the journal holds
	// addresses and receipts.
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	j, _, path := initTest(t, 3)
	for _, p := range []string{path, path + "-wal", path + "-shm", path + ".lock"} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if perm := st.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s: mode %o, want 600", filepath.Base(p), perm)
		}
	}
	j.Close()
}

func TestOpenTightensMode(t *testing.T) {
	ctx := context.Background()
	j, _, path := initTest(t, 1)
	j.Close()
	for _, p := range []string{path, path + ".lock"} {
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	j, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for _, p := range []string{path, path + ".lock"} {
		st, _ := os.Stat(p)
		if perm := st.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s: mode %o after open, want 600", filepath.Base(p), perm)
		}
	}
}

func TestLedgerPrivateFiles(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "ledger", "m.db")
	l := openLedgerTest(t, path)
	if err := l.Claim(context.Background(), "M1", ClaimOwner{JournalID: "j", RowKey: "K"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if perm := st.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s: mode %o, want 600", filepath.Base(p), perm)
		}
	}
	if st, err := os.Stat(filepath.Dir(path)); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("ledger directory: %v %v, want mode 700", st.Mode(), err)
	}
}
