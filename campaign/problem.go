package campaign

import (
	"fmt"
	"strconv"
	"strings"
)

// Problem is one thing wrong (or, as a warning, worth a look) in a campaign:
// its file, where in that file, and what. Problems are data: commands print
// them with String, tests compare them field by field.
type Problem struct {
	// File is the file the problem is in, as the campaign file names it
	// (relative to the campaign's folder), or the campaign file's own name.
	File string `json:"file,omitempty"`
	// Line is the 1-based physical line in File, 0 when there is none.
	Line int `json:"line,omitempty"`
	// Row is the 1-based data row of the recipients file (the header is not
	// a row), 0 when the problem is not about one row.
	Row int `json:"row,omitempty"`
	// Field says what is wrong: a campaign key ("sending.rate"), a CSV
	// column (`column "pec"`), or a rendered part of a message ("to",
	// "subject", "attachment 1").
	Field string `json:"field,omitempty"`
	// Message says what is wrong and, where it can, what to do about it.
	Message string `json:"message"`
}

// String formats p as "file:line: row N: field: message", leaving out the
// parts p does not have, e.g.
//
//	destinatari.csv:37: row 36: column "pec": "mario.rossi@" is not a valid address
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(p.Line))
		}
		b.WriteString(": ")
	}
	if p.Row > 0 {
		b.WriteString("row ")
		b.WriteString(strconv.Itoa(p.Row))
		b.WriteString(": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// ValidationError is the error of a campaign that failed its checks: every
// problem found, not only the first. It wraps ErrInvalidInput, so the command
// line exits with status 2.
type ValidationError struct {
	// Problems lists the problems found, in file order; it may stop short of
	// Count when there were very many.
	Problems []Problem
	// Count is the number of problems found, listed or not.
	Count int
}

// maxErrorListing bounds how many problems ValidationError.Error spells out.
const maxErrorListing = 50

// Error lists the problems, one a line, at most 50 of them.
func (e *ValidationError) Error() string {
	count := max(e.Count, len(e.Problems))
	if count == 1 && len(e.Problems) == 1 {
		return e.Problems[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems:", count)
	for i, p := range e.Problems {
		if i == maxErrorListing {
			break
		}
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	if more := count - min(len(e.Problems), maxErrorListing); more > 0 {
		fmt.Fprintf(&b, "\n  ... and %d more", more)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrInvalidInput) true.
func (e *ValidationError) Unwrap() error { return ErrInvalidInput }

// RowError is the error of one recipient row that cannot be rendered or
// failed a check. It wraps ErrInvalidInput.
type RowError struct {
	// Row is the 1-based data row, Line the physical line it starts on.
	Row, Line int
	// Problems lists what is wrong with the row; never empty.
	Problems []Problem
}

// Error lists the row's problems.
func (e *RowError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return strings.Join(parts, "; ")
}

// Unwrap makes errors.Is(err, ErrInvalidInput) true.
func (e *RowError) Unwrap() error { return ErrInvalidInput }
