package template

import (
	"errors"
	"fmt"
	htemplate "html/template"
	"strconv"
	"strings"
	ttemplate "text/template"
	"text/template/parse"
)

// Sentinel causes, for errors.Is on an *Error.
var (
	// ErrMissingField means the template references a column the row does
	// not have (a misspelling, or a column absent from the CSV header).
	ErrMissingField = errors.New("missing field")
	// ErrEmptyField means a value passed to required is empty or only spaces.
	ErrEmptyField = errors.New("empty field")
	// ErrInvalidValue means euro or date could not read the value it was given.
	ErrInvalidValue = errors.New("invalid value")
)

// Error is a template problem: a syntax error from ParseText/ParseHTML or an
// execution error for one row. Its message reads
// `template body.html: line 3: missing field "x" (...)`.
type Error struct {
	// Template is the name given at parse time.
	Template string
	// Line is the 1-based line of the failing action; 0 when unknown.
	Line int
	// Field is the column involved, when known (missing, empty, unreadable).
	Field string
	// Err is the cause; errors.Is(err, ErrMissingField) and the like work
	// through it.
	Err error
}

// Error formats the problem with the template name and line.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("template ")
	b.WriteString(e.Template)
	if e.Line > 0 {
		b.WriteString(": line ")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString("error")
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// helperError is what helpers return: its message is shown as is, errors.Is
// matches its kind (one of the sentinels), and the column concerned survives
// text/template's wrapping to land in Error.Field.
type helperError struct {
	kind  error
	field string
	msg   string
}

func (e *helperError) Error() string        { return e.msg }
func (e *helperError) Is(target error) bool { return target == e.kind }

func invalidValue(format string, args ...any) error {
	return &helperError{kind: ErrInvalidValue, msg: fmt.Sprintf(format, args...)}
}

func missingField(name string) error {
	return &helperError{kind: ErrMissingField, field: name,
		msg: fmt.Sprintf("missing field %q: the row has no such column (check the spelling against the CSV header)", name)}
}

// detailError keeps a cleaned-up message while still unwrapping to the
// original error.
type detailError struct {
	msg string
	err error
}

func (e *detailError) Error() string { return e.msg }
func (e *detailError) Unwrap() error { return e.err }

// parseError turns "template: NAME:LINE: detail" into an *Error.
func parseError(name string, err error) error {
	var he *htemplate.Error
	if errors.As(err, &he) {
		return escapeError(name, he)
	}
	line, detail := splitLocation(name, strings.TrimPrefix(err.Error(), "template: "))
	return &Error{Template: name, Line: line, Err: &detailError{msg: detail, err: err}}
}

// escapeError converts html/template's contextual-escaping error.
func escapeError(name string, he *htemplate.Error) error {
	line := he.Line
	if he.Node != nil {
		loc, _ := (*parse.Tree)(nil).ErrorContext(he.Node)
		line, _ = locationLine(loc)
	}
	return &Error{Template: name, Line: line, Err: &detailError{msg: he.Description, err: he}}
}

// execError converts a text/template execution error, whose message is
// "template: NAME:LINE:COL: executing "NAME" at <CONTEXT>: DETAIL".
func execError(name string, err error) error {
	var ee ttemplate.ExecError
	if !errors.As(err, &ee) {
		var he *htemplate.Error
		if errors.As(err, &he) {
			return escapeError(name, he)
		}
		var le *LimitError
		if errors.As(err, &le) {
			return &Error{Template: name, Err: le}
		}
		// A failed write: the caller's writer, not the template.
		return &Error{Template: name, Err: fmt.Errorf("write: %w", err)}
	}
	msg := strings.TrimPrefix(ee.Err.Error(), "template: ")
	line, detail := splitLocation(name, msg)
	var hErr *helperError
	if errors.As(err, &hErr) {
		return &Error{Template: name, Line: line, Field: hErr.field, Err: hErr}
	}
	// text/template reports a missing map key only as text.
	const noKey = "map has no entry for key "
	if i := strings.LastIndex(msg, noKey); i >= 0 {
		if key, uerr := strconv.Unquote(msg[i+len(noKey):]); uerr == nil {
			return &Error{Template: name, Line: line, Field: key, Err: missingField(key)}
		}
	}
	detail = strings.TrimPrefix(detail, "executing "+strconv.Quote(ee.Name)+" ")
	return &Error{Template: name, Line: line, Err: &detailError{msg: detail, err: err}}
}

// splitLocation splits "NAME:LINE[:COL]: detail" when NAME is the expected
// template name; otherwise it returns line 0 and msg unchanged.
func splitLocation(name, msg string) (line int, detail string) {
	rest, ok := strings.CutPrefix(msg, name+":")
	if !ok {
		return 0, msg
	}
	loc, detail, ok := strings.Cut(rest, ": ")
	if !ok {
		return 0, msg
	}
	lineText, _, _ := strings.Cut(loc, ":")
	n, err := strconv.Atoi(lineText)
	if err != nil {
		return 0, msg
	}
	return n, detail
}

// locationLine reads LINE from "NAME:LINE:COL" (NAME may contain colons).
func locationLine(loc string) (int, bool) {
	i := strings.LastIndexByte(loc, ':')
	if i < 0 {
		return 0, false
	}
	j := strings.LastIndexByte(loc[:i], ':')
	if j < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(loc[j+1 : i])
	return n, err == nil
}
