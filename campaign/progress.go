package campaign

import (
	"fmt"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progressInterval is how often progress is written when the output is not
// a terminal (a log file, CI): a line, not a redrawn bar.
const progressInterval = 30 * time.Second

// progress shows how a phase of a run (sending, tracking) advances: a live
// bar on a terminal, a plain line every 30 seconds otherwise.
type progress struct {
	e       *runEnv
	label   string
	total   int
	already int
	start   time.Time
	bar     *progressbar.ProgressBar

	mu       sync.Mutex
	done     int
	detail   string
	lastLine time.Time
	finished bool
}

// newProgress starts the display of a phase of total steps; already counts
// what an earlier run did, shown but not counted in the rate.
func newProgress(e *runEnv, label string, total, already int) *progress {
	p := &progress{e: e, label: label, total: total, already: already, start: e.clk.Now()}
	p.lastLine = p.start
	if total <= 0 {
		p.finished = true
		return p
	}
	if e.terminal {
		desc := label
		if already > 0 {
			desc = fmt.Sprintf("%s (%d done before)", label, already)
		}
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(e.out),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("rows"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionSetWidth(30),
		)
	}
	return p
}

// maybeLog writes a progress line when the output is not a terminal and
// the last line is 30 seconds old. It is driven by the run's own events
// (a send, a poll), not by a timer of its own.
func (p *progress) maybeLog() {
	if p.bar != nil {
		return
	}
	now := p.e.clk.Now()
	p.mu.Lock()
	due := !p.finished && now.Sub(p.lastLine) >= progressInterval
	if due {
		p.lastLine = now
	}
	p.mu.Unlock()
	if due {
		p.e.say("%s", p.line())
	}
}

// line describes the progress in one line: done of total, rate, ETA.
func (p *progress) line() string {
	p.mu.Lock()
	done, detail := p.done, p.detail
	p.mu.Unlock()
	elapsed := p.e.clk.Now().Sub(p.start)
	s := fmt.Sprintf("%s: %d/%d", p.label, done, p.total)
	if p.already > 0 {
		s += fmt.Sprintf(" (+%d done before)", p.already)
	}
	if done > 0 && elapsed > 0 {
		rate := float64(done) / elapsed.Seconds()
		s += fmt.Sprintf(", %.2f rows/s", rate)
		if left := p.total - done; left > 0 && rate > 0 {
			s += ", ETA " + FormatDuration(time.Duration(float64(left)/rate*float64(time.Second)))
		}
	}
	if detail != "" {
		s += "; " + detail
	}
	return s
}

// add counts n more steps done.
func (p *progress) add(n int) {
	p.mu.Lock()
	p.done += n
	p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Add(n)
	}
	p.maybeLog()
}

// describe sets the detail shown after the counts.
func (p *progress) describe(detail string) {
	p.mu.Lock()
	changed := p.detail != detail
	p.detail = detail
	p.mu.Unlock()
	if p.bar != nil && changed {
		p.bar.Describe(detail)
	}
	p.maybeLog()
}

// finish ends the display.
func (p *progress) finish() {
	p.mu.Lock()
	was := p.finished
	p.finished = true
	p.mu.Unlock()
	if !was && p.bar != nil {
		_ = p.bar.Exit()
		fmt.Fprintln(p.e.out)
	}
}
