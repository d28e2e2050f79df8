package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pecbatch/pecbatch/campaign"
)

func readManifest(t *testing.T, dir string) previewManifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m previewManifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPreview(t *testing.T) {
	t.Parallel()
	path := filepath.Join(examplesDir, "avviso", "campaign.yaml")
	out := filepath.Join(t.TempDir(), "anteprima")
	stdout, stderr, code := pecbatch(t, "preview", path, "--out", out, "--rows", "2,4-4")
	if code != 0 {
		t.Fatalf("preview: exit %d\n%s%s", code, stdout, stderr)
	}
	m := readManifest(t, out)
	if len(m.Messages) != 2 || m.Messages[0].Row != 2 || m.Messages[1].Row != 4 || m.Campaign != "avvisi-tari-2025" {
		t.Fatalf("manifest: %+v", m)
	}

	// The manifest's hashes are preflight's: the ones the runner records.
	c, err := campaign.LoadFile(path, campaign.LoadOptions{LookupEnv: os.LookupEnv, Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	hashes := map[int]string{}
	if _, err := c.Preflight(t.Context(), campaign.PreflightOptions{OnRow: func(r *campaign.RowResult) error {
		hashes[r.Row] = r.SHA256
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	for _, msg := range m.Messages {
		if msg.SHA256 != hashes[msg.Row] || len(msg.SHA256) != 64 {
			t.Errorf("row %d: manifest hash %s, preflight %s", msg.Row, msg.SHA256, hashes[msg.Row])
		}
	}

	// Row 2 has two recipients and an escaped merge value.
	row2 := m.Messages[0]
	if strings.Join(row2.Recipients, ",") != "immobiliare.bianchi@pec.sandbox.test,amministrazione@bianchi-figli.sandbox.test" {
		t.Errorf("row 2 recipients: %v", row2.Recipients)
	}
	page, err := os.ReadFile(filepath.Join(out, row2.Folder, "message.html"))
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	for _, want := range []string{
		"<b>Subject:</b> Comune di Esempio - Avviso di accertamento TARI 2025 - prot. 2026-004513",
		"<b>To:</b> immobiliare.bianchi@pec.sandbox.test, amministrazione@bianchi-figli.sandbox.test",
		`<a href="attachments/avviso-2026-004513.html">avviso-2026-004513.html</a>`,
		`<a href="attachments/informativa-privacy.pdf">informativa-privacy.pdf</a>`,
		row2.SHA256,
		"Gentile Immobiliare Bianchi &amp; Figli S.r.l.,",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("message.html lacks %q:\n%s", want, html)
		}
	}
	if strings.Index(html, "<b>Subject:</b>") < strings.Index(html, "<body") {
		t.Errorf("the header box is not inside the body")
	}
	for _, a := range row2.Attachments {
		data, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(a.File)))
		if err != nil {
			t.Fatal(err)
		}
		if sha256Hex(data) != a.SHA256 || int64(len(data)) != a.Size {
			t.Errorf("attachment %s on disk differs from the manifest", a.Name)
		}
	}
	notice, err := os.ReadFile(filepath.Join(out, row2.Folder, "attachments", "avviso-2026-004513.html"))
	if err != nil || !strings.Contains(string(notice), "Immobiliare Bianchi &amp; Figli S.r.l.") {
		t.Errorf("rendered attachment: %v\n%s", err, notice)
	}

	// A second preview replaces the first one's folders.
	if _, stderr, code := pecbatch(t, "preview", path, "--out", out, "--rows", "1"); code != 0 {
		t.Fatalf("second preview: exit %d %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, row2.Folder)); !os.IsNotExist(err) {
		t.Errorf("the earlier preview's row folder is still there")
	}
	if m := readManifest(t, out); len(m.Messages) != 1 || m.Messages[0].Row != 1 {
		t.Errorf("second manifest: %+v", m)
	}
}

func TestPreviewDefaults(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "c")
	if _, stderr, code := pecbatch(t, "init", dir); code != 0 {
		t.Fatal(stderr)
	}
	stdout, stderr, code := pecbatch(t, "preview", filepath.Join(dir, "campaign.yaml"))
	if code != 0 || stderr != "" {
		t.Fatalf("preview: exit %d\n%s%s", code, stdout, stderr)
	}
	m := readManifest(t, filepath.Join(dir, "preview"))
	if len(m.Messages) != 3 {
		t.Fatalf("default preview of a 3-row campaign wrote %d messages", len(m.Messages))
	}
	if !strings.Contains(stdout, "3 messages written to "+filepath.Join(dir, "preview")) {
		t.Errorf("stdout:\n%s", stdout)
	}
}

func TestPreviewProblems(t *testing.T) {
	t.Parallel()
	// A starter campaign whose second row has a broken address.
	bad := filepath.Join(t.TempDir(), "c")
	if _, stderr, code := pecbatch(t, "init", bad); code != 0 {
		t.Fatal(stderr)
	}
	csv := "codice,nome,cognome,pec\nA1,Mario,Rossi,mario@pec.sandbox.test\nA2,Giulia,Bianchi,giulia.bianchi@\nA3,Luca,Verdi,luca@pec.sandbox.test\n"
	if err := os.WriteFile(filepath.Join(bad, "destinatari.csv"), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	foreign := t.TempDir()
	if err := os.WriteFile(filepath.Join(foreign, "tesi.docx"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"rows with problems", []string{"preview", filepath.Join(bad, "campaign.yaml"), "--rows", "1-3"},
			2, `destinatari.csv:3: row 2: column "pec": "giulia.bianchi@" is not a valid address`},
		{"a campaign file with problems", []string{"preview", filepath.Join(examplesDir, "broken", "campaign.yaml"), "--out", t.TempDir()},
			2, `campaign.yaml:28: sending.rat: unknown key "rat": did you mean "rate"?`},
		{"a folder preview did not write", []string{"preview", filepath.Join(examplesDir, "solleciti", "campaign.yaml"), "--out", foreign},
			1, "is not empty and was not written by preview"},
		{"bad rows", []string{"preview", filepath.Join(examplesDir, "solleciti", "campaign.yaml"), "--rows", "3-1"}, 2, `"3-1" is not a range of rows`},
		{"rows past the end", []string{"preview", filepath.Join(examplesDir, "solleciti", "campaign.yaml"), "--out", t.TempDir(), "--rows", "8-10"},
			0, "warning: no row 9-10 in destinatari.csv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := pecbatch(t, tt.args...)
			if code != tt.code || !strings.Contains(stdout+stderr, tt.want) {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit %d and %q", code, stdout, stderr, tt.code, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(foreign, "tesi.docx")); err != nil {
		t.Fatal("preview touched a folder it did not write")
	}
	// The good rows of a campaign with a broken row are still written.
	if m := readManifest(t, filepath.Join(bad, "preview")); len(m.Messages) != 2 || m.Messages[1].Row != 3 {
		t.Errorf("manifest of the good rows: %+v", m)
	}
}

func TestParseRowSelection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		rows    []int
		notRows []int
		max     int
		wantErr bool
	}{
		{"1-5", []int{1, 3, 5}, []int{0, 6}, 5, false},
		{"1,5-9", []int{1, 5, 9}, []int{2, 4, 10}, 9, false},
		{" 3 , 7 ", []int{3, 7}, []int{4}, 7, false},
		{"0", nil, nil, 0, true},
		{"-3", nil, nil, 0, true},
		{"5-2", nil, nil, 0, true},
		{"a", nil, nil, 0, true},
		{"", nil, nil, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			sel, err := parseRowSelection(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				return
			}
			for _, r := range tt.rows {
				if !sel.contains(r) {
					t.Errorf("row %d not selected", r)
				}
			}
			for _, r := range tt.notRows {
				if sel.contains(r) {
					t.Errorf("row %d selected", r)
				}
			}
			if sel.max() != tt.max {
				t.Errorf("max = %d", sel.max())
			}
		})
	}
}

func FuzzParseRowSelection(f *testing.F) {
	for _, s := range []string{"1-5", "1,5-9", "0", "3-1", " 2 , 4-4 ", "9999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := parseRowSelection(s)
		if err != nil {
			return
		}
		for _, r := range sel {
			if r[0] < 1 || r[1] < r[0] || !sel.contains(r[0]) || !sel.contains(r[1]) || sel.max() < r[1] {
				t.Fatalf("parseRowSelection(%q) = %v", s, sel)
			}
		}
	})
}
