// Command pecbatch sends Italian certified e-mail (PEC) in bulk through the
// PEC Massiva API, journals every send so that an interrupted run resumes
// without sending anything twice, and tracks every message until it is
// delivered or has failed.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"golang.org/x/term"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, stopSignals()...)
	go func() {
		<-signals
		// Cancelled before it says so: once the line is out, no new send
		// starts (the tests act on the line).
		cancel()
		fmt.Fprintln(os.Stderr, "pecbatch: stopping (press Ctrl-C again to exit at once)")
		<-signals
		// The journal stays consistent even now: a row whose request was in
		// flight is still in state "sending" and is reconciled on resume.
		fmt.Fprintln(os.Stderr, "pecbatch: exiting at once; run the same command again to resume")
		os.Exit(exitInterrupted)
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	cancel()
	os.Exit(reportError(os.Stderr, err))
}

// run executes the command line args as pecbatch would, writing to stdout and
// stderr, with the process's stdin and environment. It is main without the
// process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return execute(ctx, &globalOptions{
		program:        os.Args[0],
		stdin:          os.Stdin,
		stdout:         stdout,
		stderr:         stderr,
		lookupEnv:      os.LookupEnv,
		stdinTerminal:  func() bool { return term.IsTerminal(int(os.Stdin.Fd())) },
		stderrTerminal: func() bool { return isTerminal(stderr) },
		now:            time.Now,
	}, args)
}

// execute runs the command line args with g: tests call it with their own
// streams and environment.
func execute(ctx context.Context, g *globalOptions, args []string) error {
	root := newRootCommand(g)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}
