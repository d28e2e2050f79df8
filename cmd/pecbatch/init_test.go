package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInitWritesAValidCampaign(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "nuova")
	stdout, stderr, code := pecbatch(t, "init", dir)
	if code != 0 {
		t.Fatalf("init: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, f := range []string{"campaign.yaml", "destinatari.csv", "corpo.html", "riepilogo.txt", "allegati/informativa.pdf"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("init did not write %s: %v", f, err)
		}
	}
	if !strings.Contains(stdout, "pecbatch validate "+filepath.Join(dir, "campaign.yaml")) {
		t.Errorf("init does not say what to do next:\n%s", stdout)
	}
	stdout, stderr, code = pecbatch(t, "validate", filepath.Join(dir, "campaign.yaml"))
	if code != 0 || strings.Contains(stdout, "warning") {
		t.Fatalf("the starter campaign does not pass validate: exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "Rows:          3\n") {
		t.Errorf("the starter campaign should have 3 rows:\n%s", stdout)
	}
	// Every key of the campaign file is in the starter, set or commented.
	data, err := os.ReadFile(filepath.Join(dir, "campaign.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"name:", "base_url:", "token:", "timeout:", "address:", "username:", "password:", "file:", "delimiter:",
		"encoding:", "to:", "key:", "duplicates:", "subject:", "body:", "max_size:", "attachments:", "name:", "template:",
		"rate:", "journal:", "max_consecutive_errors:", "reconcile_window:", "daily_limit:", "reference:", "give_up_after:", "poll_rate:", "delete_receipts:"} {
		if !strings.Contains(string(data), key) {
			t.Errorf("the starter campaign does not mention %s", key)
		}
	}
}

func TestInitRefusesANonEmptyFolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mine := filepath.Join(dir, "campaign.yaml")
	if err := os.WriteFile(mine, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := pecbatch(t, "init", dir)
	if code != 2 || !strings.Contains(stderr, "is not empty") {
		t.Fatalf("init into a non-empty folder: exit %d, %s", code, stderr)
	}
	if data, _ := os.ReadFile(mine); string(data) != "mine" {
		t.Fatal("init overwrote a file")
	}
	empty := t.TempDir()
	if _, stderr, code := pecbatch(t, "init", empty); code != 0 {
		t.Fatalf("init into an existing empty folder: exit %d, %s", code, stderr)
	}
}

func TestInitSuggestsTheCommandAsInvoked(t *testing.T) {
	t.Parallel()
	tests := []struct {
		argv0, dir, wantProg string
		quoteFile            bool
	}{
		{"", "c", "pecbatch", false},
		{"pecbatch", "c", "pecbatch", false},
		{"bin/pecbatch", "c", "bin/pecbatch", false},
		{filepath.Join(t.TempDir(), "go-build123", "exe", "pecbatch"), "c", "pecbatch", false}, // go run
		{"my tools/pecbatch", "la mia campagna", `"my tools/pecbatch"`, true},
	}
	for _, tt := range tests {
		t.Run(tt.argv0, func(t *testing.T) {
			t.Parallel()
			var out strings.Builder
			g := testGlobals(nil, &out, &out)
			g.program = tt.argv0
			dir := filepath.Join(t.TempDir(), tt.dir)
			if err := runInit(t.Context(), g, &initOptions{dir: dir}); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(dir, "campaign.yaml")
			if tt.quoteFile {
				file = `"` + file + `"`
			}
			want := "  " + tt.wantProg + " validate " + file + " "
			if !strings.Contains(out.String(), want) {
				t.Errorf("init run as %q does not suggest %q:\n%s", tt.argv0, want, out.String())
			}
		})
	}
}
