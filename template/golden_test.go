package template

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenRows are realistic Italian rows, one of them hostile: markup,
// quotes and a javascript: URL must come out escaped in HTML.
var goldenRows = map[string]Data{
	"ordinaria": {
		"Ragione sociale": "Rossi & Figli S.r.l.",
		"referente":       "MARIO DE ROSSI",
		"tipo":            "ACCERTAMENTO",
		"protocollo":      "2026/0457",
		"data":            "2026-11-25",
		"motivazione":     "Omesso versamento IMU 2024.\nRata n. 2 <non pagata>.\nVedi \"allegato\" & riepilogo.",
		"importo":         "1.234,5",
		"scadenza":        "31/12/2026",
		"iban":            "IT60X0542811101000000123456",
		"contatto":        "tributi@pec.comune.esempio.it",
		"link":            "https://comune.esempio.it/pratiche?id=457&x=1",
		"telefono":        "",
	},
	"ostile": {
		"Ragione sociale": `<script>alert("x")</script> & Co.`,
		"referente":       "d'angelo niccolò",
		"tipo":            "Sospensione",
		"protocollo":      `<b>1</b>`,
		"data":            "2026-02-01T10:00:00+01:00",
		"motivazione":     "riga uno\r\nriga <img src=x onerror=alert(1)>",
		"importo":         "-3",
		"scadenza":        "1/2/2027",
		"iban":            "",
		"contatto":        `x" onclick="alert(1)@pec.it`,
		"link":            "javascript:alert(1)",
		"telefono":        "06 1234 5678",
	},
}

var benchRow = Data{
	"email":    "cliente42@pec.example.it",
	"nome":     "Niccolò",
	"cognome":  "D'Angelo",
	"numero":   "2026/000042",
	"importo":  "12345,07",
	"scadenza": "31/12/2026",
	"allegato": "allegati/fattura-000042.pdf",
}

func TestGolden(t *testing.T) {
	cases := []struct {
		file string
		rows map[string]Data
	}{
		{"avviso.html", goldenRows},
		{"riepilogo.txt", goldenRows},
		{"oggetto.txt", goldenRows},
		{"bench-body.html", map[string]Data{"fattura": benchRow}},
	}
	for _, c := range cases {
		src, err := os.ReadFile(filepath.Join("testdata", c.file))
		if err != nil {
			t.Fatal(err)
		}
		var r Renderer
		if strings.HasSuffix(c.file, ".html") {
			r, err = ParseHTML(c.file, string(src))
		} else {
			r, err = ParseText(c.file, string(src))
		}
		if err != nil {
			t.Fatal(err)
		}
		for rowName, row := range c.rows {
			t.Run(c.file+"/"+rowName, func(t *testing.T) {
				var b bytes.Buffer
				if err := r.Execute(&b, row, testLimit); err != nil {
					t.Fatal(err)
				}
				golden := filepath.Join("testdata", "golden", c.file+"."+rowName+".golden")
				if *update {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test -update to create it)", err)
				}
				if !bytes.Equal(b.Bytes(), want) {
					t.Errorf("%s differs from %s (run go test -update after checking):\n%s", c.file, golden, b.String())
				}
			})
		}
	}
}
