package main

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/pecbatch/pecbatch/campaign"
)

// globalOptions holds what every subcommand shares: the process's streams
// and environment (main passes the real ones, tests their own, so that
// command tests run in parallel) and the logging flags.
type globalOptions struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// lookupEnv reads the environment (the campaign file's ${VAR}s).
	lookupEnv func(string) (string, bool)
	// stdinTerminal and stderrTerminal say whether stdin (the confirmation)
	// and stderr (the progress bar) are terminals.
	stdinTerminal, stderrTerminal func() bool
	// now is the time of the progress display.
	now func() time.Time

	logFormat string
	verbose   bool
}

// loadOptions are the campaign.LoadOptions of a command; offline when the
// API credentials are not needed.
func (g *globalOptions) loadOptions(offline bool) campaign.LoadOptions {
	return campaign.LoadOptions{LookupEnv: g.lookupEnv, Offline: offline}
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

func newRootCommand(g *globalOptions) *cobra.Command {
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
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	root.SetIn(g.stdin)
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
