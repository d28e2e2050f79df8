package campaign

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

const brokenCampaign = `name: prova-errori
api:
  token: ${PECMASSIVA_TOKEN}
sender:
  address: ufficio@pec.esempio.it
  username: ${PEC_USERNAME}
  password: ${PEC_PASSWORD}
recipients:
  file: destinatari.csv
  to: "{{.pec}}"
  key: "{{.codice}}"
message:
  subject: "Fattura {{.numero}}"
  body: corpo.html
  max_size: 3KB
  attachments:
    - file: "{{.allegato}}"
    - name: "{{.titolo}}.txt"
      template: riepilogo.txt
`

// brokenFiles has one row per kind of row problem.
func brokenFiles() map[string]string {
	rows := []string{
		"pec;nome;numero;codice;importo;allegato",
		"mario.rossi@pec.it;Mario;1;C1;10,50;fatture/1.pdf",
		"mario.rossi@;Mario;2;C2;10;fatture/1.pdf",
		"Mario Rossi <mario@pec.it>;Mario;3;C3;10;fatture/1.pdf",
		"a@pec.it; ;4;C4;10;fatture/1.pdf",
		"b@pec.it;Bruno;5;C5;abc;fatture/1.pdf",
		"c@pec.it;Carla;6;C6;10;../../etc/passwd",
		"d@pec.it;Dario;7;C7;10;/etc/passwd",
		"e@pec.it;Elena;8;C8;10;programma.exe",
		"f@pec.it;Franco;9;C9;10;mancante.pdf",
		"g@pec.it;Gina;10;C10;10;finto.pdf",
		"h@pec.it;Ugo;11;C11;10;vuoto.pdf",
		"i@pec.it;Ivo;12;C12;10;grande.pdf",
		"l@pec.it;Lia;13;C1;10;fatture/1.pdf",
		"m@pec.it;Mia;14;C14",
		"n@pec.it;<b>Rossi & Figli</b>;15;C15;10;fatture/1.pdf",
		"o@pec.it;Niccol\xf2;16;C16;10;fatture/1.pdf",
		"p@pec.it;Pia;\"17\nbis\";C17;10;fatture/1.pdf",
	}
	f := baseFiles()
	f["destinatari.csv"] = strings.Join(rows, "\n") + "\n"
	f["corpo.html"] = "<p>Gentile {{required \"nome\" .nome}}, importo {{euro .importo}}.</p>\n"
	f["programma.exe"] = "MZ"
	f["mancante.pdf.bak"] = minimalPDF
	f["finto.pdf"] = "\x89PNG\r\n\x1a\n0000"
	f["vuoto.pdf"] = ""
	f["grande.pdf"] = minimalPDF + strings.Repeat("%", 2500)
	return f
}

func TestPreflightProblems(t *testing.T) {
	path := writeCampaign(t, brokenCampaign, brokenFiles())
	rep := validate(t, path, PreflightOptions{})
	var out bytes.Buffer
	if err := rep.WriteText(&out, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	goldenCampaign(t, "preflight-problems.txt", out.Bytes())
	if rep.OK() || rep.Err() == nil || !errors.Is(rep.Err(), ErrInvalidInput) {
		t.Fatalf("the report of a broken campaign is OK")
	}
	for _, p := range rep.Problems {
		// Every problem names its file and, in the CSV, its line, row and
		// field; a ragged row has no field to name.
		ragged := strings.Contains(p.Message, "fields where the header has")
		if p.File == "" || p.Message == "" || (p.File == "destinatari.csv" && (p.Line == 0 || p.Row == 0 || (p.Field == "" && !ragged))) {
			t.Errorf("problem does not say where and what: %#v", p)
		}
	}
	// The column missing from the header is reported once, not per row.
	if n := strings.Count(out.String(), `column "titolo" is not in the header`); n != 1 {
		t.Errorf("missing column reported %d times, want once", n)
	}
}

func TestPreflightSummary(t *testing.T) {
	files := baseFiles()
	var csv strings.Builder
	csv.WriteString("pec;nome;numero\n")
	for i := 1; i <= 7; i++ {
		to := fmt.Sprintf("r%d@pec.it", i)
		if i == 3 {
			to = "r3@pec.it,altro@pec.it"
		}
		fmt.Fprintf(&csv, "%s;N%d;%d\n", to, i, 1+i%2)
	}
	files["destinatari.csv"] = csv.String()
	yaml := baseCampaign + "sending:\n  rate: 30/m\n  daily_limit: 3\n"
	c := mustLoad(t, writeCampaign(t, yaml, files))
	rep, rows := collectRows(t, c, 2)
	if !rep.OK() {
		t.Fatal(problemStrings(rep.Problems))
	}
	s := rep.Summary
	var total, largest int64
	largestRow := 0
	for _, r := range rows {
		total += int64(r.Size)
		if int64(r.Size) > largest {
			largest, largestRow = int64(r.Size), r.Row
		}
	}
	want := Summary{Rows: 7, Messages: 7, Recipients: 8, DistinctKeys: 7, TotalSize: total, LargestSize: largest, LargestRow: largestRow,
		Rate: c.Sending.Rate, SendingTime: 14 * time.Second, DailyLimit: 3, Days: 3}
	if s != want {
		t.Fatalf("summary\n %+v\nwant\n %+v", s, want)
	}
	if rep.RecipientsSHA256 != fmt.Sprintf("%x", sha256Of(csv.String())) {
		t.Errorf("RecipientsSHA256 is not the file's hash")
	}
	for i, r := range rows {
		if r.Row != i+1 {
			t.Fatalf("OnRow out of order: %d at %d", r.Row, i)
		}
	}
}

func TestPreflightDuplicates(t *testing.T) {
	files := baseFiles()
	files["destinatari.csv"] = "pec;nome;numero\nmario@pec.it;Mario;1\nMARIO@pec.it;Mario bis;2\ngiulia@pec.it;Giulia;1\nmario@pec.it; Mario ter;1\n"
	tests := []struct {
		policy   string
		problems string
		warnings string
		keys     string
	}{
		{"error",
			"destinatari.csv:3: row 2: column \"pec\": mario@pec.it: the same recipients as row 1 (line 2): the same message would be sent twice; remove one row, or set recipients.duplicates: skip to send only the first\n" +
				"destinatari.csv:5: row 4: column \"pec\": mario@pec.it: the same recipients as row 1 (line 2): the same message would be sent twice; remove one row, or set recipients.duplicates: skip to send only the first",
			"", "mario@pec.it giulia@pec.it"},
		{"skip", "",
			"destinatari.csv:3: row 2: column \"pec\": mario@pec.it: the same recipients as row 1 (line 2): skipped (recipients.duplicates: skip)\n" +
				"destinatari.csv:5: row 4: column \"pec\": mario@pec.it: the same recipients as row 1 (line 2): skipped (recipients.duplicates: skip)",
			"mario@pec.it giulia@pec.it"},
	}
	for _, tt := range tests {
		t.Run(tt.policy, func(t *testing.T) {
			yaml := edit(`  to: "{{.pec}}"`, "  to: \"{{.pec}}\"\n  duplicates: "+tt.policy)
			c := mustLoad(t, writeCampaign(t, yaml, files))
			rep, rows := collectRows(t, c, 4)
			if got := problemStrings(rep.Problems); got != tt.problems {
				t.Errorf("problems:\n%s\nwant:\n%s", got, tt.problems)
			}
			if got := problemStrings(rep.Warnings); got != tt.warnings {
				t.Errorf("warnings:\n%s\nwant:\n%s", got, tt.warnings)
			}
			var keys []string
			for _, r := range rows {
				keys = append(keys, r.Key)
			}
			if strings.Join(keys, " ") != tt.keys {
				t.Errorf("rows to send: %v, want %s", keys, tt.keys)
			}
			// Messages follows the same policy.
			var msgKeys []string
			for m, err := range c.Messages(t.Context(), nil) {
				if err == nil {
					msgKeys = append(msgKeys, m.Key)
				}
			}
			if strings.Join(msgKeys, " ") != tt.keys {
				t.Errorf("Messages yields %v, want %s", msgKeys, tt.keys)
			}
			// Selecting only the later duplicate still knows the earlier one.
			for m, err := range c.Messages(t.Context(), func(row int) bool { return row == 4 }) {
				if tt.policy == "error" && (err == nil || !strings.Contains(err.Error(), "row 1 (line 2)")) {
					t.Errorf("row 4 alone: %v, %v; want the duplicate error", m, err)
				}
				if tt.policy == "skip" {
					t.Errorf("row 4 alone yielded %v, %v; want it skipped", m, err)
				}
			}
			if rep.Summary.DistinctKeys != 2 {
				t.Errorf("DistinctKeys = %d, want 2", rep.Summary.DistinctKeys)
			}
		})
	}
}

// bigCampaign writes a campaign of n rows, every tenth one broken.
func bigCampaign(t *testing.T, n int) string {
	files := baseFiles()
	var csv strings.Builder
	csv.WriteString("pec;nome;numero\n")
	for i := 1; i <= n; i++ {
		num := 1 + i%2
		switch {
		case i%10 == 0:
			fmt.Fprintf(&csv, "r%d@;N%d;%d\n", i, i, num)
		case i%15 == 0:
			fmt.Fprintf(&csv, "r%d@pec.it;N%d;%d\n", i, i, 3)
		default:
			fmt.Fprintf(&csv, "r%d@pec.it;N%d;%d\n", i, i, num)
		}
	}
	files["destinatari.csv"] = csv.String()
	return writeCampaign(t, baseCampaign, files)
}

func TestPreflightWorkersAgree(t *testing.T) {
	path := bigCampaign(t, 400)
	var first string
	for _, workers := range []int{1, 2, 4} {
		rep := validate(t, path, PreflightOptions{Workers: workers})
		var out bytes.Buffer
		if err := rep.WriteText(&out, TextOptions{MaxListed: 1000}); err != nil {
			t.Fatal(err)
		}
		if rep.ProblemCount != 40+13 {
			t.Errorf("%d workers: %d problems", workers, rep.ProblemCount)
		}
		if first == "" {
			first = out.String()
			continue
		}
		if out.String() != first {
			t.Fatalf("%d workers report differently:\n%s\nvs\n%s", workers, out.String(), first)
		}
	}
}

func TestPreflightLimitsTheListing(t *testing.T) {
	path := bigCampaign(t, 400)
	rep := validate(t, path, PreflightOptions{MaxProblems: 5})
	if len(rep.Problems) != 5 || rep.ProblemCount != 53 {
		t.Fatalf("kept %d of %d problems, want 5 of 53", len(rep.Problems), rep.ProblemCount)
	}
	var out bytes.Buffer
	if err := rep.WriteText(&out, TextOptions{MaxListed: 3}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "... and 50 more problems\n") || !strings.Contains(out.String(), "53 problems: nothing can be sent") {
		t.Fatalf("listing:\n%s", out.String())
	}
	if err := rep.Err(); err == nil || !strings.Contains(err.Error(), "53 problems:") {
		t.Fatalf("Err() = %v", err)
	}
}

func TestPreflightStops(t *testing.T) {
	c := mustLoad(t, bigCampaign(t, 300))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.Preflight(ctx, PreflightOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled preflight: %v", err)
	}
	stop := errors.New("journal full")
	calls := 0
	_, err := c.Preflight(t.Context(), PreflightOptions{Workers: 2, OnRow: func(*RowResult) error {
		calls++
		if calls == 3 {
			return stop
		}
		return nil
	}})
	if !errors.Is(err, stop) || calls != 3 {
		t.Fatalf("OnRow error: %v after %d calls", err, calls)
	}
}

func TestPreflightHeaderProblems(t *testing.T) {
	tests := []struct {
		name, csv, want string
	}{
		{"header only", "pec;nome;numero\n", "destinatari.csv:1: the file has a header but no rows: add one line per recipient"},
		{"empty", "", "destinatari.csv: the file is empty: it needs a header line naming the columns and one line per recipient"},
		{"missing column", "email;nome;numero\nmario@pec.it;Mario;1\n",
			`campaign.yaml:10: recipients.to: column "pec" is not in the header of destinatari.csv (columns: email, nome, numero)`},
		{"column in the wrong case", "PEC;nome;numero\nmario@pec.it;Mario;1\n",
			`campaign.yaml:10: recipients.to: column "pec" is not in the header of destinatari.csv: did you mean "PEC"? (names are case-sensitive) (columns: PEC, nome, numero)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := baseFiles()
			files["destinatari.csv"] = tt.csv
			rep := validate(t, writeCampaign(t, baseCampaign, files), PreflightOptions{})
			if got := problemStrings(rep.Problems); got != tt.want {
				t.Fatalf("problems:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestValidateFileGoesOnAfterLoadProblems(t *testing.T) {
	yaml := edit(`"Sollecito fattura {{.numero}}"`, `"Sollecito fattura {{.numero"`) + "colour: blue\n"
	files := baseFiles()
	files["destinatari.csv"] = "pec;nome;numero\nmario@;Mario;1\n"
	rep := validate(t, writeCampaign(t, yaml, files), PreflightOptions{})
	got := problemStrings(rep.Problems)
	for _, want := range []string{"campaign.yaml:16: colour: unknown key", "campaign.yaml:12: message.subject: template:", `destinatari.csv:2: row 1: column "pec": "mario@" is not a valid address`} {
		if !strings.Contains(got, want) {
			t.Errorf("problems do not include %q:\n%s", want, got)
		}
	}
	rep = validate(t, "/nonexistent/campaign.yaml", PreflightOptions{})
	if got := problemStrings(rep.Problems); got != "/nonexistent/campaign.yaml: no such file: check the path of the campaign file" {
		t.Errorf("missing campaign file: %s", got)
	}
}
