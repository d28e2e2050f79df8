package client

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ErrUnauthorized matches (errors.Is) an *APIError with status 401: the token or the mailbox credentials
// were refused.
var ErrUnauthorized = errors.New("unauthorized")

// ErrNotFound matches (errors.Is) an *APIError with status 404.
var ErrNotFound = errors.New("not found")

// ErrRateLimited matches (errors.Is) an *APIError with status 429: the request was not acted on.
var ErrRateLimited = errors.New("rate limited")

// ErrNotSent marks an error of a request that provably never reached the server (no connection, request
// not written, context done while waiting for the rate limiter): sending it again is safe.
var ErrNotSent = errors.New("not sent (safe to retry)")

// ErrAmbiguous marks an error of a send that the server may have acted on (timeout or connection drop after
// the request was written, a 5xx answer, a malformed answer to a send): the message may have been sent, so
// it must be reconciled (receipts, inbox) before anything is sent again.
var ErrAmbiguous = errors.New("outcome unknown (the message may have been sent: reconcile before sending again)")

// ErrInvalidRequest marks a request refused by the client itself before anything was sent (no recipient,
// empty code, ...): fix the input, retrying cannot help.
var ErrInvalidRequest = errors.New("invalid request")

// ErrAccount matches (errors.Is) every *AccountError: the answer is about the account or the endpoint (the
// token, the mailbox login, the base URL, a proxy, the plan's limit), never about the message being sent.
// The caller stops sending: every further send would meet the same failure. Whether this message may have
// been sent is told by errors.Is(err, ErrAmbiguous), as for any send error.
var ErrAccount = errors.New("account or endpoint failure")

// AccountProblem says what an *AccountError points at, and so what to check.
type AccountProblem string

// The problems an *AccountError can point at.
const (
	// ProblemCredentials: the API refused the request's credentials (401, 403): the API token, or the
	// mailbox username and password.
	ProblemCredentials AccountProblem = "credentials"
	// ProblemMailboxLogin: the mailbox refused its username or password (an SMTP 535 / 5.7.8 reply,
	// "authentication failed", in message_id or in the message).
	ProblemMailboxLogin AccountProblem = "mailbox-login"
	// ProblemEndpoint: the answer does not come from the API (an HTML page, a redirect, a 404 or 405 to
	// POST /send): the base URL is wrong, or a proxy is in between.
	ProblemEndpoint AccountProblem = "endpoint"
	// ProblemLimit: the plan's daily or monthly limit is reached, or the mailbox is full or unavailable.
	ProblemLimit AccountProblem = "limit"
	// ProblemService: the service refused the send for a reason that is not about the message (an
	// unexpected status or text, its mail server unreachable).
	ProblemService AccountProblem = "service"
)

// AccountError is an answer to a send that is about the account or the endpoint rather than the message:
// see ErrAccount. It is never an *APIError (errors.As finds no *APIError in it), so that no caller takes it
// for a refusal of the message.
type AccountError struct {
	// Problem is what the answer points at.
	Problem AccountProblem
	// MaybeSent is true when the message may have been sent nonetheless (a proxy's page after the request
	// was forwarded, a 5xx): the error then also matches ErrAmbiguous. False means the answer proves that
	// nothing was sent.
	MaybeSent bool
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Message is the server's text (its message, the error text in message_id, an HTML page's title),
	// cleaned of control characters and secrets.
	Message string
}

// Hint says what to check for the error's Problem.
func (e *AccountError) Hint() string {
	switch e.Problem {
	case ProblemCredentials:
		return "check the API token (api.token) and the mailbox username and password"
	case ProblemMailboxLogin:
		return "check the mailbox username and password (sender.username, sender.password)"
	case ProblemEndpoint:
		return "check api.base_url (" + ProductionURL + ") and any proxy in between"
	case ProblemLimit:
		return "check the plan's daily or monthly limit and the mailbox's free space, then resume when it allows"
	}
	return "the service refused the send for a reason that is not about this message: read its message, " +
		"try again later or ask the provider"
}

// Error describes the answer, what to check, and whether the message may have been sent.
func (e *AccountError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "api answered %d", e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		b.WriteString(" " + t)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	fmt.Fprintf(&b, " (an account or endpoint failure, not this message's: %s; ", e.Hint())
	if e.MaybeSent {
		b.WriteString("the message may have been sent: reconcile before sending it again)")
	} else {
		b.WriteString("the message was not sent)")
	}
	return b.String()
}

// Is reports whether target is ErrAccount, ErrAmbiguous when MaybeSent, or ErrUnauthorized when the
// credentials or the mailbox login were refused.
func (e *AccountError) Is(target error) bool {
	switch target {
	case ErrAccount:
		return true
	case ErrAmbiguous:
		return e.MaybeSent
	case ErrUnauthorized:
		return e.Problem == ProblemCredentials || e.Problem == ProblemMailboxLogin
	}
	return false
}

// maxErrorBody bounds how much of a non-2xx answer is read: only its message is needed.
const maxErrorBody = 64 << 10

// maxMessageLen bounds the text of a server message kept in an error.
const maxMessageLen = 300

// APIError is an answer of the API that reports a failure: a non-2xx status, or a 2xx whose body says
// "success": false or carries error text in place of a message code.
type APIError struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Message is the server's message (the "message" field of its JSON envelope, or a short excerpt of a
	// non-JSON body), cleaned of control characters and secrets.
	Message string
	// RetryAfter is the wait the server asked for in a Retry-After header, zero when absent.
	RetryAfter time.Duration
}

// Error describes the answer and, when one helps, what to do next.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "api answered %d", e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		b.WriteString(" " + t)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	switch {
	case e.StatusCode == http.StatusUnauthorized:
		b.WriteString(" (check the API token and the mailbox username and password)")
	case e.StatusCode == http.StatusTooManyRequests && e.RetryAfter > 0:
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	case e.StatusCode == http.StatusTooManyRequests:
		b.WriteString(" (slow down and retry later)")
	case e.StatusCode >= 500:
		b.WriteString(" (the service failed; try again later)")
	}
	return b.String()
}

// Is reports whether target is the sentinel matching e's status: ErrUnauthorized (401), ErrNotFound (404)
// or ErrRateLimited (429).
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests
	}
	return false
}

// parseRetryAfter reads a Retry-After header value: delay-seconds or an HTTP date (RFC 9110 10.2.3). A date
// in the past gives zero. ok is false when the value is absent or unreadable.
func parseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		secs, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// clean makes server text fit for an error message: valid UTF-8, no control characters, collapsed
// whitespace, secrets removed, bounded length. Secrets are removed before and after the whitespace is
// collapsed: an echo may be split by a newline, or be the very text that collapsing changes.
func (s scrubber) clean(text string) string {
	text = s.scrub(strings.ToValidUTF8(text, "\uFFFD"))
	text = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return ' '
		}
		return r
	}, text)
	text = strings.Join(strings.Fields(text), " ")
	text = s.scrub(text)
	if utf8.RuneCountInString(text) > maxMessageLen {
		runes := []rune(text)
		text = string(runes[:maxMessageLen]) + "..."
	}
	return text
}

// redactedError carries an error whose message has been scrubbed of secrets. It answers errors.Is and
// errors.As for the error it replaces but does not unwrap to it: a caller printing the chain must not find
// the unscrubbed text.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string        { return e.msg }
func (e *redactedError) Is(target error) bool { return errors.Is(e.err, target) }
func (e *redactedError) As(target any) bool   { return errors.As(e.err, target) }

// wrap returns err with a message scrubbed of secrets; nil stays nil. It is the last step of every exported
// method, so that no error, whatever its origin (a transport error, a wrapped server text), shows a secret.
func (s scrubber) wrap(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := s.scrub(msg)
	if clean == msg {
		return err
	}
	return &redactedError{msg: clean, err: err}
}
