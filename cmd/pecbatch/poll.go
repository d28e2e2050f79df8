package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/campaign/report"
	"github.com/pecbatch/pecbatch/campaign/runner"
	"github.com/pecbatch/pecbatch/journal"
)

// pollOptions are the arguments and flags of `pecbatch poll`.
type pollOptions struct {
	file   string
	report string
}

func newPollCommand(g *globalOptions) *cobra.Command {
	o := &pollOptions{}
	cmd := &cobra.Command{
		Use:   "poll CAMPAIGN.yaml",
		Short: "Track the receipts of a campaign already sent until every row is final",
		Long: `poll follows the receipts of the messages a campaign has sent, as run does after
its last send, until every row is delivered or has failed: for a run stopped
by Ctrl-C or run with --no-wait. It sends nothing. It also looks in the
mailbox for the acceptance of the sends whose outcome is unknown. Stopped,
it resumes where it was when run again. At the end it writes the delivery
report next to the journal.

` + exitStatusHelp,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.file = args[0]
			return runPoll(cmd.Context(), g, o)
		},
	}
	cmd.Flags().StringVar(&o.report, "report", "", `where to write the delivery report ("-": none; default: CSV and HTML next to the journal)`)
	return cmd
}

func runPoll(ctx context.Context, g *globalOptions, o *pollOptions) error {
	c, err := campaign.LoadFile(o.file, g.loadOptions(false))
	if err != nil {
		return fmt.Errorf("poll: %w", err)
	}
	d := g.runnerDeps(o.report)
	if d.LedgerPath, err = g.ledgerPath(c); err != nil {
		return fmt.Errorf("poll: %w", err)
	}
	d.Signed = runner.NewIMAPSource(c, nil)
	_, err = runner.Poll(ctx, c, d, runner.PollOptions{})
	if errors.Is(err, campaign.ErrInterrupted) {
		// The runner's own wording names run; this was a poll.
		return fmt.Errorf("poll: %w", campaign.ErrInterrupted)
	}
	return err
}

// runnerDeps are the dependencies of the runner for a command: its logger,
// its printer, and the delivery reports written at the end as the --report
// flag (reportFlag) asks ("-": none).
func (g *globalOptions) runnerDeps(reportFlag string) runner.Deps {
	d := runner.Deps{Logger: g.logger(), Printer: g.printer()}
	if reportFlag != "-" {
		d.SaveReports = func(ctx context.Context, r *journal.Reader, name string) ([]string, error) {
			return report.SaveAll(ctx, r, reportFlag, name)
		}
	}
	return d
}
