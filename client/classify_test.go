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
		whole  bool
	}{
		{"ACCETTAZIONE: ", KindAcceptance, true},
		{"CONSEGNA: ", KindDelivery, false},
		{"AVVENUTA CONSEGNA: ", KindDelivery, false},
		{"AVVISO DI MANCATA CONSEGNA: ", KindNonDelivery, false},
		{"MANCATA CONSEGNA: ", KindNonDelivery, false},
		{"ERRORE CONSEGNA: ", KindNonDelivery, false},
		{"AVVISO DI NON ACCETTAZIONE: ", KindNonAcceptance, true},
		{"AVVISO DI NON ACCETTAZIONE PER VIRUS: ", KindVirus, true},
		{"AVVISO DI MANCATA CONSEGNA PER VIRUS: ", KindVirus, false},
		{"PROBLEMA DI SICUREZZA: ", KindVirus, false},
		{"AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO: ", KindTimeoutWarning, false},
		{"PREAVVISO DI MANCATA CONSEGNA: ", KindTimeoutWarning, false},
		{"PRESA IN CARICO: ", KindTakenInCharge, false},
		{"POSTA CERTIFICATA: ", KindTransport, false},
		{"ANOMALIA MESSAGGIO: ", KindAnomaly, false},
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
				want := Classification{Kind: tt.want, Subject: orig, Code: code, WholeMessage: tt.whole}
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
			Classification{Kind: KindAcceptance, Subject: "Re: CONSEGNA: documenti", Code: "2020082610003492", WholeMessage: true}},
		{"CONSEGNA: inside an unknown subject", "Promemoria CONSEGNA: domani 2020082610003492",
			Classification{Kind: KindUnknown, Subject: "Promemoria CONSEGNA: domani", Code: "2020082610003492"}},
		{"AVVISO DI MANCATA CONSEGNA inside an acceptance", "ACCETTAZIONE: AVVISO DI MANCATA CONSEGNA: test 202009211526363",
			Classification{Kind: KindAcceptance, Subject: "AVVISO DI MANCATA CONSEGNA: test", Code: "202009211526363", WholeMessage: true}},
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
			Classification{Kind: KindAcceptance, Code: "2020082610003492", WholeMessage: true}},
		{"no space before the code is no code", "CONSEGNA: Fattura-2020082610003492",
			Classification{Kind: KindDelivery, Subject: "Fattura-2020082610003492"}},
		{"a tab before the code is no code", "CONSEGNA: Fattura\t2020082610003492",
			Classification{Kind: KindDelivery, Subject: "Fattura\t2020082610003492"}},
		{"code right after the colon is no code", "CONSEGNA:2020082610003492",
			Classification{Kind: KindDelivery, Subject: "2020082610003492"}},
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
	const (
		nonDelivery = "Avviso di mancata consegna del messaggio\n\n"
		delivery    = "Ricevuta di avvenuta consegna del messaggio indirizzato a "
	)
	tests := []struct {
		name          string
		subject, body string
		wantKind      Kind
		wantAddressee string
		wantError     string
		wantText      bool
	}{
		{"non-delivery", "AVVISO DI MANCATA CONSEGNA: x 2020082610003492",
			nonDelivery + "e destinato all'utente \"Nessuno@Invalid.sandbox.test\"\n\ufffd stato rilevato il seguente errore:\n5.1.1 - sandbox - indirizzo non valido\nIl messaggio \ufffd stato rifiutato dal sistema.",
			KindNonDelivery, "nessuno@invalid.sandbox.test", "5.1.1 - sandbox - indirizzo non valido", true},
		{"non-delivery sentence without the notice's heading names nobody", "AVVISO DI MANCATA CONSEGNA: x",
			"e destinato all'utente \"a@b.it\"\nrilevato il seguente errore:\n5.1.1 - p", KindNonDelivery, "", "5.1.1 - p", false},
		{"error text on the anchor's line", "AVVISO DI MANCATA CONSEGNA: x",
			nonDelivery + "destinato all'utente a@b.it è stato rilevato il seguente errore: 5.2.2 - p - casella piena\r\nfine",
			KindNonDelivery, "a@b.it", "5.2.2 - p - casella piena", true},
		{"typographic apostrophe and quotes", "AVVISO DI MANCATA CONSEGNA: x",
			nonDelivery + "e destinato all\u2019utente \u201cA@B.it\u201d", KindNonDelivery, "a@b.it", "", true},
		{"lost apostrophe", "AVVISO DI MANCATA CONSEGNA: x",
			nonDelivery + "e destinato all\ufffdutente <a@b.it>", KindNonDelivery, "a@b.it", "", true},
		{"heading in capitals, after blank lines", "AVVISO DI MANCATA CONSEGNA: x",
			"\r\n\n  AVVISO DI MANCATA CONSEGNA\ne destinato all'utente \"a@b.it\"", KindNonDelivery, "a@b.it", "", true},
		{"delivery, first line", "CONSEGNA: x", delivery + "Mario@PEC.it (\"posta certificata\")",
			KindDelivery, "mario@pec.it", "", true},
		{"delivery, both sentences agree", "CONSEGNA: x",
			delivery + "a@b.it (\"posta certificata\")\n\nIl giorno ... il messaggio \"x\" proveniente da \"u@c.it\"\ned indirizzato a \"A@B.it\"\n\ufffd stato consegnato",
			KindDelivery, "a@b.it", "", true},
		{"delivery, the sentences disagree", "CONSEGNA: x",
			delivery + "a@b.it\n\nIl messaggio ed indirizzato a \"c@d.it\" \ufffd stato consegnato", KindDelivery, "", "", true},
		{"delivery, sentence form only", "CONSEGNA: Avviso 2020082610003492",
			"Ricevuta di avvenuta consegna\nIl giorno 26/08/2020 il messaggio\n\"Avviso\" proveniente da \"u@c.it\"\ned \u00e8 indirizzato a \"a@b.it\"\n\u00e8 stato consegnato nella casella di destinazione.",
			KindDelivery, "a@b.it", "", true},
		{"delivery, sentence with the accent lost", "CONSEGNA: x",
			"Ricevuta di avvenuta consegna\nIl messaggio ed \ufffd indirizzato a: a@b.it\n\ufffd stato consegnato", KindDelivery, "a@b.it", "", true},
		{"delivery naming a list names nobody", "CONSEGNA: x",
			delivery + "a@b.it (\"posta certificata\"), c@d.it (\"posta certificata\")", KindDelivery, "", "", true},
		{"the subject quoted in the receipt is not an anchor", "CONSEGNA: Atto indirizzato a legale@x.it 2020082610003492",
			"Ricevuta di avvenuta consegna\nIl messaggio \"Atto indirizzato a legale@x.it\" proveniente da \"u@c.it\"\ned indirizzato a \"a@b.it\"",
			KindDelivery, "a@b.it", "", true},
		{"the subject quoted in the receipt is blanked out", "CONSEGNA: Pratica ed indirizzato a c@d.it 2020082610003492",
			"Ricevuta di avvenuta consegna\nIl messaggio \u201cPratica ed indirizzato a c@d.it\u201d proveniente da \"u@c.it\"\ned indirizzato a \"a@b.it\"",
			KindDelivery, "a@b.it", "", true},
		{"the subject quoted in a non-delivery is blanked out", "AVVISO DI MANCATA CONSEGNA: Avviso e destinato all'utente c@d.it",
			nonDelivery + "nel messaggio \"Avviso e destinato all'utente c@d.it\" proveniente da \"u@c.it\"\ne destinato all'utente \"a@b.it\"",
			KindNonDelivery, "a@b.it", "", true},
		{"the original mail is not a receipt text", "CONSEGNA: x 2020082610003492",
			"Gentile utente, il plico indirizzato a ufficio.legale@example.it \ufffd pronto.", KindDelivery, "", "", false},
		{"the original mail quoting a receipt later is not a receipt text", "CONSEGNA: x",
			"Vi inoltriamo: Ricevuta di avvenuta consegna del messaggio indirizzato a a@b.it", KindDelivery, "", "", false},
		{"a heading of another kind names nobody", "CONSEGNA: x",
			nonDelivery + "e destinato all'utente \"a@b.it\"", KindDelivery, "", "", false},
		{"a delivery heading on a non-delivery names nobody", "AVVISO DI MANCATA CONSEGNA: x",
			delivery + "a@b.it", KindNonDelivery, "", "", false},
		{"a heading must be whole words", "CONSEGNA: x", "Ricevuta di avvenuta consegnata del messaggio indirizzato a a@b.it",
			KindDelivery, "", "", false},
		{"an acceptance concerns the whole message", "ACCETTAZIONE: x",
			"Ricevuta di accettazione del messaggio indirizzato a uno@pec.it (\"posta certificata\") ed indirizzato a:\ndue@pec.it",
			KindAcceptance, "", "", true},
		{"timeout warning", "AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO: x",
			nonDelivery + "e destinato all'utente \"lento@slow.sandbox.test\" non \ufffd stata ricevuta la ricevuta entro 12 ore",
			KindTimeoutWarning, "lento@slow.sandbox.test", "", true},
		{"timeout warning with another error code", "AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO: x",
			nonDelivery + "destinato all'utente x@y.it\nrilevato il seguente errore:\n4.4.7 - p - ritardo", KindTimeoutWarning, "x@y.it", "4.4.7 - p - ritardo", true},
		{"timeout expired", "AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO: x",
			"Preavviso di mancata consegna\ndestinato all'utente x@y.it\nrilevato il seguente errore:\n\n  5.4.1 - p - tempo scaduto", KindTimeoutExpired, "x@y.it", "5.4.1 - p - tempo scaduto", true},
		{"pre-warning variant expired", "PREAVVISO DI MANCATA CONSEGNA: x",
			"RILEVATO IL SEGUENTE ERRORE: 5.4.1 - p", KindTimeoutExpired, "", "5.4.1 - p", false},
		{"HTML body", "AVVISO DI MANCATA CONSEGNA: x",
			"<html><head><title>Avviso</title></head><body><!-- x --><p>Avviso di mancata consegna</p><p>destinato all&#39;utente &quot;a@b.it&quot; &egrave; stato rilevato il seguente errore:<br/>5.1.1 - p - no<br/>fine</p>",
			KindNonDelivery, "a@b.it", "5.1.1 - p - no", true},
		{"non-acceptance", "AVVISO DI NON ACCETTAZIONE: x 2020082610003492",
			"Avviso di non accettazione del messaggio\n\nIl giorno ... il messaggio con Oggetto \"x\" inviato da \"a@b.it\" ed indirizzato a:\n" +
				"c@d.it (\"posta certificata\")\nnon \ufffd stato accettato dal sistema a causa del seguente errore:\n" +
				"5.7.1 - sandbox - messaggio non accettato\nIl messaggio non \ufffd stato inoltrato.",
			KindNonAcceptance, "", "5.7.1 - sandbox - messaggio non accettato", true},
		{"a delivery carries no error text", "CONSEGNA: x", "Il nostro ufficio ha rilevato il seguente errore: 5.4.1 nella pratica",
			KindDelivery, "", "", false},
		{"not an address after the anchor", "CONSEGNA: x", delivery + "voi", KindDelivery, "", "", true},
		{"two @ is not an address", "CONSEGNA: x", delivery + "a@b@c", KindDelivery, "", "", true},
		{"anchor at the very end", "AVVISO DI MANCATA CONSEGNA: x", "rilevato il seguente errore:", KindNonDelivery, "", "", false},
		{"unterminated tag", "AVVISO DI MANCATA CONSEGNA: x", "rilevato il seguente errore:<br", KindNonDelivery, "", "", false},
		{"unterminated tag before the heading", "AVVISO DI MANCATA CONSEGNA: x", "<p Avviso di mancata consegna destinato all'utente a@b.it",
			KindNonDelivery, "", "", false},
		{"accented words are not needed", "AVVISO DI MANCATA CONSEGNA: x",
			nonDelivery + "destinato all'utente \"z@z.it\"\n\ufffd\ufffd stato rilevato il seguente errore:\n5.1.1 - \ufffd", KindNonDelivery, "z@z.it", "5.1.1 - \ufffd", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Classify(tt.subject, tt.body)
			if got.Kind != tt.wantKind || got.Addressee != tt.wantAddressee || got.ErrorText != tt.wantError || got.ReceiptText != tt.wantText {
				t.Errorf("got %+v, want kind %s addressee %q error %q receipt text %v", got, tt.wantKind, tt.wantAddressee, tt.wantError, tt.wantText)
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
