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
	// SICUREZZA): final failure because of a virus; for the whole message when Addressee is empty.
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
	// Code is the code the API appended to the subject, empty if none.
	Code string
	// Addressee is the recipient the receipt concerns, lower-case, as named in the body; empty if the
	// body names none.
	Addressee string
	// ErrorText is the error line of a failure notice, e.g. "5.1.1 - sandbox - indirizzo non valido".
	ErrorText string
}

// prefixRule maps a subject prefix (without the space after its colon) to a kind.
type prefixRule struct {
	prefix string
	kind   Kind
}

// timeoutKind stands for the timeout notice until its error text decides warning or expiry.
const timeoutKind Kind = "timeout"

// prefixRules is tried in order: longest prefix first, so that no rule is shadowed by a shorter one
// (TestPrefixRulesOrder enforces it).
var prefixRules = [...]prefixRule{
	{"AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO:", timeoutKind},
	{"AVVISO DI NON ACCETTAZIONE PER VIRUS:", KindVirus},
	{"AVVISO DI MANCATA CONSEGNA PER VIRUS:", KindVirus},
	{"PREAVVISO DI MANCATA CONSEGNA:", timeoutKind},
	{"AVVISO DI MANCATA CONSEGNA:", KindNonDelivery},
	{"AVVISO DI NON ACCETTAZIONE:", KindNonAcceptance},
	{"PROBLEMA DI SICUREZZA:", KindVirus},
	{"ANOMALIA MESSAGGIO:", KindAnomaly},
	{"AVVENUTA CONSEGNA:", KindDelivery},
	{"POSTA CERTIFICATA:", KindTransport},
	{"MANCATA CONSEGNA:", KindNonDelivery},
	{"ERRORE CONSEGNA:", KindNonDelivery},
	{"PRESA IN CARICO:", KindTakenInCharge},
	{"ACCETTAZIONE:", KindAcceptance},
	{"CONSEGNA:", KindDelivery},
}

// expiredErrorCode starts the error text of a timeout notice that is final.
const expiredErrorCode = "5.4.1"

// Classify maps a receipt's subject and body to its kind, and reads the original subject, the appended code,
// the recipient concerned and the error text. It matches prefixes of the subject only (case-insensitive,
// longest first), never words inside it, and reads the body through ASCII anchors only, so accented
// letters lost to U+FFFD do not matter.
func Classify(subject, body string) Classification {
	c := Classification{Kind: KindUnknown}
	rest := strings.TrimLeft(subject, " \t\r\n")
	for _, r := range prefixRules {
		if len(rest) >= len(r.prefix) && strings.EqualFold(rest[:len(r.prefix)], r.prefix) {
			c.Kind = r.kind
			rest = rest[len(r.prefix):]
			break
		}
	}
	if c.Kind == KindUnknown {
		rest = subject
	}
	c.Subject, c.Code = splitCode(strings.TrimSpace(rest))

	text := html.UnescapeString(body)
	lower := asciiLower(text)
	c.Addressee = addressee(text, lower)
	c.ErrorText = errorText(text, lower)
	if c.Kind == timeoutKind {
		c.Kind = KindTimeoutWarning
		if strings.HasPrefix(c.ErrorText, expiredErrorCode) {
			c.Kind = KindTimeoutExpired
		}
	}
	return c
}

// splitCode splits the code the API appends (" " + message_id) off a subject. A code is the last word when
// it is all digits and at least minCodeDigits long; real codes are about 16 digits.
func splitCode(s string) (subject, code string) {
	i := strings.LastIndexAny(s, " \t")
	last := s[i+1:]
	if !isDigits(last) || len(last) < minCodeDigits || len(last) > maxCodeLen {
		return s, ""
	}
	return strings.TrimRight(s[:max(i, 0)], " \t"), last
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

// Anchors of the receipt texts (receipts.md). Non-delivery and timeout notices name the recipient as
// `destinato all'utente "<address>"`; delivery and acceptance receipts as "indirizzato a <address>". The
// apostrophe is not part of the anchor: it may come typographic or lost.
const (
	anchorDestinato   = "destinato all"
	anchorUtente      = "utente"
	anchorIndirizzato = "indirizzato a "

	// The error line follows "è stato rilevato il seguente errore:" in a
	// non-delivery, "a causa del seguente errore:" in a non-acceptance.
	anchorErrore = "seguente errore"
)

// addressee returns the recipient named in a receipt body, lower-case, or "".
func addressee(text, lower string) string {
	if i := strings.Index(lower, anchorDestinato); i >= 0 {
		after := i + len(anchorDestinato)
		// "all'utente": allow up to 4 bytes for the apostrophe, whatever form it took (U+2019 and U+FFFD take 3).
		if j := strings.Index(lower[after:min(after+4+len(anchorUtente), len(lower))], anchorUtente); j >= 0 {
			if a := addressAt(text[after+j+len(anchorUtente):]); a != "" {
				return a
			}
		}
	}
	if i := strings.Index(lower, anchorIndirizzato); i >= 0 {
		return addressAt(text[i+len(anchorIndirizzato):])
	}
	return ""
}

// addressAt reads the e-mail address at the start of s, skipping spaces, quotes (typographic ones too) and
// an opening angle bracket; it returns "" when what is there is not an address.
func addressAt(s string) string {
	s = strings.TrimLeftFunc(s, isAddressDelimiter)
	end := strings.IndexFunc(s, isAddressDelimiter)
	if end < 0 {
		end = len(s)
	}
	a := strings.TrimRight(s[:end], ".")
	at := strings.IndexByte(a, '@')
	if at <= 0 || at == len(a)-1 || strings.Count(a, "@") != 1 {
		return ""
	}
	return strings.ToLower(a)
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
