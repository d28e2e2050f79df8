package template_test

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/pecbatch/pecbatch/template"
)

func ExampleParseHTML() {
	body, err := template.ParseHTML("corpo.html",
		`<p>Gentile {{title .nome}}, la fattura {{.numero}} di &euro; {{euro .importo}} scade il {{date "2 January 2006" .scadenza}}.</p>`)
	if err != nil {
		fmt.Println(err)
		return
	}
	var b bytes.Buffer
	// The limit is message.max_size: no row can render more than that.
	row := template.Data{"nome": "MARIO DE ROSSI", "numero": "2026/17", "importo": "1234,5", "scadenza": "31/12/2026"}
	if err := body.Execute(&b, row, 30_000_000); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(b.String())
	// Output:
	// <p>Gentile Mario De Rossi, la fattura 2026/17 di &euro; 1.234,50 scade il 31 dicembre 2026.</p>
}

func ExampleParseHTML_escaping() {
	body, _ := template.ParseHTML("corpo.html", `<p>Spett.le {{get . "Ragione sociale"}}</p>`)
	var b bytes.Buffer
	_ = body.Execute(&b, template.Data{"Ragione sociale": "Rossi & Figli <script>"}, 30_000_000)
	fmt.Println(b.String())
	// Output:
	// <p>Spett.le Rossi &amp; Figli &lt;script&gt;</p>
}

func ExampleText_Execute_missingField() {
	subject, _ := template.ParseText("message.subject", "Sollecito fattura {{.nmero}}")
	_, err := subject.ExecuteString(template.Data{"numero": "2026/17"}, 30_000_000)
	fmt.Println(err)
	fmt.Println(errors.Is(err, template.ErrMissingField))
	// Output:
	// template message.subject: line 1: missing field "nmero": the row has no such column (check the spelling against the CSV header)
	// true
}

func ExampleText_Execute_required() {
	to, _ := template.ParseText("recipients.to", `{{.pec | required "pec"}}`)
	_, err := to.ExecuteString(template.Data{"pec": " "}, 30_000_000)
	fmt.Println(err)
	// Output:
	// template recipients.to: line 1: required field "pec" is empty: fill it in for this row
}

func ExampleHTML_Execute_limit() {
	body, _ := template.ParseHTML("corpo.html", `{{range 200000000}}AAAAAAAAAA{{end}}`)
	var b bytes.Buffer
	err := body.Execute(&b, template.Data{}, 1_000_000)
	fmt.Println(err)
	fmt.Println(errors.Is(err, template.ErrTooLarge), b.Len() <= 1_000_000)
	// Output:
	// template corpo.html: the output is larger than 1000000 bytes
	// true true
}

func ExampleHTML_CheckColumns() {
	body, _ := template.ParseHTML("corpo.html", "<p>{{.nome}}</p>\n<p>{{get . \"Ragione sociale\"}}</p>")
	fmt.Println(body.Fields())
	fmt.Println(body.CheckColumns([]string{"nome", "ragione sociale"}))
	// Output:
	// [nome Ragione sociale]
	// template corpo.html: line 2: missing field "Ragione sociale": the row has no such column (check the spelling against the CSV header)
}
