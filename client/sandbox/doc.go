// Package sandbox is an in-memory simulator of the PEC Massiva API, served
// by `pecbatch sandbox` and used by the tests of every other package, the
// way stripe-mock or LocalStack serve theirs. It is an independent reading of
// the contract (client/testdata/openapi.json, the provider's README and
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
// an Accelerated one in demos. The recipient's domain chooses the outcome,
// the same in every style (docs/sandbox.md has the full table):
//
//	recipient domain        receipts (times after the send)
//	anything else           ACCETTAZIONE at AcceptDelay, CONSEGNA at DeliverDelay
//	invalid.sandbox.test    ACCETTAZIONE, AVVISO DI MANCATA CONSEGNA at DeliverDelay: 5.1.1
//	full.sandbox.test       ACCETTAZIONE, AVVISO DI MANCATA CONSEGNA at DeliverDelay: 5.2.2
//	slow.sandbox.test       ACCETTAZIONE, the SUP. TEMPO MASSIMO warning (4.4.7) at WarnAfter,
//	                        CONSEGNA at WarnAfter+DeliverDelay
//	expire.sandbox.test     ACCETTAZIONE, the warning at WarnAfter, the final one (5.4.1) at ExpireAfter
//	ordinary.sandbox.test   ACCETTAZIONE only; never CONSEGNA
//	virus.sandbox.test      AVVISO DI NON ACCETTAZIONE PER VIRUS at AcceptDelay, nothing else
//	reject.sandbox.test     AVVISO DI NON ACCETTAZIONE at AcceptDelay, nothing else
//	charge.sandbox.test     ACCETTAZIONE, PRESA IN CARICO halfway, CONSEGNA at DeliverDelay
//	infected.sandbox.test   ACCETTAZIONE, AVVISO DI MANCATA CONSEGNA PER VIRUS at DeliverDelay
//	anomaly.sandbox.test    ACCETTAZIONE, ANOMALIA MESSAGGIO at DeliverDelay (a non-PEC bounce)
//	security.sandbox.test   ACCETTAZIONE, PROBLEMA DI SICUREZZA at DeliverDelay
//	duplicate.sandbox.test  delivered; the ACCETTAZIONE listed twice in every answer and the
//	                        CONSEGNA arriving again, identical, a minute later
//	unsorted.sandbox.test   delivered; the send's receipts listed newest first
//	foreign.sandbox.test    delivered; also lists, from AcceptDelay, a CONSEGNA of the send
//	                        <code>7 (ForeignSuffix), which a client must ignore
//
// A send to several recipients gets one acceptance and one outcome per
// recipient. If any recipient is on virus.sandbox.test (or else
// reject.sandbox.test) the whole message is refused: one notice naming every
// recipient, and nothing else for any of them. When the sender is also a
// recipient, its copy comes back as a POSTA CERTIFICATA transport envelope a
// second before its CONSEGNA (never before the acceptance), as in the
// contract's example.
//
// Every receipt's subject is "<PREFIX>: <original subject> <code>", its date
// RFC 2822 in Europe/Rome time and its recipient the message's sender (the
// mailbox that receives it). Options.Receipts chooses the rest:
// StyleDocumented (the default) is the contract's example of GET
// /send/{code}: sender posta-certificata@pecmassiva.com, an empty
// ACCETTAZIONE, a CONSEGNA whose message is the original mail's text, so
// nothing in it names the addressee; the notices the contract shows no
// example of carry the providers' texts (an assumption). StylePEC writes
// every message in the providers' format of receipts.md, naming the
// addressee, from posta-certificata@pec.sandbox.test. StyleMixed draws one
// of the two per send from Options.Seed. Like the real service, which shows
// iso-8859-1 text decoded as UTF-8, every non-ASCII letter of a message reads
// U+FFFD ("� stato consegnato"), so a client must not match on accented
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
// # The mailbox over IMAP
//
// Server.ServeIMAP serves the same mailbox over IMAP with implicit TLS
// (imaps), read-only, with the mailbox credentials; FaultIMAPLogin refuses
// every login. Each receipt is a real PEC message: X-Ricevuta (or
// X-Trasporto), X-Riferimento-Message-ID, a multipart/signed body holding
// the provider's text, daticert.xml (whose consegna names the addressee of
// each per-recipient receipt, which the documented style's REST summaries
// do not) and, for a CONSEGNA, the original as postacert.eml, signed with
// a detached PKCS#7 signature by posta-certificata@pec.sandbox.test under
// a test CA generated when the IMAP side is first needed
// (Server.CACertificate, Server.CAPEM, GET /_sandbox/ca.pem).
// DomainBadSignature and DomainMismatch give a CONSEGNA with a broken
// signature and one with another message's daticert.xml. docs/sandbox.md
// has the full shape and the assumptions.
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
// (429), account faults, injected faults.
//
// Account-level faults (Options.Fault, Server.SetFault) answer every send
// the same way until lifted: FaultSMTPAuth and FaultSMTPAuthFalse return the
// SMTP refusal of the mailbox password in message_id; FaultDailyLimit (and
// Options.DailyLimit, counted in messages per Rome day) answers 403
// MsgDailyLimit; FaultProxy502 answers every API call with an HTML 502 page.
// None of them sends anything. They are checked after the rate, before the
// injected faults: FailRate and DropRate are drawn from a generator seeded by
// Options.Seed, two draws per send that reaches them: FailRate answers 500
// "MySQL Error 2006" without sending; DropRate sends (the message is
// recorded and its receipts come) and then closes the connection without an
// answer.
package sandbox
