package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/campaign/runner"
	"github.com/pecbatch/pecbatch/internal/testutil"
)

// fakeNow is a clock a test moves by hand.
type fakeNow struct{ t time.Time }

func (f *fakeNow) now() time.Time { return f.t }

// fakeTicker is a progress ticker a test fires by hand.
type fakeTicker struct{ c chan time.Time }

func (f *fakeTicker) ticker(time.Duration) (<-chan time.Time, func()) { return f.c, func() {} }

// TestTextPrinter: without a terminal, a progress line of every phase
// every 30 seconds, whether steps came or not (tracking may wait minutes
// for a receipt).
func TestTextPrinter(t *testing.T) {
	t.Parallel()
	clk := &fakeNow{t: time.Date(2025, 3, 2, 10, 0, 0, 0, time.UTC)}
	tick := &fakeTicker{c: make(chan time.Time)}
	out := &testutil.LockedBuffer{}
	g := testGlobals(nil, out, out)
	g.now, g.ticker = clk.now, tick.ticker
	p := g.printer()
	// fire sends a tick and waits for the line it writes.
	fire := func(want string) {
		t.Helper()
		clk.t = clk.t.Add(progressInterval)
		tick.c <- clk.t
		testutil.WaitFor(t, time.Minute, "the line "+want, func() bool { return strings.Contains(out.String(), want) })
	}
	rate, err := campaign.ParseRate("1/s")
	if err != nil {
		t.Fatal(err)
	}
	p.Plan(runner.Plan{Campaign: "prova", Endpoint: "sandbox:builtin", Journal: "j.db", Rows: 5, ToSend: 2, Pending: 5,
		Rate: rate, ETA: time.Second})
	p.Start(runner.PhaseSending, 2, 3)
	p.Step(runner.PhaseSending, 1, 2, "")
	p.Step(runner.PhaseSending, 2, 2, "all sent")
	fire("sending: 2/2")
	p.End(runner.PhaseSending)
	p.Start(runner.PhaseTracking, 2, 3)
	fire("tracking: 0/2")
	fire("tracking: 0/2 (+3 done before)\ntracking: 0/2")
	p.End(runner.PhaseTracking)
	p.Note(runner.Note{Kind: runner.NoteCounts, Text: "Rows: 5 delivered"})
	want := `Sending campaign "prova" to sandbox:builtin (journal j.db)
  5 row(s): 2 to send now, 0 already done, 0 unknown
  3 more pending row(s) left for a later run (--limit)
  at 1/s: about 1s
sending: 2/2 (+3 done before), 0.07 rows/s; all sent
tracking: 0/2 (+3 done before)
tracking: 0/2 (+3 done before)
Rows: 5 delivered
`
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestJSONPrinter(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	g := testGlobals(nil, &out, &out)
	g.logFormat = "json"
	p := g.printer()
	p.Plan(runner.Plan{Campaign: "prova", Rows: 3, ToSend: 3})
	p.Start(runner.PhaseTracking, 3, 0)
	p.End(runner.PhaseTracking)
	p.Note(runner.Note{Kind: runner.NoteInterrupted, Text: "Interrupted"})
	var msgs []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not JSON: %q: %v", line, err)
		}
		msgs = append(msgs, rec["msg"].(string))
		if rec["msg"] == "Interrupted" && rec["kind"] != string(runner.NoteInterrupted) {
			t.Errorf("note without its kind: %v", rec)
		}
	}
	if got := strings.Join(msgs, ","); got != "plan,phase started,phase finished,Interrupted" {
		t.Errorf("records %s", got)
	}
}
