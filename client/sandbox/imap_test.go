package sandbox_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset"
	"github.com/smallstep/pkcs7"

	"github.com/pecbatch/pecbatch/client/sandbox"
)

// imapSide serves h's sandbox over IMAP on a free loopback port and returns
// its address and a pool trusting the sandbox's CA.
func (h *harness) imapSide() (string, *x509.CertPool) {
	h.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- h.sb.ServeIMAP(ln) }()
	h.t.Cleanup(func() {
		if err := h.sb.CloseIMAP(); err != nil {
			h.t.Error(err)
		}
		if err := <-served; err != nil {
			h.t.Errorf("ServeIMAP after CloseIMAP: %v", err)
		}
	})
	ca, err := h.sb.CACertificate()
	if err != nil {
		h.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return ln.Addr().String(), pool
}

// dialIMAP connects over TLS trusting pool and logs in.
func dialIMAP(t *testing.T, addr string, pool *x509.CertPool, username, password string) (*imapclient.Client, error) {
	t.Helper()
	c, err := imapclient.DialTLS(addr, &imapclient.Options{TLSConfig: &tls.Config{RootCAs: pool}})
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c, c.Login(username, password).Wait()
}

// imapReceipt is one INBOX message, taken apart by the test's own reading
// of the PEC standard.
type imapReceipt struct {
	uid       imap.UID
	raw       []byte
	header    message.Header
	subject   string
	signed    []byte // the first part of multipart/signed, as signed
	signature []byte
	text      string
	daticert  []byte
	postacert []byte
}

// testDaticert is daticert.xml as the test reads it.
type testDaticert struct {
	Tipo         string `xml:"tipo,attr"`
	Errore       string `xml:"errore,attr"`
	Intestazione struct {
		Mittente    string `xml:"mittente"`
		Destinatari []struct {
			Tipo string `xml:"tipo,attr"`
			Addr string `xml:",chardata"`
		} `xml:"destinatari"`
		Oggetto string `xml:"oggetto"`
	} `xml:"intestazione"`
	Dati struct {
		Gestore string `xml:"gestore-emittente"`
		Data    struct {
			Zona   string `xml:"zona,attr"`
			Giorno string `xml:"giorno"`
			Ora    string `xml:"ora"`
		} `xml:"data"`
		Identificativo string `xml:"identificativo"`
		Msgid          string `xml:"msgid"`
		Ricevuta       *struct {
			Tipo string `xml:"tipo,attr"`
		} `xml:"ricevuta"`
		Consegna     string `xml:"consegna"`
		ErroreEsteso string `xml:"errore-esteso"`
	} `xml:"dati"`
}

func (r *imapReceipt) dc(t *testing.T) testDaticert {
	t.Helper()
	var d testDaticert
	if err := xml.Unmarshal(r.daticert, &d); err != nil {
		t.Fatalf("%s: daticert.xml: %v\n%s", r.subject, err, r.daticert)
	}
	return d
}

// fetchAll selects INBOX and fetches every message whole, with PEEK.
func fetchAll(t *testing.T, c *imapclient.Client) []*imapReceipt {
	t.Helper()
	got, _ := fetchAllSelected(t, c)
	return got
}

// fetchAllSelected is fetchAll that also returns the SELECT's answer.
func fetchAllSelected(t *testing.T, c *imapclient.Client) ([]*imapReceipt, *imap.SelectData) {
	t.Helper()
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatalf("SELECT: %v", err)
	}
	if sel.NumMessages == 0 {
		return nil, sel
	}
	section := &imap.FetchItemBodySection{Peek: true}
	var all imap.SeqSet
	all.AddRange(1, 0) // 1:*
	msgs, err := c.Fetch(all, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		t.Fatalf("FETCH: %v", err)
	}
	out := make([]*imapReceipt, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, parseReceipt(t, m.UID, m.FindBodySection(section)))
	}
	return out, sel
}

// parseReceipt reads a receipt: headers and parts with go-message, the
// signed content as the raw bytes between the first two boundaries (RFC
// 1847: the CRLF before a boundary belongs to the boundary).
func parseReceipt(t *testing.T, uid imap.UID, raw []byte) *imapReceipt {
	t.Helper()
	r := &imapReceipt{uid: uid, raw: raw}
	ent, err := message.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("UID %d: %v", uid, err)
	}
	r.header = ent.Header
	dec := mime.WordDecoder{}
	if r.subject, err = dec.DecodeHeader(ent.Header.Get("Subject")); err != nil {
		t.Fatal(err)
	}
	ct, params, err := ent.Header.ContentType()
	if err != nil || ct != "multipart/signed" || params["protocol"] != "application/pkcs7-signature" || params["micalg"] != "sha-256" {
		t.Fatalf("%s: Content-Type %s %v (%v)", r.subject, ct, params, err)
	}
	delim := []byte("\r\n--" + params["boundary"] + "\r\n")
	first := bytes.Index(raw, delim)
	if first < 0 {
		t.Fatalf("%s: no first boundary", r.subject)
	}
	rest := raw[first+len(delim):]
	second := bytes.Index(rest, delim)
	if second < 0 {
		t.Fatalf("%s: no second boundary", r.subject)
	}
	r.signed = rest[:second]

	mr := ent.MultipartReader()
	content, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	walkParts(t, r, content)
	sig, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	if ct, _, _ := sig.Header.ContentType(); ct != "application/pkcs7-signature" {
		t.Fatalf("%s: second part %s", r.subject, ct)
	}
	if r.signature, err = io.ReadAll(sig.Body); err != nil {
		t.Fatal(err)
	}
	return r
}

func walkParts(t *testing.T, r *imapReceipt, e *message.Entity) {
	t.Helper()
	ct, params, _ := e.Header.ContentType()
	if mr := e.MultipartReader(); mr != nil {
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			walkParts(t, r, p)
		}
	}
	body, err := io.ReadAll(e.Body)
	if err != nil {
		t.Fatal(err)
	}
	_, disp, _ := e.Header.ContentDisposition()
	switch {
	case ct == "text/plain":
		r.text = string(body)
	case ct == "application/xml" && disp["filename"] == "daticert.xml":
		r.daticert = body
	case ct == "message/rfc822" && params["name"] == "postacert.eml":
		r.postacert = body
	}
}

// verify checks the detached signature against the CA.
func (r *imapReceipt) verify(pool *x509.CertPool) (*x509.Certificate, error) {
	p7, err := pkcs7.Parse(r.signature)
	if err != nil {
		return nil, err
	}
	p7.Content = r.signed
	if err := p7.VerifyWithChain(pool); err != nil {
		return nil, err
	}
	return p7.GetOnlySigner(), nil
}

// headerOf names what a receipt's PEC header should say for its subject.
func headerOf(subject string) (field, value string) {
	for _, p := range []struct{ prefix, field, value string }{
		{"ACCETTAZIONE:", "X-Ricevuta", "accettazione"},
		{"CONSEGNA:", "X-Ricevuta", "avvenuta-consegna"},
		{"AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO:", "X-Ricevuta", ""}, // warning or final: checked apart
		{"AVVISO DI MANCATA CONSEGNA PER VIRUS:", "X-Ricevuta", "errore-consegna"},
		{"AVVISO DI MANCATA CONSEGNA:", "X-Ricevuta", "errore-consegna"},
		{"AVVISO DI NON ACCETTAZIONE PER VIRUS:", "X-Ricevuta", "non-accettazione"},
		{"AVVISO DI NON ACCETTAZIONE:", "X-Ricevuta", "non-accettazione"},
		{"PRESA IN CARICO:", "X-Ricevuta", "presa-in-carico"},
		{"PROBLEMA DI SICUREZZA:", "X-Ricevuta", "rilevazione-virus"},
		{"ANOMALIA MESSAGGIO:", "X-Trasporto", "errore"},
		{"POSTA CERTIFICATA:", "X-Trasporto", "posta-certificata"},
	} {
		if strings.HasPrefix(subject, p.prefix) {
			return p.field, p.value
		}
	}
	return "", ""
}

func TestIMAPLogin(t *testing.T) {
	h := newHarness(t, nil)
	addr, pool := h.imapSide()
	for _, tc := range []struct {
		name, username, password string
		fault                    sandbox.Fault
		ok                       bool
	}{
		{"right credentials", h.opts.Username, h.opts.Password, sandbox.FaultNone, true},
		{"wrong password", h.opts.Username, "nope", sandbox.FaultNone, false},
		{"wrong username", "other@pec.sandbox.test", h.opts.Password, sandbox.FaultNone, false},
		{"imap-login fault", h.opts.Username, h.opts.Password, sandbox.FaultIMAPLogin, false},
		{"fault lifted", h.opts.Username, h.opts.Password, sandbox.FaultNone, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.sb.SetFault(tc.fault)
			_, err := dialIMAP(t, addr, pool, tc.username, tc.password)
			if (err == nil) != tc.ok {
				t.Fatalf("login error %v, want success %v", err, tc.ok)
			}
		})
	}
	t.Run("untrusted CA", func(t *testing.T) {
		c, err := imapclient.DialTLS(addr, &imapclient.Options{TLSConfig: &tls.Config{RootCAs: x509.NewCertPool()}})
		if err == nil {
			err = c.Login(h.opts.Username, h.opts.Password).Wait()
			c.Close()
		}
		if err == nil {
			t.Fatal("a client trusting nothing logged in")
		}
	})
}

func TestIMAPFaultParses(t *testing.T) {
	f, err := sandbox.ParseFault("IMAP-LOGIN")
	if err != nil || f != sandbox.FaultIMAPLogin {
		t.Fatalf("ParseFault = %q, %v", f, err)
	}
}

func TestCAPEMEndpoint(t *testing.T) {
	h := newHarness(t, nil)
	resp, err := http.Get(h.srv.URL + "/_sandbox/ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	want, err := h.sb.CAPEM()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, want) || !bytes.HasPrefix(got, []byte("-----BEGIN CERTIFICATE-----")) {
		t.Fatalf("GET /_sandbox/ca.pem: %d %q, want the CA PEM", resp.StatusCode, got)
	}
	ca, err := h.sb.CACertificate()
	if err != nil {
		t.Fatal(err)
	}
	if !ca.IsCA || ca.PublicKeyAlgorithm != x509.RSA || ca.SignatureAlgorithm != x509.SHA256WithRSA {
		t.Fatalf("CA: IsCA %v, key %v, signature %v", ca.IsCA, ca.PublicKeyAlgorithm, ca.SignatureAlgorithm)
	}
}

// TestIMAPMatchesREST sends to every magic domain in every receipt style
// and checks that INBOX holds one message per mailbox message of the REST
// API (GET /inbox), with the same subject and date, that every entry of
// GET /send/{code} is one of them, and that every message is a signed PEC
// receipt of the kind its subject says.
func TestIMAPMatchesREST(t *testing.T) {
	domains := []string{"pec.example.it", sandbox.DomainInvalid, sandbox.DomainFull, sandbox.DomainSlow,
		sandbox.DomainExpire, sandbox.DomainOrdinary, sandbox.DomainVirus, sandbox.DomainReject,
		sandbox.DomainCharge, sandbox.DomainInfected, sandbox.DomainAnomaly, sandbox.DomainSecurity,
		sandbox.DomainDuplicate, sandbox.DomainUnsorted, sandbox.DomainForeign,
		sandbox.DomainBadSignature, sandbox.DomainMismatch}
	for _, style := range sandbox.ReceiptStyles {
		t.Run(string(style), func(t *testing.T) {
			h := newHarness(t, func(o *sandbox.Options) { o.Receipts = style; o.Seed = 3 })
			addr, pool := h.imapSide()
			var codes []string
			for _, d := range domains {
				codes = append(codes, h.mustSend("mario@"+d, "Prova "+d))
			}
			// The sender among the recipients: a POSTA CERTIFICATA envelope.
			codes = append(codes, h.mustSend([]string{"anna@pec.example.it", testSender}, "Prova copia"))
			c, err := dialIMAP(t, addr, pool, h.opts.Username, h.opts.Password)
			if err != nil {
				t.Fatal(err)
			}
			// Halfway: only what has arrived is there.
			h.advanceTo(h.opts.AcceptDelay)
			if got, want := len(fetchAll(t, c)), h.inbox("").Total; got != want {
				t.Fatalf("after the acceptance delay: %d IMAP messages, REST inbox %d", got, want)
			}
			h.advanceTo(h.opts.ExpireAfter + time.Hour)
			got := fetchAll(t, c)

			type key struct{ subject, date string }
			imapKeys := map[key]int{}
			for _, r := range got {
				imapKeys[key{r.subject, r.header.Get("Date")}]++
				checkReceipt(t, r, pool)
			}
			restKeys := map[key]int{}
			for page := 1; ; page++ {
				p := h.inbox("?page=" + strconv.Itoa(page))
				for _, e := range p.Data {
					restKeys[key{e.Object, e.Date}]++
				}
				if page >= p.NOfPages {
					break
				}
			}
			if len(got) != sumCounts(restKeys) {
				t.Errorf("%d IMAP messages, REST inbox %d", len(got), sumCounts(restKeys))
			}
			for k, n := range restKeys {
				if imapKeys[k] != n {
					t.Errorf("REST inbox has %d of %q at %s, IMAP %d", n, k.subject, k.date, imapKeys[k])
				}
			}
			for _, code := range codes {
				for _, e := range h.receipts(code) {
					if imapKeys[key{e.Object, e.Data}] == 0 {
						t.Errorf("GET /send/%s lists %q at %s: not in INBOX", code, e.Object, e.Data)
					}
				}
			}
		})
	}
}

func sumCounts[K comparable](m map[K]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// checkReceipt checks what every receipt has: headers, signature (but for
// the badsig fault), daticert agreeing with the subject (but for the
// mismatch fault and the anomaly envelope, which has none).
func checkReceipt(t *testing.T, r *imapReceipt, pool *x509.CertPool) {
	t.Helper()
	if from, err := mail.ParseAddress(r.header.Get("From")); err != nil || from.Address != sandbox.ReceiptSender {
		t.Errorf("%s: From %q (%v)", r.subject, r.header.Get("From"), err)
	}
	if r.header.Get("Message-ID") == "" || r.header.Get("X-Riferimento-Message-ID") == "" {
		t.Errorf("%s: Message-ID %q, X-Riferimento-Message-ID %q", r.subject, r.header.Get("Message-ID"), r.header.Get("X-Riferimento-Message-ID"))
	}
	field, value := headerOf(r.subject)
	if field == "" {
		t.Fatalf("%s: unknown kind", r.subject)
	}
	if got := r.header.Get(field); got == "" || value != "" && got != value {
		t.Errorf("%s: %s %q, want %q", r.subject, field, got, value)
	}
	badSig := strings.HasPrefix(r.subject, "CONSEGNA:") && strings.Contains(r.subject, sandbox.DomainBadSignature)
	signer, err := r.verify(pool)
	if badSig {
		if err == nil {
			t.Errorf("%s: a broken signature verified", r.subject)
		}
	} else if err != nil {
		t.Errorf("%s: signature: %v", r.subject, err)
	} else if !slices.Contains(signer.EmailAddresses, sandbox.ReceiptSender) {
		t.Errorf("%s: signed by %v", r.subject, signer.EmailAddresses)
	}
	if field == "X-Trasporto" && value == "errore" {
		if r.daticert != nil {
			t.Errorf("%s: a busta di anomalia with a daticert.xml", r.subject)
		}
		return
	}
	d := r.dc(t)
	_, after, _ := strings.Cut(r.subject, ": ")
	mismatch := strings.HasPrefix(r.subject, "CONSEGNA:") && strings.Contains(r.subject, sandbox.DomainMismatch)
	if mismatch {
		if d.Intestazione.Oggetto == after || d.Tipo == "avvenuta-consegna" {
			t.Errorf("%s: the mismatch fault's daticert agrees: %s %q", r.subject, d.Tipo, d.Intestazione.Oggetto)
		}
		return
	}
	if d.Intestazione.Oggetto != after {
		t.Errorf("%s: daticert oggetto %q", r.subject, d.Intestazione.Oggetto)
	}
	if field == "X-Ricevuta" && d.Tipo != r.header.Get("X-Ricevuta") || field == "X-Trasporto" && d.Tipo != "posta-certificata" {
		t.Errorf("%s: daticert tipo %q", r.subject, d.Tipo)
	}
	date, err := time.Parse(time.RFC1123Z, r.header.Get("Date"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Dati.Data.Giorno != date.Format("02/01/2006") || d.Dati.Data.Ora != date.Format("15:04:05") || d.Dati.Data.Zona != date.Format("-0700") {
		t.Errorf("%s: daticert data %+v, Date %s", r.subject, d.Dati.Data, date)
	}
	if d.Dati.Msgid != "<"+d.Dati.Identificativo+">" || r.header.Get("X-Riferimento-Message-ID") != d.Dati.Msgid {
		t.Errorf("%s: msgid %q, identificativo %q, X-Riferimento-Message-ID %q", r.subject, d.Dati.Msgid, d.Dati.Identificativo, r.header.Get("X-Riferimento-Message-ID"))
	}
	if d.Intestazione.Mittente != testSender {
		t.Errorf("%s: mittente %q", r.subject, d.Intestazione.Mittente)
	}
	if d.Tipo == "avvenuta-consegna" {
		if d.Dati.Ricevuta == nil || d.Dati.Ricevuta.Tipo != "completa" || r.postacert == nil || d.Dati.Consegna == "" {
			t.Errorf("%s: CONSEGNA without ricevuta completa, postacert.eml or consegna", r.subject)
		}
	}
}

// TestIMAPDaticertConsegna: a multi-recipient send names each addressee in
// exactly one CONSEGNA (or non-delivery), in every receipt style, even the
// documented one whose REST summaries cannot say it.
func TestIMAPDaticertConsegna(t *testing.T) {
	recipients := []string{"anna@pec.example.it", "bruno@pec.example.it", "carla@" + sandbox.DomainCharge,
		"dario@" + sandbox.DomainInvalid, "elena@" + sandbox.DomainOrdinary}
	for _, style := range []sandbox.ReceiptStyle{sandbox.StyleDocumented, sandbox.StylePEC} {
		t.Run(string(style), func(t *testing.T) {
			h := newHarness(t, func(o *sandbox.Options) { o.Receipts = style })
			addr, pool := h.imapSide()
			code := h.mustSend(recipients, testSubject)
			h.advanceTo(h.opts.DeliverDelay)
			c, err := dialIMAP(t, addr, pool, h.opts.Username, h.opts.Password)
			if err != nil {
				t.Fatal(err)
			}
			delivered, failed := map[string]int{}, map[string]int{}
			var accepted int
			for _, r := range fetchAll(t, c) {
				checkReceipt(t, r, pool)
				d := r.dc(t)
				if d.Intestazione.Oggetto != testSubject+" "+code {
					t.Errorf("oggetto %q", d.Intestazione.Oggetto)
				}
				for _, dest := range d.Intestazione.Destinatari {
					want := "certificato"
					if strings.HasSuffix(dest.Addr, sandbox.DomainOrdinary) {
						want = "esterno"
					}
					if dest.Tipo != want {
						t.Errorf("%s: destinatari %s tipo %q, want %q", r.subject, dest.Addr, dest.Tipo, want)
					}
				}
				if len(d.Intestazione.Destinatari) != len(recipients) {
					t.Errorf("%s: %d destinatari", r.subject, len(d.Intestazione.Destinatari))
				}
				switch d.Tipo {
				case "accettazione":
					accepted++
					if d.Dati.Consegna != "" {
						t.Errorf("acceptance names consegna %q", d.Dati.Consegna)
					}
				case "avvenuta-consegna":
					delivered[d.Dati.Consegna]++
					if !strings.Contains(r.text, d.Dati.Consegna) {
						t.Errorf("CONSEGNA text does not name %s:\n%s", d.Dati.Consegna, r.text)
					}
					checkPostacert(t, r.postacert, code)
				case "errore-consegna":
					failed[d.Dati.Consegna]++
					if d.Errore != "no-dest" || !strings.HasPrefix(d.Dati.ErroreEsteso, "5.1.1") {
						t.Errorf("non-delivery errore %q, esteso %q", d.Errore, d.Dati.ErroreEsteso)
					}
				}
			}
			wantDelivered := map[string]int{recipients[0]: 1, recipients[1]: 1, recipients[2]: 1}
			if accepted != 1 || !mapsEqual(delivered, wantDelivered) || !mapsEqual(failed, map[string]int{recipients[3]: 1}) {
				t.Fatalf("accepted %d, delivered %v, failed %v", accepted, delivered, failed)
			}
		})
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func checkPostacert(t *testing.T, raw []byte, code string) *message.Entity {
	t.Helper()
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("postacert.eml: %v", err)
	}
	dec := mime.WordDecoder{}
	subject, _ := dec.DecodeHeader(e.Header.Get("Subject"))
	if subject != testSubject || e.Header.Get("From") != testSender || !strings.Contains(e.Header.Get("Message-ID"), code) {
		t.Errorf("postacert.eml: Subject %q From %q Message-ID %q", subject, e.Header.Get("From"), e.Header.Get("Message-ID"))
	}
	return e
}

// TestIMAPPostacertAttachments: the original in a CONSEGNA carries the
// body and every attachment as sent.
func TestIMAPPostacertAttachments(t *testing.T) {
	h := newHarness(t, nil)
	addr, pool := h.imapSide()
	content := []byte("%PDF-1.4 not really\x00\xff")
	body := h.sendBody("anna@pec.example.it", testSubject)
	body["attachments"] = []map[string]string{{"name": "atto.pdf", "file": "data:application/pdf;base64," + b64(content)}}
	a := h.post(body)
	if a.status != http.StatusCreated {
		t.Fatalf("send: %d %s", a.status, a.raw)
	}
	code := a.json["message_id"].(string)
	h.advanceTo(h.opts.DeliverDelay)
	c, err := dialIMAP(t, addr, pool, h.opts.Username, h.opts.Password)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, r := range fetchAll(t, c) {
		if r.postacert == nil {
			continue
		}
		e := checkPostacert(t, r.postacert, code)
		mr := e.MultipartReader()
		var html string
		files := map[string][]byte{}
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(p.Body)
			if _, disp, err := p.Header.ContentDisposition(); err == nil && disp["filename"] != "" {
				files[disp["filename"]] = data
			} else {
				html = string(data)
			}
		}
		if html != testBody || !bytes.Equal(files["atto.pdf"], content) || len(files) != 1 {
			t.Errorf("postacert.eml: body %q, files %q", html, files)
		}
		found = true
	}
	if !found {
		t.Fatal("no CONSEGNA with postacert.eml")
	}
}

// TestIMAPDaticertEscaping: a subject with XML's special characters and
// non-ASCII letters comes back whole from daticert.xml and the Subject.
func TestIMAPDaticertEscaping(t *testing.T) {
	subject := `Atto <n. 5> & "urgente" 'oggi' – perché già`
	h := newHarness(t, func(o *sandbox.Options) { o.Receipts = sandbox.StylePEC })
	addr, pool := h.imapSide()
	code := h.mustSend("anna@pec.example.it", subject)
	h.advanceTo(h.opts.DeliverDelay)
	c, err := dialIMAP(t, addr, pool, h.opts.Username, h.opts.Password)
	if err != nil {
		t.Fatal(err)
	}
	got := fetchAll(t, c)
	if len(got) != 2 {
		t.Fatalf("%d messages, want 2", len(got))
	}
	for _, r := range got {
		if d := r.dc(t); d.Intestazione.Oggetto != subject+" "+code {
			t.Errorf("oggetto %q", d.Intestazione.Oggetto)
		}
		if !strings.HasSuffix(r.subject, ": "+subject+" "+code) {
			t.Errorf("Subject %q", r.subject)
		}
		if bytes.Contains(r.daticert, []byte("<n. 5>")) || !bytes.Contains(r.daticert, []byte("&lt;n. 5&gt; &amp;")) {
			t.Errorf("daticert.xml not escaped:\n%s", r.daticert)
		}
		if _, err := r.verify(pool); err != nil {
			t.Errorf("%s: %v", r.subject, err)
		}
	}
}

// TestIMAPFollowsRESTDeletes: what DELETE /send/{code} removes leaves
// INBOX; UIDVALIDITY and the other messages' UIDs stay; writes are refused.
func TestIMAPFollowsRESTDeletes(t *testing.T) {
	h := newHarness(t, nil)
	addr, pool := h.imapSide()
	keep := h.mustSend("anna@pec.example.it", "Tenere")
	gone := h.mustSend("bruno@pec.example.it", "Cancellare")
	h.advanceTo(h.opts.DeliverDelay)
	c, err := dialIMAP(t, addr, pool, h.opts.Username, h.opts.Password)
	if err != nil {
		t.Fatal(err)
	}
	before, sel1 := fetchAllSelected(t, c)
	if len(before) != 4 {
		t.Fatalf("%d messages, want 4", len(before))
	}
	if a := h.delete("/send/" + gone); a.status != http.StatusOK {
		t.Fatalf("DELETE: %d %s", a.status, a.raw)
	}
	after, sel2 := fetchAllSelected(t, c)
	if sel1.UIDValidity == 0 || sel2.UIDValidity != sel1.UIDValidity {
		t.Errorf("UIDVALIDITY %d, then %d", sel1.UIDValidity, sel2.UIDValidity)
	}
	var kept []imap.UID
	for _, r := range before {
		if strings.Contains(r.subject, keep) {
			kept = append(kept, r.uid)
		}
	}
	var left []imap.UID
	for _, r := range after {
		if strings.Contains(r.subject, gone) {
			t.Errorf("%s still in INBOX", r.subject)
		}
		left = append(left, r.uid)
	}
	if !slices.Equal(kept, left) {
		t.Errorf("UIDs left %v, want %v", left, kept)
	}
	if err := c.Store(imap.UIDSetNum(left[0]), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err == nil {
		t.Error("STORE \\Deleted accepted on a read-only mailbox")
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// TestIMAPIdle: a client in IDLE hears of a receipt that arrives on the
// sandbox clock while it waits.
func TestIMAPIdle(t *testing.T) {
	h := newHarness(t, nil)
	addr, pool := h.imapSide()
	exists := make(chan uint32, 10)
	c, err := imapclient.DialTLS(addr, &imapclient.Options{
		TLSConfig: &tls.Config{RootCAs: pool},
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				exists <- *d.NumMessages
			}
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(h.opts.Username, h.opts.Password).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	h.mustSend("anna@pec.example.it", testSubject)
	h.advanceTo(h.opts.AcceptDelay)
	select {
	case n := <-exists:
		if n != 1 {
			t.Errorf("EXISTS %d, want 1", n)
		}
	case <-time.After(30 * time.Second): // the sync runs every second; only a hang takes this long
		t.Fatal("no EXISTS during IDLE")
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
}

// TestIMAPSearch: a client finds a send's receipts by UID SEARCH on the
// subject's code or on X-Riferimento-Message-ID, and UID FETCHes them.
func TestIMAPSearch(t *testing.T) {
	h := newHarness(t, nil)
	addr, pool := h.imapSide()
	one := h.mustSend([]string{"anna@pec.example.it", "bruno@pec.example.it"}, "Uno")
	h.mustSend("carla@pec.example.it", "Due")
	h.advanceTo(h.opts.DeliverDelay)
	c, err := dialIMAP(t, addr, pool, h.opts.Username, h.opts.Password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		criteria *imap.SearchCriteria
	}{
		{"subject", &imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: one}}}},
		{"X-Riferimento-Message-ID", &imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "X-Riferimento-Message-ID", Value: "<sandbox." + one + "@"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := c.UIDSearch(tc.criteria, nil).Wait()
			if err != nil {
				t.Fatal(err)
			}
			uids := data.AllUIDs()
			if len(uids) != 3 { // the acceptance and two deliveries
				t.Fatalf("UID SEARCH: %v, want 3 UIDs", uids)
			}
			section := &imap.FetchItemBodySection{Peek: true}
			msgs, err := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				r := parseReceipt(t, m.UID, m.FindBodySection(section))
				if !strings.HasSuffix(r.subject, " Uno "+one) {
					t.Errorf("UID %d: %q", m.UID, r.subject)
				}
			}
			if len(msgs) != 3 {
				t.Errorf("UID FETCH: %d messages", len(msgs))
			}
		})
	}
}
