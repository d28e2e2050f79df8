package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"
)

// globalOptions holds what every subcommand shares: the output streams and the
// logging flags.
type globalOptions struct {
	stdout, stderr io.Writer
	logFormat      string
	verbose        bool
}

// logger returns the diagnostics logger, on stderr, as the flags ask.
func (g *globalOptions) logger() *slog.Logger {
	level := slog.LevelInfo
	if g.verbose {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	if g.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(g.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(g.stderr, opts))
}

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	g := &globalOptions{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "pecbatch",
		Short: "Send certified e-mail (PEC) in bulk through PEC Massiva, exactly once",
		Long: `pecbatch sends a personalised PEC to every row of a CSV file through the
PEC Massiva API, records every send in a SQLite journal so that an interrupted
run resumes without sending anything twice, and follows every message until
it is delivered or has failed.

Start with 'pecbatch init DIR' for a working example campaign, check it with
'pecbatch validate', and try it offline with 'pecbatch run --sandbox'.

` + exitStatusHelp,
		// Without its own Args and RunE, cobra reports a mistyped subcommand
		// as an ordinary error; this makes it a usage error (exit status 2).
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &usageError{fmt.Errorf("unknown command %q", args[0])}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if g.logFormat != "text" && g.logFormat != "json" {
				return &usageError{fmt.Errorf("--log-format must be text or json, not %q", g.logFormat)}
			}
			return nil
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "diagnostics format on stderr: text or json")
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "log diagnostics in detail")

	root.AddCommand(
		newInitCommand(g),
		newValidateCommand(g),
		newPreviewCommand(g),
		newReportCommand(g),
		newSandboxCommand(g),
		newRunCommand(g),
		newPollCommand(g),
		newStatusCommand(g),
		newTestSendCommand(g),
		newVersionCommand(g),
	)
	return root
}

// exactArgs is cobra.ExactArgs whose complaint counts as a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return &usageError{err}
		}
		return nil
	}
}
