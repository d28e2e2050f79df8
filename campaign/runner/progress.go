package runner

import "sync"

// progress counts how a phase of a run (sending, tracking) advances and
// tells the Printer; how it looks (a bar, a line every 30 seconds, JSON) is
// the Printer's business.
type progress struct {
	pr    Printer
	phase string
	total int

	mu       sync.Mutex
	done     int
	detail   string
	finished bool
}

// newProgress starts a phase of total steps; before counts what an earlier
// run did.
func newProgress(e *runEnv, phase string, total, before int) *progress {
	p := &progress{pr: e.pr, phase: phase, total: total}
	if total <= 0 {
		p.finished = true
		return p
	}
	p.pr.Start(phase, total, before)
	return p
}

// add counts n more steps done.
func (p *progress) add(n int) {
	p.mu.Lock()
	p.done += n
	done, detail, finished := p.done, p.detail, p.finished
	p.mu.Unlock()
	if !finished {
		p.pr.Step(p.phase, done, p.total, detail)
	}
}

// describe sets the detail shown after the counts.
func (p *progress) describe(detail string) {
	p.mu.Lock()
	p.detail = detail
	done, finished := p.done, p.finished
	p.mu.Unlock()
	if !finished {
		p.pr.Step(p.phase, done, p.total, detail)
	}
}

// finish ends the phase.
func (p *progress) finish() {
	p.mu.Lock()
	was := p.finished
	p.finished = true
	p.mu.Unlock()
	if !was {
		p.pr.End(p.phase)
	}
}
