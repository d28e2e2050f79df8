package template

import (
	"errors"
	"strings"
	"testing"
)

// renderText parses and executes a text template in one go.
func renderText(t *testing.T, src string, d Data) (string, error) {
	t.Helper()
	tt, err := ParseText("t.txt", src)
	if err != nil {
		t.Fatalf("ParseText(%q): %v", src, err)
	}
	return tt.ExecuteString(d, testLimit)
}

func renderHTML(t *testing.T, src string, d Data) (string, error) {
	t.Helper()
	h, err := ParseHTML("t.html", src)
	if err != nil {
		t.Fatalf("ParseHTML(%q): %v", src, err)
	}
	var b strings.Builder
	err = h.Execute(&b, d, testLimit)
	return b.String(), err
}

func TestHelpers(t *testing.T) {
	row := Data{
		"pec":             "mario.rossi@pec.it",
		"vuoto":           "",
		"spazi":           "   ",
		"nome":            "MARIO DE ROSSI",
		"cognome":         "d'angelo",
		"importo":         "1234,5",
		"scadenza":        "25/11/2026",
		"note":            "riga 1\nriga <2>\r\nriga & 3",
		"Ragione sociale": "Rossi & Figli S.r.l.",
	}
	tests := []struct {
		name, src, want string
	}{
		{"required call", `{{required "pec" .pec}}`, "mario.rossi@pec.it"},
		{"required pipeline", `{{.pec | required "pec"}}`, "mario.rossi@pec.it"},
		{"default keeps value", `{{.pec | default "n/d"}}`, "mario.rossi@pec.it"},
		{"default on empty", `{{.vuoto | default "n/d"}}`, "n/d"},
		{"default on spaces", `{{default "n/d" .spazi}}`, "n/d"},
		{"upper", `{{upper .cognome}}`, "D'ANGELO"},
		{"upper accents", `{{upper "niccolò"}}`, "NICCOLÒ"},
		{"lower", `{{.nome | lower}}`, "mario de rossi"},
		{"title", `{{title .nome}}`, "Mario De Rossi"},
		{"title apostrophe", `{{title .cognome}}`, "D'Angelo"},
		{"title typographic apostrophe", `{{title "DELL’ACQUA"}}`, "Dell’Acqua"},
		{"title accents", `{{title "ZOË NICCOLÒ"}}`, "Zoë Niccolò"},
		{"title empty", `{{title .vuoto}}`, ""},
		{"trim", `[{{trim "  a b  "}}]`, "[a b]"},
		{"euro call", `{{euro .importo}}`, "1.234,50"},
		{"euro pipeline", `{{.importo | euro}}`, "1.234,50"},
		{"euro number", `{{euro 1234.5}}`, "1.234,50"},
		{"date", `{{date "2 January 2006" .scadenza}}`, "25 novembre 2026"},
		{"date pipeline", `{{.scadenza | date "Monday"}}`, "mercoledì"},
		{"get", `{{get . "Ragione sociale"}}`, "Rossi & Figli S.r.l."},
		{"get with dollar inside with", `{{with .pec}}{{get $ "Ragione sociale"}}{{end}}`, "Rossi & Figli S.r.l."},
		{"nl2br in text keeps text", `{{nl2br .note}}`, "riga 1\nriga <2>\r\nriga & 3"},
		{"chained helpers", `{{.vuoto | default "mario" | title}}`, "Mario"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := renderText(t, tt.src, row)
			if err != nil {
				t.Fatalf("render %q: %v", tt.src, err)
			}
			if got != tt.want {
				t.Errorf("render %q = %q, want %q", tt.src, got, tt.want)
			}
		})
	}
}

func TestHelperErrors(t *testing.T) {
	row := Data{"pec": "", "spazi": " \t", "importo": "12 euro", "scadenza": "31/02/2026", "x": "1"}
	tests := []struct {
		name, src string
		kind      error
		field     string
		msg       string
	}{
		{"required empty", "Oggetto\n{{required \"pec\" .pec}}", ErrEmptyField, "pec",
			`template t.txt: line 2: required field "pec" is empty: fill it in for this row`},
		{"required spaces in pipeline", `{{.spazi | required "indirizzo"}}`, ErrEmptyField, "indirizzo",
			`template t.txt: line 1: required field "indirizzo" is empty: fill it in for this row`},
		{"euro unreadable", `{{euro .importo}}`, ErrInvalidValue, "",
			`template t.txt: line 1: euro: "12 euro" is not an amount: write it like 1234,50 or 1.234,50`},
		{"date unreadable", `{{date "2 January 2006" .scadenza}}`, ErrInvalidValue, "",
			`template t.txt: line 1: date: "31/02/2026" is not a date: write it as 31/12/2026, 2026-12-31 or 2026-12-31T09:30:00+01:00`},
		{"get missing column", "a\nb\n{{get . \"Ragione sociale\"}}", ErrMissingField, "Ragione sociale",
			`template t.txt: line 3: missing field "Ragione sociale": the row has no such column (check the spelling against the CSV header)`},
		{"missing field", "Gentile {{.nome}}", ErrMissingField, "nome",
			`template t.txt: line 1: missing field "nome": the row has no such column (check the spelling against the CSV header)`},
		{"missing field in default", `{{.telefono | default "n/d"}}`, ErrMissingField, "telefono",
			`template t.txt: line 1: missing field "telefono": the row has no such column (check the spelling against the CSV header)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := renderText(t, tt.src, row)
			if err == nil {
				t.Fatalf("render %q = %q, want an error", tt.src, got)
			}
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("error %v is not %v", err, tt.kind)
			}
			if te.Field != tt.field {
				t.Errorf("Field = %q, want %q", te.Field, tt.field)
			}
			if err.Error() != tt.msg {
				t.Errorf("error\n got %s\nwant %s", err, tt.msg)
			}
		})
	}
}

func TestNl2brHTML(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", "", ""},
		{"no newline", "a & b", "a &amp; b"},
		{"lf", "a\nb", "a<br>\nb"},
		{"crlf", "a\r\nb", "a<br>\nb"},
		{"cr", "a\rb", "a<br>\nb"},
		{"blank line", "a\n\nb", "a<br>\n<br>\nb"},
		{"trailing", "a\n", "a<br>\n"},
		{"escapes markup", "<script>alert('x')</script>\n\"q\"", "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;<br>\n&#34;q&#34;"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(nl2brHTML(tt.in)); got != tt.want {
				t.Errorf("nl2brHTML(%q) = %q, want %q", tt.in, got, tt.want)
			}
			got, err := renderHTML(t, `<p>{{nl2br .note}}</p>`, Data{"note": tt.in})
			if err != nil {
				t.Fatal(err)
			}
			if want := "<p>" + tt.want + "</p>"; got != want {
				t.Errorf("in a template: %q, want %q", got, want)
			}
		})
	}
}
