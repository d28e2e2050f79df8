package client

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestClassifyPrefixes(t *testing.T) {
	const orig, code = "Invio di prova pec massiva", "2020082610003492"
	tests := []struct {
		prefix string
		want   Kind
	}{
		{"ACCETTAZIONE: ", KindAcceptance},
		{"CONSEGNA: ", KindDelivery},
		{"AVVENUTA CONSEGNA: ", KindDelivery},
		{"AVVISO DI MANCATA CONSEGNA: ", KindNonDelivery},
		{"MANCATA CONSEGNA: ", KindNonDelivery},
		{"ERRORE CONSEGNA: ", KindNonDelivery},
		{"AVVISO DI NON ACCETTAZIONE: ", KindNonAcceptance},
		{"AVVISO DI NON ACCETTAZIONE PER VIRUS: ", KindVirus},
		{"AVVISO DI MANCATA CONSEGNA PER VIRUS: ", KindVirus},
		{"PROBLEMA DI SICUREZZA: ", KindVirus},
		{"AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO: ", KindTimeoutWarning},
		{"PREAVVISO DI MANCATA CONSEGNA: ", KindTimeoutWarning},
		{"PRESA IN CARICO: ", KindTakenInCharge},
		{"POSTA CERTIFICATA: ", KindTransport},
		{"ANOMALIA MESSAGGIO: ", KindAnomaly},
	}
	variants := map[string]func(string) string{
		"as is":            func(p string) string { return p },
		"lower case":       strings.ToLower,
		"mixed case":       func(p string) string { return strings.ToUpper(p[:1]) + strings.ToLower(p[1:]) },
		"no space":         func(p string) string { return strings.TrimSuffix(p, " ") },
		"leading space":    func(p string) string { return "  " + p },
		"two spaces after": func(p string) string { return p + " " },
	}
	for _, tt := range tests {
		for vname, v := range variants {
			t.Run(tt.prefix+"/"+vname, func(t *testing.T) {
				got := Classify(v(tt.prefix)+orig+" "+code, "")
				want := Classification{Kind: tt.want, Subject: orig, Code: code}
				if got != want {
					t.Errorf("got %+v, want %+v", got, want)
				}
			})
		}
	}
}

func TestClassifySubjects(t *testing.T) {
	tests := []struct {
		name    string
		subject string
		want    Classification
	}{
		{"AVVISO DI MANCATA CONSEGNA is never a delivery", "AVVISO DI MANCATA CONSEGNA: Fattura 2020082610003492",
			Classification{Kind: KindNonDelivery, Subject: "Fattura", Code: "2020082610003492"}},
		{"a subject containing CONSEGNA: later", "ACCETTAZIONE: Re: CONSEGNA: documenti 2020082610003492",
			Classification{Kind: KindAcceptance, Subject: "Re: CONSEGNA: documenti", Code: "2020082610003492"}},
		{"CONSEGNA: inside an unknown subject", "Promemoria CONSEGNA: domani 2020082610003492",
			Classification{Kind: KindUnknown, Subject: "Promemoria CONSEGNA: domani", Code: "2020082610003492"}},
		{"AVVISO DI MANCATA CONSEGNA inside an acceptance", "ACCETTAZIONE: AVVISO DI MANCATA CONSEGNA: test 202009211526363",
			Classification{Kind: KindAcceptance, Subject: "AVVISO DI MANCATA CONSEGNA: test", Code: "202009211526363"}},
		{"prefix without a colon is unknown", "CONSEGNA Fattura 2020082610003492",
			Classification{Kind: KindUnknown, Subject: "CONSEGNA Fattura", Code: "2020082610003492"}},
		{"CONSEGNATO is not CONSEGNA:", "CONSEGNATO: Fattura",
			Classification{Kind: KindUnknown, Subject: "CONSEGNATO: Fattura"}},
		{"no code", "CONSEGNA: Fattura",
			Classification{Kind: KindDelivery, Subject: "Fattura"}},
		{"a short trailing number is part of the subject", "CONSEGNA: Fattura 2024",
			Classification{Kind: KindDelivery, Subject: "Fattura 2024"}},
		{"a long number in the subject and the code", "CONSEGNA: Pratica 20240001234 2020082610003492",
			Classification{Kind: KindDelivery, Subject: "Pratica 20240001234", Code: "2020082610003492"}},
		{"empty original subject", "ACCETTAZIONE: 2020082610003492",
			Classification{Kind: KindAcceptance, Code: "2020082610003492"}},
		{"prefix only", "CONSEGNA:",
			Classification{Kind: KindDelivery}},
		{"empty", "", Classification{Kind: KindUnknown}},
		{"U+FFFD in the subject", "CONSEGNA: Comunicazione di propriet\ufffd 2020082610003492",
			Classification{Kind: KindDelivery, Subject: "Comunicazione di propriet\ufffd", Code: "2020082610003492"}},
		{"trailing code with extra spaces", "CONSEGNA:   Fattura   2020082610003492  ",
			Classification{Kind: KindDelivery, Subject: "Fattura", Code: "2020082610003492"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.subject, ""); got != tt.want {
				t.Errorf("Classify(%q) = %+v, want %+v", tt.subject, got, tt.want)
			}
		})
	}
}

func TestClassifyBodies(t *testing.T) {
	tests := []struct {
		name          string
		subject, body string
		wantKind      Kind
		wantAddressee string
		wantError     string
	}{
		{"non-delivery", "AVVISO DI MANCATA CONSEGNA: x 2020082610003492",
			"e destinato all'utente \"Nessuno@Invalid.sandbox.test\"\n\ufffd stato rilevato il seguente errore:\n5.1.1 - sandbox - indirizzo non valido\nIl messaggio \ufffd stato rifiutato dal sistema.",
			KindNonDelivery, "nessuno@invalid.sandbox.test", "5.1.1 - sandbox - indirizzo non valido"},
		{"error text on the anchor's line", "AVVISO DI MANCATA CONSEGNA: x",
			"destinato all'utente a@b.it è stato rilevato il seguente errore: 5.2.2 - p - casella piena\r\nfine",
			KindNonDelivery, "a@b.it", "5.2.2 - p - casella piena"},
		{"typographic apostrophe and quotes", "AVVISO DI MANCATA CONSEGNA: x",
			"e destinato all\u2019utente \u201cA@B.it\u201d", KindNonDelivery, "a@b.it", ""},
		{"lost apostrophe", "AVVISO DI MANCATA CONSEGNA: x",
			"e destinato all\ufffdutente <a@b.it>", KindNonDelivery, "a@b.it", ""},
		{"delivery", "CONSEGNA: x", "Ricevuta di avvenuta consegna del messaggio indirizzato a Mario@PEC.it (\"posta certificata\")",
			KindDelivery, "mario@pec.it", ""},
		{"acceptance names the first recipient", "ACCETTAZIONE: x",
			"Ricevuta di accettazione del messaggio indirizzato a uno@pec.it (\"posta certificata\") ed indirizzato a:\ndue@pec.it",
			KindAcceptance, "uno@pec.it", ""},
		{"timeout warning", "AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO: x",
			"e destinato all'utente \"lento@slow.sandbox.test\" non \ufffd stata ricevuta la ricevuta entro 12 ore",
			KindTimeoutWarning, "lento@slow.sandbox.test", ""},
		{"timeout warning with another error code", "AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO: x",
			"destinato all'utente x@y.it\nrilevato il seguente errore:\n4.4.7 - p - ritardo", KindTimeoutWarning, "x@y.it", "4.4.7 - p - ritardo"},
		{"timeout expired", "AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO: x",
			"destinato all'utente x@y.it\nrilevato il seguente errore:\n\n  5.4.1 - p - tempo scaduto", KindTimeoutExpired, "x@y.it", "5.4.1 - p - tempo scaduto"},
		{"pre-warning variant expired", "PREAVVISO DI MANCATA CONSEGNA: x",
			"RILEVATO IL SEGUENTE ERRORE: 5.4.1 - p", KindTimeoutExpired, "", "5.4.1 - p"},
		{"HTML body", "AVVISO DI MANCATA CONSEGNA: x",
			"<p>destinato all&#39;utente &quot;a@b.it&quot; &egrave; stato rilevato il seguente errore:<br/>5.1.1 - p - no<br/>fine</p>",
			KindNonDelivery, "a@b.it", "5.1.1 - p - no"},
		{"non-acceptance", "AVVISO DI NON ACCETTAZIONE: x 2020082610003492",
			"Avviso di non accettazione del messaggio\n\nIl giorno ... il messaggio con Oggetto \"x\" inviato da \"a@b.it\" ed indirizzato a:\n" +
				"c@d.it (\"posta certificata\")\nnon \ufffd stato accettato dal sistema a causa del seguente errore:\n" +
				"5.7.1 - sandbox - messaggio non accettato\nIl messaggio non \ufffd stato inoltrato.",
			KindNonAcceptance, "", "5.7.1 - sandbox - messaggio non accettato"},
		{"not an address after the anchor", "CONSEGNA: x", "indirizzato a voi", KindDelivery, "", ""},
		{"two @ is not an address", "CONSEGNA: x", "indirizzato a a@b@c", KindDelivery, "", ""},
		{"anchor at the very end", "AVVISO DI MANCATA CONSEGNA: x", "rilevato il seguente errore:", KindNonDelivery, "", ""},
		{"unterminated tag", "AVVISO DI MANCATA CONSEGNA: x", "rilevato il seguente errore:<br", KindNonDelivery, "", ""},
		{"accented words are not needed", "AVVISO DI MANCATA CONSEGNA: x",
			"destinato all'utente \"z@z.it\"\n\ufffd\ufffd stato rilevato il seguente errore:\n5.1.1 - \ufffd", KindNonDelivery, "z@z.it", "5.1.1 - \ufffd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Classify(tt.subject, tt.body)
			if got.Kind != tt.wantKind || got.Addressee != tt.wantAddressee || got.ErrorText != tt.wantError {
				t.Errorf("got %+v, want kind %s addressee %q error %q", got, tt.wantKind, tt.wantAddressee, tt.wantError)
			}
		})
	}
}

// TestPrefixRulesOrder enforces "longest prefix first": no rule may be shadowed by an earlier, shorter one.
func TestPrefixRulesOrder(t *testing.T) {
	for i, r := range prefixRules {
		if i > 0 && len(r.prefix) > len(prefixRules[i-1].prefix) {
			t.Errorf("rule %q comes after the shorter %q", r.prefix, prefixRules[i-1].prefix)
		}
		for _, earlier := range prefixRules[:i] {
			if strings.HasPrefix(strings.ToUpper(r.prefix), strings.ToUpper(earlier.prefix)) {
				t.Errorf("rule %q is shadowed by %q", r.prefix, earlier.prefix)
			}
		}
		if r.prefix != strings.ToUpper(r.prefix) || !strings.HasSuffix(r.prefix, ":") {
			t.Errorf("rule %q: prefixes are upper case and end with a colon", r.prefix)
		}
	}
}

func TestKindMethods(t *testing.T) {
	tests := []struct {
		kind                                    Kind
		final, failed, delivered, informational bool
	}{
		{KindAcceptance, false, false, false, false},
		{KindDelivery, true, false, true, false},
		{KindNonDelivery, true, true, false, false},
		{KindNonAcceptance, true, true, false, false},
		{KindVirus, true, true, false, false},
		{KindTimeoutWarning, false, false, false, false},
		{KindTimeoutExpired, true, true, false, false},
		{KindAnomaly, true, true, false, false},
		{KindTransport, false, false, false, true},
		{KindTakenInCharge, false, false, false, true},
		{KindUnknown, false, false, false, true},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			if tt.kind.Final() != tt.final || tt.kind.Failed() != tt.failed ||
				tt.kind.Delivered() != tt.delivered || tt.kind.Informational() != tt.informational {
				t.Errorf("Final %v Failed %v Delivered %v Informational %v", tt.kind.Final(), tt.kind.Failed(),
					tt.kind.Delivered(), tt.kind.Informational())
			}
		})
	}
}

// TestClassifyGolden classifies the realistic receipts of testdata/receipts (first line the subject, then a
// blank line, then the body) and compares with the .golden.json beside each.
func TestClassifyGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/receipts/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no receipts in testdata: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			subject, body, _ := strings.Cut(string(raw), "\n\n")
			got, err := json.MarshalIndent(Classify(subject, body), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := strings.TrimSuffix(f, ".txt") + ".golden.json"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}
