package report

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"flag"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/client"
	"github.com/pecbatch/pecbatch/client/pecmail"
	"github.com/pecbatch/pecbatch/client/sandbox"
	"github.com/pecbatch/pecbatch/journal"
)

var signedFixtures = flag.Bool("signed-fixtures", false,
	"generate testdata/evidence/signed/ again from the sandbox's IMAP mailbox (then run with -update)")

// signedSend is one send of the signed fixtures: its folder under
// testdata/evidence/signed and its recipients. The sandbox decides what
// happens from the recipients' domains.
type signedSend struct {
	name string
	to   []string
}

var signedSends = []signedSend{
	{"due", []string{"mario.rossi@pec.example.it", "ufficio@pec.example.it"}},
	{"firma-alterata", []string{"uno@" + sandbox.DomainBadSignature}},
	{"daticert-diverso", []string{"uno@" + sandbox.DomainMismatch}},
	{"non-consegnata", []string{"nessuno@invalid.sandbox.test"}},
	{"quattro", []string{"primo.destinatario@pec.example.it", "secondo.destinatario@pec.example.it",
		"terzo.destinatario@pec.example.it", "quarto.destinatario@pec.example.it"}},
}

const signedFixtureDir = "testdata/evidence/signed"

// generateSignedFixtures sends signedSends through the sandbox, reads
// their receipts from its IMAP mailbox with pecmail and writes them as
// fetched, with the sandbox's CA: real signed PEC receipts whose bytes
// stay the same from run to run, so the golden pages can name their
// SHA-256.
func generateSignedFixtures(t *testing.T) {
	t.Helper()
	clock := sandbox.NewClock(time.Date(2026, 3, 10, 13, 0, 0, 0, time.UTC))
	opts := sandbox.DefaultOptions()
	opts.Now = clock.Now
	sb := sandbox.New(opts)
	srv := httptest.NewServer(sb)
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- sb.ServeIMAP(ln) }()
	defer func() {
		if err := sb.CloseIMAP(); err != nil {
			t.Errorf("CloseIMAP: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("ServeIMAP after CloseIMAP: %v", err)
		}
	}()
	ca, err := sb.CACertificate()
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	api, err := client.NewClient(srv.URL, client.WithToken(opts.Token), client.WithCredentials(opts.Username, opts.Password),
		client.WithClock(clock.Now, func(_ context.Context, d time.Duration) error { clock.Advance(d); return nil }))
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]string{}
	for _, s := range signedSends {
		res, err := api.Send(t.Context(), &client.SendRequest{Sender: opts.Username, Recipients: s.to,
			Subject: "Avviso di pagamento " + s.name, Body: "<p>Gentile utente, in allegato l'avviso.</p>"})
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
		codes[res.MessageID] = s.name
		clock.Advance(10 * time.Second)
	}
	clock.Advance(time.Minute)
	cfg := pecmail.Config{URL: "imaps://" + ln.Addr().String(), Username: opts.Username, Password: opts.Password,
		TLS: &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS12}, Trust: roots, Timeout: time.Minute}
	got, _, err := pecmail.Fetch(t.Context(), cfg, pecmail.Cursor{}, func(c string) bool { return codes[c] != "" })
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if err := os.RemoveAll(signedFixtureDir); err != nil {
		t.Fatal(err)
	}
	for _, rc := range got {
		dir := filepath.Join(signedFixtureDir, codes[rc.Code])
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%03d.eml", rc.UID)), rc.Raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pem, err := sb.CAPEM()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(signedFixtureDir, "ca.pem"), pem, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSignedFixtures checks that the signed fixtures are what the tests
// built on them say: valid signatures on the valid sends, a broken one,
// a daticert of another message, each addressee named once. With
// -signed-fixtures it first makes them again (then run with -update: the
// receipts' hashes change).
func TestSignedFixtures(t *testing.T) {
	if *signedFixtures {
		generateSignedFixtures(t)
	}
	for _, send := range signedSends {
		t.Run(send.name, func(t *testing.T) {
			var named []string
			for _, rc := range signedFixture(t, send.name, true) {
				broken := rc.Kind == "avvenuta-consegna" && send.name == "firma-alterata"
				if want := map[bool]string{false: pecmail.SigValid, true: pecmail.SigInvalid}[broken]; rc.Signature.Status != want {
					t.Errorf("%s: signature %q, want %q", rc.Kind, rc.Signature.Status, want)
				}
				other := rc.Kind == "avvenuta-consegna" && send.name == "daticert-diverso"
				if rc.Agrees == other {
					t.Errorf("%s: daticert agrees %v, want %v", rc.Kind, rc.Agrees, !other)
				}
				if rc.Daticert != nil && rc.Kind != "accettazione" && !other {
					named = append(named, strings.ToLower(rc.Daticert.Consegna))
				}
			}
			if want := send.to; send.name != "daticert-diverso" && !sameSet(named, want) {
				t.Errorf("the receipts name %q, want each of %q once", named, want)
			}
		})
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// signedFixture reads the receipts of one send of the fixtures, checked by
// pecmail against the sandbox's CA (trusted false: against no root, as
// without tracking.imap_trust).
func signedFixture(t *testing.T, name string, trusted bool) []pecmail.Receipt {
	t.Helper()
	var roots *x509.CertPool
	if trusted {
		pem, err := os.ReadFile(filepath.Join(signedFixtureDir, "ca.pem"))
		if err != nil {
			t.Fatal(err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			t.Fatal("ca.pem holds no certificate")
		}
	}
	files, err := filepath.Glob(filepath.Join(signedFixtureDir, name, "*.eml"))
	if err != nil || len(files) < 2 {
		t.Fatalf("the signed fixtures of %s: %d files, %v (go test -signed-fixtures -update makes them)", name, len(files), err)
	}
	var out []pecmail.Receipt
	for i, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rc := pecmail.Parse(raw, roots)
		rc.UID = uint32(i + 1)
		out = append(out, rc)
	}
	return out
}

// asJournal is rc as the journal stores it (what the runner's
// journalSigned does; written again here: report tests never import the
// runner).
func asJournal(rc pecmail.Receipt) journal.SignedReceipt {
	s := journal.SignedReceipt{Code: rc.Code, UIDValidity: 1, UID: rc.UID, SHA256: rc.SHA256, Raw: rc.Raw,
		Subject: rc.Subject, Kind: rc.Kind, DaticertErr: rc.DaticertErr, Signature: rc.Signature.Status,
		Signer: rc.Signature.Signer, SignatureDetail: rc.Signature.Detail, Agrees: rc.Agrees}
	if d := rc.Daticert; d != nil {
		s.HasDaticert = true
		s.Tipo, s.Errore, s.Consegna, s.ErroreEsteso = d.Tipo, d.Errore, d.Consegna, d.ErroreEsteso
		s.Identificativo, s.MsgID, s.Data = d.Identificativo, d.MsgID, d.Data
	}
	return s
}

// signedRow is a row of the signed journal: its send in the fixtures
// ("" for a send whose receipts were not in the mailbox) and whether its
// signer's chain was checked.
type signedRow struct {
	key, send string
	to        []string
	untrusted bool
}

var signedRows = []signedRow{
	{key: "PRAT-001", send: "due", to: signedSends[0].to},
	{key: "PRAT-002", send: "firma-alterata", to: signedSends[1].to},
	{key: "PRAT-003", send: "daticert-diverso", to: signedSends[2].to},
	{key: "PRAT-004", send: "non-consegnata", to: signedSends[3].to, untrusted: true},
	{key: "PRAT-005", send: "quattro", to: signedSends[4].to},
	{key: "PRAT-006", to: []string{"sei@pec.example.it"}},
}

// signedJournal writes a journal whose mailbox was read: each row of
// signedRows sent with its fixture's message id, tracked with the API's
// summaries (consistent with the signed receipts, but for row 4, where the
// API's time-limit notice made the recipient expired and the signed
// non-delivery contradicts it), and its signed receipts stored and applied
// as the runner does.
func signedJournal(t *testing.T) (*journal.Reader, []*campaign.Message) {
	t.Helper()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "firmate.journal.db")
	// The sandbox sent at 13:00 UTC, one send every 10 seconds.
	clk := &reportClock{t: time.Date(2026, 3, 10, 12, 59, 50, 0, time.UTC)}
	j, err := journal.Open(ctx, path, journal.WithNow(clk.Now), journal.WithRand(bytes.NewReader(make([]byte, 64))))
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*campaign.Message
	fetched := map[string][]pecmail.Receipt{}
	for i, r := range signedRows {
		m := &campaign.Message{Row: i + 1, Key: r.key, Recipients: r.to, Subject: "Avviso di pagamento " + r.key,
			Body:        []byte("<p>Gentile utente, in allegato l'avviso.</p>"),
			Attachments: []campaign.Attachment{{Name: "avviso-" + r.key + ".pdf", ContentType: "application/pdf", Content: []byte("%PDF-1.4 " + r.key + "\n")}}}
		m.SHA256 = campaign.ContentHash(m.Recipients, m.Subject, m.Body, m.Attachments)
		msgs = append(msgs, m)
		if r.send != "" {
			fetched[r.key] = signedFixture(t, r.send, !r.untrusted)
		}
	}
	initEvidenceJournal(t, j, journal.Meta{Campaign: "avvisi-firmati", Endpoint: "sandbox:builtin", Sender: "sandbox@pec.sandbox.test",
		Fingerprint: journal.Fingerprint{"campaign file": strings.Repeat("ef", 32)}}, msgs)
	var all []journal.SignedReceipt
	var codes []string
	var ids []int64
	for i, r := range signedRows {
		row, err := j.RowByKey(ctx, r.key)
		if err != nil {
			t.Fatal(err)
		}
		code := fmt.Sprintf("PM9%05d", i+1)
		if rcs := fetched[r.key]; len(rcs) > 0 {
			code = rcs[0].Code
		}
		clk.Advance(10 * time.Second)
		if err := j.MarkSending(ctx, row.ID); err != nil {
			t.Fatal(err)
		}
		if err := j.MarkSubmitted(ctx, row.ID, code); err != nil {
			t.Fatal(err)
		}
		codes, ids = append(codes, code), append(ids, row.ID)
		for _, rc := range fetched[r.key] {
			all = append(all, asJournal(rc))
		}
	}
	clk.t = time.Date(2026, 3, 10, 13, 2, 0, 0, time.UTC) // tracking, after every receipt
	for i, r := range signedRows {
		receipts, outcomes := apiSummaries(codes[i], r, fetched[r.key], clk.Now())
		if _, err := j.ApplyReceipts(ctx, ids[i], receipts, outcomes); err != nil {
			t.Fatal(err)
		}
	}
	clk.t = time.Date(2026, 3, 10, 13, 10, 0, 0, time.UTC)
	if n, err := j.AddSignedReceipts(ctx, all, journal.SignedCursor{UIDValidity: 1, LastUID: 99}, time.Time{}); err != nil || n != len(all) {
		t.Fatalf("AddSignedReceipts = %d, %v; want %d", n, err, len(all))
	}
	for _, r := range signedRows {
		row, err := j.RowByKey(ctx, r.key)
		if err != nil {
			t.Fatal(err)
		}
		var outs []journal.SignedOutcome
		for _, rc := range fetched[r.key] {
			s := asJournal(rc)
			state := map[string]journal.RecipientState{"avvenuta-consegna": journal.RecipientDelivered, "errore-consegna": journal.RecipientFailed}[s.Tipo]
			if s.Usable() && state != "" {
				outs = append(outs, journal.SignedOutcome{SHA256: s.SHA256,
					Outcome: journal.Outcome{Address: s.Consegna, State: state, At: s.Data, Error: s.ErroreEsteso}})
			}
		}
		if len(outs) > 0 {
			if _, err := j.ApplySignedOutcomes(ctx, row.ID, outs); err != nil {
				t.Fatal(err)
			}
		}
	}
	return reopenReadOnly(t, j, path), msgs
}

// apiSummaries are the API's summaries of a send whose signed receipts
// are signed (none: an acceptance and a delivery at now), and the outcomes
// tracking drew from them. Row 5's deliveries name no addressee, as the
// API's summaries often cannot.
func apiSummaries(code string, r signedRow, signed []pecmail.Receipt, now time.Time) ([]journal.Receipt, []journal.Outcome) {
	var receipts []journal.Receipt
	var outcomes []journal.Outcome
	add := func(kind, addressee string, at time.Time, errText string) {
		receipts = append(receipts, journal.Receipt{Code: code, Kind: kind, Date: at, DateText: at.Format(time.RFC1123Z), Addressee: addressee,
			Subject: receiptLabel(kind) + ": Avviso di pagamento " + r.key, Body: "Riassunto della ricevuta " + kind, ErrorText: errText})
	}
	if len(signed) == 0 {
		add("acceptance", "", now.Add(-time.Minute), "")
		add("delivery", r.to[0], now.Add(-57*time.Second), "")
		outcomes = append(outcomes, journal.Outcome{Address: r.to[0], State: journal.RecipientDelivered, At: now.Add(-57 * time.Second)})
		return receipts, outcomes
	}
	for _, rc := range signed {
		d := rc.Daticert
		if d == nil {
			continue
		}
		// A daticert of another message (the mismatch fault) may name
		// someone else: the API's summary names the row's recipient.
		who := strings.ToLower(d.Consegna)
		if !slices.Contains(r.to, who) {
			who = r.to[0]
		}
		addr := who
		if r.key == "PRAT-005" {
			addr = ""
		}
		switch rc.Kind {
		case "accettazione":
			add("acceptance", "", d.Data, "")
			for _, to := range r.to {
				outcomes = append(outcomes, journal.Outcome{Address: to, State: journal.RecipientAccepted, At: d.Data})
			}
		case "avvenuta-consegna":
			add("delivery", addr, d.Data, "")
			outcomes = append(outcomes, journal.Outcome{Address: who, State: journal.RecipientDelivered, At: d.Data})
		case "errore-consegna":
			// The API told of the time limit instead: the signed
			// non-delivery then contradicts a final state.
			add("timeout-expired", addr, d.Data, "5.4.1 - tempo massimo superato")
			outcomes = append(outcomes, journal.Outcome{Address: who, State: journal.RecipientExpired, At: d.Data,
				Error: "5.4.1 - tempo massimo superato"})
		}
	}
	return receipts, outcomes
}

func TestEvidenceSigned(t *testing.T) {
	ctx := t.Context()
	r, msgs := signedJournal(t)
	dir := filepath.Join(t.TempDir(), "pack")
	res, err := SaveEvidence(ctx, r, dir, EvidenceOptions{Messages: messagesOf(msgs, nil), Now: evidenceNow, Location: europeRome(t)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Signed != 14 || !slices.Equal(res.NotProof, []int{2, 3}) {
		t.Errorf("SaveEvidence: %d signed receipts, rows %v with one not used as proof; want 14, [2 3]", res.Signed, res.NotProof)
	}
	ls := func(t *testing.T, row string) []string {
		t.Helper()
		entries, err := os.ReadDir(filepath.Join(dir, row, signedDir))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return names
	}

	t.Run("untouched .eml files, each in the manifest", func(t *testing.T) {
		v, err := VerifyEvidence(dir)
		if err != nil || !v.OK() {
			t.Fatalf("VerifyEvidence = %+v, %v", v, err)
		}
		listed := map[string]bool{}
		for _, f := range v.Manifest.Files {
			listed[f.Path] = true
		}
		for _, name := range signedSends[0:1] {
			want := signedFixture(t, name.name, true)
			got := ls(t, "1-PRAT-001")
			if len(got) != len(want) {
				t.Fatalf("row 1 holds %q, want %d signed receipts", got, len(want))
			}
			for _, f := range got {
				b := readPack(t, dir, "1-PRAT-001/"+signedDir+"/"+f)
				if !slices.ContainsFunc(want, func(rc pecmail.Receipt) bool { return bytes.Equal(rc.Raw, []byte(b)) }) {
					t.Errorf("%s is not a receipt as fetched", f)
				}
				if !listed["1-PRAT-001/"+signedDir+"/"+f] {
					t.Errorf("%s is not in the manifest", f)
				}
			}
		}
	})
	t.Run("two recipients, each its delivery from daticert", func(t *testing.T) {
		want := []string{"01-ACCETTAZIONE-messaggio.eml", "02-CONSEGNA-mario.rossi@pec.example.it.eml", "03-CONSEGNA-ufficio@pec.example.it.eml"}
		got := ls(t, "1-PRAT-001")
		slices.Sort(got)
		if !slices.Equal(got, want) && !slices.Equal(got, []string{want[0], "02-CONSEGNA-ufficio@pec.example.it.eml", "03-CONSEGNA-mario.rossi@pec.example.it.eml"}) {
			t.Errorf("row 1's signed receipts are %q, want %q", got, want)
		}
		page := readPack(t, dir, "1-PRAT-001/attestazione.html")
		for _, w := range []string{"firma valida (catena verificata)", "CONSEGNA-mario.rossi@pec.example.it.eml", "CONSEGNA-ufficio@pec.example.it.eml",
			"CN=" + sandbox.ReceiptSender} {
			if !strings.Contains(page, w) {
				t.Errorf("row 1's attestazione lacks %q", w)
			}
		}
		for _, w := range []string{"NON è usata come prova", "nessuna ricevuta firmata utilizzabile", "non sono state raccolte"} {
			if strings.Contains(page, w) {
				t.Errorf("row 1's attestazione says %q", w)
			}
		}
		sum := readPack(t, dir, "1-PRAT-001/ricevuta-02-CONSEGNA.txt")
		if !strings.Contains(sum, "NON è la ricevuta firmata") || !strings.Contains(sum, "è accanto: "+signedDir+"/") {
			t.Errorf("the summary does not say it is one, or where its signed receipt is:\n%s", sum)
		}
		tl := readPack(t, dir, "1-PRAT-001/timeline.txt")
		if !strings.Contains(tl, "ricevuta firmata CONSEGNA per ufficio@pec.example.it (daticert: ") ||
			!strings.Contains(tl, "letta dalla casella: firma valida (catena verificata)") {
			t.Errorf("the timeline lacks the signed delivery:\n%s", tl)
		}
	})
	for _, c := range []struct {
		name, row string
		want      []string
	}{
		{"a broken signature is kept, not proof", "2-PRAT-002", []string{"FIRMA NON VALIDA", "02-CONSEGNA-uno@badsig.sandbox.test.eml",
			"NON è usata come prova", "nessuna ricevuta firmata utilizzabile come prova"}},
		{"a daticert of another message is kept, not proof", "3-PRAT-003", []string{"non corrisponde al suo oggetto",
			"02-CONSEGNA-destinatario-non-indicato.eml", "NON è usata come prova"}},
		{"untrusted chain, and a contradiction", "4-PRAT-004", []string{"firma valida, certificato non verificato",
			"dice di nessuno@invalid.sandbox.test «non consegnato», ma lo stato registrato prima era «non consegnato nel tempo massimo»"}},
		{"mailbox read, receipts not found", "6-PRAT-006", []string{"La casella è stata letta", "non vi sono state trovate ricevute firmate"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			page := readPack(t, dir, c.row+"/attestazione.html")
			for _, w := range c.want {
				if !strings.Contains(page, w) {
					t.Errorf("%s's attestazione lacks %q", c.row, w)
				}
			}
		})
	}
	t.Run("timeline of a contradiction", func(t *testing.T) {
		tl := readPack(t, dir, "4-PRAT-004/timeline.txt")
		if !strings.Contains(tl, "contrasto: la ricevuta firmata ricevute/02-MANCATA-CONSEGNA-nessuno@invalid.sandbox.test.eml dice") {
			t.Errorf("the timeline lacks the contradiction:\n%s", tl)
		}
		if strings.Contains(tl, "signed_") {
			t.Errorf("the timeline shows a raw event:\n%s", tl)
		}
	})
	t.Run("summaries without a signed receipt beside", func(t *testing.T) {
		sum := readPack(t, dir, "6-PRAT-006/ricevuta-02-CONSEGNA.txt")
		if !strings.Contains(sum, "non vi è stata trovata") {
			t.Errorf("the summary does not say its signed receipt was not found:\n%s", sum)
		}
		// Row 5's summaries name no addressee and its four deliveries share
		// their second: the acceptance is surely its signed receipt, a
		// delivery could be any of four.
		if sum := readPack(t, dir, "5-PRAT-005/ricevuta-01-ACCETTAZIONE.txt"); !strings.Contains(sum, "è accanto: ricevute/01-ACCETTAZIONE-messaggio.eml") {
			t.Errorf("the acceptance summary does not name its signed receipt:\n%s", sum)
		}
		if sum := readPack(t, dir, "5-PRAT-005/ricevuta-03-CONSEGNA.txt"); !strings.Contains(sum, "non si può dire quale") {
			t.Errorf("a delivery summary names a signed receipt it cannot be told from the others:\n%s", sum)
		}
	})
	t.Run("verify names a changed .eml", func(t *testing.T) {
		name := "2-PRAT-002/" + signedDir + "/02-CONSEGNA-uno@badsig.sandbox.test.eml"
		p := filepath.Join(dir, filepath.FromSlash(name))
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 1
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		v, err := VerifyEvidence(dir)
		if err != nil || v.OK() || !slices.Equal(v.Changed, []string{name}) {
			t.Errorf("VerifyEvidence = changed %q, %v; want %q", v.Changed, err, name)
		}
	})
}

// TestEvidenceSignedDamaged: a signed receipt whose bytes in the journal
// are no longer those of its SHA-256 (the file damaged, or altered behind
// pecbatch's back) stops the pack, naming the row.
func TestEvidenceSignedDamaged(t *testing.T) {
	ctx := t.Context()
	r, msgs := signedJournal(t)
	db, err := sql.Open("sqlite", r.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{"DROP TRIGGER signed_receipts_append_only_update",
		"UPDATE signed_receipts SET raw = CAST(replace(CAST(raw AS TEXT), 'Content-Type', 'Content-type') AS BLOB) WHERE code = (SELECT message_id FROM rows WHERE row_number = 2)"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	_, err = SaveEvidence(ctx, r, filepath.Join(t.TempDir(), "pack"), EvidenceOptions{Messages: messagesOf(msgs, nil), Now: evidenceNow})
	if err == nil || !strings.Contains(err.Error(), `row 2 (key "PRAT-002")`) || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("SaveEvidence of a damaged signed receipt: %v, want an error naming row 2", err)
	}
}

// TestMatchSummaries: a summary names its signed receipt only when it is
// surely the same receipt.
func TestMatchSummaries(t *testing.T) {
	at := time.Date(2026, 3, 10, 13, 0, 3, 0, time.UTC)
	signed := func(name, kind, consegna string, when time.Time) signedFile {
		return signedFile{Name: name, StoredSignedReceipt: journal.StoredSignedReceipt{
			SignedReceipt: journal.SignedReceipt{Code: "C1", Kind: kind, Consegna: consegna, Data: when}}}
	}
	sum := func(kind, addressee string, when time.Time) journal.StoredReceipt {
		return journal.StoredReceipt{Receipt: journal.Receipt{Code: "C1", Kind: kind, Addressee: addressee, Date: when}}
	}
	for _, c := range []struct {
		name      string
		summaries []journal.StoredReceipt
		signed    []signedFile
		want      []summaryMatch
	}{
		{"by addressee, whatever the date", []journal.StoredReceipt{sum("delivery", "B@x.it", at.Add(time.Hour)), sum("delivery", "a@x.it", at)},
			[]signedFile{signed("a", "avvenuta-consegna", "a@x.it", at), signed("b", "avvenuta-consegna", "b@x.it", at)}, []summaryMatch{{Name: "b"}, {Name: "a"}}},
		{"no addressee: by date", []journal.StoredReceipt{sum("delivery", "", at.Add(time.Second))},
			[]signedFile{signed("a", "avvenuta-consegna", "a@x.it", at), signed("b", "avvenuta-consegna", "b@x.it", at.Add(time.Second))}, []summaryMatch{{Name: "b"}}},
		{"no addressee, same second: none", []journal.StoredReceipt{sum("delivery", "", at)},
			[]signedFile{signed("a", "avvenuta-consegna", "a@x.it", at), signed("b", "avvenuta-consegna", "b@x.it", at)}, []summaryMatch{{Ambiguous: true}}},
		{"another kind", []journal.StoredReceipt{sum("non-delivery", "a@x.it", at)},
			[]signedFile{signed("a", "avvenuta-consegna", "a@x.it", at)}, []summaryMatch{{}}},
		{"another addressee", []journal.StoredReceipt{sum("delivery", "c@x.it", at)},
			[]signedFile{signed("a", "avvenuta-consegna", "a@x.it", at)}, []summaryMatch{{}}},
		{"one signed receipt, one summary", []journal.StoredReceipt{sum("acceptance", "", at), sum("acceptance", "", at)},
			[]signedFile{signed("acc", "accettazione", "", at)}, []summaryMatch{{Name: "acc"}, {}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := matchSummaries(c.summaries, c.signed); !slices.Equal(got, c.want) {
				t.Errorf("matchSummaries = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestSignatureLabel(t *testing.T) {
	for status, want := range map[string]string{journal.SignatureValid: "firma valida (catena verificata)",
		journal.SignatureValidUntrusted: "firma valida, certificato non verificato", journal.SignatureInvalid: "FIRMA NON VALIDA",
		journal.SignatureMissing: "non firmata"} {
		if got := signatureLabel(status); got != want {
			t.Errorf("signatureLabel(%q) = %q, want %q", status, got, want)
		}
		s := journal.SignedReceipt{Signature: status, HasDaticert: true, Agrees: true}
		if got := notProof(s) == ""; got != s.Usable() {
			t.Errorf("status %q: used as proof %v, journal's Usable %v", status, got, s.Usable())
		}
	}
}

// TestAttestazioneSignedGolden: the pages and timelines of the signed
// journal, byte for byte (go test -update rewrites them; review the diff).
func TestAttestazioneSignedGolden(t *testing.T) {
	r, msgs := signedJournal(t)
	dir := filepath.Join(t.TempDir(), "pack")
	if _, err := SaveEvidence(t.Context(), r, dir, EvidenceOptions{Messages: messagesOf(msgs, nil), Now: evidenceNow}); err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs {
		row := fmt.Sprintf("%d-%s", i+1, m.Key)
		for _, name := range []string{"attestazione.html", "timeline.txt"} {
			t.Run(row+"/"+name, func(t *testing.T) {
				got := readPack(t, dir, row+"/"+name)
				golden := filepath.Join("testdata", "evidence", "signed-"+row+"."+name)
				if *update {
					if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatal(err)
				}
				if got != string(want) {
					t.Errorf("%s differs from %s (go test -update to accept):\n%s", name, golden, got)
				}
			})
		}
	}
}

// TestSignedFiles: receipts are numbered in daticert's time order, those
// without a date last, and named after their addressee, never as a
// receipt about the whole message when they are about one addressee.
func TestSignedFiles(t *testing.T) {
	at := time.Date(2026, 3, 10, 13, 0, 0, 0, time.UTC)
	s := func(kind, consegna, code string, when time.Time) journal.StoredSignedReceipt {
		return journal.StoredSignedReceipt{SignedReceipt: journal.SignedReceipt{Code: code, Kind: kind, Consegna: consegna, Data: when}}
	}
	got := signedFiles([]journal.StoredSignedReceipt{
		s("avvenuta-consegna", "", "C2", time.Time{}),
		s("avvenuta-consegna", "Mario.Rossi@PEC.it", "C2", at.Add(time.Minute)),
		s("accettazione", "", "C2", at),
		s("errore-consegna", "a/b@x.it", "C1", at.Add(-time.Hour)),
	}, "C2")
	want := []string{"ricevute/01-MANCATA-CONSEGNA-a_b@x.it.eml", "ricevute/02-ACCETTAZIONE-messaggio.eml",
		"ricevute/03-CONSEGNA-mario.rossi@pec.it.eml", "ricevute/04-CONSEGNA-destinatario-non-indicato.eml"}
	var names []string
	for _, f := range got {
		names = append(names, f.Name)
	}
	if !slices.Equal(names, want) {
		t.Errorf("signedFiles names %q, want %q", names, want)
	}
	if got[0].Current || !got[1].Current {
		t.Errorf("current: %v, %v; want the earlier attempt's receipt not current", got[0].Current, got[1].Current)
	}
}
