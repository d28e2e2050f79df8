package main

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/client/sandbox"
	"github.com/pecbatch/pecbatch/journal"
)

// TestUserConfigDir: the command finds the user's folder from its own
// environment exactly where journal.DefaultLedgerPath (os.UserConfigDir)
// finds it from the process's.
func TestUserConfigDir(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "xdg"))
	t.Setenv("HOME", dir)
	t.Setenv("AppData", dir)
	want, err := os.UserConfigDir()
	if err != nil {
		t.Fatal(err)
	}
	got, err := userConfigDir(os.LookupEnv)
	if err != nil || got != want {
		t.Errorf("userConfigDir = %q, %v; want %q as os.UserConfigDir", got, err, want)
	}
	if _, err := userConfigDir(func(string) (string, bool) { return "", false }); err == nil {
		t.Error("an empty environment gave a folder")
	}
}

// TestLedgerPathFromEnvironment: PECBATCH_LEDGER_DIR chooses the folder;
// without it the user's configuration folder of the command's environment;
// without either, a message that says what to set.
func TestLedgerPathFromEnvironment(t *testing.T) {
	t.Parallel()
	c := &campaign.Campaign{Sender: campaign.Sender{Address: "ufficio@pec.example.it"}}
	name, err := journal.LedgerPathIn("x", c.Sender.Address)
	if err != nil {
		t.Fatal(err)
	}
	name = filepath.Base(name)
	tests := []struct {
		name    string
		env     map[string]string
		want    string
		wantErr string
	}{
		{"the variable", map[string]string{ledgerDirVar: "/srv/pecbatch", "HOME": "/home/u"}, filepath.Join("/srv/pecbatch", name), ""},
		{"nothing set", map[string]string{}, "", ledgerDirVar},
	}
	if runtime.GOOS == "linux" {
		tests = append(tests, struct {
			name    string
			env     map[string]string
			want    string
			wantErr string
		}{"HOME", map[string]string{"HOME": "/home/u"}, filepath.Join("/home/u/.config/pecbatch/ledger", name), ""})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := testGlobals(tt.env, nil, nil)
			got, err := g.ledgerPath(c)
			switch {
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("ledgerPath = %q, %v; want an error naming %s", got, err, tt.wantErr)
			case tt.wantErr == "" && (err != nil || got != tt.want):
				t.Errorf("ledgerPath = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestRunClaimsInTheLedger: `run` records its sends in the ledger of
// PECBATCH_LEDGER_DIR, never elsewhere.
func TestRunClaimsInTheLedger(t *testing.T) {
	t.Parallel()
	opts := sandbox.DefaultOptions()
	opts.AcceptDelay, opts.DeliverDelay, opts.SendRate = 50*time.Millisecond, 150*time.Millisecond, 0
	sb := sandbox.New(opts)
	srv := httptest.NewServer(sb)
	defer srv.Close()
	dir := t.TempDir()
	env := map[string]string{"PECMASSIVA_URL": srv.URL, "PECMASSIVA_TOKEN": opts.Token,
		"PEC_USERNAME": opts.Username, "PEC_PASSWORD": opts.Password, ledgerDirVar: dir}
	file := runCmdCampaign(t, 2)
	if _, stderr, code := pecbatchEnv(t, env, "run", file, "--yes", "--no-wait", "--report", "-"); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	path, err := journal.LedgerPathIn(dir, "ufficio@pec.example.it")
	if err != nil {
		t.Fatal(err)
	}
	l, err := journal.OpenLedger(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, s := range sb.Sends() {
		if o, ok, err := l.Owner(t.Context(), s.Code); err != nil || !ok || !strings.HasPrefix(o.RowKey, "R0") {
			t.Errorf("send %s: owner %+v, %v, %v; want a row of the campaign", s.Code, o, ok, err)
		}
	}
	if len(sb.Sends()) != 2 {
		t.Errorf("%d sends, want 2", len(sb.Sends()))
	}
}
