package report

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

func writeHTML(t *testing.T, d *Data, opts Options) string {
	t.Helper()
	opts.Format = HTML
	if opts.Location == nil {
		opts.Location = rome
	}
	if opts.Now == nil {
		opts.Now = fixedNow
	}
	var b bytes.Buffer
	if err := WriteData(t.Context(), d, &b, opts); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestReportHTMLGolden(t *testing.T) {
	t.Run("report.html", func(t *testing.T) {
		checkGolden(t, "report.html", []byte(writeHTML(t, fixtureData(), Options{})))
	})
	t.Run("report-en.html", func(t *testing.T) {
		checkGolden(t, "report-en.html", []byte(writeHTML(t, fixtureData(), Options{Lang: English})))
	})
	t.Run("report-empty.html", func(t *testing.T) {
		d := &Data{Campaign: "vuota", Counts: map[string]int{}, Rows: seqOf(nil)}
		checkGolden(t, "report-empty.html", []byte(writeHTML(t, d, Options{})))
	})
}

// TestReportHTMLSelfContained checks that the page can fetch nothing: no
// element points elsewhere, the CSS imports nothing, there is no script,
// and the Content-Security-Policy forbids every fetch.
func TestReportHTMLSelfContained(t *testing.T) {
	assertSelfContained(t, writeHTML(t, fixtureData(), Options{}))
	assertSelfContained(t, writeHTML(t, &Data{Campaign: "vuota", Rows: seqOf(nil)}, Options{}))
}

// TestReportHTMLEscapes checks that text from the recipient list, the API
// and the receipts reaches the page as text, never as markup.
func TestReportHTMLEscapes(t *testing.T) {
	page := writeHTML(t, fixtureData(), Options{Lang: English})
	for _, raw := range []string{"<script>alert(1)</script>", `<img src="http://evil.example/x.png">`, "Solleciti <marzo>"} {
		if strings.Contains(page, raw) {
			t.Errorf("page contains %q unescaped", raw)
		}
	}
	for _, escaped := range []string{"&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;quotes&#34;",
		"&lt;/pre&gt;&lt;img src=&#34;http://evil.example/x.png&#34;&gt;", "Delivery report: Solleciti &lt;marzo&gt; 2025"} {
		if !strings.Contains(page, escaped) {
			t.Errorf("page lacks %q", escaped)
		}
	}
}

// TestReportHTMLTotals checks the totals table against the counts.
func TestReportHTMLTotals(t *testing.T) {
	page := writeHTML(t, fixtureData(), Options{})
	got := map[string]string{}
	re := regexp.MustCompile(`<tr data-state="([a-z_]+)"[^>]*>.*?data-count="(\d+)"`)
	for _, m := range re.FindAllStringSubmatch(page, -1) {
		got[m[1]] = m[2]
	}
	for _, st := range reportStates(printer(English), English) {
		if want := fmt.Sprint(fixtureCounts()[st.State]); got[st.State] != want {
			t.Errorf("total of %s = %q, want %s", st.State, got[st.State], want)
		}
	}
	if !strings.Contains(page, `data-total="rows">9<`) {
		t.Errorf("page lacks the total of 9 rows")
	}
	t.Run("a state unknown to the page is shown too", func(t *testing.T) {
		d := fixtureData()
		d.Counts = map[string]int{"delivered": 1, "quarantined": 2}
		page := writeHTML(t, d, Options{})
		if !regexp.MustCompile(`<tr data-state="quarantined"><th scope="row"><span class="badge wait">quarantined</span></th><td class="num" data-count="2">`).MatchString(page) {
			t.Errorf("state quarantined missing from the totals")
		}
	})
}

func TestReportHTMLCap(t *testing.T) {
	// Rows of three recipients each: the cap falls inside a row, which is
	// shown whole.
	var rows []Row
	for i := 1; i <= 10; i++ {
		for _, r := range []string{"a", "b", "c"} {
			rows = append(rows, Row{Row: i, Key: fmt.Sprint("K", i), Recipient: r + "@pec.example.it", State: "pending"})
		}
	}
	for _, tc := range []struct {
		max, wantRows, wantLines int
		capped                   bool
	}{
		{max: 7, wantRows: 3, wantLines: 9, capped: true},
		{max: 9, wantRows: 3, wantLines: 9, capped: true},
		{max: 30, wantRows: 10, wantLines: 30},
		{max: -1, wantRows: 10, wantLines: 30},
	} {
		t.Run(fmt.Sprint("max=", tc.max), func(t *testing.T) {
			page := writeHTML(t, &Data{Campaign: "c", Counts: map[string]int{"pending": 10}, Rows: seqOf(rows)}, Options{MaxHTMLRows: tc.max, Lang: English})
			if got := strings.Count(page, `<tbody id="row-`); got != tc.wantRows {
				t.Errorf("%d rows shown, want %d", got, tc.wantRows)
			}
			if got := strings.Count(page, `@pec.example.it</td>`); got != tc.wantLines {
				t.Errorf("%d lines shown, want %d", got, tc.wantLines)
			}
			note := fmt.Sprintf("The table shows the first %d of 30 recipients", tc.wantLines)
			if strings.Contains(page, note) != tc.capped {
				t.Errorf("note %q present = %v, want %v", note, !tc.capped, tc.capped)
			}
		})
	}
}

func TestReportHTMLDeterministic(t *testing.T) {
	a := writeHTML(t, fixtureData(), Options{})
	for range 5 {
		if b := writeHTML(t, fixtureData(), Options{}); a != b {
			t.Fatal("two reports of the same data differ")
		}
	}
	if !strings.Contains(a, `<time datetime="2025-03-03T10:30:00&#43;01:00">03/03/2025 10:30</time>`) {
		t.Error("generation time missing, not in the report's zone or not in the Italian form")
	}
}

func TestShortDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0"}, {-time.Second, "0"}, {1500 * time.Millisecond, "1s"}, {45 * time.Second, "45s"},
		{time.Minute, "1m"}, {150 * time.Second, "2m30s"}, {time.Hour, "1h"}, {65 * time.Minute, "1h05m"},
		{24 * time.Hour, "1d"}, {51 * time.Hour, "2d3h"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if got := shortDuration(tc.d); got != tc.want {
				t.Errorf("shortDuration(%v) = %q, want %q", tc.d, got, tc.want)
			}
		})
	}
}

func TestNiceStep(t *testing.T) {
	for _, tc := range []struct {
		max  float64
		n    int
		want float64
	}{
		{0, 5, 1}, {1, 5, 1}, {4, 5, 1}, {9, 5, 2}, {10, 5, 2}, {11, 5, 5}, {100, 5, 20}, {101, 5, 50}, {100000, 5, 20000},
	} {
		t.Run(fmt.Sprint(tc.max), func(t *testing.T) {
			if got := niceStep(tc.max, tc.n); got != tc.want {
				t.Errorf("niceStep(%v, %d) = %v, want %v", tc.max, tc.n, got, tc.want)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	lat := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tc := range []struct {
		p    int
		want time.Duration
	}{{50, 5}, {90, 9}, {100, 10}, {1, 1}, {0, 1}} {
		if got := percentile(lat, tc.p); got != tc.want {
			t.Errorf("percentile(%d) = %v, want %v", tc.p, got, tc.want)
		}
	}
}

func TestTimelineChart(t *testing.T) {
	base := at(10, 0, 0).UnixNano()
	sec := int64(time.Second)
	t.Run("nothing sent", func(t *testing.T) {
		if c := timelineChart(printer(English), []timeSeries{{Name: "sent"}}, rome); c != nil {
			t.Errorf("chart = %+v, want none", c)
		}
	})
	t.Run("steps end at the totals", func(t *testing.T) {
		sent := []int64{base + 2*sec, base, base + sec}
		delivered := []int64{base + 30*sec}
		c := timelineChart(printer(English), []timeSeries{{Name: "sent", Times: sent}, {Name: "delivered", Times: delivered}, {Name: "failed"}}, rome)
		if len(c.Lines) != 2 {
			t.Fatalf("%d lines, want 2 (an empty series is left out)", len(c.Lines))
		}
		// The y axis reaches at least the largest total; the last point of
		// each line is at the right edge, at its total.
		top := c.YTicks[len(c.YTicks)-1]
		if top.Label != "3" {
			t.Errorf("top y tick = %q, want 3", top.Label)
		}
		pts := strings.Fields(c.Lines[0].Points)
		if last := pts[len(pts)-1]; last != fmt.Sprintf("%.1f,%.1f", c.Right, top.Pos) {
			t.Errorf("sent line ends at %s, want the right edge at the top tick (%v)", last, top.Pos)
		}
		if first := pts[0]; first != fmt.Sprintf("%.1f,%.1f", c.Left, c.Bottom) {
			t.Errorf("sent line starts at %s, want the origin", first)
		}
		// Ticks cover a minute at least, labelled with seconds.
		if len(c.XTicks) < 2 || c.XTicks[0].Label != "10:00:00" {
			t.Errorf("x ticks = %+v", c.XTicks)
		}
		if !strings.Contains(c.Desc, "3 sent, the first at 2025-03-02 10:00:00 and the last at 2025-03-02 10:00:02") {
			t.Errorf("desc = %q", c.Desc)
		}
	})
	t.Run("many events stay few points", func(t *testing.T) {
		var sent []int64
		for i := range 100000 {
			sent = append(sent, base+int64(i)*sec)
		}
		c := timelineChart(printer(English), []timeSeries{{Name: "sent", Times: sent}}, rome)
		if n := len(strings.Fields(c.Lines[0].Points)); n > 2*(chartRight-chartLeft+2)+2 {
			t.Errorf("%d points for 100000 events", n)
		}
		for _, tk := range c.XTicks {
			if tk.Pos < c.Left || tk.Pos > c.Right {
				t.Errorf("tick %+v outside the plot", tk)
			}
		}
		if c.XTicks[0].Label != "2 Mar 12:00" {
			t.Errorf("first tick %q, want 2 Mar 12:00 (days and hours)", c.XTicks[0].Label)
		}
	})
}

func TestLatencyChart(t *testing.T) {
	if c := latencyChart(printer(English), nil); c != nil {
		t.Errorf("chart = %+v, want none", c)
	}
	lat := []time.Duration{3 * time.Second, 3 * time.Second, 8 * time.Second, 12 * time.Minute}
	c := latencyChart(printer(English), lat)
	// 12 minutes in at most 24 bins: bins of one minute, 13 of them.
	if len(c.Bars) != 13 {
		t.Fatalf("%d bars, want 13", len(c.Bars))
	}
	if c.Bars[0].Title != "3 delivered in 0 to 1m" || c.Bars[12].Title != "1 delivered in 12m to 13m" {
		t.Errorf("bars = %q ... %q", c.Bars[0].Title, c.Bars[12].Title)
	}
	if c.Bars[0].H <= c.Bars[12].H || c.Bars[1].H != 0 {
		t.Errorf("bar heights %v, %v, %v do not follow the counts", c.Bars[0].H, c.Bars[1].H, c.Bars[12].H)
	}
	if !strings.Contains(c.Desc, "median 3s, 90th percentile 12m, longest 12m") {
		t.Errorf("desc = %q", c.Desc)
	}
}

// TestChartLabelsInside checks that the last time label is anchored so it
// stays inside the chart, and that the legend entries do not overlap and
// fit on the line.
func TestChartLabelsInside(t *testing.T) {
	base := at(10, 0, 0).UnixNano()
	min := int64(time.Minute)
	c := timelineChart(printer(Italian), []timeSeries{
		{Name: "inviati", Class: "sent", Times: []int64{base, base + 60*min}},
		{Name: "consegnati", Class: "delivered", Times: []int64{base + 30*min}},
		{Name: "non consegnati", Class: "failed", Times: []int64{base + 40*min}},
		{Name: "scaduti", Class: "expired", Times: []int64{base + 50*min}},
		{Name: "rifiutati", Class: "rejected", Times: []int64{base + 55*min}},
	}, rome)
	last := c.XTicks[len(c.XTicks)-1]
	if last.Pos+tickLabelWidth(last.Label)/2 > c.Width && last.Anchor != "end" {
		t.Errorf("last tick %+v would be cut off at %v", last, c.Width)
	}
	for _, tk := range c.XTicks {
		right := tk.Pos + tickLabelWidth(tk.Label)/2
		if tk.Anchor == "end" {
			right = tk.Pos
		}
		if right > c.Width {
			t.Errorf("tick %+v ends at %v, past the chart's width %v", tk, right, c.Width)
		}
	}
	if len(c.Lines) != 5 {
		t.Fatalf("%d legend entries, want 5", len(c.Lines))
	}
	for i, l := range c.Lines {
		end := l.LegendText + 7*float64(len(fmt.Sprintf("%s (%d)", l.Name, l.Total)))
		if end > c.Width {
			t.Errorf("legend entry %q ends at %v, past the chart", l.Name, end)
		}
		if l.LegendY >= c.Top {
			t.Errorf("legend entry %q at y %v, inside the plot (top %v)", l.Name, l.LegendY, c.Top)
		}
		if i > 0 && c.Lines[i-1].LegendY == l.LegendY {
			prev := c.Lines[i-1]
			if prevEnd := prev.LegendText + 7*float64(len(fmt.Sprintf("%s (%d)", prev.Name, prev.Total))); l.LegendX < prevEnd {
				t.Errorf("legend entry %q starts at %v, over %q which ends at %v", l.Name, l.LegendX, prev.Name, prevEnd)
			}
		}
	}
}
