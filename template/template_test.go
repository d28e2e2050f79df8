package template

import (
	"bytes"
	"errors"
	"fmt"
	htemplate "html/template"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestHTMLEscaping(t *testing.T) {
	tests := []struct {
		name, src string
		value     string
		want      string
	}{
		{"script in text", `<p>{{.v}}</p>`, `<script>alert(1)</script>`, `<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>`},
		{"ampersand", `<p>{{.v}}</p>`, `Rossi & Figli`, `<p>Rossi &amp; Figli</p>`},
		{"quotes in attribute", `<td title="{{.v}}">x</td>`, `a" onmouseover="alert(1)`, `<td title="a&#34; onmouseover=&#34;alert(1)">x</td>`},
		{"single quotes in attribute", `<td title='{{.v}}'>x</td>`, `a' onclick='x`, `<td title='a&#39; onclick=&#39;x'>x</td>`},
		{"unquoted attribute", `<td class={{.v}}>x</td>`, `a onclick=x`, `<td class=a&#32;onclick&#61;x>x</td>`},
		{"javascript url refused", `<a href="{{.v}}">x</a>`, `javascript:alert(1)`, `<a href="#ZgotmplZ">x</a>`},
		{"https url kept", `<a href="{{.v}}">x</a>`, `https://esempio.it/fattura?n=1&a=2`, `<a href="https://esempio.it/fattura?n=1&amp;a=2">x</a>`},
		{"url query escaped", `<a href="https://esempio.it/?n={{.v}}">x</a>`, `2026/1 & "x"`, `<a href="https://esempio.it/?n=2026%2f1%20%26%20%22x%22">x</a>`},
		{"mailto", `<a href="mailto:{{.v}}">x</a>`, `mario@pec.it`, `<a href="mailto:mario@pec.it">x</a>`},
		{"value in script", `<script>var n = {{.v}};</script>`, `</script><script>alert(1)`, `<script>var n = "\u003c/script\u003e\u003cscript\u003ealert(1)";</script>`},
		{"helper output escaped", `<p>{{title .v}}</p>`, `<b>rossi</b>`, `<p>&lt;B&gt;Rossi&lt;/B&gt;</p>`},
		{"get escaped", `<p>{{get . "v"}}</p>`, `<i>`, `<p>&lt;i&gt;</p>`},
		{"default escaped", `<p>{{.v | default "<n/d>"}}</p>`, ``, `<p>&lt;n/d&gt;</p>`},
		// In an attribute html/template strips the tags of trusted HTML.
		{"nl2br in attribute", `<p title="{{nl2br .v}}">x</p>`, "a\n<b>", "<p title=\"a\n&lt;b&gt;\">x</p>"},
		{"utf-8 untouched", `<p>{{.v}}</p>`, `Niccolò Zoë €`, `<p>Niccolò Zoë €</p>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := renderHTML(t, tt.src, Data{"v": tt.value})
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// The text templates must not escape: the subject "Rossi & Figli" is sent as is.
func TestTextDoesNotEscape(t *testing.T) {
	got, err := renderText(t, `Sollecito {{.v}}`, Data{"v": `Rossi & Figli <srl>`})
	if err != nil {
		t.Fatal(err)
	}
	if want := `Sollecito Rossi & Figli <srl>`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src string
		html      bool
		msg       string
	}{
		{"unclosed action", "riga 1\nriga 2 {{.x}", false, `template corpo: line 2: bad character U+007D '}'`},
		{"unknown function", "a\nb\n{{env \"HOME\"}}", false, `template corpo: line 3: function "env" not defined`},
		{"no readFile", `{{readFile "/etc/passwd"}}`, true, `template corpo: line 1: function "readFile" not defined`},
		{"no exec", `{{exec "ls"}}`, false, `template corpo: line 1: function "exec" not defined`},
		{"unclosed if", "{{if .x}}\nsi", true, `template corpo: line 2: unexpected EOF`},
		// The context dump after the colon varies between Go releases.
		{"escaping branches differ", "<p>\n<a href=\"{{if .x}}x\">{{end}}\n", true,
			`template corpo: line 2: {{if}} branches end in different contexts: `},
		{"html missing template", "<p>\n{{template \"altro\" .}}", true, `template corpo: line 2: no such template "altro"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.html {
				_, err = ParseHTML("corpo", tt.src)
			} else {
				_, err = ParseText("corpo", tt.src)
			}
			if err == nil {
				t.Fatal("no error")
			}
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			if te.Template != "corpo" || te.Line == 0 {
				t.Errorf("Template = %q, Line = %d", te.Template, te.Line)
			}
			if got := err.Error(); got != tt.msg && !(strings.HasSuffix(tt.msg, ": ") && strings.HasPrefix(got, tt.msg)) {
				t.Errorf("error\n got %s\nwant %s", err, tt.msg)
			}
		})
	}
}

func TestExecErrors(t *testing.T) {
	tests := []struct {
		name, src string
		text      bool // text/template only
		msg       string
	}{
		{"missing field names line and column", "<html>\n<body>\n<p>{{.x}}</p>", false, `template body.html: line 3: missing field "x": the row has no such column (check the spelling against the CSV header)`},
		{"missing field via dollar", "{{with .a}}\n{{$.zz}}{{end}}", false, `template body.html: line 2: missing field "zz": the row has no such column (check the spelling against the CSV header)`},
		{"field of a value", "{{.a.b}}", false, `template body.html: line 1: at <.a.b>: can't evaluate field b in type string`},
		{"get on a string", "{{with .a}}{{get . \"b\"}}{{end}}", false, `template body.html: line 1: at <.>: wrong type for value; expected template.Data; got string`},
		// html/template finds this one at parse time (see TestParseErrors).
		{"missing defined template", `{{template "altro" .}}`, true, `template body.html: line 1: at <{{template "altro" .}}>: template "altro" not defined`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Renderer
			var err error
			if tt.text {
				r, err = ParseText("body.html", tt.src)
			} else {
				r, err = ParseHTML("body.html", tt.src)
			}
			if err != nil {
				t.Fatal(err)
			}
			err = r.Execute(&bytes.Buffer{}, Data{"a": "1"}, testLimit)
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			if err.Error() != tt.msg {
				t.Errorf("error\n got %s\nwant %s", err, tt.msg)
			}
		})
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteError(t *testing.T) {
	tt, err := ParseText("s", "abc")
	if err != nil {
		t.Fatal(err)
	}
	err = tt.Execute(failingWriter{}, Data{}, testLimit)
	if err == nil || err.Error() != "template s: write: disk full" {
		t.Errorf("got %v", err)
	}
}

func TestEmptyTemplate(t *testing.T) {
	for _, parse := range []func(string, string) (Renderer, error){
		func(n, s string) (Renderer, error) { return ParseText(n, s) },
		func(n, s string) (Renderer, error) { return ParseHTML(n, s) },
	} {
		r, err := parse("vuoto", "")
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := r.Execute(&b, Data{"x": "1"}, testLimit); err != nil || b.Len() != 0 {
			t.Errorf("%s: got %q, %v", r.Name(), b.String(), err)
		}
		if len(r.Fields()) != 0 {
			t.Errorf("Fields = %q", r.Fields())
		}
	}
}

func TestFields(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"plain", "{{.nome}} {{.cognome}} {{.nome}}", []string{"nome", "cognome"}},
		{"nested field uses the column", "{{.a.b}}", []string{"a"}},
		{"helpers", `{{required "pec" .pec}} {{.importo | euro}} {{date "2006" .scadenza}}`, []string{"pec", "importo", "scadenza"}},
		{"get and index", `{{get . "Ragione sociale"}} {{index . "Codice fiscale"}}`, []string{"Ragione sociale", "Codice fiscale"}},
		{"if keeps dot", "{{if .a}}{{.b}}{{else}}{{.c}}{{end}}", []string{"a", "b", "c"}},
		{"with changes dot", "{{with .a}}{{.notacolumn}}{{$.b}}{{get $ \"c d\"}}{{else}}{{.e}}{{end}}", []string{"a", "b", "c d", "e"}},
		{"range changes dot", "{{range .a}}{{.x}}{{end}}", []string{"a"}},
		{"variables", "{{$r := .}}{{$r.x}}{{$.y}}", []string{"y"}},
		{"get on non-row", `{{with .a}}{{get . "x"}}{{end}}`, []string{"a"}},
		{"defined template with row", `{{define "f"}}{{.firma}}{{end}}{{.a}}{{template "f" .}}`, []string{"a", "firma"}},
		{"defined template with dollar", `{{define "f"}}{{.firma}}{{end}}{{with .a}}{{template "f" $}}{{end}}`, []string{"a", "firma"}},
		{"defined template with a value", `{{define "f"}}{{.x}}{{$.y}}{{end}}{{template "f" .a}}`, []string{"a"}},
		{"recursive template", `{{define "f"}}{{.x}}{{if .stop}}{{else}}{{template "f" .}}{{end}}{{end}}{{template "f" .}}`, []string{"x", "stop"}},
		{"block", `{{block "b" .}}{{.dentro}}{{end}}`, []string{"dentro"}},
		{"parenthesised", `{{(.a)}} {{printf "%s" (.b)}}`, []string{"a", "b"}},
		{"no fields", "testo fisso", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tx, err := ParseText("t", tt.src)
			if err != nil {
				t.Fatal(err)
			}
			if got := tx.Fields(); !slices.Equal(got, tt.want) {
				t.Errorf("text Fields = %q, want %q", got, tt.want)
			}
			h, err := ParseHTML("t", tt.src)
			if err != nil {
				t.Fatal(err)
			}
			if got := h.Fields(); !slices.Equal(got, tt.want) {
				t.Errorf("html Fields = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCheckColumns(t *testing.T) {
	h, err := ParseHTML("corpo.html", "<p>{{.nome}}</p>\n<p>{{.nmero}}</p>\n{{get . \"Ragione Sociale\"}}{{.nmero}}")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.CheckColumns([]string{"nome", "nmero", "Ragione Sociale", "extra"}); err != nil {
		t.Errorf("all present: %v", err)
	}
	err = h.CheckColumns([]string{"nome", "numero", "Ragione sociale"})
	want := `template corpo.html: line 2: missing field "nmero": the row has no such column (check the spelling against the CSV header)
template corpo.html: line 3: missing field "Ragione Sociale": the row has no such column (check the spelling against the CSV header)`
	if err == nil || err.Error() != want {
		t.Fatalf("got\n%v\nwant\n%s", err, want)
	}
	if !errors.Is(err, ErrMissingField) {
		t.Error("not ErrMissingField")
	}
	var te *Error
	if !errors.As(err, &te) || te.Field != "nmero" || te.Line != 2 {
		t.Errorf("first error: %+v", te)
	}
}

func TestTextCheckColumnsAndName(t *testing.T) {
	tx, err := ParseText("message.subject", "Fattura {{.numero}} {{.data}}")
	if err != nil {
		t.Fatal(err)
	}
	if tx.Name() != "message.subject" {
		t.Errorf("Name = %q", tx.Name())
	}
	if err := tx.CheckColumns([]string{"numero", "data"}); err != nil {
		t.Errorf("all present: %v", err)
	}
	err = tx.CheckColumns([]string{"numero"})
	var te *Error
	if !errors.As(err, &te) || te.Field != "data" || te.Line != 1 || te.Template != "message.subject" {
		t.Errorf("got %v", err)
	}
}

// The html/template escaping error stays reachable for callers that want it.
func TestEscapeErrorUnwraps(t *testing.T) {
	_, err := ParseHTML("corpo", `<a href="{{if .x}}x">{{end}}`)
	var he *htemplate.Error
	if !errors.As(err, &he) || he.ErrorCode != htemplate.ErrBranchEnd {
		t.Errorf("got %v", err)
	}
}

// Templates are parsed once and executed from many goroutines; run with -race.
func TestConcurrentExecute(t *testing.T) {
	h, err := ParseHTML("b", `<p>{{title .n}} {{euro .i}} {{date "2 January 2006" .d}}</p>`)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			var b bytes.Buffer
			for i := range 200 {
				b.Reset()
				d := Data{"n": "MARIO ROSSI", "i": fmt.Sprintf("%d,%02d", g*1000+i, i%100), "d": "25/11/2026"}
				if err := h.Execute(&b, d, testLimit); err != nil {
					errs <- err
					return
				}
				want := fmt.Sprintf("<p>Mario Rossi %s 25 novembre 2026</p>", mustEuro(t, d["i"]))
				if b.String() != want {
					errs <- fmt.Errorf("got %q, want %q", b.String(), want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func mustEuro(t *testing.T, s string) string {
	t.Helper()
	v, err := euro(s)
	if err != nil {
		t.Error(err)
	}
	return v
}

func TestExecuteStringError(t *testing.T) {
	tx, err := ParseText("oggetto", "Fattura {{.numero}}")
	if err != nil {
		t.Fatal(err)
	}
	got, err := tx.ExecuteString(Data{}, testLimit)
	if got != "" || !errors.Is(err, ErrMissingField) {
		t.Errorf("got %q, %v", got, err)
	}
	if !strings.Contains(err.Error(), `"numero"`) {
		t.Errorf("error does not name the field: %v", err)
	}
}
