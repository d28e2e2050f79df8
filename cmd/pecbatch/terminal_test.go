package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/campaign/runner"
	"github.com/pecbatch/pecbatch/client/sandbox"
)

func TestVersionString(t *testing.T) {
	t.Parallel()
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	tests := []struct {
		name    string
		stamped string
		info    *debug.BuildInfo
		ok      bool
		want    string
	}{
		{"stamped by make dist", "v1.4.0", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, true,
			"pecbatch v1.4.0 go1.26.8 "},
		{"go install module@version", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.3.2"}}, true,
			"pecbatch v1.3.2 go1.26.8 "},
		{"go build in a clone", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: vcs("0a58be3d2c1f9e8b7a6d5c4b3a291807f6e5d4c3", "true")}, true,
			"pecbatch devel (0a58be3d2c1f+dirty) go1.26.8 "},
		{"clean clone", "", &debug.BuildInfo{GoVersion: "go1.26.8", Settings: vcs("0a58be3", "false")}, true,
			"pecbatch devel (0a58be3) go1.26.8 "},
		{"no build info", "", nil, false, "pecbatch (unknown build) go"},
		{"stamped without build info", "v1.4.0", nil, false, "pecbatch v1.4.0 go"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := versionString(tt.stamped, tt.info, tt.ok); !strings.HasPrefix(got, tt.want) {
				t.Errorf("versionString = %q, want it to start with %q", got, tt.want)
			}
		})
	}
}

// TestVersionFlagAndCommand: --version and the version command print the
// same line.
func TestVersionFlagAndCommand(t *testing.T) {
	t.Parallel()
	flagOut, _, code := pecbatch(t, "--version")
	if code != 0 {
		t.Fatalf("--version: exit %d", code)
	}
	cmdOut, _, code := pecbatch(t, "version")
	if code != 0 {
		t.Fatalf("version: exit %d", code)
	}
	if flagOut != cmdOut || flagOut != currentVersion()+"\n" {
		t.Errorf("--version %q, version %q, want both %q", flagOut, cmdOut, currentVersion()+"\n")
	}
}

func TestSuggestions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typed, want string
	}{
		{"stauts", `unknown command "stauts": did you mean status?`},
		{"rnu", `unknown command "rnu": did you mean run?`},
		{"valdate", `did you mean validate?`},
		{"sendall", `unknown command "sendall"` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.typed, func(t *testing.T) {
			t.Parallel()
			_, stderr, code := pecbatch(t, tt.typed, "campaign.yaml")
			if code != exitInvalid || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, exitInvalid, tt.want)
			}
		})
	}
}

// TestConfirmNo: answering no at run's question exits 1 with "nothing
// sent", not 130 "interrupted", and sends nothing.
func TestConfirmNo(t *testing.T) {
	t.Parallel()
	for _, answer := range []string{"n\n", "\n", ""} {
		t.Run(strings.TrimSpace(answer), func(t *testing.T) {
			t.Parallel()
			file := runCmdCampaign(t, 2)
			var stdout, stderr bytes.Buffer
			g := testGlobals(nil, &stdout, &stderr)
			g.stdin = strings.NewReader(answer)
			g.stdinTerminal = func() bool { return true }
			code := reportError(&stderr, execute(t.Context(), g, []string{"run", file, "--sandbox"}))
			if code != exitError || !strings.Contains(stderr.String(), "pecbatch: run: not confirmed: nothing sent") ||
				strings.Contains(stderr.String(), "interrupted") {
				t.Fatalf("exit %d, want %d with nothing sent:\n%s", code, exitError, stderr.String())
			}
			code, out, errOut := runPecbatch(t, "status", file, "--sandbox", "--json")
			if code != 0 || !strings.Contains(out, `"pending": 2`) {
				t.Errorf("status after no: exit %d\n%s%s", code, out, errOut)
			}
		})
	}
}

// TestQuiet: --quiet leaves the summary line and nothing of the plan, the
// progress, the sandbox's lines and the reports' paths.
func TestQuiet(t *testing.T) {
	t.Parallel()
	file := runCmdCampaign(t, 2)
	code, stdout, stderr := runPecbatch(t, "--quiet", "run", file, "--sandbox", "--yes")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	// Warnings stay (here: the campaign's rate), as the log lines they are.
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if stdout != "" || lines[len(lines)-1] != "Rows: 2 delivered" {
		t.Errorf("stdout %q, stderr %q; want the summary line last", stdout, stderr)
	}
	for _, l := range lines[:len(lines)-1] {
		if !strings.Contains(l, "level=WARN") {
			t.Errorf("--quiet printed %q", l)
		}
	}
	code, _, stderr = runPecbatch(t, "-q", "-v", "version")
	if code != exitInvalid || !strings.Contains(stderr, "--quiet and --verbose") {
		t.Errorf("-q -v: exit %d, stderr %q", code, stderr)
	}
}

// TestSandboxHint: after a campaign has only been run with --sandbox,
// status and report without it say to add it; report --sandbox writes the
// sandbox's report under its own name.
func TestSandboxHint(t *testing.T) {
	t.Parallel()
	file := runCmdCampaign(t, 2)
	dir := filepath.Dir(file)
	if code, _, stderr := runPecbatch(t, "run", file, "--sandbox", "--yes", "--report", "-"); code != 0 {
		t.Fatalf("run --sandbox: exit %d\n%s", code, stderr)
	}
	for _, command := range []string{"status", "report"} {
		code, _, stderr := runPecbatch(t, command, file)
		want := "has only been run with --sandbox: add it, as in 'pecbatch " + command + " " + file + " --sandbox'"
		if code != exitError || !strings.Contains(stderr, want) {
			t.Errorf("%s without --sandbox: exit %d, stderr %q; want %q", command, code, stderr, want)
		}
	}
	code, stdout, stderr := runPecbatch(t, "report", file, "--sandbox")
	if want := filepath.Join(dir, "comando-run-sandbox-report.csv"); code != 0 || strings.TrimSpace(stdout) != want {
		t.Fatalf("report --sandbox: exit %d, stdout %q, stderr %q; want %s", code, stdout, stderr, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "comando-run-report.csv")); !os.IsNotExist(err) {
		t.Errorf("report --sandbox wrote the real report's file (%v)", err)
	}
	if code, stdout, _ := runPecbatch(t, "status", file, "--sandbox"); code != 0 || !strings.Contains(stdout, "2 final") {
		t.Errorf("status --sandbox: exit %d\n%s", code, stdout)
	}
}

// cancelOn is a writer that cancels a context once what was written
// contains a text.
type cancelOn struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	text   string
	cancel context.CancelFunc
}

func (c *cancelOn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.buf.Write(p)
	if strings.Contains(c.buf.String(), c.text) {
		c.cancel()
	}
	return n, err
}

func (c *cancelOn) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// TestPollInterruptedNamesPoll: a poll stopped while tracking says
// "pecbatch: poll: interrupted" (exit 130), not "run: interrupted".
func TestPollInterruptedNamesPoll(t *testing.T) {
	t.Parallel()
	// Deliveries an hour away: the poll is still tracking when stopped.
	opts := sandbox.DefaultOptions()
	opts.AcceptDelay, opts.DeliverDelay, opts.SendRate = 10*time.Millisecond, time.Hour, 0
	srv := httptest.NewServer(sandbox.New(opts))
	defer srv.Close()
	env := map[string]string{"PECMASSIVA_URL": srv.URL, "PECMASSIVA_TOKEN": opts.Token,
		"PEC_USERNAME": opts.Username, "PEC_PASSWORD": opts.Password, ledgerDirVar: testLedgerDir(t)}
	file := runCmdCampaign(t, 2)
	if _, stderr, code := pecbatchEnv(t, env, "run", file, "--yes", "--no-wait", "--report", "-"); code != 0 {
		t.Fatalf("run --no-wait: exit %d\n%s", code, stderr)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stderr := &cancelOn{text: "Tracking campaign", cancel: cancel}
	var stdout bytes.Buffer
	code := reportError(stderr, execute(ctx, testGlobals(env, &stdout, stderr), []string{"poll", file, "--report", "-"}))
	if code != exitInterrupted || !strings.Contains(stderr.String(), "pecbatch: poll: interrupted") {
		t.Errorf("exit %d, want %d with poll: interrupted:\n%s", code, exitInterrupted, stderr.String())
	}
}

// TestTrackingBarReachesFull: on a terminal the tracking bar counts the
// rows made final out of those open when it started, so it ends at 100%
// (the rows final before are in its description), and grows rather than
// overflows when a row joins.
func TestTrackingBarReachesFull(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		steps []int
		want  string
	}{
		{"all open rows final", []int{1, 2}, "(2/2"},
		{"a row joined", []int{1, 3}, "(3/3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			g := testGlobals(nil, &out, &out)
			g.stderrTerminal = func() bool { return true }
			p := g.printer()
			p.Start(runner.PhaseTracking, 2, 6)
			for _, done := range tt.steps {
				p.Step(runner.PhaseTracking, done, 2, fmt.Sprintf("tracking: %d final, 0 open, 0 unknown", 6+done))
			}
			p.End(runner.PhaseTracking)
			s := out.String()
			if !strings.Contains(s, "100%") || !strings.Contains(s, tt.want) || strings.Contains(s, "(3/2") {
				t.Errorf("the bar did not end at 100%% %s:\n%q", tt.want, s)
			}
		})
	}
}
