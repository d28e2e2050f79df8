package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/campaign/runner"
	"github.com/pecbatch/pecbatch/journal"
)

// dailyCampaign writes runCmdCampaign's campaign of rows rows with extra
// lines in its sending section.
func dailyCampaign(t *testing.T, rows int, sending string) string {
	t.Helper()
	file := runCmdCampaign(t, rows)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "  rate: 20/s\n", "  rate: 20/s\n"+sending, 1)
	if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestRunNoWaitPaused: with --no-wait, a run that reaches the daily limit,
// or starts outside the sending window, exits with the status of "run
// again" and says when.
func TestRunNoWaitPaused(t *testing.T) {
	t.Parallel()
	// A weekday two days from now (in Rome): the window is closed today.
	closed := strings.ToLower(time.Now().In(campaign.Rome()).AddDate(0, 0, 2).Format("Mon"))
	tests := []struct {
		name    string
		rows    int
		sending string
		want    []string
	}{
		{"daily limit", 5, "  daily_limit: 2\n", []string{"the daily limit is reached (2 sends today, sending.daily_limit: 2)",
			"Rows: 3 pending, 2 submitted", "run the same command again after"}},
		{"outside the window", 3, "  window: " + closed + " 08:00-20:00\n", []string{"outside the sending window",
			"Rows: 3 pending", "run the same command again after"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			file := dailyCampaign(t, tc.rows, tc.sending)
			code, _, stderr := runPecbatch(t, "run", file, "--sandbox", "--yes", "--no-wait", "--report", "-")
			if code != exitInterrupted {
				t.Errorf("exit %d, want %d", code, exitInterrupted)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

// TestRunSandboxTimeScale: on the sandbox's accelerated clock (a day in a
// second), a campaign of 5 rows at 2 a day pauses at each day's limit,
// resumes by itself at midnight and finishes in three days, every row
// delivered.
func TestRunSandboxTimeScale(t *testing.T) {
	t.Parallel()
	file := dailyCampaign(t, 5, "  daily_limit: 2\n")
	code, _, stderr := runPecbatch(t, "run", file, "--sandbox", "--yes", "--time-scale", "86400", "--report", "-")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, w := range []string{"86400 times faster", "over 3 day(s): at most 2 sends a day", "Rows: 5 delivered"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
	// How many pauses there are depends on how fast this machine sends at
	// a day per second; that every pause waits for midnight and no day
	// gets more than its limit does not.
	pauses := strings.Count(stderr, "Sending paused: the daily limit is reached")
	if pauses < 1 || strings.Count(stderr, "00:00 C") < pauses {
		t.Errorf("%d pauses, want at least 1, each resuming at midnight:\n%s", pauses, stderr)
	}
	r, err := journal.OpenReadOnly(t.Context(), runner.SandboxJournalPath(filepath.Join(filepath.Dir(file), "campaign.journal.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	perDay, seen := map[string]int{}, map[string]bool{}
	for row, err := range r.ReportRows(t.Context()) {
		if err != nil {
			t.Fatal(err)
		}
		if seen[row.Key] {
			continue
		}
		seen[row.Key] = true
		perDay[row.SubmittedAt.In(campaign.Rome()).Format("2006-01-02")]++
	}
	for day, n := range perDay {
		if n > 2 {
			t.Errorf("%d sends on %s, want at most sending.daily_limit (2): %v", n, day, perDay)
		}
	}
	if len(seen) != 5 {
		t.Errorf("%d rows in the journal, want 5", len(seen))
	}

	code, _, stderr = runPecbatch(t, "run", file, "--yes", "--time-scale", "10")
	if code != exitInvalid || !strings.Contains(stderr, "--time-scale works only with --sandbox") {
		t.Errorf("--time-scale without --sandbox: exit %d\n%s", code, stderr)
	}
}
