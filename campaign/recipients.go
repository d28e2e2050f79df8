package campaign

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/transform"
)

// Encodings of a recipients file, as recipients.encoding names them.
const (
	EncodingUTF8        = "utf-8"
	EncodingWindows1252 = "windows-1252"
	EncodingISO88591    = "iso-8859-1"
)

// CSVOptions says how to read a recipients file.
type CSVOptions struct {
	// Name is the file's name in problems ("destinatari.csv").
	Name string
	// Delimiter is the field separator; 0 sniffs it from the header line.
	Delimiter rune
	// Encoding is one of EncodingUTF8 (the default when empty),
	// EncodingWindows1252 or EncodingISO88591.
	Encoding string
}

// Record is one data row of a recipients file.
type Record struct {
	// Row is the 1-based data row: the header and blank lines are not rows.
	Row int
	// Line is the 1-based physical line the row starts on.
	Line int
	// Values are the row's fields, in header order, trimmed of surrounding
	// white space.
	Values []string
}

// RecipientsReader reads a recipients CSV file row by row, in constant
// memory whatever the number of rows.
//
// Rules: a UTF-8 byte order mark is skipped; with Delimiter 0 the separator
// is whichever of , ; tab | occurs most often in the header line (',' when
// none does, a one-column file); windows-1252 and iso-8859-1 files are
// decoded to UTF-8, and in a UTF-8 file invalid bytes are an error; header
// names are trimmed (with a warning) and must be non-empty and distinct;
// quoted fields may span lines; lines with nothing but separators and white
// space are skipped and are not rows; values are trimmed of surrounding
// white space; a row with more or fewer fields than the header, or with bad
// quoting, is reported with its line and reading goes on.
type RecipientsReader struct {
	name       string
	encoding   string
	csv        *csv.Reader
	hash       hash.Hash
	header     []string
	delimiter  rune
	warnings   []Problem
	row        int
	badUTF8    int
	eof        bool
	headerLine int
}

// NewRecipientsReader reads the header of the recipients file r. A file
// whose header cannot be used (empty file, UTF-16, duplicate or empty
// column names, a delimiter that does not fit) is a *ValidationError.
func NewRecipientsReader(r io.Reader, opts CSVOptions) (*RecipientsReader, error) {
	rr := &RecipientsReader{name: opts.Name, encoding: opts.Encoding, hash: sha256.New()}
	if rr.encoding == "" {
		rr.encoding = EncodingUTF8
	}
	src := io.TeeReader(r, rr.hash)
	switch rr.encoding {
	case EncodingUTF8:
	case EncodingWindows1252:
		src = transform.NewReader(src, charmap.Windows1252.NewDecoder())
	case EncodingISO88591:
		src = transform.NewReader(src, charmap.ISO8859_1.NewDecoder())
	default:
		return nil, rr.invalid(0, "", fmt.Sprintf("unknown encoding %q: use utf-8, windows-1252 or iso-8859-1", opts.Encoding))
	}
	br := bufio.NewReaderSize(src, 64<<10)
	if err := rr.skipBOM(br); err != nil {
		return nil, err
	}
	if err := rr.checkLineEnds(br); err != nil {
		return nil, err
	}
	first, err := peekLine(br)
	if err != nil {
		return nil, fmt.Errorf("recipients: read %s: %w", rr.name, err)
	}
	rr.delimiter = opts.Delimiter
	if rr.delimiter == 0 {
		rr.delimiter = sniffDelimiter(first)
	}
	rr.csv = csv.NewReader(br)
	rr.csv.Comma = rr.delimiter
	rr.csv.ReuseRecord = true
	rr.csv.FieldsPerRecord = -1
	if err := rr.readHeader(opts.Delimiter != 0); err != nil {
		return nil, err
	}
	rr.csv.FieldsPerRecord = len(rr.header)
	return rr, nil
}

// invalid builds the *ValidationError of a problem of the whole file.
func (rr *RecipientsReader) invalid(line int, field, msg string) error {
	return &ValidationError{Problems: []Problem{{File: rr.name, Line: line, Field: field, Message: msg}}, Count: 1}
}

// skipBOM drops a UTF-8 byte order mark and refuses UTF-16 files, whose
// BOM is the only sign csv would get of them.
func (rr *RecipientsReader) skipBOM(br *bufio.Reader) error {
	head, _ := br.Peek(3)
	switch {
	case bytes.HasPrefix(head, []byte("\xef\xbb\xbf")):
		_, _ = br.Discard(3)
	case bytes.HasPrefix(head, []byte("\xff\xfe")), bytes.HasPrefix(head, []byte("\xfe\xff")):
		return rr.invalid(1, "", "the file is UTF-16 text: save it as \"CSV UTF-8\" (in Excel: Save as, CSV UTF-8)")
	}
	return nil
}

// checkLineEnds refuses a file whose lines end in CR alone (classic Mac OS,
// some exports): encoding/csv would read it as one line and report a field
// count. It looks at the start of the file only: a CR followed by more text
// before any LF.
func (rr *RecipientsReader) checkLineEnds(br *bufio.Reader) error {
	head, _ := br.Peek(br.Size())
	if bytes.IndexByte(head, '\n') >= 0 {
		return nil
	}
	if i := bytes.IndexByte(head, '\r'); i >= 0 && len(bytes.TrimRight(head[i:], "\r")) > 0 {
		return rr.invalid(1, "", "lines end in CR only (an old Mac format): save the file as CSV with Windows or "+
			"Unix line endings (in Excel: Save as, CSV UTF-8)")
	}
	return nil
}

// nulText explains a NUL byte in a field: text files have none, UTF-16
// and binary files many.
const nulText = "contains a NUL byte; the file may be UTF-16 or binary: save it as UTF-8 CSV (in Excel: Save as, CSV UTF-8)"

// peekLine returns the first line of br that is not blank, without
// consuming anything (at most the reader's buffer, enough for any header).
func peekLine(br *bufio.Reader) ([]byte, error) {
	for n := 512; ; n *= 2 {
		buf, err := br.Peek(min(n, br.Size()))
		rest := buf
		for {
			i := bytes.IndexByte(rest, '\n')
			if i < 0 {
				break
			}
			if line := rest[:i]; len(bytes.TrimSpace(line)) > 0 {
				return line, nil
			}
			rest = rest[i+1:]
		}
		if err != nil || n >= br.Size() {
			if err == nil || errors.Is(err, io.EOF) || errors.Is(err, bufio.ErrBufferFull) {
				return rest, nil
			}
			return nil, err
		}
	}
}

// sniffDelimiter picks the separator that occurs most often, outside
// quotes, in the header line; ties go to the earlier of , ; tab |.
func sniffDelimiter(line []byte) rune {
	candidates := []byte{',', ';', '\t', '|'}
	counts := make([]int, len(candidates))
	quoted := false
	for _, c := range line {
		if c == '"' {
			quoted = !quoted
			continue
		}
		if quoted {
			continue
		}
		for i, d := range candidates {
			if c == d {
				counts[i]++
			}
		}
	}
	best := 0
	for i := range counts {
		if counts[i] > counts[best] {
			best = i
		}
	}
	return rune(candidates[best])
}

// readHeader reads and checks the header line.
func (rr *RecipientsReader) readHeader(explicitDelimiter bool) error {
	var fields []string
	var err error
	for {
		fields, err = rr.csv.Read()
		if err == io.EOF {
			return rr.invalid(0, "", "the file is empty: it needs a header line naming the columns and one line per recipient")
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return rr.invalid(pe.StartLine, "header", csvErrorText(pe))
			}
			return fmt.Errorf("recipients: read %s: %w", rr.name, err)
		}
		if !blankRecord(fields) {
			break
		}
	}
	rr.headerLine, _ = rr.csv.FieldPos(0)
	var problems []Problem
	seen := make(map[string]int, len(fields))
	var trimmed []string
	for i, f := range fields {
		if strings.IndexByte(f, 0) >= 0 {
			problems = append(problems, Problem{File: rr.name, Line: rr.headerLine, Field: "header",
				Message: fmt.Sprintf("column %d %s", i+1, nulText)})
			continue
		}
		if rr.encoding == EncodingUTF8 && !utf8.ValidString(f) {
			problems = append(problems, Problem{File: rr.name, Line: rr.headerLine, Field: "header",
				Message: invalidUTF8Text(f, true)})
			continue
		}
		name := strings.TrimSpace(f)
		if name != f {
			trimmed = append(trimmed, fmt.Sprintf("%q", f))
		}
		switch {
		case name == "":
			problems = append(problems, Problem{File: rr.name, Line: rr.headerLine, Field: "header",
				Message: fmt.Sprintf("column %d has no name: give every column a name in the first line", i+1)})
		case seen[name] > 0:
			problems = append(problems, Problem{File: rr.name, Line: rr.headerLine, Field: "header",
				Message: fmt.Sprintf("column %q appears twice (columns %d and %d): rename one of them", name, seen[name], i+1)})
		default:
			seen[name] = i + 1
		}
		fields[i] = name
	}
	if len(trimmed) > 0 {
		rr.warnings = append(rr.warnings, Problem{File: rr.name, Line: rr.headerLine, Field: "header",
			Message: fmt.Sprintf("column names %s had spaces around them; they were trimmed", strings.Join(trimmed, ", "))})
	}
	if explicitDelimiter && len(fields) == 1 {
		if other := sniffDelimiter([]byte(fields[0])); other != rr.delimiter && strings.ContainsRune(fields[0], other) {
			problems = append(problems, Problem{File: rr.name, Line: rr.headerLine, Field: "header",
				Message: fmt.Sprintf("only one column %q with recipients.delimiter %s, but the line is separated by %s: set recipients.delimiter: %s (or auto)",
					fields[0], delimiterName(rr.delimiter), delimiterName(other), delimiterYAML(other))})
		}
	}
	if len(problems) > 0 {
		return &ValidationError{Problems: problems, Count: len(problems)}
	}
	rr.header = append([]string(nil), fields...)
	return nil
}

// delimiterName names a delimiter in prose.
func delimiterName(d rune) string {
	if d == '\t' {
		return "tab"
	}
	return fmt.Sprintf("%q", string(d))
}

// delimiterYAML writes a delimiter as recipients.delimiter takes it.
func delimiterYAML(d rune) string {
	if d == '\t' {
		return "tab"
	}
	return fmt.Sprintf("%q", string(d))
}

// Header returns the column names, trimmed.
func (rr *RecipientsReader) Header() []string { return rr.header }

// Delimiter returns the field separator in use (sniffed or configured).
func (rr *RecipientsReader) Delimiter() rune { return rr.delimiter }

// HeaderLine returns the physical line of the header.
func (rr *RecipientsReader) HeaderLine() int { return rr.headerLine }

// Warnings returns what was noticed but is not wrong (header names with
// spaces around them).
func (rr *RecipientsReader) Warnings() []Problem { return rr.warnings }

// SHA256 returns the hex SHA-256 of the bytes of the file read so far: after
// Next has returned io.EOF, of the whole file.
func (rr *RecipientsReader) SHA256() string { return hex.EncodeToString(rr.hash.Sum(nil)) }

// Next returns the next data row, or io.EOF after the last. A row that is
// ragged, badly quoted or not valid UTF-8 comes back as a *RowError (with
// the row's number and line) and reading can go on with the next call; any
// other error means reading failed. Record.Values is only valid until the
// next call.
func (rr *RecipientsReader) Next() (Record, error) {
	for {
		if rr.eof {
			return Record{}, io.EOF
		}
		fields, err := rr.csv.Read()
		if err == io.EOF {
			rr.eof = true
			return Record{}, io.EOF
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return Record{}, fmt.Errorf("recipients: read %s: %w", rr.name, err)
			}
			if errors.Is(pe.Err, csv.ErrFieldCount) && blankRecord(fields) {
				continue
			}
			rr.row++
			return Record{Row: rr.row, Line: pe.StartLine}, &RowError{Row: rr.row, Line: pe.StartLine,
				Problems: []Problem{{File: rr.name, Line: pe.StartLine, Row: rr.row, Message: rr.parseErrorText(pe, fields)}}}
		}
		if blankRecord(fields) {
			continue
		}
		rr.row++
		line, _ := rr.csv.FieldPos(0)
		rec := Record{Row: rr.row, Line: line, Values: fields}
		var problems []Problem
		for i, f := range fields {
			if strings.IndexByte(f, 0) >= 0 {
				fl, _ := rr.csv.FieldPos(i)
				problems = append(problems, Problem{File: rr.name, Line: fl, Row: rr.row,
					Field: fmt.Sprintf("column %q", rr.header[i]), Message: nulText})
				continue
			}
			if rr.encoding == EncodingUTF8 && !utf8.ValidString(f) {
				fl, _ := rr.csv.FieldPos(i)
				rr.badUTF8++
				problems = append(problems, Problem{File: rr.name, Line: fl, Row: rr.row,
					Field: fmt.Sprintf("column %q", rr.header[i]), Message: invalidUTF8Text(f, rr.badUTF8 == 1)})
				continue
			}
			fields[i] = strings.TrimSpace(f)
		}
		if len(problems) > 0 {
			return rec, &RowError{Row: rr.row, Line: line, Problems: problems}
		}
		return rec, nil
	}
}

// parseErrorText explains a csv.ParseError of a data row.
func (rr *RecipientsReader) parseErrorText(pe *csv.ParseError, fields []string) string {
	if errors.Is(pe.Err, csv.ErrFieldCount) && slices.ContainsFunc(fields, func(f string) bool { return strings.Contains(f, "\r") }) {
		return "lines end in CR only (an old Mac format) from here on: save the file as CSV with Windows or Unix " +
			"line endings (in Excel: Save as, CSV UTF-8)"
	}
	if errors.Is(pe.Err, csv.ErrFieldCount) {
		return fmt.Sprintf("%d fields where the header has %d: check the separators (%s) and the quotes in this line",
			len(fields), len(rr.header), delimiterName(rr.delimiter))
	}
	return csvErrorText(pe)
}

// csvErrorText explains a quoting error of encoding/csv.
func csvErrorText(pe *csv.ParseError) string {
	switch {
	case errors.Is(pe.Err, csv.ErrBareQuote):
		return fmt.Sprintf("a \" inside a field that is not quoted (line %d, column %d): enclose the field in quotes and double the inner quote (\"\")", pe.Line, pe.Column)
	case errors.Is(pe.Err, csv.ErrQuote):
		if pe.Line != pe.StartLine {
			return fmt.Sprintf("a quoted field opened on this line is not closed properly (up to line %d): check the quotes", pe.Line)
		}
		return fmt.Sprintf("bad quoting at column %d: a quoted field must end with \" followed by the separator or the end of the line", pe.Column)
	}
	return pe.Err.Error()
}

// invalidUTF8Text explains a field that is not UTF-8; the first time, with
// the usual cause and its fix.
func invalidUTF8Text(f string, hint bool) string {
	bad := f
	for i, r := range f {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(f[i:]); size == 1 {
				bad = fmt.Sprintf("byte 0x%02X", f[i])
				break
			}
		}
	}
	msg := "is not valid UTF-8 text (" + bad + ")"
	if hint {
		msg += `; the file is probably Windows-1252 (Excel's plain "CSV"): set recipients.encoding: windows-1252, or save the file as "CSV UTF-8"`
	}
	return msg
}

// blankRecord reports whether a record holds nothing but white space, as a
// line of bare separators does.
func blankRecord(fields []string) bool {
	for _, f := range fields {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}
