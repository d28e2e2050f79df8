package report

import (
	"bytes"
	"context"
	"errors"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/journal"
)

func europeRome(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestEffectiveForRecipient(t *testing.T) {
	loc := europeRome(t)
	at := func(y int, m time.Month, d, h, mi, s int) time.Time { return time.Date(y, m, d, h, mi, s, 0, loc) }
	for _, tc := range []struct {
		name            string
		delivered, want time.Time
	}{
		{"afternoon: at once", at(2026, 3, 10, 15, 30, 0), at(2026, 3, 10, 15, 30, 0)},
		{"07:00 sharp: at once", at(2026, 3, 10, 7, 0, 0), at(2026, 3, 10, 7, 0, 0)},
		{"20:59:59: at once", at(2026, 3, 10, 20, 59, 59), at(2026, 3, 10, 20, 59, 59)},
		{"21:00 sharp: next morning", at(2026, 3, 10, 21, 0, 0), at(2026, 3, 11, 7, 0, 0)},
		{"23:45: next morning", at(2026, 3, 10, 23, 45, 0), at(2026, 3, 11, 7, 0, 0)},
		{"00:10: the same morning", at(2026, 3, 11, 0, 10, 0), at(2026, 3, 11, 7, 0, 0)},
		{"06:59:59: the same morning", at(2026, 3, 11, 6, 59, 59), at(2026, 3, 11, 7, 0, 0)},
		{"31 December 22:00: 1 January", at(2025, 12, 31, 22, 0, 0), at(2026, 1, 1, 7, 0, 0)},
		// The night the clocks go forward (29 March 2026, 02:00 → 03:00).
		{"night of summer time", at(2026, 3, 28, 23, 0, 0), at(2026, 3, 29, 7, 0, 0)},
		// 19:30 UTC is 21:30 in Rome in summer: Rome's clock decides.
		{"UTC time, Rome's evening", time.Date(2026, 7, 1, 19, 30, 0, 0, time.UTC), at(2026, 7, 2, 7, 0, 0)},
		{"UTC time, Rome's afternoon", time.Date(2026, 1, 1, 19, 30, 0, 0, time.UTC), at(2026, 1, 1, 20, 30, 0)},
		{"never delivered", time.Time{}, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := EffectiveForRecipient(tc.delivered, loc); !got.Equal(tc.want) {
				t.Errorf("EffectiveForRecipient(%v) = %v, want %v", tc.delivered, got, tc.want)
			}
		})
	}
}

func TestSafeName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"1-mario.rossi@pec.it", "1-mario.rossi@pec.it"},
		{`3-a/b\c:d*e?f"g<h>i|j`, "3-a_b_c_d_e_f_g_h_i_j"},
		{"tab\there", "tab_here"},
		{"trailing dot. ", "trailing dot"},
		{"CON", "_CON"},
		{"com1.txt", "_com1.txt"},
		{"console.txt", "console.txt"},
		{"...", "_"},
		{strings.Repeat("è", 60), strings.Repeat("è", 40)},
	} {
		if got := safeName(tc.in); got != tc.want {
			t.Errorf("safeName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	used := map[string]bool{}
	if a, b, c := uniqueName("a.pdf", used), uniqueName("A.pdf", used), uniqueName("a.pdf", used); a != "a.pdf" || b != "A (2).pdf" || c != "a (3).pdf" {
		t.Errorf("uniqueName = %q, %q, %q", a, b, c)
	}
}

// evidenceJournal writes a journal of two sent rows with a fixed clock
// and ID: row 1 to two recipients, one delivered in the afternoon and one
// at night (effective at 07:00), row 2 failed. It returns the reader and
// the messages as sent.
func evidenceJournal(t *testing.T) (*journal.Reader, []*campaign.Message) {
	t.Helper()
	ctx := t.Context()
	msg := func(row int, key string, to []string, subject, body string, att ...campaign.Attachment) *campaign.Message {
		m := &campaign.Message{Row: row, Key: key, Recipients: to, Subject: subject, Body: []byte(body), Attachments: att}
		m.SHA256 = campaign.ContentHash(to, subject, m.Body, att)
		return m
	}
	msgs := []*campaign.Message{
		msg(1, "PRAT-001", []string{"mario.rossi@pec.example.it", "ufficio@pec.example.it"}, "Avviso di pagamento n. 1",
			"<p>Gentile Mario Rossi, <b>si allega</b> l'avviso.</p>",
			campaign.Attachment{Name: "avviso-1.pdf", ContentType: "application/pdf", Content: []byte("%PDF-1.4 avviso 1\n")},
			campaign.Attachment{Name: "informativa:privacy.txt", ContentType: "text/plain", Content: []byte("Informativa\n")}),
		msg(2, "PRAT/002", []string{"casella@invalid.example.it"}, "Avviso di pagamento n. 2", "<p>Gentile cliente</p>"),
	}
	path := filepath.Join(t.TempDir(), "avvisi.journal.db")
	clk := &reportClock{t: time.Date(2026, 3, 10, 13, 0, 0, 0, time.UTC)}
	j, err := journal.Open(ctx, path, journal.WithNow(clk.Now), journal.WithRand(bytes.NewReader(make([]byte, 64))))
	if err != nil {
		t.Fatal(err)
	}
	initEvidenceJournal(t, j, journal.Meta{Campaign: "avvisi-marzo", Endpoint: "sandbox:builtin", Sender: "ufficio@pec.comune.example.it",
		Fingerprint: journal.Fingerprint{"campaign file": strings.Repeat("ab", 32)}}, msgs)
	send := func(key, code string) journal.Row {
		row, err := j.RowByKey(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
		if err := j.MarkSending(ctx, row.ID); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
		if err := j.MarkSubmitted(ctx, row.ID, code); err != nil {
			t.Fatal(err)
		}
		return row
	}
	apply := func(row journal.Row, receipts []journal.Receipt, outcomes []journal.Outcome) {
		if _, err := j.ApplyReceipts(ctx, row.ID, receipts, outcomes); err != nil {
			t.Fatal(err)
		}
	}
	text := func(at time.Time) string { return at.In(europeRome(t)).Format("Mon, 02 Jan 2006 15:04:05 -0700") }

	row := send("PRAT-001", "PM000001")
	acc := clk.Now().Add(time.Second)
	clk.Advance(2 * time.Second)
	apply(row, []journal.Receipt{{Code: "PM000001", Kind: "acceptance", Date: acc, DateText: text(acc),
		Sender: "posta-certificata@pec.example.it", Recipient: "ufficio@pec.comune.example.it",
		Subject: "ACCETTAZIONE: Avviso di pagamento n. 1", Body: "Ricevuta di accettazione del messaggio"}},
		[]journal.Outcome{{Address: "mario.rossi@pec.example.it", State: journal.RecipientAccepted, At: acc},
			{Address: "ufficio@pec.example.it", State: journal.RecipientAccepted, At: acc}})
	day := acc.Add(4 * time.Second)                         // 14:00 in Rome
	night := time.Date(2026, 3, 10, 21, 40, 0, 0, time.UTC) // 22:40 in Rome
	clk.t = night.Add(time.Minute)
	apply(row, []journal.Receipt{
		{Code: "PM000001", Kind: "delivery", Date: day, DateText: text(day), Addressee: "mario.rossi@pec.example.it",
			Subject: "CONSEGNA: Avviso di pagamento n. 1", Body: "Ricevuta di avvenuta consegna del messaggio indirizzato a mario.rossi@pec.example.it"},
		{Code: "PM000001", Kind: "delivery", Date: night, DateText: text(night), Addressee: "ufficio@pec.example.it",
			Subject: "CONSEGNA: Avviso di pagamento n. 1", Body: "Ricevuta di avvenuta consegna del messaggio indirizzato a ufficio@pec.example.it"}},
		[]journal.Outcome{{Address: "mario.rossi@pec.example.it", State: journal.RecipientDelivered, At: day},
			{Address: "ufficio@pec.example.it", State: journal.RecipientDelivered, At: night}})

	row = send("PRAT/002", "PM000002")
	at := clk.Now().Add(time.Second)
	clk.Advance(3 * time.Second)
	apply(row, []journal.Receipt{{Code: "PM000002", Kind: "non-delivery", Date: at, DateText: text(at),
		Addressee: "casella@invalid.example.it", Subject: "AVVISO DI MANCATA CONSEGNA: Avviso di pagamento n. 2",
		Body: "È stato rilevato il seguente errore: 5.1.1 - indirizzo non valido", ErrorText: "5.1.1 - indirizzo non valido"}},
		[]journal.Outcome{{Address: "casella@invalid.example.it", State: journal.RecipientFailed, At: at, Error: "5.1.1 - indirizzo non valido"}})
	return reopenReadOnly(t, j, path), msgs
}

// messagesOf renders msgs as (*campaign.Campaign).Messages would, and
// counts the rows asked for.
func messagesOf(msgs []*campaign.Message, errs map[int]error) func(context.Context, func(int) bool) iter.Seq2[*campaign.Message, error] {
	return func(_ context.Context, only func(int) bool) iter.Seq2[*campaign.Message, error] {
		return func(yield func(*campaign.Message, error) bool) {
			for _, m := range msgs {
				if only != nil && !only(m.Row) {
					continue
				}
				if err := errs[m.Row]; err != nil {
					if !yield(nil, err) {
						return
					}
					continue
				}
				if !yield(m, nil) {
					return
				}
			}
		}
	}
}

var evidenceNow = func() time.Time { return time.Date(2026, 3, 12, 9, 30, 0, 0, time.UTC) }

func readPack(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEvidencePack(t *testing.T) {
	ctx := t.Context()
	r, msgs := evidenceJournal(t)
	dir := filepath.Join(t.TempDir(), "pack")
	res, err := SaveEvidence(ctx, r, dir, EvidenceOptions{Messages: messagesOf(msgs, nil), Now: evidenceNow})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 2 || len(res.Mismatched) != 0 {
		t.Fatalf("SaveEvidence = %+v, want 2 rows, none mismatched", res)
	}
	for name, want := range map[string]string{
		"1-PRAT-001/oggetto.txt":                      "Avviso di pagamento n. 1",
		"1-PRAT-001/corpo.html":                       string(msgs[0].Body),
		"1-PRAT-001/allegati/avviso-1.pdf":            "%PDF-1.4 avviso 1\n",
		"1-PRAT-001/allegati/informativa_privacy.txt": "Informativa\n",
		"2-PRAT_002/oggetto.txt":                      "Avviso di pagamento n. 2",
	} {
		if got := readPack(t, dir, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	rc := readPack(t, dir, "1-PRAT-001/ricevuta-03-CONSEGNA.txt")
	for _, want := range []string{"NON è la ricevuta firmata", "API PEC MASSIVA", "ufficio@pec.example.it", "10/03/2026 22:40:00 CET"} {
		if !strings.Contains(rc, want) {
			t.Errorf("the receipt file lacks %q:\n%s", want, rc)
		}
	}
	tl := readPack(t, dir, "2-PRAT_002/timeline.txt")
	for _, want := range []string{"intento di invio registrato", "messaggio inviato all'API", "ricevuta MANCATA-CONSEGNA per casella@invalid.example.it",
		"non consegnata a casella@invalid.example.it", "ricevute elaborate (nuove: 1); stato della riga: non consegnata"} {
		if !strings.Contains(tl, want) {
			t.Errorf("the timeline lacks %q:\n%s", want, tl)
		}
	}
	v, err := VerifyEvidence(dir)
	if err != nil || !v.OK() {
		t.Fatalf("VerifyEvidence = %+v, %v; want ok", v, err)
	}
	if v.Manifest.Campaign != "avvisi-marzo" || v.Manifest.Journal != r.ID() || !v.Manifest.CreatedAt.Equal(evidenceNow()) || v.Manifest.Rows != 2 {
		t.Errorf("manifest = %+v", v.Manifest)
	}

	t.Run("never overwritten", func(t *testing.T) {
		_, err := SaveEvidence(ctx, r, dir, EvidenceOptions{Messages: messagesOf(msgs, nil)})
		if !errors.Is(err, errPackExists) {
			t.Errorf("err = %v, want errPackExists", err)
		}
	})
	t.Run("key", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "pack")
		res, err := SaveEvidence(ctx, r, dir, EvidenceOptions{Messages: messagesOf(msgs, nil), Key: "PRAT/002"})
		if err != nil || res.Rows != 1 {
			t.Fatalf("SaveEvidence = %+v, %v", res, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "1-PRAT-001")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("row 1 is in a pack of row 2's key: %v", err)
		}
	})
	t.Run("no row", func(t *testing.T) {
		_, err := SaveEvidence(ctx, r, filepath.Join(t.TempDir(), "p"), EvidenceOptions{Messages: messagesOf(msgs, nil), Rows: func(n int) bool { return n > 5 }})
		if !errors.Is(err, ErrNoRowsSelected) {
			t.Errorf("err = %v, want ErrNoRowsSelected", err)
		}
	})
}

func TestEvidenceVerify(t *testing.T) {
	ctx := t.Context()
	r, msgs := evidenceJournal(t)
	for _, zipped := range []bool{false, true} {
		t.Run(map[bool]string{false: "folder", true: "zip"}[zipped], func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "pack")
			if zipped {
				path += ".zip"
			}
			res, err := SaveEvidence(ctx, r, path, EvidenceOptions{Messages: messagesOf(msgs, nil), Zip: zipped, Now: evidenceNow})
			if err != nil {
				t.Fatal(err)
			}
			v, err := VerifyEvidence(path)
			if err != nil || !v.OK() || len(v.Manifest.Files) < 12 {
				t.Fatalf("VerifyEvidence = %+v, %v; want ok", v, err)
			}
			if len(res.ManifestSHA256) != 64 || v.ManifestSHA256 != res.ManifestSHA256 {
				t.Errorf("manifest.json's SHA-256: %q when written, %q when verified", res.ManifestSHA256, v.ManifestSHA256)
			}
		})
	}
	dir := filepath.Join(t.TempDir(), "pack")
	if _, err := SaveEvidence(ctx, r, dir, EvidenceOptions{Messages: messagesOf(msgs, nil), Now: evidenceNow}); err != nil {
		t.Fatal(err)
	}
	att := filepath.Join(dir, "1-PRAT-001", "allegati", "avviso-1.pdf")
	b, err := os.ReadFile(att)
	if err != nil {
		t.Fatal(err)
	}
	b[3] ^= 1
	if err := os.WriteFile(att, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "2-PRAT_002", "timeline.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "2-PRAT_002", "nota.txt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := VerifyEvidence(dir)
	if err != nil {
		t.Fatal(err)
	}
	if v.OK() || !slices.Equal(v.Changed, []string{"1-PRAT-001/allegati/avviso-1.pdf"}) ||
		!slices.Equal(v.Missing, []string{"2-PRAT_002/timeline.txt"}) || !slices.Equal(v.Extra, []string{"2-PRAT_002/nota.txt"}) {
		t.Errorf("VerifyEvidence = changed %q, missing %q, extra %q", v.Changed, v.Missing, v.Extra)
	}
	if _, err := VerifyEvidence(t.TempDir()); err == nil || !strings.Contains(err.Error(), "manifest.json") {
		t.Errorf("a folder without a manifest: err = %v", err)
	}
}

func TestEvidenceChangedAfterSend(t *testing.T) {
	ctx := t.Context()
	r, msgs := evidenceJournal(t)
	changed := *msgs[0]
	changed.Attachments = slices.Clone(changed.Attachments)
	changed.Attachments[0].Content = []byte("%PDF-1.4 avviso 1, corretto\n")
	changed.SHA256 = campaign.ContentHash(changed.Recipients, changed.Subject, changed.Body, changed.Attachments)
	dir := filepath.Join(t.TempDir(), "pack")
	res, err := SaveEvidence(ctx, r, dir, EvidenceOptions{Now: evidenceNow,
		Messages: messagesOf([]*campaign.Message{&changed, msgs[1]}, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Mismatched, []int{1}) {
		t.Errorf("mismatched rows = %v, want [1]", res.Mismatched)
	}
	entries, err := os.ReadDir(filepath.Join(dir, "1-PRAT-001"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"NON-CORRISPONDE.txt", "attestazione.html", "ricevuta-01-ACCETTAZIONE.txt", "ricevuta-02-CONSEGNA.txt",
		"ricevuta-03-CONSEGNA.txt", "timeline.txt"}
	if !slices.Equal(names, want) {
		t.Errorf("row 1's folder holds %q, want %q (no message files)", names, want)
	}
	text := readPack(t, dir, "1-PRAT-001/NON-CORRISPONDE.txt")
	for _, w := range []string{"cambiati dopo l'invio", msgs[0].SHA256, changed.SHA256} {
		if !strings.Contains(text, w) {
			t.Errorf("NON-CORRISPONDE.txt lacks %q:\n%s", w, text)
		}
	}
	if page := readPack(t, dir, "1-PRAT-001/attestazione.html"); !strings.Contains(page, "cambiati dopo l'invio") {
		t.Errorf("the attestazione does not say the files changed")
	}
	if got := readPack(t, dir, "2-PRAT_002/oggetto.txt"); got != msgs[1].Subject {
		t.Errorf("row 2, unchanged, lost its message: %q", got)
	}

	t.Run("row no longer renders", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "pack")
		rowErr := &campaign.RowError{Row: 2, Line: 3, Problems: []campaign.Problem{{Message: "the column importo is empty"}}}
		res, err := SaveEvidence(ctx, r, dir, EvidenceOptions{Messages: messagesOf(msgs, map[int]error{2: rowErr})})
		if err != nil || !slices.Equal(res.Mismatched, []int{2}) {
			t.Fatalf("SaveEvidence = %+v, %v; want row 2 mismatched", res, err)
		}
		if text := readPack(t, dir, "2-PRAT_002/NON-CORRISPONDE.txt"); !strings.Contains(text, "importo") || !strings.Contains(text, "non ricostruibile") {
			t.Errorf("NON-CORRISPONDE.txt does not say why:\n%s", text)
		}
	})
}

func TestAttestazioneGolden(t *testing.T) {
	r, msgs := evidenceJournal(t)
	dir := filepath.Join(t.TempDir(), "pack")
	if _, err := SaveEvidence(t.Context(), r, dir, EvidenceOptions{Messages: messagesOf(msgs, nil), Now: evidenceNow}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"1-PRAT-001", "2-PRAT_002"} {
		t.Run(name, func(t *testing.T) {
			page := readPack(t, dir, name+"/attestazione.html")
			golden := filepath.Join("testdata", "evidence", name+".attestazione.html")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(page), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if page != string(want) {
				t.Errorf("attestazione.html differs from %s (go test -update to accept):\n%s", golden, page)
			}
		})
	}
	page := readPack(t, dir, "1-PRAT-001/attestazione.html")
	for _, want := range []string{"10/03/2026 14:00:07 CET", "10/03/2026 22:40:00 CET", "11/03/2026 07:00:00 CET",
		"consegna tra le 21 e le 7", "non sono state raccolte", msgs[0].SHA256, "inviato con il nome «informativa:privacy.txt»"} {
		if !strings.Contains(page, want) {
			t.Errorf("the attestazione lacks %q", want)
		}
	}
}

// TestSentSubject: the subject written as sent is the journal's when it is
// the subject rendered now, alone or with the row's reference; any other
// journaled subject means the message is not the one sent.
func TestSentSubject(t *testing.T) {
	const id = "0123456789abcdef0123456789abcdef"
	ref := campaign.SubjectReference(id, "PRAT-1")
	for _, c := range []struct {
		name, journaled, now string
		want                 bool
	}{
		{"plain", "Avviso n. 1", "Avviso n. 1", true},
		{"with the reference", "Avviso n. 1" + ref, "Avviso n. 1", true},
		{"another row's reference", "Avviso n. 1" + campaign.SubjectReference(id, "PRAT-2"), "Avviso n. 1", false},
		{"another journal's reference", "Avviso n. 1" + campaign.SubjectReference("ffff", "PRAT-1"), "Avviso n. 1", false},
		{"changed", "Avviso n. 1", "Avviso n. 2", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			row := journal.Row{Key: "PRAT-1", Subject: c.journaled}
			if got := sentSubject(row, c.now, id); got != c.want {
				t.Errorf("sentSubject(%q, %q) = %v, want %v", c.journaled, c.now, got, c.want)
			}
		})
	}
}

// initEvidenceJournal initialises j with one row per message, as a run's
// preflight does.
func initEvidenceJournal(t *testing.T, j *journal.Journal, meta journal.Meta, msgs []*campaign.Message) {
	t.Helper()
	rows := func(yield func(journal.NewRow, error) bool) {
		for _, m := range msgs {
			if !yield(journal.NewRow{Key: m.Key, RowNumber: m.Row, Recipients: m.Recipients, Subject: m.Subject, ContentSHA256: m.SHA256}, nil) {
				return
			}
		}
	}
	if _, err := j.Init(t.Context(), meta, rows); err != nil {
		t.Fatal(err)
	}
}

// reopenReadOnly closes j, written at path, and opens it again as the
// report does: read-only.
func reopenReadOnly(t *testing.T, j *journal.Journal, path string) *journal.Reader {
	t.Helper()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := journal.OpenReadOnly(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}
