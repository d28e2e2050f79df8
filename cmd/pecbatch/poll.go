package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/pecbatch/pecbatch/campaign"
)

// pollOptions are the flags of `pecbatch poll`.
type pollOptions struct {
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
			return runPoll(cmd.Context(), g, o, args[0])
		},
	}
	cmd.Flags().StringVar(&o.report, "report", "", `where to write the delivery report ("-": none; default: CSV and HTML next to the journal)`)
	return cmd
}

func runPoll(ctx context.Context, g *globalOptions, o *pollOptions, path string) error {
	c, err := campaign.LoadFile(path, campaign.LoadOptions{LookupEnv: os.LookupEnv})
	if err != nil {
		return fmt.Errorf("poll: %w", err)
	}
	_, err = campaign.Poll(ctx, c, campaign.RunOptions{
		Logger:   g.logger(),
		Out:      g.stderr,
		Terminal: isTerminal(g.stderr),
		Report:   o.report,
	})
	return err
}
