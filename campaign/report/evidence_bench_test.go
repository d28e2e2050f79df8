package report

import (
	"context"
	"fmt"
	"io/fs"
	"iter"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/journal"
)

// benchEvidenceRows is the size of the campaign BenchmarkEvidence10k packs.
const benchEvidenceRows = 10_000

// benchMessage is row i's message as the campaign renders it: a short HTML
// body and one distinct 20 KB attachment (random bytes, as incompressible
// as a PDF), like the shared workload. The same i gives the same message.
func benchMessage(i int, recipients []string) *campaign.Message {
	pdf := make([]byte, 20<<10)
	_, _ = rand.NewChaCha8([32]byte{byte(i), byte(i >> 8), byte(i >> 16)}).Read(pdf) // never fails
	m := &campaign.Message{Row: i + 1, Key: fmt.Sprintf("K%06d", i+1), Recipients: recipients,
		Subject: fmt.Sprintf("Sollecito di pagamento fattura %d", i+1),
		Body: []byte(fmt.Sprintf("<p>Gentile cliente,</p>\n<p>la fattura n. %d risulta non pagata: la preghiamo di "+
			"provvedere entro 15 giorni. In allegato la fattura.</p>\n<p>Ufficio amministrativo</p>\n", i+1)),
		Attachments: []campaign.Attachment{{Name: fmt.Sprintf("fattura-%d.pdf", i+1), ContentType: "application/pdf", Content: pdf}}}
	m.SHA256 = campaign.ContentHash(m.Recipients, m.Subject, m.Body, m.Attachments)
	return m
}

// buildEvidenceJournal writes a journal of n rows, every one sent and
// tracked to one of the report scenarios' outcomes (none left pending:
// every row is in the pack), each with the content hash of benchMessage.
// It returns the rows' recipients, by row index.
func buildEvidenceJournal(b *testing.B, path string, n int) [][]string {
	b.Helper()
	ctx := b.Context()
	var scen []reportScenario
	for _, s := range reportScenarios() {
		if s.final != journal.StatePending {
			scen = append(scen, s)
		}
	}
	recipients := make([][]string, n)
	for i := range n {
		for _, a := range scen[i%len(scen)].recipients {
			recipients[i] = append(recipients[i], fmt.Sprintf("r%d.%s", i+1, a))
		}
	}
	clk := &reportClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	j, err := journal.Open(ctx, path, journal.WithNow(clk.Now))
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	rows := func(yield func(journal.NewRow, error) bool) {
		for i := range n {
			m := benchMessage(i, recipients[i])
			if !yield(journal.NewRow{Key: m.Key, RowNumber: m.Row, Recipients: m.Recipients, Subject: m.Subject, ContentSHA256: m.SHA256}, nil) {
				return
			}
		}
	}
	meta := journal.Meta{Campaign: "solleciti-marzo", Endpoint: "sandbox:builtin", Sender: "ufficio@pec.example.it",
		Fingerprint: journal.Fingerprint{"campaign file": strings.Repeat("ab", 32)}}
	if _, err := j.Init(ctx, meta, rows); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		row, err := j.RowByKey(ctx, fmt.Sprintf("K%06d", i+1))
		if err != nil {
			b.Fatal(err)
		}
		s := scen[i%len(scen)]
		if err := playReportScenario(ctx, j, clk, row, s, i); err != nil {
			b.Fatalf("row %d: %v", i+1, err)
		}
	}
	return recipients
}

// BenchmarkEvidence10k measures `pecbatch evidence` on a 10,000-row
// campaign, every row sent: each row's message rendered again (20 KB
// attachment) and checked against its hash, its receipts, timeline and
// attestazione written, as a folder and as a zip. It reports the pack's
// size (pack-MB), its file count and the peak heap of one pack.
func BenchmarkEvidence10k(b *testing.B) {
	ctx := b.Context()
	dir := b.TempDir()
	path := filepath.Join(dir, "solleciti.journal.db")
	recipients := buildEvidenceJournal(b, path, benchEvidenceRows)
	r, err := journal.OpenReadOnly(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	messages := func(_ context.Context, only func(int) bool) iter.Seq2[*campaign.Message, error] {
		return func(yield func(*campaign.Message, error) bool) {
			for i := range recipients {
				if only != nil && !only(i+1) {
					continue
				}
				if !yield(benchMessage(i, recipients[i]), nil) {
					return
				}
			}
		}
	}
	for _, zip := range []bool{false, true} {
		name := "folder"
		if zip {
			name = "zip"
		}
		b.Run(name, func(b *testing.B) {
			n := 0
			out := func() string { return filepath.Join(dir, fmt.Sprintf("pack-%s-%d", name, n)) }
			pack := func() {
				n++
				res, err := SaveEvidence(ctx, r, out(), EvidenceOptions{Messages: messages, Zip: zip})
				if err != nil || res.Rows != benchEvidenceRows || len(res.Mismatched) != 0 {
					b.Fatalf("SaveEvidence = %d rows, %d mismatched, %v; want %d, 0", res.Rows, len(res.Mismatched), err, benchEvidenceRows)
				}
			}
			peak := peakHeap(pack)
			size, files := packSize(b, out())
			b.ReportAllocs()
			for b.Loop() {
				if err := os.RemoveAll(out()); err != nil {
					b.Fatal(err)
				}
				pack()
			}
			b.ReportMetric(float64(peak)/1e6, "peak-heap-MB")
			b.ReportMetric(float64(size)/1e6, "pack-MB")
			b.ReportMetric(float64(files), "files")
			if err := os.RemoveAll(out()); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// packSize returns the bytes and files of a pack (a folder, or a zip: one
// file).
func packSize(b *testing.B, path string) (size int64, files int) {
	b.Helper()
	err := filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		size += fi.Size()
		files++
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return size, files
}
