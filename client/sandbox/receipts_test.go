package sandbox_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/client/sandbox"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// want is one receipt expected for a send: when it arrives, its prefix, and
// what its body must say.
type want struct {
	after    time.Duration
	prefix   string
	contains []string
}

const (
	acc     = "ACCETTAZIONE"
	cons    = "CONSEGNA"
	nondel  = "AVVISO DI MANCATA CONSEGNA"
	timeout = "AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO"
	nonacc  = "AVVISO DI NON ACCETTAZIONE"
	virus   = "AVVISO DI NON ACCETTAZIONE PER VIRUS"
	transp  = "POSTA CERTIFICATA"
	charge  = "PRESA IN CARICO"
	infect  = "AVVISO DI MANCATA CONSEGNA PER VIRUS"
	anomaly = "ANOMALIA MESSAGGIO"
	secur   = "PROBLEMA DI SICUREZZA"
)

// pecStyle makes a harness write receipts in the pec style.
func pecStyle(o *sandbox.Options) { o.Receipts = sandbox.StylePEC }

func acceptance(addrs ...string) want {
	w := want{after: time.Second, prefix: acc, contains: []string{"Ricevuta di accettazione del messaggio indirizzato a", `proveniente da "` + testSender + `"`}}
	for _, a := range addrs {
		tag := `("posta certificata")`
		if strings.HasSuffix(a, "@"+sandbox.DomainOrdinary) || strings.HasSuffix(a, "@"+sandbox.DomainAnomaly) {
			tag = `("posta ordinaria")`
		}
		w.contains = append(w.contains, "\n"+a+" "+tag+"\n")
	}
	return w
}

func delivery(after time.Duration, addr string) want {
	return want{after: after, prefix: cons, contains: []string{
		"Ricevuta di avvenuta consegna del messaggio indirizzato a " + addr,
		"stato consegnato nella casella di destinazione",
	}}
}

func failure(after time.Duration, prefix, addr, errorLine string) want {
	return want{after: after, prefix: prefix, contains: []string{
		`e destinato all'utente "` + addr + `" ` + "\uFFFD stato rilevato il seguente errore:\n" + errorLine + "\n",
	}}
}

// domainCases is the domain table of the README, one row each, plus the
// multi-recipient cases.
var domainCases = []struct {
	name       string
	recipients []string
	sent       int
	wants      []want
}{
	{
		name: "anything else", recipients: []string{"mario.rossi@pec.example.it"}, sent: 1,
		wants: []want{acceptance("mario.rossi@pec.example.it"), delivery(3*time.Second, "mario.rossi@pec.example.it")},
	},
	{
		name: "invalid", recipients: []string{"nessuno@invalid.sandbox.test"}, sent: 1,
		wants: []want{acceptance("nessuno@invalid.sandbox.test"),
			failure(3*time.Second, nondel, "nessuno@invalid.sandbox.test", "5.1.1 - sandbox - indirizzo non valido")},
	},
	{
		name: "full", recipients: []string{"piena@full.sandbox.test"}, sent: 1,
		wants: []want{acceptance("piena@full.sandbox.test"),
			failure(3*time.Second, nondel, "piena@full.sandbox.test", "5.2.2 - sandbox - casella piena")},
	},
	{
		name: "slow", recipients: []string{"lento@slow.sandbox.test"}, sent: 1,
		wants: []want{acceptance("lento@slow.sandbox.test"),
			failure(12*time.Hour, timeout, "lento@slow.sandbox.test", "4.4.7 - sandbox - consegna non ancora avvenuta nel tempo previsto"),
			delivery(12*time.Hour+3*time.Second, "lento@slow.sandbox.test")},
	},
	{
		name: "expire", recipients: []string{"scade@expire.sandbox.test"}, sent: 1,
		wants: []want{acceptance("scade@expire.sandbox.test"),
			failure(12*time.Hour, timeout, "scade@expire.sandbox.test", "4.4.7 - sandbox - consegna non ancora avvenuta nel tempo previsto"),
			failure(24*time.Hour, timeout, "scade@expire.sandbox.test", "5.4.1 - sandbox - tempo massimo di consegna superato")},
	},
	{
		name: "ordinary", recipients: []string{"mario@ordinary.sandbox.test"}, sent: 1,
		wants: []want{acceptance("mario@ordinary.sandbox.test")},
	},
	{
		name: "virus", recipients: []string{"x@virus.sandbox.test"}, sent: 1,
		wants: []want{{after: time.Second, prefix: virus, contains: []string{
			"Avviso di non accettazione del messaggio per virus", "\nx@virus.sandbox.test (\"posta certificata\")\n",
			"5.7.1 - sandbox - virus rilevato nel messaggio"}}},
	},
	{
		name: "reject", recipients: []string{"x@reject.sandbox.test"}, sent: 1,
		wants: []want{{after: time.Second, prefix: nonacc, contains: []string{
			"Avviso di non accettazione del messaggio\n", "\nx@reject.sandbox.test (\"posta certificata\")\n",
			"5.7.1 - sandbox - messaggio non accettato"}}},
	},
	{
		name:       "several recipients: one acceptance, one outcome each",
		recipients: []string{"a@pec.example.it", "b@invalid.sandbox.test", "c@ordinary.sandbox.test", "d@slow.sandbox.test", "e@full.sandbox.test"},
		sent:       5,
		wants: []want{
			acceptance("a@pec.example.it", "b@invalid.sandbox.test", "c@ordinary.sandbox.test", "d@slow.sandbox.test", "e@full.sandbox.test"),
			delivery(3*time.Second, "a@pec.example.it"),
			failure(3*time.Second, nondel, "b@invalid.sandbox.test", "5.1.1 - sandbox - indirizzo non valido"),
			failure(3*time.Second, nondel, "e@full.sandbox.test", "5.2.2 - sandbox - casella piena"),
			failure(12*time.Hour, timeout, "d@slow.sandbox.test", "4.4.7 - sandbox - consegna non ancora avvenuta nel tempo previsto"),
			delivery(12*time.Hour+3*time.Second, "d@slow.sandbox.test"),
		},
	},
	{
		name: "a virus recipient refuses the whole message", recipients: []string{"a@pec.example.it", "x@reject.sandbox.test", "v@virus.sandbox.test"}, sent: 3,
		wants: []want{{after: time.Second, prefix: virus, contains: []string{
			"\na@pec.example.it (\"posta certificata\")\n", "\nx@reject.sandbox.test (\"posta certificata\")\n", "\nv@virus.sandbox.test (\"posta certificata\")\n"}}},
	},
	{
		name: "a rejected recipient refuses the whole message", recipients: []string{"a@pec.example.it", "x@reject.sandbox.test"}, sent: 2,
		wants: []want{{after: time.Second, prefix: nonacc, contains: []string{"\na@pec.example.it (\"posta certificata\")\n"}}},
	},
	{
		name: "repeated recipients count once", recipients: []string{"a@pec.example.it", "A@PEC.example.it"}, sent: 1,
		wants: []want{acceptance("a@pec.example.it"), delivery(3*time.Second, "a@pec.example.it")},
	},
	{
		name: "the sender's own copy comes back in the transport envelope", recipients: []string{testSender}, sent: 1,
		wants: []want{acceptance(testSender),
			{after: 2 * time.Second, prefix: transp, contains: []string{"Salve, questa \uFFFD una prova di invio"}},
			delivery(3*time.Second, testSender)},
	},
	{
		name: "charge", recipients: []string{"x@charge.sandbox.test"}, sent: 1,
		wants: []want{acceptance("x@charge.sandbox.test"),
			{after: 2 * time.Second, prefix: charge, contains: []string{"Ricevuta di presa in carico del messaggio indirizzato a x@charge.sandbox.test"}},
			delivery(3*time.Second, "x@charge.sandbox.test")},
	},
	{
		name: "infected", recipients: []string{"x@infected.sandbox.test"}, sent: 1,
		wants: []want{acceptance("x@infected.sandbox.test"),
			failure(3*time.Second, infect, "x@infected.sandbox.test", "5.7.1 - sandbox - virus rilevato nel messaggio")},
	},
	{
		name: "anomaly", recipients: []string{"x@anomaly.sandbox.test"}, sent: 1,
		wants: []want{acceptance("x@anomaly.sandbox.test"),
			{after: 3 * time.Second, prefix: anomaly, contains: []string{
				`proveniente da "MAILER-DAEMON@anomaly.sandbox.test"`,
				"\n550 5.1.1 <x@anomaly.sandbox.test>: Recipient address rejected"}}},
	},
	{
		name: "security", recipients: []string{"x@security.sandbox.test"}, sent: 1,
		wants: []want{acceptance("x@security.sandbox.test"),
			failure(3*time.Second, secur, "x@security.sandbox.test", "5.7.1 - sandbox - virus rilevato nel messaggio")},
	},
}

// TestDomainTable walks every row of the domain table through time: just
// before and at each receipt's time, GET /send/{code} lists exactly the
// receipts due, in the contract's shape.
func TestDomainTable(t *testing.T) {
	// The pec style names the addressee in every text, which is what this
	// table checks; styles_test.go checks the documented style.
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range domainCases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, pecStyle)
			a := h.post(h.sendBody(tc.recipients, testSubject))
			if a.status != http.StatusCreated || a.json["sent"] != float64(tc.sent) || a.json["success"] != true || a.json["message"] != "" {
				t.Fatalf("send: %d %s", a.status, a.raw)
			}
			code := a.json["message_id"].(string)

			checkpoints := []time.Duration{0, 48 * time.Hour}
			for _, w := range tc.wants {
				checkpoints = append(checkpoints, w.after-time.Nanosecond, w.after)
			}
			slices.Sort(checkpoints)
			for _, at := range slices.Compact(checkpoints) {
				h.advanceTo(at)
				var due []want
				for _, w := range tc.wants {
					if w.after <= at {
						due = append(due, w)
					}
				}
				got := h.receipts(code)
				if len(got) != len(due) {
					t.Fatalf("at +%v: %d receipts, want %d: %+v", at, len(got), len(due), got)
				}
				for i, w := range due {
					r := got[i]
					if wantObject := w.prefix + ": " + testSubject + " " + code; r.Object != wantObject {
						t.Errorf("at +%v: receipt %d object %q, want %q", at, i, r.Object, wantObject)
					}
					date, err := time.Parse(time.RFC1123Z, r.Data)
					if err != nil || !date.Equal(start.Add(w.after).Truncate(time.Second)) {
						t.Errorf("at +%v: receipt %d date %q (%v), want %v", at, i, r.Data, err, start.Add(w.after))
					}
					if _, offset := date.Zone(); offset != func() int { _, o := start.Add(w.after).In(rome).Zone(); return o }() {
						t.Errorf("receipt %d date %q is not in Rome time", i, r.Data)
					}
					for _, s := range w.contains {
						if !strings.Contains(r.Message, s) {
							t.Errorf("at +%v: receipt %d (%s) body lacks %q:\n%s", at, i, w.prefix, s, r.Message)
						}
					}
					if strings.ContainsRune(r.Message, 'è') {
						t.Errorf("receipt %d body has an accented letter; the service shows them as U+FFFD", i)
					}
					if w.prefix == transp {
						continue
					}
					if r.Sender != sandbox.ReceiptSender || r.Recipient != testSender {
						t.Errorf("receipt %d from %q to %q", i, r.Sender, r.Recipient)
					}
				}
			}
		})
	}
}

// TestReceiptsGolden pins the full texts of every row's receipts in each
// style, as GET /send/{code} returns them after 48 h. Rewrite with -update.
func TestReceiptsGolden(t *testing.T) {
	type goldenCase struct {
		style      sandbox.ReceiptStyle
		name       string
		recipients []string
	}
	var cases []goldenCase
	for _, style := range []sandbox.ReceiptStyle{sandbox.StyleDocumented, sandbox.StylePEC} {
		for _, tc := range domainCases {
			cases = append(cases, goldenCase{style, tc.name, tc.recipients})
		}
		for _, d := range []string{sandbox.DomainDuplicate, sandbox.DomainUnsorted, sandbox.DomainForeign} {
			cases = append(cases, goldenCase{style, strings.TrimSuffix(d, ".sandbox.test"), []string{"a@pec.example.it", "x@" + d}})
		}
	}
	for _, tc := range cases {
		t.Run(string(tc.style)+"/"+tc.name, func(t *testing.T) {
			h := newHarness(t, func(o *sandbox.Options) { o.Receipts = tc.style })
			code := h.mustSend(tc.recipients, testSubject)
			h.advanceTo(48 * time.Hour)
			got, err := json.MarshalIndent(h.receipts(code), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			name := strings.NewReplacer(" ", "-", ":", "", ",", "", "'", "").Replace(tc.name)
			path := filepath.Join("testdata", "receipts", string(tc.style), name+".golden.json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			golden, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if string(golden) != string(got) {
				t.Errorf("receipts differ from %s (run go test -update after checking):\n%s", path, got)
			}
		})
	}
}

// TestMessageIDShape checks the message_id: the Rome time of the send and two
// digits, unique even for many sends within one second.
func TestMessageIDShape(t *testing.T) {
	h := newHarness(t, nil)
	seen := map[string]bool{}
	for i := range 150 {
		code := h.mustSend("a@pec.example.it", fmt.Sprintf("n. %d", i))
		if seen[code] {
			t.Fatalf("message_id %s given twice", code)
		}
		seen[code] = true
		if !strings.HasPrefix(code, "20200826100034") {
			t.Fatalf("message_id %s does not start with the Rome time of the send", code)
		}
		if i < 99 && len(code) != 16 {
			t.Fatalf("message_id %s: want 16 digits", code)
		}
		for _, c := range code {
			if c < '0' || c > '9' {
				t.Fatalf("message_id %s: not all digits", code)
			}
		}
	}
	h.clock.Advance(time.Second)
	if code := h.mustSend("a@pec.example.it", "next second"); code != "2020082610003551" {
		t.Errorf("message_id %s, want 2020082610003551 (151st send, next second)", code)
	}
}
