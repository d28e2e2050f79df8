package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// starterFiles is the campaign init writes: it passes validate and runs
// against the sandbox as it is (a test checks both).
//
//go:embed starter
var starterFiles embed.FS

// initOptions are the arguments of pecbatch init (no flags yet).
type initOptions struct {
	dir string
}

func newInitCommand(g *globalOptions) *cobra.Command {
	o := &initOptions{}
	cmd := &cobra.Command{
		Use:   "init DIR",
		Short: "Write a small working campaign to start from",
		Long: `init writes a starter campaign into DIR (created if missing; it must be
empty): campaign.yaml with every key explained, destinatari.csv with three
recipients on sandbox addresses, the body template corpo.html, an attachment
for everyone and a per-row rendered one. It passes 'pecbatch validate' and
runs against the built-in sandbox as it is.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.dir = args[0]
			return runInit(cmd.Context(), g, o)
		},
	}
	return cmd
}

func runInit(_ context.Context, g *globalOptions, o *initOptions) error {
	dir := o.dir
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("init: %w", err)
	case len(entries) > 0:
		return &usageError{fmt.Errorf("init: %s is not empty: give a new or empty folder, so nothing of yours is overwritten", dir)}
	}
	root, err := fs.Sub(starterFiles, "starter")
	if err != nil {
		return fmt.Errorf("init: %w", err)
	}
	var written []string
	err = fs.WalkDir(root, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(path))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := fs.ReadFile(root, path)
		if err != nil {
			return err
		}
		// O_EXCL: never overwrite, even a file created since the check.
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return err
		}
		written = append(written, target)
		return f.Close()
	})
	if err != nil {
		return fmt.Errorf("init: %w", err)
	}
	for _, p := range written {
		fmt.Fprintf(g.stdout, "wrote %s\n", p)
	}
	campaignFile := quoteArg(filepath.Join(dir, "campaign.yaml"))
	prog := quoteArg(g.programName())
	next := [][2]string{
		{prog + " validate " + campaignFile, "check everything, send nothing"},
		{prog + " preview " + campaignFile, "see the messages of rows 1-5"},
		{prog + " run " + campaignFile + " --sandbox --yes", "send them to the built-in sandbox"},
	}
	width := 0
	for _, n := range next {
		width = max(width, len(n[0]))
	}
	fmt.Fprint(g.stdout, "\nNext:\n")
	for _, n := range next {
		fmt.Fprintf(g.stdout, "  %-*s   %s\n", width, n[0], n[1])
	}
	fmt.Fprint(g.stdout, "Then edit destinatari.csv, corpo.html and campaign.yaml for your campaign.\n")
	return nil
}

// programName is the command to type for pecbatch in the lines init
// suggests: the path it was run by when relative (bin/pecbatch, as in the
// README), else pecbatch. An absolute path is left out: it is the
// temporary binary of `go run`, or one the user knows how to reach.
func (g *globalOptions) programName() string {
	if g.program == "" || filepath.IsAbs(g.program) {
		return "pecbatch"
	}
	return g.program
}

// quoteArg puts an argument with a blank between double quotes (which sh,
// cmd and PowerShell all read), so a suggested line can be pasted as it is.
func quoteArg(s string) string {
	if !strings.ContainsAny(s, " \t") {
		return s
	}
	return `"` + s + `"`
}
