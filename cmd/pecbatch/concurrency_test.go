package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/internal/testutil"
)

// wantLocked checks that a command was refused because another run holds
// the journal, with a message that says so, who, and what to do.
func wantLocked(t *testing.T, what string, res relResult, holderPID int) {
	t.Helper()
	wantExit(t, what, res, exitError)
	for _, s := range []string{"another pecbatch run", "holds the journal", "wait for it to finish"} {
		if !strings.Contains(res.stderr, s) {
			t.Errorf("%s: stderr lacks %q:\n%s", what, s, res.stderr)
		}
	}
	if holderPID > 0 && !strings.Contains(res.stderr, "pid "+strconv.Itoa(holderPID)) {
		t.Errorf("%s: stderr does not name the holder, pid %d:\n%s", what, holderPID, res.stderr)
	}
}

// TestConcurrentRunRefused starts a second `pecbatch run` (and a `poll`)
// on a campaign while a first run is sending it: both are refused at once
// with a message naming the run that holds the journal, while `status` and
// `report` (CSV and HTML) work; the first run then finishes with every row
// sent exactly once.
func TestConcurrentRunRefused(t *testing.T) {
	t.Parallel()
	// 8 s of sending: the checks below are done long before, even on a
	// busy machine.
	const rows = 40
	cfg := relDefaults(rows)
	cfg.rate = "5/s"
	f := newRelFixture(t, buildPecbatch(t), cfg)

	wait := f.start("run", f.file, "--yes", "--report", "-")
	f.mu.Lock()
	pid := f.proc.Pid
	f.mu.Unlock()
	testutil.WaitFor(t, 30*time.Second, "the first run's third send", func() bool { return f.requests("send") >= 3 })

	sentBefore := len(f.sb.Sends())
	second := f.run("run", f.file, "--yes", "--report", "-")
	wantLocked(t, "second run", second, pid)
	poll := f.run("poll", f.file, "--report", "-")
	wantLocked(t, "poll", poll, pid)

	st, res := f.status()
	if st == nil {
		t.Fatalf("status during the run: %s", res)
	}
	if st.Rows != rows || st.Counts["pending"] == rows {
		t.Errorf("status during the run: %+v", st)
	}
	text := f.run("status", f.file)
	wantExit(t, "status (text)", text, exitOK)

	csvPath := filepath.Join(f.dir, "during.csv")
	wantExit(t, "report csv", f.run("report", f.file, "-o", csvPath), exitOK)
	data, err := os.ReadFile(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(string(data), "\n"); lines != rows+1 {
		t.Errorf("the CSV report written during the run has %d lines, want %d", lines, rows+1)
	}
	htmlPath := filepath.Join(f.dir, "during.html")
	wantExit(t, "report html", f.run("report", f.file, "-o", htmlPath), exitOK)
	if data, err := os.ReadFile(htmlPath); err != nil || !strings.Contains(string(data), "</html>") {
		t.Errorf("the HTML report written during the run: %v", err)
	}
	if n := len(f.sb.Sends()); n >= rows {
		t.Fatalf("the first run had sent everything (%d) before the checks ended: the test proves nothing; slow it down", n)
	}
	t.Logf("checked while the first run had sent %d to %d of %d rows", sentBefore, len(f.sb.Sends()), rows)

	wantExit(t, "first run", wait(), exitOK)
	f.verify()
}

// TestConcurrentRunsStartTogether starts two `pecbatch run` on the same new
// campaign at the same moment, a few times: exactly one sends, the other is
// refused, and no row is ever sent twice.
func TestConcurrentRunsStartTogether(t *testing.T) {
	t.Parallel()
	bin := buildPecbatch(t)
	for i := range 3 {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			cfg := relDefaults(15)
			cfg.rate = "10/s"
			f := newRelFixture(t, bin, cfg)
			args := []string{"run", f.file, "--yes", "--no-wait", "--report", "-"}
			waitA := f.start(args...)
			waitB := f.start(args...)
			a, b := waitA(), waitB()
			if a.code == exitOK && b.code == exitOK {
				t.Fatalf("both runs went on:\n%s\n%s", a, b)
			}
			won, lost := a, b
			if a.code != exitOK {
				won, lost = b, a
			}
			wantExit(t, "the run that went on", won, exitOK)
			wantLocked(t, "the run that was refused", lost, 0)
			f.checkNoDuplicates()
			if n := len(f.sb.Sends()); n != cfg.rows {
				t.Errorf("%d rows sent, want %d", n, cfg.rows)
			}
		})
	}
}
