package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

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
	campaignFile := filepath.Join(dir, "campaign.yaml")
	fmt.Fprintf(g.stdout, `
Next:
  pecbatch validate %[1]s           check everything, send nothing
  pecbatch preview %[1]s            see the messages of rows 1-5
  pecbatch run %[1]s --sandbox --yes  send them to the built-in sandbox
Then edit destinatari.csv, corpo.html and campaign.yaml for your campaign.
`, campaignFile)
	return nil
}
