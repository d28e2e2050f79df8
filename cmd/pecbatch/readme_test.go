package main

import (
	"bufio"
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The README is the walkthrough: TestReadmeWalkthrough runs its commands,
// in order, and fails when the README and the program disagree.
//
// A walkthrough block is a fenced code block right after the line
// <!-- walkthrough --> (GitHub does not show the comment). In a ```sh
// block every line is a command; in a ```console block a line starting
// with "$ " is a command and the lines after it, up to the next command,
// are its output as the README shows it:
//
//   - the shown lines must be the command's output (stdout and stderr as a
//     terminal interleaves them), line by line, from its first line to its
//     last;
//   - a line "..." stands for any number of lines left out;
//   - "…" in a line stands for any text (a port, a temporary path).
//
// Every command must exit 0. A trailing "# comment" is not part of the
// command. The commands run in a fresh temporary folder holding a copy of
// examples/, as a clone's root would, without any of the secrets in the
// environment: the README says the sandbox part needs none.

// walkthroughMarker is the line that marks the README's next code block as
// part of the walkthrough.
const walkthroughMarker = "<!-- walkthrough -->"

// walkStep is one command of the walkthrough and the output the README
// shows for it (nil: none shown, only the exit status is checked).
type walkStep struct {
	line   int // in README.md
	words  []string
	output []string
}

func TestReadmeWalkthrough(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	steps, err := parseWalkthrough(string(readme))
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) < 2 || !slices.Equal(steps[0].words[:min(3, len(steps[0].words))], []string{"go", "run", "./cmd/pecbatch"}) ||
		!slices.Equal(steps[1].words, []string{"make", "test"}) {
		t.Fatalf("the README's walkthrough must open with the demo and make test; it starts with %v", steps)
	}
	bin := buildPecbatch(t)
	work := t.TempDir()
	if err := copyExamples(filepath.Join(work, "examples"), "../../examples"); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"HOME=" + work,
		"PATH=" + os.Getenv("PATH"),
		ledgerDirVar + "=" + testLedgerDir(t),
	}
	for _, s := range steps {
		cmd, run := walkCommand(t, s, bin, work)
		if !run {
			continue
		}
		cmd.Dir, cmd.Env = work, env
		var out bytes.Buffer
		// One writer for both: the lines come in the order a terminal
		// shows them.
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if err != nil {
			t.Fatalf("README.md:%d: %s: %v\n%s", s.line, strings.Join(s.words, " "), err, out.String())
		}
		if s.output != nil {
			if msg := matchOutput(s.output, out.String()); msg != "" {
				t.Errorf("README.md:%d: %s: the output is not what the README shows: %s\n--- output:\n%s",
					s.line, strings.Join(s.words, " "), msg, out.String())
			}
		}
	}
}

// walkCommand maps a README command onto the binary of this test run:
// `go build -o X ./cmd/pecbatch` puts it at X, `go run ./cmd/pecbatch`,
// `pecbatch` and a path to pecbatch run it. `make test` is not run (it
// runs this test); any other command fails the test, so the README cannot
// name a command this test does not check.
func walkCommand(t *testing.T, s walkStep, bin, work string) (*exec.Cmd, bool) {
	t.Helper()
	w := s.words
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	switch {
	case slices.Equal(w, []string{"make", "test"}):
		return nil, false
	case len(w) == 5 && w[0] == "go" && w[1] == "build" && w[2] == "-o" && w[4] == "./cmd/pecbatch":
		if err := copyFile(filepath.Join(work, w[3]), bin, 0o755); err != nil {
			t.Fatal(err)
		}
		return nil, false
	case len(w) >= 3 && w[0] == "go" && w[1] == "run" && w[2] == "./cmd/pecbatch":
		return exec.CommandContext(ctx, bin, w[3:]...), true
	case w[0] == "pecbatch":
		return exec.CommandContext(ctx, bin, w[1:]...), true
	case strings.HasSuffix(w[0], "/pecbatch"):
		// Run as the README does, by its path (which must exist: the
		// README must build it first), so argv[0] is the README's too.
		cmd := exec.CommandContext(ctx, filepath.Join(work, w[0]), w[1:]...)
		cmd.Args[0] = w[0]
		return cmd, true
	}
	t.Fatalf("README.md:%d: the walkthrough has a command this test does not know: %s", s.line, strings.Join(w, " "))
	return nil, false
}

// parseWalkthrough returns the commands of the README's walkthrough blocks,
// in order.
func parseWalkthrough(readme string) ([]walkStep, error) {
	var steps []walkStep
	sc := bufio.NewScanner(strings.NewReader(readme))
	marked, console, inBlock := false, false, false
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case !inBlock && strings.TrimSpace(line) == walkthroughMarker:
			marked = true
		case !inBlock && marked && strings.HasPrefix(line, "```"):
			inBlock, console = true, strings.TrimPrefix(line, "```") == "console"
		case !inBlock:
			if strings.TrimSpace(line) != "" {
				marked = false
			}
		case line == "```":
			inBlock, marked = false, false
		case console && strings.HasPrefix(line, "$ "):
			steps = append(steps, walkStep{line: n, words: shellWords(line[2:]), output: []string{}})
		case console:
			if len(steps) == 0 {
				return nil, &walkError{n, "output before the first command"}
			}
			s := &steps[len(steps)-1]
			s.output = append(s.output, line)
		default:
			if w := shellWords(line); len(w) > 0 {
				steps = append(steps, walkStep{line: n, words: w})
			}
		}
	}
	for i := range steps {
		if len(steps[i].words) == 0 {
			return nil, &walkError{steps[i].line, "an empty command"}
		}
		steps[i].output = trimBlankEnd(steps[i].output)
	}
	return steps, sc.Err()
}

type walkError struct {
	line int
	msg  string
}

func (e *walkError) Error() string { return "README.md:" + strconv.Itoa(e.line) + ": " + e.msg }

// shellWords splits a command line as sh would for the plain commands of
// the README: words separated by blanks, '…' and "…" quoting, and a word
// starting with # begins a comment.
func shellWords(line string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case r == '#' && !inWord:
			return words
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// matchOutput says how got differs from the lines the README shows, or ""
// when it does not.
func matchOutput(want []string, got string) string {
	lines := trimBlankEnd(strings.Split(strings.TrimRight(got, "\n"), "\n"))
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " \t")
	}
	// Split the shown lines at "..." into runs that must each match
	// consecutive lines, in order.
	var runs [][]string
	run := []string{}
	for _, w := range want {
		if strings.TrimSpace(w) == "..." {
			runs = append(runs, run)
			run = []string{}
			continue
		}
		run = append(run, w)
	}
	runs = append(runs, run)
	pos := 0
	for i, r := range runs {
		first, last := i == 0, i == len(runs)-1
		at := -1
		for start := pos; start+len(r) <= len(lines); start++ {
			if matchLines(r, lines[start:start+len(r)]) && (!last || start+len(r) == len(lines)) {
				at = start
				break
			}
			if first {
				break
			}
		}
		if at < 0 {
			where := "after line " + strconv.Itoa(pos)
			switch {
			case first && last:
				where = "as the whole output"
			case first:
				where = "at the start"
			case last:
				where = "at the end"
			}
			return "the lines\n  " + strings.Join(r, "\n  ") + "\nare not there " + where
		}
		pos = at + len(r)
	}
	return ""
}

// matchLines says whether got are the lines want, "…" standing for any
// text.
func matchLines(want, got []string) bool {
	for i, w := range want {
		parts := strings.Split(strings.TrimRight(w, " \t"), "…")
		for j, p := range parts {
			parts[j] = regexp.QuoteMeta(p)
		}
		if !regexp.MustCompile("^" + strings.Join(parts, ".*") + "$").MatchString(got[i]) {
			return false
		}
	}
	return true
}

func trimBlankEnd(lines []string) []string {
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// copyExamples copies the examples as a clone has them: without the
// journals and reports a local run may have left.
func copyExamples(dst, src string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		name := d.Name()
		switch {
		case d.IsDir() && name == "preview":
			return filepath.SkipDir
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case strings.Contains(name, ".journal.db"), strings.Contains(name, "-report."):
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return copyFile(target, path, info.Mode().Perm())
	})
}

func copyFile(dst, src string, perm fs.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, data, perm)
}

// TestReadmeCampaignKeysInStarter: the README says init writes a campaign
// with every key explained, so every key of the README's campaign file is
// in the starter, set or commented out with its default.
func TestReadmeCampaignKeysInStarter(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## The campaign file\n")
	if !ok {
		t.Fatal("README.md has no section \"The campaign file\"")
	}
	_, block, ok := strings.Cut(section, "```yaml\n")
	if !ok {
		t.Fatal("the README's campaign file section has no yaml block")
	}
	block, _, _ = strings.Cut(block, "```")
	starter, err := fs.ReadFile(starterFiles, "starter/campaign.yaml")
	if err != nil {
		t.Fatal(err)
	}
	keyLine := regexp.MustCompile(`^\s*(?:- )?([a-z_]+):`)
	var keys []string
	for line := range strings.SplitSeq(block, "\n") {
		if m := keyLine.FindStringSubmatch(line); m != nil {
			keys = append(keys, m[1])
			inStarter := regexp.MustCompile(`(?m)^\s*(?:#\s*)?(?:-\s*)?` + m[1] + `:`)
			if !inStarter.Match(starter) {
				t.Errorf("the README's campaign file has %s, the campaign init writes does not", m[1])
			}
		}
	}
	if len(keys) < 20 {
		t.Fatalf("found only %d keys in the README's campaign file: %v", len(keys), keys)
	}
}

func TestWalkthroughOutputMatch(t *testing.T) {
	t.Parallel()
	got := "warning: x\n\nRows: 3\nOK: nothing wrong.\n"
	tests := []struct {
		name string
		want []string
		ok   bool
	}{
		{"whole output", []string{"warning: x", "", "Rows: 3", "OK: nothing wrong."}, true},
		{"elided start", []string{"...", "Rows: 3", "OK: nothing wrong."}, true},
		{"elided middle", []string{"warning: x", "...", "OK: nothing wrong."}, true},
		{"ellipsis in a line", []string{"warning: …", "...", "Rows: …"}, false}, // not at the end
		{"ellipsis in a line at the end", []string{"warning: …", "...", "OK: …"}, true},
		{"a line differs", []string{"...", "Rows: 4", "..."}, false},
		{"start not anchored without ...", []string{"Rows: 3", "..."}, false},
		{"end not anchored without ...", []string{"...", "Rows: 3"}, false},
		{"lines shown adjacent are adjacent", []string{"warning: x", "Rows: 3", "..."}, false},
		{"order", []string{"...", "OK: nothing wrong.", "...", "Rows: 3", "..."}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if msg := matchOutput(tt.want, got); (msg == "") != tt.ok {
				t.Errorf("matchOutput(%q) = %q, want ok %v", tt.want, msg, tt.ok)
			}
		})
	}
}

func TestWalkthroughParse(t *testing.T) {
	t.Parallel()
	readme := "intro\n" + walkthroughMarker + "\n```sh\ngo run ./cmd/pecbatch run a.yaml --yes   # the demo\nmake test\n```\n" +
		"```sh\nnot marked\n```\n" + walkthroughMarker + "\n\n```console\n$ pecbatch init 'my dir'  # comment\nwrote x\n\n$ bin/pecbatch status \"a b.yaml\"\n```\n"
	steps, err := parseWalkthrough(readme)
	if err != nil {
		t.Fatal(err)
	}
	want := []walkStep{
		{line: 4, words: []string{"go", "run", "./cmd/pecbatch", "run", "a.yaml", "--yes"}},
		{line: 5, words: []string{"make", "test"}},
		{line: 13, words: []string{"pecbatch", "init", "my dir"}, output: []string{"wrote x"}},
		{line: 16, words: []string{"bin/pecbatch", "status", "a b.yaml"}, output: []string{}},
	}
	if len(steps) != len(want) {
		t.Fatalf("got %d steps %v, want %v", len(steps), steps, want)
	}
	for i := range want {
		g, w := steps[i], want[i]
		if g.line != w.line || !slices.Equal(g.words, w.words) || !slices.Equal(g.output, w.output) || (g.output == nil) != (w.output == nil) {
			t.Errorf("step %d = %+v, want %+v", i, g, w)
		}
	}
}
