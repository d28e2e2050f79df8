package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func newVersionCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of pecbatch",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(g.stdout, versionString())
			return nil
		},
	}
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
