package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/campaign/runner"
	"github.com/pecbatch/pecbatch/client/sandbox"
)

// The built-in sandbox of `run --sandbox`: receipts in seconds, and the
// 12 h and 24 h notices in 12 and 24 seconds, so that the demo campaign,
// every outcome included, is tracked to the end in about half a minute.
const (
	localAcceptDelay  = time.Second
	localDeliverDelay = 3 * time.Second
	localWarnAfter    = 12 * time.Second
	localExpireAfter  = 24 * time.Second
	localGiveUpAfter  = 26 * time.Second
	// localSignedInterval: the sandbox's mailbox is read every few
	// seconds, so the demo's signed receipts are read before it ends.
	localSignedInterval = 2 * time.Second
)

// sandboxFlags are the flags that shape a sandbox's behaviour, shared by
// `pecbatch sandbox` and the in-process sandbox of `--sandbox`: the style
// of its receipts, the seed of its random draws, an account fault and the
// plan's daily cap.
type sandboxFlags struct {
	receipts   string
	seed       int64
	fault      string
	dailyLimit int
}

// add defines the flags on f; seed is left out where the command defines
// its own.
func (s *sandboxFlags) add(f *pflag.FlagSet, seed bool) {
	f.StringVar(&s.receipts, "receipts", string(sandbox.StyleDocumented),
		"sandbox receipt style: documented (as the API's example), pec (the PEC providers' texts) or mixed (per send, from --seed)")
	f.StringVar(&s.fault, "fault", string(sandbox.FaultNone),
		"sandbox account fault: none, smtp-auth, smtp-auth-false, daily-limit, proxy-502 or imap-login")
	f.IntVar(&s.dailyLimit, "daily-limit", 0, "sandbox plan cap: PEC messages per Rome day before 403 (0: no cap)")
	if seed {
		f.Int64Var(&s.seed, "seed", 0, "seed of the sandbox's random draws (the styles of --receipts mixed)")
	}
}

// changed names the first of these flags set on the command line, "" if
// none: they mean something only with a sandbox.
func (s *sandboxFlags) changed(f *pflag.FlagSet) string {
	for _, name := range []string{"receipts", "seed", "fault", "daily-limit"} {
		if f.Changed(name) {
			return name
		}
	}
	return ""
}

// apply checks the flags and sets them in opts.
func (s *sandboxFlags) apply(opts *sandbox.Options) error {
	style, err := sandbox.ParseReceiptStyle(s.receipts)
	if err != nil {
		return fmt.Errorf("--receipts: %w", err)
	}
	fault, err := sandbox.ParseFault(s.fault)
	if err != nil {
		return fmt.Errorf("--fault: %w", err)
	}
	if s.dailyLimit < 0 {
		return errors.New("--daily-limit must be 0 (no cap) or more")
	}
	opts.Receipts, opts.Fault, opts.DailyLimit, opts.Seed = style, fault, s.dailyLimit, s.seed
	return nil
}

// loadForSending loads the campaign file of a command that talks to the API.
// With withSandbox it first starts the in-process sandbox, shaped by sf, and
// points the campaign at it (URL, token and credentials), so nothing need be
// set in the environment; the caller closes the returned sandbox when it is
// not nil.
func loadForSending(ctx context.Context, g *globalOptions, path string, withSandbox bool, sf sandboxFlags) (*campaign.Campaign, *localSandbox, error) {
	return loadForSendingAt(ctx, g, path, withSandbox, sf, nil)
}

// loadForSendingAt is loadForSending with the sandbox on the clock now
// (nil: the real one), for `run --sandbox --time-scale`.
func loadForSendingAt(ctx context.Context, g *globalOptions, path string, withSandbox bool, sf sandboxFlags,
	now func() time.Time) (*campaign.Campaign, *localSandbox, error) {
	lopts := g.loadOptions(false)
	var local *localSandbox
	if withSandbox {
		var err error
		if local, err = startLocalSandbox(ctx, g.sandboxLogger(), sf, now); err != nil {
			return nil, nil, err
		}
		lopts.OverrideAPI = local.override()
	}
	c, err := campaign.LoadFile(path, lopts)
	if err != nil {
		if local != nil {
			local.close()
		}
		return nil, nil, err
	}
	return c, local, nil
}

// localSandbox is the sandbox `--sandbox` serves inside the pecbatch
// process, on a free loopback port.
type localSandbox struct {
	url    string
	opts   sandbox.Options
	sb     *sandbox.Server
	srv    *http.Server
	served chan struct{} // closed when Serve has returned
	// imapServed is closed when ServeIMAP has returned; nil when the
	// mailbox is not served over IMAP.
	imapServed chan struct{}
	// ledgerDir holds the claim ledger of the sandbox's sends, removed
	// with the sandbox: its message ids mean nothing to the real service
	// nor to the sandbox of another process.
	ledgerDir string
}

// startLocalSandbox starts the sandbox, shaped by sf; log receives its
// lines (one per send), so pass a discarding logger unless --verbose. now is
// its clock (nil: the real one).
func startLocalSandbox(ctx context.Context, log *slog.Logger, sf sandboxFlags, now func() time.Time) (*localSandbox, error) {
	opts := sandbox.DefaultOptions()
	if err := sf.apply(&opts); err != nil {
		return nil, &usageError{err}
	}
	if now != nil {
		// Receipts follow the accelerated clock; a rate check, were there
		// one, would stay in real seconds.
		opts.Now, opts.RateNow = now, time.Now
	}
	opts.AcceptDelay, opts.DeliverDelay = localAcceptDelay, localDeliverDelay
	opts.WarnAfter, opts.ExpireAfter = localWarnAfter, localExpireAfter
	// The client paces itself at sending.rate; the sandbox need not check.
	opts.SendRate = 0
	opts.Logger = log
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sandbox: listen on a loopback port: %w", err)
	}
	sb := sandbox.New(opts)
	s := &localSandbox{
		url:    "http://" + ln.Addr().String(),
		opts:   opts,
		sb:     sb,
		srv:    &http.Server{Handler: sb, ReadHeaderTimeout: 10 * time.Second},
		served: make(chan struct{}),
	}
	go func() {
		defer close(s.served)
		// A listener of our own that fails shows in the client's errors;
		// after Shutdown, Serve returns http.ErrServerClosed.
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// override points a campaign at the sandbox, with its credentials.
func (s *localSandbox) override() *campaign.APIOverride {
	return &campaign.APIOverride{BaseURL: s.url, Token: s.opts.Token, Username: s.opts.Username, Password: s.opts.Password}
}

// configure makes a run, a poll or a test send use the sandbox: its own
// journal, started afresh (the sandbox of an earlier process is gone, and
// with it every send it knew), its endpoint identity and its fast notices.
// It returns the journal's path.
func (s *localSandbox) configure(ctx context.Context, g *globalOptions, c *campaign.Campaign, d *runner.Deps) (string, error) {
	d.Endpoint = runner.SandboxEndpoint
	path := runner.SandboxJournalPath(c.Sending.Journal)
	reset, err := runner.ResetSandboxJournal(ctx, path)
	if err != nil {
		return "", err
	}
	if reset && !g.quiet {
		fmt.Fprintf(g.stderr, "Sandbox: starting afresh (%s): the sandbox of an earlier run is gone with its process.\n", path)
	}
	if !g.quiet {
		fmt.Fprintf(g.stderr, "Sandbox: serving the PEC Massiva API at %s inside pecbatch; nothing leaves this machine.\n", s.url)
	}
	if s.ledgerDir == "" {
		dir, err := os.MkdirTemp("", "pecbatch-sandbox-ledger-")
		if err != nil {
			return "", fmt.Errorf("sandbox: a folder for its claim ledger: %w", err)
		}
		s.ledgerDir = dir
	}
	d.LedgerPath = filepath.Join(s.ledgerDir, "ledger.db")
	d.Tuning = runner.Tuning{
		AcceptanceDelay: localAcceptDelay + localAcceptDelay/5,
		Notices:         []time.Duration{localWarnAfter, localExpireAfter},
		GiveUpAfter:     localGiveUpAfter,
		SignedInterval:  localSignedInterval,
	}
	if c.Tracking.IMAP != "" {
		tc, err := s.serveIMAP(ctx, c)
		if err != nil {
			return "", err
		}
		d.Signed = runner.NewIMAPSource(c, tc)
		if !g.quiet {
			fmt.Fprintf(g.stderr, "Sandbox: serving the mailbox over IMAP at %s (tracking.imap): the signed receipts "+
				"are read from it, checked against the sandbox's own CA.\n", c.Tracking.IMAP)
		}
	}
	return path, nil
}

// serveIMAP serves the sandbox's mailbox over IMAP on a free loopback
// port and points c's tracking.imap at it, as override points the API:
// the server's certificate and the receipts' signatures are checked
// against the sandbox's CA, whatever tracking.imap_trust says. It returns
// the TLS config that reaches the server.
func (s *localSandbox) serveIMAP(ctx context.Context, c *campaign.Campaign) (*tls.Config, error) {
	ca, err := s.sb.CACertificate()
	if err != nil {
		return nil, fmt.Errorf("sandbox: its test CA: %w", err)
	}
	// Before any send: a CONSEGNA carries the attachments the sandbox
	// keeps from now on.
	if err := s.sb.EnableIMAP(); err != nil {
		return nil, fmt.Errorf("sandbox: its IMAP mailbox: %w", err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sandbox: listen on a loopback port for IMAP: %w", err)
	}
	s.imapServed = make(chan struct{})
	go func() {
		defer close(s.imapServed)
		// Errors show in the fetcher's warnings; after CloseIMAP it returns.
		_ = s.sb.ServeIMAP(ln)
	}()
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	c.Tracking.IMAP, c.Tracking.IMAPRoots = "imaps://"+ln.Addr().String(), roots
	return &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}, nil
}

func (s *localSandbox) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	<-s.served
	if s.imapServed != nil {
		_ = s.sb.CloseIMAP()
		<-s.imapServed
	}
	if s.ledgerDir != "" {
		_ = os.RemoveAll(s.ledgerDir)
	}
}
