package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/client"
	"github.com/pecbatch/pecbatch/client/sandbox"
	"github.com/pecbatch/pecbatch/internal/testutil"
	"github.com/pecbatch/pecbatch/journal"
)

// fakeMailbox is a SignedSource over the sandbox's sends: a mailbox that
// gets, for each recipient of each send, the signed receipt of its outcome
// (by the sandbox's domain rules), each with the next UID. It keeps its
// messages across runs, as a real mailbox does.
type fakeMailbox struct {
	sb *sandbox.Server
	// edit, when set, changes a receipt before it enters the mailbox.
	edit func(r *SignedReceipt)
	// fail, when set, is called by every Fetch; a non-nil error is
	// returned (a mailbox down or refusing the login).
	fail func(ctx context.Context) error

	mu      sync.Mutex
	box     []SignedReceipt
	have    map[string]bool
	cursors []SignedCursor
}

func newFakeMailbox(sb *sandbox.Server) *fakeMailbox {
	return &fakeMailbox{sb: sb, have: map[string]bool{}}
}

// signedReceipt builds a signed receipt of kind (daticert tipo) about addr
// for a send: the message bytes, its hash, a daticert that agrees, a valid
// signature.
func signedReceipt(code, subject, kind, addr string, at time.Time) SignedReceipt {
	raw := fmt.Sprintf("Subject: %s: %s %s\r\nX-Ricevuta: %s\r\n\r\nconsegna %s\r\n", strings.ToUpper(kind), subject, code, kind, addr)
	h := sha256.Sum256([]byte(raw))
	d := &Daticert{Tipo: kind, Errore: "nessuno", Consegna: addr, Data: at.Truncate(time.Second),
		Identificativo: "opec." + code + "." + addr, MsgID: "<" + code + "@pec.example.it>", Oggetto: subject}
	if kind == "errore-consegna" {
		d.Errore, d.ErroreEsteso = "no-dest", "5.1.1 - utente sconosciuto"
	}
	return SignedReceipt{Raw: []byte(raw), SHA256: hex.EncodeToString(h[:]), Subject: strings.ToUpper(kind) + ": " + subject + " " + code,
		Kind: kind, Code: code, Daticert: d, Signature: Signature{Status: "valid", Signer: "CN=Posta Certificata Sandbox"}, Agrees: true}
}

func (m *fakeMailbox) Fetch(ctx context.Context, cur SignedCursor, want func(string) bool) ([]SignedReceipt, SignedCursor, error) {
	m.mu.Lock()
	m.cursors = append(m.cursors, cur)
	fail := m.fail
	m.mu.Unlock()
	if fail != nil {
		if err := fail(ctx); err != nil {
			return nil, cur, err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.sb.Sends() {
		for _, addr := range s.Recipients {
			kind := "avvenuta-consegna"
			switch {
			case strings.HasSuffix(addr, "@ordinary.sandbox.test"):
				continue
			case strings.HasSuffix(addr, "@invalid.sandbox.test"):
				kind = "errore-consegna"
			}
			if k := s.Code + " " + addr; !m.have[k] {
				m.have[k] = true
				r := signedReceipt(s.Code, s.Subject, kind, addr, s.Time)
				if m.edit != nil {
					m.edit(&r)
				}
				r.UID = uint32(len(m.box) + 1)
				m.box = append(m.box, r)
			}
		}
	}
	var out []SignedReceipt
	for _, r := range m.box[min(int(cur.LastUID), len(m.box)):] {
		if want(r.Code) {
			out = append(out, r)
		}
	}
	return out, SignedCursor{UIDValidity: 1, LastUID: uint32(len(m.box))}, nil
}

func (m *fakeMailbox) firstCursor(t *testing.T, from int) SignedCursor {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.cursors) <= from {
		t.Fatalf("the mailbox was read %d times, want more than %d", len(m.cursors), from)
	}
	return m.cursors[from]
}

// signedRun runs the fixture's campaign with src as Deps.Signed (nil: no
// IMAP) and a short give-up time.
func (f *fixture) signedRun(ctx context.Context, src SignedSource, poll bool) (*Result, string, error) {
	f.t.Helper()
	sw := &testutil.LockedBuffer{}
	f.rec = newRecorder(sw)
	d := testRun{LedgerPath: f.ledgerPath()}.deps(sw, f.rec, 40*time.Millisecond)
	d.Tuning.GiveUpAfter = 1500 * time.Millisecond
	d.Tuning.SignedInterval = 30 * time.Millisecond
	d.Tuning.SignedTimeout = 200 * time.Millisecond
	if src != nil {
		d.Signed = src
	}
	if poll {
		res, err := Poll(ctx, f.campaign(), d, PollOptions{})
		return res, sw.String(), err
	}
	res, err := Run(ctx, f.campaign(), d, RunOptions{})
	return res, sw.String(), err
}

// recipientStates reads each recipient's state, "key address" → state.
func (f *fixture) recipientStates() map[string]journal.State {
	f.t.Helper()
	r, err := journal.OpenReadOnly(f.t.Context(), f.campaign().Sending.Journal)
	if err != nil {
		f.t.Fatal(err)
	}
	defer r.Close()
	out := map[string]journal.State{}
	for line, err := range r.ReportRows(f.t.Context()) {
		if err != nil {
			f.t.Fatal(err)
		}
		out[line.Key+" "+line.Recipient] = line.State
	}
	return out
}

func (f *fixture) status() *StatusReport {
	f.t.Helper()
	st, err := Status(f.t.Context(), f.campaign(), "", time.Now())
	if err != nil {
		f.t.Fatal(err)
	}
	return st
}

// twoRecipientRows: a row to a PEC mailbox and an ordinary address. The
// documented API receipts name nobody, so one CONSEGNA for two recipients
// cannot be attributed; the signed one names its addressee.
var twoRecipientRows = []string{
	"P001,dest1@pec.example.it;dest2@ordinary.sandbox.test,Persona 1",
	"P002,dest3@pec.example.it,Persona 2",
}

func TestSignedReceiptsAttributeExactly(t *testing.T) {
	without := newFixture(t, fastSandbox(), twoRecipientRows...)
	if _, log, err := without.signedRun(t.Context(), nil, false); !errors.Is(err, campaign.ErrRowsFailed) {
		t.Fatalf("run without IMAP: %v\n%s", err, log)
	}
	got := without.recipientStates()
	if got["P001 dest1@pec.example.it"] != journal.StateAcceptedNotCertifiable {
		t.Fatalf("without IMAP, the unnamed CONSEGNA of a 2-recipient row was attributed: %v (the test proves nothing)", got)
	}

	f := newFixture(t, fastSandbox(), twoRecipientRows...)
	mb := newFakeMailbox(f.sb)
	_, log, err := f.signedRun(t.Context(), mb, false)
	if !errors.Is(err, campaign.ErrRowsFailed) {
		t.Fatalf("run with IMAP: %v\n%s", err, log)
	}
	want := map[string]journal.State{
		"P001 dest1@pec.example.it":        journal.StateDelivered,
		"P001 dest2@ordinary.sandbox.test": journal.StateAcceptedNotCertifiable,
		"P002 dest3@pec.example.it":        journal.StateDelivered,
	}
	if got := f.recipientStates(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("recipients with IMAP = %v, want %v\n%s", got, want, log)
	}
	if st := f.status(); st.SignedReceipts != 2 || st.SignedProblems != 0 || st.SignedConflicts != 0 {
		t.Errorf("status: %d signed, %d problems, %d conflicts; want 2, 0, 0", st.SignedReceipts, st.SignedProblems, st.SignedConflicts)
	}
	f.checkExactlyOnce(2)
}

func TestSignedReceiptsWithProblemsAreNotUsed(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(r *SignedReceipt)
	}{
		{"broken signature", func(r *SignedReceipt) {
			r.Signature = Signature{Status: "invalid", Detail: "message digest mismatch"}
		}},
		{"missing signature", func(r *SignedReceipt) { r.Signature = Signature{Status: "missing"} }},
		{"daticert disagrees", func(r *SignedReceipt) { r.Agrees = false }},
		{"no daticert", func(r *SignedReceipt) { r.Daticert, r.DaticertErr, r.Agrees = nil, "no daticert.xml", false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fastSandbox(), twoRecipientRows...)
			mb := newFakeMailbox(f.sb)
			mb.edit = tc.edit
			_, log, err := f.signedRun(t.Context(), mb, false)
			if !errors.Is(err, campaign.ErrRowsFailed) {
				t.Fatalf("run: %v\n%s", err, log)
			}
			defer func() {
				if t.Failed() {
					t.Log(log)
				}
			}()
			got := f.recipientStates()
			if got["P001 dest1@pec.example.it"] != journal.StateAcceptedNotCertifiable {
				t.Errorf("a signed receipt with a problem decided an outcome: %v", got)
			}
			if got["P002 dest3@pec.example.it"] != journal.StateDelivered {
				t.Errorf("the API's own receipts no longer decide: %v", got)
			}
			if st := f.status(); st.SignedReceipts != 2 || st.SignedProblems != 2 {
				t.Errorf("status: %d signed, %d with problems; want 2, 2", st.SignedReceipts, st.SignedProblems)
			}
		})
	}
}

// TestSignedMailboxFailing: a mailbox that is down, refuses the login or
// hangs changes nothing of a run but a warning, told once.
func TestSignedMailboxFailing(t *testing.T) {
	// The ordinary address keeps the run open until the give-up time, so
	// the mailbox is tried several times.
	rows := csvRows(6, "pec.example.it")
	rows = append(rows, "P100,bad@invalid.sandbox.test,Persona 100", "P101,x@ordinary.sandbox.test,Persona 101")
	control := newFixture(t, fastSandbox(), rows...)
	if _, log, err := control.signedRun(t.Context(), nil, false); !errors.Is(err, campaign.ErrRowsFailed) {
		t.Fatalf("run without IMAP: %v\n%s", err, log)
	}
	for _, tc := range []struct {
		name string
		fail func(ctx context.Context) error
		want string
	}{
		{"down", func(context.Context) error { return errors.New("dial tcp 127.0.0.1:993: connection refused") }, "connection refused"},
		{"login refused", func(context.Context) error {
			return fmt.Errorf("%w: NO [AUTHENTICATIONFAILED] Invalid credentials", ErrSignedLogin)
		}, "check the mailbox password"},
		{"hangs", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, "did not answer within"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fastSandbox(), rows...)
			mb := newFakeMailbox(f.sb)
			mb.fail = tc.fail
			_, log, err := f.signedRun(t.Context(), mb, false)
			if !errors.Is(err, campaign.ErrRowsFailed) {
				t.Fatalf("run: %v\n%s", err, log)
			}
			if got, want := f.states(), control.states(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("final states %v, want those without IMAP %v", got, want)
			}
			f.checkExactlyOnce(len(rows))
			if n := len(mb.cursors); n < 3 {
				t.Errorf("the mailbox was tried %d times: want one every interval", n)
			}
			var told []string
			for _, n := range f.rec.notes {
				if n.Kind == NoteSignedProblem {
					told = append(told, n.Text)
				}
			}
			if len(told) != 1 || !strings.Contains(told[0], tc.want) {
				t.Errorf("warnings %q, want one saying %q", told, tc.want)
			}
			if strings.Contains(log, "sandbox\"") || strings.Contains(strings.Join(told, ""), "PEC_PASSWORD") {
				t.Errorf("a secret reached the output")
			}
		})
	}
}

// TestSignedConflictWithFinalState: a signed receipt that contradicts a
// final recipient state is recorded, not applied.
func TestSignedConflictWithFinalState(t *testing.T) {
	f := newFixture(t, fastSandbox(), "P001,dest1@pec.example.it,Persona 1")
	if _, log, err := f.signedRun(t.Context(), nil, false); err != nil {
		t.Fatalf("run without IMAP: %v\n%s", err, log)
	}
	mb := newFakeMailbox(f.sb)
	mb.edit = func(r *SignedReceipt) {
		*r = signedReceipt(r.Code, "Sollecito P001", "errore-consegna", r.Daticert.Consegna, r.Daticert.Data)
	}
	if _, log, err := f.signedRun(t.Context(), mb, true); err != nil {
		t.Fatalf("poll with IMAP: %v\n%s", err, log)
	}
	if got := f.recipientStates()["P001 dest1@pec.example.it"]; got != journal.StateDelivered {
		t.Errorf("a final state was changed by a signed receipt: %s", got)
	}
	if !f.rec.noted(NoteSignedConflict) {
		t.Error("the contradiction was not told")
	}
	st := f.status()
	if st.SignedConflicts != 1 || st.SignedReceipts != 1 {
		t.Errorf("status: %d conflicts, %d signed; want 1, 1", st.SignedConflicts, st.SignedReceipts)
	}
	var text strings.Builder
	if len(st.Conflicts) != 1 || st.Conflicts[0].Address != "dest1@pec.example.it" || st.Conflicts[0].State != "delivered" ||
		st.Conflicts[0].Signed != "failed" {
		t.Errorf("status conflicts = %+v", st.Conflicts)
	}
	if err := st.WriteText(&text, time.UTC); err != nil || !strings.Contains(text.String(), "contradicting a final state: 1") ||
		!strings.Contains(text.String(), "dest1@pec.example.it is delivered, its signed receipt says failed") {
		t.Errorf("status text does not show the conflict (%v):\n%s", err, text.String())
	}
}

// TestSignedCursorSurvivesInterruption: a run stopped after reading the
// mailbox leaves the cursor in the journal; the next run reads on from it.
func TestSignedCursorSurvivesInterruption(t *testing.T) {
	// The ordinary address keeps the run open until the give-up time.
	f := newFixture(t, fastSandbox(), append(csvRows(3, "pec.example.it"), "P004,x@ordinary.sandbox.test,Persona 4")...)
	mb := newFakeMailbox(f.sb)
	ctx, cancel := context.WithCancel(t.Context())
	// Interrupt at the fetch that reads from after every send's receipt:
	// the journal stored them and that cursor.
	mb.fail = func(context.Context) error {
		if mb.cursors[len(mb.cursors)-1].LastUID == 3 {
			cancel()
			return context.Canceled
		}
		return nil
	}
	_, log, err := f.signedRun(ctx, mb, false)
	if !errors.Is(err, campaign.ErrInterrupted) {
		t.Fatalf("run: %v, want interrupted\n%s", err, log)
	}
	mb.mu.Lock()
	mb.fail = nil
	before := len(mb.cursors)
	mb.mu.Unlock()
	if cur := mb.cursors[before-1]; cur.LastUID != 3 {
		t.Fatalf("the interrupted run last read from %+v, want after the 3 receipts", cur)
	}
	r, err := journal.OpenReadOnly(t.Context(), filepath.Clean(f.campaign().Sending.Journal))
	if err != nil {
		t.Fatal(err)
	}
	cur, err := r.SignedCursor(t.Context())
	r.Close()
	if err != nil || cur.LastUID == 0 {
		t.Fatalf("cursor after the interruption = %+v, %v; want the last fetch's", cur, err)
	}
	if _, log, err := f.signedRun(t.Context(), mb, true); err != nil && !errors.Is(err, campaign.ErrRowsFailed) {
		t.Fatalf("poll: %v\n%s", err, log)
	}
	if got := mb.firstCursor(t, before); got != SignedCursor(cur) {
		t.Errorf("the next run read from %+v, want the journal's %+v", got, cur)
	}
	if st, sent := f.status(), len(f.sb.Sends())-1; st.SignedReceipts != sent {
		t.Errorf("%d signed receipts stored, want %d (each send's once); states %v, cursors %v", st.SignedReceipts, sent, f.states(), mb.cursors)
	}
}

func storedSigned(code, tipo, consegna, errEsteso string, at time.Duration, edit func(*journal.StoredSignedReceipt)) journal.StoredSignedReceipt {
	s := journal.StoredSignedReceipt{SignedReceipt: journal.SignedReceipt{
		Code: code, SHA256: fmt.Sprintf("%064x", at), Kind: tipo, HasDaticert: true, Tipo: tipo, Consegna: consegna,
		ErroreEsteso: errEsteso, Identificativo: fmt.Sprint("opec.", at), Data: t0.Add(at), Signature: journal.SignatureValid, Agrees: true,
	}}
	if edit != nil {
		edit(&s)
	}
	return s
}

// TestSignedFacts: only a usable receipt of the row's current send that
// names one of its recipients decides.
func TestSignedFacts(t *testing.T) {
	const a, b = "a@pec.example.it", "b@pec.example.it"
	stored := []journal.StoredSignedReceipt{
		storedSigned(testCode, "accettazione", "", "", time.Second, nil),
		storedSigned(testCode, "avvenuta-consegna", "B@PEC.example.it", "", 2*time.Second, nil),
		storedSigned(testCode, "errore-consegna", a, "5.1.1 utente sconosciuto", 3*time.Second, nil),
		storedSigned(testCode, "avvenuta-consegna", a, "", 4*time.Second, func(s *journal.StoredSignedReceipt) {
			s.Signature = journal.SignatureInvalid
		}),
		storedSigned(testCode, "avvenuta-consegna", a, "", 5*time.Second, func(s *journal.StoredSignedReceipt) { s.Agrees = false }),
		storedSigned(testCode, "avvenuta-consegna", "c@pec.example.it", "", 6*time.Second, nil),
		storedSigned(testCode+"7", "avvenuta-consegna", a, "", 7*time.Second, nil),
	}
	facts, ignored := signedFacts(stored, testCode, []string{a, b})
	var got []string
	for _, f := range facts {
		got = append(got, fmt.Sprintf("%s %s %s", f.Address, f.State, f.Err))
	}
	want := []string{b + " delivered ", a + " failed 5.1.1 utente sconosciuto"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("facts %q, want %q", got, want)
	}
	if len(ignored) != 3 {
		t.Errorf("ignored %q, want the broken signature, the disagreeing daticert and the stranger", ignored)
	}
}

func TestDeriveOutcomesSigned(t *testing.T) {
	const a, b = "a@pec.example.it", "b@pec.example.it"
	giveUp := t0.Add(26 * time.Hour)
	pending := func(addrs ...string) []recipientStatus {
		var out []recipientStatus
		for _, x := range addrs {
			out = append(out, recipientStatus{Address: x, State: journal.RecipientPending})
		}
		return out
	}
	for _, tc := range []struct {
		name         string
		api          []string // kinds of documented (unnamed) API entries
		signed       []journal.StoredSignedReceipt
		now          time.Time
		want         string
		unattributed bool
	}{
		{"an unnamed CONSEGNA explained by a signed one", []string{"acceptance", "delivery"},
			[]journal.StoredSignedReceipt{storedSigned(testCode, "avvenuta-consegna", b, "", 5*time.Second, nil)},
			t0.Add(time.Minute), "a accepted; b delivered", false},
		{"without it the CONSEGNA names nobody", []string{"acceptance", "delivery"}, nil,
			t0.Add(time.Minute), "a accepted; b accepted", true},
		{"the rest attributed by count", []string{"acceptance", "delivery", "delivery"},
			[]journal.StoredSignedReceipt{storedSigned(testCode, "avvenuta-consegna", a, "", 5*time.Second, nil)},
			t0.Add(time.Minute), "a delivered; b delivered", false},
		{"a signed failure explains an unnamed one", []string{"acceptance", "delivery", "non-delivery"},
			[]journal.StoredSignedReceipt{storedSigned(testCode, "errore-consegna", a, "5.1.1", 5*time.Second, nil)},
			t0.Add(time.Minute), "a failed; b delivered", false},
		{"two signed warnings expire", []string{"acceptance"},
			[]journal.StoredSignedReceipt{
				storedSigned(testCode, "preavviso-errore-consegna", a, "4.4.7", 12*time.Hour, nil),
				storedSigned(testCode, "preavviso-errore-consegna", a, "4.4.7", 24*time.Hour, nil),
			}, t0.Add(25 * time.Hour), "a expired; b accepted", false},
		{"a 5.4.1 warning expires", []string{"acceptance"},
			[]journal.StoredSignedReceipt{storedSigned(testCode, "preavviso-errore-consegna", b, "5.4.1 tempo scaduto", 24*time.Hour, nil)},
			t0.Add(25 * time.Hour), "a accepted; b expired", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var api []client.Receipt
			for i, k := range tc.api {
				api = append(api, documented(k, time.Duration(i+1)*time.Second, testCode))
			}
			ans := classifyReceipts(api, testCode, testMailbox, []string{a, b})
			facts, _ := signedFacts(tc.signed, testCode, []string{a, b})
			outs, rf := deriveOutcomesSigned(pending(a, b), ans.Own, facts, tc.now, giveUp)
			var got []string
			for _, o := range outs {
				got = append(got, strings.TrimSuffix(o.Address, "@pec.example.it")+" "+string(o.State))
			}
			if g := strings.Join(got, "; "); g != tc.want {
				t.Errorf("outcomes %q, want %q", g, tc.want)
			}
			if (rf.Unattributed != "") != tc.unattributed {
				t.Errorf("unattributed %q, want some: %t", rf.Unattributed, tc.unattributed)
			}
		})
	}
}

// TestSignedStopsOnCancel: Ctrl-C during a read that hangs stops the run
// at once, not at the read's time limit.
func TestSignedStopsOnCancel(t *testing.T) {
	f := newFixture(t, fastSandbox(), "P001,x@ordinary.sandbox.test,Persona 1")
	mb := newFakeMailbox(f.sb)
	reading := make(chan struct{}, 1)
	mb.fail = func(ctx context.Context) error {
		select {
		case reading <- struct{}{}:
		default:
		}
		<-ctx.Done()
		return ctx.Err()
	}
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-reading
		cancel()
	}()
	sw := &testutil.LockedBuffer{}
	f.rec = newRecorder(sw)
	d := testRun{LedgerPath: f.ledgerPath()}.deps(sw, f.rec, 40*time.Millisecond)
	d.Signed, d.Tuning.SignedTimeout = mb, time.Hour
	start := time.Now()
	_, err := Run(ctx, f.campaign(), d, RunOptions{})
	if !errors.Is(err, campaign.ErrInterrupted) {
		t.Fatalf("run: %v, want interrupted\n%s", err, sw.String())
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the run took %s to stop with a read hanging", took)
	}
}

// TestSignedRescanFrom: a send the journal learned only after a read began
// is read again from before it began; the first read of a process reads
// everything again when a send was recorded after the stored cursor but
// began before it.
func TestSignedRescanFrom(t *testing.T) {
	base := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return base.Add(time.Duration(s) * time.Second) }
	cur := journal.SignedCursor{UIDValidity: 1, LastUID: 50}
	f := &signedFetcher{
		known: map[string]journal.SendCode{"old": {RowID: 1, SendingAt: at(0), SubmittedAt: at(1)}},
		marks: []fetchMark{{at(10), journal.SignedCursor{UIDValidity: 1, LastUID: 10}},
			{at(20), journal.SignedCursor{UIDValidity: 1, LastUID: 30}}, {at(30), journal.SignedCursor{UIDValidity: 1, LastUID: 40}}},
	}
	codes := func(extra map[string]journal.SendCode) map[string]journal.SendCode {
		out := map[string]journal.SendCode{"old": {RowID: 1, SendingAt: at(0), SubmittedAt: at(1)}}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		extra map[string]journal.SendCode
		want  uint32
	}{
		{"nothing new", nil, 50},
		{"a retried attempt's id", map[string]journal.SendCode{"r": {RowID: 2}}, 50},
		{"began after the last read", map[string]journal.SendCode{"n": {RowID: 2, SendingAt: at(35), SubmittedAt: at(36)}}, 40},
		{"began during a read", map[string]journal.SendCode{"n": {RowID: 2, SendingAt: at(25), SubmittedAt: at(36)}}, 30},
		{"began before every read", map[string]journal.SendCode{"n": {RowID: 2, SendingAt: at(5), SubmittedAt: at(36)}}, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := f.rescanFrom(codes(tc.extra), cur, at(31)); got.LastUID != tc.want || got.UIDValidity != 1 {
				t.Errorf("rescanFrom = %+v, want LastUID %d", got, tc.want)
			}
		})
	}
	first := &signedFetcher{}
	if got := first.rescanFrom(codes(nil), cur, at(31)); got != cur {
		t.Errorf("first read, nothing late: %+v, want %+v", got, cur)
	}
	// at(31) is when the stored read listed the sends it wanted: one
	// recorded after that, begun before or after it, was not wanted.
	for _, sc := range []journal.SendCode{
		{RowID: 2, SendingAt: at(29), SubmittedAt: at(40)},
		{RowID: 2, SendingAt: at(33), SubmittedAt: at(34)},
	} {
		late := codes(map[string]journal.SendCode{"n": sc})
		if got := first.rescanFrom(late, cur, at(31)); got.LastUID != 0 {
			t.Errorf("first read after a send (%s, %s) recorded late: %+v, want from UID 0",
				sc.SendingAt.Format(time.TimeOnly), sc.SubmittedAt.Format(time.TimeOnly), got)
		}
	}
}

// TestSignedProblemToldOnceThenEveryTenMinutes: a problem that lasts is
// told once, then again only after signedWarnEvery; another problem is
// told at once.
func TestSignedProblemToldOnceThenEveryTenMinutes(t *testing.T) {
	clk := newTestClock()
	sw := &testutil.LockedBuffer{}
	rec := newRecorder(sw)
	f := &signedFetcher{e: &runEnv{clk: clk, log: slogTo(sw), pr: rec}, told: map[string]time.Time{}}
	told := func() int {
		n := 0
		for _, note := range rec.notes {
			if note.Kind == NoteSignedProblem {
				n++
			}
		}
		return n
	}
	for i, step := range []struct {
		advance time.Duration
		key     string
		want    int
	}{
		{0, "login", 1},
		{time.Minute, "login", 1},
		{8 * time.Minute, "login", 1},
		{time.Minute, "login", 2},
		{time.Second, "slow", 3},
		{time.Minute, "login", 3},
	} {
		clk.Advance(step.advance)
		f.problem(step.key, "problem %s", step.key)
		if got := told(); got != step.want {
			t.Fatalf("step %d (%s after %s): %d warnings told, want %d", i, step.key, step.advance, got, step.want)
		}
	}
}
