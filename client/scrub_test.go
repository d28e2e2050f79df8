package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// Secrets with characters every encoding treats differently: a space, quotes, '/', '+', '&', '<', '%',
// non-ASCII letters. The token cannot hold a space (NewClient refuses it).
const (
	oddToken    = `Tok/en+Se=cr3t"&<x>%é`
	oddUser     = "mittente@pec.example.test"
	oddPassword = `Pa"ss wörd/+&<é%ü`
)

// phpJSON escapes like PHP's json_encode: '/' as "\/" and every non-ASCII character as \uXXXX.
func phpJSON(s string) string {
	b, _ := json.Marshal(s)
	var out strings.Builder
	for _, r := range strings.Trim(string(b), `"`) {
		switch {
		case r == '/':
			out.WriteString(`\/`)
		case r >= 0x80:
			fmt.Fprintf(&out, `\u%04x`, r)
		default:
			out.WriteRune(r)
		}
	}
	return out.String()
}

// lowerEscapes writes the hex digits of every percent escape in lower case: %2F becomes %2f.
func lowerEscapes(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			copy(b[i+1:i+3], bytes.ToLower(b[i+1:i+3]))
		}
	}
	return string(b)
}

func goJSON(s string, escapeHTML bool) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	enc.Encode(s)
	return strings.Trim(strings.TrimSpace(buf.String()), `"`)
}

// htmlNumeric writes every character as a decimal character reference.
func htmlNumeric(s string) string {
	var b strings.Builder
	for _, r := range s {
		fmt.Fprintf(&b, "&#%d;", r)
	}
	return b.String()
}

// echoForms lists every form of the secrets a server or a proxy may echo.
func echoForms() map[string]string {
	forms := map[string]string{}
	for name, s := range map[string]string{"token": oddToken, "password": oddPassword} {
		forms[name+" raw"] = s
		forms[name+" Go JSON"] = goJSON(s, true)
		forms[name+" Go JSON without HTML escaping"] = goJSON(s, false)
		forms[name+" PHP JSON"] = phpJSON(s)
		forms[name+" query escaped"] = url.QueryEscape(s)
		forms[name+" query escaped, lowercase hex"] = lowerEscapes(url.QueryEscape(s))
		forms[name+" path escaped"] = url.PathEscape(s)
		forms[name+" HTML escaped"] = html.EscapeString(s)
		forms[name+" HTML numeric"] = htmlNumeric(s)
		forms[name+" base64"] = base64.StdEncoding.EncodeToString([]byte(s))
		forms[name+" base64 unpadded"] = base64.RawStdEncoding.EncodeToString([]byte(s))
		forms[name+" base64 URL"] = base64.URLEncoding.EncodeToString([]byte(s))
		forms[name+" base64 URL unpadded"] = base64.RawURLEncoding.EncodeToString([]byte(s))
		forms[name+" base64 query escaped"] = url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(s)))
	}
	basic := base64.StdEncoding.EncodeToString([]byte(oddUser + ":" + oddPassword))
	forms["Basic authorization"] = "Basic " + basic
	forms["Basic URL alphabet unpadded"] = base64.RawURLEncoding.EncodeToString([]byte(oddUser + ":" + oddPassword))
	forms["Bearer query escaped"] = url.QueryEscape("Bearer " + oddToken)
	forms["password in a query"] = "password=" + url.QueryEscape(oddPassword) + "&x=1"
	return forms
}

// leaks returns the forms of the secrets found in text.
func leaks(text string) []string {
	var found []string
	for name, f := range echoForms() {
		f = strings.TrimPrefix(f, "Basic ")
		f = strings.TrimPrefix(f, "password=")
		f = strings.TrimSuffix(f, "&x=1")
		if strings.Contains(text, strings.TrimRight(f, "=")) {
			found = append(found, name)
		}
	}
	return found
}

// assertNoLeak checks the error's text in every way a caller may print it, and the whole chain.
func assertNoLeak(t *testing.T, err error) {
	t.Helper()
	texts := []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err.Error())}
	walkErrors(err, func(e error) { texts = append(texts, e.Error()) })
	if e, ok := errors.AsType[*APIError](err); ok {
		texts = append(texts, e.Message)
	}
	if e, ok := errors.AsType[*AccountError](err); ok {
		texts = append(texts, e.Message)
	}
	for _, text := range texts {
		if l := leaks(text); len(l) > 0 {
			t.Errorf("%v in %q", l, text)
		}
	}
}

func TestSendErrorsNeverEchoAnEncodedSecret(t *testing.T) {
	answers := map[string]func(echo string) http.HandlerFunc{
		"400 JSON message": func(echo string) http.HandlerFunc {
			msg, _ := json.Marshal("Post parameter is not valid: " + echo)
			return answerWith(400, "application/json", `{"success":false,"message":`+string(msg)+`}`)
		},
		"500 plain text": func(echo string) http.HandlerFunc {
			return answerWith(500, "text/plain", "upstream said: "+echo+"\n")
		},
		"502 HTML page": func(echo string) http.HandlerFunc {
			return answerWith(502, htmlType, "<html><head><title>Bad Gateway "+echo+"</title></head><body>"+echo+"</body></html>")
		},
		"201 error text in message_id": func(echo string) http.HandlerFunc {
			id, _ := json.Marshal("535 5.7.8 Error: authentication failed for " + echo)
			return answerWith(201, "application/json", `{"success":true,"sent":0,"message_id":`+string(id)+`}`)
		},
	}
	for formName, form := range echoForms() {
		for answerName, handler := range answers {
			t.Run(formName+"/"+answerName, func(t *testing.T) {
				c, _, _ := newTestClient(t, handler(form), WithToken(oddToken), WithCredentials(oddUser, oddPassword))
				_, err := c.Send(context.Background(), sampleSend())
				if err == nil {
					t.Fatal("no error")
				}
				assertNoLeak(t, err)
				if !strings.Contains(err.Error(), "[redacted]") {
					t.Errorf("%v: the echo was not found, so the test proves nothing", err)
				}
			})
		}
	}
}

// TestScrubEveryForm checks the scrubber alone on each form, inside text and at its edges.
func TestScrubEveryForm(t *testing.T) {
	s := newScrubber(oddUser, oddToken, oddPassword)
	for name, form := range echoForms() {
		t.Run(name, func(t *testing.T) {
			for _, text := range []string{form, "x" + form + "y", "before " + form + " after"} {
				got := s.scrub(text)
				if l := leaks(got); len(l) > 0 || !strings.Contains(got, "[redacted]") {
					t.Errorf("scrub(%q) = %q", text, got)
				}
				if !utf8.ValidString(got) {
					t.Errorf("scrub(%q) is not valid UTF-8", text)
				}
			}
		})
	}
}

// TestRedactedErrorChain: an error whose text held a secret keeps errors.Is and errors.As but hands
// out no unscrubbed text through Unwrap.
func TestRedactedErrorChain(t *testing.T) {
	s := newScrubber(oddUser, oddToken, oddPassword)
	// A transport error may carry text the client did not write, e.g. a proxy's reply in a *url.Error.
	inner := errors.New("proxy said: echo " + url.QueryEscape(oddPassword))
	err := s.wrap(fmt.Errorf("client: send: %w: %w: %w", ErrAmbiguous, &APIError{StatusCode: 502}, inner))
	assertNoLeak(t, err)
	if !errors.Is(err, ErrAmbiguous) || !errors.Is(err, inner) {
		t.Errorf("errors.Is lost")
	}
	if e, ok := errors.AsType[*APIError](err); !ok || e.StatusCode != 502 {
		t.Errorf("errors.As(*APIError) lost")
	}
	if errors.Unwrap(err) != nil {
		t.Errorf("the redacted error unwraps to its unscrubbed text")
	}
}

// TestScrubberKeepsShortSecretsInEveryForm: the rule for secrets under 4 characters holds for their
// encodings too: "a b" must not turn every "a+b" or "YSBi" of a message into [redacted].
func TestScrubberKeepsShortSecretsInEveryForm(t *testing.T) {
	s := newScrubber("user", "a b")
	for _, text := range []string{"a b", "a+b", "a%20b", "YSBi", "dXNlcjphIGI"} {
		if got := s.scrub(text); got != text {
			t.Errorf("scrub(%q) = %q", text, got)
		}
	}
}
