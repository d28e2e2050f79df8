package client

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var knownKinds = map[Kind]bool{
	KindAcceptance: true, KindDelivery: true, KindNonDelivery: true, KindNonAcceptance: true, KindVirus: true,
	KindTimeoutWarning: true, KindTimeoutExpired: true, KindAnomaly: true, KindTransport: true,
	KindTakenInCharge: true, KindUnknown: true,
}

func FuzzClassify(f *testing.F) {
	for _, r := range prefixRules {
		f.Add(r.prefix+" Invio di prova 2020082610003492", "")
	}
	f.Add("AVVISO DI MANCATA CONSEGNA: x", "destinato all'utente \"a@b.it\"\nrilevato il seguente errore:\n5.4.1 - p")
	f.Add("consegna:", "indirizzato a <A@B.IT>")
	f.Add("", "rilevato il seguente errore:<br")
	if files, _ := filepath.Glob("testdata/receipts/*.txt"); len(files) > 0 {
		for _, file := range files {
			raw, _ := os.ReadFile(file)
			subject, body, _ := strings.Cut(string(raw), "\n\n")
			f.Add(subject, body)
		}
	}
	f.Fuzz(func(t *testing.T, subject, body string) {
		c := Classify(subject, body)
		if !knownKinds[c.Kind] {
			t.Fatalf("kind %q", c.Kind)
		}
		if c != Classify(subject, body) {
			t.Fatal("not deterministic")
		}
		if c.Kind != KindUnknown {
			// The kind comes from a prefix of the subject, never from inside it.
			trimmed := strings.TrimLeft(subject, " \t\r\n")
			matched := false
			for _, r := range prefixRules {
				if len(trimmed) >= len(r.prefix) && strings.EqualFold(trimmed[:len(r.prefix)], r.prefix) {
					matched = true
					break
				}
			}
			if !matched {
				t.Fatalf("kind %s without a prefix in %q", c.Kind, subject)
			}
		}
		if c.Kind == KindDelivery && strings.HasPrefix(strings.ToUpper(strings.TrimLeft(subject, " \t\r\n")), "AVVISO") {
			t.Fatalf("an AVVISO classified as a delivery: %q", subject)
		}
		if c.Code != "" && (!isDigits(c.Code) || !strings.HasSuffix(strings.TrimSpace(subject), c.Code)) {
			t.Fatalf("code %q from %q", c.Code, subject)
		}
		if !strings.Contains(subject, c.Subject) {
			t.Fatalf("subject %q is not part of %q", c.Subject, subject)
		}
		if c.Addressee != "" && (strings.Count(c.Addressee, "@") != 1 || strings.ContainsAny(c.Addressee, " \t\r\n\"<>")) {
			t.Fatalf("addressee %q", c.Addressee)
		}
		if strings.ContainsAny(c.ErrorText, "\r\n") || len(c.ErrorText) > maxMessageLen+3 {
			t.Fatalf("error text %q", c.ErrorText)
		}
	})
}

func FuzzDecodeSendAnswer(f *testing.F) {
	f.Add(201, okSend)
	f.Add(200, `{"success":"true","sent":"2","message_id":2020082610003492}`)
	f.Add(201, `{"success":true,"message_id":"550 5.1.1 user unknown"}`)
	f.Add(201, `{"success":false,"message":"no"}`)
	f.Add(201, `{"success":true,"message_id":"2020`)
	f.Add(400, `{"success":false,"message":"Post parameter is not valid"}`)
	f.Add(500, `{"success":false,"message":"MySQL Error 2006"}`)
	f.Add(302, ``)
	f.Add(201, `null`)
	f.Add(201, "\uFEFF"+okSend)
	c, err := NewClient("http://127.0.0.1:1", WithToken(testToken), WithCredentials(testUser, testPassword))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, status int, body string) {
		if status < 100 || status > 999 || status == http.StatusTooManyRequests {
			return // not an HTTP status; 429 is handled before decoding
		}
		res, err := c.decodeSendAnswer(&answer{status: status, header: http.Header{}, body: []byte(body)})
		if (res == nil) == (err == nil) {
			t.Fatalf("res %v err %v", res, err)
		}
		if err == nil {
			if status/100 != 2 || !plausibleCode(res.MessageID) {
				t.Fatalf("accepted %d %q as %+v", status, body, res)
			}
			return
		}
		if errors.Is(err, ErrNotSent) {
			t.Fatalf("an answer cannot be not-sent: %v", err)
		}
		_, isAPI := errors.AsType[*APIError](err)
		_, isAccount := errors.AsType[*AccountError](err)
		if !errors.Is(err, ErrAmbiguous) && !isAPI && !isAccount {
			t.Fatalf("unclassified error %v", err)
		}
		if status/100 == 5 && !errors.Is(err, ErrAmbiguous) {
			t.Fatalf("a 5xx must be ambiguous: %v", err)
		}
		if status/100 == 4 && errors.Is(err, ErrAmbiguous) {
			t.Fatalf("a 4xx must be a refusal: %v", err)
		}
		if strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), testPassword) {
			t.Fatalf("secret in %v", err)
		}
	})
}

func FuzzDecodeReceipts(f *testing.F) {
	f.Add(exampleReceipts)
	f.Add(`{"data":[{"date":"Wed, 26 Aug 2020 10:00:35 +0200","object":1}],"success":true}`)
	f.Add(`{"data":null}`)
	f.Add(`{"data":[{}]}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, body string) {
		rs, err := decodeReceipts([]byte(body))
		if err != nil {
			if rs != nil || !errors.Is(err, errMalformed) {
				t.Fatalf("rs %v err %v", rs, err)
			}
			return
		}
		for _, r := range rs {
			if d, perr := ParseDate(r.DateText); perr == nil && !d.Equal(r.Date) {
				t.Fatalf("date %q decoded as %v", r.DateText, r.Date)
			}
		}
	})
}

func FuzzDecodeInbox(f *testing.F) {
	f.Add(exampleInbox)
	f.Add(`{"data":[{"id":1e400}],"total":"x"}`)
	f.Add(`{"total":1e300,"page":-5,"n_of_pages":"7"}`)
	f.Fuzz(func(t *testing.T, body string) {
		p, err := decodeInbox([]byte(body))
		if err != nil {
			if p != nil || !errors.Is(err, errMalformed) {
				t.Fatalf("p %v err %v", p, err)
			}
			return
		}
		for _, e := range p.Entries {
			if strings.ContainsAny(e.ID, "eE.") {
				t.Fatalf("id %q is not an integer", e.ID)
			}
		}
	})
}

func FuzzParseDate(f *testing.F) {
	for _, s := range []string{
		"Wed, 26 Aug 2020 10:00:35 +0200", "26 Aug 2020 10:00:35 +0200", "Wed, 6 Aug 2020 10:00:35 +0200 (CEST)",
		"Wed,26 Aug 2020 10:00:35 CEST", "2020-08-26T10:00:35+02:00", "", "Wed, 26 Aug 2020 10:00 CET",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDate(s)
		if err != nil {
			if !d.IsZero() {
				t.Fatalf("error with a date: %v", d)
			}
			return
		}
		// A parsed date survives a round trip through its canonical RFC 2822 form.
		again, err := ParseDate(d.Format(time.RFC1123Z))
		if d.Year() >= 0 && d.Year() <= 9999 && (err != nil || !again.Equal(d.Truncate(time.Second))) {
			t.Fatalf("%q: %v, then %v %v", s, d, again, err)
		}
	})
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"1", "120", "Wed, 26 Aug 2020 10:00:30 GMT", "-1", "", "1e3"} {
		f.Add(s)
	}
	now := time.Date(2020, 8, 26, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseRetryAfter(s, now)
		if d < 0 || (!ok && d != 0) {
			t.Fatalf("%q: %v %v", s, d, ok)
		}
	})
}
