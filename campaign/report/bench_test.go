package report

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/journal"
)

// BenchmarkReportCSV100k measures `pecbatch report` on big campaigns: the
// CSV of a 100,000-row journal written to a file (the command's path), the
// same with --excel, a 10,000-row journal to show that memory does not grow
// with the campaign, the CSV writer alone on 100,000 fully timestamped
// lines, and the HTML page of the 100,000-row journal. Each reports the
// peak heap of one export (peak-heap-MB).
//
// The journals are built once: 1,000 rows go through every state by real
// journal transitions (each a synced transaction, which is what makes
// building slow), the rest stay pending.
func BenchmarkReportCSV100k(b *testing.B) {
	ctx := b.Context()
	dir := b.TempDir()
	open := func(n int) *journal.Reader {
		path := filepath.Join(dir, fmt.Sprintf("j%d.journal.db", n))
		buildReportJournal(b, path, n, 1000)
		r, err := journal.OpenReadOnly(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { r.Close() })
		return r
	}
	big, small := open(100_000), open(10_000)
	out := filepath.Join(dir, "out")

	for _, tc := range []struct {
		name string
		r    *journal.Reader
		opts Options
	}{
		{"journal-100k", big, Options{}},
		{"journal-100k-excel", big, Options{Excel: true}},
		{"journal-10k", small, Options{}},
		{"journal-100k-html", big, Options{Format: HTML}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			export := func() {
				if _, err := Save(ctx, tc.r, out, tc.opts); err != nil {
					b.Fatal(err)
				}
			}
			peak := peakHeap(export)
			b.ReportAllocs()
			for b.Loop() {
				export()
			}
			b.ReportMetric(float64(peak)/1e6, "peak-heap-MB")
			if fi, err := os.Stat(out); err == nil {
				b.ReportMetric(float64(fi.Size())/1e6, "file-MB")
			}
		})
	}

	b.Run("writer-100k", func(b *testing.B) {
		// 100,000 lines with every field set: the cost of formatting and
		// writing alone, without SQLite.
		base := time.Date(2025, 3, 2, 9, 0, 0, 0, time.UTC)
		rows := func(yield func(Row, error) bool) {
			for i := range 100_000 {
				t := base.Add(time.Duration(i) * time.Second)
				if !yield(Row{RowID: int64(i + 1), Row: i + 1, Key: fmt.Sprintf("K%06d", i+1),
					Recipient: fmt.Sprintf("destinatario%d@pec.example.it", i+1), Subject: "Sollecito di pagamento fattura 123",
					MessageID: fmt.Sprintf("PM%08d", i+1), State: "delivered", SubmittedAt: t, AcceptedAt: t.Add(time.Second),
					DeliveredAt: t.Add(4 * time.Second), Receipts: 2}, nil) {
					return
				}
			}
		}
		export := func() {
			f, err := os.Create(out)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			if err := WriteData(ctx, &Data{Campaign: "bench", Rows: rows}, f, Options{}); err != nil {
				b.Fatal(err)
			}
		}
		peak := peakHeap(export)
		b.ReportAllocs()
		for b.Loop() {
			export()
		}
		b.ReportMetric(float64(peak)/1e6, "peak-heap-MB")
	})
}

// peakHeap runs f once and returns the largest heap (live objects and not
// yet collected garbage) seen while it ran, above the heap before it.
func peakHeap(f func()) uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	base := s[0].Value.Uint64()
	done := make(chan struct{})
	result := make(chan uint64)
	go func() {
		var peak uint64
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			select {
			case <-done:
				result <- peak
				return
			case <-tick.C:
				metrics.Read(s)
				peak = max(peak, s[0].Value.Uint64())
			}
		}
	}()
	f()
	close(done)
	peak := <-result
	if peak < base {
		return 0
	}
	return peak - base
}
