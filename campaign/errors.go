package campaign

import "errors"

// Sentinel errors that tell the command line how a campaign operation ended.
// The command maps each to its own exit status, so callers wrap them with %w
// and never compare error strings.
var (
	// ErrInvalidInput reports a campaign file, recipient list or template that
	// failed its checks: nothing was sent.
	ErrInvalidInput = errors.New("invalid campaign input")
	// ErrRowsFailed reports a campaign that finished with some rows failed,
	// rejected or expired.
	ErrRowsFailed = errors.New("some rows failed, were rejected or expired")
	// ErrRowsUnknown reports a campaign that stopped with rows whose send may
	// or may not have happened and could not yet be reconciled.
	ErrRowsUnknown = errors.New("some rows are in state unknown")
	// ErrInterrupted reports a run stopped by a signal; the journal is
	// consistent and the run can be resumed.
	ErrInterrupted = errors.New("interrupted")
)
