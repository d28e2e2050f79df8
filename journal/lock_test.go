package journal

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestPIDRecord: the holder's pid is readable in the record this version
// writes (from byte 1, for Windows) and in the one older versions wrote
// (from byte 0); a released lock names nobody.
func TestPIDRecord(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    int
	}{
		{"this version", "\n4242\n", 4242},
		{"older pecbatch", "4242\n", 4242},
		{"byte 0 never written (Windows)", "\x004242\n", 4242},
		{"released", "", 0},
		{"blanked (Windows)", "\x00                        ", 0},
		{"garbage", "\nabc\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j.lock")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if got := readPID(f); got != tt.want {
				t.Errorf("readPID(%q) = %d, want %d", tt.content, got, tt.want)
			}
		})
	}
	t.Run("written and cleared", func(t *testing.T) {
		j, _, path := openTest(t)
		b, err := os.ReadFile(path + ".lock")
		if err != nil || string(b) != "\n"+strconv.Itoa(os.Getpid())+"\n" {
			t.Fatalf("lock file while held = %q, %v", b, err)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(path + ".lock"); err != nil || len(b) != 0 {
			t.Errorf("lock file after close = %q, %v", b, err)
		}
		j2, err := Open(context.Background(), path)
		if err != nil {
			t.Fatalf("Open after Close: %v", err)
		}
		j2.Close()
	})
}

// TestURIPath: a Windows path becomes file:///C:/..., which SQLite reads
// as an absolute path; a Unix one is unchanged.
func TestURIPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/home/u/c.journal", "/home/u/c.journal"},
		{"C:/Users/u/c.journal", "/C:/Users/u/c.journal"},
	}
	for _, tt := range tests {
		if got := uriPath(tt.in); got != tt.want {
			t.Errorf("uriPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
