package main

import (
	"encoding/base64"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/internal/testutil"
)

// Recognisable secrets: if one of them shows up anywhere, it leaked.
const (
	secretToken    = "TOKEN-ZX81-SECRET"
	secretNewToken = "TOKEN-NEW-ZX82-SECRET"
	secretPassword = "PASSWORD-QW77-SECRET"
)

var allSecrets = []string{secretToken, secretNewToken, secretPassword}

// secretLeaks returns every form of a secret found in data: as is, in any
// case, or in base64.
func secretLeaks(data []byte) []string {
	text := strings.ToLower(string(data))
	var found []string
	for _, s := range allSecrets {
		forms := map[string]string{
			"plain":     strings.ToLower(s),
			"base64":    base64.StdEncoding.EncodeToString([]byte(s)),
			"base64url": base64.URLEncoding.EncodeToString([]byte(s)),
		}
		for form, v := range forms {
			v = strings.TrimRight(v, "=")
			if form != "plain" {
				if strings.Contains(string(data), v) {
					found = append(found, s+" ("+form+")")
				}
				continue
			}
			if strings.Contains(text, v) {
				found = append(found, s)
			}
		}
	}
	return found
}

// checkNoSecret fails the test if data holds a secret.
func checkNoSecret(t *testing.T, where string, data []byte) {
	t.Helper()
	if leaks := secretLeaks(data); len(leaks) > 0 {
		t.Errorf("%s shows %s:\n%s", where, strings.Join(leaks, ", "), excerpt(data, leaks[0]))
	}
}

// excerpt shows the text around the first occurrence of a secret.
func excerpt(data []byte, secret string) string {
	secret, _, _ = strings.Cut(secret, " ")
	text := string(data)
	i := strings.Index(strings.ToLower(text), strings.ToLower(secret))
	if i < 0 {
		return "(encoded)"
	}
	return text[max(0, i-300):min(len(text), i+len(secret)+100)]
}

// checkTreeHasNoSecret reads every file under dir (journal, its -wal, -shm
// and .lock, reports, preview) and fails on any secret.
func checkTreeHasNoSecret(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		rel, _ := filepath.Rel(dir, path)
		checkNoSecret(t, rel, data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// demoFixture copies the demo campaign (examples/solleciti), made fast
// (20 sends a second, a 3 s reconciliation window), in front of a sandbox
// whose token and password are the recognisable secrets.
func demoFixture(t *testing.T, bin, rate string) *relFixture {
	t.Helper()
	cfg := relDefaults(0)
	cfg.copyFrom = filepath.Join("..", "..", "examples", "solleciti")
	cfg.sandbox.Token, cfg.sandbox.Password = secretToken, secretPassword
	cfg.sandbox.Username = "amministrazione@pec.sandbox.test"
	f := newRelFixture(t, bin, cfg)
	data, err := os.ReadFile(f.file)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(data), "sending:\n  rate: 1/s\n", "sending:\n  rate: "+rate+"\n  reconcile_window: 3s\n", 1)
	if text == string(data) {
		t.Fatal("the demo campaign has no 'sending:\\n  rate: 1/s' to speed up: update this test")
	}
	if err := os.WriteFile(f.file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestSecretsNeverShown runs the whole demo flow (validate, preview,
// test-send, run with faults whose answers echo the secrets back, a token
// revoked mid-run, the resumed run, status, report in every format) with
// --verbose, in text and JSON logs, against an API whose token and
// password are recognisable strings, and checks that none of them appears
// in any output, log, journal file (with its -wal), report or preview;
// then it forces a crash dump (SIGQUIT, GOTRACEBACK=system) in the middle
// of a run and checks the goroutine dump too.
func TestSecretsNeverShown(t *testing.T) {
	t.Parallel()
	// The detector itself: a secret as is, in lower case, or in base64.
	for _, leak := range []string{"x" + secretPassword, strings.ToLower(secretToken),
		base64.StdEncoding.EncodeToString([]byte(secretNewToken))} {
		if len(secretLeaks([]byte(leak))) == 0 {
			t.Fatalf("secretLeaks misses %q", leak)
		}
	}
	bin := buildPecbatch(t)
	f := demoFixture(t, bin, "20/s")
	echo := `{"success":false,"message":"Post parameter is not valid: password=` + secretPassword +
		` authorization=Bearer ` + secretToken + `"}`
	faults := func(c *relCall) bool {
		if c.Kind != "send" {
			return false
		}
		switch c.N {
		case 1: // a refusal that echoes the request's secrets
			c.answer(http.StatusBadRequest, echo)
		case 2: // sent, then the connection cut: reconciled
			c.forward()
			c.drop()
		case 3: // a 500 that echoes the secrets, not sent: unknown
			c.answer(http.StatusInternalServerError, strings.Replace(echo, "Post parameter is not valid", "MySQL Error 2006", 1))
		default:
			return false
		}
		return true
	}

	type step struct {
		name string
		args []string
		exit int
		// between runs before the step.
		between func()
	}
	previewDir := filepath.Join(f.dir, "anteprima")
	steps := []step{
		{name: "validate", args: []string{"validate", f.file}},
		{name: "preview", args: []string{"preview", f.file, "--out", previewDir, "--rows", "1-8"}},
		{name: "test-send", args: []string{"test-send", f.file, "--to", "prova@pec.sandbox.test"}},
		{name: "run with faults", args: []string{"run", f.file, "--yes"}, exit: exitRowsUnknown,
			between: func() { f.setHook(faults) }},
		{name: "run, token revoked", args: []string{"run", f.file, "--yes", "--resend-unknown"}, exit: exitError,
			between: func() {
				f.setHook(func(c *relCall) bool {
					if c.Kind == "send" {
						f.sb.SetToken(secretNewToken)
					}
					return false
				})
			}},
		{name: "run resumed with the new token", args: []string{"run", f.file, "--yes", "--resend-unknown"}, exit: exitRowsFailed,
			between: func() { f.setHook(nil); f.setToken(secretNewToken) }},
		{name: "poll", args: []string{"poll", f.file}, exit: exitRowsFailed},
		{name: "status", args: []string{"status", f.file}},
		{name: "status json", args: []string{"status", f.file, "--json"}},
		{name: "report csv", args: []string{"report", f.file, "-o", filepath.Join(f.dir, "esiti.csv")}},
		{name: "report excel", args: []string{"report", f.file, "--excel", "-o", filepath.Join(f.dir, "esiti-excel.csv")}},
		{name: "report html", args: []string{"report", f.file, "-o", filepath.Join(f.dir, "esiti.html")}},
		{name: "report to stdout", args: []string{"report", f.file, "-o", "-"}},
		{name: "report html to stdout", args: []string{"report", f.file, "--format", "html", "-o", "-"}},
	}
	var commands int
	for _, st := range steps {
		if st.between != nil {
			st.between()
		}
		for _, logs := range [][]string{{"--verbose"}, {"--verbose", "--log-format", "json"}} {
			if strings.HasPrefix(st.name, "run") && logs[len(logs)-1] == "json" {
				continue // a run's effects are not repeatable; one log format each
			}
			args := append(append([]string{}, st.args...), logs...)
			if st.name == "run with faults" {
				args = append(args, "--log-format", "json")
			}
			res := f.run(args...)
			if res.code != st.exit || res.signal != 0 {
				t.Errorf("%s %v: want exit status %d, got %s", st.name, logs, st.exit, res)
			}
			checkNoSecret(t, st.name+" stdout", []byte(res.stdout))
			checkNoSecret(t, st.name+" stderr", []byte(res.stderr))
			commands++
		}
	}
	// The secrets were echoed back: make sure the run did see them (the
	// rejected row's error), so the test proves the scrubbing.
	if row := f.journalRow("RSSMRA80A01H501U"); row.State != "rejected" || !strings.Contains(row.LastError, "Post parameter is not valid") {
		t.Errorf("row 1 is %s (%q), want rejected with the API's message", row.State, row.LastError)
	}
	files := checkTreeHasNoSecret(t, f.dir)

	// A crash dump in the middle of a run, and the journal's -wal as it is
	// then.
	g := demoFixture(t, bin, "4/s")
	g.extraEnv = []string{"GOTRACEBACK=system"}
	wait := g.start("run", g.file, "--yes", "--verbose")
	testutil.WaitFor(t, 30*time.Second, "two sends", func() bool { return len(g.sb.Sends()) >= 2 })
	for _, name := range []string{"campaign.journal.db", "campaign.journal.db-wal"} {
		data, err := os.ReadFile(filepath.Join(g.dir, name))
		if err != nil {
			t.Errorf("during the run: %v", err)
			continue
		}
		checkNoSecret(t, name+" during the run", data)
		files++
	}
	g.mu.Lock()
	p := g.proc
	g.mu.Unlock()
	if err := p.Signal(syscall.SIGQUIT); err != nil {
		t.Fatal(err)
	}
	res := wait()
	if !strings.Contains(res.stderr, "SIGQUIT") || !strings.Contains(res.stderr, "goroutine ") {
		t.Fatalf("no goroutine dump after SIGQUIT: %s", res)
	}
	checkNoSecret(t, "the goroutine dump of SIGQUIT", []byte(res.stderr+res.stdout))
	files += checkTreeHasNoSecret(t, g.dir)
	t.Logf("the stdout and stderr of %d commands, %d files and a %d-byte goroutine dump checked: no secret",
		commands+1, files, len(res.stderr))
}
