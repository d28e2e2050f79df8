// Command mkarchive writes a release archive for `make dist`: a .tar.gz or,
// for Windows, a .zip, with every file under one folder. It needs nothing but
// Go, so `make dist` works where zip is not installed, and its archives are
// the same on every machine: entries in argument order, fixed owner, the time
// given with -time, mode 0755 for executables and 0644 for the rest.
//
//	go run ./scripts/mkarchive -o dist/pecbatch_v1.0.0_linux_amd64.tar.gz \
//	    -prefix pecbatch_v1.0.0_linux_amd64 -time 2026-11-30T12:00:00Z \
//	    build/pecbatch README.md docs/install.md=INSTALL.md
//
// A file argument is PATH or PATH=NAME, NAME being its name in the folder.
package main

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mkarchive:", err)
		os.Exit(1)
	}
}

// entry is one file to archive.
type entry struct {
	src  string // path on disk
	name string // path inside the archive
	mode fs.FileMode
}

func run(args []string) error {
	fl := flag.NewFlagSet("mkarchive", flag.ContinueOnError)
	out := fl.String("o", "", "archive to write: NAME.tar.gz or NAME.zip")
	prefix := fl.String("prefix", "", "folder every file is put in (default: the archive's name without extension)")
	stamp := fl.String("time", "", "modification time of every entry, RFC 3339 (default: now)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *out == "" || fl.NArg() == 0 {
		return errors.New("usage: mkarchive -o OUT.tar.gz|OUT.zip [-prefix DIR] [-time RFC3339] FILE[=NAME]...")
	}
	mtime := time.Now().UTC().Truncate(time.Second)
	if *stamp != "" {
		t, err := time.Parse(time.RFC3339, *stamp)
		if err != nil {
			return fmt.Errorf("-time: %w", err)
		}
		mtime = t.UTC()
	}
	dir := *prefix
	if dir == "" {
		dir = strings.TrimSuffix(strings.TrimSuffix(filepath.Base(*out), ".zip"), ".tar.gz")
	}
	entries, err := collect(dir, fl.Args())
	if err != nil {
		return err
	}
	var write func(io.Writer, []entry, time.Time) error
	switch {
	case strings.HasSuffix(*out, ".tar.gz"):
		write = writeTarGz
	case strings.HasSuffix(*out, ".zip"):
		write = writeZip
	default:
		return fmt.Errorf("%s: the archive's name must end in .tar.gz or .zip", *out)
	}
	f, err := os.Create(*out)
	if err != nil {
		return fmt.Errorf("create archive: %w", err)
	}
	if err := write(f, entries, mtime); err != nil {
		f.Close()
		os.Remove(*out)
		return fmt.Errorf("write %s: %w", *out, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(*out)
		return fmt.Errorf("close %s: %w", *out, err)
	}
	return nil
}

// collect reads the file arguments: each must be a regular file.
func collect(dir string, args []string) ([]entry, error) {
	var entries []entry
	seen := map[string]bool{}
	for _, a := range args {
		src, name, ok := strings.Cut(a, "=")
		if !ok {
			name = filepath.Base(src)
		}
		info, err := os.Stat(src)
		if err != nil {
			return nil, fmt.Errorf("file to archive: %w", err)
		}
		if !info.Mode().IsRegular() {
			return nil, fmt.Errorf("%s is not a regular file", src)
		}
		mode := fs.FileMode(0o644)
		if info.Mode()&0o111 != 0 {
			mode = 0o755
		}
		name = path.Join(dir, filepath.ToSlash(name))
		if seen[name] {
			return nil, fmt.Errorf("%s is in the archive twice", name)
		}
		seen[name] = true
		entries = append(entries, entry{src: src, name: name, mode: mode})
	}
	return entries, nil
}

func writeTarGz(w io.Writer, entries []entry, mtime time.Time) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		err := copyFile(e.src, func(size int64) (io.Writer, error) {
			return tw, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: e.name, Size: size,
				Mode: int64(e.mode), ModTime: mtime, Uname: "root", Gname: "root", Format: tar.FormatPAX})
		})
		if err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func writeZip(w io.Writer, entries []entry, mtime time.Time) error {
	zw := zip.NewWriter(w)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: mtime}
		h.SetMode(e.mode)
		err := copyFile(e.src, func(int64) (io.Writer, error) { return zw.CreateHeader(h) })
		if err != nil {
			return err
		}
	}
	return zw.Close()
}

// copyFile copies src into the writer that start returns once it knows the
// file's size, and checks that the size did not change while copying.
func copyFile(src string, start func(size int64) (io.Writer, error)) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	w, err := start(info.Size())
	if err != nil {
		return err
	}
	n, err := io.Copy(w, f)
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	if n != info.Size() {
		return fmt.Errorf("%s changed size while being archived", src)
	}
	return nil
}
