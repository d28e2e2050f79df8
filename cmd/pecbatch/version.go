package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// versionOptions are the flags of pecbatch version (none yet).
type versionOptions struct{}

func newVersionCommand(g *globalOptions) *cobra.Command {
	o := &versionOptions{}
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of pecbatch",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVersion(cmd.Context(), g, o)
		},
	}
}

func runVersion(_ context.Context, g *globalOptions, _ *versionOptions) error {
	fmt.Fprintln(g.stdout, versionString())
	return nil
}

// versionString describes this build from the information Go embeds in
// every binary, so no release step has to stamp it.
func versionString() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "pecbatch (unknown build)"
	}
	version := info.Main.Version
	if version == "" || version == "(devel)" {
		version = "devel"
	}
	var revision, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		}
	}
	if len(revision) > 12 {
		revision = revision[:12]
	}
	if revision != "" {
		version += " (" + revision + modified + ")"
	}
	return fmt.Sprintf("pecbatch %s %s %s/%s", version, info.GoVersion, runtime.GOOS, runtime.GOARCH)
}
