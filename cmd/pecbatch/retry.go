package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/campaign/runner"
	"github.com/pecbatch/pecbatch/journal"
)

// retryOptions are the arguments and flags of `pecbatch retry`.
type retryOptions struct {
	file   string
	states []string
	rows   string
	note   string
}

func newRetryCommand(g *globalOptions) *cobra.Command {
	o := &retryOptions{}
	cmd := &cobra.Command{
		Use:   "retry CAMPAIGN.yaml --state failed|rejected|expired [--rows 1,5-9] [--note TEXT]",
		Short: "Queue failed, rejected or expired rows for a new attempt, keeping the first one's history",
		Long: `retry queues rows whose message did not reach every recipient (a full
mailbox, a rejection fixed since) for a new attempt: each goes back to pending
with the next attempt number, and the next 'pecbatch run' sends it, exactly
once, like any pending row. The previous attempt (its state, message id, error
and each recipient's outcome) stays in the journal; status and the report show
it. --state takes failed, rejected or expired (repeat it, or separate with
commas); --rows retries only those rows (numbers as status shows them) that
are in one of the states, and lists the others. A delivered row is never
retried. It cannot run while a run of the campaign is going on.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.file = args[0]
			return runRetry(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.states, "state", nil, "the states to retry: failed, rejected, expired")
	f.StringVar(&o.rows, "rows", "", "only these rows, as numbers and ranges: 1,5-9")
	f.StringVar(&o.note, "note", "", "why (a full mailbox emptied, say): kept with each retry")
	return cmd
}

func runRetry(ctx context.Context, g *globalOptions, o *retryOptions) error {
	if len(o.states) == 0 {
		return &usageError{fmt.Errorf("say which rows to retry with --state failed, rejected or expired")}
	}
	var states []journal.State
	for _, s := range o.states {
		st := journal.State(strings.TrimSpace(s))
		switch st {
		case journal.StateFailed, journal.StateRejected, journal.StateExpired:
			states = append(states, st)
		default:
			return &usageError{fmt.Errorf("--state %q: only failed, rejected and expired rows are retried", s)}
		}
	}
	ropts := runner.RetryOptions{States: states, Note: o.note}
	if o.rows != "" {
		sel, err := parseRowSelection(o.rows)
		if err != nil {
			return &usageError{fmt.Errorf("--rows: %w", err)}
		}
		ropts.Rows = sel.contains
	}
	c, err := campaign.LoadFile(o.file, g.loadOptions(true))
	if err != nil {
		return fmt.Errorf("retry: %w", err)
	}
	res, err := runner.Retry(ctx, c, runner.Deps{Logger: g.logger()}, ropts)
	if err != nil {
		return err
	}
	for _, r := range res.Retried {
		prev := ""
		if r.MessageID != "" {
			prev = ", message id " + r.MessageID
		}
		fmt.Fprintf(g.stdout, "Row %d (key %q): attempt %d queued (attempt %d was %s%s).\n", r.Row, r.Key, r.Attempt,
			r.Attempt-1, r.From, prev)
	}
	const listed = 20
	for i, s := range res.Skipped {
		if i == listed {
			fmt.Fprintf(g.stdout, "... and %d more not retried.\n", len(res.Skipped)-listed)
			break
		}
		fmt.Fprintf(g.stdout, "Not retried: %s.\n", s)
	}
	if len(res.Retried) == 0 {
		fmt.Fprintln(g.stdout, "No row to retry.")
		return nil
	}
	fmt.Fprintf(g.stdout, "%d row(s) queued: the next `pecbatch run` sends them.\n", len(res.Retried))
	return nil
}
