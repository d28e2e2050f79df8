package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/campaign/runner"
	"github.com/pecbatch/pecbatch/journal"
)

// statusOptions are the arguments and flags of `pecbatch status`.
type statusOptions struct {
	file    string
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
needed. With --sandbox it reads the journal of the last 'run --sandbox'.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.file = args[0]
			return runStatus(cmd.Context(), g, o)
		},
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "print the status as JSON")
	cmd.Flags().BoolVar(&o.sandbox, "sandbox", false, "show the journal of the last 'run --sandbox'")
	return cmd
}

func runStatus(ctx context.Context, g *globalOptions, o *statusOptions) error {
	c, err := campaign.LoadFile(o.file, g.loadOptions(true))
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	journal, err := journalToRead(c, "status", o.file, o.sandbox)
	if err != nil {
		return err
	}
	st, err := runner.Status(ctx, c, journal, time.Now())
	if err != nil {
		return err
	}
	if o.json {
		return st.WriteJSON(g.stdout)
	}
	return st.WriteText(g.stdout, time.Local)
}

// journalToRead returns the journal that status or report (command) reads
// for the campaign file: the one of 'run --sandbox' with withSandbox. When
// there is no journal but the sandbox's, the campaign was only tried against
// the sandbox, and the error says to add --sandbox.
func journalToRead(c *campaign.Campaign, command, file string, withSandbox bool) (string, error) {
	path := c.Sending.Journal
	if withSandbox {
		return runner.SandboxJournalPath(path), nil
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(runner.SandboxJournalPath(path)); err == nil {
			return "", fmt.Errorf("%s: %s has only been run with --sandbox: add it, as in 'pecbatch %s %s --sandbox'",
				command, file, command, file)
		}
	}
	return path, nil
}

// openJournalToRead opens read-only the journal journalToRead names,
// saying how to start the campaign when it has not been run yet; the
// caller closes it.
func openJournalToRead(ctx context.Context, c *campaign.Campaign, command, file string, withSandbox bool) (*journal.Reader, string, error) {
	path, err := journalToRead(c, command, file, withSandbox)
	if err != nil {
		return nil, "", err
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		runCmd := "pecbatch run " + file
		if withSandbox {
			runCmd += " --sandbox"
		}
		return nil, "", fmt.Errorf("%s: no journal at %s: the campaign has not been run yet; start it with '%s'", command, path, runCmd)
	}
	r, err := journal.OpenReadOnly(ctx, path)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", command, err)
	}
	return r, path, nil
}
