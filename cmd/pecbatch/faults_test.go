package main

import (
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// faultStep is one `pecbatch run` of a fault case and how it must end.
type faultStep struct {
	// poll runs `pecbatch poll` instead of `run --yes`.
	poll  bool
	flags []string
	exit  int
	// says are substrings its stderr must contain.
	says []string
}

// faultCase is one way the API misbehaves during a run, and what pecbatch
// must do about it (issue 4): stop or go on, with the exit status of the
// table; then the later steps, without the fault, finish the campaign.
type faultCase struct {
	name string
	cfg  func(*relConfig)
	// hook misbehaves during the first step only.
	hook func(f *relFixture, seen *faultLog) relHook
	// between runs after the first step (restart the server, give the new
	// token...).
	between func(f *relFixture)
	steps   []faultStep
	// attempts is, for some rows, how many times the row went to sending in
	// all: 1 for a row whose fate was found out by reconciliation, 2 for
	// one sent again after its reconciliation window.
	attempts map[int]int
	// check runs at the end on what the hook saw.
	check func(t *testing.T, seen *faultLog)
}

// faultLog records when the POST /send requests came and what the hook
// answered, for timing checks.
type faultLog struct {
	mu    sync.Mutex
	times []time.Time
	codes []int
	// gaveUp says the client closed a request the hook was holding: its
	// timeout worked.
	gaveUp bool
}

func (l *faultLog) add(code int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.times = append(l.times, time.Now())
	l.codes = append(l.codes, code)
}

const faultRow = 3 // the row whose first send meets the fault

// stoppingLine is what pecbatch writes once a stop signal has cancelled
// the run: the event the signal cases wait for.
const stoppingLine = "pecbatch: stopping"

// sendFault applies fn to the n-th POST /send (n counts retries too) and
// lets every other request through.
func sendFault(match func(n int) bool, fn func(c *relCall)) func(*relFixture, *faultLog) relHook {
	return func(f *relFixture, seen *faultLog) relHook {
		return func(c *relCall) bool {
			if c.Kind != "send" {
				return false
			}
			if !match(c.N) {
				seen.add(0)
				return false
			}
			fn(c)
			return true
		}
	}
}

func onSend(n int) func(int) bool { return func(m int) bool { return m == n } }

// giveUpBound is how long a hook holds a slow answer at most: the client
// must give up after its api.timeout of 1 s; the bound only ends a test
// whose client would wait for ever, and is far beyond any loaded machine.
const giveUpBound = 30 * time.Second

// waitGone waits until the client has given up on the request (or d).
func waitGone(r *http.Request, d time.Duration, seen *faultLog) {
	// The server notices a closed connection only once the body is read.
	_, _ = io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
		seen.mu.Lock()
		seen.gaveUp = true
		seen.mu.Unlock()
	case <-time.After(d):
	}
}

// checkGaveUp checks that the client stopped waiting for a slow answer.
func checkGaveUp(t *testing.T, seen *faultLog) {
	t.Helper()
	seen.mu.Lock()
	defer seen.mu.Unlock()
	if !seen.gaveUp {
		t.Errorf("the client waited %v for an answer despite api.timeout: 1s", giveUpBound)
	}
}

var (
	stepDone        = faultStep{exit: exitOK}
	stepUnknownLeft = faultStep{exit: exitRowsUnknown, says: []string{"--resend-unknown"}}
	stepResend      = faultStep{flags: []string{"--resend-unknown"}, exit: exitOK}
)

func faultCases() []faultCase {
	resent := map[int]int{faultRow: 2}
	reconciled := map[int]int{faultRow: 1}
	return []faultCase{
		{
			// The service acted on the send, but answered after the client
			// stopped waiting (api.timeout): the row is unknown, and found
			// in the mailbox by reconciliation.
			name: "slow answer past the client timeout, message sent",
			cfg:  func(c *relConfig) { c.timeout = "1s" },
			hook: func(f *relFixture, seen *faultLog) relHook {
				return sendFault(onSend(faultRow), func(c *relCall) {
					rec, _ := c.forward()
					waitGone(c.R, giveUpBound, seen)
					c.write(rec)
				})(f, seen)
			},
			steps:    []faultStep{stepDone},
			attempts: reconciled,
			check:    checkGaveUp,
		},
		{
			// The service took too long and never acted: unknown, not found
			// in the mailbox, sent again only with --resend-unknown.
			name: "slow answer past the client timeout, message not sent",
			cfg:  func(c *relConfig) { c.timeout = "1s" },
			hook: func(f *relFixture, seen *faultLog) relHook {
				return sendFault(onSend(faultRow), func(c *relCall) {
					waitGone(c.R, giveUpBound, seen)
					c.answer(http.StatusGatewayTimeout, `{"success":false,"message":"timeout"}`)
				})(f, seen)
			},
			steps:    []faultStep{stepUnknownLeft, stepResend},
			attempts: resent,
			check:    checkGaveUp,
		},
		{
			name: "connection dropped after sending",
			hook: sendFault(onSend(faultRow), func(c *relCall) {
				c.forward()
				c.drop()
			}),
			steps:    []faultStep{stepDone},
			attempts: reconciled,
		},
		{
			name:     "connection dropped before sending",
			hook:     sendFault(onSend(faultRow), func(c *relCall) { c.drop() }),
			steps:    []faultStep{stepUnknownLeft, stepResend},
			attempts: resent,
		},
		{
			name: "500 without sending",
			hook: sendFault(onSend(faultRow), func(c *relCall) {
				c.answer(http.StatusInternalServerError, `{"success":false,"message":"MySQL Error 2006"}`)
			}),
			steps:    []faultStep{stepUnknownLeft, stepResend},
			attempts: resent,
		},
		{
			name: "500 after sending",
			hook: sendFault(onSend(faultRow), func(c *relCall) {
				c.forward()
				c.answer(http.StatusInternalServerError, `{"success":false,"message":"MySQL Error 2006"}`)
			}),
			steps:    []faultStep{stepDone},
			attempts: reconciled,
		},
		{
			// An HTML page is not the API's answer: the run stops at once
			// (an endpoint failure, not the row's), the row unknown since
			// a proxy may have forwarded it; the next run sends the rest.
			name: "502 HTML page from a proxy, not sent",
			hook: sendFault(onSend(faultRow), func(c *relCall) {
				c.answer(http.StatusBadGateway, "<html><body><h1>502 Bad Gateway</h1></body></html>", "Content-Type", "text/html")
			}),
			steps: []faultStep{
				{exit: exitError, says: []string{"502", "api.base_url", "run the same command again"}},
				stepUnknownLeft, stepResend,
			},
			attempts: resent,
		},
		{
			name: "429 with Retry-After",
			hook: func(f *relFixture, seen *faultLog) relHook {
				return sendFault(func(n int) bool { return n >= 2 && n <= 4 }, func(c *relCall) {
					seen.add(http.StatusTooManyRequests)
					c.answer(http.StatusTooManyRequests, `{"success":false,"message":"Too many requests"}`, "Retry-After", "1")
				})(f, seen)
			},
			steps:    []faultStep{stepDone},
			attempts: map[int]int{2: 1, 3: 1},
			check:    checkWaitedAfter429,
		},
		{
			name: "429 without Retry-After",
			hook: func(f *relFixture, seen *faultLog) relHook {
				return sendFault(func(n int) bool { return n >= 2 && n <= 3 }, func(c *relCall) {
					seen.add(http.StatusTooManyRequests)
					c.answer(http.StatusTooManyRequests, `{"success":false,"message":"Too many requests"}`)
				})(f, seen)
			},
			steps:    []faultStep{stepDone},
			attempts: map[int]int{2: 1, 3: 1},
			check:    checkWaitedAfter429,
		},
		{
			// More 429s than the client retries by itself: the row goes back
			// to pending (nothing was sent) and is sent after a backoff.
			name: "429 on every retry of one row",
			hook: func(f *relFixture, seen *faultLog) relHook {
				return sendFault(func(n int) bool { return n >= 2 && n <= 7 }, func(c *relCall) {
					seen.add(http.StatusTooManyRequests)
					c.answer(http.StatusTooManyRequests, `{"success":false,"message":"Too many requests"}`, "Retry-After", "1")
				})(f, seen)
			},
			steps: []faultStep{stepDone},
			check: checkWaitedAfter429,
		},
		{
			name: "malformed JSON after sending",
			hook: sendFault(onSend(faultRow), func(c *relCall) {
				c.forward()
				c.answer(http.StatusCreated, `{"success": true, "sent": 1, "message_id": }`)
			}),
			steps:    []faultStep{stepDone},
			attempts: reconciled,
		},
		{
			name: "truncated JSON after sending",
			hook: sendFault(onSend(faultRow), func(c *relCall) {
				rec, _ := c.forward()
				body := rec.Body.String()
				c.answer(http.StatusCreated, body[:len(body)/2])
			}),
			steps:    []faultStep{stepDone},
			attempts: reconciled,
		},
		{
			name: "connection closed in the middle of the answer",
			hook: sendFault(onSend(faultRow), func(c *relCall) {
				rec, _ := c.forward()
				body := rec.Body.Bytes()
				c.W.Header().Set("Content-Type", "application/json")
				c.W.Header().Set("Content-Length", strconv.Itoa(len(body)))
				c.W.WriteHeader(http.StatusCreated)
				_, _ = c.W.Write(body[:len(body)/2])
				_ = http.NewResponseController(c.W).Flush()
				panic(http.ErrAbortHandler)
			}),
			steps:    []faultStep{stepDone},
			attempts: reconciled,
		},
		{
			// The server goes away after row 3's answer: nothing can be
			// sent; the run stops after sending.max_consecutive_errors
			// failures, and resumes once the server is back.
			name: "server stops listening in the middle of a run",
			cfg:  func(c *relConfig) { c.maxErrors = 3 },
			hook: func(f *relFixture, seen *faultLog) relHook {
				return sendFault(onSend(faultRow), func(c *relCall) {
					// Row 3's whole answer is on the wire before the
					// server goes: no guess at how long writing it takes.
					rec, _ := c.forward()
					c.W.Header().Set("Content-Length", strconv.Itoa(rec.Body.Len()))
					c.write(rec)
					_ = http.NewResponseController(c.W).Flush()
					f.stopListening()
				})(f, seen)
			},
			between: func(f *relFixture) {
				if err := f.listenAgain(); err != nil {
					f.t.Fatal(err)
				}
			},
			steps: []faultStep{
				{exit: exitError, says: []string{"3 sends failed in a row", "run again to resume"}},
				stepDone,
			},
		},
		{
			// The token is revoked just before row 3's send: the run stops at
			// once (401, row 3 not sent); with the new token it resumes.
			name: "token revoked in the middle of a run (401)",
			hook: func(f *relFixture, seen *faultLog) relHook {
				return func(c *relCall) bool {
					if c.Kind == "send" && c.N == faultRow {
						f.sb.SetToken("token-rotated")
					}
					return false
				}
			},
			between: func(f *relFixture) { f.setToken("token-rotated") },
			steps: []faultStep{
				{exit: exitError, says: []string{"401", "api.token"}},
				stepDone,
			},
		},
		{
			// Every send fails: the run stops after max_consecutive_errors
			// rows, all unknown; the next run sends the rest, the one after
			// the window sends those again.
			name: "every send answered 500",
			cfg:  func(c *relConfig) { c.maxErrors = 3 },
			hook: sendFault(func(int) bool { return true }, func(c *relCall) {
				c.answer(http.StatusInternalServerError, `{"success":false,"message":"MySQL Error 2006"}`)
			}),
			steps: []faultStep{
				{exit: exitError, says: []string{"3 sends failed in a row"}},
				stepUnknownLeft,
				stepResend,
			},
			attempts: map[int]int{1: 2, 2: 2, 3: 2, 4: 1},
		},
		{
			// This computer's clock is 30 s ahead of the provider's (a PC
			// without NTP): the acceptance of a dropped send is dated 30 s
			// "before" the send in the journal, and must still be found:
			// else the row stays unknown and --resend-unknown, which the
			// run recommends, sends it twice.
			name: "clock 30 s ahead of the provider's, connection dropped after sending",
			cfg: func(c *relConfig) {
				c.sandbox.Now = func() time.Time { return time.Now().Add(-30 * time.Second) }
			},
			hook: sendFault(onSend(faultRow), func(c *relCall) {
				c.forward()
				c.drop()
			}),
			// Were it not reconciled, the second run would send it again.
			steps:    []faultStep{stepDone, stepResend},
			attempts: reconciled,
		},
		{
			// The other way round, further than the reconciliation window
			// (3 s here): the acceptance is dated 30 s "after" the send.
			name: "clock 30 s behind the provider's, connection dropped after sending",
			cfg: func(c *relConfig) {
				c.sandbox.Now = func() time.Time { return time.Now().Add(30 * time.Second) }
			},
			hook: sendFault(onSend(faultRow), func(c *relCall) {
				c.forward()
				c.drop()
			}),
			steps:    []faultStep{stepDone, stepResend},
			attempts: reconciled,
		},
		{
			// Ctrl-C while a send is in flight: no new send starts, the
			// request completes and is recorded (row 3 submitted, not
			// unknown), exit 130 with how to resume.
			name: "SIGINT with a send in flight",
			hook: sendFault(onSend(faultRow), func(c *relCall) {
				rec, _ := c.forward()
				c.f.signalRunning(os.Interrupt)
				c.f.waitStderr(stoppingLine) // the run has taken the signal
				c.write(rec)
			}),
			steps: []faultStep{
				{exit: exitInterrupted, says: []string{"command again to resume"}},
				stepDone,
			},
			attempts: map[int]int{faultRow: 1},
			check: func(t *testing.T, seen *faultLog) {
				seen.mu.Lock()
				defer seen.mu.Unlock()
				if len(seen.times) != faultRow-1 {
					t.Errorf("%d sends besides row %d's before the interrupted run stopped, want %d", len(seen.times), faultRow, faultRow-1)
				}
			},
		},
		{
			// SIGQUIT stops like Ctrl-C (exit 130, row 3 recorded), not
			// with Go's goroutine dump and exit 2, which says "nothing was
			// sent".
			name: "SIGQUIT with a send in flight",
			hook: sendFault(onSend(faultRow), func(c *relCall) {
				rec, _ := c.forward()
				c.f.signalRunning(syscall.SIGQUIT)
				c.f.waitStderr(stoppingLine)
				c.write(rec)
			}),
			steps: []faultStep{
				{exit: exitInterrupted, says: []string{"command again to resume"}},
				stepDone,
			},
			attempts: map[int]int{faultRow: 1},
		},
		{
			// A second Ctrl-C exits at once, the request unanswered: the row
			// stays in sending and the next run reconciles it.
			name: "second SIGINT with a send in flight",
			hook: sendFault(onSend(faultRow), func(c *relCall) {
				c.forward()
				c.f.signalRunning(os.Interrupt)
				c.f.waitStderr(stoppingLine)
				c.f.signalRunning(os.Interrupt)
				c.f.waitExited() // the answer never reaches it
				c.drop()
			}),
			steps:    []faultStep{{exit: exitInterrupted}, stepDone},
			attempts: reconciled,
		},
		{
			// The mailbox search of the reconciliation fails once: it is
			// tried again within the window.
			name: "reconciliation's mailbox search answered 500",
			hook: func(f *relFixture, seen *faultLog) relHook {
				send := sendFault(onSend(faultRow), func(c *relCall) { c.forward(); c.drop() })(f, seen)
				return func(c *relCall) bool {
					if c.Kind == "inbox" && c.N == 1 {
						c.answer(http.StatusInternalServerError, `{"success":false,"message":"MySQL Error 2006"}`)
						return true
					}
					return send(c)
				}
			},
			steps:    []faultStep{stepDone},
			attempts: reconciled,
		},
		{
			// Receipt polls that fail (500, malformed JSON, a cut
			// connection) are tried again later; nothing is lost or
			// archived twice.
			name: "receipts polls answered 500, malformed, cut",
			hook: func(f *relFixture, seen *faultLog) relHook {
				return func(c *relCall) bool {
					switch {
					case c.Kind != "poll":
						return false
					case c.N == 1:
						c.answer(http.StatusInternalServerError, `{"success":false,"message":"MySQL Error 2006"}`)
					case c.N == 2:
						c.answer(http.StatusOK, `{"success":true,"data":[{"sender":`)
					case c.N == 3:
						c.forward()
						c.drop()
					default:
						return false
					}
					return true
				}
			},
			steps: []faultStep{stepDone},
		},
		{
			// The token is revoked once every row is sent: tracking stops
			// with exit status 1 (credentials); `pecbatch poll` with the new
			// token finishes it.
			name: "token revoked during tracking (401)",
			hook: func(f *relFixture, seen *faultLog) relHook {
				return func(c *relCall) bool {
					if c.Kind == "poll" && c.N == 1 {
						f.sb.SetToken("token-rotated")
					}
					return false
				}
			},
			between: func(f *relFixture) { f.setToken("token-rotated") },
			steps: []faultStep{
				{exit: exitError, says: []string{"401", "pecbatch poll"}},
				{poll: true, exit: exitOK},
			},
		},
		{
			// The server goes away during tracking and comes back once the
			// run has seen a poll fail: the run waits and finishes by
			// itself.
			name: "server gone during tracking, back once a poll failed",
			hook: func(f *relFixture, seen *faultLog) relHook {
				var once sync.Once
				return func(c *relCall) bool {
					if c.Kind != "poll" {
						return false
					}
					first := false
					once.Do(func() {
						first = true
						f.stopListening()
						go func() {
							f.waitStderr("poll failed")
							if err := f.listenAgain(); err != nil {
								f.t.Error(err)
							}
						}()
					})
					if first {
						c.drop()
					}
					return first
				}
			},
			steps: []faultStep{stepDone},
		},
	}
}

// checkWaitedAfter429 checks that no send came less than a second after a
// 429 answer (the Retry-After, or 1 s without one).
func checkWaitedAfter429(t *testing.T, seen *faultLog) {
	t.Helper()
	seen.mu.Lock()
	defer seen.mu.Unlock()
	n429 := 0
	for i := 1; i < len(seen.times); i++ {
		if seen.codes[i-1] != http.StatusTooManyRequests {
			continue
		}
		n429++
		if gap := seen.times[i].Sub(seen.times[i-1]); gap < 900*time.Millisecond {
			t.Errorf("send %d came %v after a 429, want at least 1s", i+1, gap)
		}
	}
	if n429 == 0 {
		t.Error("no 429 was answered")
	}
}

// TestFaults runs a small campaign against the sandbox with each fault of
// issue 6 and checks that the run stops or goes on as issue 4 says, with
// the exit status of the table, that nothing is ever sent twice, and that
// the later runs finish the campaign with every row sent exactly once,
// delivered, and its receipts archived once each.
func TestFaults(t *testing.T) {
	t.Parallel()
	bin := buildPecbatch(t)
	for _, tc := range faultCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := relDefaults(6)
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			f := newRelFixture(t, bin, cfg)
			seen := &faultLog{}
			f.setHook(tc.hook(f, seen))
			for i, step := range tc.steps {
				if i == 1 {
					f.setHook(nil)
					if tc.between != nil {
						tc.between(f)
					}
				}
				var res relResult
				if step.poll {
					res = f.run(append([]string{"poll", f.file, "--report", "-"}, step.flags...)...)
				} else {
					res = f.runCampaign(append(step.flags, "--report", "-")...)
				}
				wantExit(t, "run "+strconv.Itoa(i+1), res, step.exit)
				for _, s := range step.says {
					if !strings.Contains(res.stderr, s) {
						t.Errorf("run %d: stderr lacks %q:\n%s", i+1, s, res.stderr)
					}
				}
				f.checkNoDuplicates()
			}
			sum := f.verify()
			for row, want := range tc.attempts {
				if got := f.journalRow(relKey(row)).Attempts; got != want {
					t.Errorf("row %d went to sending %d times, want %d", row, got, want)
				}
			}
			if tc.check != nil {
				tc.check(t, seen)
			}
			st, res := f.status()
			if st == nil {
				t.Fatalf("status: %s", res)
			}
			if st.Counts["delivered"] != cfg.rows || st.Final != cfg.rows {
				t.Errorf("status: %+v, want %d rows delivered", st, cfg.rows)
			}
			t.Logf("%d runs, %d sends, %d receipts archived, 0 duplicates, 0 lost", len(tc.steps), sum.sends, sum.receipts)
		})
	}
}
