package client

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf16"
)

// scrubber removes secrets from text that ends up in an error, in every form a server or a proxy may echo
// them: raw, JSON-escaped (Go's or PHP's: \u0022, \/), URL-encoded (query or path, %2f or %2F, + for a
// space), HTML-escaped (&quot; &#34; &#x22;), and base64 (standard and URL alphabets, padded or not) of
// each secret and of "username:password", the Basic authorization a proxy may log.
type scrubber struct {
	patterns []*regexp.Regexp
}

// minScrubbed is the shortest secret the scrubber looks for. A shorter one
// cannot be told apart from ordinary text: replacing every "p" of a
// one-letter password would garble every message ("htt[redacted]s://")
// while hiding nothing.
const minScrubbed = 4

// newScrubber returns a scrubber for the secrets; username only helps find the Basic form of the last
// secret (the password), and is not itself hidden.
func newScrubber(username string, secrets ...string) scrubber {
	var forms []string
	for i, secret := range secrets {
		if len(secret) < minScrubbed {
			continue
		}
		plain := []string{secret}
		if i == len(secrets)-1 && username != "" {
			plain = append(plain, username+":"+secret)
		}
		forms = append(forms, secret)
		for _, p := range plain {
			// A padded form is the unpadded one followed by '=': finding the unpadded one is enough.
			forms = append(forms, base64.RawStdEncoding.EncodeToString([]byte(p)),
				base64.RawURLEncoding.EncodeToString([]byte(p)))
		}
	}
	var s scrubber
	seen := map[string]bool{}
	for _, f := range forms {
		if !seen[f] {
			seen[f] = true
			s.patterns = append(s.patterns, regexp.MustCompile(encodedPattern(f)))
		}
	}
	return s
}

// scrub replaces every occurrence of a secret, in any of its forms, in text.
func (s scrubber) scrub(text string) string {
	for _, p := range s.patterns {
		text = p.ReplaceAllLiteralString(text, "[redacted]")
	}
	return text
}

// encodedPattern is a regular expression matching s with each of its characters in any of the forms an
// echo may give it. Characters are matched one by one, so that encoders that escape different sets of
// characters (PHP's urlencode, JavaScript's encodeURIComponent, Go's QueryEscape) are all covered.
func encodedPattern(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteString("(?:" + strings.Join(runeForms(r), "|") + ")")
	}
	return b.String()
}

// runeForms lists the regular expressions of the forms r may take in an echo.
func runeForms(r rune) []string {
	forms := []string{regexp.QuoteMeta(string(r))}
	var pct strings.Builder
	for _, c := range []byte(string(r)) {
		pct.WriteString("%" + hexAnyCase(fmt.Sprintf("%02X", c)))
	}
	forms = append(forms, pct.String())
	if r >= 0x10000 {
		hi, lo := utf16.EncodeRune(r)
		forms = append(forms, `\\[uU]`+hexAnyCase(fmt.Sprintf("%04X", hi))+`\\[uU]`+hexAnyCase(fmt.Sprintf("%04X", lo)))
	} else {
		forms = append(forms, `\\[uU]`+hexAnyCase(fmt.Sprintf("%04X", r)))
	}
	forms = append(forms, fmt.Sprintf("&#0*%d;", r), "&#[xX]0*"+hexAnyCase(fmt.Sprintf("%X", r))+";")
	if named, ok := htmlNamed[r]; ok {
		forms = append(forms, named)
	}
	if esc, ok := jsonShort[r]; ok {
		forms = append(forms, esc)
	}
	if r == ' ' {
		forms = append(forms, `\+`)
	}
	return forms
}

// htmlNamed and jsonShort are the named HTML entities and the JSON short escapes of the characters that
// have one.
var (
	htmlNamed = map[rune]string{'&': "&amp;", '<': "&lt;", '>': "&gt;", '"': "&quot;", '\'': "&apos;",
		'/': "&sol;", '=': "&equals;", '+': "&plus;", ':': "&colon;", '%': "&percnt;"}
	jsonShort = map[rune]string{'"': `\\"`, '\\': `\\\\`, '/': `\\/`, '\b': `\\b`, '\f': `\\f`, '\n': `\\n`,
		'\r': `\\r`, '\t': `\\t`}
)

// hexAnyCase turns hex digits into a pattern matching them in either case: "2F" becomes "2[fF]".
func hexAnyCase(h string) string {
	var b strings.Builder
	for _, c := range h {
		if c >= 'A' && c <= 'F' {
			fmt.Fprintf(&b, "[%c%c]", c, c+'a'-'A')
		} else {
			b.WriteRune(c)
		}
	}
	return b.String()
}
