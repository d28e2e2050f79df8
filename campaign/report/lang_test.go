package report

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestParseLang(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Lang
		ok   bool
	}{{"it", Italian, true}, {"EN", English, true}, {" en ", English, true}, {"fr", "", false}, {"", "", false}} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseLang(tc.in)
			if got != tc.want || (err == nil) != tc.ok {
				t.Errorf("ParseLang(%q) = %q, %v", tc.in, got, err)
			}
		})
	}
}

func TestParseOnly(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Only
		ok   bool
	}{{"", All, true}, {"all", All, true}, {"undelivered", OnlyUndelivered, true}, {"Undelivered", OnlyUndelivered, true},
		{"delivered", "", false}} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseOnly(tc.in)
			if got != tc.want || (err == nil) != tc.ok {
				t.Errorf("ParseOnly(%q) = %q, %v", tc.in, got, err)
			}
		})
	}
}

// TestCatalogue checks the one catalogue: every key once, every text in
// both languages, the same fmt verbs in both, and every state named.
func TestCatalogue(t *testing.T) {
	verbs := regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z%]`)
	seen := map[string]bool{}
	for _, e := range catalogue() {
		if seen[e.key] {
			t.Errorf("key %q twice", e.key)
		}
		seen[e.key] = true
		if e.en == "" || e.it == "" {
			t.Errorf("%s: a language is missing (%q, %q)", e.key, e.en, e.it)
		}
		if a, b := strings.Join(verbs.FindAllString(e.en, -1), " "), strings.Join(verbs.FindAllString(e.it, -1), " "); a != b {
			t.Errorf("%s: verbs %q in English, %q in Italian", e.key, a, b)
		}
	}
	it, en := printer(Italian), printer(English)
	for _, st := range reportStates(en, English) {
		if stateName(it, st.State) == st.State && st.State != "accepted" {
			t.Errorf("state %s has no Italian name", st.State)
		}
		if stateName(en, st.State) != st.State {
			t.Errorf("state %s is %q in English, want its code", st.State, stateName(en, st.State))
		}
	}
	for _, odd := range []string{"quarantined", "%d%s", "Delivered", ""} {
		if got := stateName(it, odd); got != odd {
			t.Errorf("stateName(%q) = %q: a state the catalogue lacks must keep its name", odd, got)
		}
	}
	if got := it.Sprintf("share", 12.5); got != "12,5%" {
		t.Errorf("Italian share = %q, want 12,5%%", got)
	}
}

// TestDiagnosis checks why and what next for each kind of non-delivery,
// from the state and the provider's words.
func TestDiagnosis(t *testing.T) {
	for _, tc := range []struct {
		state, err   string
		reason, next string
	}{
		{"accepted_not_certifiable", "", "reason.not_pec", "next.not_pec"},
		{"failed", "5.2.2 - sandbox - casella piena", "reason.full", "next.full"},
		{"failed", "552 mailbox full", "reason.full", "next.full"},
		{"failed", "5.1.1 - sandbox - indirizzo non valido", "reason.invalid", "next.invalid"},
		{"failed", "utente inesistente", "reason.invalid", "next.invalid"},
		{"failed", "5.7.1 - sandbox - virus rilevato nel messaggio", "reason.virus", "next.virus"},
		{"failed", "5.7.1 - sandbox - messaggio non accettato", "reason.not_accepted", "next.check"},
		{"failed", "something else", "reason.failed", "next.check"},
		{"expired", "5.4.1 - tempo massimo", "reason.expired", "next.expired"},
		{"rejected", "400 Bad Request", "reason.rejected", "next.rejected"},
		{"unknown", "timeout", "reason.unknown", "next.unknown"},
	} {
		t.Run(tc.state+" "+tc.err, func(t *testing.T) {
			if !Undelivered(tc.state) {
				t.Errorf("Undelivered(%q) = false", tc.state)
			}
			reason, next := diagnosis(tc.state, tc.err)
			if reason != tc.reason || next != tc.next {
				t.Errorf("diagnosis = %s, %s; want %s, %s", reason, next, tc.reason, tc.next)
			}
		})
	}
	for _, s := range []string{"delivered", "pending", "sending", "submitted", "accepted"} {
		if Undelivered(s) {
			t.Errorf("Undelivered(%q) = true", s)
		}
	}
}

// TestReportHTMLItalian checks the default page: Italian, "Da ricontattare"
// first with every undelivered recipient and what to do, Italian dates.
func TestReportHTMLItalian(t *testing.T) {
	page := writeHTML(t, fixtureData(), Options{})
	for _, want := range []string{`<html lang="it">`, "Rapporto di consegna: Solleciti &lt;marzo&gt; 2025", "Totali per stato",
		`<time datetime="2025-03-02T10:00:06&#43;01:00">02/03/2025 10:00:06</time>`,
		"In attesa di esito, non elencati qui: 2 destinatari.",
		"<code>pecbatch run</code>"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	undelivered, totals := strings.Index(page, `<section id="undelivered"`), strings.Index(page, `<section id="totals"`)
	if undelivered < 0 || undelivered > totals || strings.Index(page, "<main>") > undelivered ||
		strings.TrimSpace(page[strings.Index(page, "<main>")+len("<main>"):undelivered]) != "" {
		t.Fatalf("the undelivered section is not the first of the page")
	}
	section := page[undelivered:totals]
	got := regexp.MustCompile(`<tr data-state="([a-z_]+)"><td class="num">(\d+)</td>`).FindAllStringSubmatch(section, -1)
	var lines []string
	for _, m := range got {
		lines = append(lines, m[2]+"="+m[1])
	}
	if want := "2=failed 3=expired 5=accepted_not_certifiable 7=rejected 8=unknown"; strings.Join(lines, " ") != want {
		t.Errorf("Da ricontattare lists %q, want %q", strings.Join(lines, " "), want)
	}
	for _, want := range []string{"indirizzo inesistente o non valido", "inviare per raccomandata A/R",
		"nessuna ricevuta di consegna entro il tempo massimo"} {
		if !strings.Contains(section, want) {
			t.Errorf("Da ricontattare lacks %q", want)
		}
	}
	t.Run("nothing to contact again", func(t *testing.T) {
		d := &Data{Campaign: "ok", Counts: map[string]int{"delivered": 1},
			Rows: seqOf([]Row{{Row: 1, Key: "A", Recipient: "a@pec.example.it", State: "delivered", SubmittedAt: at(10, 0, 0)}})}
		if page := writeHTML(t, d, Options{}); !strings.Contains(page, "Nessun destinatario da ricontattare.") {
			t.Error("an all-delivered page does not say there is no one to contact again")
		}
	})
	t.Run("only undelivered", func(t *testing.T) {
		page := writeHTML(t, fixtureData(), Options{Only: OnlyUndelivered})
		if strings.Contains(page, "mario.rossi@pec.example.it") || !strings.Contains(page, "respinto@pec.example.it") {
			t.Error("--only undelivered lists a delivered recipient or lacks a rejected one")
		}
		// The totals stay the campaign's.
		if !strings.Contains(page, `data-total="rows">9<`) {
			t.Error("the totals of --only undelivered are not the campaign's")
		}
	})
}

// TestReportLocationDefault checks that without a Location times are in
// Europe/Rome, whatever the machine's zone.
func TestReportLocationDefault(t *testing.T) {
	rome, err := time.LoadLocation(DefaultZone)
	if err != nil {
		t.Fatal(err)
	}
	if got := (Options{}).location(); got.String() != rome.String() {
		t.Errorf("default location %s, want %s", got, rome)
	}
	d := &Data{Rows: seqOf([]Row{{Row: 1, Key: "A", Recipient: "a@pec.example.it", State: "delivered",
		SubmittedAt: time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC)}})}
	if out := string(writeCSV(t, d, Options{})); !strings.Contains(out, "2026-07-01T10:00:00+02:00") {
		t.Errorf("summer time in Rome not applied:\n%s", out)
	}
}

// TestReportCSS checks the page's style: the key and address columns
// break at spaces only, never inside an address.
func TestReportCSS(t *testing.T) {
	page := writeHTML(t, fixtureData(), Options{})
	style := page[strings.Index(page, "<style>"):strings.Index(page, "</style>")]
	for _, bad := range []string{"overflow-wrap: anywhere", "word-break: break-all; } table.rows td.key"} {
		if strings.Contains(style, bad) {
			t.Errorf("style has %q", bad)
		}
	}
	if !strings.Contains(style, "table.rows td.key, td.addr { overflow-wrap: normal; word-break: normal;") ||
		!strings.Contains(style, "td.addr { white-space: nowrap; }") {
		t.Error("the key and address columns may break addresses mid-word")
	}
	if !strings.Contains(page, `<td class="addr">ufficio@invalid.example.it</td>`) {
		t.Error("addresses are not in td.addr cells")
	}
}
