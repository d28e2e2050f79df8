package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

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
)

// loadForSending loads the campaign file of a command that talks to the API.
// With withSandbox it first starts the in-process sandbox and points the
// campaign at it (URL, token and credentials), so nothing need be set in the
// environment; the caller closes the returned sandbox when it is not nil.
func loadForSending(ctx context.Context, g *globalOptions, path string, withSandbox bool) (*campaign.Campaign, *localSandbox, error) {
	return loadForSendingAt(ctx, g, path, withSandbox, nil)
}

// loadForSendingAt is loadForSending with the sandbox on the clock now
// (nil: the real one), for `run --sandbox --time-scale`.
func loadForSendingAt(ctx context.Context, g *globalOptions, path string, withSandbox bool, now func() time.Time) (*campaign.Campaign, *localSandbox, error) {
	lopts := g.loadOptions(false)
	var local *localSandbox
	if withSandbox {
		var err error
		if local, err = startLocalSandbox(ctx, g.sandboxLogger(), now); err != nil {
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
	srv    *http.Server
	served chan error
}

// startLocalSandbox starts the sandbox; log receives its lines (one per
// send), so pass a discarding logger unless --verbose. now is its clock
// (nil: the real one).
func startLocalSandbox(ctx context.Context, log *slog.Logger, now func() time.Time) (*localSandbox, error) {
	opts := sandbox.DefaultOptions()
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
	s := &localSandbox{
		url:    "http://" + ln.Addr().String(),
		opts:   opts,
		srv:    &http.Server{Handler: sandbox.New(opts), ReadHeaderTimeout: 10 * time.Second},
		served: make(chan error, 1),
	}
	go func() { s.served <- s.srv.Serve(ln) }()
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
	if reset {
		fmt.Fprintf(g.stderr, "Sandbox: starting afresh (%s): the sandbox of an earlier run is gone with its process.\n", path)
	}
	fmt.Fprintf(g.stderr, "Sandbox: serving the PEC Massiva API at %s inside pecbatch; nothing leaves this machine.\n", s.url)
	d.Tuning = runner.Tuning{
		AcceptanceDelay: localAcceptDelay + localAcceptDelay/5,
		Notices:         []time.Duration{localWarnAfter, localExpireAfter},
		GiveUpAfter:     localGiveUpAfter,
	}
	return path, nil
}

func (s *localSandbox) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	<-s.served
}
