package report

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/message"
)

// svgChart is the geometry of one chart of the HTML report, ready for its
// template: every position is in SVG user units, computed here so that the
// template only lays out elements and html/template escapes every value.
type svgChart struct {
	ID                       string // prefix of the element ids (aria-labelledby)
	Title, Desc              string // the accessible name and description
	Width, Height            float64
	Left, Top, Right, Bottom float64 // the plot area
	XLabel, YLabel           string
	// Where the template puts the tick marks, the tick labels and the axis
	// labels, so that it does no arithmetic.
	TickEnd, XTickLabelY, YTickLabelX  float64
	XLabelX, XLabelY, YLabelX, YLabelY float64
	XTicks, YTicks                     []svgTick
	Lines                              []svgLine
	Bars                               []svgBar
}

// svgTick is one tick of an axis: its position along the axis, its label
// and how the label is anchored (middle, or end for a label that would
// otherwise run past the chart's right edge).
type svgTick struct {
	Pos    float64
	Label  string
	Anchor string
}

// tickLabelWidth estimates the width of a tick label at the charts' 11px
// font: digits and letters average under 7 units.
func tickLabelWidth(label string) float64 { return 7 * float64(utf8.RuneCountInString(label)) }

// anchorTicks keeps every x tick label inside the chart: one centred on
// its tick that would be cut off at the right edge is ended at its tick.
func (c *svgChart) anchorTicks() {
	for i := range c.XTicks {
		c.XTicks[i].Anchor = "middle"
		if c.XTicks[i].Pos+tickLabelWidth(c.XTicks[i].Label)/2 > c.Width-2 {
			c.XTicks[i].Anchor = "end"
		}
	}
}

// svgLine is one series of a line chart, with its legend entry.
type svgLine struct {
	Name                string
	Class               string
	Points              string // the polyline's points attribute
	Total               int
	LegendX, LegendLine float64 // the legend's sample line, from and to
	LegendText, LegendY float64
}

// svgBar is one bar of a histogram, with the tooltip that states its value.
type svgBar struct {
	X, Y, W, H float64
	Title      string
}

// Chart layout, in SVG user units; the page scales the SVG to its width.
const (
	chartWidth    = 640
	chartHeight   = 300
	chartLeft     = 56
	chartRight    = chartWidth - 16
	chartTop      = 42 // room for two lines of legend
	chartBottom   = chartHeight - 52
	chartMaxTicks = 7
)

func newChart(id, title string) *svgChart {
	return &svgChart{
		ID: id, Title: title,
		Width: chartWidth, Height: chartHeight,
		Left: chartLeft, Right: chartRight, Top: chartTop, Bottom: chartBottom,
		TickEnd: chartBottom + 5, XTickLabelY: chartBottom + 18, YTickLabelX: chartLeft - 6,
		XLabelX: (chartLeft + chartRight) / 2, XLabelY: chartHeight - 12,
		YLabelX: 14, YLabelY: (chartTop + chartBottom) / 2,
	}
}

// yScale fits the count axis to max and returns the function that maps a
// count to its vertical position.
func (c *svgChart) yScale(max int) func(float64) float64 {
	step := niceStep(float64(max), chartMaxTicks-2)
	top := math.Ceil(float64(max)/step) * step
	if top == 0 {
		top = step
	}
	y := func(v float64) float64 { return c.Bottom - v/top*(c.Bottom-c.Top) }
	for v := 0.0; v <= top+step/2; v += step {
		c.YTicks = append(c.YTicks, svgTick{Pos: round1(y(v)), Label: strconv.FormatFloat(v, 'f', -1, 64)})
	}
	return y
}

// niceStep returns a step of 1, 2 or 5 times a power of ten, at least 1,
// that divides [0, max] into at most n intervals.
func niceStep(max float64, n int) float64 {
	if max <= 0 || n <= 0 {
		return 1
	}
	raw := max / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if s := m * mag; s >= raw {
			return math.Max(s, 1)
		}
	}
	return math.Max(10*mag, 1)
}

// timeSteps are the tick intervals a time axis may use: the ones a reader
// counts in.
var timeSteps = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour, 28 * 24 * time.Hour,
}

// pickStep returns the smallest of timeSteps that cuts span into at most n
// intervals (the largest one if none does).
func pickStep(span time.Duration, n int) time.Duration {
	for _, s := range timeSteps {
		if span/s <= time.Duration(n) {
			return s
		}
	}
	return timeSteps[len(timeSteps)-1]
}

// timeSeries is one series of the timeline: its name, CSS class and the
// instants (Unix nanoseconds) of its events.
type timeSeries struct {
	Name, Class string
	Times       []int64
}

// timelineChart draws the cumulative count of each series over time, as
// steps. It returns nil when there is nothing to draw.
func timelineChart(p *message.Printer, series []timeSeries, loc *time.Location) *svgChart {
	var lo, hi int64 = math.MaxInt64, math.MinInt64
	events, most := 0, 0
	for i := range series {
		slices.Sort(series[i].Times)
		if n := len(series[i].Times); n > 0 {
			lo = min(lo, series[i].Times[0])
			hi = max(hi, series[i].Times[n-1])
			events += n
			most = max(most, n)
		}
	}
	if events == 0 {
		return nil
	}
	c := newChart("timeline", p.Sprintf("timeline.title"))
	// A campaign sent within a few seconds still gets a readable axis.
	if time.Duration(hi-lo) < time.Minute {
		hi = lo + int64(time.Minute)
	}
	span := time.Duration(hi - lo)
	step := pickStep(span, chartMaxTicks)
	x := func(t int64) float64 { return c.Left + float64(t-lo)/float64(hi-lo)*(c.Right-c.Left) }
	start, end := time.Unix(0, lo).In(loc), time.Unix(0, hi).In(loc)
	format := timeTickFormat(p, start, end, step)
	midnight := time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, loc)
	first := midnight.Add((start.Sub(midnight) + step - 1) / step * step)
	for t := first; !t.After(end); t = t.Add(step) {
		c.XTicks = append(c.XTicks, svgTick{Pos: round1(x(t.UnixNano())), Label: t.Format(format)})
	}
	c.anchorTicks()
	c.XLabel = p.Sprintf("axis.time", zoneLabel(start))
	if format == "15:04" || format == "15:04:05" {
		c.XLabel = p.Sprintf("axis.timeOn", start.Format(p.Sprintf("layout.day")), zoneLabel(start))
	}
	c.YLabel = p.Sprintf("axis.cumulative")
	y := c.yScale(most)
	var desc []string
	legendX, legendY := c.Left, c.Top-28
	when := p.Sprintf("layout.datetime")
	for _, s := range series {
		if len(s.Times) == 0 {
			continue
		}
		// Each entry as wide as its text (12px font); one that would run
		// past the plot starts a second line.
		width := 24 + 7*float64(utf8.RuneCountInString(fmt.Sprintf("%s (%d)", s.Name, len(s.Times))))
		if legendX > c.Left && legendX+width > c.Right {
			legendX, legendY = c.Left, legendY+15
		}
		line := svgLine{
			Name: s.Name, Class: s.Class, Total: len(s.Times),
			Points:  stepPoints(s.Times, x, y, c.Right),
			LegendX: legendX, LegendLine: legendX + 18, LegendText: legendX + 24, LegendY: legendY,
		}
		legendX += width + 14
		c.Lines = append(c.Lines, line)
		desc = append(desc, p.Sprintf("timeline.series", len(s.Times), s.Name,
			time.Unix(0, s.Times[0]).In(loc).Format(when),
			time.Unix(0, s.Times[len(s.Times)-1]).In(loc).Format(when)))
	}
	c.Desc = p.Sprintf("timeline.desc", strings.Join(desc, "; "))
	return c
}

// stepPoints returns the polyline of a cumulative count as steps. Events
// that fall on the same pixel share one step, so the line has at most two
// points per pixel column whatever the number of events.
func stepPoints(times []int64, x func(int64) float64, y func(float64) float64, right float64) string {
	var b strings.Builder
	var last string
	point := func(px, py float64) {
		p := strconv.FormatFloat(px, 'f', 1, 64) + "," + strconv.FormatFloat(py, 'f', 1, 64)
		if p == last {
			return
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(p)
		last = p
	}
	for i := 0; i < len(times); {
		col := math.Round(x(times[i]))
		j := i
		for j < len(times) && math.Round(x(times[j])) == col {
			j++
		}
		point(col, y(float64(i)))
		point(col, y(float64(j)))
		i = j
	}
	point(right, y(float64(len(times))))
	return b.String()
}

// timeTickFormat chooses how the ticks of a time axis from start to end
// every step read: no more detail than the step needs, the day only when
// the axis spans several.
func timeTickFormat(p *message.Printer, start, end time.Time, step time.Duration) string {
	sameDay := start.Year() == end.Year() && start.YearDay() == end.YearDay()
	switch {
	case step >= 24*time.Hour:
		return p.Sprintf("layout.tick.day")
	case step < time.Minute && sameDay:
		return "15:04:05"
	case sameDay:
		return "15:04"
	}
	return p.Sprintf("layout.tick.dayTime")
}

// zoneLabel names the time zone of t with its offset, e.g. "CET, UTC+01:00".
func zoneLabel(t time.Time) string {
	name, _ := t.Zone()
	offset := "UTC" + t.Format("-07:00")
	if name == "" || strings.HasPrefix(name, "+") || strings.HasPrefix(name, "-") || name == "UTC" {
		return offset
	}
	return name + ", " + offset
}

// latencyChart draws the histogram of delivery latencies. It returns nil
// when there is none.
func latencyChart(p *message.Printer, lat []time.Duration) *svgChart {
	if len(lat) == 0 {
		return nil
	}
	slices.Sort(lat)
	longest := lat[len(lat)-1]
	const maxBins = 24
	step := timeSteps[len(timeSteps)-1]
	for _, s := range timeSteps {
		if longest/s+1 <= maxBins {
			step = s
			break
		}
	}
	bins := make([]int, int(longest/step)+1)
	for _, l := range lat {
		bins[l/step]++
	}
	c := newChart("latency", p.Sprintf("latency.title"))
	c.XLabel = p.Sprintf("axis.latency")
	c.YLabel = p.Sprintf("axis.recipients")
	y := c.yScale(slices.Max(bins))
	width := (c.Right - c.Left) / float64(len(bins))
	for i, n := range bins {
		from, to := time.Duration(i)*step, time.Duration(i+1)*step
		bar := svgBar{
			X: round1(c.Left + float64(i)*width + 1), W: round1(math.Max(width-2, 1)),
			Y: round1(y(float64(n))), H: round1(c.Bottom - y(float64(n))),
			Title: p.Sprintf("latency.bar", n, shortDuration(from), shortDuration(to)),
		}
		c.Bars = append(c.Bars, bar)
	}
	// At most chartMaxTicks labelled edges, on whole bins.
	every := (len(bins) + chartMaxTicks) / chartMaxTicks
	for i := 0; i <= len(bins); i += every {
		c.XTicks = append(c.XTicks, svgTick{Pos: round1(c.Left + float64(i)*width), Label: shortDuration(time.Duration(i) * step)})
	}
	c.anchorTicks()
	c.Desc = p.Sprintf("latency.desc", len(lat), shortDuration(step), latencySummary(p, lat))
	return c
}

// latencySummary states the median, the 90th percentile and the longest of
// sorted latencies.
func latencySummary(p *message.Printer, sorted []time.Duration) string {
	return p.Sprintf("latency.summary",
		shortDuration(percentile(sorted, 50)), shortDuration(percentile(sorted, 90)), shortDuration(sorted[len(sorted)-1]))
}

// percentile returns the p-th percentile of sorted by the nearest-rank
// method: a latency some recipient actually had.
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100
	return sorted[max(rank, 1)-1]
}

// shortDuration writes d the way a person would say it: "0", "45s",
// "2m30s", "1h05m", "2d3h". Below the unit shown nothing is written.
func shortDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Minute:
		return fmt.Sprintf("%ds", d/time.Second)
	case d < time.Hour:
		if s := d % time.Minute / time.Second; s != 0 {
			return fmt.Sprintf("%dm%02ds", d/time.Minute, s)
		}
		return fmt.Sprintf("%dm", d/time.Minute)
	case d < 24*time.Hour:
		if m := d % time.Hour / time.Minute; m != 0 {
			return fmt.Sprintf("%dh%02dm", d/time.Hour, m)
		}
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	if h := d % (24 * time.Hour) / time.Hour; h != 0 {
		return fmt.Sprintf("%dd%dh", d/(24*time.Hour), h)
	}
	return fmt.Sprintf("%dd", d/(24*time.Hour))
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
