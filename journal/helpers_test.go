package journal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"iter"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// clock is a manual clock for deterministic timestamps.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func testFingerprint() Fingerprint {
	return Fingerprint{
		"campaign file":      sum("campaign"),
		"recipients.csv":     sum("csv"),
		"template body.html": sum("body"),
	}
}

func testMeta() Meta {
	return Meta{
		Campaign:    "solleciti marzo",
		Endpoint:    "sandbox:builtin",
		Sender:      "ufficio@pec.example.it",
		Fingerprint: testFingerprint(),
	}
}

func newRow(i int) NewRow {
	return NewRow{
		Key:           fmt.Sprintf("K%06d", i),
		RowNumber:     i + 1,
		Recipients:    []string{fmt.Sprintf("Dest%d@PEC.example.it", i)},
		Subject:       fmt.Sprintf("Sollecito di pagamento fattura %d", i),
		ContentSHA256: sum(fmt.Sprintf("content %d", i)),
	}
}

func genRows(n int) iter.Seq2[NewRow, error] {
	return func(yield func(NewRow, error) bool) {
		for i := range n {
			if !yield(newRow(i), nil) {
				return
			}
		}
	}
}

// openTest opens a fresh journal in a temp dir with a manual clock and
// closes it at the end of the test.
func openTest(t testing.TB) (*Journal, *clock, string) {
	t.Helper()
	c := newClock()
	path := filepath.Join(t.TempDir(), "campaign.journal")
	j, err := Open(context.Background(), path, WithNow(c.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j, c, path
}

// initTest opens a journal holding n rows.
func initTest(t testing.TB, n int) (*Journal, *clock, string) {
	t.Helper()
	j, c, path := openTest(t)
	if _, err := j.Init(context.Background(), testMeta(), genRows(n)); err != nil {
		t.Fatal(err)
	}
	return j, c, path
}

func mustRow(t testing.TB, r *Reader, key string) Row {
	t.Helper()
	row, err := r.RowByKey(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return row
}

// submit takes a pending row to submitted with message id code.
func submit(t testing.TB, j *Journal, id int64, code string) {
	t.Helper()
	ctx := context.Background()
	if err := j.MarkSending(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := j.MarkSubmitted(ctx, id, code); err != nil {
		t.Fatal(err)
	}
}

func collect[T any](t testing.TB, seq iter.Seq2[T, error]) []T {
	t.Helper()
	var out []T
	for v, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}
