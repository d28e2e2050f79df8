package report

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// reportArtifacts is where the browser test leaves the page and its
// screenshot for a person to look at; it is in .gitignore.
const reportArtifacts = "testdata/report-artifacts"

// chromiumResult is what a headless Chromium made of a page.
type chromiumResult struct {
	dom      string   // the DOM after load (--dump-dom)
	console  []string // console messages: errors, CSP violations
	log      string   // all of Chromium's stderr
	elapsed  time.Duration
	shotPath string
}

// runChromium loads file in Debian's headless Chromium, with the network
// features that would make the test slow or flaky turned off, and logging
// on so that console messages (a blocked fetch is one) reach stderr.
func runChromium(t *testing.T, file, screenshot string) chromiumResult {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		// Not a skip: this test is the only proof that the page works in a
		// browser. .ci/run installs chromium; on a workstation run
		// `apt-get install chromium` (Debian) first.
		t.Fatalf("chromium is not on PATH (%v): install Debian's chromium (apt-get install chromium) to run the HTML report's browser test", err)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		// No host name resolves: whatever the page or the browser itself
		// tried, nothing leaves the machine.
		"--host-resolver-rules=MAP * ~NOTFOUND",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0", "--dump-dom"}
	if screenshot != "" {
		args = append(args, "--screenshot="+screenshot, "--window-size=1280,2000")
	}
	args = append(args, "file://"+filepath.ToSlash(abs))
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	res := chromiumResult{dom: stdout.String(), log: stderr.String(), elapsed: time.Since(start), shotPath: screenshot}
	for _, line := range strings.Split(res.log, "\n") {
		if strings.Contains(line, ":CONSOLE") {
			res.console = append(res.console, line)
		}
	}
	return res
}

// TestReportHTMLInChromium writes the HTML report of a real journal, loads
// it in headless Chromium and checks that the page loaded, that the totals
// it shows are the journal's, and that it asked for nothing outside itself.
func TestReportHTMLInChromium(t *testing.T) {
	ctx := t.Context()
	r, _ := openReportJournal(t)
	if err := os.MkdirAll(reportArtifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(reportArtifacts, "report.html")
	shot := filepath.Join(reportArtifacts, "report.png")
	os.Remove(shot)
	if _, err := Save(ctx, r, page, Options{Format: HTML}); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	assertSelfContained(t, string(src))

	res := runChromium(t, page, shot)
	t.Logf("chromium loaded the report in %v; page: %s; screenshot: %s", res.elapsed.Round(time.Millisecond), page, shot)

	if len(res.console) > 0 {
		t.Errorf("the page logged console messages (errors, or fetches blocked by its Content-Security-Policy):\n%s",
			strings.Join(res.console, "\n"))
	}
	doc, err := html.Parse(strings.NewReader(res.dom))
	if err != nil {
		t.Fatal(err)
	}
	totals := findElement(doc, func(n *html.Node) bool { return attr(n, "id") == "totals" })
	if totals == nil {
		t.Fatalf("the loaded page has no totals section; DOM:\n%.2000s", res.dom)
	}
	shown := map[string]int{}
	walk(totals, func(n *html.Node) {
		state := attr(n, "data-state")
		if n.Data != "tr" || state == "" {
			return
		}
		cell := findElement(n, func(c *html.Node) bool { return attr(c, "data-count") != "" })
		if cell == nil {
			t.Errorf("totals line of %s has no count", state)
			return
		}
		v, err := strconv.Atoi(strings.TrimSpace(nodeText(cell)))
		if err != nil {
			t.Errorf("totals line of %s shows %q", state, nodeText(cell))
		}
		shown[state] = v
	})
	counts, err := r.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(shown) != len(counts) {
		t.Errorf("the page shows %d states, the journal has %d", len(shown), len(counts))
	}
	for s, n := range counts {
		if got, ok := shown[string(s)]; !ok || got != n {
			t.Errorf("total of %s shown as %d (present %v), the journal counts %d", s, got, ok, n)
		}
	}
	if all := findElement(totals, func(n *html.Node) bool { return attr(n, "data-total") == "rows" }); all == nil ||
		strings.TrimSpace(nodeText(all)) != strconv.Itoa(counts.Total()) {
		t.Errorf("total rows not shown as %d", counts.Total())
	}
	for _, id := range []string{"timeline-title", "latency-title", "row-1"} {
		if findElement(doc, func(n *html.Node) bool { return attr(n, "id") == id }) == nil {
			t.Errorf("the loaded page lacks #%s", id)
		}
	}
	png, err := os.ReadFile(shot)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 10000 {
		t.Errorf("no screenshot at %s (%d bytes, %v)", shot, len(png), err)
	}
}

// TestChromiumSeesOutsideFetches proves the browser test's detector works:
// the same policy in a page that tries to load an image from the network
// yields a console message.
func TestChromiumSeesOutsideFetches(t *testing.T) {
	page := filepath.Join(t.TempDir(), "bad.html")
	csp := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy"[^>]*>`).FindString(reportHTML)
	if csp == "" {
		t.Fatal("the report template has no Content-Security-Policy")
	}
	bad := fmt.Sprintf(`<!DOCTYPE html><html><head><meta charset="utf-8">%s<title>x</title></head>
<body><section id="totals">0</section><img src="http://example.invalid/pixel.png" alt=""></body></html>`, csp)
	if err := os.WriteFile(page, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	res := runChromium(t, page, "")
	if !strings.Contains(strings.Join(res.console, "\n"), "example.invalid") {
		t.Errorf("a blocked fetch of http://example.invalid/ left no console message; stderr:\n%s", res.log)
	}
}

// assertSelfContained checks the page source for anything that could fetch
// a resource: elements that load, attributes that point elsewhere, CSS
// that imports, and the policy that forbids all of it.
func assertSelfContained(t *testing.T, page string) {
	t.Helper()
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`(?i)<(script|link|img|iframe|frame|object|embed|audio|video|source|track|base|form|image|use|foreignObject)\b`),
		regexp.MustCompile(`(?i)<[^>]*\s(src|href|srcset|action|xlink:href|background|poster|data)\s*=`),
		regexp.MustCompile(`(?i)url\(|@import`),
	} {
		if m := bad.FindString(page); m != "" {
			t.Errorf("page contains %q: it could fetch something", m)
		}
	}
	csp := `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`
	if i := strings.Index(page, csp); i < 0 || i > strings.Index(page, "<style>") {
		t.Errorf("page lacks the Content-Security-Policy before its first resource")
	}
}

func attr(n *html.Node, key string) string {
	if n.Type != html.ElementNode {
		return ""
	}
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func walk(n *html.Node, f func(*html.Node)) {
	f(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

func findElement(n *html.Node, match func(*html.Node) bool) *html.Node {
	var found *html.Node
	walk(n, func(c *html.Node) {
		if found == nil && c.Type == html.ElementNode && match(c) {
			found = c
		}
	})
	return found
}

func nodeText(n *html.Node) string {
	var b strings.Builder
	walk(n, func(c *html.Node) {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	})
	return b.String()
}
