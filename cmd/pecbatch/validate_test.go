package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// update makes the golden-file tests rewrite their files: go test -update.
var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// checkCmdGolden compares got with testdata/name, or rewrites it under -update.
func checkCmdGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run go test -update if intended):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// examplesDir is the repository's examples folder.
const examplesDir = "../../examples"

func TestValidateExamples(t *testing.T) {
	t.Parallel()
	entries, err := os.ReadDir(examplesDir)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "broken" {
			continue
		}
		seen++
		t.Run(e.Name(), func(t *testing.T) {
			t.Parallel()
			stdout, stderr, code := pecbatch(t, "validate", filepath.Join(examplesDir, e.Name(), "campaign.yaml"))
			if code != 0 || !strings.Contains(stdout, "OK: nothing wrong.") || strings.Contains(stdout, "warning:") {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
		})
	}
	if seen < 3 {
		t.Fatalf("found %d example campaigns, want at least solleciti, avviso and esiti", seen)
	}
}

func TestValidateBrokenExample(t *testing.T) {
	t.Parallel()
	stdout, stderr, code := pecbatch(t, "validate", filepath.Join(examplesDir, "broken", "campaign.yaml"))
	if code != 2 {
		t.Fatalf("exit %d, want 2\nstderr:\n%s", code, stderr)
	}
	if stderr != "" {
		t.Errorf("stderr: %q, want nothing (the problems are the output)", stderr)
	}
	checkCmdGolden(t, "validate-broken.golden", []byte(stdout))
}

func TestValidateWithoutCredentials(t *testing.T) {
	t.Parallel()
	stdout, _, code := pecbatchEnv(t, nil, "validate", filepath.Join(examplesDir, "solleciti", "campaign.yaml"))
	if code != 0 {
		t.Fatalf("validate needs no credentials, but exited %d:\n%s", code, stdout)
	}
	for _, v := range []string{"PECMASSIVA_TOKEN", "PEC_USERNAME", "PEC_PASSWORD"} {
		if !strings.Contains(stdout, "warning: campaign.yaml") || !strings.Contains(stdout, v+" is not set") {
			t.Errorf("no warning about %s:\n%s", v, stdout)
		}
	}
}

func TestValidateUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"validate"}, 2, "accepts 1 arg"},
		{[]string{"validate", "a.yaml", "b.yaml"}, 2, "accepts 1 arg"},
		{[]string{"validate", filepath.Join(t.TempDir(), "nope.yaml")}, 2, "nope.yaml: no such file"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			stdout, stderr, code := pecbatch(t, tt.args...)
			if code != tt.code || !strings.Contains(stdout+stderr, tt.want) {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit %d and %q", code, stdout, stderr, tt.code, tt.want)
			}
		})
	}
}

// TestValidateWarnsOrdinaryMail: validate warns, before anything is sent,
// about a recipient at an ordinary e-mail provider, and still exits 0.
func TestValidateWarnsOrdinaryMail(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, name := range []string{"campaign.yaml", "corpo.html", "destinatari.csv"} {
		b, err := os.ReadFile(filepath.Join(examplesDir, "esiti", name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "destinatari.csv" {
			b = bytes.Replace(b, []byte("casella@ordinary.sandbox.test"), []byte("mario.rossi@libero.it"), 1)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	stdout, stderr, code := pecbatch(t, "validate", filepath.Join(dir, "campaign.yaml"))
	if code != 0 || !strings.Contains(stdout, "OK: nothing wrong.") {
		t.Fatalf("exit %d, want 0 (a warning, not an error)\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "warning: destinatari.csv:7: row 6: to: mario.rossi@libero.it is at libero.it, an ordinary e-mail provider") {
		t.Errorf("no warning about the libero.it recipient:\n%s", stdout)
	}
}
