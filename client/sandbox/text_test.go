package sandbox

import (
	"strings"
	"testing"
	"unicode"
)

func TestHTMLText(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"the contract's example", "Salve, questa email è una prova di invio, che prevede un <b>corpo in html</b>",
			"Salve, questa email è una prova di invio, che prevede un corpo in html"},
		{"source line breaks are blanks", "uno\r\ndue\n  tre", "uno due tre"},
		{"block elements break lines", "<p>Gentile cliente,</p><p>le ricordiamo<br/>la scadenza.</p>",
			"Gentile cliente,\nle ricordiamo\nla scadenza."},
		{"entities", "perch&eacute; &lt;non&gt; &amp; &#232;&nbsp;qui", "perché <non> & è qui"},
		{"script, style and comments dropped", "<style>p{x:1}</style>a<!-- nota -->b<SCRIPT>alert(1)</SCRIPT>c", "abc"},
		{"non-ASCII inside a script", "<script>ȺȺȺ x</SCRIPT>ok", "ok"},
		{"a lone < is text", "a < b e 3<4", "a < b e 3<4"},
		{"doctype and attributes", `<!DOCTYPE html><html><body><a href="x>y" title='a>b'>link</a></body></html>`, "link"},
		{"unclosed tag", "testo <b", "testo"},
		{"unclosed comment", "testo <!-- resto", "testo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := htmlText(tc.in); got != tc.want {
				t.Errorf("htmlText(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	if got := asLatin1Seen(htmlText("questa email &egrave; una prova")); got != "questa email \uFFFD una prova" {
		t.Errorf("as the API shows it: %q", got)
	}
}

// FuzzHTMLText: never a panic, never an empty line, never a blank at the
// ends of a line or two in a row; text without markup only has its blanks
// collapsed.
func FuzzHTMLText(f *testing.F) {
	for _, s := range []string{"<p>a</p>b", "a &amp; b", "<script>x", "<!--", "<", "a\n\nb", "<br><br>", "\u00a0x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := htmlText(s)
		if got == "" {
			return
		}
		for _, line := range strings.Split(got, "\n") {
			if line == "" || strings.TrimFunc(line, unicode.IsSpace) != line || strings.Contains(line, "  ") {
				t.Fatalf("htmlText(%q) = %q: line %q", s, got, line)
			}
		}
		if !strings.ContainsAny(s, "<&") {
			if want := strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " "); got != want {
				t.Fatalf("htmlText(%q) = %q, want %q", s, got, want)
			}
		}
	})
}
