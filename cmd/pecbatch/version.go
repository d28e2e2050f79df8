package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is the release, stamped by the linker (make dist: -ldflags
// "-X main.version=v1.2.3"). Empty in a build that is not stamped (go build,
// go install, go run): versionString then reads the build info.
var version string

// versionOptions are the flags of pecbatch version (none yet).
type versionOptions struct{}

func newVersionCommand(g *globalOptions) *cobra.Command {
	o := &versionOptions{}
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of pecbatch (the same as --version)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVersion(cmd.Context(), g, o)
		},
	}
}

func runVersion(_ context.Context, g *globalOptions, _ *versionOptions) error {
	fmt.Fprintln(g.stdout, currentVersion())
	return nil
}

// currentVersion describes this binary: the stamped version, else what Go
// embeds in every binary.
func currentVersion() string {
	info, ok := debug.ReadBuildInfo()
	return versionString(version, info, ok)
}

// versionString describes a build: stamped when the linker set it, else the
// module version of info (set by go install module@version) and its VCS
// revision (set by go build in a clone), else "devel".
func versionString(stamped string, info *debug.BuildInfo, ok bool) string {
	goVersion := runtime.Version()
	if ok && info.GoVersion != "" {
		goVersion = info.GoVersion
	}
	platform := fmt.Sprintf("%s %s/%s", goVersion, runtime.GOOS, runtime.GOARCH)
	if stamped != "" {
		return fmt.Sprintf("pecbatch %s %s", stamped, platform)
	}
	if !ok {
		return "pecbatch (unknown build) " + platform
	}
	v := info.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
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
		v += " (" + revision + modified + ")"
	}
	return fmt.Sprintf("pecbatch %s %s", v, platform)
}
