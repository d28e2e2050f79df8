package report

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/message"

	"github.com/pecbatch/pecbatch/journal"
)

// EffectiveForRecipient returns when a PEC notification takes effect for
// its recipient, given when the delivery receipt was generated: then,
// unless that is between 21:00 and 07:00 (in loc, Italy's time), when it
// takes effect at 07:00 of the morning after (art. 147 c.p.c., as amended
// in 2022; for the sender it takes effect at acceptance). A zero time
// stays zero.
func EffectiveForRecipient(delivered time.Time, loc *time.Location) time.Time {
	if delivered.IsZero() {
		return delivered
	}
	t := delivered.In(loc)
	y, m, d := t.Date()
	switch h := t.Hour(); {
	case h >= 21:
		return time.Date(y, m, d+1, 7, 0, 0, 0, loc)
	case h < 7:
		return time.Date(y, m, d, 7, 0, 0, 0, loc)
	}
	return t
}

// receiptLabel names a receipt kind, as the receipt's own subject would,
// in a file name.
func receiptLabel(kind string) string {
	switch kind {
	case "acceptance":
		return "ACCETTAZIONE"
	case "delivery":
		return "CONSEGNA"
	case "non-delivery":
		return "MANCATA-CONSEGNA"
	case "non-acceptance":
		return "NON-ACCETTAZIONE"
	case "virus":
		return "VIRUS"
	case "timeout-warning":
		return "PREAVVISO-MANCATA-CONSEGNA"
	case "timeout-expired":
		return "MANCATA-CONSEGNA-TEMPO-MASSIMO"
	case "anomaly":
		return "ANOMALIA"
	case "transport":
		return "POSTA-CERTIFICATA"
	case "taken-in-charge":
		return "PRESA-IN-CARICO"
	}
	return "ALTRO"
}

// receiptHeader opens every summary file: what it is and what it is not.
const receiptHeader = "RIASSUNTO DI UNA RICEVUTA PEC FORNITO DALL'API PEC MASSIVA\r\n" +
	"Questo file NON è la ricevuta firmata dal gestore di posta certificata: è il riassunto\r\n" +
	"(mittente, destinatario, data, oggetto, testo) che l'API ha restituito e che pecbatch ha\r\n" +
	"conservato nel suo giornale. "

// receiptText is a summary file. mailboxRead says the signed receipts
// were read from the mailbox; signed is this summary's signed receipt in
// the folder.
func receiptText(rc journal.StoredReceipt, loc *time.Location, mailboxRead bool, signed summaryMatch) string {
	var b strings.Builder
	b.WriteString(receiptHeader)
	switch {
	case signed.Name != "":
		b.WriteString("La ricevuta firmata, intatta come letta\r\ndalla casella, è accanto: " + signed.Name + "\r\n")
	case signed.Ambiguous:
		b.WriteString("La ricevuta firmata corrispondente è tra\r\n" +
			"quelle in " + signedDir + "/ dello stesso tipo e della stessa ora, ma non si può dire quale: questo\r\n" +
			"riassunto non nomina il destinatario. L'attestazione indica la ricevuta firmata di ciascuno.\r\n")
	case mailboxRead:
		b.WriteString("La casella è stata letta, ma la ricevuta\r\nfirmata corrispondente non vi è stata trovata.\r\n")
	default:
		b.WriteString("Le ricevute firmate (.eml) non sono state raccolte.\r\n")
	}
	b.WriteString("\r\n")
	field := func(name, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%-28s %s\r\n", name+":", v)
		}
	}
	field("Tipo", receiptLabel(rc.Kind)+" ("+rc.Kind+")")
	field("Id del messaggio", rc.Code)
	field("Data (testo dell'API)", rc.DateText)
	field("Data (Europe/Rome)", formatTime(rc.Date, loc))
	field("Destinatario interessato", rc.Addressee)
	field("Mittente della ricevuta", rc.Sender)
	field("Destinatario della ricevuta", rc.Recipient)
	field("Oggetto", rc.Subject)
	field("Errore", rc.ErrorText)
	field("Conservata nel giornale il", formatTime(rc.ArchivedAt, loc))
	b.WriteString("\r\n--- Testo della ricevuta ---\r\n")
	b.WriteString(strings.ReplaceAll(strings.ReplaceAll(rc.Body, "\r\n", "\n"), "\n", "\r\n"))
	b.WriteString("\r\n")
	return b.String()
}

// formatTime writes t in loc as Italians read it, with the zone's name
// (CET or CEST), "" for a zero time.
func formatTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Format("02/01/2006 15:04:05 MST")
}

// step is one line of a row's timeline.
type step struct {
	At   time.Time
	What string
}

// eventLabel says in Italian what a journal event means for a row.
func eventLabel(kind string) string {
	switch kind {
	case journal.EventSending:
		return "intento di invio registrato (prima della richiesta all'API)"
	case journal.EventSubmitted:
		return "messaggio inviato all'API"
	case journal.EventRejected:
		return "richiesta rifiutata dall'API: nulla inviato"
	case journal.EventUnknown:
		return "esito della richiesta incerto"
	case journal.EventResendUnknown:
		return "esito incerto: di nuovo da inviare (--resend-unknown)"
	case journal.EventTracked:
		return "ricevute elaborate"
	case journal.EventReceiptsDeleted:
		return "ricevute cancellate dalla casella"
	case journal.EventContentChanged:
		return "contenuto cambiato prima dell'invio"
	case journal.EventChangedAfterSend:
		return "i file della campagna ora producono un messaggio diverso da quello inviato"
	case journal.EventNotSent:
		return "non inviato"
	}
	return kind
}

// timeline puts together a row's history: its events, the operator's
// decisions, the receipts, each recipient's outcome and the previous
// attempts, by time.
func timeline(it *message.Printer, row journal.Row, lines []journal.ReportRow, events []journal.Event, decisions []journal.OperatorDecision,
	attempts []journal.Attempt, receipts []journal.StoredReceipt) []step {
	var steps []step
	for _, e := range events {
		if e.Kind == journal.EventResolved || e.Kind == journal.EventRetried ||
			e.Kind == journal.EventSignedReceipt || e.Kind == journal.EventSignedConflict {
			continue // from decisions and the signed receipts, in words
		}
		what := eventLabel(e.Kind)
		if t, ok := trackedDetail(it, e); ok {
			what += t
		} else if d := compactDetail(e.Detail); d != "" {
			what += " " + d
		}
		steps = append(steps, step{e.At, what})
	}
	for _, d := range decisions {
		what := ""
		if d.Kind == journal.EventRetried {
			what = fmt.Sprintf("decisione dell'operatore: nuovo tentativo %d (il precedente era %s", d.Attempt, d.From)
			if d.MessageID != "" {
				what += ", id " + d.MessageID
			}
			what += ")"
		} else {
			what = fmt.Sprintf("decisione dell'operatore: esito dichiarato %q", string(d.As))
			if d.MessageID != "" {
				what += ", id " + d.MessageID
			}
		}
		if d.Note != "" {
			what += fmt.Sprintf(", nota: %q", d.Note)
		}
		steps = append(steps, step{d.At, what})
	}
	for _, a := range attempts {
		steps = append(steps, step{a.RetriedAt, fmt.Sprintf("fine del tentativo %d: stato %s, id %q, errore %q, %d ricevute",
			a.Number, a.State, a.MessageID, a.Error, a.Receipts)})
	}
	for _, rc := range receipts {
		at := rc.Date
		if at.IsZero() {
			at = rc.ArchivedAt
		}
		what := "ricevuta " + receiptLabel(rc.Kind)
		if rc.Addressee != "" {
			what += " per " + rc.Addressee
		}
		if rc.ErrorText != "" {
			what += ": " + rc.ErrorText
		}
		steps = append(steps, step{at, what})
	}
	if !row.AcceptedAt.IsZero() {
		steps = append(steps, step{row.AcceptedAt, "accettazione registrata: la notifica si perfeziona per il mittente"})
	}
	for _, l := range lines {
		switch {
		case !l.DeliveredAt.IsZero():
			steps = append(steps, step{l.DeliveredAt, "consegnata a " + l.Recipient})
		case !l.FailedAt.IsZero():
			steps = append(steps, step{l.FailedAt, fmt.Sprintf("non consegnata a %s (%s): %s", l.Recipient, l.State, l.Error)})
		}
	}
	slices.SortStableFunc(steps, func(a, b step) int { return a.At.Compare(b.At) })
	return steps
}

// trackedDetail says in Italian what a tracked event's detail holds: how
// many receipts were new and the row's state after them.
func trackedDetail(it *message.Printer, e journal.Event) (string, bool) {
	var d struct {
		Receipts *int          `json:"receipts"`
		To       journal.State `json:"to"`
	}
	if e.Kind != journal.EventTracked || json.Unmarshal(e.Detail, &d) != nil || d.Receipts == nil || d.To == "" {
		return "", false
	}
	return fmt.Sprintf(" (nuove: %d); stato della riga: %s", *d.Receipts, it.Sprintf("state."+string(d.To))), true
}

// compactDetail writes an event's JSON detail on one line, "" when empty.
func compactDetail(raw json.RawMessage) string {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil || len(m) == 0 {
		return ""
	}
	b, err := json.Marshal(m) // keys sorted: the same event always reads the same
	if err != nil {
		return ""
	}
	return string(b)
}

func timelineText(row journal.Row, steps []step, loc *time.Location) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CRONOLOGIA DELLA RIGA %d (chiave %s), dal giornale di pecbatch; orari %s\r\n", row.RowNumber, row.Key, loc)
	fmt.Fprintf(&b, "Id del messaggio: %s\r\nStato: %s\r\n\r\n", row.MessageID, row.State)
	for _, s := range steps {
		at := formatTime(s.At, loc)
		if at == "" {
			at = "(ora non nota)"
		}
		fmt.Fprintf(&b, "%-24s %s\r\n", at, s.What)
	}
	return b.String()
}
