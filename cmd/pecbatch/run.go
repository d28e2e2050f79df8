package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/campaign/runner"
)

// runOptions are the arguments and flags of `pecbatch run`.
type runOptions struct {
	file          string
	yes           bool
	limit         int
	noWait        bool
	resendUnknown bool
	allowChanges  bool
	allowDupes    bool
	sandbox       bool
	sandboxFlags  sandboxFlags
	timeScale     float64
	report        string
}

func newRunCommand(g *globalOptions) *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run CAMPAIGN.yaml",
		Short: "Send a campaign, exactly once per row, and track every message until it is final",
		Long: `run checks every row (as validate does), then sends each row's message through
PEC Massiva, one at a time at sending.rate, recording every send in the
campaign's journal before the request and after the answer: an interrupted
run (Ctrl-C, a crash, a lost connection) is resumed by running the same
command again, without sending anything twice and without skipping anyone.

A send whose outcome is unknown (a timeout or a dropped connection after the
request went out, a 5xx answer) is never sent again by itself: run looks for
its acceptance receipt in the mailbox. Not found within
sending.reconcile_window, it stays "unknown" until --resend-unknown.

After the last send, run follows the receipts of every message until each
row is delivered or has failed (unless --no-wait; 'pecbatch poll' resumes
this), then writes the delivery report next to the journal.

On a terminal, run shows what it will do and asks before sending; elsewhere
it needs --yes. --sandbox sends to a sandbox started inside pecbatch (nothing
leaves the machine), with a journal of its own that starts afresh each time;
--receipts, --seed, --fault and --daily-limit shape that sandbox as they do
'pecbatch sandbox'.

` + exitStatusHelp,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.file = args[0]
			if name := o.sandboxFlags.changed(cmd.Flags()); name != "" && !o.sandbox {
				return &usageError{fmt.Errorf("--%s shapes the in-process sandbox: add --sandbox", name)}
			}
			return runRun(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.yes, "yes", "y", false, "send without asking for confirmation")
	f.IntVar(&o.limit, "limit", 0, "send at most this many pending rows (a trial batch); 0 means all")
	f.BoolVar(&o.noWait, "no-wait", false, "return after sending; track the receipts later with 'pecbatch poll'")
	f.BoolVar(&o.resendUnknown, "resend-unknown", false, "send again the rows whose outcome stayed unknown after sending.reconcile_window")
	f.BoolVar(&o.allowChanges, "allow-changes", false, "on a resume, accept new rows and changed content of rows not sent yet "+
		"(rows already sent keep what was sent and are shown as changed after send)")
	f.BoolVar(&o.allowDupes, "allow-duplicate-content", false, "send rows whose message (recipients, subject, body, attachments) "+
		"is the same as a row already sent in the journal or another row of this run")
	f.BoolVar(&o.sandbox, "sandbox", false, "send to a sandbox started inside pecbatch instead of the API (nothing leaves the machine)")
	f.Float64Var(&o.timeScale, "time-scale", 1, "with --sandbox: run the campaign's clock this many times faster than real time "+
		"(600: a day in 2.4 minutes), to see sending.daily_limit and sending.window at work")
	f.StringVar(&o.report, "report", "", `where to write the delivery report ("-": none; default: CSV and HTML next to the journal)`)
	o.sandboxFlags.add(f, true)
	return cmd
}

func runRun(ctx context.Context, g *globalOptions, o *runOptions) error {
	if o.limit < 0 {
		return &usageError{errors.New("--limit must be 0 (all) or more")}
	}
	// Refuse before preflight and before a journal is created: without a
	// terminal nobody can answer the question.
	if !o.yes && !g.stdinTerminal() {
		return &usageError{errors.New("run asks for confirmation before sending, but standard input is not a terminal: " +
			"run again with --yes")}
	}
	var clk *runner.ScaledClock
	switch {
	case o.timeScale <= 0:
		return &usageError{errors.New("--time-scale must be more than 0 (1 is real time)")}
	case o.timeScale != 1 && !o.sandbox:
		return &usageError{errors.New("--time-scale works only with --sandbox: a real campaign runs on the real clock")}
	case o.timeScale != 1:
		clk = runner.NewScaledClock(o.timeScale)
	}
	var now func() time.Time
	if clk != nil {
		now = clk.Now
	}
	c, local, err := loadForSendingAt(ctx, g, o.file, o.sandbox, o.sandboxFlags, now)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	if local != nil {
		defer local.close()
	}
	d := g.runnerDeps(o.report)
	if local == nil {
		// The sandbox gives a ledger of its own (configure, below).
		if d.LedgerPath, err = g.ledgerPath(c); err != nil {
			return fmt.Errorf("run: %w", err)
		}
		// The sandbox serves its own mailbox (configure, below).
		d.Signed = runner.NewIMAPSource(c, nil)
	}
	if clk != nil {
		d.Clock = clk
	}
	ropts := runner.RunOptions{
		Limit:                 o.limit,
		NoWait:                o.noWait,
		ResendUnknown:         o.resendUnknown,
		AllowChanges:          o.allowChanges,
		AllowDuplicateContent: o.allowDupes,
	}
	if local != nil {
		if ropts.Journal, err = local.configure(ctx, g, c, &d); err != nil {
			return err
		}
		if clk != nil {
			d.Tuning.TimeScale = clk.Factor()
			// The mailbox is read in real seconds: a scaled interval would
			// open a connection every few milliseconds.
			d.Tuning.SignedInterval = time.Duration(float64(d.Tuning.SignedInterval) * clk.Factor())
			d.Tuning.SignedTimeout = time.Duration(float64(runner.DefaultSignedTimeout) * clk.Factor())
			fmt.Fprintf(g.stderr, "Sandbox: the clock runs %g times faster than real time, from %s.\n", clk.Factor(),
				clk.Now().In(campaign.Rome()).Format("Mon 2 Jan 2006 15:04 MST"))
		}
	}
	if !o.yes {
		ropts.Confirm = confirm(g)
	}
	_, err = runner.Run(ctx, c, d, ropts)
	return err
}

// confirm asks on the terminal before the first send.
func confirm(g *globalOptions) func(runner.Plan) (bool, error) {
	return func(p runner.Plan) (bool, error) {
		fmt.Fprintf(g.stderr, "Send %d message(s) to %s now? [y/N] ", p.ToSend, p.Endpoint)
		line, err := bufio.NewReader(g.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return false, err
		}
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "y", "yes", "s", "si", "sì":
			return true, nil
		}
		// An error, not a refusal the runner takes for an interruption
		// (exit status 130, "run the same command again to resume").
		return false, errNotConfirmed
	}
}

// errNotConfirmed is the answer no to run's question: exit status 1.
var errNotConfirmed = errors.New("not confirmed: nothing sent")

// sandboxLogger is the logger of the in-process sandbox: its line per send
// only with --verbose.
func (g *globalOptions) sandboxLogger() *slog.Logger {
	if !g.verbose {
		return slog.New(slog.DiscardHandler)
	}
	return g.logger().With("component", "sandbox")
}

// isTerminal reports whether w is a terminal (a live progress bar then).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
