package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/pecbatch/pecbatch/campaign"
)

// statusOptions are the flags of `pecbatch status`.
type statusOptions struct {
	json    bool
	sandbox bool
}

func newStatusCommand(g *globalOptions) *cobra.Command {
	o := &statusOptions{}
	cmd := &cobra.Command{
		Use:   "status CAMPAIGN.yaml",
		Short: "Show how a campaign stands: rows per state, rows that need attention, times",
		Long: `status reads the campaign's journal and shows the number of rows in each
state, the rows that need a person's attention (sends with an unknown
outcome, rows the API rejected) with their errors, when the campaign started
and finished, and how long the rows still pending take to send. It only
reads, so it works while a run is going on. The API credentials are not
needed.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := campaign.LoadFile(args[0], campaign.LoadOptions{LookupEnv: os.LookupEnv, Offline: true})
			if err != nil {
				return fmt.Errorf("status: %w", err)
			}
			journal := c.Sending.Journal
			if o.sandbox {
				journal = campaign.SandboxJournalPath(journal)
			}
			st, err := campaign.Status(cmd.Context(), c, journal)
			if err != nil {
				return err
			}
			if o.json {
				return st.WriteJSON(g.stdout)
			}
			return st.WriteText(g.stdout, time.Local)
		},
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "print the status as JSON")
	cmd.Flags().BoolVar(&o.sandbox, "sandbox", false, "show the journal of the last 'run --sandbox'")
	return cmd
}
