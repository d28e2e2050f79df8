package template

import (
	"fmt"
	htemplate "html/template"
	"strings"
	ttemplate "text/template"

	"golang.org/x/text/cases"
	"golang.org/x/text/language"
)

// Helpers are plain functions with no state and no access to the
// environment, files or processes. A fresh FuncMap is built per parse (never
// per row) so nothing mutable is shared between templates.

func textFuncs() ttemplate.FuncMap {
	m := commonFuncs()
	m["nl2br"] = nl2brText
	return m
}

func htmlFuncs() htemplate.FuncMap {
	m := commonFuncs()
	m["nl2br"] = nl2brHTML
	return htemplate.FuncMap(m)
}

func commonFuncs() map[string]any {
	return map[string]any{
		"required": required,
		"default":  defaultValue,
		"upper":    strings.ToUpper,
		"lower":    strings.ToLower,
		"title":    title,
		"trim":     strings.TrimSpace,
		"euro":     euro,
		"date":     date,
		"get":      get,
	}
}

// required returns value, or an error naming the column when value is empty
// or only spaces. The name comes first so that both {{required "pec" .pec}}
// and {{.pec | required "pec"}} read naturally.
func required(name, value string) (string, error) {
	if strings.TrimSpace(value) == "" {
		return "", &helperError{kind: ErrEmptyField, field: name,
			msg: fmt.Sprintf("required field %q is empty: fill it in for this row", name)}
	}
	return value, nil
}

// defaultValue returns value, or def when value is empty or only spaces:
// {{.telefono | default "n/d"}}. A missing column is still an error.
func defaultValue(def, value string) string {
	if strings.TrimSpace(value) == "" {
		return def
	}
	return value
}

// title capitalises each word for Italian ("MARIO DE ROSSI" → "Mario De
// Rossi"). Unicode word breaking keeps an apostrophe inside a word, which
// would give "D'angelo"; Italian names and elisions want the letter after it
// capitalised too ("D'Angelo", "Dell'Acqua"), so each apostrophe-separated
// part is titled on its own. The Caser is created per call because a Caser
// is stateful and must not be shared between goroutines.
func title(s string) string {
	c := cases.Title(language.Italian)
	if !strings.ContainsAny(s, "'’") {
		return c.String(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for {
		i := strings.IndexAny(s, "'’")
		if i < 0 {
			b.WriteString(c.String(s))
			return b.String()
		}
		size := 1
		if s[i] != '\'' {
			size = len("’")
		}
		b.WriteString(c.String(s[:i]))
		b.WriteString(s[i : i+size])
		s = s[i+size:]
	}
}

// get returns the column named key: for names that are not identifiers,
// such as "Ragione sociale". A missing column is an error, like {{.x}}.
func get(d Data, key string) (string, error) {
	v, ok := d[key]
	if !ok {
		return "", missingField(key)
	}
	return v, nil
}

// nl2brText is nl2br in a text template: plain text already breaks lines at
// newlines, so the value is returned as is, letting the same snippet serve in
// both kinds of template.
func nl2brText(s string) string { return s }

// nl2brHTML escapes s and turns each line break (\n, \r\n or \r) into
// <br>, returning trusted HTML so html/template does not escape it again.
func nl2brHTML(s string) htemplate.HTML {
	var b strings.Builder
	b.Grow(len(s) + len(s)/8)
	for {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			b.WriteString(htemplate.HTMLEscapeString(s))
			break
		}
		b.WriteString(htemplate.HTMLEscapeString(s[:i]))
		b.WriteString("<br>\n")
		if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
			i++
		}
		s = s[i+1:]
	}
	return htemplate.HTML(b.String())
}
