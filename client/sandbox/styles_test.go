package sandbox_test

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/client/sandbox"
)

// bodyAsText is testBody as the documented CONSEGNA shows it: tags dropped,
// the Latin-1 letter read as U+FFFD.
const bodyAsText = "Salve, questa \uFFFD una prova di invio, che prevede un corpo in html"

// prefixOf is the receipt kind's prefix of an object.
func prefixOf(object string) string {
	prefix, _, _ := strings.Cut(object, ": ")
	return prefix
}

func prefixes(rs []receipt) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = prefixOf(r.Object)
	}
	return out
}

// TestStylesTwoPECOneOrdinary is what GET /send/{code} returns, in each
// style, for a send to two PEC recipients and one ordinary mailbox.
func TestStylesTwoPECOneOrdinary(t *testing.T) {
	addressees := []string{"a@pec.example.it", "b@pec.example.it", "c@ordinary.sandbox.test"}
	for _, tc := range []struct {
		style  sandbox.ReceiptStyle
		sender string
		check  func(t *testing.T, acceptance receipt, deliveries []receipt)
	}{
		{
			style: sandbox.StyleDocumented, sender: sandbox.DocumentedReceiptSender,
			check: func(t *testing.T, acceptance receipt, deliveries []receipt) {
				if acceptance.Message != "" {
					t.Errorf("ACCETTAZIONE message %q, want empty as in the contract's example", acceptance.Message)
				}
				if deliveries[0] != deliveries[1] {
					t.Errorf("the two CONSEGNA differ: %+v", deliveries)
				}
				if deliveries[0].Message != bodyAsText {
					t.Errorf("CONSEGNA message %q, want the original mail's text %q", deliveries[0].Message, bodyAsText)
				}
			},
		},
		{
			style: sandbox.StylePEC, sender: sandbox.ReceiptSender,
			check: func(t *testing.T, acceptance receipt, deliveries []receipt) {
				for _, a := range addressees {
					if !strings.Contains(acceptance.Message, a) {
						t.Errorf("ACCETTAZIONE does not name %s:\n%s", a, acceptance.Message)
					}
				}
				if !strings.Contains(acceptance.Message, `c@ordinary.sandbox.test ("posta ordinaria")`) {
					t.Errorf("ACCETTAZIONE does not tag the ordinary mailbox:\n%s", acceptance.Message)
				}
				for i, d := range deliveries {
					want := "Ricevuta di avvenuta consegna del messaggio indirizzato a " + addressees[i] + " "
					if !strings.HasPrefix(d.Message, want) {
						t.Errorf("CONSEGNA %d does not start %q:\n%s", i, want, d.Message)
					}
					if strings.Contains(d.Message, addressees[1-i]) || strings.Contains(d.Message, addressees[2]) {
						t.Errorf("CONSEGNA %d names another addressee:\n%s", i, d.Message)
					}
				}
			},
		},
	} {
		t.Run(string(tc.style), func(t *testing.T) {
			h := newHarness(t, func(o *sandbox.Options) { o.Receipts = tc.style })
			code := h.mustSend(addressees, testSubject)
			h.advanceTo(48 * time.Hour)
			got := h.receipts(code)
			if want := []string{acc, cons, cons}; !slices.Equal(prefixes(got), want) {
				t.Fatalf("receipts %v, want %v: one acceptance, one CONSEGNA per PEC recipient, none for the ordinary one", prefixes(got), want)
			}
			for i, r := range got {
				if r.Sender != tc.sender || r.Recipient != testSender {
					t.Errorf("receipt %d from %q to %q, want from %q to the sending mailbox %q", i, r.Sender, r.Recipient, tc.sender, testSender)
				}
				if want := prefixOf(r.Object) + ": " + testSubject + " " + code; r.Object != want {
					t.Errorf("receipt %d object %q, want %q", i, r.Object, want)
				}
				if tc.style == sandbox.StyleDocumented {
					for _, a := range addressees {
						if strings.Contains(r.Sender+r.Recipient+r.Object+r.Message, a) {
							t.Errorf("documented receipt %d names the addressee %s: %+v", i, a, r)
						}
					}
				}
			}
			if got[1].Data != got[2].Data {
				t.Errorf("the two CONSEGNA are dated %q and %q, want the same second", got[1].Data, got[2].Data)
			}
			tc.check(t, got[0], got[1:])
		})
	}
}

// TestDocumentedStyleIsTheContractExample replays the contract's example of
// GET /send/{code}: dev-api@pecmassiva.com sends "Invio di prova pec
// massiva" to itself at 10:00:34 Rome time. The answer must be the example,
// field for field, but for the code.
func TestDocumentedStyleIsTheContractExample(t *testing.T) {
	raw, err := os.ReadFile(contractPath)
	if err != nil {
		t.Fatal(err)
	}
	var contract spec
	if err := json.Unmarshal(raw, &contract); err != nil {
		t.Fatal(err)
	}
	example := contract.Paths["/send/{code}"]["get"].Responses["200"].Content["application/json"].Example
	if example == nil {
		t.Fatal("the contract has no example of GET /send/{code} 200")
	}

	const mailbox = "dev-api@pecmassiva.com"
	h := newHarness(t, func(o *sandbox.Options) {
		o.Username = mailbox
		o.AcceptDelay, o.DeliverDelay = time.Second, 2*time.Second
	})
	body := h.sendBody([]string{mailbox}, "Invio di prova pec massiva")
	body["sender"] = mailbox
	body["body"] = "<p>Salve, questa email &egrave; una prova di invio,\n che prevede un <b>corpo in html</b></p>"
	code := h.post(body).json["message_id"].(string)
	h.advanceTo(48 * time.Hour)
	got := h.get("/send/" + code)

	exampleJSON, err := json.Marshal(example)
	if err != nil {
		t.Fatal(err)
	}
	var want, have any
	if err := json.Unmarshal([]byte(strings.ReplaceAll(string(exampleJSON), "2020082610003492", code)), &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got.raw, &have); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(want, have) {
		t.Errorf("GET /send/%s:\n got %s\nwant %s", code, got.raw, exampleJSON)
	}
}

// TestMixedIsDeterministic checks that StyleMixed draws each send's style
// from the seed: the same seed, the same styles; both styles come up.
func TestMixedIsDeterministic(t *testing.T) {
	stylesOf := func(seed int64) []string {
		h := newHarness(t, func(o *sandbox.Options) { o.Receipts, o.Seed = sandbox.StyleMixed, seed })
		var codes []string
		for range 24 {
			codes = append(codes, h.mustSend([]string{"a@pec.example.it"}, testSubject))
		}
		h.advanceTo(time.Minute)
		var styles []string
		for _, code := range codes {
			rs := h.receipts(code)
			style := ""
			switch {
			case rs[0].Sender == sandbox.DocumentedReceiptSender && rs[0].Message == "" && rs[1].Message == bodyAsText:
				style = "documented"
			case rs[0].Sender == sandbox.ReceiptSender && strings.Contains(rs[1].Message, "indirizzato a a@pec.example.it"):
				style = "pec"
			default:
				t.Fatalf("send %s: receipts of neither style: %+v", code, rs)
			}
			styles = append(styles, style)
		}
		return styles
	}
	first, again, other := stylesOf(42), stylesOf(42), stylesOf(43)
	if !slices.Equal(first, again) {
		t.Errorf("seed 42 gave %v, then %v", first, again)
	}
	if !slices.Contains(first, "documented") || !slices.Contains(first, "pec") {
		t.Errorf("24 sends all of one style: %v", first)
	}
	if slices.Equal(first, other) {
		t.Errorf("seeds 42 and 43 gave the same styles %v", first)
	}
}

// TestMagicDomainsInEveryStyle checks that each domain yields the same
// kinds of receipt, at the same times, in every style.
func TestMagicDomainsInEveryStyle(t *testing.T) {
	const warn = timeout
	for _, style := range sandbox.ReceiptStyles {
		for _, tc := range []struct {
			domain string
			want   []string
			last   string // what the last receipt's message holds, if anything
		}{
			{"pec.example.it", []string{acc, cons}, ""},
			{sandbox.DomainInvalid, []string{acc, nondel}, "5.1.1"},
			{sandbox.DomainFull, []string{acc, nondel}, "5.2.2"},
			{sandbox.DomainSlow, []string{acc, warn, cons}, ""},
			{sandbox.DomainExpire, []string{acc, warn, warn}, "\n5.4.1 - "},
			{sandbox.DomainOrdinary, []string{acc}, ""},
			{sandbox.DomainVirus, []string{virus}, "virus"},
			{sandbox.DomainReject, []string{nonacc}, "5.7.1"},
			{sandbox.DomainCharge, []string{acc, charge, cons}, ""},
			{sandbox.DomainInfected, []string{acc, infect}, "destinato all'utente \"x@" + sandbox.DomainInfected},
			{sandbox.DomainAnomaly, []string{acc, anomaly}, "<x@" + sandbox.DomainAnomaly + ">"},
			{sandbox.DomainSecurity, []string{acc, secur}, "destinato all'utente \"x@" + sandbox.DomainSecurity},
		} {
			t.Run(string(style)+"/"+tc.domain, func(t *testing.T) {
				h := newHarness(t, func(o *sandbox.Options) { o.Receipts = style })
				code := h.mustSend("x@"+tc.domain, testSubject)
				h.advanceTo(48 * time.Hour)
				got := h.receipts(code)
				if !slices.Equal(prefixes(got), tc.want) {
					t.Fatalf("receipts %v, want %v", prefixes(got), tc.want)
				}
				if last := got[len(got)-1]; !strings.Contains(last.Message, tc.last) {
					t.Errorf("last receipt lacks %q:\n%s", tc.last, last.Message)
				}
				for i := 1; i < len(got); i++ {
					prev, _ := time.Parse(time.RFC1123Z, got[i-1].Data)
					this, _ := time.Parse(time.RFC1123Z, got[i].Data)
					if this.Before(prev) {
						t.Errorf("receipt %d dated before receipt %d", i, i-1)
					}
				}
			})
		}
	}
}

// TestDuplicateUnsortedForeign checks the three domains that make GET
// /send/{code} itself awkward, in each style.
func TestDuplicateUnsortedForeign(t *testing.T) {
	for _, style := range []sandbox.ReceiptStyle{sandbox.StyleDocumented, sandbox.StylePEC} {
		withStyle := func(o *sandbox.Options) { o.Receipts = style }
		t.Run(string(style)+"/duplicate", func(t *testing.T) {
			h := newHarness(t, withStyle)
			code := h.mustSend("x@"+sandbox.DomainDuplicate, testSubject)
			h.advanceTo(3 * time.Second)
			got := h.receipts(code)
			if want := []string{acc, acc, cons}; !slices.Equal(prefixes(got), want) {
				t.Fatalf("at +3s: %v, want %v", prefixes(got), want)
			}
			if got[0] != got[1] {
				t.Errorf("the acceptance listed twice differs: %+v", got[:2])
			}
			if total := h.inbox("").Total; total != 2 {
				t.Errorf("inbox holds %d messages, want 2: the acceptance is one message listed twice", total)
			}
			h.advanceTo(3*time.Second + time.Minute - time.Nanosecond)
			if n := len(h.receipts(code)); n != 3 {
				t.Fatalf("before the copy: %d receipts, want 3", n)
			}
			h.advanceTo(3*time.Second + time.Minute)
			got = h.receipts(code)
			if want := []string{acc, acc, cons, cons}; !slices.Equal(prefixes(got), want) {
				t.Fatalf("after a minute: %v, want %v", prefixes(got), want)
			}
			if got[2] != got[3] {
				t.Errorf("the late copy differs from the CONSEGNA (date included): %+v", got[2:])
			}
			if total := h.inbox("").Total; total != 3 {
				t.Errorf("inbox holds %d messages, want 3: the copy is a message of its own", total)
			}
		})
		t.Run(string(style)+"/unsorted", func(t *testing.T) {
			h := newHarness(t, withStyle)
			code := h.mustSend([]string{"a@pec.example.it", "x@" + sandbox.DomainUnsorted}, testSubject)
			h.advanceTo(3 * time.Second)
			got := h.receipts(code)
			if want := []string{cons, cons, acc}; !slices.Equal(prefixes(got), want) {
				t.Fatalf("%v, want %v: newest first", prefixes(got), want)
			}
			first, _ := time.Parse(time.RFC1123Z, got[0].Data)
			last, _ := time.Parse(time.RFC1123Z, got[2].Data)
			if !first.After(last) {
				t.Errorf("dates %q then %q: not out of order", got[0].Data, got[2].Data)
			}
		})
		t.Run(string(style)+"/foreign", func(t *testing.T) {
			h := newHarness(t, withStyle)
			code := h.mustSend("x@"+sandbox.DomainForeign, testSubject)
			foreign := code + sandbox.ForeignSuffix
			h.advanceTo(time.Second)
			got := h.receipts(code)
			if want := []string{acc, cons}; !slices.Equal(prefixes(got), want) {
				t.Fatalf("at +1s: %v, want %v", prefixes(got), want)
			}
			if want := cons + ": " + testSubject + " " + foreign; got[1].Object != want {
				t.Errorf("foreign receipt %q, want %q", got[1].Object, want)
			}
			if other := h.receipts(foreign); len(other) != 1 || other[0] != got[1] {
				t.Errorf("GET /send/%s = %+v, want the foreign CONSEGNA alone", foreign, other)
			}
			h.advanceTo(3 * time.Second)
			got = h.receipts(code)
			if want := []string{acc, cons, cons}; !slices.Equal(prefixes(got), want) {
				t.Fatalf("at +3s: %v, want %v", prefixes(got), want)
			}
			if !strings.HasSuffix(got[2].Object, " "+code) {
				t.Errorf("own CONSEGNA %q", got[2].Object)
			}
			if style == sandbox.StyleDocumented && got[1].Message != got[2].Message {
				t.Errorf("foreign and own CONSEGNA differ in text; only the code should tell them apart")
			}
			if a := h.delete("/send/" + code); a.status != 200 {
				t.Fatalf("delete: %d %s", a.status, a.raw)
			}
			if h.receipts(foreign) != nil || h.receipts(code) != nil {
				t.Error("DELETE /send/{code} left receipts listed under the code")
			}
		})
	}
}
