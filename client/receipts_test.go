package client

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
)

const (
	exampleCode    = "2020082610003492"
	exampleMailbox = "dev-api@pecmassiva.com"
)

// readDocumentedReceipts returns the 200 example of GET /send/{code}, as copied verbatim into testdata, after
// checking that it is still the example of the project's contract.
func readDocumentedReceipts(t *testing.T) []byte {
	t.Helper()
	fixture, err := os.ReadFile("testdata/send-code-200.json")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := os.ReadFile("testdata/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct {
				Content map[string]struct {
					Example any `json:"example"`
				} `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(spec, &doc); err != nil {
		t.Fatal(err)
	}
	var got any
	if err := json.Unmarshal(fixture, &got); err != nil {
		t.Fatal(err)
	}
	want := doc.Paths["/send/{code}"]["get"].Responses["200"].Content["application/json"].Example
	if want == nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("testdata/send-code-200.json is not the 200 example of GET /send/{code} in testdata/openapi.json")
	}
	return fixture
}

// TestDocumentedReceiptsExample fetches the provider's documented answer through the client and checks what
// each entry proves: nothing about any addressee.
func TestDocumentedReceiptsExample(t *testing.T) {
	answer := readDocumentedReceipts(t)
	c, _, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { jsonAnswer(w, 200, string(answer)) })
	rs, err := c.Receipts(context.Background(), exampleCode)
	if err != nil {
		t.Fatal(err)
	}
	recipients := []string{"mario.rossi@pec.example.it", "anna.bianchi@pec.example.it", exampleMailbox}
	tests := []struct {
		kind  Kind
		whole bool
		body  string
	}{
		{KindAcceptance, true, ""},
		{KindTransport, false, "Salve, questa email \ufffd una prova di invio, che prevede un corpo in html"},
		{KindDelivery, false, "Salve, questa email \ufffd una prova di invio, che prevede un corpo in html"},
	}
	if len(rs) != len(tests) {
		t.Fatalf("%d receipts, want %d", len(rs), len(tests))
	}
	for i, tt := range tests {
		r := rs[i]
		t.Run(string(tt.kind), func(t *testing.T) {
			cl := Classify(r.Subject, r.Body)
			if cl.Kind != tt.kind || cl.WholeMessage != tt.whole || r.Body != tt.body {
				t.Errorf("kind %s whole %v body %q, want %s %v %q", cl.Kind, cl.WholeMessage, r.Body, tt.kind, tt.whole, tt.body)
			}
			if cl.Subject != "Invio di prova pec massiva" || cl.Code != exampleCode || r.Date.IsZero() {
				t.Errorf("subject %q code %q date %v", cl.Subject, cl.Code, r.Date)
			}
			if cl.Addressee != "" || cl.ReceiptText || cl.ErrorText != "" {
				t.Errorf("the documented entry names %q (receipt text %v, error %q)", cl.Addressee, cl.ReceiptText, cl.ErrorText)
			}
			if r.RecipientAddress() != exampleMailbox {
				t.Errorf("recipient field %q cleans to %q, want the sending mailbox", r.Recipient, r.RecipientAddress())
			}
			for _, mailbox := range []string{exampleMailbox, `"` + exampleMailbox + `" `, ""} {
				if a, ok := cl.AddresseeAmong(r, mailbox, recipients); ok || a != "" {
					t.Errorf("AddresseeAmong(mailbox %q) = %q, %v: the entry names no addressee", mailbox, a, ok)
				}
			}
			if !ReceiptBelongsTo(r.Subject, exampleCode) {
				t.Errorf("%q does not belong to %s", r.Subject, exampleCode)
			}
			if ReceiptBelongsTo(r.Subject, exampleCode[:len(exampleCode)-1]) {
				t.Errorf("%q belongs to %s", r.Subject, exampleCode[:len(exampleCode)-1])
			}
			if !strings.Contains(r.Raw, `"object":`) || !json.Valid([]byte(r.Raw)) {
				t.Errorf("raw entry %q", r.Raw)
			}
		})
	}
	if rs[1].SenderAddress() != exampleMailbox || rs[0].SenderAddress() != "posta-certificata@pecmassiva.com" {
		t.Errorf("senders clean to %q and %q", rs[0].SenderAddress(), rs[1].SenderAddress())
	}
}

func TestAddresseeAmong(t *testing.T) {
	const (
		a       = "a@pec.example.it"
		b       = "b@pec.example.it"
		subject = "Avviso di pagamento"
	)
	deliveryText := func(addr string) string {
		return "Ricevuta di avvenuta consegna del messaggio indirizzato a " + addr + " (\"posta certificata\")\n\n" +
			"Il giorno 26/08/2020 alle ore 10:00:36 (+0200) il messaggio\n\"" + subject + "\" proveniente da \"" + exampleMailbox +
			"\"\ned indirizzato a \"" + addr + "\"\n\ufffd stato consegnato nella casella di destinazione."
	}
	nonDeliveryText := func(addr string) string {
		return "Avviso di mancata consegna del messaggio\n\nIl giorno 26/08/2020 nel messaggio \"" + subject +
			"\" proveniente da \"" + exampleMailbox + "\"\ne destinato all'utente \"" + addr +
			"\"\n\ufffd stato rilevato il seguente errore:\n5.1.1 - p - indirizzo non valido"
	}
	receipt := func(prefix, recipient, body string) Receipt {
		return Receipt{Sender: "posta-certificata@pecmassiva.com", Recipient: recipient, Subject: prefix + subject + " " + exampleCode, Body: body}
	}
	recipients := []string{" A@PEC.example.it", b}
	tests := []struct {
		name       string
		r          Receipt
		mailbox    string
		recipients []string
		want       string
	}{
		{"delivery text names a recipient", receipt("CONSEGNA: ", exampleMailbox, deliveryText(b)), exampleMailbox, recipients, b},
		{"answers the caller's spelling", receipt("CONSEGNA: ", exampleMailbox, deliveryText(a)), exampleMailbox, recipients, " A@PEC.example.it"},
		{"non-delivery text names a recipient", receipt("AVVISO DI MANCATA CONSEGNA: ", exampleMailbox, nonDeliveryText(b)), exampleMailbox, recipients, b},
		{"time-limit notice", receipt("AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO: ", exampleMailbox, nonDeliveryText(a)), exampleMailbox, recipients, recipients[0]},
		{"text names an address that is not a recipient", receipt("CONSEGNA: ", exampleMailbox, deliveryText("c@pec.example.it")), exampleMailbox, recipients, ""},
		{"original mail mentioning a recipient", receipt("CONSEGNA: ", exampleMailbox,
			"Gentile ufficio, l'atto indirizzato a ufficio.legale@example.it \ufffd in allegato."), exampleMailbox,
			[]string{"ufficio.legale@example.it", b}, ""},
		{"original mail starting with another receipt's heading", receipt("CONSEGNA: ", exampleMailbox, nonDeliveryText(b)), exampleMailbox, recipients, ""},
		{"recipient field naming a recipient", receipt("CONSEGNA: ", `"B@pec.example.it" `, "Salve"), exampleMailbox, recipients, b},
		{"recipient field that is the sending mailbox", receipt("CONSEGNA: ", exampleMailbox, "Salve"), exampleMailbox, []string{exampleMailbox, b}, ""},
		{"recipient field unusable without the mailbox", receipt("CONSEGNA: ", b, "Salve"), "", recipients, ""},
		{"text and field agree", receipt("CONSEGNA: ", b, deliveryText(b)), exampleMailbox, recipients, b},
		{"text and field disagree", receipt("CONSEGNA: ", b, deliveryText(a)), exampleMailbox, recipients, ""},
		{"acceptance concerns the whole message", receipt("ACCETTAZIONE: ", b,
			"Ricevuta di accettazione del messaggio indirizzato a "+b), exampleMailbox, recipients, ""},
		{"non-acceptance concerns the whole message", receipt("AVVISO DI NON ACCETTAZIONE: ", b, ""), exampleMailbox, recipients, ""},
		{"transport envelope changes nothing", receipt("POSTA CERTIFICATA: ", b, ""), exampleMailbox, recipients, ""},
		{"unknown changes nothing", receipt("", b, deliveryText(b)), exampleMailbox, recipients, ""},
		{"no recipients", receipt("CONSEGNA: ", exampleMailbox, deliveryText(b)), exampleMailbox, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := Classify(tt.r.Subject, tt.r.Body)
			got, ok := cl.AddresseeAmong(tt.r, tt.mailbox, tt.recipients)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("AddresseeAmong = %q, %v, want %q (classified %+v)", got, ok, tt.want, cl)
			}
		})
	}
}

func TestReceiptBelongsTo(t *testing.T) {
	const code = exampleCode
	tests := []struct {
		subject, code string
		want          bool
	}{
		{"CONSEGNA: Invio di prova " + code, code, true},
		{"CONSEGNA: Invio di prova " + code + " \r\n", code, true},
		{"ACCETTAZIONE: " + code, code, true},
		{"CONSEGNA: Invio di prova " + code + "7", code, false},
		{"CONSEGNA: Invio di prova " + code, code + "7", false},
		{"CONSEGNA: Invio di prova " + code, code[:len(code)-1], false},
		{"CONSEGNA: Invio di prova " + code, code[4:], false},
		{"CONSEGNA: Invio di prova x" + code, code, false},
		{"CONSEGNA: Invio di prova\t" + code, code, false},
		{"CONSEGNA:" + code, code, false},
		{"CONSEGNA: " + code + " Invio di prova", code, false},
		{"CONSEGNA: Invio di prova " + code, "", false},
		{"CONSEGNA: Invio di prova " + code, " " + code, false},
		{"", code, false},
	}
	for _, tt := range tests {
		t.Run(tt.subject+"/"+tt.code, func(t *testing.T) {
			if got := ReceiptBelongsTo(tt.subject, tt.code); got != tt.want {
				t.Errorf("ReceiptBelongsTo = %v, want %v", got, tt.want)
			}
			// Classify reads the same code out of the subject, and no other.
			if c := Classify(tt.subject, ""); (c.Code == tt.code) != tt.want {
				t.Errorf("Classify reads code %q, ReceiptBelongsTo says %v", c.Code, tt.want)
			}
		})
	}
}

func TestCleanAddress(t *testing.T) {
	tests := []struct{ field, want string }{
		{"dev-api@pecmassiva.com", "dev-api@pecmassiva.com"},
		{`"dev-api@pecmassiva.com" `, "dev-api@pecmassiva.com"},
		{`"Per conto di: Dev-API@pecmassiva.com" `, "dev-api@pecmassiva.com"},
		{"per conto di:a@b.it", "a@b.it"},
		{`"Per conto di: a@b.it" <posta-certificata@pec.example.it>`, "posta-certificata@pec.example.it"},
		{"Mario Rossi <Mario@PEC.it>", "mario@pec.it"},
		{"\u201ca@b.it\u201d", "a@b.it"},
		{"", ""},
		{`""`, ""},
		{"Per conto di:", ""},
		{"a@b.it, c@d.it", ""},
		{"a@b@c", ""},
		{"nobody", ""},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			if got := CleanAddress(tt.field); got != tt.want {
				t.Errorf("CleanAddress(%q) = %q, want %q", tt.field, got, tt.want)
			}
		})
	}
}

// TestDecodeReceiptForms decodes the forms the contract leaves open: every entry is kept, in order, with its
// raw text.
func TestDecodeReceiptForms(t *testing.T) {
	const (
		date     = "Wed, 26 Aug 2020 10:00:36 +0200"
		delivery = `{"sender":"posta-certificata@pecmassiva.com","recipient":"dev-api@pecmassiva.com","data":"` + date +
			`","object":"CONSEGNA: Invio ` + exampleCode + `","message":"Salve"}`
	)
	type want struct {
		subject, dateText, sender, recipient, body string
		dated                                      bool
	}
	consegna := want{subject: "CONSEGNA: Invio " + exampleCode, dateText: date, sender: "posta-certificata@pecmassiva.com",
		recipient: "dev-api@pecmassiva.com", body: "Salve", dated: true}
	tests := []struct {
		name   string
		answer string
		want   []want
		raws   []string // when set, the Raw of each entry
	}{
		{"null data", `{"data":null,"success":true,"message":""}`, nil, nil},
		{"no data", `{"success":true,"message":""}`, nil, nil},
		{"empty array", `{"data":[],"success":true,"message":""}`, nil, nil},
		{"empty object", `{"data":{},"success":true}`, nil, nil},
		{"empty string", `{"data":"","success":true}`, nil, nil},
		{"false", `{"data":false,"success":true}`, nil, nil},
		{"n identical deliveries stay n", `{"data":[` + delivery + `,` + delivery + `,` + delivery + `],"success":true}`,
			[]want{consegna, consegna, consegna}, []string{delivery, delivery, delivery}},
		{"date instead of data", `{"data":[{"date":"` + date + `","object":"x"}]}`,
			[]want{{subject: "x", dateText: date, dated: true}}, nil},
		{"data not a date, date a date", `{"data":[{"data":"ieri","date":"` + date + `"}]}`,
			[]want{{dateText: date, dated: true}}, nil},
		{"unreadable date kept as text", `{"data":[{"data":"ieri"}]}`, []want{{dateText: "ieri"}}, nil},
		{"object keyed by position", `{"data":{"10":{"object":"c"},"2":{"object":"b"},"0":{"object":"a"}}}`,
			[]want{{subject: "a"}, {subject: "b"}, {subject: "c"}}, []string{`{"object":"a"}`, `{"object":"b"}`, `{"object":"c"}`}},
		{"object keyed by position, a key repeated", `{"data":{"0":{"object":"a"},"0":{"object":"a"}}}`,
			[]want{{subject: "a"}, {subject: "a"}}, nil},
		{"one entry as an object", `{"data":` + delivery + `}`, []want{consegna}, []string{delivery}},
		{"missing fields", `{"data":[{},{"object":"CONSEGNA: x"}]}`, []want{{}, {subject: "CONSEGNA: x"}}, []string{`{}`, `{"object":"CONSEGNA: x"}`}},
		{"fields of other types", `{"data":[{"sender":{"a":1},"recipient":["x"],"object":12345678901234567890,"message":true,"data":null}]}`,
			[]want{{subject: "12345678901234567890", body: "true"}}, nil},
		{"entries that are not objects", `{"data":[null,"x",3]}`, []want{{}, {}, {}}, []string{"null", `"x"`, "3"}},
		{"upper-case keys", `{"data":[{"Object":"CONSEGNA: x","SENDER":"s@x.it"}]}`, []want{{subject: "CONSEGNA: x", sender: "s@x.it"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := decodeReceipts([]byte(tt.answer))
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != len(tt.want) || (len(tt.want) == 0 && rs != nil) {
				t.Fatalf("%d receipts %+v, want %d", len(rs), rs, len(tt.want))
			}
			for i, w := range tt.want {
				r := rs[i]
				got := want{r.Subject, r.DateText, r.Sender, r.Recipient, r.Body, !r.Date.IsZero()}
				if got != w {
					t.Errorf("entry %d: %+v, want %+v", i, got, w)
				}
				if r.Raw == "" || (tt.raws != nil && r.Raw != tt.raws[i]) {
					t.Errorf("entry %d: raw %q", i, r.Raw)
				}
			}
		})
	}
}

func TestDecodeReceiptsRefusesWhatIsNoList(t *testing.T) {
	for _, answer := range []string{`{"data":"nope"}`, `{"data":42}`, `{"data":true}`, `{"data":[`, `[]`} {
		t.Run(answer, func(t *testing.T) {
			if rs, err := decodeReceipts([]byte(answer)); err == nil {
				t.Fatalf("decoded %+v", rs)
			}
		})
	}
}
