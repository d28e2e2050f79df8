package journal

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/gofrs/flock"
)

// ErrLocked is matched (errors.Is) by the error Open returns when another
// process holds the journal's run lock. The error itself is a *LockedError.
var ErrLocked = errors.New("journal is locked by another pecbatch run")

// LockedError tells which process holds a journal's run lock.
type LockedError struct {
	// Path is the journal's path.
	Path string
	// PID is the process id the holder wrote in the lock file, 0 if unknown.
	PID int
}

// Error says who holds the journal and what to do.
func (e *LockedError) Error() string {
	who, stop := "another pecbatch run", "stop it"
	if e.PID > 0 {
		who = fmt.Sprintf("another pecbatch run (pid %d)", e.PID)
		stop = fmt.Sprintf("stop it (kill -INT %d)", e.PID)
		if runtime.GOOS == "windows" {
			stop = fmt.Sprintf("stop it (Ctrl+C in its window, or taskkill /PID %d)", e.PID)
		}
	}
	return fmt.Sprintf("journal: %s holds the journal %s: wait for it to finish, or %s and run again; "+
		"`pecbatch status` and `pecbatch report` work meanwhile", who, e.Path, stop)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// runLock is an exclusive lock on <journal>.lock: flock(2) on Linux and
// macOS, LockFileEx on Windows (github.com/gofrs/flock). The system drops
// it when the holder's descriptor is closed, which also happens when the
// process dies in any way (SIGKILL included), so a stale lock cannot
// outlive its holder. A second holder, in another process or the same one,
// is refused.
type runLock struct {
	lock *flock.Flock
	// pid is a descriptor of its own for the pid record: gofrs/flock
	// keeps its descriptor to itself. Closing this one does not release
	// the lock (flock and LockFileEx locks belong to the descriptor that
	// took them).
	pid *os.File
}

// The lock file holds the holder's pid as "\n<pid>\n". Windows locks byte
// 0 of the file for good (LockFileEx is mandatory), so the record starts
// at byte 1, where another process can read it; an older pecbatch wrote
// "<pid>\n" from byte 0 and reads the new record too (it trims spaces).
const pidOffset = 1

// acquireRunLock takes the run lock without waiting. The lock file is never
// removed: unlinking it would let two processes lock two different inodes.
func acquireRunLock(journalPath string) (*runLock, error) {
	path := journalPath + ".lock"
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal: open lock file: %w", err)
	}
	if err := tightenMode(f.Name()); err != nil {
		f.Close()
		return nil, err
	}
	lock := flock.New(path, flock.SetPermissions(0o600))
	ok, err := lock.TryLock()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: lock %s: %w", path, err)
	}
	if !ok {
		pid := readPID(f)
		f.Close()
		return nil, &LockedError{Path: journalPath, PID: pid}
	}
	// The pid is only a hint for the message of a second locker; the lock
	// itself is the flock. Byte 0 is written where the system lets us
	// (not on Windows, where it is locked even for this descriptor).
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte("\n"), 0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), pidOffset)
	return &runLock{lock: lock, pid: f}, nil
}

// readPID reads the holder's pid: from byte 0 where the system lets a
// non-holder read it (and an older pecbatch wrote it there), else from
// pidOffset.
func readPID(f *os.File) int {
	for _, off := range []int64{0, pidOffset} {
		b, err := io.ReadAll(io.NewSectionReader(f, off, 32))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.Trim(string(b), " \n\r\t\x00"))
		if err != nil || pid <= 0 {
			return 0
		}
		return pid
	}
	return 0
}

func (l *runLock) release() error {
	if l == nil || l.lock == nil {
		return nil
	}
	// Clearing the pid first keeps a later reader from naming a dead
	// process; where truncating fails (Windows, the locked byte), blank it.
	if err := l.pid.Truncate(0); err != nil {
		_, _ = l.pid.WriteAt([]byte(strings.Repeat(" ", 24)), pidOffset)
	}
	l.pid.Close()
	err := l.lock.Unlock() // closes the descriptor, which drops the lock
	l.lock = nil
	if err != nil {
		return fmt.Errorf("journal: release lock: %w", err)
	}
	return nil
}
