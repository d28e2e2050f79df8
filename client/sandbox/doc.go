// Package sandbox is an in-memory simulator of the PEC Massiva API, served
// by `pecbatch sandbox` and used by the tests of every other package, the
// way stripe-mock or LocalStack serve theirs. It is an independent reading of
// the contract in ../shared/pecmassiva (openapi.pecbatch.json, README.md,
// receipts.md) and imports nothing from this module, so the client and the
// sandbox check each other.
//
// A *Server is an http.Handler: serve it with net/http, or with httptest in
// tests. Every operation of the contract is there (POST /send, GET and
// DELETE /send/{code}, GET /inbox, GET and DELETE /inbox/{id}, GET
// /quota/{mailbox}), with the contract's authentication (a bearer token on
// every call; the mailbox credentials in the x-username and x-password
// headers, or in the body of POST /send), answers, status codes and
// messages, spelling mistakes included. GET /_sandbox/sends (bearer token
// only) lists every message actually sent.
//
// # Receipts
//
// A send's receipts are derived from its time, its recipients' domains and
// the sandbox clock (Options.Now), so a manual Clock moves them in tests and
// an Accelerated one in demos. The recipient's domain chooses the outcome:
//
//	recipient domain       receipts (times after the send)
//	anything else          ACCETTAZIONE at AcceptDelay, CONSEGNA at DeliverDelay
//	invalid.sandbox.test   ACCETTAZIONE, AVVISO DI MANCATA CONSEGNA at DeliverDelay: 5.1.1 indirizzo non valido
//	full.sandbox.test      ACCETTAZIONE, AVVISO DI MANCATA CONSEGNA at DeliverDelay: 5.2.2 casella piena
//	slow.sandbox.test      ACCETTAZIONE, AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO at WarnAfter
//	                       (4.4.7, a warning), CONSEGNA at WarnAfter+DeliverDelay
//	expire.sandbox.test    ACCETTAZIONE, the same warning at WarnAfter, then AVVISO DI MANCATA
//	                       CONSEGNA PER SUP. TEMPO MASSIMO at ExpireAfter: 5.4.1 (final)
//	ordinary.sandbox.test  ACCETTAZIONE only, naming the address ("posta ordinaria"); never CONSEGNA
//	virus.sandbox.test     AVVISO DI NON ACCETTAZIONE PER VIRUS at AcceptDelay, nothing else
//	reject.sandbox.test    AVVISO DI NON ACCETTAZIONE at AcceptDelay, nothing else
//
// A send to several recipients gets one acceptance listing them all and one
// outcome per recipient. If any recipient is on virus.sandbox.test (or else
// reject.sandbox.test) the whole message is refused: one notice naming every
// recipient, and nothing else for any of them. When the sender is also a
// recipient, its copy comes back as a POSTA CERTIFICATA transport envelope
// next to its CONSEGNA, as in the contract's example.
//
// Every receipt's subject is "<PREFIX>: <original subject> <code>", its date
// RFC 2822 in Europe/Rome time, its sender posta-certificata@pec.sandbox.test
// and its recipient the message's sender (the mailbox that receives it: the
// address a receipt concerns is named in its body, not in this field). Bodies
// follow the Italian texts of receipts.md; like the real service, which shows
// iso-8859-1 receipt text decoded as UTF-8, every non-ASCII letter of a body
// reads U+FFFD ("� stato consegnato"), so a client must not match on accented
// words.
//
// Receipts are messages of one mailbox: GET /send/{code} lists a code's
// oldest first, GET /inbox lists all newest first (ids grow with arrival
// time and are never reused). Deleting (DELETE /send/{code} or DELETE
// /inbox/{id}) removes messages from both views for good; a receipt that had
// not arrived yet when its send's receipts were deleted still arrives later,
// as in a real mailbox. DELETE /send/{code} answers 404 "Email not found"
// when the mailbox holds nothing for the code (unknown code, nothing arrived
// yet, or already deleted). DELETE /inbox/{id} of an unknown id answers 200
// with success false and "Message not found": the contract documents no 404
// there. GET /quota/INBOX reports the bytes held in KiB (rounded up) against
// 1048576 KiB (1 GiB); a CONSEGNA or transport envelope counts the original
// message (body and attachments) as well as its own text.
//
// # Sending
//
// POST /send answers 400 "Post parameter is not valid" for a body that is not
// one JSON object, a missing or malformed sender, recipient (a string or a
// non-empty array of bare local@domain addresses, the domain with a dot),
// subject (also: no line breaks) or body, or an attachment (one {name, file}
// object or an array of them) without a name or whose file is neither a
// base64 data URI nor raw base64. Wrong credentials give 401; repeated
// recipients count once in `sent`. Options.SendRate limits sends: a request
// inside the window gets 429 "Too many requests" with Retry-After in whole
// seconds (rounded up, at least 1) and does not consume the window; a
// request that passes validation does, whatever happens next. Checks run in
// this order: token (401), JSON (400), credentials (401), fields (400), rate
// (429), injected faults.
//
// Faults are drawn from a generator seeded by Options.Seed, two draws per
// send that reaches them: FailRate answers 500 "MySQL Error 2006" without
// sending; DropRate sends (the message is recorded and its receipts come)
// and then closes the connection without an answer.
package sandbox
