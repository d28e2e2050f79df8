package main

import (
	"go/build"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestImportsPointDown keeps the layout of the project: cmd → campaign/runner,
// campaign/report → campaign → template. What a campaign is (campaign) knows
// neither the API nor the journal; the report only reads the journal; the
// runner drives client and journal and never draws a report. template,
// journal and client never import each other, and the sandbox imports
// nothing of pecbatch, so that it stays an independent reading of the API
// contract. Only cmd draws the terminal (the progress bar).
func TestImportsPointDown(t *testing.T) {
	t.Parallel()
	const module = "github.com/pecbatch/pecbatch/"
	const progressBar = "github.com/schollz/progressbar/v3"
	allowed := map[string][]string{
		"campaign":        {"template"},
		"campaign/report": {"campaign", "journal"},
		"campaign/runner": {"campaign", "client", "client/pecmail", "journal", "template"},
		"client":          nil,
		"client/pecmail":  {"client"},
		"client/sandbox":  nil,
		"journal":         nil,
		"template":        nil,
	}
	for dir, may := range allowed {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			pkg, err := build.ImportDir(filepath.Join("..", "..", dir), 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range pkg.Imports {
				if imp == progressBar {
					t.Errorf("%s imports %s: only cmd draws the terminal", dir, imp)
				}
				own, ok := strings.CutPrefix(imp, module)
				if ok && !slices.Contains(may, own) {
					t.Errorf("%s imports %s: imports must point down (cmd → campaign → template, journal, client)", dir, own)
				}
			}
		})
	}
}
