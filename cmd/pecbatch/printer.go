package main

import (
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
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
// else plain lines with a progress line every 30 seconds; with --quiet only
// the notes keptWhenQuiet.
func (g *globalOptions) printer() runner.Printer {
	var p runner.Printer
	if g.logFormat == "json" {
		// Its own logger: the diagnostics' level (--quiet: warnings) must
		// not drop the summary the quiet printer keeps.
		p = &jsonPrinter{log: slog.New(slog.NewJSONHandler(g.stderr, nil)), phases: newPhases(g.now, g.ticker)}
	} else {
		p = &textPrinter{w: g.stderr, bar: g.stderrTerminal(), phases: newPhases(g.now, g.ticker)}
	}
	if g.quiet {
		return quietPrinter{p}
	}
	return p
}

// keptWhenQuiet says which notes --quiet keeps: the problems that stopped a
// run, a warning that needs acting on before the receipts come, and the
// final summary line of a run, a poll or a test send.
func keptWhenQuiet(k runner.NoteKind) bool {
	switch k {
	case runner.NotePreflight, runner.NoteQuota, runner.NoteCounts, runner.NoteTestSent:
		return true
	}
	return false
}

// quietPrinter is a Printer for --quiet: no plan, no progress, and of the
// notes only those keptWhenQuiet.
type quietPrinter struct{ runner.Printer }

func (quietPrinter) Plan(runner.Plan)              {}
func (quietPrinter) Start(string, int, int)        {}
func (quietPrinter) Step(string, int, int, string) {}
func (quietPrinter) End(string)                    {}

func (q quietPrinter) Note(n runner.Note) {
	if keptWhenQuiet(n.Kind) {
		q.Printer.Note(n)
	}
}

// phase is how one phase of a run advances.
type phase struct {
	total, before int
	start         time.Time
	done          int
	detail        string
	bar           *progressbar.ProgressBar
}

// phases keeps the phases a printer was told about; its lock also
// serialises the printer's writes, which come from several goroutines.
type phases struct {
	mu     sync.Mutex
	now    func() time.Time
	ticker func(time.Duration) (<-chan time.Time, func())
	m      map[string]*phase
	// stopTicking stops the goroutine that writes the progress lines; nil
	// when it is not running.
	stopTicking func()
}

// newPhases returns phases on the clock now; ticker (nil: a time.Ticker)
// times the progress lines.
func newPhases(now func() time.Time, ticker func(time.Duration) (<-chan time.Time, func())) phases {
	if ticker == nil {
		ticker = realTicker
	}
	return phases{now: now, ticker: ticker, m: map[string]*phase{}}
}

// realTicker ticks every d until stopped.
func realTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// step records a step of a phase. Called with mu held.
func (ps *phases) step(name string, done int, detail string) {
	if p := ps.m[name]; p != nil {
		p.done, p.detail = done, detail
		p.total = max(p.total, done)
	}
}

// startTicking makes write run every progressInterval until the last phase
// ends: a line every 30 seconds even when no step comes (tracking waits
// minutes for receipts). Called with mu held; write takes mu itself.
func (ps *phases) startTicking(write func()) {
	if ps.stopTicking != nil {
		return
	}
	ticks, stop := ps.ticker(progressInterval)
	done := make(chan struct{})
	ps.stopTicking = func() {
		stop()
		close(done)
	}
	go func() {
		for {
			select {
			case <-ticks:
				write()
			case <-done:
				return
			}
		}
	}()
}

// end forgets a phase and returns it; the progress lines stop with the
// last phase. Called with mu held.
func (ps *phases) end(name string) *phase {
	p := ps.m[name]
	delete(ps.m, name)
	if len(ps.m) == 0 && ps.stopTicking != nil {
		ps.stopTicking()
		ps.stopTicking = nil
	}
	return p
}

// names returns the phases' names in order, for lines that do not change
// order from one tick to the next. Called with mu held.
func (ps *phases) names() []string {
	return slices.Sorted(maps.Keys(ps.m))
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
	if !t.bar {
		t.startTicking(t.writeLines)
	}
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
		if done > p.total {
			// Work joined the phase: the bar grows rather than overflows.
			p.total = done
			p.bar.ChangeMax(done)
		}
		_ = p.bar.Set(done)
		p.done, p.detail = done, detail
		return
	}
	t.step(name, done, detail)
}

// writeLines writes a progress line for every phase.
func (t *textPrinter) writeLines() {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for _, name := range t.names() {
		fmt.Fprintln(t.w, progressLine(name, t.m[name], now))
	}
}

func (t *textPrinter) End(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.end(name)
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
	j.m[name] = &phase{total: total, before: before, start: j.now()}
	j.startTicking(j.writeRecords)
	j.mu.Unlock()
	j.log.Info("phase started", "phase", name, "total", total, "before", before)
}

func (j *jsonPrinter) Step(name string, done, total int, detail string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.step(name, done, detail)
}

// writeRecords writes a progress record for every phase.
func (j *jsonPrinter) writeRecords() {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, name := range j.names() {
		p := j.m[name]
		j.log.Info("progress", "phase", name, "done", p.done, "total", p.total, "detail", p.detail)
	}
}

func (j *jsonPrinter) End(name string) {
	j.mu.Lock()
	p := j.end(name)
	j.mu.Unlock()
	if p != nil {
		j.log.Info("phase finished", "phase", name, "done", p.done, "total", p.total)
	}
}

func (j *jsonPrinter) Note(n runner.Note) {
	j.log.Info(n.Text, "kind", string(n.Kind))
}
