package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pecbatch/pecbatch/campaign/runner"
)

// testSendOptions are the arguments and flags of `pecbatch test-send`.
type testSendOptions struct {
	file         string
	to           string
	row          int
	sandbox      bool
	sandboxFlags sandboxFlags
}

func newTestSendCommand(g *globalOptions) *cobra.Command {
	o := &testSendOptions{}
	cmd := &cobra.Command{
		Use:   "test-send CAMPAIGN.yaml --to ADDRESS",
		Short: "Send the message of one row to your own address, to see what recipients will get",
		Long: `test-send renders the message of one row (the first, or --row N) exactly as
run would send it, and sends it to --to, a PEC address of yours, with the
subject prefixed "[TEST] ": look at it in your own mailbox before sending the
campaign. It is recorded in the campaign's journal as an event, not as a
campaign row: the row is still sent by run.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.file = args[0]
			if name := o.sandboxFlags.changed(cmd.Flags()); name != "" && !o.sandbox {
				return &usageError{fmt.Errorf("--%s shapes the in-process sandbox: add --sandbox", name)}
			}
			return runTestSend(cmd.Context(), g, o)
		},
	}
	cmd.Flags().StringVar(&o.to, "to", "", "the test address (required)")
	cmd.Flags().IntVar(&o.row, "row", 1, "the row whose message is sent (1 is the first data row)")
	cmd.Flags().BoolVar(&o.sandbox, "sandbox", false, "send to a sandbox started inside pecbatch (nothing leaves the machine)")
	o.sandboxFlags.add(cmd.Flags(), true)
	return cmd
}

func runTestSend(ctx context.Context, g *globalOptions, o *testSendOptions) error {
	if o.to == "" {
		return &usageError{errors.New("--to is required: the address the test message goes to")}
	}
	if o.row < 1 {
		return &usageError{errors.New("--row must be 1 or more")}
	}
	c, local, err := loadForSending(ctx, g, o.file, o.sandbox, o.sandboxFlags)
	if err != nil {
		return fmt.Errorf("test-send: %w", err)
	}
	if local != nil {
		defer local.close()
	}
	d := runner.Deps{Logger: g.logger(), Printer: g.printer()}
	topts := runner.TestSendOptions{To: o.to, Row: o.row}
	if local != nil {
		d.Endpoint = runner.SandboxEndpoint
		topts.Journal = runner.SandboxJournalPath(c.Sending.Journal)
	}
	_, err = runner.TestSend(ctx, c, d, topts)
	return err
}
