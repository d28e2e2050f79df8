package report

import (
	"bufio"
	"context"
	"fmt"
	"html/template"
	"io"
	"slices"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// reportState describes one row state for the reader of the HTML report:
// the page is in English, and each state also gets the Italian words an
// office uses for it.
type reportState struct {
	State   string
	Italian string
	Class   string // colour: ok, warn, bad, attn or wait
	Meaning string
}

// reportStates lists the row states in the order the totals show them:
// outcomes first, then what needs attention, then what is under way.
func reportStates() []reportState {
	return []reportState{
		{"delivered", "consegnata", "ok", "a delivery receipt (ricevuta di avvenuta consegna) for every recipient: the legal proof of delivery"},
		{"accepted_not_certifiable", "accettata, consegna non certificabile", "warn", "accepted, but a recipient is not a PEC mailbox (posta ordinaria): delivery cannot be certified"},
		{"failed", "non consegnata", "bad", "not accepted or not delivered (avviso di non accettazione, di mancata consegna, virus): see the error"},
		{"expired", "scaduta", "bad", "no delivery receipt within the time limit (mancata consegna per superamento tempo massimo)"},
		{"rejected", "rifiutata", "bad", "the PEC Massiva API refused the request: nothing was sent"},
		{"unknown", "esito incerto", "attn", "the send may or may not have happened: pecbatch looks for its acceptance receipt, and resends only with --resend-unknown"},
		{"accepted", "accettata", "wait", "acceptance receipt (ricevuta di accettazione) received: waiting for the delivery receipts"},
		{"submitted", "inviata", "wait", "handed to the API: waiting for the acceptance receipt"},
		{"sending", "in invio", "attn", "a send in progress or interrupted: the next run reconciles it"},
		{"pending", "da inviare", "wait", "not sent yet"},
	}
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
	Campaign      string
	Generated     htmlTime
	Zone          string
	Rows          int // campaign rows, from the counts
	Recipients    int // report lines
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
}

// htmlLine is one recipient of a row in the table.
type htmlLine struct {
	Recipient    string
	State        string
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

func newHTMLTime(t time.Time, loc *time.Location) htmlTime {
	if t.IsZero() {
		return htmlTime{}
	}
	t = t.In(loc)
	return htmlTime{ISO: t.Format(time.RFC3339), Text: t.Format("2006-01-02 15:04:05")}
}

func writeReportHTML(ctx context.Context, d *Data, w io.Writer, opts Options) error {
	loc := opts.location()
	now := opts.now().In(loc)
	p := message.NewPrinter(language.English)
	page := htmlReport{
		Campaign:  d.Campaign,
		Generated: newHTMLTime(now, loc),
		Zone:      zoneLabel(now),
	}
	states := reportStates()
	page.Totals, page.Stack, page.Rows = reportTotals(states, d.Counts, p)

	limit := opts.maxHTMLRows()
	var sent, delivered, failed []int64
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
			failed = append(failed, r.FailedAt.UnixNano())
		}

		// The table stops at a row boundary once the cap is reached, so
		// that no row is shown with only some of its recipients.
		n := len(page.Groups)
		if n == 0 || page.Groups[n-1].rowID != r.RowID || page.Groups[n-1].Row != r.Row {
			if page.Shown >= limit {
				page.Capped = true
				continue
			}
			page.Groups = append(page.Groups, htmlGroup{rowID: r.RowID, Row: r.Row, Key: r.Key, Subject: r.Subject, MessageID: r.MessageID})
			n++
		} else if page.Capped {
			continue
		}
		page.Shown++
		line := htmlLine{
			Recipient: r.Recipient, State: r.State, Class: stateClass(states, r.State), Error: r.Error,
			Submitted: newHTMLTime(r.SubmittedAt, loc), Accepted: newHTMLTime(r.AcceptedAt, loc),
		}
		switch {
		case !r.DeliveredAt.IsZero():
			line.Outcome, line.OutcomeClass = newHTMLTime(r.DeliveredAt, loc), "t-ok"
		case !r.FailedAt.IsZero():
			line.Outcome, line.OutcomeClass = newHTMLTime(r.FailedAt, loc), "t-bad"
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
				date := newHTMLTime(r.Date, loc)
				if date.Text == "" {
					date.Text = r.DateText
				}
				g.Receipts = append(g.Receipts, htmlReceipt{
					Kind: r.Kind, Class: receiptClass(r.Kind), Recipient: r.Recipient,
					Date: date, Subject: r.Subject, Body: r.Body,
				})
			}
		}
		g.Summary = plural(p, len(g.Receipts), "receipt", "receipts")
	}
	page.RecipientText = plural(p, page.Recipients, "recipient", "recipients")
	page.ShownText = p.Sprintf("%d of %d", page.Shown, page.Recipients)

	page.Timeline = timelineChart([]timeSeries{
		{Name: "sent", Class: "sent", Times: sent},
		{Name: "delivered", Class: "delivered", Times: delivered},
		{Name: "failed", Class: "failed", Times: failed},
	}, loc)
	page.Latency = latencyChart(latencies)
	if len(latencies) > 0 {
		page.LatencyText = latencySummary(latencies)
	}

	bw := bufio.NewWriter(w)
	if err := reportTemplate().Execute(bw, page); err != nil {
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
		states = append(states, reportState{State: s, Class: "wait"})
	}
	var totals []htmlTotal
	var stack []htmlStackPart
	x := 0.0
	for _, st := range states {
		n := counts[st.State]
		t := htmlTotal{reportState: st, Count: n, Share: "–"}
		if all > 0 {
			t.Share = p.Sprintf("%.1f%%", 100*float64(n)/float64(all))
			if n > 0 {
				w := 1000 * float64(n) / float64(all)
				stack = append(stack, htmlStackPart{X: round1(x), W: round1(w), Class: st.Class,
					Title: p.Sprintf("%s: %d (%s)", st.State, n, t.Share)})
				x += w
			}
		}
		totals = append(totals, t)
	}
	return totals, stack, all
}

// plural writes n with the singular or plural noun.
func plural(p *message.Printer, n int, one, many string) string {
	noun := many
	if n == 1 {
		noun = one
	}
	return p.Sprintf("%d %s", n, noun)
}

// reportTemplate parses the page. It is parsed on each use, which costs
// far less than reading the rows and keeps no package state.
func reportTemplate() *template.Template {
	return template.Must(template.New("report").Parse(reportHTML))
}
