package report

import (
	"bytes"
	"context"
	"encoding/csv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"

	"github.com/pecbatch/pecbatch/internal/testutil"
)

// FuzzReportCSV writes a report line made of arbitrary text and checks what
// a spreadsheet would see: one record of twelve fields, no cell that starts
// a formula, and every value intact once the neutralising quote is removed.
func FuzzReportCSV(f *testing.F) {
	for _, seed := range []string{"", "A001", "=1+1", "+39", "-1", "@x", "\t=1", "\r=1", "a,b", `"q"`, "a\nb", "a\r\nb", "＝1", "n° — è"} {
		f.Add(seed, seed, false)
		f.Add(seed, "mario@pec.example.it", true)
	}
	f.Fuzz(func(t *testing.T, text, recipient string, excel bool) {
		if !utf8.ValidString(text) || !utf8.ValidString(recipient) {
			return
		}
		row := Row{RowID: 1, Row: 1, Key: text, Recipient: recipient, Subject: text, MessageID: text, State: "delivered",
			Error: text, SubmittedAt: time.Date(2025, 3, 2, 10, 0, 0, 0, time.UTC)}
		var b bytes.Buffer
		if err := WriteData(t.Context(), &Data{Rows: seqOf([]Row{row})}, &b,
			Options{Excel: excel, Location: time.UTC, Lang: English}); err != nil {
			t.Fatal(err)
		}
		r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b.Bytes(), []byte(utf8BOM))))
		if excel {
			r.Comma = ';'
		}
		recs, err := r.ReadAll()
		if err != nil {
			t.Fatalf("the report does not read back: %v\n%q", err, b.String())
		}
		if len(recs) != 2 || len(recs[1]) != len(reportCSVHeader) {
			t.Fatalf("records = %q", recs)
		}
		// encoding/csv does not keep carriage returns inside a field: it
		// reads CRLF as LF, and drops a lone CR when it writes CRLF.
		norm := func(s string) string { return strings.ReplaceAll(s, "\r", "") }
		for j, want := range map[int]string{1: text, 2: recipient, 3: text, 4: text, 6: text} {
			cell := recs[1][j]
			if excel && j == 4 && isExcelText(cell) {
				// The message id as a string literal: its value is text.
				if lit := strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(cell, `="`), `"`), `""`, `"`); lit != want {
					t.Errorf("message_id = %q, want the literal of %q", cell, want)
				}
				continue
			}
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("%s = %q starts a formula", reportCSVHeader[j], cell)
			}
			if norm(cell) != norm(neutraliseCell(want)) {
				t.Errorf("%s = %q, want %q", reportCSVHeader[j], cell, neutraliseCell(want))
			}
		}
	})
}

// FuzzReportHTML writes a page whose every text comes from the input and
// checks that the input never becomes markup: the page has no script, no
// element that loads anything, and the text shows up as text.
func FuzzReportHTML(f *testing.F) {
	for _, seed := range []string{"", "A001", "<script>alert(1)</script>", `"><img src=x onerror=alert(1)>`, "</pre><a href=http://x>",
		"{{.}}", "&amp;", "</title><script>", "]]><svg onload=alert(1)>", "n° — è"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if !utf8.ValidString(text) {
			return
		}
		at := time.Date(2025, 3, 2, 10, 0, 0, 0, time.UTC)
		d := &Data{
			Campaign: text,
			Counts:   map[string]int{"delivered": 1, text: 1},
			Rows: seqOf([]Row{{RowID: 1, Row: 1, Key: text, Recipient: text, Subject: text, MessageID: text, State: text,
				Error: text, SubmittedAt: at, DeliveredAt: at.Add(3 * time.Second)}}),
			Receipts: func(context.Context, int64) ([]Receipt, error) {
				return []Receipt{{Kind: text, Recipient: text, DateText: text, Subject: text, Body: text}}, nil
			},
		}
		var b bytes.Buffer
		if err := WriteData(t.Context(), d, &b, Options{Format: HTML, Location: time.UTC,
			Now: func() time.Time { return at }, Lang: English}); err != nil {
			t.Fatal(err)
		}
		doc, err := html.Parse(bytes.NewReader(b.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		testutil.Walk(doc, func(n *html.Node) {
			if n.Type != html.ElementNode {
				return
			}
			switch n.Data {
			case "script", "img", "iframe", "link", "object", "embed", "a", "base", "form", "image", "use":
				t.Fatalf("input became a <%s> element", n.Data)
			}
			for _, a := range n.Attr {
				if strings.HasPrefix(a.Key, "on") || a.Key == "src" || a.Key == "href" || a.Key == "style" {
					t.Fatalf("input became a %s attribute on <%s>", a.Key, n.Data)
				}
			}
		})
		// The parser rewrites line ends and NUL, so only printable text is
		// compared.
		if !strings.ContainsFunc(text, unicode.IsControl) {
			h1 := testutil.FindElement(doc, func(n *html.Node) bool { return n.Data == "h1" })
			if h1 == nil || testutil.NodeText(h1) != "Delivery report: "+text {
				t.Errorf("the title does not read the campaign name %q as text", text)
			}
		}
	})
}
