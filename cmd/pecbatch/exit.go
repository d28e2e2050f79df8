package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/pecbatch/pecbatch/campaign"
)

// Exit statuses. They are documented in the root command's help and in the
// README; keep the three in step.
const (
	exitOK          = 0
	exitError       = 1
	exitInvalid     = 2
	exitRowsFailed  = 3
	exitRowsUnknown = 4
	exitInterrupted = 130
)

const exitStatusHelp = `Exit status:
  0    done: every row delivered (or, for validate, nothing wrong)
  1    error (network, journal, credentials...): see the message; also
       "not confirmed: nothing sent" when run's question is answered no
  2    usage error or invalid input (campaign file, CSV, templates); nothing was sent
  3    finished, but some rows failed, were rejected or expired
  4    some rows are in state "unknown" (sent or not could not be proved yet)
  130  interrupted (Ctrl-C, SIGTERM, SIGQUIT), or paused by sending.daily_limit or sending.window
       with --no-wait; run the same command again to resume (a pause says when)`

// stopSignals are the signals that stop a command cleanly, with exitInterrupted: no new send starts, the
// one in flight is recorded. SIGQUIT is one of them: by default Go would dump the goroutines and exit 2,
// the status that promises nothing was sent.
func stopSignals() []os.Signal { return []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGQUIT} }

// usageError marks a mistake on the command line itself.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// exitCode maps the error a command returned to the process exit status.
func exitCode(err error) int {
	var usage *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, campaign.ErrInterrupted), errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.As(err, &usage), errors.Is(err, campaign.ErrInvalidInput):
		return exitInvalid
	case errors.Is(err, campaign.ErrRowsUnknown):
		return exitRowsUnknown
	case errors.Is(err, campaign.ErrRowsFailed):
		return exitRowsFailed
	default:
		return exitError
	}
}

// reportError prints err for the user, unless the command has already said
// all there is to say, and returns the exit status.
func reportError(stderr io.Writer, err error) int {
	code := exitCode(err)
	if err != nil && !errors.Is(err, errReported) {
		fmt.Fprintf(stderr, "pecbatch: %v\n", err)
		var usage *usageError
		if errors.As(err, &usage) {
			fmt.Fprintln(stderr, "Run 'pecbatch --help' for usage.")
		}
	}
	return code
}

// errReported wraps errors whose details the command already printed (for
// example every problem found by preflight), so that main adds nothing.
var errReported = errors.New("details above")
