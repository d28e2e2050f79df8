package template

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

// testLimit is the limit of the package's ordinary tests: message.max_size's
// default, 30 MB, as campaign passes it.
const testLimit = 30_000_000

// hugeLoop is the template of issue 13: 2 GB of output from one line.
const hugeLoop = `{{range 200000000}}AAAAAAAAAA{{end}}`

// parseBoth returns src parsed as a text and as an HTML template.
func parseBoth(t testing.TB, src string) []Renderer {
	t.Helper()
	tx, err := ParseText("t.txt", src)
	if err != nil {
		t.Fatal(err)
	}
	h, err := ParseHTML("t.html", src)
	if err != nil {
		t.Fatal(err)
	}
	return []Renderer{tx, h}
}

// countingWriter records how many bytes reached it.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

func TestExecuteLimit(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		limit   int64
		want    string // output when within the limit
		tooMuch bool
	}{
		{"under", `{{.v}}!`, 10, "abcde!", false},
		{"exactly the limit", `{{.v}}!`, 6, "abcde!", false},
		{"one byte over", `{{.v}}!`, 5, "", true},
		{"empty output with limit 0", `{{if false}}x{{end}}`, 0, "", false},
		{"any output with limit 0", `x`, 0, "", true},
		{"no limit", `{{.v}}`, NoLimit, "abcde", false},
		{"loop over the limit", `{{range 1000}}{{$.v}}{{end}}`, 4096, "", true},
	}
	for _, tt := range tests {
		for _, r := range parseBoth(t, tt.src) {
			t.Run(tt.name+"/"+r.Name(), func(t *testing.T) {
				var b bytes.Buffer
				err := r.Execute(&b, Data{"v": "abcde"}, tt.limit)
				if int64(b.Len()) > tt.limit {
					t.Errorf("%d bytes reached the writer, over the limit %d", b.Len(), tt.limit)
				}
				if !tt.tooMuch {
					if err != nil || b.String() != tt.want {
						t.Fatalf("got %q, %v; want %q", b.String(), err, tt.want)
					}
					return
				}
				if !errors.Is(err, ErrTooLarge) {
					t.Fatalf("error %v is not ErrTooLarge", err)
				}
				var te *Error
				var le *LimitError
				if !errors.As(err, &te) || !errors.As(err, &le) {
					t.Fatalf("error %T is not an *Error wrapping a *LimitError: %v", err, err)
				}
				if le.Limit != tt.limit || te.Template != r.Name() {
					t.Errorf("Limit %d, Template %q; want %d, %q", le.Limit, te.Template, tt.limit, r.Name())
				}
			})
		}
	}
}

func TestExecuteStringLimit(t *testing.T) {
	tx, err := ParseText("oggetto", `Sollecito {{.n}}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecuteString(Data{"n": "42"}, 5); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ExecuteString over the limit: %v", err)
	}
	want := `template oggetto: the output is larger than 5 bytes`
	if _, err := tx.ExecuteString(Data{"n": "42"}, 5); err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
	if s, err := tx.ExecuteString(Data{"n": "42"}, 12); err != nil || s != "Sollecito 42" {
		t.Errorf("ExecuteString at the limit: %q, %v", s, err)
	}
}

// The template of issue 13 must stop at the limit: without it a row took
// 38 s and 8.5 GB. Parsing it must not run the loop either (ParseHTML
// executes once to escape). The time bound is loose — the full loop takes
// tens of seconds — so that a loaded machine or -race does not trip it.
func TestExecuteLimitStopsHugeLoop(t *testing.T) {
	const limit = 1 << 20
	for _, html := range []bool{false, true} {
		name := "text"
		if html {
			name = "html"
		}
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			var r Renderer
			var err error
			if html {
				r, err = ParseHTML("corpo.html", hugeLoop)
			} else {
				r, err = ParseText("corpo.txt", hugeLoop)
			}
			if err != nil {
				t.Fatal(err)
			}
			var w countingWriter
			err = r.Execute(&w, Data{}, limit)
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("got %v, want ErrTooLarge", err)
			}
			// 10-byte writes: the last one that fits ends 6 bytes short.
			if w.n > limit || w.n < limit-10 {
				t.Errorf("%d bytes reached the writer, want just under %d", w.n, limit)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("parse and execute took %v: the loop did not stop at the limit", d)
			}
		})
	}
}

// The memory a stopped render allocates stays a small multiple of the
// limit: the buffer's own growth (about twice the limit) plus what the loop
// allocates per iteration before it stops.
func TestExecuteLimitMemory(t *testing.T) {
	const limit = 1 << 20
	for _, r := range parseBoth(t, hugeLoop) {
		t.Run(r.Name(), func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			var b bytes.Buffer
			err := r.Execute(&b, Data{}, limit)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("got %v, want ErrTooLarge", err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 6*limit {
				t.Errorf("rendering allocated %d bytes, over 6 times the %d-byte limit", alloc, limit)
			} else {
				t.Logf("allocated %d bytes for a %d-byte limit", alloc, limit)
			}
		})
	}
}

// A template with no field and a loop must parse at once: ParseHTML's
// escaping run writes nothing.
func TestParseHTMLDoesNotRunLoop(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := ParseHTML("corpo.html", strings.Repeat(hugeLoop, 3)); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if after.Mallocs-before.Mallocs > 100_000 {
		t.Errorf("ParseHTML made %d allocations: it ran the loop", after.Mallocs-before.Mallocs)
	}
}

// BenchmarkExecuteLimitExceeded renders issue 13's template into a buffer
// with a 1 MB limit: the cost of refusing such a row.
func BenchmarkExecuteLimitExceeded(b *testing.B) {
	for _, r := range parseBoth(b, hugeLoop) {
		b.Run(r.Name(), func(b *testing.B) {
			var buf bytes.Buffer
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset()
				if err := r.Execute(&buf, Data{}, 1<<20); !errors.Is(err, ErrTooLarge) {
					b.Fatal(err)
				}
			}
		})
	}
}
