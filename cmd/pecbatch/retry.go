package main

import (
	"context"
	"fmt"
	"strconv"
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
commas); --rows retries only those rows (numbers as status shows them), each
of which must be in one of the states, or nothing is queued. A delivered row
is never retried. It cannot run while a run of the campaign is going on.`,
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
	rows, err := parseRows(o.rows)
	if err != nil {
		return &usageError{err}
	}
	c, err := campaign.LoadFile(o.file, g.loadOptions(true))
	if err != nil {
		return fmt.Errorf("retry: %w", err)
	}
	done, err := runner.Retry(ctx, c, runner.Deps{Logger: g.logger()}, runner.RetryOptions{States: states, Rows: rows, Note: o.note})
	for _, r := range done {
		prev := ""
		if r.MessageID != "" {
			prev = ", message id " + r.MessageID
		}
		fmt.Fprintf(g.stdout, "Row %d (key %q): attempt %d queued (attempt %d was %s%s).\n", r.Row, r.Key, r.Attempt,
			r.Attempt-1, r.From, prev)
	}
	if err != nil {
		return err
	}
	if len(done) == 0 {
		fmt.Fprintln(g.stdout, "No row to retry.")
		return nil
	}
	fmt.Fprintf(g.stdout, "%d row(s) queued: the next `pecbatch run` sends them.\n", len(done))
	return nil
}

// parseRows reads a list of row numbers and ranges, "1,5-9"; "" is none.
func parseRows(s string) ([]int, error) {
	var out []int
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(strings.TrimSpace(lo))
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(strings.TrimSpace(hi))
		}
		switch {
		case err != nil || a < 1:
			return nil, fmt.Errorf("--rows %q: %q is not a row number nor a range like 5-9", s, part)
		case b < a:
			return nil, fmt.Errorf("--rows %q: the range %q goes backwards", s, part)
		case b-a >= 1_000_000:
			return nil, fmt.Errorf("--rows %q: the range %q is too large", s, part)
		}
		for n := a; n <= b; n++ {
			out = append(out, n)
		}
	}
	return out, nil
}
