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
// A PEC sent twice, or silently never sent, is a real harm, so every error [Client.Send] and
// [Client.SendCommitted] return says which situation the caller is in. Check them in this order:
//
//	errors.Is(err, ErrNotSent)   the request provably never reached the server: safe to send again.
//	errors.Is(err, ErrAccount)   an *AccountError: the answer is about the account or the endpoint (the
//	                             token, the mailbox login, the base URL, a proxy, the plan's limit), never
//	                             about this message. Stop sending (every further send would meet it) and
//	                             show its Hint. If it also matches ErrAmbiguous (MaybeSent), record the
//	                             send as unknown and reconcile it; otherwise nothing was sent: leave the
//	                             message pending.
//	errors.Is(err, ErrAmbiguous) the server may have acted on the request: do NOT send again before
//	                             reconciling (receipts, inbox); record the send as unknown.
//	errors.Is(err, ErrRateLimited) 429 after the retries: nothing was sent; send again later.
//	errors.As(err, **APIError)   the server refused this message (its parameters, a recipient, its
//	                             size) and did not send it: reject it.
//
// An *AccountError is never an *APIError, so that no account failure can be taken for the refusal of one
// message ("an account failure is never a row's failure"). It matches ErrUnauthorized when the credentials
// or the mailbox login were refused.
//
// Every answer to POST /send is read in one place, decodeSendAnswer; docs/client.md ("What a send answer
// proves") has the full table, in short:
//
//	answer                                                        Send result or error
//	------------------------------------------------------------  --------------------------------------
//	2xx, a plausible code in message_id (trimmed), sent >= 1 or   *SendResult
//	  absent
//	2xx, a code but sent 0, or success:false with a code, or no    ErrAmbiguous
//	  code, or malformed or truncated JSON, or an unreadable or
//	  oversized body
//	2xx, error text in message_id or success:false: about the      *APIError (the row is refused)
//	  message (recipient rejected, parameter, size)
//	2xx, error text: the mailbox login (SMTP 535, 5.7.8,           *AccountError, not sent
//	  "authentication failed"), a limit, anything else
//	400, 413, 422 about the message or without a known text        *APIError (the row is refused)
//	401, 403; 404, 405, 407, 410; other 4xx; 4xx with login or     *AccountError, not sent
//	  limit text; an HTML page with a 4xx
//	an HTML page with any other status; any 3xx (redirects are     *AccountError, MaybeSent (ErrAmbiguous)
//	  never followed); 5xx with login or limit text
//	other 5xx (500 MySQL Error, 502, 503, 504), 1xx                ErrAmbiguous (also an *APIError)
//	429 with a limit text                                          *AccountError, not sent, not retried
//	429, after waiting Retry-After (1 s when absent) and retrying  *APIError, errors.Is ErrRateLimited
//	  up to 5 requests in all, or at once when Retry-After
//	  exceeds 2 minutes
//
// Transport failures:
//
//	context done while waiting for the send rate limiter or a     ErrNotSent
//	  Retry-After pause
//	DNS failure, connection refused, dial timeout, TLS handshake   ErrNotSent
//	  failure: no connection was obtained
//	connection obtained but the request was not written           ErrNotSent (HTTP/1.x only, see below)
//	timeout, cancellation or connection drop after the request    ErrAmbiguous
//	  was written (or may have been)
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
// Error messages never contain the API token or the mailbox password: every text taken from the server (a
// message, error text in message_id, a body excerpt, an HTML title) is scrubbed where it is read, of each
// secret raw, JSON-escaped, URL-encoded (query or path, either case of hex), HTML-escaped, and in base64
// (also of "username:password"); no error includes a request body. Secrets shorter than 4 characters are
// left alone: they cannot be told apart from ordinary text.
//
// # Receipts
//
// [Classify] maps a receipt (subject and body text) to its [Kind] following shared/pecmassiva/receipts.md:
// prefixes tried longest first, case-insensitively, never by substring; the code the API appends to each
// subject is split off; the recipient concerned and the error text are read from the body using ASCII
// anchors only, because texts can arrive with U+FFFD in place of accented letters. [ParseDate] reads the
// RFC 2822 dates of receipts and inbox entries.
package client
