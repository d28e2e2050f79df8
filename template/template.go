package template

import (
	"bytes"
	"errors"
	htemplate "html/template"
	"io"
	"slices"
	ttemplate "text/template"
)

// Data is one recipient row: column name → value, exactly as read from the
// CSV file. Templates reach a column as {{.column}}, or as
// {{get . "Column name"}} when the name is not a Go identifier.
type Data map[string]string

// Renderer is what *Text and *HTML have in common, so a caller can treat the
// subject, the body and the rendered attachments alike.
type Renderer interface {
	// Name returns the name given at parse time (used in every error).
	Name() string
	// Fields returns the columns the template references, in order of first use.
	Fields() []string
	// CheckColumns reports every referenced column missing from columns.
	CheckColumns(columns []string) error
	// Execute renders the template for one row into w, writing at most
	// limit bytes.
	Execute(w io.Writer, d Data, limit int64) error
}

var (
	_ Renderer = (*Text)(nil)
	_ Renderer = (*HTML)(nil)
)

// Text is a parsed text/template: for the subject, recipient and key
// expressions and plain-text attachments. Nothing is escaped. A *Text is
// immutable after parsing and safe for concurrent use.
type Text struct {
	name   string
	tmpl   *ttemplate.Template
	fields []fieldRef
}

// HTML is a parsed html/template: for the message body and HTML attachments.
// Every merge value is escaped for the context it lands in (element text,
// attribute, URL, script), so a value such as "<script>" or "Rossi & Figli"
// is shown, never interpreted. A *HTML is immutable after parsing and safe for
// concurrent use.
type HTML struct {
	name   string
	tmpl   *htemplate.Template
	fields []fieldRef
}

// ParseText parses src as a text/template named name (the name appears in
// every error, so use the file name or the campaign key, e.g.
// "message.subject"). A missing column is an execution error
// (missingkey=error) and the helpers documented in the package are available.
// A syntax error is an *Error carrying the line.
func ParseText(name, src string) (*Text, error) {
	t, err := ttemplate.New(name).Option("missingkey=error").Funcs(textFuncs()).Parse(src)
	if err != nil {
		return nil, parseError(name, err)
	}
	return &Text{name: name, tmpl: t, fields: collectFields(t.Tree, lookupText(t))}, nil
}

// ParseHTML parses src as an html/template named name, with the same options
// and helpers as ParseText (nl2br yields safe HTML here). Contextual escaping
// is analysed at parse time, so an escaping problem (for example an {{if}}
// that ends inside an attribute on one branch only) is reported here, once,
// rather than on every row.
func ParseHTML(name, src string) (*HTML, error) {
	t, err := htemplate.New(name).Option("missingkey=error").Funcs(htmlFuncs()).Parse(src)
	if err != nil {
		return nil, parseError(name, err)
	}
	// Fields are collected before escaping rewrites the trees.
	h := &HTML{name: name, tmpl: t, fields: collectFields(t.Tree, lookupHTML(t))}
	// html/template escapes lazily on the first Execute; an execution over an
	// empty row forces it now. Only an escaping error matters here: the
	// execution itself stops at the first field or the first byte of output
	// (a template without fields could otherwise loop for minutes here).
	if err := t.Execute(discardAll{}, Data{}); err != nil {
		var he *htemplate.Error
		if errors.As(err, &he) {
			return nil, escapeError(name, he)
		}
	}
	return h, nil
}

// Name returns the name the template was parsed with.
func (t *Text) Name() string { return t.name }

// Name returns the name the template was parsed with.
func (t *HTML) Name() string { return t.name }

// Fields returns the columns the template references at the top level
// ({{.x}}, {{$.x}}, {{get . "x"}}, {{index . "x"}}), each once, in order of
// first use. Preflight uses it to report a missing column once by name
// instead of once per row. It never lists a name that is not a column
// reference (fields of values inside {{with}} or {{range}} are left out).
func (t *Text) Fields() []string { return fieldNames(t.fields) }

// Fields returns the columns the template references; see (*Text).Fields.
func (t *HTML) Fields() []string { return fieldNames(t.fields) }

// CheckColumns returns nil when every column the template references is in
// columns; otherwise one *Error (errors.Is ErrMissingField) per missing
// column, with the line of its first use, joined with errors.Join.
func (t *Text) CheckColumns(columns []string) error { return checkColumns(t.name, t.fields, columns) }

// CheckColumns is (*Text).CheckColumns for an HTML template.
func (t *HTML) CheckColumns(columns []string) error { return checkColumns(t.name, t.fields, columns) }

// Execute renders the template for row d into w, writing at most limit bytes
// (NoLimit for a template the program trusts). Execution stops at the first
// write that would pass the limit, so a {{range}} over a huge number costs
// no more memory than limit and little time; the error then wraps a
// *LimitError (errors.Is ErrTooLarge). On any error the output written so
// far is incomplete and must be discarded; the error is an *Error naming the
// template, the line and, when known, the column.
func (t *Text) Execute(w io.Writer, d Data, limit int64) error {
	if err := t.tmpl.Execute(&limitWriter{w: w, limit: limit}, d); err != nil {
		return execError(t.name, err)
	}
	return nil
}

// Execute renders the template for row d into w, writing at most limit
// bytes; see (*Text).Execute.
func (t *HTML) Execute(w io.Writer, d Data, limit int64) error {
	if err := t.tmpl.Execute(&limitWriter{w: w, limit: limit}, d); err != nil {
		return execError(t.name, err)
	}
	return nil
}

// ExecuteString renders the template for row d and returns the result, at
// most limit bytes long; handy for short templates such as the subject or
// the recipient list.
func (t *Text) ExecuteString(d Data, limit int64) (string, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, d, limit); err != nil {
		return "", err
	}
	return b.String(), nil
}

// ExecuteString renders the template for row d and returns the result, at
// most limit bytes long.
func (t *HTML) ExecuteString(d Data, limit int64) (string, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, d, limit); err != nil {
		return "", err
	}
	return b.String(), nil
}

func fieldNames(refs []fieldRef) []string {
	names := make([]string, len(refs))
	for i, r := range refs {
		names[i] = r.name
	}
	return names
}

func checkColumns(name string, refs []fieldRef, columns []string) error {
	var errs []error
	for _, r := range refs {
		if !slices.Contains(columns, r.name) {
			errs = append(errs, &Error{Template: name, Line: r.line, Field: r.name, Err: missingField(r.name)})
		}
	}
	return errors.Join(errs...)
}
