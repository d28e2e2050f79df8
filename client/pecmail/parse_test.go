package pecmail

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// receiptView is what a golden file holds of a Receipt: everything but the raw bytes and their hash.
type receiptView struct {
	Subject     string
	Kind        string
	Code        string
	Daticert    *Daticert
	DaticertErr string
	Signature   Signature
	Agrees      bool
}

func view(r Receipt) receiptView {
	return receiptView{r.Subject, r.Kind, r.Code, r.Daticert, r.DaticertErr, r.Signature, r.Agrees}
}

func TestParseFixtures(t *testing.T) {
	t.Parallel()
	pki := newPKI(t, "Gestore Test")
	tests := []struct {
		name, kind, tipo, consegna string
	}{
		{"accettazione", "accettazione", "accettazione", ""},
		{"consegna", "avvenuta-consegna", "avvenuta-consegna", "mario.rossi@pec.example.it"},
		{"consegna-latin1", "avvenuta-consegna", "avvenuta-consegna", "mario.rossi@pec.example.it"},
		{"errore-consegna", "errore-consegna", "errore-consegna", "luca.verdi@pec.example.it"},
		{"preavviso", "preavviso-errore-consegna", "preavviso-errore-consegna", "giulia.neri@pec.example.it"},
		{"non-accettazione", "non-accettazione", "non-accettazione", ""},
		{"posta-certificata", "posta-certificata", "posta-certificata", ""},
	}
	if len(tests) != len(fixtureNames) {
		t.Fatalf("%d cases for %d fixtures", len(tests), len(fixtureNames))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			outer, inner := fixture(t, tt.name)
			raw := signedMessage(t, pki, outer, inner, "application/pkcs7-signature")
			r := Parse(raw, pki.pool)
			if !bytes.Equal(r.Raw, raw) {
				t.Error("Raw is not the message as given")
			}
			if r.Signature.Status != SigValid || !strings.Contains(r.Signature.Signer, "CN=Posta Certificata Gestore Test") {
				t.Errorf("signature = %+v, want valid by the test provider", r.Signature)
			}
			if r.Kind != tt.kind || r.Daticert == nil || r.Daticert.Tipo != tt.tipo || r.Daticert.Consegna != tt.consegna {
				t.Errorf("kind %q, daticert %+v (%s); want kind %q, tipo %q, consegna %q",
					r.Kind, r.Daticert, r.DaticertErr, tt.kind, tt.tipo, tt.consegna)
			}
			if !r.Agrees {
				t.Error("Agrees = false for a consistent receipt")
			}
			checkGolden(t, filepath.Join("testdata", tt.name+".golden.json"), view(r))
		})
	}
}

func checkGolden(t *testing.T, path string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\n got: %s\nwant: %s", path, got, want)
	}
}

func TestParseSignature(t *testing.T) {
	t.Parallel()
	pki := newPKI(t, "Gestore Test")
	other := newPKI(t, "Altro Gestore")
	outer, inner := fixture(t, "consegna")
	signed := signedMessage(t, pki, outer, inner, "application/pkcs7-signature")
	tamper := func(b []byte) []byte {
		// One byte of the delivery text inside the signed part.
		i := bytes.Index(b, []byte("consegnato"))
		if i < 0 {
			t.Fatal("fixture lost its delivery text")
		}
		out := bytes.Clone(b)
		out[i] = 'C'
		return out
	}
	tests := []struct {
		name       string
		raw        []byte
		trust      bool
		otherTrust bool
		want       string
		detail     string
	}{
		{"valid", signed, true, false, SigValid, ""},
		{"valid-untrusted without roots", signed, false, false, SigValidUntrusted, "not checked"},
		{"valid-untrusted other root", signed, false, true, SigValidUntrusted, "does not reach"},
		{"invalid one byte changed", tamper(signed), true, false, SigInvalid, "does not verify"},
		{"missing", unsigned(outer, inner), true, false, SigMissing, ""},
		{"x-pkcs7-signature", signedMessage(t, pki, outer, inner, "application/x-pkcs7-signature"), true, false, SigValid, ""},
		{"opaque signed-data", opaqueMessage(t, pki, outer, inner), true, false, SigValid, ""},
		{"LF line endings", toLF(signed), true, false, SigValid, ""},
		{"LF line endings one byte changed", tamper(toLF(signed)), true, false, SigInvalid, "does not verify"},
		{"protocol parameter missing", mustReplace(t, signed, `protocol="application/pkcs7-signature"; `, ""),
			true, false, SigValid, ""},
		{"PGP protocol", mustReplace(t, signed, `protocol="application/pkcs7-signature"`, `protocol="application/pgp-signature"`),
			true, false, SigInvalid, "unsupported"},
		{"signature not PKCS#7", mustReplace(t, signed, "MII", "AAA"), true, false, SigInvalid, "not PKCS#7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			trust := pki.pool
			switch {
			case tt.otherTrust:
				trust = other.pool
			case !tt.trust:
				trust = nil
			}
			r := Parse(tt.raw, trust)
			if r.Signature.Status != tt.want || !strings.Contains(r.Signature.Detail, tt.detail) {
				t.Errorf("signature = %+v, want %s with detail containing %q", r.Signature, tt.want, tt.detail)
			}
			if (tt.want == SigValid || tt.want == SigValidUntrusted) && r.Signature.Signer == "" {
				t.Error("no signer recorded")
			}
			// Whatever the signature, the daticert is read: an altered receipt must still show what it claims.
			if r.Daticert == nil || r.Daticert.Consegna != "mario.rossi@pec.example.it" {
				t.Errorf("daticert = %+v (%s)", r.Daticert, r.DaticertErr)
			}
		})
	}
}

func TestParseAgrees(t *testing.T) {
	t.Parallel()
	pki := newPKI(t, "Gestore Test")
	outer, inner := fixture(t, "consegna")
	replace := func(b []byte, old, new string) []byte { return mustReplace(t, b, old, new) }
	noDaticert := replace(inner, `filename="daticert.xml"`, `filename="altro.bin"`)
	noDaticert = replace(noDaticert, "application/xml", "application/octet-stream")
	tests := []struct {
		name      string
		outer     []byte
		inner     []byte
		agrees    bool
		noDatiErr bool
	}{
		{"consistent, oggetto without the code", outer, inner, true, true},
		{"consistent, oggetto with the code", outer,
			replace(inner, "<oggetto>Notifica verbale n. 12/2026</oggetto>",
				"<oggetto>Notifica verbale n. 12/2026 2612010000123456</oggetto>"), true, true},
		{"daticert names another subject", outer,
			replace(inner, "<oggetto>Notifica verbale n. 12/2026</oggetto>", "<oggetto>Altro oggetto</oggetto>"), false, true},
		{"daticert names another kind", outer,
			replace(inner, `tipo="avvenuta-consegna"`, `tipo="errore-consegna"`), false, true},
		{"header names another kind", replace(outer, "X-Ricevuta: avvenuta-consegna", "X-Ricevuta: accettazione"),
			inner, false, true},
		{"kind from the subject when the header is gone", replace(outer, "X-Ricevuta: avvenuta-consegna", "X-Altro: x"),
			inner, true, true},
		{"no daticert", outer, noDaticert, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := Parse(signedMessage(t, pki, tt.outer, tt.inner, "application/pkcs7-signature"), pki.pool)
			if r.Agrees != tt.agrees {
				t.Errorf("Agrees = %v, want %v (kind %q, daticert %+v)", r.Agrees, tt.agrees, r.Kind, r.Daticert)
			}
			if (r.DaticertErr == "") != tt.noDatiErr {
				t.Errorf("DaticertErr = %q", r.DaticertErr)
			}
			if r.Signature.Status != SigValid {
				t.Errorf("signature = %+v", r.Signature)
			}
		})
	}
}

func TestParseHeaders(t *testing.T) {
	t.Parallel()
	pki := newPKI(t, "Gestore Test")
	tests := []struct {
		name, fixture, subject, code, oggetto string
	}{
		{"encoded-word subject in iso-8859-1, folded", "consegna-latin1",
			"CONSEGNA: Notifica verbale n. 12/2026 attività produttive 2612010000123456", "2612010000123456",
			"Notifica verbale n. 12/2026 attività produttive"},
		{"folded plain subject", "errore-consegna",
			"AVVISO DI MANCATA CONSEGNA: Notifica verbale n. 12/2026 2612010000123456", "2612010000123456",
			"Notifica verbale n. 12/2026 2612010000123456"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			outer, inner := fixture(t, tt.fixture)
			for _, raw := range [][]byte{signedMessage(t, pki, outer, inner, "application/pkcs7-signature"),
				toLF(signedMessage(t, pki, outer, inner, "application/pkcs7-signature"))} {
				r := Parse(raw, pki.pool)
				if r.Subject != tt.subject || r.Code != tt.code {
					t.Errorf("subject %q code %q, want %q %q", r.Subject, r.Code, tt.subject, tt.code)
				}
				if r.Daticert == nil || r.Daticert.Oggetto != tt.oggetto {
					t.Errorf("daticert %+v (%s), want oggetto %q", r.Daticert, r.DaticertErr, tt.oggetto)
				}
			}
		})
	}
}

func TestParseDaticert(t *testing.T) {
	t.Parallel()
	const head = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"
	rome := time.FixedZone("+0100", 3600)
	tests := []struct {
		name    string
		xml     string
		want    Daticert
		wantErr string
	}{
		{"minimal, no ricevuta nor consegna",
			head + `<postacert tipo="accettazione" errore="nessuno"><intestazione><oggetto> Oggetto </oggetto></intestazione>` +
				`<dati><data zona="+0100"><giorno>01/12/2026</giorno><ora>10:00:01</ora></data></dati></postacert>`,
			Daticert{Tipo: "accettazione", Errore: "nessuno", Oggetto: "Oggetto",
				Data: time.Date(2026, 12, 1, 10, 0, 1, 0, rome)}, ""},
		{"external entity is not resolved (lenient mode keeps it as text)",
			head + `<!DOCTYPE postacert [<!ENTITY x SYSTEM "file:///etc/passwd">]>` +
				`<postacert tipo="avvenuta-consegna"><intestazione><oggetto>a&x;b</oggetto></intestazione></postacert>`,
			Daticert{Tipo: "avvenuta-consegna", Oggetto: "a&x;b"}, ""}, // kept as text, never read
		{"html entity in free text",
			`<postacert tipo="errore-consegna"><dati><errore-esteso>5.1.1&nbsp;-&nbsp;non valido</errore-esteso></dati></postacert>`,
			Daticert{Tipo: "errore-consegna", ErroreEsteso: "5.1.1\u00a0-\u00a0non valido"}, ""},
		{"unreadable date and zone",
			`<postacert tipo="accettazione"><dati><data zona="CET"><giorno>1 dicembre</giorno><ora>x</ora></data></dati></postacert>`,
			Daticert{Tipo: "accettazione"}, ""},
		{"date in an unreadable zone keeps the date in UTC",
			`<postacert tipo="accettazione"><dati><data zona="CET"><giorno>01/12/2026</giorno><ora>10:00:01</ora></data></dati></postacert>`,
			Daticert{Tipo: "accettazione", Data: time.Date(2026, 12, 1, 10, 0, 1, 0, time.UTC)}, ""},
		{"another root element", `<ricevuta tipo="accettazione"/>`, Daticert{}, "postacert"},
		{"not XML", "ciao", Daticert{}, "daticert"},
		{"empty", "", Daticert{}, "daticert"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := parseDaticert([]byte(tt.xml), false)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !d.Data.Equal(tt.want.Data) {
				t.Errorf("Data = %v, want %v", d.Data, tt.want.Data)
			}
			d.Data, tt.want.Data = time.Time{}, time.Time{}
			got, _ := json.Marshal(d)
			want, _ := json.Marshal(tt.want)
			if !bytes.Equal(got, want) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}
