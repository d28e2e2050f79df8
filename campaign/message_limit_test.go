package campaign

import (
	"strings"
	"testing"
	"time"
)

// A body or subject that renders far more than message.max_size is refused
// at the limit, row by row, in well under a second (issue 13: 8.5 GB and 38 s
// for three rows before it said "message is 2.0 GB > 30 MB"). max_size is
// 1 MB here so that the test stays quick under -race.
func TestPreflightHugeTemplate(t *testing.T) {
	const loop = `{{range 200000000}}AAAAAAAAAA{{end}}`
	tests := []struct {
		name, subject, body string
		field, want         string
	}{
		{"body", `Sollecito {{.numero}}`, loop, "body",
			"the message is larger than 1.0 MB (message.max_size): corpo.html renders more than that for this row; check its loops, or raise max_size (at most 100MB, the Flat plan)"},
		{"subject", `Sollecito {{.numero}}` + loop, "<p>{{.nome}}</p>", "subject",
			"message.subject renders more than 64.0 KB for this row, far more than it can need: check its loops"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := baseFiles()
			files["corpo.html"] = tt.body
			files["destinatari.csv"] += "luca.verdi@pec.it;Luca;1\n"
			campaign := strings.Replace(baseCampaign, `"Sollecito fattura {{.numero}}"`, `"`+tt.subject+`"`, 1)
			campaign = strings.Replace(campaign, "  body: corpo.html\n", "  body: corpo.html\n  max_size: 1MB\n", 1)
			path := writeCampaign(t, campaign, files)
			start := time.Now()
			rep := validate(t, path, PreflightOptions{})
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("validate took %v: rendering did not stop at the limit", d)
			}
			if len(rep.Problems) != 3 {
				t.Fatalf("%d problems, want one per row:\n%s", len(rep.Problems), problemStrings(rep.Problems))
			}
			for i, p := range rep.Problems {
				if p.Row != i+1 || p.Field != tt.field || p.Message != tt.want {
					t.Errorf("problem %d: %s\nwant row %d: %s: %s", i, p, i+1, tt.field, tt.want)
				}
			}
		})
	}
}
