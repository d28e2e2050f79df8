package report

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/pecbatch/pecbatch/internal/testutil"
)

// reportArtifacts is where the browser test leaves the page and its
// screenshot for a person to look at; it is in .gitignore.
const reportArtifacts = "testdata/report-artifacts"

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

	res := testutil.Chromium(t, page, shot, 1280, 2000)
	t.Logf("chromium loaded the report in %v; page: %s; screenshot: %s", res.Elapsed.Round(time.Millisecond), page, shot)

	if len(res.Console) > 0 {
		t.Errorf("the page logged console messages (errors, or fetches blocked by its Content-Security-Policy):\n%s",
			strings.Join(res.Console, "\n"))
	}
	doc, err := html.Parse(strings.NewReader(res.DOM))
	if err != nil {
		t.Fatal(err)
	}
	totals := testutil.FindElement(doc, func(n *html.Node) bool { return testutil.Attr(n, "id") == "totals" })
	if totals == nil {
		t.Fatalf("the loaded page has no totals section; DOM:\n%.2000s", res.DOM)
	}
	shown := map[string]int{}
	testutil.Walk(totals, func(n *html.Node) {
		state := testutil.Attr(n, "data-state")
		if n.Data != "tr" || state == "" {
			return
		}
		cell := testutil.FindElement(n, func(c *html.Node) bool { return testutil.Attr(c, "data-count") != "" })
		if cell == nil {
			t.Errorf("totals line of %s has no count", state)
			return
		}
		v, err := strconv.Atoi(strings.TrimSpace(testutil.NodeText(cell)))
		if err != nil {
			t.Errorf("totals line of %s shows %q", state, testutil.NodeText(cell))
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
	if all := testutil.FindElement(totals, func(n *html.Node) bool { return testutil.Attr(n, "data-total") == "rows" }); all == nil ||
		strings.TrimSpace(testutil.NodeText(all)) != strconv.Itoa(counts.Total()) {
		t.Errorf("total rows not shown as %d", counts.Total())
	}
	for _, id := range []string{"timeline-title", "latency-title", "row-1"} {
		if testutil.FindElement(doc, func(n *html.Node) bool { return testutil.Attr(n, "id") == id }) == nil {
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
	res := testutil.Chromium(t, page, "", 0, 0)
	if !strings.Contains(strings.Join(res.Console, "\n"), "example.invalid") {
		t.Errorf("a blocked fetch of http://example.invalid/ left no console message; stderr:\n%s", res.Log)
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
