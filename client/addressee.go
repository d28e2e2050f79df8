package client

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// What a receipt proves about its addressee. The API's GET /send/{code} gives each entry a recipient field
// that is the sending mailbox (the receipts are mail to it), and a text that is either a provider's receipt
// text, naming the addressee in fixed sentences, or the original mail, which may mention any address. An
// addressee is therefore read only from a place that is about the addressee: the addressee sentence of a
// receipt text of the receipt's own kind, or a recipient field that is not the sending mailbox.

// textFamily groups the receipt kinds that share the fixed heading of a provider's receipt text.
type textFamily int

const (
	familyNone textFamily = iota
	familyAcceptance
	familyDelivery
	// familyFailure: "Avviso di mancata consegna" (a non-delivery, a time-limit notice, a virus at delivery).
	familyFailure
	familyNonAcceptance
	familyTakenInCharge
)

// receiptHeading is the fixed opening of a provider's receipt text (lower-case ASCII words only, since
// accented letters may arrive as U+FFFD).
type receiptHeading struct {
	heading string
	family  textFamily
}

// receiptHeadings are the openings of the receipt texts of receipts.md; the order does not matter, no
// heading is a prefix of another.
var receiptHeadings = [...]receiptHeading{
	{"ricevuta di avvenuta consegna", familyDelivery},
	{"ricevuta di accettazione", familyAcceptance},
	{"ricevuta di presa in carico", familyTakenInCharge},
	{"preavviso di mancata consegna", familyFailure},
	{"avviso di mancata consegna", familyFailure},
	{"avviso di non accettazione", familyNonAcceptance},
}

// family returns the receipt-text family a classified receipt's text must belong to.
func (c Classification) family() textFamily {
	switch c.Kind {
	case KindDelivery:
		return familyDelivery
	case KindAcceptance:
		return familyAcceptance
	case KindNonAcceptance:
		return familyNonAcceptance
	case KindVirus:
		if c.WholeMessage {
			return familyNonAcceptance
		}
		return familyFailure
	case KindNonDelivery, KindTimeoutWarning, KindTimeoutExpired:
		return familyFailure
	case KindTakenInCharge:
		return familyTakenInCharge
	}
	return familyNone
}

// Anchors of the addressee sentences. A non-delivery or time-limit notice names its recipient as
// `e destinato all'utente "<address>"` (the apostrophe is not part of the anchor: it may come typographic
// or lost); a delivery receipt as "Ricevuta di avvenuta consegna del messaggio indirizzato a <address>"
// or "... ed indirizzato a "<address>"" ("ed è indirizzato a" too).
const (
	anchorDestinato   = "destinato all"
	anchorUtente      = "utente"
	anchorIndirizzato = "indirizzato a"
	anchorMessaggio   = "del messaggio"
)

// readReceiptText reports whether text (the receipt body, HTML entities decoded) is a provider's receipt
// text of c's kind, and returns the addressee its addressee sentence names, lower-case, or "".
func readReceiptText(c Classification, text string) (receiptText bool, addressee string) {
	fam := c.family()
	if fam == familyNone {
		return false, ""
	}
	lower := asciiLower(text)
	start := textStart(lower)
	h, ok := headingAt(lower[start:])
	if !ok || h.family != fam {
		return false, ""
	}
	if c.WholeMessage || fam != familyDelivery && fam != familyFailure {
		return true, ""
	}
	// The receipt quotes the subject, which is the sender's own words: they must not pass for an anchor.
	rest := blankQuoted(text[start+len(h.heading):], c.Subject)
	restLower := asciiLower(rest)
	if fam == familyFailure {
		return true, destinatoAddressee(rest, restLower)
	}
	return true, deliveryAddressee(rest, restLower)
}

// textStart returns the offset of the first text of a body (lower-cased), past white space, a byte order
// mark, tags, comments and the elements whose content is not shown (head, title, style, script); len(lower)
// when a tag is not closed.
func textStart(lower string) int {
	i := 0
	for i < len(lower) {
		r, size := utf8.DecodeRuneInString(lower[i:])
		switch {
		case unicode.IsSpace(r) || r == '\uFEFF':
			i += size
		case r == '<':
			end := tagEnd(lower, i)
			if end < 0 {
				return len(lower)
			}
			i = end
		default:
			return i
		}
	}
	return i
}

// hiddenElements are skipped whole by textStart: their content comes before the text that is shown.
var hiddenElements = [...]struct{ open, close string }{
	{"<!--", "-->"}, {"<head", "</head>"}, {"<title", "</title>"}, {"<style", "</style>"}, {"<script", "</script>"},
}

// tagEnd returns the offset just past the tag at lower[i:] (or past the whole element, for hidden ones),
// or -1 when it is not closed.
func tagEnd(lower string, i int) int {
	s := lower[i:]
	for _, el := range hiddenElements {
		if !strings.HasPrefix(s, el.open) {
			continue
		}
		if after := s[len(el.open):]; el.open != "<!--" && after != "" && after[0] != '>' && after[0] != '/' &&
			!unicode.IsSpace(rune(after[0])) {
			continue // "<header>" is not "<head>"
		}
		j := strings.Index(s, el.close)
		if j < 0 {
			return -1
		}
		return i + j + len(el.close)
	}
	j := strings.IndexByte(s, '>')
	if j < 0 {
		return -1
	}
	return i + j + 1
}

// headingAt returns the receipt heading lower starts with, as a whole word.
func headingAt(lower string) (receiptHeading, bool) {
	for _, h := range receiptHeadings {
		if strings.HasPrefix(lower, h.heading) && !startsWithLetter(lower[len(h.heading):]) {
			return h, true
		}
	}
	return receiptHeading{}, false
}

func startsWithLetter(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return s != "" && (unicode.IsLetter(r) || unicode.IsDigit(r))
}

// quotePairs are the quotes a receipt text may put around the subject.
var quotePairs = [...][2]string{{`"`, `"`}, {"\u201c", "\u201d"}, {"\u00ab", "\u00bb"}, {"'", "'"}}

// blankQuoted replaces each quoted occurrence of subject in s with spaces of the same length, so that
// offsets do not move.
func blankQuoted(s, subject string) string {
	if subject == "" {
		return s
	}
	for _, q := range quotePairs {
		quoted := q[0] + subject + q[1]
		s = strings.ReplaceAll(s, quoted, strings.Repeat(" ", len(quoted)))
	}
	return s
}

// destinatoAddressee reads the address of the first `destinato all'utente` sentence.
func destinatoAddressee(text, lower string) string {
	i := strings.Index(lower, anchorDestinato)
	if i < 0 {
		return ""
	}
	after := i + len(anchorDestinato)
	// "all'utente": allow up to 4 bytes for the apostrophe, whatever form it took (U+2019 and U+FFFD take 3).
	j := strings.Index(lower[after:min(after+4+len(anchorUtente), len(lower))], anchorUtente)
	if j < 0 {
		return ""
	}
	return singleAddressAt(text[after+j+len(anchorUtente):])
}

// deliveryAddressee reads the addressee of a delivery receipt from its first line ("... del messaggio
// indirizzato a <address>") and from its "ed indirizzato a <address>" sentence. Every anchor found must
// name one address, and the same one; otherwise nobody is named.
func deliveryAddressee(text, lower string) string {
	named := ""
	agree := func(a string) bool {
		if a == "" || named != "" && a != named {
			return false
		}
		named = a
		return true
	}
	from := 0
	pos := len(lower) - len(strings.TrimLeftFunc(lower, unicode.IsSpace))
	if strings.HasPrefix(lower[pos:], anchorMessaggio) {
		pos += len(anchorMessaggio)
		pos += len(lower[pos:]) - len(strings.TrimLeftFunc(lower[pos:], unicode.IsSpace))
	}
	if isAnchorAt(lower, pos, anchorIndirizzato) {
		if !agree(singleAddressAt(text[pos+len(anchorIndirizzato):])) {
			return ""
		}
		from = pos + len(anchorIndirizzato)
	}
	for from < len(lower) {
		j := strings.Index(lower[from:], anchorIndirizzato)
		if j < 0 {
			break
		}
		i := from + j
		from = i + len(anchorIndirizzato)
		if !isAnchorAt(lower, i, anchorIndirizzato) || !afterConjunction(lower[:i]) {
			continue
		}
		if !agree(singleAddressAt(text[from:])) {
			return ""
		}
		break // the sentence names the addressee once
	}
	return named
}

// isAnchorAt reports whether lower has anchor at i as whole words: an address delimiter follows it.
func isAnchorAt(lower string, i int, anchor string) bool {
	if !strings.HasPrefix(lower[i:], anchor) {
		return false
	}
	r, _ := utf8.DecodeRuneInString(lower[i+len(anchor):])
	return i+len(anchor) < len(lower) && isAddressDelimiter(r)
}

// afterConjunction reports whether before ends with "ed", "e", or "ed <short word>" ("ed è", with the
// accent possibly lost), as the receipts' "ed indirizzato a" sentence has it.
func afterConjunction(before string) bool {
	words := strings.Fields(before[max(0, len(before)-24):])
	if len(words) == 0 {
		return false
	}
	last := words[len(words)-1]
	if last == "ed" || last == "e" {
		return true
	}
	return len(words) >= 2 && len(last) <= 3 && !strings.ContainsRune(last, '@') &&
		(words[len(words)-2] == "ed" || words[len(words)-2] == "e")
}

// listTags are the words receipts write after an address: ("posta certificata"), ("posta ordinaria").
var listTags = map[string]bool{"posta": true, "certificata": true, "ordinaria": true}

// singleAddressAt reads the address at the start of s, as addressAt does, but only when no other address
// follows it (past the receipts' "posta certificata" tags): a list names nobody in particular.
func singleAddressAt(s string) string {
	a, end := addressSpan(s)
	if a == "" {
		return ""
	}
	rest := s[end:]
	for {
		rest = strings.TrimLeftFunc(rest, isAddressDelimiter)
		n := strings.IndexFunc(rest, isAddressDelimiter)
		if n < 0 {
			n = len(rest)
		}
		word := rest[:n]
		switch {
		case word == "":
			return a
		case strings.ContainsRune(word, '@'):
			return ""
		case !listTags[asciiLower(word)]:
			return a
		}
		rest = rest[n:]
	}
}

// perConto is the label PEC transport envelopes put before the original sender: "Per conto di: <address>".
const perConto = "per conto di:"

// CleanAddress returns the e-mail address in a sender or recipient field as the API gives it, lower-case:
// without surrounding white space and quotes, without a "Per conto di:" label, and the address in angle
// brackets when there is one (`"Per conto di: a@b.it" <posta-certificata@pec.it>` gives the latter). It
// returns "" when the field holds no single address.
func CleanAddress(field string) string {
	s := strings.TrimSpace(field)
	if i := strings.LastIndexByte(s, '<'); i >= 0 {
		if j := strings.IndexByte(s[i:], '>'); j > 0 {
			s = s[i+1 : i+j]
		}
	}
	trim := func(s string) string {
		return strings.TrimFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.Is(unicode.Quotation_Mark, r) })
	}
	s = trim(s)
	if len(s) >= len(perConto) && strings.EqualFold(s[:len(perConto)], perConto) {
		s = trim(s[len(perConto):])
	}
	if strings.IndexFunc(s, isAddressDelimiter) >= 0 {
		return ""
	}
	a, _ := addressSpan(s)
	return a
}

// AddresseeAmong tells which of recipients (the addresses a send went to) the receipt r, classified as c,
// is about. It answers (one of recipients, spelled as given, true) only when a place that is about the
// addressee names that recipient: the addressee sentence of a provider's receipt text (c.Addressee), or the
// entry's recipient field when that is not the sending mailbox (the documented API gives the sending
// mailbox there; an empty mailbox means the field is never used). When the two name different
// addresses, when the receipt concerns the whole message (acceptance, non-acceptance), changes nothing
// (transport envelope, taken in charge, unknown), or names nobody among recipients, it answers ("", false):
// the caller must then attribute the receipt otherwise (one recipient; or counting receipts of the kind).
func (c Classification) AddresseeAmong(r Receipt, mailbox string, recipients []string) (addr string, named bool) {
	if c.WholeMessage || c.Kind.Informational() {
		return "", false
	}
	name := c.Addressee
	if field, box := r.RecipientAddress(), CleanAddress(mailbox); field != "" && box != "" && field != box {
		if name != "" && name != field {
			return "", false
		}
		name = field
	}
	if name == "" {
		return "", false
	}
	for _, rc := range recipients {
		if CleanAddress(rc) == name {
			return rc, true
		}
	}
	return "", false
}
