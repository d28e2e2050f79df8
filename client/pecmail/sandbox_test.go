package pecmail_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/client"
	"github.com/pecbatch/pecbatch/client/pecmail"
	"github.com/pecbatch/pecbatch/client/sandbox"
)

// The sandbox's IMAP mailbox and this package are two readings of the PEC standard written apart; these
// tests read the one with the other. A shared misreading would pass both packages' own tests, so what is
// checked here is what each side must get right for the evidence to hold: the signature verifies against
// the sandbox's CA, a receipt altered after signing does not, daticert names each addressee of a
// multi-recipient send once, and a daticert of another message never agrees.

type imapRig struct {
	sb    *sandbox.Server
	clock *sandbox.Clock
	api   *client.Client
	cfg   pecmail.Config
}

func newIMAPRig(t *testing.T, style string, fault sandbox.Fault) *imapRig {
	t.Helper()
	clock := sandbox.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	opts := sandbox.DefaultOptions()
	opts.Now = clock.Now
	opts.Receipts = sandbox.ReceiptStyle(style)
	opts.Fault = fault
	sb := sandbox.New(opts)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- sb.ServeIMAP(ln) }()
	t.Cleanup(func() {
		if err := sb.CloseIMAP(); err != nil {
			t.Errorf("CloseIMAP: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("ServeIMAP after CloseIMAP: %v", err)
		}
	})
	roots := x509.NewCertPool()
	ca, err := sb.CACertificate()
	if err != nil {
		t.Fatal(err)
	}
	roots.AddCert(ca)
	api, err := client.NewClient(srv.URL,
		client.WithToken(opts.Token),
		client.WithCredentials(opts.Username, opts.Password),
		client.WithClock(clock.Now, func(_ context.Context, d time.Duration) error { clock.Advance(d); return nil }))
	if err != nil {
		t.Fatal(err)
	}
	return &imapRig{sb: sb, clock: clock, api: api, cfg: pecmail.Config{
		URL:      "imaps://" + ln.Addr().String(),
		Username: opts.Username,
		Password: opts.Password,
		TLS:      &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS12},
		Trust:    roots,
		Timeout:  time.Minute,
	}}
}

func (r *imapRig) send(t *testing.T, recipients ...string) string {
	t.Helper()
	res, err := r.api.Send(t.Context(), &client.SendRequest{
		Sender:     r.cfg.Username,
		Recipients: recipients,
		Subject:    "Sollecito <fattura> & \"saldo\" è dovuto",
		Body:       "<p>Gentile utente, in allegato l'avviso.</p>",
	})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	return res.MessageID
}

func (r *imapRig) fetchAll(t *testing.T, code string) []pecmail.Receipt {
	t.Helper()
	got, _, err := pecmail.Fetch(t.Context(), r.cfg, pecmail.Cursor{}, func(c string) bool { return c == code })
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if len(got) < 2 { // an acceptance and at least one receipt per addressee
		t.Fatalf("Fetch read %d receipts of %s, want the acceptance and what followed", len(got), code)
	}
	return got
}

func TestSandboxReceiptsReadBack(t *testing.T) {
	t.Parallel()
	for _, style := range []string{"documented", "pec"} {
		t.Run(style, func(t *testing.T) {
			t.Parallel()
			r := newIMAPRig(t, style, "")
			two := r.send(t, "mario.rossi@pec.comune.example", "anna.bianchi@legalmail.example")
			failed := r.send(t, "nessuno@invalid.sandbox.test")
			broken := r.send(t, "uno@badsig.sandbox.test")
			other := r.send(t, "uno@mismatch.sandbox.test")
			r.clock.Advance(time.Minute)

			t.Run("two recipients, each named once by a valid signed delivery", func(t *testing.T) {
				var named []string
				for _, rc := range r.fetchAll(t, two) {
					if rc.Code != two {
						t.Errorf("receipt %q has code %q, want %q", rc.Subject, rc.Code, two)
					}
					if rc.Signature.Status != pecmail.SigValid {
						t.Errorf("%s: signature %q (%s), want valid", rc.Kind, rc.Signature.Status, rc.Signature.Detail)
					}
					if !rc.Agrees {
						t.Errorf("%s: daticert does not agree with %q (%s)", rc.Kind, rc.Subject, rc.DaticertErr)
					}
					if rc.Kind == "avvenuta-consegna" {
						named = append(named, strings.ToLower(rc.Daticert.Consegna))
					}
				}
				slices.Sort(named)
				want := []string{"anna.bianchi@legalmail.example", "mario.rossi@pec.comune.example"}
				if !slices.Equal(named, want) {
					t.Errorf("deliveries name %q, want each addressee once: %q", named, want)
				}
			})
			t.Run("a non-delivery names its addressee and error", func(t *testing.T) {
				var seen bool
				for _, rc := range r.fetchAll(t, failed) {
					if rc.Kind != "errore-consegna" {
						continue
					}
					seen = true
					if rc.Daticert.Consegna != "nessuno@invalid.sandbox.test" || !strings.HasPrefix(rc.Daticert.ErroreEsteso, "5.1.1") {
						t.Errorf("non-delivery: consegna %q, errore-esteso %q", rc.Daticert.Consegna, rc.Daticert.ErroreEsteso)
					}
					if rc.Signature.Status != pecmail.SigValid || !rc.Agrees {
						t.Errorf("non-delivery: signature %q, agrees %v", rc.Signature.Status, rc.Agrees)
					}
				}
				if !seen {
					t.Error("no errore-consegna receipt read from the mailbox")
				}
			})
			t.Run("a delivery altered after signing is invalid", func(t *testing.T) {
				for _, rc := range r.fetchAll(t, broken) {
					want := pecmail.SigValid
					if rc.Kind == "avvenuta-consegna" {
						want = pecmail.SigInvalid
					}
					if rc.Signature.Status != want {
						t.Errorf("%s: signature %q, want %q", rc.Kind, rc.Signature.Status, want)
					}
				}
			})
			t.Run("a daticert of another message never agrees", func(t *testing.T) {
				for _, rc := range r.fetchAll(t, other) {
					if want := rc.Kind != "avvenuta-consegna"; rc.Agrees != want {
						t.Errorf("%s: agrees %v, want %v", rc.Kind, rc.Agrees, want)
					}
				}
			})
		})
	}
}

func TestSandboxIMAPLoginRefused(t *testing.T) {
	t.Parallel()
	r := newIMAPRig(t, "documented", sandbox.FaultIMAPLogin)
	_, _, err := pecmail.Fetch(t.Context(), r.cfg, pecmail.Cursor{}, func(string) bool { return true })
	if !errors.Is(err, pecmail.ErrLogin) {
		t.Fatalf("Fetch with the login fault: %v, want ErrLogin", err)
	}
	if strings.Contains(err.Error(), r.cfg.Password) {
		t.Errorf("the error shows the password: %v", err)
	}
}
