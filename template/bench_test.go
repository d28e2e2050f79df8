package template

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkRenderHTMLBody renders the ~1 KB payment reminder of the shared
// benchmark workload (../shared/bench/body.template.html translated to this
// package's syntax) for one row, as preflight and the runner do per row.
func BenchmarkRenderHTMLBody(b *testing.B) {
	src, err := os.ReadFile(filepath.Join("testdata", "bench-body.html"))
	if err != nil {
		b.Fatal(err)
	}
	h, err := ParseHTML("bench-body.html", string(src))
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := h.Execute(&buf, benchRow, testLimit); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(buf.Len()))
}

// BenchmarkRenderSubject renders the subject line of the same workload.
func BenchmarkRenderSubject(b *testing.B) {
	tx, err := ParseText("subject", "Sollecito di pagamento fattura {{.numero}}")
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := tx.Execute(&buf, benchRow, testLimit); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEuro(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := euro("12345,07"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := date("2 January 2006", "31/12/2026"); err != nil {
			b.Fatal(err)
		}
	}
}
