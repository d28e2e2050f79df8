// Package client talks to the PEC Massiva REST API: it sends certified e-mail (PEC), lists and deletes the
// receipts of a send, reads the inbox and the mailbox quota, and classifies PEC receipts.
//
// It is the only code in pecbatch that talks to the real service, so it follows the published contract
// (openapi.pecbatch.json and the notes beside it in shared/pecmassiva) exactly: a Bearer token on every call,
// the mailbox credentials as x-username/x-password headers on every call except POST /send, which carries
// them as username/password in its JSON body; recipients sent as an array; attachments sent as an array of
// {name, file} with file a data URI (data:<mime>;base64,...) unless [WithRawBase64] is given.
//
// # Exactly once
//
// A PEC sent twice, or silently never sent, is a real harm, so every error [Client.Send] returns says which
// of three situations the caller is in. Check them in this order:
//
//	errors.Is(err, ErrNotSent)   the request provably never reached the server: safe to send again.
//	errors.Is(err, ErrAmbiguous) the server may have acted on the request: do NOT send again before
//	                             reconciling (receipts, inbox); record the send as unknown.
//	errors.As(err, **APIError)   the server answered and did not act on it (a definite refusal,
//	                             or rate limiting): nothing was sent.
//
// The mapping:
//
//	cause                                                         Send error
//	------------------------------------------------------------  --------------------------------------
//	context done while waiting for the send rate limiter or a     ErrNotSent
//	  Retry-After pause
//	DNS failure, connection refused, dial timeout, TLS handshake   ErrNotSent
//	  failure: no connection was obtained
//	connection obtained but the request was not written           ErrNotSent (HTTP/1.x only, see below)
//	timeout, cancellation or connection drop after the request    ErrAmbiguous
//	  was written (or may have been)
//	any 5xx answer (500 MySQL Error, 502, 503, 504 ...)            ErrAmbiguous (also an *APIError)
//	1xx/3xx answer (redirects are never followed)                  ErrAmbiguous (also an *APIError)
//	2xx with malformed or truncated JSON, or without message_id,   ErrAmbiguous
//	  or with an implausible message_id that is not error text
//	2xx whose body cannot be read completely, or is too large      ErrAmbiguous
//	2xx with "success": false                                      *APIError (definite refusal)
//	2xx whose message_id is error text (contains spaces: the       *APIError (definite refusal)
//	  SMTP error the service reports in that field)
//	401                                                            *APIError, errors.Is ErrUnauthorized
//	429, after waiting Retry-After (1 s when absent) and retrying  *APIError, errors.Is ErrRateLimited
//	  up to 5 requests in all, or at once when Retry-After
//	  exceeds 2 minutes
//	any other 4xx (400 Post parameter is not valid ...)            *APIError (definite refusal)
//	invalid SendRequest (no recipient, ...), checked locally       ErrInvalidRequest (nothing sent)
//
// Whether the request was written is known from net/http/httptrace (WroteRequest). That signal is exact for
// HTTP/1.x: the transport reports a failed round trip only after its writer has finished. Over HTTP/2 the
// request is written by another goroutine, so once an HTTP/2 connection has been obtained every failure is
// treated as ambiguous. A caller-supplied *http.Client whose Transport is not an *http.Transport may not
// report traces at all, so with it every transport failure of a send is ambiguous.
//
// The other operations use the same request path and the same typed errors; for them ErrNotSent still means
// "safe to retry", and no error is marked ErrAmbiguous (they are reads, or deletes that can be repeated).
//
// # Pacing
//
// One Client never issues more than the configured rate of POST /send (default 1 per second, burst 1,
// [WithSendRate]); the limiter is shared by every goroutine using the Client. A 429 answer holds every
// sender of the Client back for its Retry-After before the same request is retried.
//
// # Secrets
//
// Error messages never contain the API token or the mailbox password: messages taken from the server are
// scrubbed of them, and no error includes a request body.
//
// # Receipts
//
// [Classify] maps a receipt (subject and body text) to its [Kind] following shared/pecmassiva/receipts.md:
// prefixes tried longest first, case-insensitively, never by substring; the code the API appends to each
// subject is split off; the recipient concerned and the error text are read from the body using ASCII
// anchors only, because texts can arrive with U+FFFD in place of accented letters. [ParseDate] reads the
// RFC 2822 dates of receipts and inbox entries.
package client
