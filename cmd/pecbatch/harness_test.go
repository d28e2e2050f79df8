package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The harness of the command's tests: the command line run in process with
// an environment of the test's own (so that tests run in parallel), and the
// pecbatch binary, built once per test run, for the tests that need a
// process to kill.

// offlineVars are harmless, recognisable values for the variables the
// example campaigns name, so that output does not depend on the caller's
// shell.
var offlineVars = map[string]string{
	"PECMASSIVA_URL":   "",
	"PECMASSIVA_TOKEN": "token-for-tests",
	"PEC_USERNAME":     "user-for-tests",
	"PEC_PASSWORD":     "password-for-tests",
}

// testGlobals are the globalOptions of an in-process test run: env as the
// whole environment, no terminal, empty stdin.
func testGlobals(env map[string]string, stdout, stderr io.Writer) *globalOptions {
	return &globalOptions{
		stdin:  bytes.NewReader(nil),
		stdout: stdout,
		stderr: stderr,
		lookupEnv: func(k string) (string, bool) {
			v, ok := env[k]
			return v, ok
		},
		stdinTerminal:  func() bool { return false },
		stderrTerminal: func() bool { return false },
		now:            time.Now,
		logFormat:      "text",
	}
}

// pecbatchEnv runs the command line in process with env as the environment
// and returns its output and exit status, as main would.
func pecbatchEnv(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	if _, ok := env[ledgerDirVar]; !ok {
		env = maps.Clone(env)
		if env == nil {
			env = map[string]string{}
		}
		env[ledgerDirVar] = testLedgerDir(t)
	}
	var out, errOut bytes.Buffer
	err := execute(t.Context(), testGlobals(env, &out, &errOut), args)
	code = reportError(&errOut, err)
	return out.String(), errOut.String(), code
}

// pecbatch runs the command line in process with offlineVars as the
// environment.
func pecbatch(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return pecbatchEnv(t, offlineVars, args...)
}

// runPecbatch runs the command line in process with an empty environment.
func runPecbatch(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	stdout, stderr, code = pecbatchEnv(t, nil, args...)
	return code, stdout, stderr
}

// testLedgerDir is the folder of the claim ledgers of a test's pecbatch
// runs (in process or not), one per test and kept across its runs, so that
// no test ever writes to the user's own ledger.
func testLedgerDir(t *testing.T) string {
	return filepath.Join(binDir, "ledgers", t.Name())
}

// binDir holds the binary built for this test run; TestMain removes it.
var binDir string

// pecbatchBin builds the command once for every test that runs it as a
// process.
var pecbatchBin = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(binDir, "pecbatch")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
})

// buildPecbatch returns the pecbatch binary of this test run.
func buildPecbatch(t *testing.T) string {
	t.Helper()
	bin, err := pecbatchBin()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pecbatch-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// crashRunPecbatch runs bin with args and env; with killAfter > 0 it sends SIGKILL after
// that long if the process is still running, and returns -1 as its exit
// status if it killed it.
func crashRunPecbatch(t *testing.T, bin string, env []string, killAfter time.Duration, args ...string) (int, string) {
	t.Helper()
	var kill chan struct{}
	if killAfter > 0 {
		kill = make(chan struct{})
		timer := time.AfterFunc(killAfter, func() { close(kill) })
		defer timer.Stop()
	}
	return killRunPecbatch(t, bin, env, kill, args...)
}

// killRunPecbatch runs bin with args and env and sends it SIGKILL when kill
// is closed (nil: never), if it is still running; it returns -1 as the
// exit status if it killed it. A process that runs for two minutes fails
// the test: only a hang takes that long.
func killRunPecbatch(t *testing.T, bin string, env []string, kill <-chan struct{}, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = slices.Concat([]string{ledgerDirVar + "=" + testLedgerDir(t)}, env)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return exitStatus(t, err), out.String()
	case <-kill:
		_ = cmd.Process.Signal(syscall.SIGKILL)
		err := <-done
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return -1, out.String()
			}
		}
		return exitStatus(t, err), out.String()
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("pecbatch %v did not finish:\n%s", args, out.String())
	}
	return 0, ""
}

func exitStatus(t *testing.T, err error) int {
	t.Helper()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exitErr):
		return exitErr.ExitCode()
	}
	t.Fatal(err)
	return 0
}
