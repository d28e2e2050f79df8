package sandbox

import (
	"fmt"
	"strings"
	"time"
)

// The recipient domains that script the sandbox's receipts, like a payment
// provider's test card numbers. Any other domain is delivered normally.
const (
	// DomainInvalid yields ACCETTAZIONE, then AVVISO DI MANCATA CONSEGNA
	// with 5.1.1 (no such mailbox) at the delivery delay.
	DomainInvalid = "invalid.sandbox.test"
	// DomainFull yields ACCETTAZIONE, then AVVISO DI MANCATA CONSEGNA with
	// 5.2.2 (mailbox full) at the delivery delay.
	DomainFull = "full.sandbox.test"
	// DomainSlow yields ACCETTAZIONE, the "tempo massimo" warning at
	// WarnAfter, then CONSEGNA a delivery delay after the warning.
	DomainSlow = "slow.sandbox.test"
	// DomainExpire yields ACCETTAZIONE, the "tempo massimo" warning at
	// WarnAfter and the final notice (5.4.1) at ExpireAfter.
	DomainExpire = "expire.sandbox.test"
	// DomainOrdinary is a non-PEC mailbox: ACCETTAZIONE (naming it "posta
	// ordinaria") and nothing else, ever.
	DomainOrdinary = "ordinary.sandbox.test"
	// DomainVirus makes the whole message refused with AVVISO DI NON
	// ACCETTAZIONE PER VIRUS and no acceptance.
	DomainVirus = "virus.sandbox.test"
	// DomainReject makes the whole message refused with AVVISO DI NON
	// ACCETTAZIONE and no acceptance.
	DomainReject = "reject.sandbox.test"
)

// ReceiptSender is the sender of every receipt the sandbox produces: the
// sandbox provider's system mailbox.
const ReceiptSender = "posta-certificata@pec.sandbox.test"

// The subject prefixes of receipts.md, as the sandbox writes them.
const (
	prefixAcceptance       = "ACCETTAZIONE"
	prefixDelivery         = "CONSEGNA"
	prefixNonDelivery      = "AVVISO DI MANCATA CONSEGNA"
	prefixTimeout          = "AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO"
	prefixNonAcceptance    = "AVVISO DI NON ACCETTAZIONE"
	prefixVirus            = "AVVISO DI NON ACCETTAZIONE PER VIRUS"
	prefixTransport        = "POSTA CERTIFICATA"
	errorInvalid           = "5.1.1 - sandbox - indirizzo non valido"
	errorFull              = "5.2.2 - sandbox - casella piena"
	errorTimeoutWarning    = "4.4.7 - sandbox - consegna non ancora avvenuta nel tempo previsto"
	errorTimeoutExpired    = "5.4.1 - sandbox - tempo massimo di consegna superato"
	errorRejected          = "5.7.1 - sandbox - messaggio non accettato"
	errorVirus             = "5.7.1 - sandbox - virus rilevato nel messaggio"
	tagCertified           = `("posta certificata")`
	tagOrdinary            = `("posta ordinaria")`
	providerMessageIDShape = "sandbox.%s@pec.sandbox.test"
)

type receiptKind int

const (
	kindAcceptance receiptKind = iota
	kindDelivery
	kindNonDelivery
	kindTimeoutWarning
	kindTimeoutExpired
	kindNonAcceptance
	kindVirus
	kindTransport
)

// event is one receipt of one send, scheduled at a sandbox time. It becomes
// an inbox message (with an id) the first time the mailbox is read at or
// after that time.
type event struct {
	at        time.Time
	kind      receiptKind
	addressee string // the recipient concerned; "" for whole-message receipts
	errorText string
	send      *sendRecord
	seq       int64 // send order, then index: ties between equal times
	index     int
}

// timing is the part of Options that places receipts in time.
type timing struct {
	acceptDelay, deliverDelay, warnAfter, expireAfter time.Duration
}

// domainOf returns the lower-cased domain of a validated address.
func domainOf(addr string) string {
	return strings.ToLower(addr[strings.LastIndexByte(addr, '@')+1:])
}

// schedule derives every receipt of a send from its time and its recipients'
// domains: the whole behaviour of the domain table lives here.
func schedule(t timing, rec *sendRecord) []*event {
	sent := rec.Time
	var events []*event
	add := func(at time.Time, kind receiptKind, addressee, errorText string) {
		events = append(events, &event{
			at: at, kind: kind, addressee: addressee, errorText: errorText,
			send: rec, seq: rec.seq, index: len(events),
		})
	}
	// A refused message is refused as a whole, before any recipient is
	// considered; a virus wins over a plain refusal.
	for _, refusal := range []struct {
		domain, errorText string
		kind              receiptKind
	}{{DomainVirus, errorVirus, kindVirus}, {DomainReject, errorRejected, kindNonAcceptance}} {
		for _, r := range rec.Recipients {
			if domainOf(r) == refusal.domain {
				add(sent.Add(t.acceptDelay), refusal.kind, "", refusal.errorText)
				return events
			}
		}
	}
	add(sent.Add(t.acceptDelay), kindAcceptance, "", "")
	for _, r := range rec.Recipients {
		delivered := func(at time.Time) {
			// The sender's own copy comes back in the transport envelope,
			// as the contract's example of GET /send/{code} shows.
			if strings.EqualFold(r, rec.Sender) {
				add(at, kindTransport, r, "")
			}
			add(at, kindDelivery, r, "")
		}
		switch domainOf(r) {
		case DomainInvalid:
			add(sent.Add(t.deliverDelay), kindNonDelivery, r, errorInvalid)
		case DomainFull:
			add(sent.Add(t.deliverDelay), kindNonDelivery, r, errorFull)
		case DomainSlow:
			add(sent.Add(t.warnAfter), kindTimeoutWarning, r, errorTimeoutWarning)
			delivered(sent.Add(t.warnAfter + t.deliverDelay))
		case DomainExpire:
			add(sent.Add(t.warnAfter), kindTimeoutWarning, r, errorTimeoutWarning)
			add(sent.Add(t.expireAfter), kindTimeoutExpired, r, errorTimeoutExpired)
		case DomainOrdinary:
			// A non-PEC mailbox never certifies a delivery.
		default:
			delivered(sent.Add(t.deliverDelay))
		}
	}
	return events
}

// message is one entry of the sandbox mailbox: a receipt that has arrived.
type message struct {
	id        int64
	code      string
	sender    string
	recipient string
	date      string // RFC 2822
	object    string
	body      string // plain text, as GET /send/{code} shows it
	size      int64  // bytes it takes in the mailbox (quota)
}

// render turns an arrived event into the mailbox message the API shows.
func render(ev *event, loc *time.Location) *message {
	rec := ev.send
	at := ev.at.In(loc)
	m := &message{
		code:      rec.Code,
		sender:    ReceiptSender,
		recipient: rec.Sender,
		date:      at.Format(time.RFC1123Z),
		object:    receiptPrefix(ev.kind) + ": " + rec.Subject + " " + rec.Code,
	}
	var body string
	// The receipt texts of the providers are iso-8859-1 and the service
	// shows their accented letters as U+FFFD (the contract's example reads
	// "questa email � una prova"); the sandbox does the same, so a client
	// that matches on accented words fails here and not in production.
	switch ev.kind {
	case kindTransport:
		m.sender = `"Per conto di: ` + rec.Sender + `" `
		m.recipient = `"` + ev.addressee + `" `
		body = rec.body
		// The envelope carries the original message whole.
		m.size = rec.size
	case kindAcceptance:
		body = acceptanceText(rec, at)
	case kindDelivery:
		body = deliveryText(rec, at, ev.addressee)
		// A "completa" delivery receipt carries the original message.
		m.size = rec.size
	case kindNonDelivery, kindTimeoutWarning, kindTimeoutExpired:
		body = nonDeliveryText(rec, at, ev.kind, ev.addressee, ev.errorText)
	case kindNonAcceptance, kindVirus:
		body = nonAcceptanceText(rec, at, ev.kind, ev.errorText)
	}
	m.body = asLatin1Seen(body)
	m.size += int64(len(m.sender) + len(m.recipient) + len(m.date) + len(m.object) + len(m.body))
	return m
}

func receiptPrefix(kind receiptKind) string {
	switch kind {
	case kindAcceptance:
		return prefixAcceptance
	case kindDelivery:
		return prefixDelivery
	case kindNonDelivery:
		return prefixNonDelivery
	case kindTimeoutWarning, kindTimeoutExpired:
		return prefixTimeout
	case kindNonAcceptance:
		return prefixNonAcceptance
	case kindVirus:
		return prefixVirus
	default:
		return prefixTransport
	}
}

// asLatin1Seen replaces every non-ASCII character with U+FFFD, which is how
// iso-8859-1 receipt text reaches an API client.
func asLatin1Seen(s string) string {
	return strings.Map(func(r rune) rune {
		if r > 0x7f {
			return '\uFFFD'
		}
		return r
	}, s)
}

func recipientTag(addr string) string {
	if domainOf(addr) == DomainOrdinary {
		return tagOrdinary
	}
	return tagCertified
}

func taggedList(recipients []string, sep string) string {
	parts := make([]string, len(recipients))
	for i, r := range recipients {
		parts[i] = r + " " + recipientTag(r)
	}
	return strings.Join(parts, sep)
}

// when is the "Il giorno ... alle ore ... (zone)" clause of every receipt.
func when(at time.Time) string {
	return fmt.Sprintf("Il giorno %s alle ore %s (%s)", at.Format("02/01/2006"), at.Format("15:04:05"), at.Format("-0700"))
}

func providerID(rec *sendRecord) string {
	return fmt.Sprintf(providerMessageIDShape, rec.Code)
}

func acceptanceText(rec *sendRecord, at time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Ricevuta di accettazione del messaggio indirizzato a %s\n\n", taggedList(rec.Recipients, ", "))
	fmt.Fprintf(&b, "%s il messaggio con Oggetto \"%s\" inviato da \"%s\" ed indirizzato a:\n", when(at), rec.Subject, rec.Sender)
	fmt.Fprintf(&b, "%s\n", taggedList(rec.Recipients, "\n"))
	b.WriteString("è stato accettato dal sistema ed inoltrato.\n")
	fmt.Fprintf(&b, "Identificativo del messaggio: %s\n", providerID(rec))
	return b.String()
}

func deliveryText(rec *sendRecord, at time.Time, addressee string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Ricevuta di avvenuta consegna del messaggio indirizzato a %s %s\n\n", addressee, tagCertified)
	fmt.Fprintf(&b, "%s il messaggio con Oggetto \"%s\" inviato da \"%s\" ed indirizzato a \"%s\"\n", when(at), rec.Subject, rec.Sender, addressee)
	b.WriteString("è stato consegnato nella casella di destinazione.\n")
	fmt.Fprintf(&b, "Identificativo del messaggio: %s\n", providerID(rec))
	return b.String()
}

func nonDeliveryText(rec *sendRecord, at time.Time, kind receiptKind, addressee, errorText string) string {
	var b strings.Builder
	switch kind {
	case kindTimeoutWarning:
		b.WriteString("Avviso di mancata consegna del messaggio per superamento del tempo massimo (preavviso)\n\n")
	case kindTimeoutExpired:
		b.WriteString("Avviso di mancata consegna del messaggio per superamento del tempo massimo\n\n")
	default:
		b.WriteString("Avviso di mancata consegna del messaggio\n\n")
	}
	fmt.Fprintf(&b, "%s nel messaggio con Oggetto \"%s\" inviato da \"%s\"\n", when(at), rec.Subject, rec.Sender)
	fmt.Fprintf(&b, "e destinato all'utente \"%s\" è stato rilevato il seguente errore:\n", addressee)
	fmt.Fprintf(&b, "%s\n", errorText)
	if kind == kindTimeoutWarning {
		b.WriteString("Il sistema continua a tentare la consegna del messaggio.\n")
	} else {
		b.WriteString("Il messaggio è stato rifiutato dal sistema.\n")
	}
	fmt.Fprintf(&b, "Identificativo del messaggio: %s\n", providerID(rec))
	return b.String()
}

func nonAcceptanceText(rec *sendRecord, at time.Time, kind receiptKind, errorText string) string {
	var b strings.Builder
	if kind == kindVirus {
		b.WriteString("Avviso di non accettazione del messaggio per virus\n\n")
	} else {
		b.WriteString("Avviso di non accettazione del messaggio\n\n")
	}
	fmt.Fprintf(&b, "%s il messaggio con Oggetto \"%s\" inviato da \"%s\" ed indirizzato a:\n", when(at), rec.Subject, rec.Sender)
	fmt.Fprintf(&b, "%s\n", taggedList(rec.Recipients, "\n"))
	b.WriteString("non è stato accettato dal sistema a causa del seguente errore:\n")
	fmt.Fprintf(&b, "%s\n", errorText)
	b.WriteString("Il messaggio non è stato inoltrato.\n")
	fmt.Fprintf(&b, "Identificativo del messaggio: %s\n", providerID(rec))
	return b.String()
}
