package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pecbatch/pecbatch/campaign"
)

// globalOptions holds what every subcommand shares: the process's streams
// and environment (main passes the real ones, tests their own, so that
// command tests run in parallel) and the logging flags.
type globalOptions struct {
	// program is how pecbatch was invoked (os.Args[0]), for the commands
	// init suggests; "" means pecbatch.
	program        string
	stdin          io.Reader
	stdout, stderr io.Writer
	// lookupEnv reads the environment (the campaign file's ${VAR}s).
	lookupEnv func(string) (string, bool)
	// stdinTerminal and stderrTerminal say whether stdin (the confirmation)
	// and stderr (the progress bar) are terminals.
	stdinTerminal, stderrTerminal func() bool
	// now is the time of the progress display.
	now func() time.Time
	// ticker times the progress lines written without a terminal; nil is
	// a time.Ticker.
	ticker func(time.Duration) (<-chan time.Time, func())

	logFormat string
	verbose   bool
	// quiet leaves out the progress: only errors, warnings and the final
	// summary line.
	quiet bool
}

// loadOptions are the campaign.LoadOptions of a command; offline when the
// API credentials are not needed.
func (g *globalOptions) loadOptions(offline bool) campaign.LoadOptions {
	return campaign.LoadOptions{LookupEnv: g.lookupEnv, Offline: offline}
}

// logger returns the diagnostics logger, on stderr, as the flags ask.
func (g *globalOptions) logger() *slog.Logger {
	level := slog.LevelInfo
	switch {
	case g.verbose:
		level = slog.LevelDebug
	case g.quiet:
		level = slog.LevelWarn
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
		// Version adds --version, the same as the version command.
		Version: currentVersion(),
		// Without its own Args and RunE, cobra reports a mistyped subcommand
		// as an ordinary error; this makes it a usage error (exit status 2),
		// with cobra's suggestions.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &usageError{unknownCommand(cmd, args[0])}
			}
			return nil
		},
		SuggestionsMinimumDistance: 2,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if g.logFormat != "text" && g.logFormat != "json" {
				return &usageError{fmt.Errorf("--log-format must be text or json, not %q", g.logFormat)}
			}
			if g.quiet && g.verbose {
				return &usageError{errors.New("--quiet and --verbose contradict each other: choose one")}
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
	root.PersistentFlags().BoolVarP(&g.quiet, "quiet", "q", false,
		"no plan and no progress: only errors, warnings and the final summary line")
	root.SetVersionTemplate("{{.Version}}\n")
	root.Flags().Bool("version", false, "print the version of pecbatch (the same as 'pecbatch version')")

	root.AddCommand(
		newInitCommand(g),
		newValidateCommand(g),
		newPreviewCommand(g),
		newReportCommand(g),
		newEvidenceCommand(g),
		newSandboxCommand(g),
		newRunCommand(g),
		newPollCommand(g),
		newStatusCommand(g),
		newResolveCommand(g),
		newRetryCommand(g),
		newTestSendCommand(g),
		newVersionCommand(g),
	)
	return root
}

// unknownCommand says that name is not a command, with the commands it is
// close to (cobra's suggestions), if any.
func unknownCommand(root *cobra.Command, name string) error {
	suggestions := root.SuggestionsFor(name)
	if len(suggestions) == 0 {
		return fmt.Errorf("unknown command %q", name)
	}
	return fmt.Errorf("unknown command %q: did you mean %s?", name, strings.Join(suggestions, " or "))
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
