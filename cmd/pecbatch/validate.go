package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pecbatch/pecbatch/campaign"
)

// validateOptions are the arguments and flags of pecbatch validate.
type validateOptions struct {
	file      string
	maxListed int
	workers   int
}

func newValidateCommand(g *globalOptions) *cobra.Command {
	o := &validateOptions{}
	cmd := &cobra.Command{
		Use:   "validate CAMPAIGN.yaml",
		Short: "Check a campaign completely, without sending anything",
		Long: `validate runs every check of a run's preflight over every row, without
contacting the API: the campaign file (unknown keys, values, ${VAR}s, files),
the recipients CSV (encoding, delimiter, header, every row), every template
for every row, every address, every attachment (inside the campaign's folder,
a regular non-empty file, a known and allowed type, content matching its
extension) and the size of every message. It prints every problem, with its
file, line, row and field, and a summary: rows, recipients, sizes, sending
time and days.

The API credentials are not needed: an unset variable in api.base_url,
api.token, sender.username or sender.password is only a warning here.

Exit status 0 when nothing is wrong, 2 when anything is.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.file = args[0]
			return runValidate(cmd.Context(), g, o)
		},
	}
	cmd.Flags().IntVar(&o.maxListed, "max-problems", 50, "list at most this many problems (all are counted)")
	cmd.Flags().IntVar(&o.workers, "workers", 0, "rows checked at once (0: one per CPU, at most 4)")
	return cmd
}

func runValidate(ctx context.Context, g *globalOptions, o *validateOptions) error {
	rep, err := campaign.ValidateFile(ctx, o.file, g.loadOptions(true), campaign.PreflightOptions{Workers: o.workers})
	if err != nil {
		return fmt.Errorf("validate: %w", err)
	}
	if err := rep.WriteText(g.stdout, campaign.TextOptions{MaxListed: o.maxListed}); err != nil {
		return fmt.Errorf("validate: %w", err)
	}
	if !rep.OK() {
		return fmt.Errorf("validate: %w: %w", campaign.ErrInvalidInput, errReported)
	}
	return nil
}
