package testutil

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ChromiumResult is what a headless Chromium made of a page.
type ChromiumResult struct {
	DOM     string   // the DOM after load (--dump-dom)
	Console []string // console messages: errors, CSP violations
	Log     string   // all of Chromium's stderr
	Elapsed time.Duration
}

// Chromium loads file in Debian's headless Chromium, with the network
// features that would make a test slow or flaky turned off, and logging on
// so that console messages (a blocked fetch is one) reach stderr. With a
// screenshot path it also writes a PNG of a width × height window there.
// It fails the test when chromium is not on PATH: a browser test is the
// only proof that a page works in a browser, so it is never skipped
// (scripts/test-deps.sh installs chromium).
func Chromium(t testing.TB, file, screenshot string, width, height int) ChromiumResult {
	t.Helper()
	args := []string{"--dump-dom"}
	if screenshot != "" {
		args = append(args, "--screenshot="+screenshot, fmt.Sprintf("--window-size=%d,%d", width, height))
	}
	return runChromium(t, file, args)
}

// ChromiumPDF prints file to pdf as headless Chromium's --print-to-pdf
// does (the page's own @page size and margins, no header or footer), with
// the same browser and settings as Chromium.
func ChromiumPDF(t testing.TB, file, pdf string) ChromiumResult {
	t.Helper()
	return runChromium(t, file, []string{"--no-pdf-header-footer", "--print-to-pdf=" + pdf})
}

func runChromium(t testing.TB, file string, extra []string) ChromiumResult {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not on PATH (%v): install Debian's chromium (apt-get install chromium, or scripts/test-deps.sh) to run the HTML report's browser tests", err)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		// No host name resolves: whatever the page or the browser itself
		// tried, nothing leaves the machine.
		"--host-resolver-rules=MAP * ~NOTFOUND", "--hide-scrollbars",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0"}
	args = append(append(args, extra...), "file://"+filepath.ToSlash(abs))
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	res := ChromiumResult{DOM: stdout.String(), Log: stderr.String(), Elapsed: time.Since(start)}
	for _, line := range strings.Split(res.Log, "\n") {
		if strings.Contains(line, ":CONSOLE") {
			res.Console = append(res.Console, line)
		}
	}
	return res
}
