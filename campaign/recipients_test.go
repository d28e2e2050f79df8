package campaign

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// readAll reads every row of a recipients file, returning the header, the
// rows as "row@line:v1|v2", and the row problems as strings.
func readAll(t *testing.T, src string, opts CSVOptions) (*RecipientsReader, []string, []string, error) {
	t.Helper()
	if opts.Name == "" {
		opts.Name = "d.csv"
	}
	rr, err := NewRecipientsReader(strings.NewReader(src), opts)
	if err != nil {
		return nil, nil, nil, err
	}
	var rows, problems []string
	for {
		rec, err := rr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var re *RowError
		if errors.As(err, &re) {
			for _, p := range re.Problems {
				problems = append(problems, p.String())
			}
			continue
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		rows = append(rows, fmt.Sprintf("%d@%d:%s", rec.Row, rec.Line, strings.Join(rec.Values, "|")))
	}
	return rr, rows, problems, nil
}

func TestRecipientsReader(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		opts      CSVOptions
		header    string
		delimiter rune
		rows      []string
		problems  []string
		warnings  []string
	}{
		{
			name:   "comma",
			src:    "pec,nome\na@pec.it,Mario\nb@pec.it,Giulia\n",
			header: "pec|nome", delimiter: ',',
			rows: []string{"1@2:a@pec.it|Mario", "2@3:b@pec.it|Giulia"},
		},
		{
			name:   "semicolon sniffed, CRLF, BOM",
			src:    "\xef\xbb\xbfpec;nome;importo\r\na@pec.it;Mario;1.234,50\r\n",
			header: "pec|nome|importo", delimiter: ';',
			rows: []string{"1@2:a@pec.it|Mario|1.234,50"},
		},
		{
			name:   "tab",
			src:    "pec\tnome\na@pec.it\tMario Rossi\n",
			header: "pec|nome", delimiter: '\t',
			rows: []string{"1@2:a@pec.it|Mario Rossi"},
		},
		{
			name:   "pipe",
			src:    "pec|nome\na@pec.it|Mario, detto Super\n",
			header: "pec|nome", delimiter: '|',
			rows: []string{"1@2:a@pec.it|Mario, detto Super"},
		},
		{
			name:   "sniffing ignores quoted separators",
			src:    "\"a,b\";c;d\n1;2;3\n",
			header: "a,b|c|d", delimiter: ';',
			rows: []string{"1@2:1|2|3"},
		},
		{
			name:   "one column",
			src:    "pec\na@pec.it\n",
			header: "pec", delimiter: ',',
			rows: []string{"1@2:a@pec.it"},
		},
		{
			name:   "explicit delimiter",
			src:    "pec;nome\na@pec.it;x,y\n",
			opts:   CSVOptions{Delimiter: ';'},
			header: "pec|nome", delimiter: ';',
			rows: []string{"1@2:a@pec.it|x,y"},
		},
		{
			name:   "quoted field with newlines keeps its start line",
			src:    "pec,note\na@pec.it,\"riga uno\nriga due\"\nb@pec.it,x\n",
			header: "pec|note", delimiter: ',',
			rows: []string{"1@2:a@pec.it|riga uno\nriga due", "2@4:b@pec.it|x"},
		},
		{
			name:   "blank lines and lines of bare separators are not rows",
			src:    "\npec;nome\n\na@pec.it;Mario\n;;\n  \n ; \nb@pec.it;Giulia\n\n",
			header: "pec|nome", delimiter: ';',
			rows: []string{"1@4:a@pec.it|Mario", "2@8:b@pec.it|Giulia"},
		},
		{
			name:   "values and header names are trimmed",
			src:    " pec , nome\n  a@pec.it ,\u00a0Mario\u00a0\n",
			header: "pec|nome", delimiter: ',',
			rows:     []string{"1@2:a@pec.it|Mario"},
			warnings: []string{`d.csv:1: header: column names " pec ", " nome" had spaces around them; they were trimmed`},
		},
		{
			name:   "windows-1252",
			src:    "pec;nome;nota\na@pec.it;Niccol\xf2;\x80 10 \x96 d\x92Angelo\n",
			opts:   CSVOptions{Encoding: EncodingWindows1252},
			header: "pec|nome|nota", delimiter: ';',
			rows: []string{"1@2:a@pec.it|Niccolò|€ 10 – d’Angelo"},
		},
		{
			name:   "iso-8859-1",
			src:    "pec;nome\na@pec.it;Zo\xeb\n",
			opts:   CSVOptions{Encoding: EncodingISO88591},
			header: "pec|nome", delimiter: ';',
			rows: []string{"1@2:a@pec.it|Zoë"},
		},
		{
			name:   "ragged rows are reported and reading goes on",
			src:    "pec,nome\na@pec.it,Mario,extra\nb@pec.it\nc@pec.it,Luca\n",
			header: "pec|nome", delimiter: ',',
			rows: []string{"3@4:c@pec.it|Luca"},
			problems: []string{
				`d.csv:2: row 1: 3 fields where the header has 2: check the separators (",") and the quotes in this line`,
				`d.csv:3: row 2: 1 fields where the header has 2: check the separators (",") and the quotes in this line`,
			},
		},
		{
			name:   "bare quote",
			src:    "pec,nome\na@pec.it,Mario \"Super\" Rossi\nb@pec.it,Luca\n",
			header: "pec|nome", delimiter: ',',
			rows:     []string{"2@3:b@pec.it|Luca"},
			problems: []string{`d.csv:2: row 1: a " inside a field that is not quoted (line 2, column 16): enclose the field in quotes and double the inner quote ("")`},
		},
		{
			name:   "unclosed quote",
			src:    "pec,nome\na@pec.it,\"Mario\nb@pec.it,Luca\n",
			header: "pec|nome", delimiter: ',',
			problems: []string{`d.csv:2: row 1: a quoted field opened on this line is not closed properly (up to line 3): check the quotes`},
		},
		{
			name:   "invalid UTF-8: hint once, every row reported",
			src:    "pec;nome\na@pec.it;Niccol\xf2\nb@pec.it;Giulia\nc@pec.it;Zo\xeb\n",
			header: "pec|nome", delimiter: ';',
			rows: []string{"2@3:b@pec.it|Giulia"},
			problems: []string{
				`d.csv:2: row 1: column "nome": is not valid UTF-8 text (byte 0xF2); the file is probably Windows-1252 (Excel's plain "CSV"): set recipients.encoding: windows-1252, or save the file as "CSV UTF-8"`,
				`d.csv:4: row 3: column "nome": is not valid UTF-8 text (byte 0xEB)`,
			},
		},
		{
			name:   "a NUL byte in a value is named at its file, row and column",
			src:    "pec;nome\na@pec.it;Mar\x00io\nb@pec.it;Giulia\n",
			header: "pec|nome", delimiter: ';',
			rows: []string{"2@3:b@pec.it|Giulia"},
			problems: []string{
				`d.csv:2: row 1: column "nome": contains a NUL byte; the file may be UTF-16 or binary: save it as UTF-8 CSV (in Excel: Save as, CSV UTF-8)`,
			},
		},
		{
			name:   "a NUL byte in a windows-1252 file",
			src:    "pec;nome\na@pec.it\x00;Mario\n",
			opts:   CSVOptions{Encoding: EncodingWindows1252},
			header: "pec|nome", delimiter: ';',
			problems: []string{
				`d.csv:2: row 1: column "pec": contains a NUL byte; the file may be UTF-16 or binary: save it as UTF-8 CSV (in Excel: Save as, CSV UTF-8)`,
			},
		},
		{
			name:   "CR line endings after LF ones",
			src:    "pec;nome\na@pec.it;Mario\rb@pec.it;Giulia\rc@pec.it;Luca\n",
			header: "pec|nome", delimiter: ';',
			problems: []string{
				`d.csv:2: row 1: lines end in CR only (an old Mac format) from here on: save the file as CSV with Windows or Unix line endings (in Excel: Save as, CSV UTF-8)`,
			},
		},
		{
			name:   "a header line ending in CR alone, at the end of the file",
			src:    "pec;nome\r",
			header: "pec|nome", delimiter: ';',
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rr, rows, problems, err := readAll(t, tt.src, tt.opts)
			if err != nil {
				t.Fatalf("NewRecipientsReader: %v", err)
			}
			if got := strings.Join(rr.Header(), "|"); got != tt.header {
				t.Errorf("header = %q, want %q", got, tt.header)
			}
			if rr.Delimiter() != tt.delimiter {
				t.Errorf("delimiter = %q, want %q", rr.Delimiter(), tt.delimiter)
			}
			if strings.Join(rows, "\n") != strings.Join(tt.rows, "\n") {
				t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(tt.rows, "\n"))
			}
			if strings.Join(problems, "\n") != strings.Join(tt.problems, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(problems, "\n"), strings.Join(tt.problems, "\n"))
			}
			var warnings []string
			for _, w := range rr.Warnings() {
				warnings = append(warnings, w.String())
			}
			if strings.Join(warnings, "\n") != strings.Join(tt.warnings, "\n") {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(warnings, "\n"), strings.Join(tt.warnings, "\n"))
			}
			if want := fmt.Sprintf("%x", sha256.Sum256([]byte(tt.src))); rr.SHA256() != want {
				t.Errorf("SHA256 = %s, want the file's %s", rr.SHA256(), want)
			}
		})
	}
}

func TestRecipientsReaderHeaderProblems(t *testing.T) {
	tests := []struct {
		name string
		src  string
		opts CSVOptions
		want []string
	}{
		{"empty file", "", CSVOptions{}, []string{"d.csv: the file is empty: it needs a header line naming the columns and one line per recipient"}},
		{"only blank lines", "\n\n  \n", CSVOptions{}, []string{"d.csv: the file is empty: it needs a header line naming the columns and one line per recipient"}},
		{"only a BOM", "\xef\xbb\xbf", CSVOptions{}, []string{"d.csv: the file is empty: it needs a header line naming the columns and one line per recipient"}},
		{"duplicate header", "pec;nome;pec\n", CSVOptions{}, []string{`d.csv:1: header: column "pec" appears twice (columns 1 and 3): rename one of them`}},
		{"duplicate after trimming", "pec, pec\n", CSVOptions{}, []string{`d.csv:1: header: column "pec" appears twice (columns 1 and 2): rename one of them`}},
		{"empty header name", "pec;;nome\n", CSVOptions{}, []string{`d.csv:1: header: column 2 has no name: give every column a name in the first line`}},
		{"UTF-16", "\xff\xfep\x00e\x00c\x00\n\x00", CSVOptions{}, []string{`d.csv:1: the file is UTF-16 text: save it as "CSV UTF-8" (in Excel: Save as, CSV UTF-8)`}},
		{"wrong explicit delimiter", "email;nome;cognome\na@pec.it;b;c\n", CSVOptions{Delimiter: ','},
			[]string{`d.csv:1: header: only one column "email;nome;cognome" with recipients.delimiter ",", but the line is separated by ";": set recipients.delimiter: ";" (or auto)`}},
		{"invalid UTF-8 in the header", "pec;n\xf2me\n", CSVOptions{},
			[]string{`d.csv:1: header: is not valid UTF-8 text (byte 0xF2); the file is probably Windows-1252 (Excel's plain "CSV"): set recipients.encoding: windows-1252, or save the file as "CSV UTF-8"`}},
		{"unknown encoding", "pec\n", CSVOptions{Encoding: "ebcdic"}, []string{`d.csv: unknown encoding "ebcdic": use utf-8, windows-1252 or iso-8859-1`}},
		{"CR line endings", "pec;nome\ra@pec.it;Mario\rb@pec.it;Giulia\r", CSVOptions{},
			[]string{`d.csv:1: lines end in CR only (an old Mac format): save the file as CSV with Windows or Unix line endings (in Excel: Save as, CSV UTF-8)`}},
		{"UTF-16 without a BOM", "p\x00e\x00c\x00;\x00n\x00\n\x00", CSVOptions{},
			[]string{`d.csv:1: header: column 1 contains a NUL byte; the file may be UTF-16 or binary: save it as UTF-8 CSV (in Excel: Save as, CSV UTF-8)`,
				`d.csv:1: header: column 2 contains a NUL byte; the file may be UTF-16 or binary: save it as UTF-8 CSV (in Excel: Save as, CSV UTF-8)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Name = "d.csv"
			_, err := NewRecipientsReader(strings.NewReader(tt.src), tt.opts)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want a *ValidationError", err)
			}
			if !errors.Is(err, ErrInvalidInput) {
				t.Errorf("err does not wrap ErrInvalidInput")
			}
			var got []string
			for _, p := range ve.Problems {
				got = append(got, p.String())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestRecipientsReaderHeaderOnly(t *testing.T) {
	_, rows, problems, err := readAll(t, "pec;nome\n", CSVOptions{})
	if err != nil || len(rows) != 0 || len(problems) != 0 {
		t.Fatalf("header only: rows %v problems %v err %v; want nothing (preflight reports the lack of rows)", rows, problems, err)
	}
}

// rowSource generates a recipients file of n rows on the fly, so the test
// can read far more than it could hold.
type rowSource struct {
	n, i int
	buf  []byte
}

func (s *rowSource) Read(p []byte) (int, error) {
	for len(s.buf) == 0 {
		if s.i > s.n {
			return 0, io.EOF
		}
		if s.i == 0 {
			s.buf = []byte("pec;nome;nota\n")
		} else {
			s.buf = fmt.Appendf(nil, "cliente%d@pec.example.it;Mario;%s\n", s.i, strings.Repeat("x", 200))
		}
		s.i++
	}
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	return n, nil
}

func TestRecipientsReaderStreams(t *testing.T) {
	// A reader that held rows would allocate in proportion to them; a
	// streaming one allocates a small, constant amount per row.
	const n = 20000
	rr, err := NewRecipientsReader(&rowSource{n: n}, CSVOptions{Name: "big.csv"})
	if err != nil {
		t.Fatal(err)
	}
	perRow := testing.AllocsPerRun(1, func() {
		for range 1000 {
			if _, err := rr.Next(); err != nil {
				t.Fatal(err)
			}
		}
	}) / 1000
	if perRow > 8 {
		t.Errorf("%.1f allocations per row: the reader should reuse its buffers", perRow)
	}
	rows := 1000
	for {
		rec, err := rr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rows = rec.Row
	}
	if rows != n {
		t.Fatalf("read %d rows, want %d", rows, n)
	}
}

func FuzzRecipientsReader(f *testing.F) {
	seeds := []string{
		"pec,nome\na@pec.it,Mario\n",
		"\xef\xbb\xbfpec;nome\r\na@pec.it;\"a\nb\"\r\n",
		"a\tb\n1\t2\t3\n",
		"a|b\n\"x\"y|z\n",
		"pec;n\xf2me\n",
		"",
		"\"",
		"a,a\n",
		"pec;nome\ra@pec.it;Mario\r",
		"pec;nome\na@pec.it;M\x00\rb;c\n",
	}
	for _, s := range seeds {
		f.Add(s, uint8(0), false)
		f.Add(s, uint8(';'), true)
	}
	f.Fuzz(func(t *testing.T, src string, delim uint8, latin bool) {
		opts := CSVOptions{Name: "f.csv"}
		switch delim {
		case ',', ';', '\t', '|':
			opts.Delimiter = rune(delim)
		}
		if latin {
			opts.Encoding = EncodingWindows1252
		}
		rr, err := NewRecipientsReader(strings.NewReader(src), opts)
		if err != nil {
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("header error %v does not wrap ErrInvalidInput", err)
			}
			return
		}
		lastRow, lastLine := 0, 0
		for i := 0; ; i++ {
			rec, err := rr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			var re *RowError
			if err != nil && !errors.As(err, &re) {
				t.Fatalf("Next: %v", err)
			}
			if rec.Row != lastRow+1 || rec.Line <= lastLine {
				t.Fatalf("row %d line %d after row %d line %d", rec.Row, rec.Line, lastRow, lastLine)
			}
			if err == nil && len(rec.Values) != len(rr.Header()) {
				t.Fatalf("row %d has %d values for %d columns", rec.Row, len(rec.Values), len(rr.Header()))
			}
			lastRow, lastLine = rec.Row, rec.Line
		}
	})
}
