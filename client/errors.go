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

// scrubber removes secrets from text that ends up in an error.
type scrubber struct {
	secrets []string
}

// minScrubbed is the shortest secret the scrubber looks for. A shorter one
// cannot be told apart from ordinary text: replacing every "p" of a
// one-letter password would garble every message ("htt[redacted]s://")
// while hiding nothing.
const minScrubbed = 4

// scrub replaces every occurrence of a secret in s.
func (s scrubber) scrub(text string) string {
	for _, secret := range s.secrets {
		if len(secret) >= minScrubbed {
			text = strings.ReplaceAll(text, secret, "[redacted]")
		}
	}
	return text
}

// clean makes server text fit for an error message: valid UTF-8, no control characters, collapsed
// whitespace, secrets removed, bounded length.
func (s scrubber) clean(text string) string {
	text = strings.ToValidUTF8(text, "\uFFFD")
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

// redactedError carries an error whose message has been scrubbed of secrets, keeping the chain for
// errors.Is and errors.As.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

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
