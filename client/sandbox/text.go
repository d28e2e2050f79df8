package sandbox

import (
	"html"
	"strings"
	"unicode"
)

// breakTags are the elements whose start or end breaks a line of text.
var breakTags = map[string]bool{
	"br": true, "p": true, "div": true, "li": true, "tr": true, "table": true,
	"h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true,
	"ul": true, "ol": true, "blockquote": true, "hr": true,
}

// htmlText is the text of an HTML body as a mail reader shows it: tags
// dropped (line-breaking ones become line breaks), script and style
// contents and comments dropped, entities decoded, blanks collapsed, empty
// lines removed. It is what the documented CONSEGNA shows as message.
func htmlText(s string) string {
	var b strings.Builder
	// In HTML a line break of the source is a blank like any other: only
	// the elements break lines.
	text := strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")
	for len(s) > 0 {
		lt := strings.IndexByte(s, '<')
		if lt < 0 {
			_, _ = text.WriteString(&b, s)
			break
		}
		_, _ = text.WriteString(&b, s[:lt])
		s = s[lt:]
		if strings.HasPrefix(s, "<!--") {
			end := strings.Index(s, "-->")
			if end < 0 {
				break
			}
			s = s[end+3:]
			continue
		}
		name, closing, ok := tagName(s)
		if !ok {
			// A lone "<" (as in "a < b") is text.
			b.WriteByte('<')
			s = s[1:]
			continue
		}
		gt := tagEnd(s)
		if gt < 0 {
			break
		}
		s = s[gt+1:]
		switch {
		case !closing && (name == "script" || name == "style"):
			s = skipTo(s, "</"+name)
		case breakTags[name]:
			b.WriteByte('\n')
		}
	}
	lines := strings.Split(html.UnescapeString(b.String()), "\n")
	kept := lines[:0]
	for _, line := range lines {
		if line = strings.Join(strings.FieldsFunc(line, unicode.IsSpace), " "); line != "" {
			kept = append(kept, line)
		}
	}
	return strings.Join(kept, "\n")
}

// skipTo returns s from the first case-insensitive occurrence of the ASCII
// closing tag on, or "" if there is none. (strings.ToLower would move the
// index: it changes the length of some non-ASCII letters.)
func skipTo(s, closing string) string {
	for i := strings.IndexByte(s, '<'); i >= 0; {
		if len(s)-i >= len(closing) && strings.EqualFold(s[i:i+len(closing)], closing) {
			return s[i:]
		}
		next := strings.IndexByte(s[i+1:], '<')
		if next < 0 {
			break
		}
		i += 1 + next
	}
	return ""
}

// tagEnd returns the index of the ">" closing the tag s starts with,
// skipping quoted attribute values, or -1.
func tagEnd(s string) int {
	var quote byte
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return i
		}
	}
	return -1
}

// tagName reads the lower-cased element name of the tag s starts with.
func tagName(s string) (name string, closing, ok bool) {
	s = s[1:]
	if strings.HasPrefix(s, "/") {
		closing, s = true, s[1:]
	}
	if strings.HasPrefix(s, "!") {
		// A doctype or similar declaration: drop it whole.
		return "!", closing, true
	}
	end := 0
	for end < len(s) && (s[end] >= 'a' && s[end] <= 'z' || s[end] >= 'A' && s[end] <= 'Z' || end > 0 && s[end] >= '0' && s[end] <= '9') {
		end++
	}
	if end == 0 {
		return "", false, false
	}
	return strings.ToLower(s[:end]), closing, true
}

// asLatin1Seen replaces every non-ASCII character with U+FFFD, which is how
// iso-8859-1 text reaches an API client (the contract's example reads
// "questa email � una prova").
func asLatin1Seen(s string) string {
	return strings.Map(func(r rune) rune {
		if r > 0x7f {
			return '\uFFFD'
		}
		return r
	}, s)
}
