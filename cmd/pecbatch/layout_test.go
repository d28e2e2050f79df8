package main

import (
	"go/build"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestImportsPointDown keeps the layout of the project: cmd → campaign →
// template, journal, client; those three never import each other, and the
// sandbox imports nothing of pecbatch, so that it stays an independent
// reading of the API contract.
func TestImportsPointDown(t *testing.T) {
	const module = "github.com/pecbatch/pecbatch/"
	allowed := map[string][]string{
		"campaign":       {"client", "journal", "template"},
		"client":         nil,
		"client/sandbox": nil,
		"journal":        nil,
		"template":       nil,
	}
	for dir, may := range allowed {
		t.Run(dir, func(t *testing.T) {
			pkg, err := build.ImportDir(filepath.Join("..", "..", dir), 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range pkg.Imports {
				own, ok := strings.CutPrefix(imp, module)
				if ok && !slices.Contains(may, own) {
					t.Errorf("%s imports %s: imports must point down (cmd → campaign → template, journal, client)", dir, own)
				}
			}
		})
	}
}
