package runner

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/client"
	"github.com/pecbatch/pecbatch/journal"
)

const testCode = "2026030209000012"

// rcpt builds a receipt of the send testCode with the texts the providers
// (and the sandbox) use; at is its age from t0.
func rcpt(kind string, at time.Duration, addressee string, recipients ...string) client.Receipt {
	date := t0.Add(at)
	subject := "Sollecito 12"
	var prefix, body string
	tagged := func() string {
		var parts []string
		for _, r := range recipients {
			tag := `("posta certificata")`
			if strings.Contains(r, "ordinary") {
				tag = `("posta ordinaria")`
			}
			parts = append(parts, r+" "+tag)
		}
		return strings.Join(parts, ", ")
	}
	switch kind {
	case "acceptance":
		prefix = "ACCETTAZIONE"
		body = fmt.Sprintf("Ricevuta di accettazione del messaggio indirizzato a %s\n\nIl giorno ... il messaggio con Oggetto %q "+
			"inviato da \"ufficio@pec.example.it\" ed indirizzato a:\n%s\n\ufffd stato accettato dal sistema ed inoltrato.\n", tagged(), subject, tagged())
	case "delivery":
		prefix = "CONSEGNA"
		body = fmt.Sprintf("Ricevuta di avvenuta consegna del messaggio indirizzato a %s (\"posta certificata\")\n\n"+
			"\ufffd stato consegnato nella casella di destinazione.\n", addressee)
	case "non-delivery", "warning", "expired":
		prefix = "AVVISO DI MANCATA CONSEGNA"
		errText := "5.1.1 - sandbox - indirizzo non valido"
		if kind != "non-delivery" {
			prefix = "AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO"
			errText = "4.4.7 - sandbox - consegna non ancora avvenuta nel tempo previsto"
			if kind == "expired" {
				errText = "5.4.1 - sandbox - tempo massimo di consegna superato"
			}
		}
		body = fmt.Sprintf("Avviso di mancata consegna del messaggio\n\nIl giorno ... nel messaggio con Oggetto %q inviato da "+
			"\"ufficio@pec.example.it\"\ne destinato all'utente \"%s\" \ufffd stato rilevato il seguente errore:\n%s\n", subject, addressee, errText)
	case "non-acceptance", "virus":
		prefix = "AVVISO DI NON ACCETTAZIONE"
		errText := "5.7.1 - sandbox - messaggio non accettato"
		if kind == "virus" {
			prefix = "AVVISO DI NON ACCETTAZIONE PER VIRUS"
			errText = "5.7.1 - sandbox - virus rilevato nel messaggio"
		}
		body = fmt.Sprintf("Avviso di non accettazione del messaggio\n\nIl giorno ... il messaggio con Oggetto %q inviato da "+
			"\"ufficio@pec.example.it\" ed indirizzato a:\n%s\nnon \ufffd stato accettato dal sistema a causa del seguente errore:\n%s\n",
			subject, tagged(), errText)
	case "anomaly":
		prefix = "ANOMALIA MESSAGGIO"
		body = "Il server di posta ordinaria ha risposto con un errore.\n"
	case "transport":
		prefix = "POSTA CERTIFICATA"
		body = "the message itself"
	}
	return client.Receipt{
		Sender: "posta-certificata@pec.sandbox.test", Recipient: "ufficio@pec.example.it",
		Date: date, DateText: date.Format(time.RFC1123Z),
		Subject: prefix + ": " + subject + " " + testCode, Body: body,
	}
}

// testMailbox is the sending mailbox of the receipts of these tests.
var testMailbox = sendingMailbox{Address: "ufficio@pec.example.it", Username: "ufficio"}

// originalMail is the text of the mail of testCode as the documented API
// hands it back in a delivery receipt: Latin-1 letters as U+FFFD, and an
// address the office itself wrote in it.
const originalMail = "Gentile cliente, la pratica \ufffd indirizzata a ufficio.legale@example.it per conoscenza."

// documented builds an entry in the shapes of the provider's documented
// example of GET /send/{code}: the provider's envelope, the sending
// mailbox as the recipient, an empty acceptance, the original mail as the
// text of any other notice. code is the code in its subject; at its age
// from t0.
func documented(kind string, at time.Duration, code string) client.Receipt {
	date := t0.Add(at).In(time.FixedZone("", 3600))
	prefix := map[string]string{
		"acceptance": "ACCETTAZIONE", "delivery": "CONSEGNA", "non-delivery": "AVVISO DI MANCATA CONSEGNA",
		"warning": "AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO", "anomaly": "ANOMALIA MESSAGGIO",
		"security": "PROBLEMA DI SICUREZZA", "transport": "POSTA CERTIFICATA",
	}[kind]
	body := originalMail
	if kind == "acceptance" {
		body = ""
	}
	return client.Receipt{
		Sender: "posta-certificata@pecmassiva.com", Recipient: testMailbox.Address,
		Date: date, DateText: date.Format(time.RFC1123Z),
		Subject: prefix + ": Sollecito 12 " + code, Body: body,
	}
}

// classifyFor classifies receipts of testCode for a row of the given
// recipients, as tracking does.
func classifyFor(receipts []client.Receipt, stored []recipientStatus) []classifiedReceipt {
	addrs := make([]string, len(stored))
	for i, s := range stored {
		addrs[i] = s.Address
	}
	return classifyReceipts(receipts, testCode, testMailbox, addrs).Own
}

func TestDeriveOutcomes(t *testing.T) {
	const (
		a   = "a@pec.example.it"
		b   = "b@pec.example.it"
		ord = "x@ordinary.example.it"
		h   = time.Hour
		s   = time.Second
	)
	giveUp := t0.Add(26 * h)
	type want struct {
		states   map[string]journal.RecipientState // the recipients' states after applying
		errs     map[string]string                 // substrings of the outcome errors
		final    bool
		nonPEC   bool
		warnings map[string]int
		// unattributed is a substring of rowFacts.Unattributed ("" wants it empty).
		unattributed string
	}
	tests := []struct {
		name     string
		stored   []recipientStatus
		receipts []client.Receipt
		now      time.Duration
		want     want
	}{
		{
			name:     "nothing yet",
			stored:   []recipientStatus{{Address: a, State: journal.RecipientPending}},
			now:      2 * s,
			want:     want{states: map[string]journal.RecipientState{a: journal.RecipientPending}},
			receipts: nil,
		},
		{
			name:     "accepted",
			stored:   []recipientStatus{{Address: a, State: journal.RecipientPending}},
			receipts: []client.Receipt{rcpt("acceptance", s, "", a)},
			now:      2 * s,
			want:     want{states: map[string]journal.RecipientState{a: journal.RecipientAccepted}},
		},
		{
			name:     "delivered",
			stored:   []recipientStatus{{Address: a, State: journal.RecipientPending}},
			receipts: []client.Receipt{rcpt("acceptance", s, "", a), rcpt("delivery", 3*s, a)},
			now:      4 * s,
			want:     want{states: map[string]journal.RecipientState{a: journal.RecipientDelivered}, final: true},
		},
		{
			name:     "not delivered, with the error",
			stored:   []recipientStatus{{Address: a, State: journal.RecipientPending}},
			receipts: []client.Receipt{rcpt("acceptance", s, "", a), rcpt("non-delivery", 3*s, a)},
			now:      4 * s,
			want: want{states: map[string]journal.RecipientState{a: journal.RecipientFailed},
				errs: map[string]string{a: "5.1.1"}, final: true},
		},
		{
			name:     "not accepted: every recipient fails",
			stored:   []recipientStatus{{Address: a, State: journal.RecipientPending}, {Address: b, State: journal.RecipientPending}},
			receipts: []client.Receipt{rcpt("non-acceptance", s, "", a, b)},
			now:      2 * s,
			want: want{states: map[string]journal.RecipientState{a: journal.RecipientFailed, b: journal.RecipientFailed},
				errs: map[string]string{a: "5.7.1", b: "5.7.1"}, final: true},
		},
		{
			name:     "virus: every recipient fails",
			stored:   []recipientStatus{{Address: a, State: journal.RecipientPending}, {Address: b, State: journal.RecipientPending}},
			receipts: []client.Receipt{rcpt("virus", s, "", a, b)},
			now:      2 * s,
			want: want{states: map[string]journal.RecipientState{a: journal.RecipientFailed, b: journal.RecipientFailed},
				errs: map[string]string{a: "virus", b: "virus"}, final: true},
		},
		{
			name:     "slow: a warning, then the delivery",
			stored:   []recipientStatus{{Address: a, State: journal.RecipientAccepted}},
			receipts: []client.Receipt{rcpt("acceptance", s, "", a), rcpt("warning", 12*h, a), rcpt("delivery", 12*h+3*s, a)},
			now:      13 * h,
			want: want{states: map[string]journal.RecipientState{a: journal.RecipientDelivered}, final: true,
				warnings: map[string]int{a: 1}},
		},
		{
			name:     "a warning alone keeps the recipient pending",
			stored:   []recipientStatus{{Address: a, State: journal.RecipientAccepted}},
			receipts: []client.Receipt{rcpt("acceptance", s, "", a), rcpt("warning", 12*h, a)},
			now:      13 * h,
			want:     want{states: map[string]journal.RecipientState{a: journal.RecipientAccepted}, warnings: map[string]int{a: 1}},
		},
		{
			name:     "the final time-limit notice expires it",
			stored:   []recipientStatus{{Address: a, State: journal.RecipientAccepted, Warnings: 1}},
			receipts: []client.Receipt{rcpt("acceptance", s, "", a), rcpt("warning", 12*h, a), rcpt("expired", 24*h, a)},
			now:      24*h + s,
			want: want{states: map[string]journal.RecipientState{a: journal.RecipientExpired},
				errs: map[string]string{a: "5.4.1"}, final: true},
		},
		{
			name:     "a second warning expires it",
			stored:   []recipientStatus{{Address: a, State: journal.RecipientAccepted, Warnings: 1}},
			receipts: []client.Receipt{rcpt("acceptance", s, "", a), rcpt("warning", 12*h, a), rcpt("warning", 23*h, a)},
			now:      23*h + s,
			want: want{states: map[string]journal.RecipientState{a: journal.RecipientExpired}, final: true,
				warnings: map[string]int{a: 2}},
		},
		{
			name:     "a non-PEC recipient stays accepted until the give-up time",
			stored:   []recipientStatus{{Address: ord, State: journal.RecipientPending}},
			receipts: []client.Receipt{rcpt("acceptance", s, "", ord)},
			now:      20 * h,
			want:     want{states: map[string]journal.RecipientState{ord: journal.RecipientAccepted}, nonPEC: true},
		},
		{
			name:     "a non-PEC recipient is not certifiable at the give-up time",
			stored:   []recipientStatus{{Address: ord, State: journal.RecipientAccepted}},
			receipts: []client.Receipt{rcpt("acceptance", s, "", ord)},
			now:      26 * h,
			want: want{states: map[string]journal.RecipientState{ord: journal.RecipientNotCertifiable}, final: true,
				errs: map[string]string{ord: "non-PEC"}},
		},
		{
			name:     "a warned PEC recipient expires at the give-up time",
			stored:   []recipientStatus{{Address: a, State: journal.RecipientAccepted, Warnings: 1}},
			receipts: []client.Receipt{rcpt("acceptance", s, "", a), rcpt("warning", 12*h, a)},
			now:      26 * h,
			want: want{states: map[string]journal.RecipientState{a: journal.RecipientExpired}, final: true,
				errs: map[string]string{a: "give-up"}},
		},
		{
			name:   "nothing at all by the give-up time: expired",
			stored: []recipientStatus{{Address: a, State: journal.RecipientPending}},
			now:    27 * h,
			want: want{states: map[string]journal.RecipientState{a: journal.RecipientExpired}, final: true,
				errs: map[string]string{a: "give-up"}},
		},
		{
			name:     "an anomaly notice: not certifiable",
			stored:   []recipientStatus{{Address: ord, State: journal.RecipientAccepted}},
			receipts: []client.Receipt{rcpt("acceptance", s, "", ord), rcpt("anomaly", 5*s, "")},
			now:      6 * s,
			want:     want{states: map[string]journal.RecipientState{ord: journal.RecipientNotCertifiable}, final: true},
		},
		{
			name: "several recipients, mixed outcomes",
			stored: []recipientStatus{{Address: a, State: journal.RecipientPending}, {Address: b, State: journal.RecipientPending},
				{Address: ord, State: journal.RecipientPending}},
			receipts: []client.Receipt{rcpt("acceptance", s, "", a, b, ord), rcpt("delivery", 3*s, a), rcpt("non-delivery", 3*s, b)},
			now:      26 * h,
			want: want{states: map[string]journal.RecipientState{a: journal.RecipientDelivered, b: journal.RecipientFailed,
				ord: journal.RecipientNotCertifiable}, final: true, errs: map[string]string{b: "5.1.1"}},
		},
		{
			name:     "a row is delivered only when every recipient is",
			stored:   []recipientStatus{{Address: a, State: journal.RecipientPending}, {Address: b, State: journal.RecipientPending}},
			receipts: []client.Receipt{rcpt("acceptance", s, "", a, b), rcpt("delivery", 3*s, a)},
			now:      4 * s,
			want:     want{states: map[string]journal.RecipientState{a: journal.RecipientDelivered, b: journal.RecipientAccepted}},
		},
		{
			name:   "duplicates and disorder: the receipts' dates decide",
			stored: []recipientStatus{{Address: a, State: journal.RecipientPending}},
			receipts: []client.Receipt{rcpt("warning", 12*h, a), rcpt("delivery", 3*s, a), rcpt("delivery", 3*s, a),
				rcpt("acceptance", s, "", a), rcpt("transport", 3*s, "")},
			now:  13 * h,
			want: want{states: map[string]journal.RecipientState{a: journal.RecipientDelivered}, final: true},
		},
		{
			name:     "a final outcome never changes",
			stored:   []recipientStatus{{Address: a, State: journal.RecipientDelivered}},
			receipts: []client.Receipt{rcpt("non-delivery", 3*s, a)},
			now:      27 * h,
			want:     want{states: map[string]journal.RecipientState{a: journal.RecipientDelivered}, final: true},
		},
		{
			name:   "documented: one recipient is delivered, whatever address the mail mentions",
			stored: []recipientStatus{{Address: a, State: journal.RecipientPending}},
			receipts: []client.Receipt{documented("acceptance", s, testCode), documented("transport", s, testCode),
				documented("delivery", 2*s, testCode)},
			now:  3 * s,
			want: want{states: map[string]journal.RecipientState{a: journal.RecipientDelivered}, final: true},
		},
		{
			name:   "documented: two identical deliveries in the same second deliver both recipients",
			stored: []recipientStatus{{Address: a, State: journal.RecipientPending}, {Address: b, State: journal.RecipientPending}},
			receipts: []client.Receipt{documented("acceptance", s, testCode), documented("delivery", 2*s, testCode),
				documented("delivery", 2*s, testCode)},
			now:  3 * s,
			want: want{states: map[string]journal.RecipientState{a: journal.RecipientDelivered, b: journal.RecipientDelivered}, final: true},
		},
		{
			name: "documented: 2 deliveries for 3 recipients keep all 3 open",
			stored: []recipientStatus{{Address: a, State: journal.RecipientPending}, {Address: b, State: journal.RecipientPending},
				{Address: ord, State: journal.RecipientPending}},
			receipts: []client.Receipt{documented("acceptance", s, testCode), documented("delivery", 2*s, testCode),
				documented("delivery", 2*s, testCode)},
			now: 20 * h,
			want: want{states: map[string]journal.RecipientState{a: journal.RecipientAccepted, b: journal.RecipientAccepted,
				ord: journal.RecipientAccepted}, unattributed: "2 of 3 delivery receipts, addressees not named"},
		},
		{
			name: "documented: at the give-up time they are not certifiable, never delivered",
			stored: []recipientStatus{{Address: a, State: journal.RecipientAccepted}, {Address: b, State: journal.RecipientAccepted},
				{Address: ord, State: journal.RecipientAccepted}},
			receipts: []client.Receipt{documented("acceptance", s, testCode), documented("delivery", 2*s, testCode),
				documented("delivery", 2*s, testCode)},
			now: 26 * h,
			want: want{states: map[string]journal.RecipientState{a: journal.RecipientNotCertifiable, b: journal.RecipientNotCertifiable,
				ord: journal.RecipientNotCertifiable}, final: true, unattributed: "2 of 3",
				errs: map[string]string{a: "2 of 3 delivery receipts", b: "2 of 3 delivery receipts", ord: "2 of 3 delivery receipts"}},
		},
		{
			name:     "documented: a failure naming nobody finalises no recipient of two",
			stored:   []recipientStatus{{Address: a, State: journal.RecipientPending}, {Address: b, State: journal.RecipientPending}},
			receipts: []client.Receipt{documented("acceptance", s, testCode), documented("non-delivery", 2*s, testCode)},
			now:      20 * h,
			want: want{states: map[string]journal.RecipientState{a: journal.RecipientAccepted, b: journal.RecipientAccepted},
				unattributed: "1 failure notice(s) naming no addressee"},
		},
		{
			name:   "documented: then the other's delivery does not deliver either",
			stored: []recipientStatus{{Address: a, State: journal.RecipientPending}, {Address: b, State: journal.RecipientPending}},
			receipts: []client.Receipt{documented("acceptance", s, testCode), documented("non-delivery", 2*s, testCode),
				documented("delivery", 3*s, testCode), documented("security", 4*s, testCode)},
			now: 26 * h,
			want: want{states: map[string]journal.RecipientState{a: journal.RecipientNotCertifiable, b: journal.RecipientNotCertifiable},
				final: true, unattributed: "1 of 2 delivery receipts, addressees not named; 2 failure notice(s)"},
		},
		{
			name:   "documented: two deliveries and a failure for two recipients contradict each other",
			stored: []recipientStatus{{Address: a, State: journal.RecipientPending}, {Address: b, State: journal.RecipientPending}},
			receipts: []client.Receipt{documented("acceptance", s, testCode), documented("delivery", 2*s, testCode),
				documented("delivery", 2*s, testCode), documented("non-delivery", 2*s, testCode)},
			now: 5 * s,
			want: want{states: map[string]journal.RecipientState{a: journal.RecipientAccepted, b: journal.RecipientAccepted},
				unattributed: "2 of 2 delivery receipts"},
		},
		{
			name:   "the providers' acceptance tells the PEC recipient: its delivery is counted",
			stored: []recipientStatus{{Address: a, State: journal.RecipientPending}, {Address: ord, State: journal.RecipientPending}},
			receipts: []client.Receipt{rcpt("acceptance", s, "", a, ord), documented("delivery", 2*s, testCode),
				documented("anomaly", 3*s, testCode)},
			now: 5 * s,
			want: want{states: map[string]journal.RecipientState{a: journal.RecipientDelivered, ord: journal.RecipientAccepted},
				nonPEC: true, unattributed: "1 failure notice(s)"},
		},
		{
			name:   "a recipient field naming a recipient names it",
			stored: []recipientStatus{{Address: a, State: journal.RecipientPending}, {Address: b, State: journal.RecipientPending}},
			receipts: func() []client.Receipt {
				d := documented("delivery", 2*s, testCode)
				d.Recipient = `"` + strings.ToUpper(b) + `" `
				return []client.Receipt{documented("acceptance", s, testCode), d}
			}(),
			now:  3 * s,
			want: want{states: map[string]journal.RecipientState{a: journal.RecipientAccepted, b: journal.RecipientDelivered}},
		},
		{
			name:   "a receipt of another send whose code starts with this one is not applied",
			stored: []recipientStatus{{Address: a, State: journal.RecipientPending}},
			receipts: []client.Receipt{documented("acceptance", s, testCode), documented("delivery", 2*s, testCode+"7"),
				documented("delivery", 2*s, testCode[1:])},
			now:  3 * s,
			want: want{states: map[string]journal.RecipientState{a: journal.RecipientAccepted}},
		},
		{
			name:   "a receipt naming the recipient in its text and another in its recipient field is ignored",
			stored: []recipientStatus{{Address: a, State: journal.RecipientPending}, {Address: b, State: journal.RecipientPending}},
			receipts: func() []client.Receipt {
				d := rcpt("delivery", 2*s, a)
				d.Recipient = b
				return []client.Receipt{rcpt("acceptance", s, "", a, b), d}
			}(),
			now:  3 * s,
			want: want{states: map[string]journal.RecipientState{a: journal.RecipientAccepted, b: journal.RecipientAccepted}},
		},
		{
			name:     "a receipt naming a stranger is ignored",
			stored:   []recipientStatus{{Address: a, State: journal.RecipientAccepted}, {Address: b, State: journal.RecipientAccepted}},
			receipts: []client.Receipt{rcpt("delivery", 3*s, "z@pec.example.it")},
			now:      4 * s,
			want:     want{states: map[string]journal.RecipientState{a: journal.RecipientAccepted, b: journal.RecipientAccepted}},
		},
		{
			name:     "a receipt naming a stranger is not a one-recipient row's either",
			stored:   []recipientStatus{{Address: a, State: journal.RecipientAccepted}},
			receipts: []client.Receipt{rcpt("delivery", 3*s, "z@pec.example.it")},
			now:      4 * s,
			want:     want{states: map[string]journal.RecipientState{a: journal.RecipientAccepted}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			outcomes, facts := deriveOutcomes(tt.stored, classifyFor(tt.receipts, tt.stored), t0.Add(tt.now), giveUp)
			got := map[string]journal.Outcome{}
			for _, o := range outcomes {
				if _, dup := got[o.Address]; dup {
					t.Fatalf("two outcomes for %s", o.Address)
				}
				got[o.Address] = o
			}
			for _, st := range tt.stored {
				state := st.State
				if o, ok := got[st.Address]; ok {
					state = o.State
				}
				if want := tt.want.states[st.Address]; state != want {
					t.Errorf("%s: state %s, want %s", st.Address, state, want)
				}
				if w := tt.want.errs[st.Address]; w != "" && !strings.Contains(got[st.Address].Error, w) {
					t.Errorf("%s: error %q does not contain %q", st.Address, got[st.Address].Error, w)
				}
				if w, ok := tt.want.warnings[st.Address]; ok && got[st.Address].Warnings != w {
					t.Errorf("%s: %d warnings, want %d", st.Address, got[st.Address].Warnings, w)
				}
			}
			if facts.Final != tt.want.final {
				t.Errorf("final = %v, want %v", facts.Final, tt.want.final)
			}
			if facts.NonPECOnly != tt.want.nonPEC {
				t.Errorf("non-PEC only = %v, want %v", facts.NonPECOnly, tt.want.nonPEC)
			}
			if w := tt.want.unattributed; (w == "") != (facts.Unattributed == "") || !strings.Contains(facts.Unattributed, w) {
				t.Errorf("unattributed %q, want %q", facts.Unattributed, w)
			}
		})
	}
}

// TestDeriveOutcomesOrderIndependent checks that the outcome does not
// depend on the order the API lists the receipts in.
func TestDeriveOutcomesOrderIndependent(t *testing.T) {
	const a, b = "a@pec.example.it", "b@pec.example.it"
	receipts := []client.Receipt{
		rcpt("acceptance", time.Second, "", a, b), rcpt("delivery", 3*time.Second, a),
		rcpt("warning", 12*time.Hour, b), rcpt("expired", 24*time.Hour, b), rcpt("warning", 25*time.Hour, a),
	}
	stored := []recipientStatus{{Address: a, State: journal.RecipientPending}, {Address: b, State: journal.RecipientPending}}
	want, _ := deriveOutcomes(stored, classifyFor(receipts, stored), t0.Add(25*time.Hour), t0.Add(26*time.Hour))
	perm := slices.Clone(receipts)
	for i := 0; i < 50; i++ {
		// A deterministic shuffle: rotate and swap.
		perm = append(perm[1:], perm[0])
		perm[i%len(perm)], perm[(i*3)%len(perm)] = perm[(i*3)%len(perm)], perm[i%len(perm)]
		got, _ := deriveOutcomes(stored, classifyFor(perm, stored), t0.Add(25*time.Hour), t0.Add(26*time.Hour))
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("order %d: outcomes %v, want %v", i, got, want)
		}
	}
	if len(want) != 2 || want[0].State != journal.RecipientDelivered || want[1].State != journal.RecipientExpired {
		t.Fatalf("outcomes %+v, want a delivered and b expired", want)
	}
}

func TestAcceptanceTags(t *testing.T) {
	body := "Ricevuta di accettazione del messaggio indirizzato a A@PEC.it (\"posta certificata\"), " +
		"x.y@ordinary.example.it (\"posta ordinaria\")\nindirizzato a:\nA@PEC.it (\"posta certificata\")\n" +
		"x.y@ordinary.example.it (\"posta ordinaria\")\nposta certificata without an address before it"
	got := acceptanceTags(body)
	want := map[string]string{"a@pec.it": tagCertified, "x.y@ordinary.example.it": tagOrdinary}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("acceptanceTags = %v, want %v", got, want)
	}
}

func TestBodyAddresses(t *testing.T) {
	tests := []struct {
		body string
		want []string
	}{
		{"indirizzato a A@Pec.it (\"posta certificata\"), b@x.it.\n", []string{"a@pec.it", "b@x.it"}},
		{"ba@x.it and a@x.it, a@x.it again", []string{"ba@x.it", "a@x.it"}},
		{"no address @ here, nor@here", nil},
		{"\"mario.rossi+pec@pec.studio-legale.it\"", []string{"mario.rossi+pec@pec.studio-legale.it"}},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			if got := bodyAddresses(tt.body); !slices.Equal(got, tt.want) {
				t.Errorf("bodyAddresses = %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzAcceptanceTags(f *testing.F) {
	f.Add(rcpt("acceptance", time.Second, "", "a@pec.it", "b@ordinary.it").Body)
	f.Add(`x ("posta ordinaria") @ ("posta certificata")`)
	f.Add("")
	f.Fuzz(func(t *testing.T, body string) {
		for addr, tag := range acceptanceTags(body) {
			if !plausibleAddress(addr) || (tag != tagCertified && tag != tagOrdinary) {
				t.Fatalf("acceptanceTags(%q): %q → %q", body, addr, tag)
			}
			if !strings.Contains(asciiLowerString(body), addr) {
				t.Fatalf("acceptanceTags(%q): %q is not in the body", body, addr)
			}
		}
	})
}

func FuzzBodyAddresses(f *testing.F) {
	f.Add(rcpt("acceptance", time.Second, "", "a@pec.it", "b@ordinary.it").Body)
	f.Add("a@b.c@d.e")
	f.Add("@@.@")
	f.Fuzz(func(t *testing.T, body string) {
		got := bodyAddresses(body)
		for i, addr := range got {
			if !plausibleAddress(addr) || slices.Contains(got[:i], addr) {
				t.Fatalf("bodyAddresses(%q) = %q", body, got)
			}
			if !strings.Contains(asciiLowerString(body), addr) {
				t.Fatalf("bodyAddresses(%q): %q is not in the body", body, addr)
			}
		}
	})
}

// TestDeriveOutcomesKeepsAcceptanceDate checks that an acceptance seen in
// the same poll as the delivery still gives the row its acceptance time.
func TestDeriveOutcomesKeepsAcceptanceDate(t *testing.T) {
	const a = "a@pec.example.it"
	stored := []recipientStatus{{Address: a, State: journal.RecipientPending}}
	receipts := []client.Receipt{rcpt("delivery", 3*time.Second, a), rcpt("acceptance", time.Second, "", a)}
	outcomes, _ := deriveOutcomes(stored, classifyFor(receipts, stored), t0.Add(4*time.Second), t0.Add(26*time.Hour))
	if len(outcomes) != 1 {
		t.Fatalf("got %d outcomes, want 1: %+v", len(outcomes), outcomes)
	}
	o := outcomes[0]
	if o.State != journal.RecipientDelivered || !o.AcceptedAt.Equal(t0.Add(time.Second)) || !o.At.Equal(t0.Add(3*time.Second)) {
		t.Errorf("outcome %+v: want delivered at t0+3s, accepted at t0+1s", o)
	}
}
