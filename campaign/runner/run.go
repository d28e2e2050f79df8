package runner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/client"
	"github.com/pecbatch/pecbatch/journal"
)

// SandboxEndpoint is the endpoint identity a journal records for a run
// against the sandbox built into pecbatch (`run --sandbox`).
const SandboxEndpoint = "sandbox:builtin"

// Defaults of the runner that the campaign file does not set.
const (
	// DefaultAcceptanceDelay is how long a PEC provider takes to accept a
	// message (a second or two): the mailbox is first searched for the
	// acceptance of an ambiguous send after it, and a row is first polled a
	// little before it.
	DefaultAcceptanceDelay = 2 * time.Second
	// DefaultClockSkew is how much earlier than the journal's sending time
	// a receipt may be dated and still belong to that send.
	DefaultClockSkew = 5 * time.Second
	// paceMargin and minPaceGap slow the send pacing a little below
	// sending.rate: two requests must never reach the service closer
	// together than its limit, whatever the jitter of timers, scheduling and
	// the network. At 1/s the 1 % dominates; at high rates 1 % of the
	// interval is below timer jitter, so at least minPaceGap is added.
	paceMargin = 0.01
	minPaceGap = 5 * time.Millisecond
)

// pacedRate is the rate the client sends at for a campaign whose limit is
// perSecond: each interval lengthened by the pacing margin.
func pacedRate(perSecond float64) float64 {
	if perSecond <= 0 {
		return perSecond
	}
	interval := float64(time.Second) / perSecond
	return float64(time.Second) / (interval + max(interval*paceMargin, float64(minPaceGap)))
}

// RunOptions says how Run sends a campaign. The zero value sends every
// pending row with the campaign's settings, asks no confirmation and waits
// until every row is final.
type RunOptions struct {
	// Limit sends at most this many pending rows (a trial batch); 0 means all.
	Limit int
	// NoWait returns after the last send instead of tracking every row to
	// its final state, and returns a *PausedError instead of waiting when
	// sending.daily_limit or sending.window pauses sending.
	NoWait bool
	// ResendUnknown puts back to pending, and sends again, the rows whose
	// outcome stayed unknown after their reconciliation window.
	ResendUnknown bool
	// AllowChanges accepts, on a resume, new rows and changed content for
	// rows not sent yet; rows already sent keep what was sent and are
	// marked "changed after send" when their content changed.
	AllowChanges bool
	// AllowDuplicateContent sends rows whose message (recipients, subject,
	// body and attachments) is the same as a row already sent in the
	// journal, or as another row to send; without it the run refuses them.
	AllowDuplicateContent bool
	// Journal is the journal file; "" means sending.journal.
	Journal string
	// Confirm is asked, after preflight and before the first send, whether
	// to go on with the plan; nil means yes.
	Confirm func(Plan) (bool, error)
}

// Plan is what a run is about to do, for the confirmation.
type Plan struct {
	// Campaign is the campaign's name, Journal the journal's path and
	// Endpoint where the messages go.
	Campaign, Journal, Endpoint string
	// Resume says the journal already existed.
	Resume bool
	// Rows is the number of rows of the campaign.
	Rows int
	// ToSend is the number of rows this run will send: the pending rows,
	// at most Limit of them.
	ToSend int
	// Pending is the number of rows not sent yet.
	Pending int
	// Done is the number of rows sent before (in any state past pending).
	Done int
	// Unknown is the number of rows whose send may or may not have happened.
	Unknown int
	// Resend is the number of unknown rows put back to pending by
	// --resend-unknown.
	Resend int
	// Rate is the send rate and ETA the time sending ToSend rows takes,
	// pauses for the daily limit and the sending window included.
	Rate campaign.Rate
	ETA  time.Duration
	// DailyLimit is sending.daily_limit and SentToday the sends of the
	// campaign already made today (Europe/Rome).
	DailyLimit, SentToday int
	// Window is sending.window ("always" when not set).
	Window string
	// Days is the number of calendar days (Europe/Rome) sending spans,
	// today included: more than 1 when the daily limit or the window
	// makes it last over midnight.
	Days int
	// Changes describes what changed since the journal was written
	// (accepted with --allow-changes).
	Changes []string
}

// Result is what a run or a poll did.
type Result struct {
	// Journal is the journal's path.
	Journal string
	// Counts is the number of rows in each state at the end.
	Counts journal.Counts
	// Sent counts the rows this run submitted.
	Sent int
	// Reports are the delivery reports written at the end.
	Reports []string
	// Stats are measurements of this run.
	Stats Stats
}

// Stats are what a run measured of itself: what `make bench` reports.
type Stats struct {
	// Sends is the number of send requests made.
	Sends int
	// JournalPerSend is the mean time spent in journal writes per send
	// (marking it sending and recording its outcome).
	JournalPerSend time.Duration
	// FirstSend and LastSend are when the first and last request started.
	FirstSend, LastSend time.Time
	// Polls is the number of receipt polls (GET /send/{code}) made.
	Polls int
	// Reconciled is the number of unknown rows found submitted.
	Reconciled int
}

// runEnv is what the parts of a run share.
type runEnv struct {
	c        *campaign.Campaign
	j        *journal.Journal
	cl       *client.Client
	clk      Clock
	jit      *jitter
	log      *slog.Logger
	pr       Printer
	saveReps func(ctx context.Context, r *journal.Reader, name string) ([]string, error)
	endpoint string
	// acceptDelay and skew tune reconciliation.
	acceptDelay, skew time.Duration
	policy            pollPolicy
	// pollLim paces every request of tracking and reconciliation; the send
	// pacing is the client's own and never waits for it.
	pollLim *rate.Limiter
	// avgMessageKiB is the mean size of a message, from preflight.
	avgMessageKiB float64
	// ledgerPath is where the mailbox's claim ledger is, ledger the
	// ledger once opened (openLedger).
	ledgerPath string
	ledger     *journal.Ledger
	// recipients notices the recipients file changed during the run.
	recipients *recipientsWatch
	// signed reads the signed receipts every signedInterval (nil: not).
	signed                        SignedSource
	signedInterval, signedTimeout time.Duration
}

func (d Deps) env(c *campaign.Campaign) (*runEnv, error) {
	e := &runEnv{
		c:           c,
		clk:         d.Clock,
		log:         d.Logger,
		pr:          d.Printer,
		saveReps:    d.SaveReports,
		endpoint:    d.Endpoint,
		acceptDelay: d.Tuning.AcceptanceDelay,
		skew:        d.Tuning.ClockSkew,
		ledgerPath:  d.LedgerPath,
		signed:      d.Signed,
	}
	e.signedInterval = cmp.Or(d.Tuning.SignedInterval, DefaultSignedInterval)
	e.signedTimeout = cmp.Or(d.Tuning.SignedTimeout, DefaultSignedTimeout)
	if e.clk == nil {
		e.clk = SystemClock{}
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	if e.pr == nil {
		e.pr = discard{}
	}
	if e.endpoint == "" {
		e.endpoint = c.API.BaseURL
	}
	if e.acceptDelay <= 0 {
		e.acceptDelay = DefaultAcceptanceDelay
	}
	if e.skew <= 0 {
		e.skew = DefaultClockSkew
	}
	seed := d.Seed
	if seed == 0 {
		seed = uint64(e.clk.Now().UnixNano())
	}
	e.jit = newJitter(seed)
	giveUp := c.Tracking.GiveUpAfter
	if d.Tuning.GiveUpAfter > 0 {
		giveUp = d.Tuning.GiveUpAfter
	}
	e.policy = defaultPollPolicy(giveUp)
	e.policy.FirstPoll = e.acceptDelay * 3 / 4
	scale := max(d.Tuning.TimeScale, 1)
	e.pollLim = rate.NewLimiter(rate.Limit(c.Tracking.PollRate.PerSecond()*scale), pollBurst)
	if d.Tuning.Notices != nil {
		e.policy.Notices = slices.Clone(d.Tuning.Notices)
		e.policy.NoticeLag = min(e.policy.NoticeLag, minDuration(d.Tuning.Notices)/100+100*time.Millisecond)
	}
	e.cl = d.Client
	if e.cl == nil {
		cl, err := newClient(c, d.HTTPClient, scale)
		if err != nil {
			return nil, err
		}
		e.cl = cl
	}
	return e, nil
}

func minDuration(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return slices.Min(ds)
}

// NewClient returns the API client of a campaign: its endpoint, token and
// mailbox credentials, and its send rate a little below sending.rate so
// that no two sends reach the service closer than it allows.
func NewClient(c *campaign.Campaign, hc *http.Client) (*client.Client, error) {
	return newClient(c, hc, 1)
}

// newClient is NewClient with the send rate made scale times faster (see
// Tuning.TimeScale).
func newClient(c *campaign.Campaign, hc *http.Client, scale float64) (*client.Client, error) {
	opts := []client.Option{
		client.WithToken(c.API.Token.Reveal()),
		client.WithCredentials(c.Sender.Username, c.Sender.Password.Reveal()),
		client.WithSendRate(pacedRate(c.Sending.Rate.PerSecond() * scale)),
		client.WithUserAgent("pecbatch"),
	}
	if c.API.Timeout > 0 {
		opts = append(opts, client.WithTimeout(c.API.Timeout))
	}
	if hc != nil {
		opts = append(opts, client.WithHTTPClient(hc))
	}
	cl, err := client.NewClient(c.API.BaseURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("campaign: %w", err)
	}
	return cl, nil
}

// note tells people, through the Printer, that something happened.
func (e *runEnv) note(kind NoteKind, format string, args ...any) {
	e.pr.Note(Note{Kind: kind, Text: fmt.Sprintf(format, args...)})
}

// journalPath returns the journal a run uses.
func journalPath(c *campaign.Campaign, override string) string {
	if override != "" {
		return override
	}
	return c.Sending.Journal
}

// SandboxJournalPath returns the journal a `--sandbox` run of a campaign
// uses instead of path: a separate file, so that messages "sent" to the
// sandbox never mix with real ones. "x.journal.db" becomes
// "x.sandbox.journal.db".
func SandboxJournalPath(path string) string {
	dir, base := filepath.Split(path)
	if stem, ok := strings.CutSuffix(base, ".journal.db"); ok {
		return filepath.Join(dir, stem+".sandbox.journal.db")
	}
	ext := filepath.Ext(base)
	return filepath.Join(dir, strings.TrimSuffix(base, ext)+".sandbox"+ext)
}

// ResetSandboxJournal removes the journal of a previous `--sandbox` run at
// path, if there is one. The built-in sandbox lives inside the pecbatch
// process and forgets every send when it exits, so the rows of an earlier
// sandbox run can neither be tracked nor reconciled by a new one: a sandbox
// run always starts afresh. A journal that belongs to any other endpoint is
// never touched: that is an error.
func ResetSandboxJournal(ctx context.Context, path string) (bool, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	j, err := journal.Open(ctx, path)
	if err != nil {
		return false, fmt.Errorf("campaign: sandbox journal: %w", err)
	}
	m, err := j.Meta(ctx)
	closeErr := j.Close()
	switch {
	case errors.Is(err, journal.ErrNotInitialized):
	case err != nil:
		return false, fmt.Errorf("campaign: sandbox journal: %w", err)
	case m.Endpoint != SandboxEndpoint:
		return false, fmt.Errorf("campaign: %s belongs to %s, not to the built-in sandbox: "+
			"it is not removed; choose another sending.journal for --sandbox", path, m.Endpoint)
	}
	if closeErr != nil {
		return false, fmt.Errorf("campaign: sandbox journal: %w", closeErr)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return false, fmt.Errorf("campaign: remove the previous sandbox journal: %w", err)
		}
	}
	return true, nil
}

// Run sends a campaign, exactly once per row, and tracks every message to
// its final state (unless NoWait): the package documentation states the
// guarantees. It returns the result with:
//
//   - nil when every row is delivered (or, with NoWait or Limit, when
//     nothing failed so far);
//   - an error matching ErrInvalidInput when preflight found problems or
//     the campaign changed since the journal was written (nothing sent);
//   - ErrInterrupted when ctx was cancelled (the journal is consistent;
//     run again to resume);
//   - with NoWait, a *PausedError (errors.Is ErrPaused and ErrInterrupted)
//     when the daily limit or the sending window paused sending: it says
//     when to run again. Without NoWait the run waits, tracking meanwhile;
//   - ErrRowsUnknown when rows stay unknown, ErrRowsFailed when rows
//     failed, were rejected, expired or are not certifiable;
//   - any other error for what stopped the run (credentials refused, too
//     many failures in a row, the journal locked by another run...).
func Run(ctx context.Context, c *campaign.Campaign, d Deps, opts RunOptions) (*Result, error) {
	e, err := d.env(c)
	if err != nil {
		return nil, err
	}
	res := &Result{Journal: journalPath(c, opts.Journal)}

	e.recipients = watchRecipients(c)
	rows, err := e.preflight(ctx)
	if err != nil {
		return res, err
	}
	j, err := journal.Open(ctx, res.Journal, journal.WithNow(e.clk.Now))
	if err != nil {
		return res, fmt.Errorf("run: %w", err)
	}
	defer j.Close()
	e.j = j
	if err := e.addReferences(ctx, rows); err != nil {
		return res, err
	}

	plan, err := e.openCampaign(ctx, rows, opts)
	if err != nil {
		return res, err
	}
	closeLedger, err := e.openLedger(ctx)
	if err != nil {
		return res, err
	}
	defer closeLedger()
	e.checkQuota(ctx)

	rec := newReconciler(e)
	// Rows left in sending by a run that stopped mid-request may or may
	// not have been sent: they are unknown until reconciled.
	if err := rec.adoptInterrupted(ctx); err != nil {
		return res, err
	}
	if err := rec.reconcileDue(ctx); err != nil {
		return res, err
	}
	if opts.ResendUnknown {
		n, err := rec.resendExpired(ctx)
		if err != nil {
			return res, err
		}
		plan.Resend = n
	}
	if err := e.fillPlan(ctx, &plan, opts.Limit); err != nil {
		return res, err
	}
	e.pr.Plan(plan)
	if opts.Confirm != nil && plan.ToSend > 0 {
		ok, err := opts.Confirm(plan)
		if err != nil {
			return res, fmt.Errorf("run: %w", err)
		}
		if !ok {
			e.note(NoteNotConfirmed, "Nothing sent.")
			return res, fmt.Errorf("run: not confirmed: %w", campaign.ErrInterrupted)
		}
	}

	tr := newTracker(e, rec)
	if err := tr.load(ctx); err != nil {
		return res, err
	}
	trackCtx, stopTracking := context.WithCancel(ctx)
	trackDone := make(chan error, 1)
	go func() { trackDone <- tr.run(trackCtx) }()
	stopSigned := e.startSigned(ctx, tr)

	prog := newProgress(e, PhaseSending, plan.ToSend, plan.Done)
	s := newSender(e, tr, prog)
	s.gate = newSendGate(e, opts.NoWait)
	s.gate.prog = prog
	sendErr := s.send(ctx, plan.ToSend)
	prog.finish()
	res.Sent = s.submitted
	res.Stats = s.stats()

	var paused *PausedError
	switch {
	case errors.As(sendErr, &paused) && ctx.Err() == nil:
		e.note(NoteSendingPaused, "Sending paused: %s. Run the same command again after %s to send the rest "+
			"(`pecbatch poll` tracks what was sent meanwhile).", paused.Reason, formatResume(paused.Resume))
		tr.stopAfterReconcile()
	case sendErr != nil || ctx.Err() != nil:
		stopTracking()
	case opts.NoWait:
		// Give the rows that just became unknown their first chance to be
		// reconciled before returning.
		tr.stopAfterReconcile()
	default:
		tr.sendingDone()
		e.note(NoteSendingDone, "Sending done; tracking the receipts until every row is final (Ctrl-C stops; `pecbatch poll` resumes).")
	}
	trackErr := <-trackDone
	stopTracking()
	stopSigned()
	res.Stats.Polls, res.Stats.Reconciled = tr.polls, rec.found
	e.logStats(res.Stats)

	return res, e.finish(ctx, res, firstErr(sendErr, trackErr), ctx.Err() != nil)
}

// logStats logs what the run measured of itself (what `make bench` reads).
func (e *runEnv) logStats(st Stats) {
	args := []any{"sends", st.Sends, "journal_per_send", st.JournalPerSend, "polls", st.Polls, "reconciled", st.Reconciled}
	if st.Sends > 1 {
		wall := st.LastSend.Sub(st.FirstSend)
		args = append(args, "first_to_last", wall.Round(time.Millisecond),
			"sends_per_second", fmt.Sprintf("%.3f", float64(st.Sends-1)/wall.Seconds()))
	}
	e.log.Info("run finished", args...)
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return nil
}

// finish writes the reports, says how things stand and returns the error
// that tells the command's exit status.
func (e *runEnv) finish(ctx context.Context, res *Result, runErr error, interrupted bool) error {
	wctx := context.WithoutCancel(ctx)
	counts, err := e.j.Counts(wctx)
	if err != nil {
		return errors.Join(runErr, fmt.Errorf("run: %w", err))
	}
	res.Counts = counts
	if e.saveReps != nil {
		name := e.c.Name
		if e.endpoint == SandboxEndpoint {
			name += "-sandbox"
		}
		paths, err := e.saveReps(wctx, e.j.Reader, name)
		if err != nil {
			e.log.Warn("could not write the delivery report", "error", err)
		}
		res.Reports = paths
		for _, p := range paths {
			e.note(NoteReport, "Report: %s", p)
		}
	}
	e.note(NoteCounts, "%s", countsLine(counts))
	switch {
	case interrupted:
		e.note(NoteInterrupted, "Interrupted: nothing is lost and nothing will be sent twice. Run the same command again to resume.")
		return fmt.Errorf("run: %w", campaign.ErrInterrupted)
	case runErr != nil:
		return runErr
	}
	return outcome(counts)
}

// outcome maps the final counts to the run's error: unknown rows first
// (they may not have been sent at all), then failures.
func outcome(counts journal.Counts) error {
	unknown := counts[journal.StateUnknown] + counts[journal.StateSending]
	failed := counts[journal.StateRejected] + counts[journal.StateFailed] + counts[journal.StateExpired] +
		counts[journal.StateAcceptedNotCertifiable]
	switch {
	case unknown > 0:
		return fmt.Errorf("%d row(s) may or may not have been sent: run again later to reconcile them, or with "+
			"--resend-unknown once their reconciliation window has passed: %w", unknown, campaign.ErrRowsUnknown)
	case failed > 0:
		return fmt.Errorf("%d row(s) not delivered (see the report): %w", failed, campaign.ErrRowsFailed)
	}
	return nil
}

// countsLine summarises counts in one line, in the journal's state order.
func countsLine(counts journal.Counts) string {
	var parts []string
	for _, s := range journal.States() {
		if n := counts[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	if len(parts) == 0 {
		return "No rows."
	}
	return "Rows: " + strings.Join(parts, ", ")
}
