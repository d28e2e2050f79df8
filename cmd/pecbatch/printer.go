package main

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/campaign/runner"
)

// progressInterval is how often progress is written when the output is not
// a terminal (a log file, CI): a line, not a redrawn bar.
const progressInterval = 30 * time.Second

// printer returns how a command shows what the runner does on stderr: JSON
// records with --log-format json, else a live progress bar on a terminal,
// else plain lines with a progress line every 30 seconds.
func (g *globalOptions) printer() runner.Printer {
	if g.logFormat == "json" {
		return &jsonPrinter{log: g.logger(), phases: newPhases(g.now)}
	}
	return &textPrinter{w: g.stderr, bar: g.stderrTerminal(), phases: newPhases(g.now)}
}

// phase is how one phase of a run advances.
type phase struct {
	total, before int
	start, last   time.Time
	done          int
	detail        string
	bar           *progressbar.ProgressBar
}

// phases keeps the phases a printer was told about; its lock also
// serialises the printer's writes, which come from several goroutines.
type phases struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[string]*phase
}

func newPhases(now func() time.Time) phases {
	return phases{now: now, m: map[string]*phase{}}
}

// due records a step and reports whether a progress line is due: the last
// is progressInterval old. Called with mu held.
func (ps *phases) due(name string, done int, detail string) (*phase, bool) {
	p := ps.m[name]
	if p == nil {
		return nil, false
	}
	p.done, p.detail = done, detail
	now := ps.now()
	if now.Sub(p.last) < progressInterval {
		return p, false
	}
	p.last = now
	return p, true
}

// progressLine describes the progress of a phase in one line: done of
// total, rate, ETA.
func progressLine(name string, p *phase, now time.Time) string {
	elapsed := now.Sub(p.start)
	s := fmt.Sprintf("%s: %d/%d", name, p.done, p.total)
	if p.before > 0 {
		s += fmt.Sprintf(" (+%d done before)", p.before)
	}
	if p.done > 0 && elapsed > 0 {
		rate := float64(p.done) / elapsed.Seconds()
		s += fmt.Sprintf(", %.2f rows/s", rate)
		if left := p.total - p.done; left > 0 && rate > 0 {
			s += ", ETA " + campaign.FormatDuration(time.Duration(float64(left)/rate*float64(time.Second)))
		}
	}
	if p.detail != "" {
		s += "; " + p.detail
	}
	return s
}

// planLines describes a run's plan for people.
func planLines(p runner.Plan) []string {
	verb := "Sending"
	if p.Resume {
		verb = "Resuming"
	}
	lines := []string{
		fmt.Sprintf("%s campaign %q to %s (journal %s)", verb, p.Campaign, p.Endpoint, p.Journal),
		fmt.Sprintf("  %d row(s): %d to send now, %d already done, %d unknown", p.Rows, p.ToSend, p.Done, p.Unknown),
	}
	if p.Pending > p.ToSend {
		lines = append(lines, fmt.Sprintf("  %d more pending row(s) left for a later run (--limit)", p.Pending-p.ToSend))
	}
	if p.Resend > 0 {
		lines = append(lines, fmt.Sprintf("  %d unknown row(s) put back to send again (--resend-unknown)", p.Resend))
	}
	if p.ToSend > 0 {
		lines = append(lines, fmt.Sprintf("  at %s: about %s", p.Rate, campaign.FormatDuration(p.ETA)))
		if p.Days > 1 || (p.Window != "always" && p.Window != "") {
			lines = append(lines, fmt.Sprintf("  over %d day(s): at most %d sends a day (sending.daily_limit; %d sent today)%s",
				p.Days, p.DailyLimit, p.SentToday, windowText(p.Window)))
		}
	}
	return lines
}

// windowText says when a sending window is open, "" when always.
func windowText(w string) string {
	if w == "always" || w == "" {
		return ""
	}
	return ", only " + w + " (sending.window, Europe/Rome time)"
}

// textPrinter writes for people: a live bar per phase on a terminal, a
// progress line every 30 seconds elsewhere.
type textPrinter struct {
	w   io.Writer
	bar bool
	phases
}

func (t *textPrinter) Plan(p runner.Plan) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, l := range planLines(p) {
		fmt.Fprintln(t.w, l)
	}
}

func (t *textPrinter) Start(name string, total, before int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := &phase{total: total, before: before, start: t.now()}
	p.last = p.start
	if t.bar {
		desc := name
		if before > 0 {
			desc = fmt.Sprintf("%s (%d done before)", name, before)
		}
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(t.w),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("rows"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionSetWidth(30),
		)
	}
	t.m[name] = p
}

func (t *textPrinter) Step(name string, done, total int, detail string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.m[name]; p != nil && p.bar != nil {
		if p.detail != detail {
			p.bar.Describe(detail)
		}
		_ = p.bar.Set(done)
		p.done, p.detail = done, detail
		return
	}
	if p, due := t.due(name, done, detail); due {
		fmt.Fprintln(t.w, progressLine(name, p, t.now()))
	}
}

func (t *textPrinter) End(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.m[name]
	delete(t.m, name)
	if p != nil && p.bar != nil {
		_ = p.bar.Exit()
		fmt.Fprintln(t.w)
	}
}

func (t *textPrinter) Note(n runner.Note) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintln(t.w, n.Text)
}

// jsonPrinter writes what the runner does as log records (--log-format
// json), so that a machine reading stderr gets the plan, the progress and
// the summaries as JSON too.
type jsonPrinter struct {
	log *slog.Logger
	phases
}

func (j *jsonPrinter) Plan(p runner.Plan) {
	j.log.Info("plan", "campaign", p.Campaign, "journal", p.Journal, "endpoint", p.Endpoint, "resume", p.Resume,
		"rows", p.Rows, "to_send", p.ToSend, "pending", p.Pending, "done", p.Done, "unknown", p.Unknown,
		"resend", p.Resend, "rate", p.Rate.String(), "eta", p.ETA, "days", p.Days, "daily_limit", p.DailyLimit,
		"sent_today", p.SentToday, "window", p.Window)
}

func (j *jsonPrinter) Start(name string, total, before int) {
	j.mu.Lock()
	now := j.now()
	j.m[name] = &phase{total: total, before: before, start: now, last: now}
	j.mu.Unlock()
	j.log.Info("phase started", "phase", name, "total", total, "before", before)
}

func (j *jsonPrinter) Step(name string, done, total int, detail string) {
	j.mu.Lock()
	_, due := j.due(name, done, detail)
	j.mu.Unlock()
	if due {
		j.log.Info("progress", "phase", name, "done", done, "total", total, "detail", detail)
	}
}

func (j *jsonPrinter) End(name string) {
	j.mu.Lock()
	p := j.m[name]
	delete(j.m, name)
	j.mu.Unlock()
	if p != nil {
		j.log.Info("phase finished", "phase", name, "done", p.done, "total", p.total)
	}
}

func (j *jsonPrinter) Note(n runner.Note) {
	j.log.Info(n.Text, "kind", string(n.Kind))
}
