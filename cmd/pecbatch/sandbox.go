package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/pecbatch/pecbatch/client/sandbox"
)

// sandboxOptions are the flags of `pecbatch sandbox`.
type sandboxOptions struct {
	addr      string
	imapAddr  string
	timeScale float64
	shape     sandboxFlags
	sandbox.Options
}

func newSandboxCommand(g *globalOptions) *cobra.Command {
	o := &sandboxOptions{Options: sandbox.DefaultOptions()}
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Serve a local simulator of the PEC Massiva API, for trying pecbatch without sending real PEC",
		Long: `Serve the whole PEC Massiva API on this machine, in memory: sends, receipts
that arrive over time, the inbox, quotas, the send rate limit and injected
faults. Nothing leaves the machine. The recipient's domain chooses what
happens to a message:

  anything else           accepted after --accept-delay, delivered after --deliver-delay
  invalid.sandbox.test    accepted, then not delivered: 5.1.1 indirizzo non valido
  full.sandbox.test       accepted, then not delivered: 5.2.2 casella piena
  slow.sandbox.test       accepted, 12 h warning at --warn-after, delivered just after
  expire.sandbox.test     accepted, warning at --warn-after, expired (5.4.1) at --expire-after
  ordinary.sandbox.test   accepted only: an ordinary mailbox never yields a delivery
  virus.sandbox.test      not accepted: virus
  reject.sandbox.test     not accepted
  (and charge., infected., anomaly., security., duplicate., unsorted.,
  foreign.sandbox.test: see docs/sandbox.md)

--receipts documented (the default) writes receipts as the API's documented
example does: a delivery receipt carries the original mail and names no
addressee. --receipts pec writes the PEC providers' texts, which name it;
mixed picks one of the two per send, from --seed. --fault and --daily-limit
make the account refuse sends.

Use --time-scale 3600 to see the 12 h and 24 h cases in 12 and 24 seconds.
GET /_sandbox/sends (with the token) lists every message actually sent.
--imap 127.0.0.1:9993 also serves the mailbox over IMAP (imaps, same
username and password): every receipt as a signed PEC message with its
daticert.xml, signed by a test CA made at start (its PEM is written to a
temporary file and served at GET /_sandbox/ca.pem). --fault imap-login makes
the IMAP server refuse every login.
Stop with Ctrl-C.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("seed") {
				o.shape.seed = g.now().UnixNano()
			}
			return runSandbox(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:8025", "loopback address to listen on (port 0 picks a free one)")
	f.StringVar(&o.imapAddr, "imap", "", "also serve the mailbox over IMAP with TLS (imaps) on this loopback address, e.g. 127.0.0.1:9993 (default: no IMAP)")
	f.StringVar(&o.Token, "token", o.Token, "bearer token clients must send")
	f.StringVar(&o.Username, "username", o.Username, "PEC mailbox username clients must send")
	f.StringVar(&o.Password, "password", o.Password, "PEC mailbox password clients must send")
	f.DurationVar(&o.AcceptDelay, "accept-delay", o.AcceptDelay, "time from a send to its acceptance receipt")
	f.DurationVar(&o.DeliverDelay, "deliver-delay", o.DeliverDelay, "time from a send to its delivery (or non-delivery) receipt")
	f.DurationVar(&o.WarnAfter, "warn-after", o.WarnAfter, "time from a send to the delivery-time warning (slow. and expire.sandbox.test)")
	f.DurationVar(&o.ExpireAfter, "expire-after", o.ExpireAfter, "time from a send to the final expiry notice (expire.sandbox.test)")
	f.Float64Var(&o.SendRate, "send-rate", o.SendRate, "POST /send allowed per second; more get 429 with Retry-After (0: unlimited)")
	f.Float64Var(&o.FailRate, "fail-rate", 0, "probability that a send is answered 500 without being sent")
	f.Float64Var(&o.DropRate, "drop-rate", 0, "probability that a send is sent and its connection then closed without an answer")
	f.Int64Var(&o.shape.seed, "seed", 0, "seed of the injected faults and of --receipts mixed (default: random, printed at start)")
	o.shape.add(f, false)
	f.Float64Var(&o.timeScale, "time-scale", 1, "how much faster than real time the receipts' clock runs (3600: an hour a second)")
	return cmd
}

// check refuses flag values that make no sense, before anything listens.
func (o *sandboxOptions) check() error {
	switch {
	case o.Token == "" || o.Username == "" || o.Password == "":
		return errors.New("--token, --username and --password must not be empty")
	case o.AcceptDelay < 0 || o.DeliverDelay < 0 || o.WarnAfter < 0 || o.ExpireAfter < 0:
		return errors.New("--accept-delay, --deliver-delay, --warn-after and --expire-after must not be negative")
	case o.DeliverDelay < o.AcceptDelay:
		return fmt.Errorf("--deliver-delay (%v) must not be shorter than --accept-delay (%v): a delivery follows its acceptance", o.DeliverDelay, o.AcceptDelay)
	case o.ExpireAfter < o.WarnAfter:
		return fmt.Errorf("--expire-after (%v) must not be shorter than --warn-after (%v): the expiry follows the warning", o.ExpireAfter, o.WarnAfter)
	case o.SendRate < 0:
		return errors.New("--send-rate must be 0 (unlimited) or more")
	case o.FailRate < 0 || o.FailRate > 1 || o.DropRate < 0 || o.DropRate > 1:
		return errors.New("--fail-rate and --drop-rate are probabilities: between 0 and 1")
	case o.timeScale <= 0:
		return errors.New("--time-scale must be more than 0 (1 is real time)")
	}
	return nil
}

// loopbackOnly refuses an address that would expose the sandbox beyond this
// machine: it accepts anyone holding the printed, well-known token.
func loopbackOnly(flag, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s %q: %w (use host:port, e.g. 127.0.0.1:8025)", flag, addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%s %q is not a loopback address: the sandbox serves only this machine (use 127.0.0.1:PORT)", flag, addr)
}

// listenLoopback listens on addr and refuses a listener that resolved to
// anything but a loopback address.
func listenLoopback(ctx context.Context, flag, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sandbox: listen on %s: %w (is another sandbox running? pick another port with %s)", addr, err, flag)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() {
		ln.Close()
		return nil, &usageError{fmt.Errorf("%s %q resolved to %v, not a loopback address", flag, addr, ln.Addr())}
	}
	return ln, nil
}

func runSandbox(ctx context.Context, g *globalOptions, o *sandboxOptions) error {
	if err := o.check(); err != nil {
		return &usageError{err}
	}
	if err := loopbackOnly("--addr", o.addr); err != nil {
		return &usageError{err}
	}
	if o.imapAddr != "" {
		if err := loopbackOnly("--imap", o.imapAddr); err != nil {
			return &usageError{err}
		}
	}
	if err := o.shape.apply(&o.Options); err != nil {
		return &usageError{err}
	}
	opts := o.Options
	opts.Logger = g.logger()
	if o.timeScale != 1 {
		opts.Now = sandbox.Accelerated(time.Now, o.timeScale)
		// Pacing stays in real seconds: a client waits real Retry-After.
		opts.RateNow = time.Now
	}

	ln, err := listenLoopback(ctx, "--addr", o.addr)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	sb := sandbox.New(opts)
	var imapLn net.Listener
	var caFile string
	if o.imapAddr != "" {
		if imapLn, err = listenLoopback(ctx, "--imap", o.imapAddr); err != nil {
			ln.Close()
			return err
		}
		dir, err := writeSandboxCA(sb)
		if err != nil {
			ln.Close()
			imapLn.Close()
			return err
		}
		defer os.RemoveAll(dir)
		caFile = filepath.Join(dir, "ca.pem")
	}

	clock := "real time"
	if o.timeScale != 1 {
		clock = fmt.Sprintf("%g times faster than real time (receipt dates run ahead)", o.timeScale)
	}
	// These are the sandbox's own made-up values, printed so a newcomer can
	// paste them; they open nothing but this process.
	fmt.Fprintf(g.stdout, `PEC Massiva sandbox listening on %s
  token:     %s
  username:  %s
  password:  %s
  receipts:  accepted after %v, delivered after %v, warning after %v, expiry after %v
  clock:     %s
  send rate: %s
  faults:    fail %g, drop %g, seed %d
  account:   fault %s, daily limit %s
  style:     %s receipts
Try:
  curl -s -X POST %s/send -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \
    -d '{"sender":"%s","recipient":"mario.rossi@pec.example.it","subject":"Prova","body":"Ciao","username":"%s","password":"%s"}'
Stop with Ctrl-C.
`, url, o.Token, o.Username, o.Password, o.AcceptDelay, o.DeliverDelay, o.WarnAfter, o.ExpireAfter,
		clock, sendRateText(o.SendRate), o.FailRate, o.DropRate, o.Seed, o.Fault, dailyLimitText(o.DailyLimit), o.Receipts,
		url, o.Token, o.Username, o.Username, o.Password)
	if imapLn != nil {
		fmt.Fprintf(g.stdout, `IMAP mailbox on imaps://%s (INBOX, same username and password)
  CA:        %s (also GET %s/_sandbox/ca.pem)
`, imapLn.Addr(), caFile, url)
	}

	srv := &http.Server{
		Handler:           sb,
		ReadHeaderTimeout: 10 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	// imapDone is closed when ServeIMAP has returned imapErr: early only on
	// a failure, as CloseIMAP makes it return nil.
	imapDone := make(chan struct{})
	var imapErr error
	if imapLn != nil {
		go func() { imapErr = sb.ServeIMAP(imapLn); close(imapDone) }()
		defer func() {
			_ = sb.CloseIMAP() // the process ends: nothing to do about a failed close
			<-imapDone
		}()
	}

	select {
	case err := <-served:
		return fmt.Errorf("sandbox: %w", err)
	case <-imapDone:
		srv.Close()
		return fmt.Errorf("sandbox: IMAP: %w", imapErr)
	case <-ctx.Done():
	}
	// Let answers in flight finish; the state is in memory and goes anyway.
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("sandbox: shutting down: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("sandbox: %w", err)
	}
	fmt.Fprintln(g.stdout, "PEC Massiva sandbox stopped.")
	return nil
}

// writeSandboxCA writes the sandbox's CA certificate to ca.pem in a new
// temporary directory, for clients that trust it by file; the caller
// removes the directory.
func writeSandboxCA(sb *sandbox.Server) (string, error) {
	pemBytes, err := sb.CAPEM()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "pecbatch-sandbox-")
	if err != nil {
		return "", fmt.Errorf("sandbox: CA file: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), pemBytes, 0o644); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("sandbox: CA file: %w", err)
	}
	return dir, nil
}

func sendRateText(rate float64) string {
	if rate == 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%g POST /send per second (more get 429 with Retry-After)", rate)
}

func dailyLimitText(n int) string {
	if n == 0 {
		return "none"
	}
	return fmt.Sprintf("%d PEC messages per Rome day", n)
}
