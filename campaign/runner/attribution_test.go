package runner

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/client"
	"github.com/pecbatch/pecbatch/journal"
)

// TestClassifyReceiptsKeepsEveryEntry: identical entries are kept by their
// multiplicity, entries of another send are set apart, and the archive
// entries carry only the addressee a receipt names.
func TestClassifyReceiptsKeepsEveryEntry(t *testing.T) {
	const a, b = "a@pec.example.it", "b@pec.example.it"
	acc, del := documented("acceptance", time.Second, testCode), documented("delivery", 2*time.Second, testCode)
	named := rcpt("delivery", 3*time.Second, b)
	foreign := documented("delivery", 2*time.Second, testCode+"7")
	in := []client.Receipt{named, del, foreign, acc, del, acc}
	ans := classifyReceipts(in, testCode, testMailbox, []string{a, strings.ToUpper(b)})
	var kinds []string
	for _, c := range ans.Own {
		kinds = append(kinds, string(c.Kind)+"/"+c.Named)
	}
	want := []string{"acceptance/", "acceptance/", "delivery/", "delivery/", "delivery/" + b}
	if !slices.Equal(kinds, want) {
		t.Errorf("own entries %q, want %q", kinds, want)
	}
	if len(ans.Foreign) != 1 || ans.Foreign[0].Subject != foreign.Subject {
		t.Errorf("foreign entries %+v, want the one of %s7", ans.Foreign, testCode)
	}
	jr := journalReceipts(ans.Own, testCode)
	if len(jr) != len(ans.Own) {
		t.Fatalf("%d archive entries for %d receipts", len(jr), len(ans.Own))
	}
	for i, r := range jr {
		if r.Code != testCode || r.Addressee != ans.Own[i].Named || r.Body != ans.Own[i].Body {
			t.Errorf("archive entry %d: %+v", i, r)
		}
	}
	// The same entries listed in another order come in the same order.
	again := classifyReceipts([]client.Receipt{acc, del, acc, named, foreign, del}, testCode, testMailbox, []string{a, b})
	if fmt.Sprint(again.Own) != fmt.Sprint(ans.Own) {
		t.Errorf("order depends on the answer's:\n%v\n%v", again.Own, ans.Own)
	}
}

// exampleAnswer returns the provider's documented 200 answer of
// GET /send/{code}, verbatim, from the project's copy of the contract.
func exampleAnswer(t *testing.T) []byte {
	t.Helper()
	raw, err := os.ReadFile("../../client/testdata/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct {
				Content map[string]struct {
					Example json.RawMessage `json:"example"`
				} `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	ex := spec.Paths["/send/{code}"]["get"].Responses["200"].Content["application/json"].Example
	if len(ex) == 0 {
		t.Fatal("the contract has no 200 example of GET /send/{code}")
	}
	return ex
}

// TestTrackDocumentedExample tracks a row through the provider's
// documented answer of GET /send/{code}, served verbatim and read by the
// client: an acceptance with an empty text, the transport envelope of the
// mailbox's own copy, and one delivery receipt whose text is the original
// mail and whose recipient is the sending mailbox.
func TestTrackDocumentedExample(t *testing.T) {
	const (
		code    = "2020082610003492"
		mailbox = "dev-api@pecmassiva.com"
		mario   = "mario.rossi@pec.example.it"
		anna    = "anna.bianchi@pec.example.it"
	)
	example := exampleAnswer(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/send/"+code {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"success":false,"message":"Result empty"}`))
			return
		}
		_, _ = w.Write(example)
	}))
	defer srv.Close()
	cl, err := client.NewClient(srv.URL, client.WithToken("token"), client.WithCredentials(mailbox, "password"))
	if err != nil {
		t.Fatal(err)
	}
	receipts, err := cl.Receipts(t.Context(), code)
	if err != nil || len(receipts) != 3 {
		t.Fatalf("Receipts: %d, %v; want the example's 3 entries", len(receipts), err)
	}
	sent, err := client.ParseDate("Wed, 26 Aug 2020 10:00:34 +0200")
	if err != nil {
		t.Fatal(err)
	}
	giveUp := sent.Add(26 * time.Hour)
	tests := []struct {
		name       string
		code       string
		recipients []string
		// before and after are the recipients' states a minute after the
		// send and at the give-up time; err a substring of their error then.
		before, after journal.RecipientState
		err           string
		own           int
	}{
		{"sent to the mailbox itself, as the example", code, []string{mailbox},
			journal.RecipientDelivered, journal.RecipientDelivered, "", 3},
		{"one recipient", code, []string{mario},
			journal.RecipientDelivered, journal.RecipientDelivered, "", 3},
		{"two recipients, one delivery receipt naming nobody", code, []string{mario, anna},
			journal.RecipientAccepted, journal.RecipientNotCertifiable, "1 of 2 delivery receipts, addressees not named", 3},
		{"the mailbox and another recipient", code, []string{mailbox, mario},
			journal.RecipientAccepted, journal.RecipientNotCertifiable, "1 of 2 delivery receipts", 3},
		{"a send whose code is a prefix of the example's", code[:len(code)-1], []string{mario},
			journal.RecipientPending, journal.RecipientExpired, "give-up", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ans := classifyReceipts(receipts, tt.code, sendingMailbox{Address: mailbox}, tt.recipients)
			if len(ans.Own) != tt.own || len(ans.Foreign) != 3-tt.own {
				t.Fatalf("%d own and %d foreign entries, want %d own", len(ans.Own), len(ans.Foreign), tt.own)
			}
			for _, c := range ans.Own {
				if c.Named != "" || c.Stranger {
					t.Errorf("%s entry read as naming %q (stranger %v): the example names no addressee", c.Kind, c.Named, c.Stranger)
				}
			}
			stored := make([]recipientStatus, len(tt.recipients))
			for i, a := range tt.recipients {
				stored[i] = recipientStatus{Address: a, State: journal.RecipientPending}
			}
			for _, step := range []struct {
				now  time.Time
				want journal.RecipientState
				err  string
			}{{sent.Add(time.Minute), tt.before, ""}, {giveUp, tt.after, tt.err}} {
				outcomes, _ := deriveOutcomes(stored, ans.Own, step.now, giveUp)
				got := map[string]journal.Outcome{}
				for _, o := range outcomes {
					got[o.Address] = o
				}
				for _, a := range tt.recipients {
					o, ok := got[a]
					if !ok {
						o.State = journal.RecipientPending
					}
					if o.State != step.want || !strings.Contains(o.Error, step.err) {
						t.Errorf("at %s: %s is %s %q, want %s with %q", step.now.Format(time.TimeOnly), a, o.State, o.Error, step.want, step.err)
					}
				}
			}
			if jr := journalReceipts(ans.Own, tt.code); len(jr) != tt.own {
				t.Errorf("%d archive entries, want %d", len(jr), tt.own)
			}
		})
	}
}

// FuzzReceiptAttribution builds receipt lists from the fuzzer's bytes (every
// kind, named or not, in the documented or the providers' shapes,
// duplicated, out of order, of this send or of another whose code starts
// with its own, with garbled texts) and checks what tracking concludes:
// only a delivery receipt of the send delivers, never more recipients than
// it has delivery receipts, whatever the order, and a foreign receipt
// changes nothing.
func FuzzReceiptAttribution(f *testing.F) {
	f.Add(uint8(2), []byte{0x10, 0x21, 0x21})
	f.Add(uint8(1), []byte{0x10, 0x21, 0x95, 0x34})
	f.Add(uint8(3), []byte{0x10, 0x21, 0x21, 0x62, 0x7a, 0x21})
	f.Add(uint8(2), []byte{0x00, 0x31, 0x41, 0x51, 0x61, 0x71, 0x81, 0xf1})
	f.Fuzz(func(t *testing.T, n uint8, ops []byte) {
		addrs := []string{"a@pec.example.it", "b@pec.example.it", "c@ordinary.example.it", "d@pec.example.it"}
		recipients := addrs[:1+int(n)%len(addrs)]
		kinds := []string{"acceptance", "delivery", "non-delivery", "warning", "expired", "anomaly", "security", "transport"}
		var list []client.Receipt
		for i, op := range ops[:min(len(ops), 40)] {
			kind := kinds[int(op>>4)%len(kinds)]
			at := time.Duration(i%7) * time.Hour
			var r client.Receipt
			who := int(op & 7)
			switch {
			case who < len(recipients) && kind != "transport" && kind != "security" && kind != "anomaly":
				r = rcpt(kind, at, recipients[who], recipients...)
			case who == 5:
				r = rcpt(kind, at, "z@pec.example.it", recipients...)
			default:
				r = documented(kind, at, testCode)
			}
			if kind == "expired" && who >= len(recipients) {
				r = documented("warning", at, testCode)
			}
			if op&8 != 0 {
				// Another send's code, which starts with this one's.
				r.Subject = strings.TrimSuffix(r.Subject, testCode) + testCode + "7"
			}
			if i%5 == 4 {
				r.Body = strings.ToValidUTF8(string(ops), "\ufffd") + r.Body[:len(r.Body)/2]
			}
			list = append(list, r)
		}
		stored := make([]recipientStatus, len(recipients))
		for i, a := range recipients {
			stored[i] = recipientStatus{Address: a, State: journal.RecipientPending}
		}
		now, giveUp := t0.Add(6*time.Hour), t0.Add(26*time.Hour)
		for _, at := range []time.Time{now, giveUp} {
			ans := classifyReceipts(list, testCode, testMailbox, recipients)
			got, _ := deriveOutcomes(stored, ans.Own, at, giveUp)
			deliveries := 0
			for _, c := range ans.Own {
				if c.Kind == client.KindDelivery && !c.Stranger {
					deliveries++
				}
			}
			delivered := 0
			for _, o := range got {
				if !slices.Contains(recipients, o.Address) {
					t.Fatalf("an outcome for %s, not a recipient", o.Address)
				}
				if o.State == journal.RecipientDelivered {
					delivered++
				}
			}
			if delivered > deliveries {
				t.Fatalf("%d recipients delivered by %d delivery receipts: %+v", delivered, deliveries, got)
			}
			reversed := slices.Clone(list)
			slices.Reverse(reversed)
			again, _ := deriveOutcomes(stored, classifyReceipts(reversed, testCode, testMailbox, recipients).Own, at, giveUp)
			if fmt.Sprint(again) != fmt.Sprint(got) {
				t.Fatalf("the order of the list changed the outcomes:\n%+v\n%+v", got, again)
			}
			own := slices.DeleteFunc(slices.Clone(list), func(r client.Receipt) bool { return !client.ReceiptBelongsTo(r.Subject, testCode) })
			without, _ := deriveOutcomes(stored, classifyReceipts(own, testCode, testMailbox, recipients).Own, at, giveUp)
			if fmt.Sprint(without) != fmt.Sprint(got) {
				t.Fatalf("foreign receipts changed the outcomes:\n%+v\n%+v", got, without)
			}
		}
	})
}
