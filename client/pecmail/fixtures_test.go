package pecmail

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
)

// fixtureNames are the hand-written receipts in testdata, one of each kind.
var fixtureNames = []string{
	"accettazione", "consegna", "consegna-latin1", "errore-consegna", "preavviso", "non-accettazione",
	"posta-certificata",
}

// fixture reads testdata/NAME.txt: the receipt's own header lines, an empty line, then the MIME entity its
// provider signs. The file is kept with LF endings for editing; the message gets CRLF, as on the wire.
func fixture(t testing.TB, name string) (outer, inner []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	data = toCRLF(data)
	cut := bytes.Index(data, []byte("\r\n\r\n"))
	if cut < 0 {
		t.Fatalf("%s: no empty line between the header and the signed entity", name)
	}
	return data[:cut+2], data[cut+4:]
}

// unsigned is the receipt without a signature: its header and the entity's header make one header.
func unsigned(outer, inner []byte) []byte {
	return append(append([]byte{}, outer...), inner...)
}

const sigBoundary = "----=_Sig_0123456789"

// signedMessage wraps inner in multipart/signed with a detached signature over its exact bytes.
func signedMessage(t testing.TB, p *testPKI, outer, inner []byte, protocol string) []byte {
	t.Helper()
	var b bytes.Buffer
	b.Write(outer)
	b.WriteString("Content-Type: multipart/signed; protocol=\"" + protocol + "\"; micalg=\"sha-256\";\r\n" +
		"\tboundary=\"" + sigBoundary + "\"\r\n\r\nThis is an S/MIME signed message\r\n\r\n--" + sigBoundary + "\r\n")
	b.Write(inner)
	b.WriteString("\r\n--" + sigBoundary + "\r\n" +
		"Content-Type: " + protocol + "; name=\"smime.p7s\"\r\nContent-Transfer-Encoding: base64\r\n" +
		"Content-Disposition: attachment; filename=\"smime.p7s\"\r\n\r\n")
	b.Write(base64Lines(p.sign(t, inner, true)))
	b.WriteString("\r\n--" + sigBoundary + "--\r\n")
	return b.Bytes()
}

// opaqueMessage carries inner inside the signed data (application/pkcs7-mime; smime-type=signed-data).
func opaqueMessage(t testing.TB, p *testPKI, outer, inner []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	b.Write(outer)
	b.WriteString("Content-Type: application/pkcs7-mime; smime-type=signed-data; name=\"smime.p7m\"\r\n" +
		"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"smime.p7m\"\r\n\r\n")
	b.Write(base64Lines(p.sign(t, inner, false)))
	b.WriteString("\r\n")
	return b.Bytes()
}

func base64Lines(der []byte) []byte {
	s := base64.StdEncoding.EncodeToString(der)
	var b bytes.Buffer
	for len(s) > 76 {
		b.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	b.WriteString(s)
	return b.Bytes()
}

func toLF(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")) }

// mustReplace replaces the first old in b, and fails the test when b has no old: a case whose change did
// not happen would test nothing.
func mustReplace(t testing.TB, b []byte, old, new string) []byte {
	t.Helper()
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("the message has no %q", old)
	}
	return bytes.Replace(b, []byte(old), []byte(new), 1)
}
