package client

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzReceiptList decodes arbitrary answers of GET /send/{code}, classifies every entry and asks which of a
// row's recipients it is about. It must never panic, keep one receipt per entry, and never name an
// addressee that is not one of the given recipients, nor one read from anything but the receipt text's
// addressee sentence or a recipient field that is not the sending mailbox.
func FuzzReceiptList(f *testing.F) {
	if fixture, err := os.ReadFile("testdata/send-code-200.json"); err == nil {
		f.Add(string(fixture), "mario@pec.example.it,"+exampleMailbox, exampleMailbox)
	}
	f.Add(exampleReceipts, "a@b.it", "")
	f.Add(`{"data":{"1":{"object":"CONSEGNA: x 2020082610003492","recipient":"a@b.it"},"0":null}}`, "a@b.it,c@d.it", "m@x.it")
	f.Add(`{"data":{"object":"CONSEGNA: x","message":"Ricevuta di avvenuta consegna del messaggio indirizzato a a@b.it"}}`, "A@B.it", "m@x.it")
	f.Add(`{"data":[{"date":1,"sender":[],"recipient":"\"Per conto di: a@b.it\" "}],"success":"1"}`, "a@b.it", "m@x.it")
	files, _ := filepath.Glob("testdata/receipts/*.txt")
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		subject, body, _ := strings.Cut(string(raw), "\n\n")
		entry, _ := json.Marshal(map[string]string{
			"sender": "posta-certificata@pecmassiva.com", "recipient": exampleMailbox,
			"data": "Wed, 26 Aug 2020 10:00:36 +0200", "object": subject, "message": body,
		})
		f.Add(`{"data":[`+string(entry)+`,`+string(entry)+`],"success":true,"message":""}`,
			"mario.rossi@pec.example.it,nessuno@invalid.sandbox.test,anna@pec.example.it", exampleMailbox)
	}
	f.Fuzz(func(t *testing.T, answer, recipientList, mailbox string) {
		rs, err := decodeReceipts([]byte(answer))
		if err != nil {
			if rs != nil || !errors.Is(err, errMalformed) {
				t.Fatalf("rs %v err %v", rs, err)
			}
			return
		}
		if want, exact := entryCount(t, answer); len(rs) < want || exact && len(rs) != want {
			t.Fatalf("%d receipts for %d entries", len(rs), want)
		}
		recipients := strings.Split(recipientList, ",")
		for _, r := range rs {
			if r.Raw == "" || !json.Valid([]byte(r.Raw)) {
				t.Fatalf("raw entry %q", r.Raw)
			}
			if !r.Date.IsZero() {
				if d, err := ParseDate(r.DateText); err != nil || !d.Equal(r.Date) {
					t.Fatalf("date %v from %q", r.Date, r.DateText)
				}
			}
			c := Classify(r.Subject, r.Body)
			if c.Addressee != "" && (!c.ReceiptText || c.WholeMessage) {
				t.Fatalf("addressee %q outside a receipt text's sentence: %+v", c.Addressee, c)
			}
			if c.Code != "" && !ReceiptBelongsTo(r.Subject, c.Code) {
				t.Fatalf("code %q read from %q, which does not belong to it", c.Code, r.Subject)
			}
			addr, named := c.AddresseeAmong(r, mailbox, recipients)
			if named != (addr != "") || named && !slices.Contains(recipients, addr) {
				t.Fatalf("AddresseeAmong = %q, %v for recipients %q", addr, named, recipients)
			}
			if named && CleanAddress(addr) != c.Addressee && CleanAddress(addr) != r.RecipientAddress() {
				t.Fatalf("addressee %q is named neither by the text (%q) nor by the field (%q)", addr, c.Addressee, r.Recipient)
			}
			// The sending mailbox in the recipient field names nobody.
			if addr, named := c.AddresseeAmong(r, r.Recipient, recipients); named && CleanAddress(addr) != c.Addressee {
				t.Fatalf("the mailbox in the recipient field named %q", addr)
			}
		}
	})
}

// entryCount counts the entries of an answer's data independently of the decoder: the length of an array,
// one for an object that is an entry, else the distinct keys of an object keyed by position (a repeated key
// is one more entry the count cannot see: exact is then false).
func entryCount(t *testing.T, answer string) (n int, exact bool) {
	var top struct{ Data any }
	if err := json.Unmarshal([]byte(strings.TrimPrefix(answer, "\uFEFF")), &top); err != nil {
		t.Fatalf("decoded an answer encoding/json refuses: %v", err)
	}
	switch d := top.Data.(type) {
	case []any:
		return len(d), true
	case map[string]any:
		for k := range d {
			if receiptFields[strings.ToLower(k)] {
				return 1, true
			}
		}
		return len(d), false
	}
	return 0, true
}
