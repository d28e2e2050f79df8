package campaign

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// canonical builds the bytes ContentHash hashes, straight from its
// documented definition.
func canonical(recipients []string, subject string, body []byte, atts []Attachment) []byte {
	var b []byte
	u64 := func(n int) { b = binary.BigEndian.AppendUint64(b, uint64(n)) }
	str := func(s string) { u64(len(s)); b = append(b, s...) }
	b = append(b, "pecbatch message v1\n"...)
	u64(len(recipients))
	for _, r := range recipients {
		str(r)
	}
	str(subject)
	str(string(body))
	u64(len(atts))
	for _, a := range atts {
		str(a.Name)
		str(a.ContentType)
		u64(len(a.Content))
		sum := sha256.Sum256(a.Content)
		b = append(b, sum[:]...)
	}
	return b
}

func TestContentHashDefinition(t *testing.T) {
	tests := []struct {
		name       string
		recipients []string
		subject    string
		body       string
		atts       []Attachment
	}{
		{"no attachments", []string{"a@pec.it"}, "Oggetto", "<p>x</p>", nil},
		{"two recipients, two attachments", []string{"a@pec.it", "b@pec.it"}, "Oggetto", "<p>x</p>",
			[]Attachment{{"a.pdf", "application/pdf", []byte(minimalPDF)}, {"b.txt", "text/plain", []byte("ciao")}}},
		{"empty parts", nil, "", "", []Attachment{{"", "", nil}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sum := sha256.Sum256(canonical(tt.recipients, tt.subject, []byte(tt.body), tt.atts))
			if got, want := ContentHash(tt.recipients, tt.subject, []byte(tt.body), tt.atts), hex.EncodeToString(sum[:]); got != want {
				t.Fatalf("ContentHash = %s, want %s", got, want)
			}
		})
	}
	// Length prefixes keep the parts apart: moving a byte from one part
	// to the next changes the hash.
	a := ContentHash([]string{"a@pec.it"}, "ab", []byte("c"), nil)
	b := ContentHash([]string{"a@pec.it"}, "a", []byte("bc"), nil)
	if a == b {
		t.Fatal("subject and body are not delimited")
	}
}

// collectRows runs preflight and returns the rows it accepted.
func collectRows(t *testing.T, c *Campaign, workers int) (*PreflightReport, []*RowResult) {
	t.Helper()
	var rows []*RowResult
	rep, err := c.Preflight(t.Context(), PreflightOptions{Workers: workers, OnRow: func(r *RowResult) error {
		rows = append(rows, r)
		return nil
	}})
	if err != nil {
		t.Fatalf("Preflight: %v", err)
	}
	return rep, rows
}

// renderedCampaign has a file attachment, a rendered text one and a
// rendered HTML one, and a row with two recipients.
func renderedCampaign(t *testing.T) *Campaign {
	t.Helper()
	yaml := edit(`    - file: "fatture/{{.numero}}.pdf"`, `    - file: "fatture/{{.numero}}.pdf"
      name: "Fattura {{.numero}}.pdf"
    - name: "riepilogo-{{.numero}}.txt"
      template: riepilogo.txt
    - template: informativa.html`)
	files := baseFiles()
	files["destinatari.csv"] = "pec;nome;numero\nMario.Rossi@PEC.it; mario.rossi@pec.it ;1\nGiulia.Bianchi@pec.it;<script>alert(1)</script> Rossi & Figli;2\n"
	files["destinatari.csv"] = strings.Replace(files["destinatari.csv"], "Giulia.Bianchi@pec.it;", "\"Giulia.Bianchi@pec.it, ufficio@pec.it\";", 1)
	return mustLoad(t, writeCampaign(t, yaml, files))
}

func TestPreflightAndMessagesAgree(t *testing.T) {
	c := renderedCampaign(t)
	rep, rows := collectRows(t, c, 3)
	if !rep.OK() {
		t.Fatalf("problems: %s", problemStrings(rep.Problems))
	}
	if len(rows) != 2 {
		t.Fatalf("OnRow called %d times, want 2", len(rows))
	}
	var msgs []*Message
	for pass := range 2 {
		i := 0
		for m, err := range c.Messages(t.Context(), nil) {
			if err != nil {
				t.Fatal(err)
			}
			if pass == 0 {
				msgs = append(msgs, m)
			} else if m.SHA256 != msgs[i].SHA256 || string(m.Body) != string(msgs[i].Body) {
				t.Fatalf("row %d renders differently the second time", m.Row)
			}
			i++
		}
	}
	if len(msgs) != 2 {
		t.Fatalf("Messages yielded %d messages, want 2", len(msgs))
	}
	for i, m := range msgs {
		r := rows[i]
		if m.Row != r.Row || m.Line != r.Line || m.Key != r.Key || m.Subject != r.Subject || m.Size != r.Size {
			t.Errorf("row %d: message %+v and preflight %+v differ", r.Row, m, r)
		}
		if m.SHA256 != r.SHA256 {
			t.Errorf("row %d: Messages hash %s, preflight hash %s", r.Row, m.SHA256, r.SHA256)
		}
		if want := ContentHash(m.Recipients, m.Subject, m.Body, m.Attachments); m.SHA256 != want {
			t.Errorf("row %d: SHA256 %s is not the content hash %s", r.Row, m.SHA256, want)
		}
		size := len(m.Body)
		for j, a := range m.Attachments {
			size += base64.StdEncoding.EncodedLen(len(a.Content))
			if r.Attachments[j].Name != a.Name || r.Attachments[j].Size != int64(len(a.Content)) {
				t.Errorf("row %d attachment %d: %+v vs %s (%d bytes)", r.Row, j, r.Attachments[j], a.Name, len(a.Content))
			}
		}
		if m.Size != size {
			t.Errorf("row %d: Size %d, want body + base64 attachments = %d", r.Row, m.Size, size)
		}
	}
	m1, m2 := msgs[0], msgs[1]
	if strings.Join(m1.Recipients, ",") != "mario.rossi@pec.it" || m1.Key != "mario.rossi@pec.it" {
		t.Errorf("row 1 recipients %q key %q: want one lower-cased address", m1.Recipients, m1.Key)
	}
	if strings.Join(m2.Recipients, ",") != "giulia.bianchi@pec.it,ufficio@pec.it" {
		t.Errorf("row 2 recipients %q", m2.Recipients)
	}
	var names []string
	for _, a := range m1.Attachments {
		names = append(names, a.Name+" "+a.ContentType)
	}
	if got := strings.Join(names, "|"); got != "Fattura 1.pdf application/pdf|riepilogo-1.txt text/plain|informativa.html text/html" {
		t.Errorf("attachments: %s", got)
	}
	body := string(m2.Body)
	if strings.Contains(body, "<script>") || !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt; Rossi &amp; Figli") {
		t.Errorf("the body does not escape the merge value: %s", body)
	}
	if html := string(m2.Attachments[2].Content); strings.Contains(html, "<script>") {
		t.Errorf("the rendered HTML attachment does not escape the merge value: %s", html)
	}
	if txt := string(m2.Attachments[1].Content); !strings.Contains(txt, "<script>alert(1)</script> Rossi & Figli") {
		t.Errorf("a text attachment is plain text, unescaped: %s", txt)
	}
	one, err := c.RenderRow(t.Context(), 2)
	if err != nil || one.SHA256 != m2.SHA256 {
		t.Fatalf("RenderRow(2) = %v, %v", one, err)
	}
	if _, err := c.RenderRow(t.Context(), 3); err == nil {
		t.Fatal("RenderRow(3) of a 2-row campaign succeeded")
	}
}

func TestMessagesReportRowErrors(t *testing.T) {
	files := baseFiles()
	files["destinatari.csv"] = "pec;nome;numero\nmario.rossi@pec.it;Mario;1\nnon-valido;Giulia;2\nluca@pec.it;Luca;1\n"
	c := mustLoad(t, writeCampaign(t, baseCampaign, files))
	var got []string
	for m, err := range c.Messages(t.Context(), nil) {
		var re *RowError
		switch {
		case errors.As(err, &re):
			got = append(got, re.Error())
			if !errors.Is(err, ErrInvalidInput) {
				t.Error("a RowError does not wrap ErrInvalidInput")
			}
		case err != nil:
			t.Fatal(err)
		default:
			got = append(got, m.Key)
		}
	}
	want := []string{
		"mario.rossi@pec.it",
		`destinatari.csv:3: row 2: column "pec": "non-valido" is not a valid address: it has no @`,
		"luca@pec.it",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
