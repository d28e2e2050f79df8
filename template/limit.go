package template

import (
	"errors"
	"fmt"
	"io"
	"math"
)

// NoLimit is the limit for a template whose output needs no bound: one the
// program itself wrote, or a test's. Templates written by users get a real
// limit, since {{range 200000000}} is one line of text.
const NoLimit int64 = math.MaxInt64

// ErrTooLarge means a template's output passed the limit given to Execute;
// the *Error then wraps a *LimitError.
var ErrTooLarge = errors.New("output too large")

// LimitError is the cause of an *Error when a template's output passed the
// byte limit given to Execute. Execution stopped at the first write past the
// limit, so no more than Limit bytes reached the writer.
type LimitError struct {
	// Limit is the limit that was passed, in bytes.
	Limit int64
}

// Error says which limit the output passed.
func (e *LimitError) Error() string {
	return fmt.Sprintf("the output is larger than %d bytes", e.Limit)
}

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *LimitError) Is(target error) bool { return target == ErrTooLarge }

// limitWriter passes writes on to w until they would take the total past
// limit. text/template and html/template stop executing at the first write
// error, so refusing that write is what bounds both memory and time.
type limitWriter struct {
	w       io.Writer
	written int64
	limit   int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	// Compared as remaining room so that NoLimit cannot overflow.
	if int64(len(p)) > l.limit-l.written {
		return 0, &LimitError{Limit: l.limit}
	}
	n, err := l.w.Write(p)
	l.written += int64(n)
	return n, err
}

// discardAll refuses every write: ParseHTML executes a template only to make
// html/template escape it, and the output of that run is never wanted.
type discardAll struct{}

func (discardAll) Write([]byte) (int, error) { return 0, errors.New("no output wanted") }
