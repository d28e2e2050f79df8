package pecmail

import (
	"bytes"
	"testing"
)

// FuzzParse feeds Parse raw messages: it must never panic, and must keep Raw and report a known status.
func FuzzParse(f *testing.F) {
	pki := newPKI(f, "Gestore Test")
	for _, name := range fixtureNames {
		outer, inner := fixture(f, name)
		f.Add(unsigned(outer, inner))
		f.Add(signedMessage(f, pki, outer, inner, "application/pkcs7-signature"))
	}
	outer, inner := fixture(f, "consegna")
	f.Add(toLF(opaqueMessage(f, pki, outer, inner)))
	f.Add([]byte("Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=x\r\n\r\n--x\r\n\r\n--x--"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r := Parse(raw, pki.pool)
		if !bytes.Equal(r.Raw, raw) || len(r.SHA256) != 64 {
			t.Fatal("Raw or SHA256 lost")
		}
		switch r.Signature.Status {
		case SigValid, SigValidUntrusted, SigInvalid, SigMissing:
		default:
			t.Fatalf("status %q", r.Signature.Status)
		}
		if r.Agrees && r.Daticert == nil {
			t.Fatal("Agrees without a daticert")
		}
	})
}

// FuzzDaticert feeds parseDaticert XML: it must never panic, and return a daticert exactly when no error.
func FuzzDaticert(f *testing.F) {
	for _, name := range fixtureNames {
		_, inner := fixture(f, name)
		if part, err := findDaticert(inner); err == nil {
			f.Add(part.data, part.utf8)
		}
	}
	f.Add([]byte(`<!DOCTYPE postacert [<!ENTITY x SYSTEM "file:///etc/passwd">]><postacert>&x;</postacert>`), false)
	f.Fuzz(func(t *testing.T, data []byte, utf8 bool) {
		d, err := parseDaticert(data, utf8)
		if (d == nil) == (err == nil) {
			t.Fatalf("daticert %v with error %v", d, err)
		}
	})
}
