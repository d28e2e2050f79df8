package client

import (
	"fmt"
	"math"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"unicode"
)

// This file reads what an answer to POST /send proves: sent, not sent, unknown, a refusal of this message,
// or a failure of the account or of the endpoint. It is the one place where that is decided; the table in
// docs/client.md ("What a send answer proves") lists every case and answers_test.go has one case per row.

// minCodeLen and maxCodeLen bound the length of a message_id taken as a code. The documented codes are 16
// digits (2020082610003492); the bounds are lenient on purpose, the characters are not.
const (
	minCodeLen = 6
	maxCodeLen = 64
)

// plausibleCode reports whether id (already trimmed) can be a send code: 6 to 64 characters of
// [A-Za-z0-9._-] with at least one digit other than 0. Anything else (words, error text, "0", "-1",
// "null") is obviously not the code of a send.
func plausibleCode(id string) bool {
	if len(id) < minCodeLen || len(id) > maxCodeLen {
		return false
	}
	nonZeroDigit := false
	for i := 0; i < len(id); i++ {
		switch b := id[i]; {
		case b >= '1' && b <= '9':
			nonZeroDigit = true
		case b == '0', b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b == '.', b == '_', b == '-':
		default:
			return false
		}
	}
	return nonZeroDigit
}

// textClass is what an error text of the service (a "message", error text in message_id, an SMTP reply) is
// about.
type textClass int

const (
	textUnknown textClass = iota
	textRow               // this message: a parameter, a recipient, the size
	textLogin             // the mailbox login: username or password refused
	textLimit             // the plan's daily or monthly limit, the mailbox's space
	textConnect           // the service could not reach the mailbox's server
)

// The patterns are ASCII and case-insensitive; the Italian stems cover the provider's own texts.
var (
	loginText = regexp.MustCompile(`(?i)authenticat|autenticazion|password|passwd|\blogin\b|credential|credenzial|` +
		`username|authorization is not valid|(^|[^0-9.])535([^0-9]|$)|\b5\.7\.8\b`)
	strongLimitText = regexp.MustCompile(`(?i)\bdaily\b|per day|giornalier|monthly|mensil|\bplan\b|\bquota\b|` +
		`might be unavailable|\bcredits?\b|\bcredit[oi]\b|sending limit`)
	connectText = regexp.MustCompile(`(?i)could not connect|connect\(\) failed|connection refused|` +
		`could not instantiate mail|smtp connect`)
	rowText = regexp.MustCompile(`(?i)parameter|\brecipients?\b|destinatari|` +
		`address rejected|user unknown|no such user|invalid address|indirizzo non valido|\b5\.1\.[0-9]+\b|` +
		`\b5\.2\.2\b|\b5\.3\.4\b|(^|[^0-9.])552([^0-9]|$)|too large|too big|\bsize\b|dimensione|attachment|allegat`)
	weakLimitText = regexp.MustCompile(`(?i)limit|exceeded|superat|too many messages`)
)

// echoedParameter matches the name of a request parameter echoed with its value (password=..., "username":
// ...): a server repeating the request is not talking about the login.
var echoedParameter = regexp.MustCompile(`(?i)\b(password|passwd|username|login|token|authorization)("\s*:|\s*=)`)

// contractRow is the contract's own refusal of a request's content, whatever else the text repeats.
var contractRow = regexp.MustCompile(`(?i)post parameter is not valid`)

// classifyText says what an error text is about. Order matters: the contract's refusal of the parameters is
// the message's even when it echoes them, a refused login is an account failure even if it names the
// recipient, a daily limit of recipients is a limit, and a size "limit" is the message's.
func classifyText(s string) textClass {
	s = echoedParameter.ReplaceAllString(s, " ")
	switch {
	case contractRow.MatchString(s):
		return textRow
	case loginText.MatchString(s):
		return textLogin
	case strongLimitText.MatchString(s):
		return textLimit
	case connectText.MatchString(s):
		return textConnect
	case rowText.MatchString(s):
		return textRow
	case weakLimitText.MatchString(s):
		return textLimit
	}
	return textUnknown
}

// looksLikeText reports whether a message_id that is not a code is error text (it has a space and a letter)
// rather than a garbled code.
func looksLikeText(id string) bool {
	return strings.ContainsFunc(id, unicode.IsSpace) && strings.ContainsFunc(id, unicode.IsLetter)
}

// isHTML reports whether an answer is a web page (a proxy, a wrong base URL) rather than the API's JSON:
// its Content-Type says HTML, or its body starts with '<'.
func isHTML(a *answer) bool {
	if mt, _, err := mime.ParseMediaType(a.header.Get("Content-Type")); err == nil &&
		(mt == "text/html" || mt == "application/xhtml+xml") {
		return true
	}
	body := strings.TrimLeft(strings.TrimPrefix(string(a.body[:min(len(a.body), 512)]), "\uFEFF"), " \t\r\n")
	return strings.HasPrefix(body, "<")
}

// htmlTitle is the text of an HTML page's <title>, or "" when it has none: a page's title says what it is
// ("502 Bad Gateway", "Attention Required! | Cloudflare") without its markup.
var htmlTitle = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)

// accountError builds the *AccountError of an answer, its message cleaned of secrets.
func (c *Client) accountError(a *answer, p AccountProblem, maybeSent bool, message string) *AccountError {
	return &AccountError{Problem: p, MaybeSent: maybeSent, StatusCode: a.status, Message: c.scrubber.clean(message)}
}

// textFailure maps an error text the service gave for a send that it says it did not make (status 4xx,
// success:false, SMTP error text in message_id) to the error to return. Only a text about the message
// itself is a refusal of the row; anything else stops the run.
func (c *Client) textFailure(a *answer, text string, maybeSent bool) error {
	switch classifyText(text) {
	case textLogin:
		return c.accountError(a, ProblemMailboxLogin, maybeSent, text)
	case textLimit:
		return c.accountError(a, ProblemLimit, maybeSent, text)
	case textConnect:
		return c.accountError(a, ProblemService, maybeSent, text)
	case textRow:
		if maybeSent {
			return fmt.Errorf("%w: %w", ErrAmbiguous, &APIError{StatusCode: a.status, Message: c.scrubber.clean(text)})
		}
		return &APIError{StatusCode: a.status, Message: c.scrubber.clean(text)}
	}
	return c.accountError(a, ProblemService, maybeSent, text)
}

// decodeSendAnswer maps the answer of POST /send (other than a 429 that is retried) to a result, or to an
// error that says what the answer proves: see the package documentation and the table in docs/client.md.
func (c *Client) decodeSendAnswer(a *answer) (*SendResult, error) {
	fourxx := a.status >= 400 && a.status <= 499
	if isHTML(a) {
		// A web page is never the API's answer: a proxy, a captive portal or a wrong base URL. A 4xx page
		// was a refusal before anything was done; any other may come from a proxy after the service acted.
		title := ""
		if m := htmlTitle.FindSubmatch(a.body); m != nil {
			title = string(m[1])
		}
		if a.status == http.StatusRequestEntityTooLarge {
			// A proxy's size limit (nginx's client_max_body_size) refuses this message, not the others.
			return nil, &APIError{StatusCode: a.status, Message: c.scrubber.clean(title)}
		}
		p := ProblemEndpoint
		if a.status == http.StatusUnauthorized {
			p = ProblemCredentials
		}
		return nil, c.accountError(a, p, !fourxx, title)
	}
	switch {
	case a.status == http.StatusUnauthorized || a.status == http.StatusForbidden:
		return nil, c.accountError(a, ProblemCredentials, false, c.apiError(a).Message)
	case a.status == http.StatusProxyAuthRequired || a.status == http.StatusNotFound ||
		a.status == http.StatusMethodNotAllowed || a.status == http.StatusGone:
		// POST /send has no 404 or 405 in the contract: the URL is not the API's.
		return nil, c.accountError(a, ProblemEndpoint, false, c.apiError(a).Message)
	case fourxx:
		e := c.apiError(a)
		switch {
		case classifyText(e.Message) != textUnknown:
			return nil, c.textFailure(a, e.Message, false)
		case a.status == http.StatusBadRequest || a.status == http.StatusRequestEntityTooLarge ||
			a.status == http.StatusUnprocessableEntity:
			return nil, e // the contract's refusal of the request's content
		}
		// 408, 409, 415, 431...: nothing in the contract, nothing about this message.
		return nil, c.accountError(a, ProblemService, false, e.Message)
	case a.status >= 300 && a.status <= 399:
		// Redirects are never followed: the base URL is not the API's, or has moved.
		return nil, c.accountError(a, ProblemEndpoint, true, c.apiError(a).Message)
	case a.status < 200 || a.status > 299:
		// A 5xx may come after the message left (the service's own database error, a gateway timeout);
		// a 1xx is not in the contract at all.
		e := c.apiError(a)
		if a.status >= 500 {
			if cls := classifyText(e.Message); cls == textLogin || cls == textLimit {
				return nil, c.textFailure(a, e.Message, true)
			}
		}
		return nil, fmt.Errorf("%w: %w", ErrAmbiguous, e)
	case a.bodyErr != nil:
		return nil, fmt.Errorf("%w: %w", ErrAmbiguous, a.bodyErr)
	}
	var ans sendAnswer
	if err := decodeJSON(a.body, &ans); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAmbiguous, err)
	}
	return c.decodeSent(a, &ans)
}

// decodeSent reads a decoded 2xx answer of POST /send.
func (c *Client) decodeSent(a *answer, ans *sendAnswer) (*SendResult, error) {
	id := strings.TrimSpace(string(ans.MessageID))
	if plausibleCode(id) && c.scrubber.scrub(id) != id {
		// A secret echoed in message_id is no code, and must not reach a journal as one.
		return nil, fmt.Errorf("%w: %w: the message_id holds a secret", ErrAmbiguous, errMalformed)
	}
	sent, sentOK := -1, true // -1: the answer does not say
	if ans.Sent != nil {
		v := float64(*ans.Sent)
		if v < 0 || v != math.Trunc(v) || v > 1<<31 {
			sentOK = false
		} else {
			sent = int(v)
		}
	}
	malformed := func(why string) error {
		return fmt.Errorf("%w: %w: %s", ErrAmbiguous, errMalformed, why)
	}
	switch {
	case !sentOK:
		return nil, malformed("sent is not a count")
	case ans.failed():
		if plausibleCode(id) && sent != 0 {
			return nil, malformed("success is false but the answer carries a message_id")
		}
		text := string(ans.Message)
		if strings.TrimSpace(text) == "" {
			text = id
		}
		return nil, c.textFailure(a, text, sent >= 1)
	case plausibleCode(id) && sent == 0:
		return nil, malformed("sent is 0 but the answer carries message_id " + id)
	case plausibleCode(id):
		return &SendResult{MessageID: id, Sent: max(sent, 0)}, nil
	case id != "" && (looksLikeText(id) || classifyText(id) != textUnknown):
		// The service reports an SMTP failure as error text in message_id: not a code, and not a send
		// unless the answer also counts one.
		return nil, c.textFailure(a, id, sent >= 1)
	case id != "":
		return nil, malformed("the message_id is not a plausible code")
	case sent == 0 && classifyText(string(ans.Message)) != textUnknown:
		return nil, c.textFailure(a, string(ans.Message), false)
	}
	return nil, malformed("the answer has no message_id")
}
