package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/campaign/runner"
	"github.com/pecbatch/pecbatch/journal"
)

// resolveOptions are the arguments and flags of `pecbatch resolve`.
type resolveOptions struct {
	file      string
	row       int
	key       string
	as        string
	messageID string
	note      string
}

func newResolveCommand(g *globalOptions) *cobra.Command {
	o := &resolveOptions{}
	cmd := &cobra.Command{
		Use:   "resolve CAMPAIGN.yaml (--row N | --key K) (--as sent --message-id ID | --as not-sent) [--note TEXT]",
		Short: "Decide by hand a row whose send has an unknown outcome: sent (with its message id) or not sent",
		Long: `resolve records what you found out about a row pecbatch could not prove sent
or not sent (state "unknown": the service did not answer, or answered in a way
that proves nothing, and reconciliation found no receipt).

  --as sent --message-id ID   the message went out with this id (from its
                              acceptance receipt or the provider's web mail):
                              the row is tracked from it by run and poll
  --as not-sent               the message never went out: the row is pending
                              again and the next run sends it

The decision, its time and the --note are kept in the journal and shown by
status and the report. Only an unknown row is decided; any other is refused,
with its state. A message id that belongs to another row, in this journal or
in any other that sends from the same mailbox, is refused. It cannot run
while a run of the campaign is going on.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.file = args[0]
			return runResolve(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.row, "row", 0, "the row's number in the recipients file (as status shows it)")
	f.StringVar(&o.key, "key", "", "the row's key")
	f.StringVar(&o.as, "as", "", "the decision: sent or not-sent")
	f.StringVar(&o.messageID, "message-id", "", "with --as sent: the message id of the send")
	f.StringVar(&o.note, "note", "", "why (what was checked, who decided): kept with the decision")
	return cmd
}

func runResolve(ctx context.Context, g *globalOptions, o *resolveOptions) error {
	var as journal.Decision
	switch o.as {
	case "sent":
		as = journal.DecidedSent
	case "not-sent", "not_sent":
		as = journal.DecidedNotSent
	default:
		return &usageError{fmt.Errorf("--as must be sent or not-sent, not %q", o.as)}
	}
	switch {
	case (o.row > 0) == (o.key != ""):
		return &usageError{errors.New("name the row with --row N or --key K, one of the two")}
	case as == journal.DecidedSent && o.messageID == "":
		return &usageError{errors.New("--as sent needs --message-id: the id of the send, from its acceptance receipt")}
	case as == journal.DecidedNotSent && o.messageID != "":
		return &usageError{errors.New("--as not-sent takes no --message-id")}
	}
	c, err := campaign.LoadFile(o.file, g.loadOptions(true))
	if err != nil {
		return fmt.Errorf("resolve: %w", err)
	}
	d := runner.Deps{Logger: g.logger()}
	if d.LedgerPath, err = g.ledgerPath(c); err != nil {
		return fmt.Errorf("resolve: %w", err)
	}
	res, err := runner.Resolve(ctx, c, d, runner.ResolveOptions{Row: o.row, Key: o.key, As: as, MessageID: o.messageID, Note: o.note})
	if err != nil {
		return err
	}
	if as == journal.DecidedSent {
		fmt.Fprintf(g.stdout, "Row %d (key %q) decided sent, message id %s: it is %s; `pecbatch run` or `pecbatch poll` tracks it.\n",
			res.Row, res.Key, res.MessageID, res.State)
		return nil
	}
	fmt.Fprintf(g.stdout, "Row %d (key %q) decided not sent: it is %s; the next `pecbatch run` sends it.\n", res.Row, res.Key, res.State)
	return nil
}
