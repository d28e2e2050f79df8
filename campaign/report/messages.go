package report

import (
	"fmt"
	"strings"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/message/catalog"
)

// Lang is the language a report is written in.
type Lang string

// The report languages. The zero Lang is Italian: the people who read the
// results are Italian offices.
const (
	Italian Lang = "it"
	English Lang = "en"
)

// ParseLang returns the Lang named by s ("it" or "en").
func ParseLang(s string) (Lang, error) {
	switch l := Lang(strings.ToLower(strings.TrimSpace(s))); l {
	case Italian, English:
		return l, nil
	}
	return "", fmt.Errorf("report: unknown language %q: use it or en", s)
}

func (l Lang) orDefault() Lang {
	if l == "" {
		return Italian
	}
	return l
}

func (l Lang) tag() language.Tag {
	if l.orDefault() == English {
		return language.English
	}
	return language.Italian
}

// text is one entry of the catalogue: a key and its text in each language,
// with fmt verbs where the caller passes values.
type text struct{ key, en, it string }

// catalogue is every text the report writes, in one place. Keys are stable
// identifiers; the layout.* entries are Go time layouts.
func catalogue() []text {
	return []text{
		// Time layouts: Italian dates are day/month/year.
		{"layout.datetime", "2006-01-02 15:04:05", "02/01/2006 15:04:05"},
		{"layout.minute", "2006-01-02 15:04", "02/01/2006 15:04"},
		{"layout.day", "2 Jan 2006", "02/01/2006"},
		{"layout.tick.day", "2 Jan", "02/01"},
		{"layout.tick.dayTime", "2 Jan 15:04", "02/01 15:04"},

		// CSV header, in column order.
		{"csv.row", "row", "riga"},
		{"csv.key", "key", "chiave"},
		{"csv.recipient", "recipient", "destinatario"},
		{"csv.subject", "subject", "oggetto"},
		{"csv.message_id", "message_id", "id_messaggio"},
		{"csv.state", "state", "stato"},
		{"csv.error", "error", "errore"},
		{"csv.submitted_at", "submitted_at", "inviata_il"},
		{"csv.accepted_at", "accepted_at", "accettata_il"},
		{"csv.delivered_at", "delivered_at", "consegnata_il"},
		{"csv.failed_at", "failed_at", "non_consegnata_il"},
		{"csv.receipts", "receipts", "ricevute"},
		{"csv.note", "note", "nota"},
		{"csv.reason", "reason", "motivo"},
		{"csv.next_step", "next_step", "cosa_fare"},
		{"note.changed", NoteChangedAfterSend, "modificata dopo l'invio"},
		{"note.attempt", "attempt %d", "tentativo %d"},
		{"note.decided.sent", "decided sent by the operator", "dichiarata inviata dall'operatore"},
		{"note.decided.not_sent", "decided not sent by the operator", "dichiarata non inviata dall'operatore"},
		{"note.changed.title", "the campaign's files now render this row differently from what was sent; the row keeps what was sent and was not sent again",
			"i file della campagna ora producono un messaggio diverso da quello inviato; la riga conserva quello inviato e non è stata inviata di nuovo"},

		// State names and meanings.
		{"state.delivered", "delivered", "consegnata"},
		{"state.accepted_not_certifiable", "accepted_not_certifiable", "consegna non certificabile"},
		{"state.failed", "failed", "non consegnata"},
		{"state.expired", "expired", "scaduta"},
		{"state.rejected", "rejected", "rifiutata"},
		{"state.unknown", "unknown", "esito incerto"},
		{"state.accepted", "accepted", "accettata"},
		{"state.submitted", "submitted", "inviata"},
		{"state.sending", "sending", "in invio"},
		{"state.pending", "pending", "da inviare"},
		{"meaning.delivered", "a delivery receipt (ricevuta di avvenuta consegna) for every recipient: the legal proof of delivery",
			"una ricevuta di avvenuta consegna per ogni destinatario: la prova legale della consegna"},
		{"meaning.accepted_not_certifiable", "accepted, but a recipient is not a PEC mailbox (posta ordinaria): delivery cannot be certified",
			"accettata, ma un destinatario non è una casella PEC (posta ordinaria): la consegna non può essere certificata"},
		{"meaning.failed", "not accepted or not delivered (avviso di non accettazione, di mancata consegna, virus): see the error",
			"non accettata o non consegnata (avviso di non accettazione, di mancata consegna, virus): vedi l'errore"},
		{"meaning.expired", "no delivery receipt within the time limit (mancata consegna per superamento tempo massimo)",
			"nessuna ricevuta di consegna entro il tempo massimo (mancata consegna per superamento tempo massimo)"},
		{"meaning.rejected", "the PEC Massiva API refused the request: nothing was sent",
			"l'API di PEC Massiva ha rifiutato la richiesta: non è stato inviato nulla"},
		{"meaning.unknown", "the send may or may not have happened: pecbatch looks for its acceptance receipt, and resends only with --resend-unknown",
			"l'invio può essere avvenuto o no: pecbatch cerca la ricevuta di accettazione, e invia di nuovo solo con --resend-unknown"},
		{"meaning.accepted", "acceptance receipt (ricevuta di accettazione) received: waiting for the delivery receipts",
			"ricevuta di accettazione arrivata: in attesa delle ricevute di consegna"},
		{"meaning.submitted", "handed to the API: waiting for the acceptance receipt",
			"consegnata all'API: in attesa della ricevuta di accettazione"},
		{"meaning.sending", "a send in progress or interrupted: the next run reconciles it",
			"invio in corso o interrotto: la prossima esecuzione lo riconcilia"},
		{"meaning.pending", "not sent yet", "non ancora inviata"},

		// Why a recipient did not get the message, and what to do next.
		{"reason.not_pec", "not a PEC mailbox (ordinary e-mail): there is no delivery receipt",
			"indirizzo non PEC (posta ordinaria): non c'è ricevuta di consegna"},
		{"next.not_pec", "send it by registered letter with return receipt (raccomandata A/R)",
			"inviare per raccomandata A/R"},
		{"reason.full", "mailbox full", "casella piena"},
		{"next.full", "send again in a few days: `pecbatch retry CAMPAIGN.yaml --state failed`, then `pecbatch run`",
			"inviare di nuovo tra qualche giorno: `pecbatch retry CAMPAIGN.yaml --state failed`, poi `pecbatch run`"},
		{"reason.invalid", "the address does not exist or is not valid", "indirizzo inesistente o non valido"},
		{"next.invalid", "correct the address (check it on INI-PEC or with the recipient) and send again",
			"correggere l'indirizzo (verificarlo su INI-PEC o con il destinatario) e inviare di nuovo"},
		{"reason.virus", "refused: the message was found to carry a virus", "rifiutato: nel messaggio è stato rilevato un virus"},
		{"next.virus", "check the attachments, then send again", "controllare gli allegati, poi inviare di nuovo"},
		{"reason.not_accepted", "not accepted by the sender's PEC provider", "non accettato dal gestore PEC del mittente"},
		{"next.check", "check the error and send again, or by other means (raccomandata A/R)",
			"verificare l'errore e inviare di nuovo, o con altro mezzo (raccomandata A/R)"},
		{"reason.failed", "not delivered", "mancata consegna"},
		{"reason.expired", "no delivery receipt within the time limit", "nessuna ricevuta di consegna entro il tempo massimo"},
		{"next.expired", "check the address and send by other means (raccomandata A/R)",
			"verificare l'indirizzo e inviare con altro mezzo (raccomandata A/R)"},
		{"reason.rejected", "the PEC Massiva API refused the request: nothing was sent",
			"l'API di PEC Massiva ha rifiutato la richiesta: non è stato inviato nulla"},
		{"next.rejected", "correct what the error says, then run `pecbatch run` again",
			"correggere quanto indicato dall'errore, poi eseguire di nuovo `pecbatch run`"},
		{"reason.unknown", "not known whether the message was sent", "non è noto se il messaggio sia stato inviato"},
		{"next.unknown", "run `pecbatch run` again: it looks for the acceptance receipt; `--resend-unknown` sends again those not found",
			"eseguire di nuovo `pecbatch run`: cerca la ricevuta di accettazione; `--resend-unknown` invia di nuovo quelli non trovati"},

		// The HTML page.
		{"page.title", "Delivery report: %s", "Rapporto di consegna: %s"},
		{"page.generated", "Generated", "Generato il"},
		{"page.timesIn", "times in %s", "orari in %s"},
		{"count.rows.one", "%d row", "%d riga"},
		{"count.rows.many", "%d rows", "%d righe"},
		{"count.recipients.one", "%d recipient", "%d destinatario"},
		{"count.recipients.many", "%d recipients", "%d destinatari"},
		{"count.receipts.one", "%d receipt", "%d ricevuta"},
		{"count.receipts.many", "%d receipts", "%d ricevute"},
		{"count.of", "%d of %d", "%d di %d"},
		{"share", "%.1f%%", "%.1f%%"},
		{"undelivered.title", "To contact again", "Da ricontattare"},
		{"undelivered.intro", "Every recipient the message did not reach, why, and what to do next.",
			"Ogni destinatario a cui il messaggio non è arrivato, il motivo e cosa fare."},
		{"undelivered.none", "No recipient to contact again.", "Nessun destinatario da ricontattare."},
		{"undelivered.waiting", "Still waiting for an outcome, not listed here: %s.", "In attesa di esito, non elencati qui: %s."},
		{"col.row", "Row", "Riga"},
		{"col.key", "Key", "Chiave"},
		{"col.recipient", "Recipient", "Destinatario"},
		{"col.state", "State", "Stato"},
		{"col.reason", "Why", "Motivo"},
		{"col.next", "What to do", "Cosa fare"},
		{"col.error", "Error", "Errore"},
		{"col.when", "When", "Quando"},
		{"col.rows", "Rows", "Righe"},
		{"col.share", "Share", "Quota"},
		{"col.meaning", "Meaning", "Significato"},
		{"col.subject", "Subject / message ID", "Oggetto / ID messaggio"},
		{"col.sent", "Sent", "Inviata"},
		{"col.accepted", "Accepted", "Accettata"},
		{"col.outcome", "Delivered / failed", "Consegnata / non consegnata"},
		{"col.receipts", "Receipts", "Ricevute"},
		{"totals.title", "Totals by state", "Totali per stato"},
		{"totals.stack", "Share of rows in each state", "Quota di righe in ogni stato"},
		{"totals.all", "All rows", "Tutte le righe"},
		{"totals.inAll", "%s in all", "%s in tutto"},
		{"charts.title", "Sends and deliveries", "Invii e consegne"},
		{"charts.nothingSent", "Nothing has been sent yet.", "Non è stato ancora inviato nulla."},
		{"charts.timeline.caption", "Recipients sent, delivered, not delivered, expired and rejected over time, cumulative; the legend counts recipients, by their own state.",
			"Destinatari inviati, consegnati, non consegnati, scaduti e rifiutati nel tempo, cumulativi; la legenda conta i destinatari, ciascuno per il proprio stato."},
		{"charts.noDelivery", "No delivery receipt yet.", "Ancora nessuna ricevuta di consegna."},
		{"charts.latency.caption", "Time from the send to the delivery receipt", "Tempo dall'invio alla ricevuta di consegna"},
		{"rows.title", "Rows and receipts", "Righe e ricevute"},
		{"rows.capped", "The table shows the first %s recipients, to keep the page usable. Every line is in the CSV report:",
			"La tabella mostra i primi %s destinatari, perché la pagina resti leggibile. Ogni riga è nel rapporto CSV:"},
		{"rows.empty", "The journal has no rows.", "Il giornale non ha righe."},
		{"receipts.text", "text", "testo"},
		{"receipts.none", "none", "nessuna"},
		{"footer", "Written by pecbatch from the campaign's journal. The receipts are the sender's evidence; this page is a summary of them.",
			"Scritto da pecbatch dal giornale della campagna. Le ricevute sono la prova del mittente; questa pagina ne è un riepilogo."},

		// The charts.
		{"series.sent", "sent", "inviati"},
		{"series.delivered", "delivered", "consegnati"},
		{"series.failed", "not delivered", "non consegnati"},
		{"series.expired", "expired", "scaduti"},
		{"series.rejected", "rejected", "rifiutati"},
		{"timeline.title", "Recipients sent and delivered over time", "Destinatari inviati e consegnati nel tempo"},
		{"timeline.desc", "Cumulative number of recipients over time: %s.", "Numero cumulativo di destinatari nel tempo: %s."},
		{"timeline.series", "%d %s, the first at %s and the last at %s", "%d %s, il primo il %s e l'ultimo il %s"},
		{"axis.time", "time (%s)", "ora (%s)"},
		{"axis.timeOn", "time on %s (%s)", "ora del %s (%s)"},
		{"axis.cumulative", "recipients (cumulative)", "destinatari (cumulativo)"},
		{"axis.latency", "time from send to delivery receipt", "tempo dall'invio alla ricevuta di consegna"},
		{"axis.recipients", "recipients", "destinatari"},
		{"latency.title", "Delivery latency", "Tempo di consegna"},
		{"latency.bar", "%d delivered in %s to %s", "%d consegnati tra %s e %s"},
		{"latency.desc", "Histogram of the time from send to delivery receipt for %d delivered recipients, in bins of %s: %s.",
			"Istogramma del tempo dall'invio alla ricevuta di consegna per %d destinatari consegnati, a intervalli di %s: %s."},
		{"latency.summary", "median %s, 90th percentile %s, longest %s", "mediana %s, 90° percentile %s, massimo %s"},
	}
}

// printer returns the message printer of lang over the catalogue. Numbers
// it formats follow the language too (1.234,5 in Italian).
func printer(lang Lang) *message.Printer {
	b := catalog.NewBuilder(catalog.Fallback(language.English))
	for _, t := range catalogue() {
		// SetString fails only for an invalid tag, and both are constants.
		_ = b.SetString(language.English, t.key, t.en)
		_ = b.SetString(language.Italian, t.key, t.it)
	}
	return message.NewPrinter(lang.tag(), message.Catalog(b))
}
