package sandbox

// The receipts as the IMAP mailbox holds them: real PEC messages, built
// from the standard (DPR 68/2005, DM 2 novembre 2005 and its allegato
// tecnico), S/MIME signed by the sandbox provider.

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"github.com/smallstep/pkcs7"
)

// The values of daticert.xml's postacert tipo (and of the X-Ricevuta
// header) and errore attributes.
const (
	tipoAccettazione      = "accettazione"
	tipoNonAccettazione   = "non-accettazione"
	tipoPresaInCarico     = "presa-in-carico"
	tipoAvvenutaConsegna  = "avvenuta-consegna"
	tipoPostaCertificata  = "posta-certificata"
	tipoErroreConsegna    = "errore-consegna"
	tipoPreavvisoErrore   = "preavviso-errore-consegna"
	tipoRilevazioneVirus  = "rilevazione-virus"
	erroreNessuno         = "nessuno"
	erroreNoDest          = "no-dest"
	erroreVirus           = "virus"
	erroreAltro           = "altro"
	transportCertified    = "posta-certificata"
	transportAnomaly      = "errore"
	receiptCompleta       = "completa"
	daticertDoctype       = `<!DOCTYPE postacert SYSTEM "Postacert.dtd">`
	receiptMessageIDShape = "ricevuta.%d.%s@" + ProviderDomain
)

// daticert is daticert.xml, in the element order of the allegato tecnico.
type daticert struct {
	XMLName      xml.Name `xml:"postacert"`
	Tipo         string   `xml:"tipo,attr"`
	Errore       string   `xml:"errore,attr"`
	Intestazione struct {
		Mittente    string         `xml:"mittente"`
		Destinatari []destinatario `xml:"destinatari"`
		Risposte    string         `xml:"risposte"`
		Oggetto     string         `xml:"oggetto"`
	} `xml:"intestazione"`
	Dati struct {
		GestoreEmittente string `xml:"gestore-emittente"`
		Data             struct {
			Zona   string `xml:"zona,attr"`
			Giorno string `xml:"giorno"`
			Ora    string `xml:"ora"`
		} `xml:"data"`
		Identificativo string    `xml:"identificativo"`
		Msgid          string    `xml:"msgid"`
		Ricevuta       *ricevuta `xml:"ricevuta,omitempty"`
		Consegna       string    `xml:"consegna,omitempty"`
		ErroreEsteso   string    `xml:"errore-esteso,omitempty"`
	} `xml:"dati"`
}

type destinatario struct {
	Tipo      string `xml:"tipo,attr"`
	Indirizzo string `xml:",chardata"`
}

type ricevuta struct {
	Tipo string `xml:"tipo,attr"`
}

// kindTipo returns the postacert tipo and errore of a receipt kind, and
// whether it has a daticert.xml at all: the busta di anomalia has none, as
// what it carries was not certified.
func kindTipo(ev *event) (tipo, errore string, ok bool) {
	switch ev.kind {
	case kindAcceptance:
		return tipoAccettazione, erroreNessuno, true
	case kindNonAcceptance:
		return tipoNonAccettazione, erroreAltro, true
	case kindVirus:
		return tipoNonAccettazione, erroreVirus, true
	case kindTakenInCharge:
		return tipoPresaInCarico, erroreNessuno, true
	case kindDelivery:
		return tipoAvvenutaConsegna, erroreNessuno, true
	case kindTransport:
		return tipoPostaCertificata, erroreNessuno, true
	case kindNonDelivery:
		if domainOf(ev.addressee) == DomainInvalid {
			return tipoErroreConsegna, erroreNoDest, true
		}
		return tipoErroreConsegna, erroreAltro, true
	case kindTimeoutWarning, kindTimeoutExpired:
		// Both time-limit notices are preavvisi (receipts.md): what makes
		// the second one final is its 5.4.1 error, not its tipo.
		return tipoPreavvisoErrore, erroreAltro, true
	case kindDeliveryVirus:
		return tipoErroreConsegna, erroreVirus, true
	case kindSecurity:
		return tipoRilevazioneVirus, erroreVirus, true
	default: // kindAnomaly
		return "", "", false
	}
}

// destinatarioTipo says whether a recipient is a PEC mailbox (certificato)
// or an ordinary one (esterno), from the recipient-domain table.
func destinatarioTipo(addr string) string {
	if recipientTag(addr) == tagOrdinary {
		return "esterno"
	}
	return "certificato"
}

// buildDaticert writes the daticert.xml of a receipt that has one.
func buildDaticert(ev *event, code string, at time.Time) ([]byte, error) {
	tipo, errore, _ := kindTipo(ev)
	rec := ev.send
	var d daticert
	d.Tipo, d.Errore = tipo, errore
	d.Intestazione.Mittente = rec.Sender
	for _, r := range rec.Recipients {
		d.Intestazione.Destinatari = append(d.Intestazione.Destinatari, destinatario{destinatarioTipo(r), r})
	}
	d.Intestazione.Risposte = rec.Sender
	d.Intestazione.Oggetto = rec.Subject + " " + code
	d.Dati.GestoreEmittente = providerName
	d.Dati.Data.Zona = at.Format("-0700")
	d.Dati.Data.Giorno = at.Format("02/01/2006")
	d.Dati.Data.Ora = at.Format("15:04:05")
	d.Dati.Identificativo = providerID(code)
	d.Dati.Msgid = "<" + providerID(code) + ">"
	if ev.kind == kindDelivery {
		d.Dati.Ricevuta = &ricevuta{receiptCompleta}
	}
	if ev.kind != kindTransport {
		d.Dati.Consegna = ev.addressee
	}
	d.Dati.ErroreEsteso = ev.errorText
	if ev.kind == kindDelivery && hasDomain(rec, DomainMismatch) && domainOf(ev.addressee) == DomainMismatch {
		// The fault: a daticert of another message, validly signed.
		d.Tipo, d.Dati.Ricevuta, d.Dati.Consegna = tipoAccettazione, nil, ""
		other := code + ForeignSuffix
		d.Intestazione.Oggetto = rec.Subject + " " + other
		d.Dati.Identificativo, d.Dati.Msgid = providerID(other), "<"+providerID(other)+">"
	}
	body, err := xml.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("sandbox: daticert.xml: %w", err)
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString(daticertDoctype + "\n")
	b.Write(body)
	b.WriteString("\n")
	return b.Bytes(), nil
}

// receiptText is the receipt's text as providers write it (receipts.md),
// in UTF-8: the IMAP side has no iso-8859-1 mangling.
func receiptText(ev *event, code string, at time.Time) string {
	rec := ev.send
	switch ev.kind {
	case kindAcceptance:
		return acceptanceText(rec, at)
	case kindDelivery:
		return deliveryText(rec, at, ev.addressee, code)
	case kindNonDelivery, kindTimeoutWarning, kindTimeoutExpired, kindDeliveryVirus, kindSecurity:
		return nonDeliveryText(rec, at, ev.kind, ev.addressee, ev.errorText)
	case kindNonAcceptance, kindVirus:
		return nonAcceptanceText(rec, at, ev.kind, ev.errorText)
	case kindTakenInCharge:
		return takenInChargeText(rec, at, ev.addressee)
	case kindAnomaly:
		return anomalyText(rec, at, ev.addressee, ev.errorText)
	default:
		return transportText(rec, at)
	}
}

// transportText is the text of the busta di trasporto around a PEC message.
func transportText(rec *sendRecord, at time.Time) string {
	var b strings.Builder
	b.WriteString("Messaggio di posta certificata\n\n")
	fmt.Fprintf(&b, "%s il messaggio \"%s\" è stato inviato da \"%s\"\n", when(at), rec.Subject, rec.Sender)
	fmt.Fprintf(&b, "indirizzato a:\n%s\n", taggedList(rec.Recipients, "\n"))
	b.WriteString("Il messaggio originale è incluso in allegato.\n")
	fmt.Fprintf(&b, "Identificativo del messaggio: %s\n", providerID(rec.Code))
	return b.String()
}

// textHTML is the HTML alternative of a receipt's text.
func textHTML(text string) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, l := range lines {
		lines[i] = html.EscapeString(l)
	}
	// Plain line ends: writeQP turns them into CRLF.
	return "<html><head><meta charset=\"UTF-8\"></head><body>\n<p>" +
		strings.Join(lines, "<br>\n") + "</p>\n</body></html>\n"
}

// header writes the header fields in the given order, folding nothing: the
// values are short or RFC 2047 words.
type header [][2]string

func (h header) write(w io.Writer) {
	for _, kv := range h {
		fmt.Fprintf(w, "%s: %s\r\n", kv[0], kv[1])
	}
	fmt.Fprint(w, "\r\n")
}

func encodeWord(s string) string {
	return mime.QEncoding.Encode("UTF-8", s)
}

func mimeHeader(kv ...string) textproto.MIMEHeader {
	h := textproto.MIMEHeader{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func writeQP(mw *multipart.Writer, contentType, text string) error {
	pw, err := mw.CreatePart(mimeHeader("Content-Type", contentType, "Content-Transfer-Encoding", "quoted-printable"))
	if err != nil {
		return err
	}
	qp := quotedprintable.NewWriter(pw)
	if _, err := io.WriteString(qp, strings.ReplaceAll(text, "\n", "\r\n")); err != nil {
		return err
	}
	return qp.Close()
}

func writeBase64(mw *multipart.Writer, contentType, disposition string, data []byte) error {
	pw, err := mw.CreatePart(mimeHeader("Content-Type", contentType, "Content-Disposition", disposition, "Content-Transfer-Encoding", "base64"))
	if err != nil {
		return err
	}
	return writeBase64Lines(pw, data)
}

// writeBase64Lines writes data in base64 lines of 76 characters, as MIME
// asks.
func writeBase64Lines(w io.Writer, data []byte) error {
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 0 {
		n := min(76, len(enc))
		if _, err := io.WriteString(w, enc[:n]+"\r\n"); err != nil {
			return err
		}
		enc = enc[n:]
	}
	return nil
}

func attachmentDisposition(name string) string {
	return mime.FormatMediaType("attachment", map[string]string{"filename": name})
}

// originalMessage is postacert.eml: the message as sent, with the
// provider's Message-ID. Attachments are there only if the sandbox kept
// them (ServeIMAP was called before the send).
func originalMessage(rec *sendRecord, loc *time.Location) ([]byte, error) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	if err := mw.SetBoundary("original-" + rec.Code); err != nil {
		return nil, err
	}
	h := header{
		{"Message-ID", "<" + providerID(rec.Code) + ">"},
		{"Date", rec.Time.In(loc).Format(time.RFC1123Z)},
		{"From", rec.Sender},
		{"To", strings.Join(rec.Recipients, ", ")},
		{"Subject", encodeWord(rec.Subject)},
		{"MIME-Version", "1.0"},
		{"Content-Type", mime.FormatMediaType("multipart/mixed", map[string]string{"boundary": mw.Boundary()})},
	}
	if len(rec.files) != len(rec.Attachments) {
		h = append(h, [2]string{"X-Sandbox-Note", "attachments not kept: sent before the IMAP side started"})
	}
	h.write(&b)
	if err := writeQP(mw, "text/html; charset=UTF-8", rec.body); err != nil {
		return nil, err
	}
	if len(rec.files) == len(rec.Attachments) {
		for i, a := range rec.Attachments {
			ct := ""
			if dot := strings.LastIndexByte(a.Name, '.'); dot >= 0 {
				ct = mime.TypeByExtension(a.Name[dot:])
			}
			if ct == "" {
				ct = "application/octet-stream"
			}
			ct = mime.FormatMediaType(strings.Split(ct, ";")[0], map[string]string{"name": a.Name})
			if err := writeBase64(mw, ct, attachmentDisposition(a.Name), rec.files[i]); err != nil {
				return nil, err
			}
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// buildReceipt renders the IMAP message of a mailbox message: the same
// kind, subject and date as the REST API shows, as a signed PEC receipt.
func buildReceipt(m *message, ca *testCA, loc *time.Location) ([]byte, error) {
	ev := m.ev
	rec := ev.send
	shown := ev.at
	if !ev.shownAt.IsZero() {
		shown = ev.shownAt
	}
	at := shown.In(loc)
	code := m.code
	text := receiptText(ev, code, at)

	// The signed entity: multipart/mixed of the text, daticert.xml and,
	// for a CONSEGNA completa or a transport envelope, the original.
	var inner bytes.Buffer
	mixed := multipart.NewWriter(&inner)
	if err := mixed.SetBoundary(fmt.Sprintf("mixed-%d-%s", m.id, code)); err != nil {
		return nil, err
	}
	header{{"Content-Type", mime.FormatMediaType("multipart/mixed", map[string]string{"boundary": mixed.Boundary()})}}.write(&inner)
	var alt bytes.Buffer
	altw := multipart.NewWriter(&alt)
	if err := altw.SetBoundary(fmt.Sprintf("alt-%d-%s", m.id, code)); err != nil {
		return nil, err
	}
	if err := writeQP(altw, "text/plain; charset=UTF-8", text); err != nil {
		return nil, err
	}
	if err := writeQP(altw, "text/html; charset=UTF-8", textHTML(text)); err != nil {
		return nil, err
	}
	if err := altw.Close(); err != nil {
		return nil, err
	}
	pw, err := mixed.CreatePart(mimeHeader("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": altw.Boundary()})))
	if err != nil {
		return nil, err
	}
	if _, err := pw.Write(alt.Bytes()); err != nil {
		return nil, err
	}
	if _, _, ok := kindTipo(ev); ok {
		dc, err := buildDaticert(ev, code, at)
		if err != nil {
			return nil, err
		}
		if err := writeBase64(mixed, `application/xml; name="daticert.xml"`, attachmentDisposition("daticert.xml"), dc); err != nil {
			return nil, err
		}
	}
	if ev.kind == kindDelivery || ev.kind == kindTransport || ev.kind == kindAnomaly {
		orig, err := originalMessage(rec, loc)
		if err != nil {
			return nil, fmt.Errorf("sandbox: postacert.eml: %w", err)
		}
		pw, err := mixed.CreatePart(mimeHeader("Content-Type", `message/rfc822; name="postacert.eml"`, "Content-Disposition", attachmentDisposition("postacert.eml")))
		if err != nil {
			return nil, err
		}
		if _, err := pw.Write(orig); err != nil {
			return nil, err
		}
	}
	if err := mixed.Close(); err != nil {
		return nil, err
	}
	signed := inner.Bytes()

	sd, err := pkcs7.NewSignedData(signed)
	if err != nil {
		return nil, fmt.Errorf("sandbox: signing a receipt: %w", err)
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if err := sd.AddSignerChain(ca.signer, ca.signKey, []*x509.Certificate{ca.root}, pkcs7.SignerInfoConfig{}); err != nil {
		return nil, fmt.Errorf("sandbox: signing a receipt: %w", err)
	}
	sd.Detach()
	sig, err := sd.Finish()
	if err != nil {
		return nil, fmt.Errorf("sandbox: signing a receipt: %w", err)
	}
	if ev.kind == kindDelivery && domainOf(ev.addressee) == DomainBadSignature {
		// The fault: the content changed after it was signed.
		signed = bytes.Replace(slices.Clone(signed), []byte("Ricevuta di avvenuta consegna"), []byte("Ricevuta di avvenuta consegna!"), 1)
	}

	var out bytes.Buffer
	outer := fmt.Sprintf("signed-%d-%s", m.id, code)
	h := header{
		{"Message-ID", "<" + fmt.Sprintf(receiptMessageIDShape, m.id, code) + ">"},
		{"Date", at.Format(time.RFC1123Z)},
		{"From", ReceiptSender},
		{"To", rec.Sender},
		{"Subject", encodeWord(m.object)},
	}
	switch ev.kind {
	case kindTransport:
		// Quoted: the display name holds a colon and an address.
		h[2][1] = (&mail.Address{Name: "Per conto di: " + rec.Sender, Address: ReceiptSender}).String()
		h[3][1] = strings.Join(rec.Recipients, ", ")
		h = append(h, [2]string{"Reply-To", rec.Sender}, [2]string{"X-Trasporto", transportCertified})
	case kindAnomaly:
		h = append(h, [2]string{"X-Trasporto", transportAnomaly})
	default:
		tipo, _, _ := kindTipo(ev)
		h = append(h, [2]string{"X-Ricevuta", tipo})
		if ev.kind == kindDelivery {
			h = append(h, [2]string{"X-TipoRicevuta", receiptCompleta})
		}
	}
	h = append(h,
		[2]string{"X-Riferimento-Message-ID", "<" + providerID(code) + ">"},
		[2]string{"MIME-Version", "1.0"},
		[2]string{"Content-Type", mime.FormatMediaType("multipart/signed", map[string]string{
			"protocol": "application/pkcs7-signature", "micalg": "sha-256", "boundary": outer})},
	)
	h.write(&out)
	out.WriteString("This is an S/MIME signed message\r\n\r\n--" + outer + "\r\n")
	out.Write(signed)
	out.WriteString("\r\n--" + outer + "\r\n")
	header{
		{"Content-Type", `application/pkcs7-signature; name="smime.p7s"`},
		{"Content-Transfer-Encoding", "base64"},
		{"Content-Disposition", attachmentDisposition("smime.p7s")},
	}.write(&out)
	_ = writeBase64Lines(&out, sig)
	out.WriteString("--" + outer + "--\r\n")
	return out.Bytes(), nil
}
