package client

import (
	"html"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind is the kind of a PEC receipt or notice. Its values are stored as-is in the journal.
type Kind string

// The kinds of receipts, per shared/pecmassiva/receipts.md.
const (
	// KindAcceptance (ACCETTAZIONE): accepted by the sender's provider; still pending.
	KindAcceptance Kind = "acceptance"
	// KindDelivery (CONSEGNA, AVVENUTA CONSEGNA): delivered to one recipient's mailbox; final success.
	KindDelivery Kind = "delivery"
	// KindNonDelivery (AVVISO DI MANCATA CONSEGNA, MANCATA CONSEGNA, ERRORE CONSEGNA): not delivered to one
	// recipient; final failure.
	KindNonDelivery Kind = "non-delivery"
	// KindNonAcceptance (AVVISO DI NON ACCETTAZIONE): the whole message was refused by the sender's
	// provider; final failure.
	KindNonAcceptance Kind = "non-acceptance"
	// KindVirus (AVVISO DI NON ACCETTAZIONE PER VIRUS, AVVISO DI MANCATA CONSEGNA PER VIRUS, PROBLEMA DI
	// SICUREZZA): final failure because of a virus; for the whole message when WholeMessage is set (a
	// non-acceptance), else for the recipient it names.
	KindVirus Kind = "virus"
	// KindTimeoutWarning (AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO, PREAVVISO DI MANCATA CONSEGNA,
	// error text not 5.4.1): no delivery yet after about 12 h; still pending, a delivery can follow. A
	// second warning for the same recipient means the delivery time expired (the caller counts them).
	KindTimeoutWarning Kind = "timeout-warning"
	// KindTimeoutExpired is the same notice with error text 5.4.1: the delivery time expired; final failure.
	KindTimeoutExpired Kind = "timeout-expired"
	// KindAnomaly (ANOMALIA MESSAGGIO): an ordinary mail server bounced or answered; final failure.
	KindAnomaly Kind = "anomaly"
	// KindTransport (POSTA CERTIFICATA): the transport envelope of the message itself, not a receipt.
	KindTransport Kind = "transport"
	// KindTakenInCharge (PRESA IN CARICO): between providers; no change for the sender.
	KindTakenInCharge Kind = "taken-in-charge"
	// KindUnknown is anything else: keep it, log it, keep polling.
	KindUnknown Kind = "unknown"
)

// Final reports whether k ends the story of the recipient (or message) it concerns.
func (k Kind) Final() bool {
	switch k {
	case KindDelivery, KindNonDelivery, KindNonAcceptance, KindVirus, KindTimeoutExpired, KindAnomaly:
		return true
	}
	return false
}

// Failed reports whether k is a final failure.
func (k Kind) Failed() bool {
	return k.Final() && k != KindDelivery
}

// Delivered reports whether k is a delivery receipt: the legal proof of delivery to one recipient.
func (k Kind) Delivered() bool { return k == KindDelivery }

// Informational reports whether k changes nothing for the sender (transport envelope, taken in charge,
// unknown).
func (k Kind) Informational() bool {
	return k == KindTransport || k == KindTakenInCharge || k == KindUnknown
}

// Classification is what Classify reads from a receipt.
type Classification struct {
	// Kind is the receipt's kind.
	Kind Kind
	// Subject is the original subject: the receipt's subject without its prefix and trailing code.
	Subject string
	// Code is the code the API appended to the subject (" " + message_id), empty if none. When it is not
	// empty, ReceiptBelongsTo(subject, Code) is true.
	Code string
	// Addressee is the recipient the receipt concerns, lower-case, as named by the addressee sentence of a
	// provider's receipt text ("Ricevuta di avvenuta consegna del messaggio indirizzato a <address>",
	// `e destinato all'utente "<address>"`); empty when the body is not such a text (the API may hand out
	// the original mail instead, which may mention any address) or when the receipt concerns the whole
	// message. Use AddresseeAmong to tell which of a row's recipients a receipt is about.
	Addressee string
	// ErrorText is the error line of a failure or time-limit notice, e.g. "5.1.1 - sandbox - indirizzo non
	// valido"; empty for other kinds.
	ErrorText string
	// ReceiptText says the body is a provider's receipt text of the receipt's kind (it starts with the fixed
	// heading of that kind, such as "Ricevuta di avvenuta consegna"), not text that may be the original mail.
	ReceiptText bool
	// WholeMessage says the receipt concerns the whole message rather than one recipient: an acceptance, a
	// non-acceptance, a non-acceptance for a virus.
	WholeMessage bool
}

// prefixRule maps a subject prefix (without the space after its colon) to a kind.
type prefixRule struct {
	prefix string
	kind   Kind
	// whole says the receipt concerns the whole message.
	whole bool
}

// timeoutKind stands for the timeout notice until its error text decides warning or expiry.
const timeoutKind Kind = "timeout"

// prefixRules is tried in order: longest prefix first, so that no rule is shadowed by a shorter one
// (TestPrefixRulesOrder enforces it).
var prefixRules = [...]prefixRule{
	{"AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO:", timeoutKind, false},
	{"AVVISO DI NON ACCETTAZIONE PER VIRUS:", KindVirus, true},
	{"AVVISO DI MANCATA CONSEGNA PER VIRUS:", KindVirus, false},
	{"PREAVVISO DI MANCATA CONSEGNA:", timeoutKind, false},
	{"AVVISO DI MANCATA CONSEGNA:", KindNonDelivery, false},
	{"AVVISO DI NON ACCETTAZIONE:", KindNonAcceptance, true},
	{"PROBLEMA DI SICUREZZA:", KindVirus, false},
	{"ANOMALIA MESSAGGIO:", KindAnomaly, false},
	{"AVVENUTA CONSEGNA:", KindDelivery, false},
	{"POSTA CERTIFICATA:", KindTransport, false},
	{"MANCATA CONSEGNA:", KindNonDelivery, false},
	{"ERRORE CONSEGNA:", KindNonDelivery, false},
	{"PRESA IN CARICO:", KindTakenInCharge, false},
	{"ACCETTAZIONE:", KindAcceptance, true},
	{"CONSEGNA:", KindDelivery, false},
}

// expiredErrorCode starts the error text of a timeout notice that is final.
const expiredErrorCode = "5.4.1"

// Classify maps a receipt's subject and body to its kind, and reads the original subject, the appended code,
// the recipient concerned and the error text. It matches prefixes of the subject only (case-insensitive,
// longest first), never words inside it, and reads the body through ASCII anchors only, so accented
// letters lost to U+FFFD do not matter. It takes an addressee only from the addressee sentence of a
// provider's receipt text of the same kind (see Classification.Addressee), never from an address that
// merely appears in a body: the API may give the original mail as a receipt's text.
func Classify(subject, body string) Classification {
	c := Classification{Kind: KindUnknown}
	rest := strings.TrimLeft(subject, " \t\r\n")
	for _, r := range prefixRules {
		if len(rest) >= len(r.prefix) && strings.EqualFold(rest[:len(r.prefix)], r.prefix) {
			c.Kind, c.WholeMessage = r.kind, r.whole
			rest = rest[len(r.prefix):]
			break
		}
	}
	if c.Kind == KindUnknown {
		rest = subject
	}
	c.Subject, c.Code = splitCode(rest)

	text := html.UnescapeString(body)
	lower := asciiLower(text)
	if c.Kind.mayFail() {
		c.ErrorText = errorText(text, lower)
	}
	if c.Kind == timeoutKind {
		c.Kind = KindTimeoutWarning
		if strings.HasPrefix(c.ErrorText, expiredErrorCode) {
			c.Kind = KindTimeoutExpired
		}
	}
	c.ReceiptText, c.Addressee = readReceiptText(c, text)
	return c
}

// mayFail reports whether a receipt of kind k can carry an error line: a failure or a time-limit notice.
// Other receipts (a delivery, an acceptance) may carry the original mail, whose words are not an error.
func (k Kind) mayFail() bool {
	return k == timeoutKind || k.Failed()
}

// ReceiptBelongsTo reports whether a receipt with the given subject is about the send with the given code:
// the API appends " " + message_id to the subject of every receipt, so the subject, without trailing
// white space, must end in exactly " " + code. A subject ending in a longer code that merely starts with
// code ("<code>7") belongs to another send. An empty code, or one with white space in it, belongs to nothing.
func ReceiptBelongsTo(subject, code string) bool {
	if code == "" || strings.IndexFunc(code, unicode.IsSpace) >= 0 {
		return false
	}
	return strings.HasSuffix(strings.TrimRightFunc(subject, unicode.IsSpace), " "+code)
}

// splitCode splits the code the API appends (" " + message_id) off a subject, trimming white space around
// both. A code is the last word, after a space, when it is all digits and at least minCodeDigits long;
// real codes are about 16 digits. It agrees with ReceiptBelongsTo: a code is split off only where the
// subject ends in " " + code.
func splitCode(s string) (subject, code string) {
	t := strings.TrimRightFunc(s, unicode.IsSpace)
	i := strings.LastIndexByte(t, ' ')
	if i < 0 {
		return strings.TrimSpace(s), ""
	}
	last := t[i+1:]
	if !isDigits(last) || len(last) < minCodeDigits || len(last) > maxCodeLen {
		return strings.TrimSpace(s), ""
	}
	return strings.TrimSpace(t[:i]), last
}

// minCodeDigits is the shortest trailing number taken as an appended code, so that a subject ending with
// a short number ("Fattura 2024") keeps it.
const minCodeDigits = 8

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// asciiLower lower-cases ASCII letters only, so that byte offsets in the result are offsets in s.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// anchorErrore is followed by the error line: "è stato rilevato il seguente errore:" in a non-delivery, "a
// causa del seguente errore:" in a non-acceptance.
const anchorErrore = "seguente errore"

// addressAt reads the e-mail address at the start of s, skipping spaces, quotes (typographic ones too) and
// an opening angle bracket; it returns "" when what is there is not an address.
func addressAt(s string) string {
	a, _ := addressSpan(s)
	return a
}

// addressSpan is addressAt that also returns the offset in s just past the word it read.
func addressSpan(s string) (addr string, end int) {
	start := len(s) - len(strings.TrimLeftFunc(s, isAddressDelimiter))
	n := strings.IndexFunc(s[start:], isAddressDelimiter)
	if n < 0 {
		n = len(s) - start
	}
	end = start + n
	a := strings.TrimRight(s[start:end], ".")
	at := strings.IndexByte(a, '@')
	if at <= 0 || at == len(a)-1 || strings.Count(a, "@") != 1 {
		return "", end
	}
	return strings.ToLower(a), end
}

// isAddressDelimiter reports whether r cannot be part of an address as receipts write it.
func isAddressDelimiter(r rune) bool {
	return unicode.IsSpace(r) || unicode.Is(unicode.Quotation_Mark, r) || r == utf8.RuneError ||
		strings.ContainsRune("<>()[],;:", r)
}

// errorText returns the error line following "è stato rilevato il seguente errore:", or "". In an HTML
// body a tag ends a line as a line break does.
func errorText(text, lower string) string {
	i := strings.Index(lower, anchorErrore)
	if i < 0 {
		return ""
	}
	rest := strings.TrimLeft(text[i+len(anchorErrore):], " \t:")
	for rest != "" {
		end := strings.IndexAny(rest, "\r\n<")
		if end < 0 {
			end = len(rest)
		}
		if line := strings.TrimSpace(rest[:end]); line != "" {
			if len(line) > maxMessageLen {
				line = line[:maxMessageLen]
			}
			return strings.ToValidUTF8(line, "\uFFFD")
		}
		rest = rest[end:]
		if strings.HasPrefix(rest, "<") {
			if gt := strings.IndexByte(rest, '>'); gt >= 0 {
				rest = rest[gt+1:]
				continue
			}
			return ""
		}
		rest = strings.TrimLeft(rest, "\r\n")
	}
	return ""
}
