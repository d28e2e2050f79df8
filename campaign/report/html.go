package report

import (
	"bufio"
	"context"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/message"
)

// reportState describes one row state for the reader of the HTML report:
// its code, its name and meaning in the report's language and, in an
// English report, the Italian name an office uses for it.
type reportState struct {
	State   string
	Name    string
	Italian string
	Class   string // colour: ok, warn, bad, attn or wait
	Meaning string
}

// reportStates lists the row states in the order the totals show them:
// outcomes first, then what needs attention, then what is under way.
func reportStates(p *message.Printer, lang Lang) []reportState {
	classes := []struct{ state, class string }{
		{"delivered", "ok"}, {"accepted_not_certifiable", "warn"}, {"failed", "bad"}, {"expired", "bad"},
		{"rejected", "bad"}, {"unknown", "attn"}, {"accepted", "wait"}, {"submitted", "wait"},
		{"sending", "attn"}, {"pending", "wait"},
	}
	it := printer(Italian)
	out := make([]reportState, len(classes))
	for i, c := range classes {
		out[i] = reportState{State: c.state, Name: stateName(p, c.state), Class: c.class, Meaning: p.Sprintf("meaning." + c.state)}
		if lang.orDefault() != Italian {
			out[i].Italian = stateName(it, c.state)
		}
	}
	return out
}

// stateClass returns the colour class of a row or recipient state.
func stateClass(states []reportState, s string) string {
	for _, st := range states {
		if st.State == s {
			return st.Class
		}
	}
	return "wait"
}

// receiptClass colours a receipt kind like the state it leads to.
func receiptClass(kind string) string {
	switch kind {
	case "delivery":
		return "ok"
	case "non-delivery", "non-acceptance", "virus", "timeout-expired", "anomaly":
		return "bad"
	case "timeout-warning":
		return "attn"
	}
	return "wait"
}

// htmlReport is the model of the HTML report's template.
type htmlReport struct {
	Lang          Lang
	Campaign      string
	Generated     htmlTime
	Zone          string
	Rows          int // campaign rows, from the counts
	RowsText      string
	Recipients    int // report lines
	Undelivered   []htmlUndelivered
	WaitingText   string // recipients still waiting for an outcome; "" if none
	Totals        []htmlTotal
	Stack         []htmlStackPart
	Timeline      *svgChart
	Latency       *svgChart
	LatencyText   string
	Groups        []htmlGroup
	Shown         int // table lines shown
	Capped        bool
	ShownText     string
	RecipientText string
}

// htmlUndelivered is one line of the "to contact again" table.
type htmlUndelivered struct {
	Row       int
	Key       string
	Recipient string
	State     string
	StateName string
	Class     string
	Reason    string
	Next      string
	Error     string
	When      htmlTime
}

// htmlTotal is one line of the totals table.
type htmlTotal struct {
	reportState
	Count int
	Share string
}

// htmlStackPart is one segment of the stacked bar above the totals, in
// units of a 1000-wide viewBox.
type htmlStackPart struct {
	X, W  float64
	Class string
	Title string
}

// htmlGroup is one campaign row of the table, with its recipients' lines.
type htmlGroup struct {
	rowID     int64
	Row       int
	Key       string
	Subject   string
	MessageID string
	Lines     []htmlLine
	Receipts  []htmlReceipt
	Summary   string // "3 receipts"
	// Note is the row's note (rowNote) or empty; NoteTitle explains a
	// change after send.
	Note      string
	NoteTitle string
}

// htmlLine is one recipient of a row in the table.
type htmlLine struct {
	Recipient    string
	State        string
	StateName    string
	Class        string
	Error        string
	Submitted    htmlTime
	Accepted     htmlTime
	Outcome      htmlTime
	OutcomeClass string
}

// htmlReceipt is one archived receipt in the table.
type htmlReceipt struct {
	Kind      string
	Class     string
	Recipient string
	Date      htmlTime
	Subject   string
	Body      string
}

// htmlTime is a time as the page shows it: machine-readable in the
// datetime attribute, readable in the text. Both are empty when unset.
type htmlTime struct {
	ISO  string
	Text string
}

// timeFormat formats times for the page: in loc, in the language's form
// (30/11/2026 18:05:00 in Italian).
type timeFormat struct {
	loc    *time.Location
	layout string
}

func (f timeFormat) of(t time.Time) htmlTime {
	if t.IsZero() {
		return htmlTime{}
	}
	t = t.In(f.loc)
	return htmlTime{ISO: t.Format(time.RFC3339), Text: t.Format(f.layout)}
}

func writeReportHTML(ctx context.Context, d *Data, w io.Writer, opts Options) error {
	loc := opts.location()
	now := opts.now().In(loc)
	lang := opts.Lang.orDefault()
	p := printer(lang)
	tf := timeFormat{loc: loc, layout: p.Sprintf("layout.datetime")}
	page := htmlReport{
		Lang:      lang,
		Campaign:  d.Campaign,
		Generated: timeFormat{loc: loc, layout: p.Sprintf("layout.minute")}.of(now),
		Zone:      zoneLabel(now),
	}
	states := reportStates(p, lang)
	page.Totals, page.Stack, page.Rows = reportTotals(states, d.Counts, p)
	page.RowsText = plural(p, page.Rows, "rows")

	limit := opts.maxHTMLRows()
	inWait := 0
	var sent, delivered []int64
	outcomes := map[string][]int64{}
	var latencies []time.Duration
	for r, err := range d.Rows {
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
		page.Recipients++
		if page.Recipients%reportCSVBatch == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("report: %w", err)
			}
		}
		if !r.SubmittedAt.IsZero() {
			sent = append(sent, r.SubmittedAt.UnixNano())
		}
		if !r.DeliveredAt.IsZero() {
			delivered = append(delivered, r.DeliveredAt.UnixNano())
			if !r.SubmittedAt.IsZero() {
				latencies = append(latencies, max(r.DeliveredAt.Sub(r.SubmittedAt), 0))
			}
		}
		if !r.FailedAt.IsZero() {
			// Each by the recipient's own state, as the totals count
			// them: an expired recipient is not a failed one.
			outcomes[r.State] = append(outcomes[r.State], r.FailedAt.UnixNano())
		}
		switch {
		case Undelivered(r.State):
			reason, next := diagnosis(r.State, r.Error)
			when := r.FailedAt
			if when.IsZero() {
				when = r.AcceptedAt
			}
			page.Undelivered = append(page.Undelivered, htmlUndelivered{
				Row: r.Row, Key: r.Key, Recipient: r.Recipient, State: r.State, StateName: stateName(p, r.State),
				Class: stateClass(states, r.State), Reason: p.Sprintf(reason), Next: p.Sprintf(next), Error: r.Error,
				When: tf.of(when),
			})
		case waiting(r.State):
			inWait++
		}

		// The table stops at a row boundary once the cap is reached, so
		// that no row is shown with only some of its recipients.
		n := len(page.Groups)
		if n == 0 || page.Groups[n-1].rowID != r.RowID || page.Groups[n-1].Row != r.Row {
			if page.Shown >= limit {
				page.Capped = true
				continue
			}
			page.Groups = append(page.Groups, htmlGroup{rowID: r.RowID, Row: r.Row, Key: r.Key, Subject: r.Subject, MessageID: r.MessageID,
				Note: rowNote(p, r), NoteTitle: noteTitle(p, r)})
			n++
		} else if page.Capped {
			continue
		}
		page.Shown++
		line := htmlLine{
			Recipient: r.Recipient, State: r.State, StateName: stateName(p, r.State), Class: stateClass(states, r.State), Error: r.Error,
			Submitted: tf.of(r.SubmittedAt), Accepted: tf.of(r.AcceptedAt),
		}
		switch {
		case !r.DeliveredAt.IsZero():
			line.Outcome, line.OutcomeClass = tf.of(r.DeliveredAt), "t-ok"
		case !r.FailedAt.IsZero():
			line.Outcome, line.OutcomeClass = tf.of(r.FailedAt), "t-bad"
		}
		page.Groups[n-1].Lines = append(page.Groups[n-1].Lines, line)
	}
	// Receipts are read only once the row stream is done: the journal may
	// serve both from one connection.
	for i := range page.Groups {
		g := &page.Groups[i]
		if d.Receipts != nil {
			rs, err := d.Receipts(ctx, g.rowID)
			if err != nil {
				return fmt.Errorf("report: receipts of row %d: %w", g.Row, err)
			}
			for _, r := range rs {
				date := tf.of(r.Date)
				if date.Text == "" {
					date.Text = r.DateText
				}
				g.Receipts = append(g.Receipts, htmlReceipt{
					Kind: r.Kind, Class: receiptClass(r.Kind), Recipient: r.Recipient,
					Date: date, Subject: r.Subject, Body: r.Body,
				})
			}
		}
		g.Summary = plural(p, len(g.Receipts), "receipts")
	}
	page.RecipientText = plural(p, page.Recipients, "recipients")
	page.ShownText = p.Sprintf("count.of", page.Shown, page.Recipients)
	if inWait > 0 {
		page.WaitingText = plural(p, inWait, "recipients")
	}

	page.Timeline = timelineChart(p, []timeSeries{
		{Name: p.Sprintf("series.sent"), Class: "sent", Times: sent},
		{Name: p.Sprintf("series.delivered"), Class: "delivered", Times: delivered},
		{Name: p.Sprintf("series.failed"), Class: "failed", Times: outcomes["failed"]},
		{Name: p.Sprintf("series.expired"), Class: "expired", Times: outcomes["expired"]},
		{Name: p.Sprintf("series.rejected"), Class: "rejected", Times: outcomes["rejected"]},
	}, loc)
	page.Latency = latencyChart(p, latencies)
	if len(latencies) > 0 {
		page.LatencyText = latencySummary(p, latencies)
	}

	bw := bufio.NewWriter(w)
	if err := reportTemplate(p).Execute(bw, page); err != nil {
		return fmt.Errorf("report: write html: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("report: write html: %w", err)
	}
	return nil
}

// reportTotals returns the totals table, the stacked bar and the number of
// rows. Every known state is listed, even at zero, so that reports compare
// at a glance; a state the journal knows and this list does not comes last.
func reportTotals(states []reportState, counts map[string]int, p *message.Printer) ([]htmlTotal, []htmlStackPart, int) {
	all := 0
	for _, n := range counts {
		all += n
	}
	var extra []string
	for s := range counts {
		if !slices.ContainsFunc(states, func(st reportState) bool { return st.State == s }) {
			extra = append(extra, s)
		}
	}
	slices.Sort(extra)
	for _, s := range extra {
		states = append(states, reportState{State: s, Name: s, Class: "wait"})
	}
	var totals []htmlTotal
	var stack []htmlStackPart
	x := 0.0
	for _, st := range states {
		n := counts[st.State]
		t := htmlTotal{reportState: st, Count: n, Share: "–"}
		if all > 0 {
			t.Share = p.Sprintf("share", 100*float64(n)/float64(all))
			if n > 0 {
				w := 1000 * float64(n) / float64(all)
				stack = append(stack, htmlStackPart{X: round1(x), W: round1(w), Class: st.Class,
					Title: fmt.Sprintf("%s: %d (%s)", st.Name, n, t.Share)})
				x += w
			}
		}
		totals = append(totals, t)
	}
	return totals, stack, all
}

// plural writes n with its noun, the catalogue's count.<noun>.one or
// .many: Italian and English both use the singular for 1 alone.
func plural(p *message.Printer, n int, noun string) string {
	if n == 1 {
		return p.Sprintf("count."+noun+".one", n)
	}
	return p.Sprintf("count."+noun+".many", n)
}

// reportTemplate parses the page, its texts taken from p's catalogue
// through the t function. It is parsed on each use, which costs far less
// than reading the rows and keeps no package state.
func reportTemplate(p *message.Printer) *template.Template {
	return template.Must(template.New("report").Funcs(template.FuncMap{
		"t":    func(key string, args ...any) string { return p.Sprintf(key, args...) },
		"code": codeSpans,
	}).Parse(reportHTML))
}

// codeSpans writes text with its `backquoted` parts (commands to type) as
// <code>, every part escaped.
func codeSpans(text string) template.HTML {
	var b strings.Builder
	for i, part := range strings.Split(text, "`") {
		if i%2 == 1 {
			b.WriteString("<code>" + template.HTMLEscapeString(part) + "</code>")
			continue
		}
		b.WriteString(template.HTMLEscapeString(part))
	}
	return template.HTML(b.String())
}

// noteTitle is the tooltip of a row's note: why a row changed after send
// matters; the other notes say it all.
func noteTitle(p *message.Printer, r Row) string {
	if r.ChangedAfterSend {
		return p.Sprintf("note.changed.title")
	}
	return ""
}
