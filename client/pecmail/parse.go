package pecmail

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/charset" // importing it registers the charsets for subjects and bodies
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
	"github.com/smallstep/pkcs7"

	"github.com/pecbatch/pecbatch/client"
)

// Parse reads one raw message. It never fails on a malformed receipt: problems are in DaticertErr and
// Signature. trust holds the roots for the signer's chain; nil leaves the chain unchecked.
func Parse(raw []byte, trust *x509.CertPool) Receipt {
	sum := sha256.Sum256(raw)
	r := Receipt{Raw: raw, SHA256: hex.EncodeToString(sum[:])}
	hdr, bodyAt, err := readHeader(raw)
	if err != nil {
		r.DaticertErr = "the message header cannot be read: " + err.Error()
		r.Signature = Signature{Status: SigMissing, Detail: "the message header cannot be read"}
		return r
	}
	r.Subject = decodedSubject(hdr)
	class := client.Classify(r.Subject, "")
	r.Code = class.Code
	r.Kind = headerKind(hdr, class.Kind)

	var content []byte
	r.Signature, content = checkSignature(hdr, raw[bodyAt:], trust)
	if content == nil {
		content = raw // unsigned: the daticert, if any, is in the message itself
	}
	part, err := findDaticert(content)
	if err == nil {
		r.Daticert, err = parseDaticert(part.data, part.utf8)
	}
	if err != nil {
		r.DaticertErr = err.Error()
	}
	r.Agrees = agrees(r.Daticert, r.Kind, class.Subject, class.Code)
	return r
}

// readHeader reads the top header of raw and says where the body starts. go-message's reader accepts CRLF
// and bare LF and unfolds folded lines.
func readHeader(raw []byte) (message.Header, int, error) {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return message.Header{}, 0, fmt.Errorf("header: %w", err)
	}
	return message.Header{Header: h}, headerEnd(raw), nil
}

// headerEnd is the offset just after the empty line that ends the header, or len(raw) when there is none.
func headerEnd(raw []byte) int {
	for at := 0; at < len(raw); {
		end := bytes.IndexByte(raw[at:], '\n')
		if end < 0 {
			return len(raw)
		}
		if line := raw[at : at+end]; len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			return at + end + 1
		}
		at += end + 1
	}
	return len(raw)
}

// decodedSubject decodes encoded words; a charset go-message does not know leaves the raw text.
func decodedSubject(h message.Header) string {
	mh := mail.Header{Header: h}
	s, err := mh.Subject()
	if err != nil {
		s = h.Get("Subject")
	}
	return strings.TrimSpace(s)
}

// kindWords names client's kinds in the words of X-Ricevuta and X-Trasporto, for a message that lost those
// headers. A virus notice can be three different things, so it stays unnamed.
var kindWords = map[client.Kind]string{
	client.KindAcceptance:     "accettazione",
	client.KindNonAcceptance:  "non-accettazione",
	client.KindTakenInCharge:  "presa-in-carico",
	client.KindDelivery:       "avvenuta-consegna",
	client.KindNonDelivery:    "errore-consegna",
	client.KindTimeoutWarning: "preavviso-errore-consegna",
	client.KindTimeoutExpired: "preavviso-errore-consegna",
	client.KindTransport:      "posta-certificata",
	client.KindAnomaly:        "errore",
}

func headerKind(h message.Header, fromSubject client.Kind) string {
	for _, key := range []string{"X-Ricevuta", "X-Trasporto"} {
		if v := strings.TrimSpace(h.Get(key)); v != "" {
			return strings.ToLower(v)
		}
	}
	return kindWords[fromSubject]
}

// agrees says d is consistent with the message: same kind, same subject (the service's daticert may or may
// not carry the code the API appends to the subject, so both are accepted).
func agrees(d *Daticert, kind, subject, code string) bool {
	if d == nil || kind == "" || !strings.EqualFold(d.Tipo, kind) {
		return false
	}
	oggetto := strings.TrimSpace(d.Oggetto)
	return oggetto == subject || (code != "" && oggetto == subject+" "+code)
}

// checkSignature verifies an S/MIME signature, detached (multipart/signed) or opaque (application/pkcs7-mime
// signed-data), and returns the signed content (a MIME entity) when there is one.
func checkSignature(h message.Header, body []byte, trust *x509.CertPool) (Signature, []byte) {
	mediaType, params, err := h.ContentType()
	if err != nil {
		return Signature{Status: SigMissing, Detail: "the Content-Type cannot be read"}, nil
	}
	switch mediaType {
	case "multipart/signed":
		return checkDetached(params, body, trust)
	case "application/pkcs7-mime", "application/x-pkcs7-mime":
		if t := strings.ToLower(params["smime-type"]); t != "" && t != "signed-data" {
			return Signature{Status: SigMissing, Detail: "an S/MIME " + t + " message, not a signed one"}, nil
		}
		return checkOpaque(h, body, trust)
	}
	return Signature{Status: SigMissing}, nil
}

func checkDetached(params map[string]string, body []byte, trust *x509.CertPool) (Signature, []byte) {
	// A missing protocol is tolerated: the signature part itself then has to be PKCS#7.
	if p := strings.ToLower(params["protocol"]); p != "" && !strings.HasSuffix(p, "pkcs7-signature") {
		return Signature{Status: SigInvalid, Detail: fmt.Sprintf("unsupported signature protocol %q", p)}, nil
	}
	parts := splitMultipart(body, params["boundary"])
	if len(parts) < 2 {
		return Signature{Status: SigInvalid, Detail: "multipart/signed without its two parts"}, firstOrNil(parts)
	}
	der, err := entityBody(parts[1])
	if err != nil {
		return Signature{Status: SigInvalid, Detail: "the signature part cannot be read: " + err.Error()}, parts[0]
	}
	p7, err := pkcs7.Parse(der)
	if err != nil {
		return Signature{Status: SigInvalid, Detail: "the signature is not PKCS#7: " + err.Error()}, parts[0]
	}
	p7.Content = parts[0]
	err = p7.Verify()
	if err != nil && hasBareLF(parts[0]) {
		// S/MIME signs the canonical CRLF form; a store on the way may have turned it into bare LF.
		p7.Content = toCRLF(parts[0])
		if p7.Verify() == nil {
			err = nil
		}
	}
	return verdict(p7, err, trust), parts[0]
}

func checkOpaque(h message.Header, body []byte, trust *x509.CertPool) (Signature, []byte) {
	der, err := decodeBody(h.Get("Content-Transfer-Encoding"), body)
	if err != nil {
		return Signature{Status: SigInvalid, Detail: "the signed data cannot be decoded: " + err.Error()}, nil
	}
	p7, err := pkcs7.Parse(der)
	if err != nil {
		return Signature{Status: SigInvalid, Detail: "the signed data is not PKCS#7: " + err.Error()}, nil
	}
	if len(p7.Content) == 0 {
		return Signature{Status: SigInvalid, Detail: "the signed data holds no content"}, nil
	}
	return verdict(p7, p7.Verify(), trust), p7.Content
}

// verdict turns a verification result into a Signature, checking the chain only once the signature holds.
func verdict(p7 *pkcs7.PKCS7, verifyErr error, trust *x509.CertPool) Signature {
	s := Signature{Signer: signerName(p7)}
	switch {
	case verifyErr != nil:
		s.Status, s.Detail = SigInvalid, "the signature does not verify: "+verifyErr.Error()
	case trust == nil:
		s.Status, s.Detail = SigValidUntrusted, "no trusted roots given: the signer's chain was not checked"
	default:
		// The intermediates come from the PKCS#7 certificates; the time is the signing time when the
		// signature carries one, so that an old receipt stays valid after its certificate expired.
		if err := p7.VerifyWithChain(trust); err != nil {
			s.Status, s.Detail = SigValidUntrusted, "the signer's chain does not reach a trusted root: "+err.Error()
		} else {
			s.Status = SigValid
		}
	}
	return s
}

var oidEmail = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}

// signerName names the signing certificate by its CN, O and e-mail address.
func signerName(p7 *pkcs7.PKCS7) string {
	cert := p7.GetOnlySigner()
	if cert == nil && len(p7.Certificates) > 0 {
		cert = p7.Certificates[0]
	}
	if cert == nil {
		return ""
	}
	var parts []string
	if cn := cert.Subject.CommonName; cn != "" {
		parts = append(parts, "CN="+cn)
	}
	for _, o := range cert.Subject.Organization {
		parts = append(parts, "O="+o)
	}
	email := ""
	if len(cert.EmailAddresses) > 0 {
		email = cert.EmailAddresses[0]
	}
	for _, n := range cert.Subject.Names {
		if s, ok := n.Value.(string); ok && n.Type.Equal(oidEmail) && email == "" {
			email = s
		}
	}
	if email != "" {
		parts = append(parts, "E="+email)
	}
	if len(parts) == 0 {
		return cert.Subject.String()
	}
	return strings.Join(parts, ", ")
}

func firstOrNil(parts [][]byte) []byte {
	if len(parts) == 0 {
		return nil
	}
	return parts[0]
}

// splitMultipart cuts body at its boundary lines and returns each part's bytes exactly as they are in body,
// without the line break that RFC 2046 counts as part of the next boundary. It accepts CRLF and bare LF and
// transport padding after a boundary.
func splitMultipart(body []byte, boundary string) [][]byte {
	if boundary == "" {
		return nil
	}
	delim := []byte("--" + boundary)
	var parts [][]byte
	start := -1 // where the current part's content starts
	for at := 0; at < len(body); {
		end := bytes.IndexByte(body[at:], '\n')
		lineEnd := len(body)
		if end >= 0 {
			lineEnd = at + end + 1
		}
		line := bytes.TrimRight(body[at:lineEnd], "\r\n")
		if bytes.HasPrefix(line, delim) {
			tail := bytes.TrimRight(line[len(delim):], " \t")
			if len(tail) == 0 || bytes.Equal(tail, []byte("--")) {
				if start >= 0 {
					parts = append(parts, trimLineBreak(body[start:at]))
				}
				if len(tail) > 0 {
					return parts
				}
				start = lineEnd
			}
		}
		at = lineEnd
	}
	return parts // no closing boundary: keep what was delimited
}

func trimLineBreak(b []byte) []byte {
	if bytes.HasSuffix(b, []byte("\r\n")) {
		return b[:len(b)-2]
	}
	if bytes.HasSuffix(b, []byte("\n")) {
		return b[:len(b)-1]
	}
	return b
}

func hasBareLF(b []byte) bool {
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			return true
		}
	}
	return false
}

func toCRLF(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/40)
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

// entityBody reads a MIME entity (header and body) and returns its body with the transfer encoding undone.
func entityBody(raw []byte) ([]byte, error) {
	h, at, err := readHeader(raw)
	if err != nil {
		return nil, err
	}
	return decodeBody(h.Get("Content-Transfer-Encoding"), raw[at:])
}

// decodeBody undoes a transfer encoding only: the header given to go-message has no Content-Type, so no
// charset conversion touches the bytes.
func decodeBody(cte string, body []byte) ([]byte, error) {
	var h message.Header
	h.Set("Content-Transfer-Encoding", cte)
	e, err := message.New(h, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("transfer encoding %q: %w", cte, err)
	}
	return io.ReadAll(e.Body)
}

// xmlPart is a daticert.xml found in a message. utf8 says the MIME charset already converted it to UTF-8,
// so the encoding its XML declaration names no longer applies.
type xmlPart struct {
	data []byte
	utf8 bool
}

// findDaticert looks for daticert.xml in the multipart tree of a MIME entity, never inside an attached
// message (the original message, postacert.eml, may carry anything). It goes by file name first, whatever
// the declared type (application/xml, text/xml, application/octet-stream), then by an XML part holding
// <postacert.
func findDaticert(entity []byte) (xmlPart, error) {
	e, err := message.Read(bytes.NewReader(entity))
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return xmlPart{}, fmt.Errorf("daticert: the message cannot be read: %w", err)
	}
	var byType *xmlPart
	found, err := walk(e, 0, &byType)
	switch {
	case err != nil:
		return xmlPart{}, err
	case found != nil:
		return *found, nil
	case byType != nil:
		return *byType, nil
	}
	return xmlPart{}, errors.New("daticert: the message has no daticert.xml")
}

// maxDepth bounds nesting so that a crafted message cannot exhaust the stack.
const maxDepth = 8

func walk(e *message.Entity, depth int, byType **xmlPart) (*xmlPart, error) {
	if depth > maxDepth {
		return nil, nil
	}
	if mr := e.MultipartReader(); mr != nil {
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil, nil
			}
			if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
				return nil, fmt.Errorf("daticert: a part cannot be read: %w", err)
			}
			if found, err := walk(p, depth+1, byType); found != nil || err != nil {
				return found, err
			}
		}
	}
	mediaType, params, _ := e.Header.ContentType()
	isName := strings.EqualFold(partName(e.Header), "daticert.xml")
	isXML := mediaType == "application/xml" || mediaType == "text/xml"
	if !isName && !(isXML && *byType == nil) {
		return nil, nil
	}
	data, err := io.ReadAll(io.LimitReader(e.Body, maxDaticert+1))
	if err != nil {
		return nil, fmt.Errorf("daticert: the part cannot be decoded: %w", err)
	}
	part := &xmlPart{data: data, utf8: convertedToUTF8(mediaType, params["charset"])}
	if isName {
		return part, nil
	}
	if bytes.Contains(data, []byte("<postacert")) {
		*byType = part
	}
	return nil, nil
}

// convertedToUTF8 says go-message turned a part of this type and charset into UTF-8 (it does so for text/*
// only). A part labelled UTF-8 or ASCII passed through unchanged, and its XML declaration still decides: a
// mislabelled ISO-8859-1 daticert is common enough.
func convertedToUTF8(mediaType, cs string) bool {
	if !strings.HasPrefix(mediaType, "text/") || cs == "" {
		return false
	}
	switch strings.ToLower(cs) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return false
	}
	_, err := charset.Reader(cs, bytes.NewReader(nil))
	return err == nil
}

// partName is the part's file name from Content-Disposition, else from the Content-Type name parameter.
func partName(h message.Header) string {
	if _, params, err := h.ContentDisposition(); err == nil && params["filename"] != "" {
		return params["filename"]
	}
	if _, params, err := h.ContentType(); err == nil && params["name"] != "" {
		return params["name"]
	}
	// A malformed header still names the file often enough: take the parameter by hand.
	for _, key := range []string{"Content-Disposition", "Content-Type"} {
		if _, params, err := mime.ParseMediaType(h.Get(key)); err == nil {
			if n := params["filename"] + params["name"]; n != "" {
				return n
			}
		}
	}
	return ""
}
