package runner

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/internal/testutil"
	"github.com/pecbatch/pecbatch/journal"
)

// serveIMAP serves the fixture's sandbox mailbox over IMAP and returns
// the fixture's campaign reading it, and the TLS config that reaches it.
func (f *fixture) serveIMAP(t *testing.T) (*campaign.Campaign, *tls.Config) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- f.sb.ServeIMAP(ln) }()
	t.Cleanup(func() {
		if err := f.sb.CloseIMAP(); err != nil {
			t.Errorf("CloseIMAP: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("ServeIMAP after CloseIMAP: %v", err)
		}
	})
	ca, err := f.sb.CACertificate()
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	c := f.campaign()
	c.Tracking.IMAP, c.Tracking.IMAPRoots = "imaps://"+ln.Addr().String(), roots
	return c, &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
}

// runWith runs c (the fixture's campaign, changed) with src as Deps.Signed.
func (f *fixture) runWith(ctx context.Context, c *campaign.Campaign, src SignedSource) (string, error) {
	f.t.Helper()
	sw := &testutil.LockedBuffer{}
	f.rec = newRecorder(sw)
	d := testRun{LedgerPath: f.ledgerPath()}.deps(sw, f.rec, 40*time.Millisecond)
	d.Tuning.GiveUpAfter = 1500 * time.Millisecond
	d.Tuning.SignedInterval = 30 * time.Millisecond
	d.Tuning.SignedTimeout = 5 * time.Second
	d.Signed = src
	_, err := Run(ctx, c, d, RunOptions{})
	return sw.String(), err
}

func TestIMAPSourceOff(t *testing.T) {
	f := newFixture(t, fastSandbox(), "P001,dest1@pec.example.it,Persona 1")
	if src := NewIMAPSource(f.campaign(), nil); src != nil {
		t.Errorf("NewIMAPSource without tracking.imap = %#v, want nil (no fetcher)", src)
	}
}

// TestIMAPSourceSandbox reads the sandbox's own mailbox over IMAP: the
// signed receipts decide the two-recipient row exactly, and the broken
// ones are stored, counted and never used.
func TestIMAPSourceSandbox(t *testing.T) {
	rows := append([]string{}, twoRecipientRows...)
	rows = append(rows, "P003,uno@badsig.sandbox.test,Persona 3", "P004,uno@mismatch.sandbox.test,Persona 4")
	f := newFixture(t, fastSandbox(), rows...)
	c, tc := f.serveIMAP(t)
	log, err := f.runWith(t.Context(), c, NewIMAPSource(c, tc))
	if !errors.Is(err, campaign.ErrRowsFailed) {
		t.Fatalf("run: %v\n%s", err, log)
	}
	want := map[string]journal.State{
		"P001 dest1@pec.example.it":        journal.StateDelivered,
		"P001 dest2@ordinary.sandbox.test": journal.StateAcceptedNotCertifiable,
		"P002 dest3@pec.example.it":        journal.StateDelivered,
		"P003 uno@badsig.sandbox.test":     journal.StateDelivered,
		"P004 uno@mismatch.sandbox.test":   journal.StateDelivered,
	}
	if got := f.recipientStates(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("recipients = %v, want %v\n%s", got, want, log)
	}
	r, err := journal.OpenReadOnly(t.Context(), c.Sending.Journal)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	byKey := f.rowsByKey()
	for _, tc := range []struct {
		key, consegna, signature string
		agrees, usable           bool
	}{
		{"P001", "dest1@pec.example.it", "valid", true, true},
		{"P002", "dest3@pec.example.it", "valid", true, true},
		{"P003", "uno@badsig.sandbox.test", "invalid", true, false},
		{"P004", "", "valid", false, false},
	} {
		t.Run(tc.key, func(t *testing.T) {
			stored, err := r.SignedReceiptsFor(t.Context(), byKey[tc.key].ID)
			if err != nil {
				t.Fatal(err)
			}
			var found bool
			for _, s := range stored {
				if s.Kind != "avvenuta-consegna" || (tc.consegna != "" && s.Consegna != tc.consegna) {
					continue
				}
				found = true
				if s.Signature != tc.signature || s.Agrees != tc.agrees || s.Usable() != tc.usable {
					t.Errorf("signed delivery of %s: signature %q agrees %t usable %t, want %q %t %t",
						tc.key, s.Signature, s.Agrees, s.Usable(), tc.signature, tc.agrees, tc.usable)
				}
			}
			if !found {
				t.Errorf("no signed delivery stored for row %s among %d receipts", tc.key, len(stored))
			}
		})
	}
	sum, err := r.SignedSummary(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Problems < 2 || sum.Stored <= sum.Problems || sum.Conflicts != 0 {
		t.Errorf("signed summary %+v: want the badsig and mismatch receipts among the problems, no conflict", sum)
	}
}

// TestIMAPSourceLoginRefused: the sandbox refusing the login is
// ErrSignedLogin, and the password never shows.
func TestIMAPSourceLoginRefused(t *testing.T) {
	opts := fastSandbox()
	opts.Fault = "imap-login"
	f := newFixture(t, opts, "P001,dest1@pec.example.it,Persona 1")
	c, tc := f.serveIMAP(t)
	c.Sender.Password = "segreta-di-prova"
	_, _, err := NewIMAPSource(c, tc).Fetch(t.Context(), SignedCursor{}, func(string) bool { return true })
	if !errors.Is(err, ErrSignedLogin) {
		t.Fatalf("Fetch = %v, want ErrSignedLogin", err)
	}
	if strings.Contains(err.Error(), "segreta-di-prova") {
		t.Errorf("the password reached the error: %v", err)
	}
}

// partialMailbox fails its first fetch that has receipts: it returns
// the first with the cursor after it, as client/pecmail does when a later
// batch fails.
type partialMailbox struct {
	*fakeMailbox
	mu     sync.Mutex
	failed bool
	at     uint32 // the cursor the failed fetch returned
}

func (m *partialMailbox) Fetch(ctx context.Context, cur SignedCursor, want func(string) bool) ([]SignedReceipt, SignedCursor, error) {
	got, next, err := m.fakeMailbox.Fetch(ctx, cur, want)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil || m.failed || len(got) < 2 {
		return got, next, err
	}
	m.failed, m.at = true, got[0].UID
	return got[:1], SignedCursor{UIDValidity: next.UIDValidity, LastUID: got[0].UID}, errors.New("connection reset by peer")
}

// TestSignedPartialFetchKept: what a failed fetch read before the error is
// stored, and the next fetch goes on after it. A poll after the run reads
// the mailbox twice (at the start and when tracking ends), every send
// known from the first.
func TestSignedPartialFetchKept(t *testing.T) {
	f := newFixture(t, fastSandbox(), csvRows(4, "pec.example.it")...)
	if _, log, err := f.signedRun(t.Context(), nil, false); err != nil {
		t.Fatalf("run: %v\n%s", err, log)
	}
	mb := &partialMailbox{fakeMailbox: newFakeMailbox(f.sb)}
	_, log, err := f.signedRun(t.Context(), mb, true)
	if err != nil {
		t.Fatalf("poll: %v\n%s", err, log)
	}
	if !mb.failed || mb.firstCursor(t, 0) != (SignedCursor{}) {
		t.Fatalf("the first fetch did not fail part way: the test proves nothing\n%s", log)
	}
	if next := mb.firstCursor(t, 1); next.LastUID != mb.at {
		t.Errorf("after the failed fetch the mailbox was read from %+v, want from UID %d (the batch read kept)", next, mb.at)
	}
	if st := f.status(); st.SignedReceipts != 4 || st.SignedProblems != 0 {
		t.Errorf("status: %d signed, %d problems; want 4, 0", st.SignedReceipts, st.SignedProblems)
	}
	told := 0
	for _, n := range f.rec.notes {
		if n.Kind == NoteSignedProblem && strings.Contains(n.Text, "connection reset") {
			told++
		}
	}
	if told != 1 {
		t.Errorf("the failed fetch was told %d times, want once", told)
	}
}

// TestSignedFinalNoticeAsErrore: a final time-limit notice typed
// errore-consegna with 5.4.1 expires the recipient, as the API's summary
// of it does; another errore-consegna fails it.
func TestSignedFinalNoticeAsErrore(t *testing.T) {
	for _, tc := range []struct {
		esteso string
		want   journal.RecipientState
	}{
		{"5.4.1 - tempo massimo di consegna superato", journal.RecipientExpired},
		{"5.1.1 - utente sconosciuto", journal.RecipientFailed},
	} {
		t.Run(tc.esteso, func(t *testing.T) {
			s := storedSigned("c1", "errore-consegna", "a@pec.example.it", tc.esteso, time.Hour, nil)
			facts, ignored := signedFacts([]journal.StoredSignedReceipt{s}, "c1", []string{"a@pec.example.it"})
			if len(facts) != 1 || len(ignored) != 0 {
				t.Fatalf("facts %+v, ignored %q: want one", facts, ignored)
			}
			if facts[0].State != tc.want || facts[0].Err != tc.esteso {
				t.Errorf("state %q error %q, want %q %q", facts[0].State, facts[0].Err, tc.want, tc.esteso)
			}
		})
	}
}
