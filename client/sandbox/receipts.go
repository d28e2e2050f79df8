package sandbox

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The recipient domains that script the sandbox's receipts, like a payment
// provider's test card numbers. Any other domain is delivered normally. They
// mean the same in every ReceiptStyle.
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
	// ordinaria" in the pec style) and nothing else, ever.
	DomainOrdinary = "ordinary.sandbox.test"
	// DomainVirus makes the whole message refused with AVVISO DI NON
	// ACCETTAZIONE PER VIRUS and no acceptance.
	DomainVirus = "virus.sandbox.test"
	// DomainReject makes the whole message refused with AVVISO DI NON
	// ACCETTAZIONE and no acceptance.
	DomainReject = "reject.sandbox.test"
	// DomainCharge yields ACCETTAZIONE, PRESA IN CARICO halfway between the
	// acceptance and the delivery delay, then CONSEGNA.
	DomainCharge = "charge.sandbox.test"
	// DomainInfected yields ACCETTAZIONE, then AVVISO DI MANCATA CONSEGNA
	// PER VIRUS at the delivery delay: the recipient's provider found a virus.
	DomainInfected = "infected.sandbox.test"
	// DomainAnomaly is a non-PEC mailbox whose server bounces: ACCETTAZIONE,
	// then ANOMALIA MESSAGGIO at the delivery delay.
	DomainAnomaly = "anomaly.sandbox.test"
	// DomainSecurity yields ACCETTAZIONE, then PROBLEMA DI SICUREZZA at the
	// delivery delay.
	DomainSecurity = "security.sandbox.test"
	// DomainDuplicate makes the send's ACCETTAZIONE listed twice in every
	// GET /send/{code} answer (one mailbox message), and this recipient's
	// CONSEGNA come again, identical (same date), a minute after the first.
	DomainDuplicate = "duplicate.sandbox.test"
	// DomainUnsorted is delivered normally, but GET /send/{code} lists the
	// send's receipts newest first, not by date.
	DomainUnsorted = "unsorted.sandbox.test"
	// DomainForeign is delivered normally, and GET /send/{code} also lists,
	// from the acceptance on, a CONSEGNA of another send whose code is this
	// one followed by "7" (same subject, same text): a client must ignore it.
	DomainForeign = "foreign.sandbox.test"
	// DomainBadSignature is delivered normally; in the IMAP mailbox its
	// CONSEGNA's signed content is altered after signing, so its S/MIME
	// signature does not verify. The REST API shows nothing unusual.
	DomainBadSignature = "badsig.sandbox.test"
	// DomainMismatch is delivered normally; in the IMAP mailbox its
	// CONSEGNA carries a validly signed daticert.xml of another message:
	// tipo "accettazione" and the oggetto of the send whose code is this
	// one followed by "7". The REST API shows nothing unusual.
	DomainMismatch = "mismatch.sandbox.test"
)

// ReceiptSender is the sender of every receipt in the pec style: the
// sandbox provider's system mailbox.
const ReceiptSender = "posta-certificata@pec.sandbox.test"

// DocumentedReceiptSender is the sender of every receipt in the documented
// style, as in the contract's example of GET /send/{code}.
const DocumentedReceiptSender = "posta-certificata@pecmassiva.com"

// ForeignSuffix is appended to a send's code to make the code of the
// foreign send whose CONSEGNA DomainForeign lists.
const ForeignSuffix = "7"

// The subject prefixes of receipts.md, as the sandbox writes them.
const (
	prefixAcceptance       = "ACCETTAZIONE"
	prefixDelivery         = "CONSEGNA"
	prefixNonDelivery      = "AVVISO DI MANCATA CONSEGNA"
	prefixTimeout          = "AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO"
	prefixDeliveryVirus    = "AVVISO DI MANCATA CONSEGNA PER VIRUS"
	prefixNonAcceptance    = "AVVISO DI NON ACCETTAZIONE"
	prefixVirus            = "AVVISO DI NON ACCETTAZIONE PER VIRUS"
	prefixTransport        = "POSTA CERTIFICATA"
	prefixTakenInCharge    = "PRESA IN CARICO"
	prefixAnomaly          = "ANOMALIA MESSAGGIO"
	prefixSecurity         = "PROBLEMA DI SICUREZZA"
	errorInvalid           = "5.1.1 - sandbox - indirizzo non valido"
	errorFull              = "5.2.2 - sandbox - casella piena"
	errorTimeoutWarning    = "4.4.7 - sandbox - consegna non ancora avvenuta nel tempo previsto"
	errorTimeoutExpired    = "5.4.1 - sandbox - tempo massimo di consegna superato"
	errorRejected          = "5.7.1 - sandbox - messaggio non accettato"
	errorVirus             = "5.7.1 - sandbox - virus rilevato nel messaggio"
	errorBounce            = "550 5.1.1 <%s>: Recipient address rejected: User unknown in local recipient table"
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
	kindTakenInCharge
	kindDeliveryVirus
	kindAnomaly
	kindSecurity
)

// event is one receipt of one send, scheduled at a sandbox time. It becomes
// an inbox message (with an id) the first time the mailbox is read at or
// after that time.
type event struct {
	at        time.Time
	shownAt   time.Time // the date it shows, when not at (a late copy)
	kind      receiptKind
	addressee string // the recipient concerned; "" for whole-message receipts
	errorText string
	// foreignCode is set on a receipt of another send (DomainForeign): the
	// code in its subject, listed under this send's code too.
	foreignCode string
	listTwice   bool // listed twice in each GET /send/{code} answer
	send        *sendRecord
	seq         int64 // send order, then index: ties between equal times
	index       int
}

// timing is the part of Options that places receipts in time.
type timing struct {
	acceptDelay, deliverDelay, warnAfter, expireAfter time.Duration
}

// domainOf returns the lower-cased domain of a validated address.
func domainOf(addr string) string {
	return strings.ToLower(addr[strings.LastIndexByte(addr, '@')+1:])
}

// hasDomain reports whether any recipient of rec is on domain.
func hasDomain(rec *sendRecord, domain string) bool {
	return slices.ContainsFunc(rec.Recipients, func(r string) bool { return domainOf(r) == domain })
}

// schedule derives every receipt of a send from its time and its recipients'
// domains: the whole behaviour of the domain table lives here.
func schedule(t timing, rec *sendRecord) []*event {
	sent := rec.Time
	var events []*event
	add := func(ev event) {
		ev.send, ev.seq, ev.index = rec, rec.seq, len(events)
		events = append(events, &ev)
	}
	acceptAt := sent.Add(t.acceptDelay)
	// A refused message is refused as a whole, before any recipient is
	// considered; a virus wins over a plain refusal.
	for _, refusal := range []struct {
		domain, errorText string
		kind              receiptKind
	}{{DomainVirus, errorVirus, kindVirus}, {DomainReject, errorRejected, kindNonAcceptance}} {
		if hasDomain(rec, refusal.domain) {
			add(event{at: acceptAt, kind: refusal.kind, errorText: refusal.errorText})
			return events
		}
	}
	add(event{at: acceptAt, kind: kindAcceptance, listTwice: hasDomain(rec, DomainDuplicate)})
	if hasDomain(rec, DomainForeign) {
		add(event{at: acceptAt, kind: kindDelivery, addressee: firstOn(rec, DomainForeign), foreignCode: rec.Code + ForeignSuffix})
	}
	deliverAt := sent.Add(t.deliverDelay)
	for _, r := range rec.Recipients {
		delivered := func(at time.Time) {
			// The sender's own copy comes back in the transport envelope,
			// as the contract's example of GET /send/{code} shows: a second
			// before the CONSEGNA, as there, never before the acceptance.
			if strings.EqualFold(r, rec.Sender) {
				add(event{at: later(acceptAt, at.Add(-time.Second)), kind: kindTransport, addressee: r})
			}
			add(event{at: at, kind: kindDelivery, addressee: r})
		}
		switch domainOf(r) {
		case DomainInvalid:
			add(event{at: deliverAt, kind: kindNonDelivery, addressee: r, errorText: errorInvalid})
		case DomainFull:
			add(event{at: deliverAt, kind: kindNonDelivery, addressee: r, errorText: errorFull})
		case DomainSlow:
			add(event{at: sent.Add(t.warnAfter), kind: kindTimeoutWarning, addressee: r, errorText: errorTimeoutWarning})
			delivered(sent.Add(t.warnAfter + t.deliverDelay))
		case DomainExpire:
			add(event{at: sent.Add(t.warnAfter), kind: kindTimeoutWarning, addressee: r, errorText: errorTimeoutWarning})
			add(event{at: sent.Add(t.expireAfter), kind: kindTimeoutExpired, addressee: r, errorText: errorTimeoutExpired})
		case DomainOrdinary:
			// A non-PEC mailbox never certifies a delivery.
		case DomainCharge:
			add(event{at: acceptAt.Add(deliverAt.Sub(acceptAt) / 2), kind: kindTakenInCharge, addressee: r})
			delivered(deliverAt)
		case DomainInfected:
			add(event{at: deliverAt, kind: kindDeliveryVirus, addressee: r, errorText: errorVirus})
		case DomainAnomaly:
			add(event{at: deliverAt, kind: kindAnomaly, addressee: r, errorText: fmt.Sprintf(errorBounce, r)})
		case DomainSecurity:
			add(event{at: deliverAt, kind: kindSecurity, addressee: r, errorText: errorVirus})
		case DomainDuplicate:
			delivered(deliverAt)
			add(event{at: deliverAt.Add(time.Minute), shownAt: deliverAt, kind: kindDelivery, addressee: r})
		default:
			delivered(deliverAt)
		}
	}
	return events
}

func firstOn(rec *sendRecord, domain string) string {
	i := slices.IndexFunc(rec.Recipients, func(r string) bool { return domainOf(r) == domain })
	return rec.Recipients[i]
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// message is one entry of the sandbox mailbox: a receipt that has arrived.
type message struct {
	id        int64
	code      string // the code in its subject
	alsoUnder string // another code whose GET /send lists it (DomainForeign)
	listTwice bool
	sender    string
	recipient string
	date      string // RFC 2822
	object    string
	body      string // plain text, as GET /send/{code} shows it
	size      int64  // bytes it takes in the mailbox (quota)
	ev        *event // what it was rendered from: the IMAP side renders it again
}

// render turns an arrived event into the mailbox message the API shows, in
// the style of its send.
func render(ev *event, loc *time.Location) *message {
	rec := ev.send
	shown := ev.at
	if !ev.shownAt.IsZero() {
		shown = ev.shownAt
	}
	at := shown.In(loc)
	code := rec.Code
	m := &message{
		code:      code,
		listTwice: ev.listTwice,
		sender:    ReceiptSender,
		recipient: rec.Sender,
		date:      at.Format(time.RFC1123Z),
	}
	if ev.foreignCode != "" {
		m.code, m.alsoUnder = ev.foreignCode, code
	}
	m.object = receiptPrefix(ev.kind) + ": " + rec.Subject + " " + m.code
	documented := rec.style == StyleDocumented
	if documented {
		m.sender = DocumentedReceiptSender
	}
	var body string
	// Receipt texts reach an API client as iso-8859-1 decoded as UTF-8:
	// every accented letter reads U+FFFD (asLatin1Seen below), so a client
	// that matches on accented words fails here and not in production.
	switch ev.kind {
	case kindTransport:
		m.sender = `"Per conto di: ` + rec.Sender + `" `
		m.recipient = `"` + ev.addressee + `" `
		body = rec.body
		if documented {
			body = htmlText(rec.body)
		}
		// The envelope carries the original message whole.
		m.size = rec.size
	case kindAcceptance:
		if !documented {
			body = acceptanceText(rec, at)
		}
	case kindDelivery:
		if documented {
			body = htmlText(rec.body)
		} else {
			body = deliveryText(rec, at, ev.addressee, m.code)
		}
		// A "completa" delivery receipt carries the original message.
		m.size = rec.size
	case kindNonDelivery, kindTimeoutWarning, kindTimeoutExpired, kindDeliveryVirus, kindSecurity:
		body = nonDeliveryText(rec, at, ev.kind, ev.addressee, ev.errorText)
	case kindNonAcceptance, kindVirus:
		body = nonAcceptanceText(rec, at, ev.kind, ev.errorText)
	case kindTakenInCharge:
		body = takenInChargeText(rec, at, ev.addressee)
	case kindAnomaly:
		body = anomalyText(rec, at, ev.addressee, ev.errorText)
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
	case kindTakenInCharge:
		return prefixTakenInCharge
	case kindDeliveryVirus:
		return prefixDeliveryVirus
	case kindAnomaly:
		return prefixAnomaly
	case kindSecurity:
		return prefixSecurity
	default:
		return prefixTransport
	}
}

func recipientTag(addr string) string {
	if d := domainOf(addr); d == DomainOrdinary || d == DomainAnomaly {
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

func providerID(code string) string {
	return fmt.Sprintf(providerMessageIDShape, code)
}

func acceptanceText(rec *sendRecord, at time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Ricevuta di accettazione del messaggio indirizzato a %s\n\n", taggedList(rec.Recipients, ", "))
	fmt.Fprintf(&b, "%s il messaggio \"%s\" proveniente da \"%s\" ed indirizzato a:\n", when(at), rec.Subject, rec.Sender)
	fmt.Fprintf(&b, "%s\n", taggedList(rec.Recipients, "\n"))
	b.WriteString("è stato accettato dal sistema ed inoltrato.\n")
	fmt.Fprintf(&b, "Identificativo del messaggio: %s\n", providerID(rec.Code))
	return b.String()
}

func deliveryText(rec *sendRecord, at time.Time, addressee, code string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Ricevuta di avvenuta consegna del messaggio indirizzato a %s %s\n\n", addressee, tagCertified)
	fmt.Fprintf(&b, "%s il messaggio \"%s\" proveniente da \"%s\" ed indirizzato a \"%s\"\n", when(at), rec.Subject, rec.Sender, addressee)
	b.WriteString("è stato consegnato nella casella di destinazione.\n")
	fmt.Fprintf(&b, "Identificativo del messaggio: %s\n", providerID(code))
	return b.String()
}

func takenInChargeText(rec *sendRecord, at time.Time, addressee string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Ricevuta di presa in carico del messaggio indirizzato a %s %s\n\n", addressee, tagCertified)
	fmt.Fprintf(&b, "%s il messaggio \"%s\" proveniente da \"%s\" ed indirizzato a \"%s\"\n", when(at), rec.Subject, rec.Sender, addressee)
	b.WriteString("è stato preso in carico dal gestore di posta certificata del destinatario.\n")
	fmt.Fprintf(&b, "Identificativo del messaggio: %s\n", providerID(rec.Code))
	return b.String()
}

func nonDeliveryText(rec *sendRecord, at time.Time, kind receiptKind, addressee, errorText string) string {
	var b strings.Builder
	switch kind {
	case kindTimeoutWarning:
		b.WriteString("Avviso di mancata consegna del messaggio per superamento del tempo massimo (preavviso)\n\n")
	case kindTimeoutExpired:
		b.WriteString("Avviso di mancata consegna del messaggio per superamento del tempo massimo\n\n")
	case kindDeliveryVirus:
		b.WriteString("Avviso di mancata consegna del messaggio per virus\n\n")
	case kindSecurity:
		b.WriteString("Problema di sicurezza: rilevato un virus nel messaggio\n\n")
	default:
		b.WriteString("Avviso di mancata consegna del messaggio\n\n")
	}
	fmt.Fprintf(&b, "%s nel messaggio \"%s\" proveniente da \"%s\"\n", when(at), rec.Subject, rec.Sender)
	fmt.Fprintf(&b, "e destinato all'utente \"%s\" è stato rilevato il seguente errore:\n", addressee)
	fmt.Fprintf(&b, "%s\n", errorText)
	if kind == kindTimeoutWarning {
		b.WriteString("Il sistema continua a tentare la consegna del messaggio.\n")
	} else {
		b.WriteString("Il messaggio è stato rifiutato dal sistema.\n")
	}
	fmt.Fprintf(&b, "Identificativo del messaggio: %s\n", providerID(rec.Code))
	return b.String()
}

func nonAcceptanceText(rec *sendRecord, at time.Time, kind receiptKind, errorText string) string {
	var b strings.Builder
	if kind == kindVirus {
		b.WriteString("Avviso di non accettazione del messaggio per virus\n\n")
	} else {
		b.WriteString("Avviso di non accettazione del messaggio\n\n")
	}
	fmt.Fprintf(&b, "%s il messaggio \"%s\" proveniente da \"%s\" ed indirizzato a:\n", when(at), rec.Subject, rec.Sender)
	fmt.Fprintf(&b, "%s\n", taggedList(rec.Recipients, "\n"))
	b.WriteString("non è stato accettato dal sistema a causa del seguente errore:\n")
	fmt.Fprintf(&b, "%s\n", errorText)
	b.WriteString("Il messaggio non è stato inoltrato.\n")
	fmt.Fprintf(&b, "Identificativo del messaggio: %s\n", providerID(rec.Code))
	return b.String()
}

// anomalyText is the "busta di anomalia" a PEC provider wraps around an
// ordinary server's bounce: the bounce is not certified, and names the
// addressee only in the server's own error line.
func anomalyText(rec *sendRecord, at time.Time, addressee, bounce string) string {
	var b strings.Builder
	b.WriteString("Anomalia nel messaggio\n\n")
	fmt.Fprintf(&b, "%s è stato ricevuto il messaggio \"%s\" proveniente da \"MAILER-DAEMON@%s\"\n", when(at), rec.Subject, domainOf(addressee))
	fmt.Fprintf(&b, "ed indirizzato a:\n%s %s\n", rec.Sender, tagCertified)
	b.WriteString("Tali dati non sono stati certificati per il seguente errore:\n")
	b.WriteString("il messaggio non è un messaggio di posta certificata (posta ordinaria).\n")
	b.WriteString("Il messaggio originale è incluso in allegato:\n")
	fmt.Fprintf(&b, "%s\n", bounce)
	return b.String()
}
