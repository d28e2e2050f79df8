package runner

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pecbatch/pecbatch/client"
	"github.com/pecbatch/pecbatch/journal"
)

// frontierCap bounds the campaign-wide frontier (see pollState.Frontier):
// past a few minutes a row still without a delivery is more likely a slow
// or a non-PEC one than a sign that the whole campaign is slow.
const frontierCap = 2 * time.Minute

// pollRetry is the wait before polling again a row whose poll failed.
const pollRetry = 10 * time.Second

// maxPollOutage is how long every receipt poll may fail before tracking
// gives up and says so: a give-up time cannot be applied to receipts that
// could not be read, and an API that stays down must not make run or poll
// wait forever. Nothing is lost: `pecbatch poll` resumes tracking.
const maxPollOutage = 30 * time.Minute

// tracker polls the receipts of every submitted row on its own schedule,
// with its own rate limiter, while the sender sends, and reconciles the
// rows whose send had an unknown outcome. It runs in one goroutine (run);
// the sender hands it rows through submitted and unknown.
type tracker struct {
	e   *runEnv
	rec *reconciler

	mu       sync.Mutex
	incoming []handoff
	// rechecks are rows whose signed receipts changed their state: polled
	// at once, so that a row the signed receipts made final stops being
	// tracked.
	rechecks []int64
	mode     trackMode
	wake     chan struct{}

	// Owned by the run goroutine.
	rows     map[int64]*trackedRow
	unknowns map[int64]*unknownRow
	// unnamed holds the open rows with receipts that name no addressee.
	unnamed  map[int64]bool
	queue    taskQueue
	model    latencyModel
	frontier time.Duration
	polls    int
	final    int
	prog     *progress
	// failingSince is when the current run of failed polls began (zero
	// after a poll that worked).
	failingSince time.Time
}

type trackMode int

const (
	// trackAlongside: sending is still going on.
	trackAlongside trackMode = iota
	// trackUntilFinal: sending is done; stop when every row is final and no
	// reconciliation is left.
	trackUntilFinal
	// trackUntilReconciled: sending is done (--no-wait); stop once every
	// unknown row of this run had its first reconciliation.
	trackUntilReconciled
)

// handoff is a row the sender hands to the tracker.
type handoff struct {
	id      int64
	at      time.Time // submitted at, or sending at for an unknown row
	unknown bool
}

type trackedRow struct {
	id         int64
	key        string
	number     int
	code       string
	recipients []string
	sub        time.Time
	st         pollState
	scheduled  time.Time
	gen        int
	// warned holds the warnings already logged about its receipts.
	warned map[string]bool
	// unattributed is the last explanation of receipts naming no
	// addressee (rowFacts.Unattributed).
	unattributed string
}

type unknownRow struct {
	id        int64
	sendingAt time.Time
	attempts  int
	scheduled time.Time
	gen       int
}

type task struct {
	at        time.Time
	id        int64
	gen       int
	reconcile bool
}

type taskQueue []task

func (q taskQueue) Len() int           { return len(q) }
func (q taskQueue) Less(i, j int) bool { return q[i].at.Before(q[j].at) }
func (q taskQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *taskQueue) Push(x any)        { *q = append(*q, x.(task)) }
func (q *taskQueue) Pop() any {
	old := *q
	t := old[len(old)-1]
	*q = old[:len(old)-1]
	return t
}

func newTracker(e *runEnv, rec *reconciler) *tracker {
	t := &tracker{
		e:        e,
		rec:      rec,
		wake:     make(chan struct{}, 1),
		rows:     map[int64]*trackedRow{},
		unknowns: map[int64]*unknownRow{},
		unnamed:  map[int64]bool{},
	}
	rec.tr = t
	return t
}

// submitted hands a newly submitted row to the tracker. Safe from any
// goroutine.
func (t *tracker) submitted(id int64, at time.Time) { t.hand(handoff{id: id, at: at}) }

// unknown hands a row whose send had an unknown outcome to the tracker,
// which reconciles it once the acceptance delay has passed.
func (t *tracker) unknown(id int64, sendingAt time.Time) {
	t.hand(handoff{id: id, at: sendingAt, unknown: true})
}

func (t *tracker) hand(h handoff) {
	t.mu.Lock()
	t.incoming = append(t.incoming, h)
	t.mu.Unlock()
	t.poke()
}

// recheck asks for a poll of row id now. Safe from any goroutine.
func (t *tracker) recheck(id int64) {
	t.mu.Lock()
	t.rechecks = append(t.rechecks, id)
	t.mu.Unlock()
	t.poke()
}

func (t *tracker) setMode(m trackMode) {
	t.mu.Lock()
	t.mode = m
	t.mu.Unlock()
	t.poke()
}

// sendingDone tells the tracker that no more rows will come, and that it
// should go on until every row is final.
func (t *tracker) sendingDone() { t.setMode(trackUntilFinal) }

// stopAfterReconcile tells the tracker that no more rows will come, and
// that it should stop once every unknown row had one reconciliation.
func (t *tracker) stopAfterReconcile() { t.setMode(trackUntilReconciled) }

func (t *tracker) poke() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// load takes over from the journal what a previous run left to track and
// to reconcile, and deletes the receipts left to delete.
func (t *tracker) load(ctx context.Context) error {
	rows, err := t.e.j.RowsInState(ctx, 0, journal.StateSubmitted, journal.StateAccepted)
	if err != nil {
		return fmt.Errorf("track: %w", err)
	}
	now := t.e.clk.Now()
	for _, r := range rows {
		tr := t.addRow(r)
		at := r.NextPollAt
		if at.IsZero() || at.Before(now) {
			at = now
		}
		t.schedule(tr, at)
	}
	// What earlier runs learned of the delivery latency: the receipts'
	// dates bound it to the second.
	delivered, err := t.e.j.RowsInState(ctx, modelSize, journal.StateDelivered)
	if err != nil {
		return fmt.Errorf("track: %w", err)
	}
	for _, r := range delivered {
		if !r.SubmittedAt.IsZero() && !r.FinalAt.IsZero() {
			t.model.observe(latencyOf(r.SubmittedAt, time.Time{}, r.FinalAt.Add(time.Second), r.FinalAt))
		}
	}
	// Rows final before this process count as final on the display too.
	counts, err := t.e.j.Counts(ctx)
	if err != nil {
		return fmt.Errorf("track: %w", err)
	}
	t.final = counts.Final()
	unknown, err := t.e.j.RowsInState(ctx, 0, journal.StateUnknown)
	if err != nil {
		return fmt.Errorf("track: %w", err)
	}
	for _, r := range unknown {
		u := &unknownRow{id: r.ID, sendingAt: r.SendingAt, attempts: 1}
		t.unknowns[r.ID] = u
		t.scheduleReconcile(u, now)
	}
	if t.e.c.Tracking.DeleteReceipts {
		left, err := t.e.j.ReceiptsToDelete(ctx, 0)
		if err != nil {
			return fmt.Errorf("track: %w", err)
		}
		for _, r := range left {
			t.deleteReceipts(ctx, r.ID, r.MessageID)
		}
	}
	return nil
}

func (t *tracker) addRow(r journal.Row) *trackedRow {
	tr := &trackedRow{
		id: r.ID, key: r.Key, number: r.RowNumber, code: r.MessageID,
		recipients: r.Recipients, sub: r.SubmittedAt,
		st: pollState{Submitted: r.SubmittedAt},
	}
	t.rows[r.ID] = tr
	return tr
}

func (t *tracker) schedule(r *trackedRow, at time.Time) {
	r.gen++
	r.scheduled = at
	heap.Push(&t.queue, task{at: at, id: r.id, gen: r.gen})
}

// scheduleReconcile schedules the next search for an unknown row: its
// first once the acceptance delay has passed, then further apart, the last
// at the end of the reconciliation window. It reports false once the
// window has passed.
func (t *tracker) scheduleReconcile(u *unknownRow, now time.Time) bool {
	end := u.sendingAt.Add(t.e.c.Sending.ReconcileWindow)
	var at time.Time
	switch {
	case u.attempts == 0:
		at = u.sendingAt.Add(t.e.acceptDelay)
	case !now.Before(end):
		return false
	default:
		at = now.Add(max(t.e.acceptDelay, now.Sub(u.sendingAt)))
	}
	if at.After(end) {
		at = end
	}
	u.gen++
	u.scheduled = at
	heap.Push(&t.queue, task{at: at, id: u.id, gen: u.gen, reconcile: true})
	return true
}

// drain takes the rows the sender handed over.
func (t *tracker) drain(ctx context.Context) (trackMode, error) {
	t.mu.Lock()
	in := t.incoming
	t.incoming = nil
	rechecks := t.rechecks
	t.rechecks = nil
	mode := t.mode
	t.mu.Unlock()
	for _, id := range rechecks {
		if r, ok := t.rows[id]; ok && r.scheduled.After(t.e.clk.Now()) {
			t.schedule(r, t.e.clk.Now())
		}
	}
	for _, h := range in {
		if h.unknown {
			u := &unknownRow{id: h.id, sendingAt: h.at}
			t.unknowns[h.id] = u
			t.scheduleReconcile(u, t.e.clk.Now())
			continue
		}
		if err := t.adopt(ctx, h.id); err != nil {
			return mode, err
		}
	}
	return mode, nil
}

// adopt starts tracking a row just submitted (by the sender or by
// reconciliation).
func (t *tracker) adopt(ctx context.Context, id int64) error {
	r, err := t.e.j.Row(context.WithoutCancel(ctx), id)
	if err != nil {
		return fmt.Errorf("track: %w", err)
	}
	delete(t.unknowns, id)
	if !r.State.Tracked() || r.State.Final() {
		return nil
	}
	tr := t.addRow(r)
	tr.st.Frontier = t.frontier
	e, ok := t.model.expected()
	next := t.e.policy.next(tr.st, t.e.clk.Now(), e, ok, t.e.jit.float64())
	if err := t.e.j.SetNextPoll(context.WithoutCancel(ctx), id, next); err != nil {
		return fmt.Errorf("track: %w", err)
	}
	t.schedule(tr, next)
	return nil
}

// done reports whether the tracker has nothing left to do in mode.
func (t *tracker) done(mode trackMode) bool {
	switch mode {
	case trackUntilFinal:
		return len(t.rows) == 0 && t.reconcilesLeft() == 0
	case trackUntilReconciled:
		for _, u := range t.unknowns {
			if u.attempts == 0 {
				return false
			}
		}
		return true
	}
	return false
}

func (t *tracker) reconcilesLeft() int {
	n := 0
	for _, u := range t.unknowns {
		if !u.scheduled.IsZero() {
			n++
		}
	}
	return n
}

// run tracks until there is nothing left to do (in the mode set by
// sendingDone or stopAfterReconcile) or ctx is done. Its error is what
// stops tracking for good (credentials refused, the journal failing).
func (t *tracker) run(ctx context.Context) error {
	defer func() {
		if t.prog != nil {
			t.prog.finish()
		}
	}()
	for {
		mode, err := t.drain(ctx)
		if err != nil {
			return err
		}
		if mode != trackAlongside && t.prog == nil && mode == trackUntilFinal {
			t.prog = newProgress(t.e, PhaseTracking, len(t.rows), t.final)
		}
		t.describe()
		if t.done(mode) {
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		if t.queue.Len() == 0 {
			select {
			case <-t.wake:
			case <-ctx.Done():
			}
			continue
		}
		next := t.queue[0]
		if t.stale(next) {
			heap.Pop(&t.queue)
			continue
		}
		if d := next.at.Sub(t.e.clk.Now()); d > 0 {
			select {
			case <-t.e.clk.After(d):
			case <-t.wake:
			case <-ctx.Done():
			}
			continue
		}
		heap.Pop(&t.queue)
		if next.reconcile {
			if err := t.reconcile(ctx, next); err != nil {
				return err
			}
			continue
		}
		if err := t.poll(ctx, t.rows[next.id]); err != nil {
			return err
		}
	}
}

func (t *tracker) stale(tk task) bool {
	if tk.reconcile {
		u, ok := t.unknowns[tk.id]
		return !ok || u.gen != tk.gen
	}
	r, ok := t.rows[tk.id]
	return !ok || r.gen != tk.gen
}

// reconcile searches the mailbox for the unknown rows that are due (first
// is one of them), all in one go: rows of the same subject are matched
// together, so that one acceptance is never given to two rows.
func (t *tracker) reconcile(ctx context.Context, first task) error {
	now := t.e.clk.Now()
	due := []int64{first.id}
	for t.queue.Len() > 0 && !t.queue[0].at.After(now) {
		tk := t.queue[0]
		if !tk.reconcile || t.stale(tk) {
			break
		}
		heap.Pop(&t.queue)
		due = append(due, tk.id)
	}
	found, err := t.rec.attempt(ctx, due)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, client.ErrUnauthorized) {
			return err
		}
		t.e.log.Warn("reconciliation failed; trying again later", "error", err)
	}
	now = t.e.clk.Now()
	for _, id := range due {
		u, ok := t.unknowns[id]
		if !ok {
			continue
		}
		u.attempts++
		if found[id] {
			continue // adopted by the reconciler
		}
		if !t.scheduleReconcile(u, now) {
			u.scheduled = time.Time{}
			t.e.log.Warn("no acceptance found within the reconciliation window: the row stays unknown; "+
				"`pecbatch run --resend-unknown` sends it again", "row_id", id)
		}
	}
	return nil
}

// poll fetches the receipts of one row, records them and what they mean,
// and schedules the next poll.
func (t *tracker) poll(ctx context.Context, r *trackedRow) error {
	if err := t.e.pollLim.Wait(ctx); err != nil {
		return nil // ctx done
	}
	wctx := context.WithoutCancel(ctx)
	now := t.e.clk.Now()
	receipts, err := t.e.cl.Receipts(ctx, r.code)
	t.polls++
	log := t.e.log.With("row", r.number, "key", r.key, "message_id", r.code)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, client.ErrUnauthorized) {
			return fmt.Errorf("track: the API refused the credentials (401): check the API token and the mailbox "+
				"username and password, then run `pecbatch poll` to resume tracking: %w", err)
		}
		log.Warn("poll failed; trying again later", "error", err)
		if t.failingSince.IsZero() {
			t.failingSince = now
		}
		if outage := now.Sub(t.failingSince); outage >= maxPollOutage {
			return fmt.Errorf("track: every receipt poll has failed for %s (last: %w): the API may be down; "+
				"nothing is lost: run `pecbatch poll` later to resume tracking", outage.Round(time.Second), err)
		}
		next := now.Add(pollRetry + time.Duration(t.e.jit.float64()*float64(pollRetry)))
		if err := t.e.j.RecordPoll(wctx, r.id, next); err != nil {
			return fmt.Errorf("track: %w", err)
		}
		t.schedule(r, next)
		return nil
	}
	t.failingSince = time.Time{}
	mb := sendingMailbox{Address: t.e.c.Sender.Address, Username: t.e.c.Sender.Username}
	ans := classifyReceipts(receipts, r.code, mb, r.recipients)
	statuses := make([]recipientStatus, len(r.recipients))
	for i, a := range r.recipients {
		statuses[i] = recipientStatus{Address: a, State: journal.RecipientPending}
	}
	var signed []signedFact
	if t.e.signed != nil {
		// The signed receipts name their addressee: they decide first, and
		// explain the API's entries that name nobody.
		stored, err := t.e.j.SignedReceiptsFor(wctx, r.id)
		if err != nil {
			return fmt.Errorf("track: %w", err)
		}
		signed, _ = signedFacts(stored, r.code, r.recipients)
	}
	outcomes, facts := deriveOutcomesSigned(statuses, ans.Own, signed, now, t.e.policy.giveUpAt(r.sub))
	for _, msg := range facts.Ignored {
		r.warnOnce(log, "receipt not applied", msg)
	}
	for _, f := range ans.Foreign {
		// Listed under this code, but the subject carries another send's
		// code (one that merely starts with this one) or none.
		r.warnOnce(log, "receipt of another send listed under this code: not applied, not archived",
			fmt.Sprintf("%q of %s", f.Subject, f.DateText))
	}
	// One answer per call: the journal counts identical entries by their
	// multiplicity within it.
	applied, err := t.e.j.ApplyReceipts(wctx, r.id, journalReceipts(ans.Own, r.code), outcomes)
	if err != nil {
		return fmt.Errorf("track: row %d: %w", r.number, err)
	}
	t.unattributed(r, log, facts.Unattributed, applied.State.Final())
	if applied.NewReceipts > 0 || applied.Changed() {
		log.Debug("receipts", "new", applied.NewReceipts, "state", applied.State)
	}
	if applied.State.Final() {
		if err := t.e.j.RecordPoll(wctx, r.id, now); err != nil {
			return fmt.Errorf("track: %w", err)
		}
		delete(t.rows, r.id)
		t.final++
		if t.prog != nil {
			t.prog.add(1)
		}
		if applied.State == journal.StateDelivered && facts.Delivered {
			t.learn(latencyOf(r.sub, r.st.LastPoll, now, facts.LastDelivery), now)
		}
		if t.e.c.Tracking.DeleteReceipts {
			t.deleteReceipts(ctx, r.id, r.code)
		}
		return nil
	}
	if facts.LastDelivery.IsZero() && facts.LastWarning.IsZero() && !facts.NonPECOnly {
		t.frontier = min(max(t.frontier, now.Sub(r.sub)), frontierCap)
	}
	r.st.LastPoll = now
	r.st.Warning = facts.LastWarning
	r.st.NonPECOnly = facts.NonPECOnly
	r.st.Frontier = t.frontier
	e, ok := t.model.expected()
	next := t.e.policy.next(r.st, now, e, ok, t.e.jit.float64())
	if err := t.e.j.RecordPoll(wctx, r.id, next); err != nil {
		return fmt.Errorf("track: %w", err)
	}
	t.schedule(r, next)
	return nil
}

// learn adds what a delivered row taught to the model and pulls in the
// rows whose next poll the new estimate puts earlier. The journal keeps
// their later time: a resumed run only polls them a little late.
func (t *tracker) learn(s latencySample, now time.Time) {
	before, known := t.model.expected()
	t.model.observe(s)
	e, _ := t.model.expected()
	if known && e == before {
		return
	}
	for _, r := range t.rows {
		r.st.Frontier = t.frontier
		if next := t.e.policy.next(r.st, now, e, true, t.e.jit.float64()); next.Before(r.scheduled) {
			t.schedule(r, next)
		}
	}
}

// deleteReceipts deletes a final row's receipts from the mailbox, once
// archived (tracking.delete_receipts). A failure is only logged: the next
// run tries again.
func (t *tracker) deleteReceipts(ctx context.Context, id int64, code string) {
	wctx := context.WithoutCancel(ctx)
	row, err := t.e.j.Row(wctx, id)
	if err != nil || row.Receipts == 0 || !row.ReceiptsDeletedAt.IsZero() {
		return // nothing archived: nothing may be deleted
	}
	if err := t.e.pollLim.Wait(ctx); err != nil {
		return
	}
	if err := t.e.cl.DeleteReceipts(ctx, code); err != nil && !errors.Is(err, client.ErrNotFound) {
		t.e.log.Warn("could not delete the receipts from the mailbox; the next run tries again", "message_id", code, "error", err)
		return
	}
	if err := t.e.j.MarkReceiptsDeleted(wctx, id); err != nil {
		t.e.log.Warn("could not record the deletion of the receipts", "message_id", code, "error", err)
	}
}

// describe shows the tracking state on the progress display.
func (t *tracker) describe() {
	if t.prog == nil {
		return
	}
	d := fmt.Sprintf("tracking: %d final, %d open, %d unknown", t.final, len(t.rows), len(t.unknowns))
	if n := len(t.unnamed); n > 0 {
		d += fmt.Sprintf(", %d with receipts naming no addressee", n)
	}
	t.prog.describe(d)
}

// journalReceipts turns the receipts of one answer that belong to the
// send code into the journal's archive entries, every entry, identical
// ones included. The addressee is only the recipient a receipt names
// (Named), which depends on the entry alone: the same entry gets the same
// archive key in every poll, so it is archived once.
func journalReceipts(own []classifiedReceipt, code string) []journal.Receipt {
	out := make([]journal.Receipt, 0, len(own))
	for _, c := range own {
		out = append(out, journal.Receipt{
			Code: code, Kind: string(c.Kind), Date: c.Date, DateText: c.DateText,
			Sender: c.Sender, Recipient: c.Recipient, Addressee: c.Named,
			Subject: c.Receipt.Subject, Body: c.Body, ErrorText: c.ErrorText,
		})
	}
	return out
}

// warnOnce logs a warning about a row's receipts once per tracking run:
// the API lists the same receipts in every poll.
func (r *trackedRow) warnOnce(log *slog.Logger, msg, detail string) {
	if r.warned == nil {
		r.warned = map[string]bool{}
	}
	if k := msg + "\x00" + detail; !r.warned[k] {
		r.warned[k] = true
		log.Warn(msg, "detail", detail)
	}
}

// unattributed tells people, once per change, that receipts of a row with
// several recipients name no addressee and cannot be given to one by
// count (text empty: none, or no longer). The row stays open; at the
// give-up time its open recipients become not certifiable with the same
// explanation.
func (t *tracker) unattributed(r *trackedRow, log *slog.Logger, text string, final bool) {
	if final || text == "" {
		delete(t.unnamed, r.id)
		if final && text != "" {
			t.e.note(NoteUnattributed, "Row %d (key %q): %s; its recipients without a delivery receipt naming them "+
				"are not certifiable.", r.number, r.key, text)
		}
		r.unattributed = text
		return
	}
	t.unnamed[r.id] = true
	if text == r.unattributed {
		return
	}
	r.unattributed = text
	log.Info("receipts name no addressee: the recipients stay open until they can be told apart or "+
		"tracking.give_up_after", "detail", text)
}
