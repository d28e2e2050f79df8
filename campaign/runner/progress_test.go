package runner

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/internal/testutil"
)

// phaseRecorder is a recorder that also keeps what the phases were told:
// their start and every step's count and detail.
type phaseRecorder struct {
	*recorder
	mu      sync.Mutex
	starts  []string
	steps   []string
	details []string
}

func (p *phaseRecorder) Start(phase string, total, before int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.starts = append(p.starts, fmt.Sprintf("%s total %d before %d", phase, total, before))
}

func (p *phaseRecorder) Step(phase string, done, total int, detail string) {
	p.recorder.Step(phase, done, total, detail)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.steps = append(p.steps, fmt.Sprintf("%s %d/%d", phase, done, total))
	p.details = append(p.details, detail)
}

// TestTrackingProgressCountsFinalRows: a poll of a campaign with one row
// delivered by an earlier run and one still open starts its tracking phase
// with the open row as its total and the final one as done before, reaches
// its total when the open row is final, and its detail counts the rows final
// in the journal, not only those made final by this process.
func TestTrackingProgressCountsFinalRows(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fastSandbox(), "A1,a@pec.example.it,Anna", "A2,b@pec.example.it,Bruno")
	// A1 sent and tracked to the end; A2 sent without waiting.
	if _, out, err := f.run(t.Context(), testRun{Limit: 1}); err != nil {
		t.Fatalf("first run: %v\n%s", err, out)
	}
	if _, out, err := f.run(t.Context(), testRun{NoWait: true}); err != nil {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	sw := &testutil.LockedBuffer{}
	pr := &phaseRecorder{recorder: newRecorder(sw)}
	d := testRun{LedgerPath: f.ledgerPath()}.deps(sw, pr.recorder, time.Second)
	d.Printer = pr
	if _, err := Poll(t.Context(), f.campaign(), d, PollOptions{}); err != nil {
		t.Fatalf("poll: %v\n%s", err, sw.String())
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if want := []string{"tracking total 1 before 1"}; strings.Join(pr.starts, ";") != strings.Join(want, ";") {
		t.Errorf("phases started: %q, want %q", pr.starts, want)
	}
	if len(pr.steps) == 0 || pr.steps[len(pr.steps)-1] != "tracking 1/1" {
		t.Errorf("steps %q: the last must be tracking 1/1", pr.steps)
	}
	if n := len(pr.details); n == 0 || !strings.Contains(pr.details[n-1], "2 final, 0 open") {
		t.Errorf("details %q: the last must say 2 final, 0 open", pr.details)
	}
}
