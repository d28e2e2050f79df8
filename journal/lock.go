package journal

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
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
	}
	return fmt.Sprintf("journal: %s holds the journal %s: wait for it to finish, or %s and run again; "+
		"`pecbatch status` and `pecbatch report` work meanwhile", who, e.Path, stop)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// runLock is an exclusive flock on <journal>.lock. The kernel drops it when
// the descriptor is closed, which also happens when the process dies in any
// way (SIGKILL included), so a stale lock cannot outlive its holder.
type runLock struct {
	f *os.File
}

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
	if err := flock(f); err != nil {
		pid := readPID(f)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, &LockedError{Path: journalPath, PID: pid}
		}
		return nil, fmt.Errorf("journal: lock %s: %w", path, err)
	}
	// The pid is only a hint for the message of a second locker; the lock
	// itself is the flock.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &runLock{f: f}, nil
}

func flock(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

func readPID(f *os.File) int {
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 32))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

func (l *runLock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	// Clearing the pid first keeps a later reader from naming a dead process.
	_ = l.f.Truncate(0)
	err := l.f.Close() // closing the descriptor drops the flock
	l.f = nil
	if err != nil {
		return fmt.Errorf("journal: release lock: %w", err)
	}
	return nil
}
