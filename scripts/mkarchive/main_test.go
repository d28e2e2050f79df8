package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// archived is one entry as read back from an archive.
type archived struct {
	mode    fs.FileMode
	content string
	mtime   time.Time
}

func readTarGz(t *testing.T, p string) map[string]archived {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]archived{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = archived{fs.FileMode(h.Mode).Perm(), string(b), h.ModTime.UTC()}
	}
}

func readZip(t *testing.T, p string) map[string]archived {
	t.Helper()
	zr, err := zip.OpenReader(p)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	got := map[string]archived{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		got[f.Name] = archived{f.Mode().Perm(), string(b), f.Modified.UTC()}
	}
	return got
}

func TestArchive(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "pecbatch")
	doc := filepath.Join(dir, "install.md")
	if err := os.WriteFile(bin, []byte("\x7fELF binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(doc, []byte("# Install\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stamp := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	want := map[string]archived{
		"pecbatch_v1_os_arch/pecbatch":   {0o755, "\x7fELF binary", stamp},
		"pecbatch_v1_os_arch/INSTALL.md": {0o644, "# Install\n", stamp},
	}
	tests := []struct {
		name string
		read func(*testing.T, string) map[string]archived
	}{
		{"pecbatch_v1_os_arch.tar.gz", readTarGz},
		{"pecbatch_v1_os_arch.zip", readZip},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(dir, tt.name)
			args := []string{"-o", out, "-time", stamp.Format(time.RFC3339), bin, doc + "=INSTALL.md"}
			if err := run(args); err != nil {
				t.Fatal(err)
			}
			got := tt.read(t, out)
			if len(got) != len(want) {
				t.Errorf("%d entries, want %d: %v", len(got), len(want), got)
			}
			for name, w := range want {
				if g, ok := got[name]; !ok || g != w {
					t.Errorf("%s: got %+v (present %v), want %+v", name, g, ok, w)
				}
			}
			// The same input gives the same bytes: archives can be compared
			// and checksummed across machines.
			first, _ := os.ReadFile(out)
			if err := run(args); err != nil {
				t.Fatal(err)
			}
			second, _ := os.ReadFile(out)
			if !bytes.Equal(first, second) {
				t.Error("two runs with the same input wrote different archives")
			}
		})
	}
}

func TestArchiveErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a.txt")
	if err := os.WriteFile(file, []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no files", []string{"-o", filepath.Join(dir, "x.zip")}, "usage"},
		{"unknown extension", []string{"-o", filepath.Join(dir, "x.rar"), file}, "must end in .tar.gz or .zip"},
		{"missing file", []string{"-o", filepath.Join(dir, "x.zip"), filepath.Join(dir, "nope")}, "no such file"},
		{"directory", []string{"-o", filepath.Join(dir, "x.zip"), dir}, "not a regular file"},
		{"twice", []string{"-o", filepath.Join(dir, "x.zip"), file, file}, "twice"},
		{"bad time", []string{"-o", filepath.Join(dir, "x.zip"), "-time", "ieri", file}, "-time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "x.zip")); err == nil {
		t.Error("a failed run left an archive behind")
	}
}
