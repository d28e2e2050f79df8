package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/pecbatch/pecbatch/internal/testutil"
)

// TestEsitiReportInChromium runs the esiti example (one row per outcome)
// against the built-in sandbox, writes its HTML report with the defaults
// and loads it in headless Chromium: the page opens with the "Da
// ricontattare" table listing the six recipients not delivered, is in
// Italian, and shows every time in Europe/Rome, although the machine's zone
// is UTC. The screenshot is checked to be a real image of the window.
func TestEsitiReportInChromium(t *testing.T) {
	t.Parallel()
	bin := buildPecbatch(t)
	dir := t.TempDir()
	for _, name := range []string{"campaign.yaml", "corpo.html", "destinatari.csv"} {
		b, err := os.ReadFile(filepath.Join(examplesDir, "esiti", name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "campaign.yaml" {
			// Faster sending; the sandbox's own clock shortens the 12 and
			// 24 hour notices.
			b = bytes.Replace(b, []byte("\nsending:\n"), []byte("\nsending:\n  rate: 20/s\n"), 1)
			if !bytes.Contains(b, []byte("rate: 20/s")) {
				t.Fatal("the esiti example has no sending: block to speed up")
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "campaign.yaml")
	env := append(slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "TZ=") }), "TZ=UTC")
	if code, out := crashRunPecbatch(t, bin, env, 0, "run", file, "--sandbox", "--yes"); code != exitRowsFailed {
		t.Fatalf("run: exit %d, want %d (some rows not delivered)\n%s", code, exitRowsFailed, out)
	}
	page := filepath.Join(dir, "esiti.html")
	if code, out := crashRunPecbatch(t, bin, env, 0, "report", file, "--sandbox", "--format", "html", "-o", page); code != 0 {
		t.Fatalf("report: exit %d\n%s", code, out)
	}

	const width, height = 1280, 1600
	shot := filepath.Join(t.TempDir(), "esiti.png")
	res := testutil.Chromium(t, page, shot, width, height)
	if len(res.Console) > 0 {
		t.Errorf("the page logged console messages:\n%s", strings.Join(res.Console, "\n"))
	}
	b, err := os.ReadFile(shot)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil || cfg.Width != width || cfg.Height != height || len(b) < 10000 {
		t.Errorf("screenshot %s: %dx%d, %d bytes (%v); want a %dx%d PNG", shot, cfg.Width, cfg.Height, len(b), err, width, height)
	}

	doc, err := html.Parse(strings.NewReader(res.DOM))
	if err != nil {
		t.Fatal(err)
	}
	root := testutil.FindElement(doc, func(n *html.Node) bool { return n.Data == "html" })
	if root == nil || testutil.Attr(root, "lang") != "it" {
		t.Errorf("the page's language is not it")
	}
	// "Da ricontattare" comes first, before the totals.
	main := testutil.FindElement(doc, func(n *html.Node) bool { return n.Data == "main" })
	if main == nil {
		t.Fatalf("no <main> in the DOM:\n%.2000s", res.DOM)
	}
	var sections []string
	for c := main.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode {
			sections = append(sections, testutil.Attr(c, "id"))
		}
	}
	if len(sections) == 0 || sections[0] != "undelivered" {
		t.Fatalf("the sections of the page are %q, want undelivered first", sections)
	}
	first := testutil.FindElement(main, func(n *html.Node) bool { return testutil.Attr(n, "id") == "undelivered" })
	if h2 := testutil.FindElement(first, func(n *html.Node) bool { return n.Data == "h2" }); h2 == nil || testutil.NodeText(h2) != "Da ricontattare" {
		t.Errorf("the first section's title is not Da ricontattare")
	}
	got := map[string]string{}
	testutil.Walk(first, func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "tr" && testutil.Attr(n, "data-state") != "" {
			addr := testutil.FindElement(n, func(c *html.Node) bool { return testutil.Attr(c, "class") == "addr" })
			if addr != nil {
				got[testutil.NodeText(addr)] = testutil.Attr(n, "data-state")
			}
		}
	})
	want := map[string]string{
		"casella@invalid.sandbox.test": "failed", "casella@full.sandbox.test": "failed", "casella@virus.sandbox.test": "failed",
		"casella@reject.sandbox.test": "failed", "casella@expire.sandbox.test": "expired",
		"casella@ordinary.sandbox.test": "accepted_not_certifiable",
	}
	if len(got) != len(want) {
		t.Errorf("Da ricontattare lists %v, want %v", got, want)
	}
	for addr, st := range want {
		if got[addr] != st {
			t.Errorf("Da ricontattare: %s is %q, want %q", addr, got[addr], st)
		}
	}
	text := testutil.NodeText(first)
	for _, w := range []string{"casella piena", "indirizzo inesistente o non valido", "inviare per raccomandata A/R",
		"scaduta", "non consegnata", "consegna non certificabile", "Cosa fare"} {
		if !strings.Contains(text, w) {
			t.Errorf("Da ricontattare lacks %q:\n%s", w, text)
		}
	}
	all := testutil.NodeText(doc)
	for _, w := range []string{"Rapporto di consegna: esiti-sandbox", "Totali per stato", "Righe e ricevute"} {
		if !strings.Contains(all, w) {
			t.Errorf("the page lacks %q", w)
		}
	}
	for _, english := range []string{"Delivery report", "Totals by state", "Rows and receipts"} {
		if strings.Contains(all, english) {
			t.Errorf("the Italian page says %q", english)
		}
	}

	// Every time is in Europe/Rome, written the Italian way.
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	zone, _ := time.Now().In(rome).Zone()
	if !strings.Contains(all, "orari in "+zone) {
		t.Errorf("the page does not say its times are in %s", zone)
	}
	italian := regexp.MustCompile(`^\d\d/\d\d/\d{4} \d\d:\d\d(:\d\d)?$`)
	times := 0
	testutil.Walk(doc, func(n *html.Node) {
		if n.Type != html.ElementNode || n.Data != "time" {
			return
		}
		times++
		at, err := time.Parse(time.RFC3339, testutil.Attr(n, "datetime"))
		shown := testutil.NodeText(n)
		if err != nil || !italian.MatchString(shown) {
			t.Errorf("<time datetime=%q>%s</time>: not an Italian date (%v)", testutil.Attr(n, "datetime"), shown, err)
			return
		}
		_, offset := at.Zone()
		_, romeOffset := at.In(rome).Zone()
		layout := "02/01/2006 15:04:05"
		if len(shown) == len("02/01/2006 15:04") {
			layout = "02/01/2006 15:04"
		}
		if offset != romeOffset || shown != at.In(rome).Format(layout) {
			t.Errorf("<time datetime=%q>%s</time>: not in Europe/Rome (%s)", testutil.Attr(n, "datetime"), shown, at.In(rome).Format(layout))
		}
	})
	if times < 20 {
		t.Errorf("%d times on the page, want the sends, receipts and outcomes of 8 rows", times)
	}
}
