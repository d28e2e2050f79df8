package runner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/client"
	"github.com/pecbatch/pecbatch/journal"
)

// EventReconciled is the journal event of an unknown row found submitted
// in the mailbox; EventReconcileAmbiguous that of acceptances that could
// belong to more than one row, so that none was given to any.
const (
	EventReconciled         = "reconciled"
	EventReconcileAmbiguous = "reconcile_ambiguous"
)

const (
	// maxInboxPagesPerSubject bounds one search (25 messages a page).
	maxInboxPagesPerSubject = 200
	// interruptedSendingReason is the error of a row a crashed run left in
	// sending.
	interruptedSendingReason = "the run stopped during the request: the message may or may not have been sent"
)

// reconciler finds out whether a send with an unknown outcome happened: it
// searches the mailbox for the acceptance (or refusal) receipt of that
// send. A receipt is the service's own word that it acted on the request,
// and carries the send's code.
type reconciler struct {
	e     *runEnv
	tr    *tracker
	found int
	// ambiguous holds the rows whose last search found acceptances that
	// could be theirs or another's: they are never resent automatically.
	ambiguous map[int64]bool
	// searched holds the rows whose last search of the mailbox went
	// through to the time of their send: only they may be resent, since a
	// failed or cut-short search may have missed their acceptance.
	searched map[int64]bool
	// prog, while reconcileDue runs, tells people how far the search of
	// the mailbox has got; nil otherwise.
	prog *progress
}

func newReconciler(e *runEnv) *reconciler {
	return &reconciler{e: e, ambiguous: map[int64]bool{}, searched: map[int64]bool{}}
}

// adoptInterrupted turns the rows a previous run left in sending into
// unknown rows: the request may or may not have been made.
func (r *reconciler) adoptInterrupted(ctx context.Context) error {
	rows, err := r.e.j.RowsInState(ctx, 0, journal.StateSending)
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	for _, row := range rows {
		if err := r.e.j.MarkUnknown(ctx, row.ID, interruptedSendingReason); err != nil {
			return fmt.Errorf("reconcile: %w", err)
		}
		r.e.log.Info("row left in sending by an interrupted run: reconciling it", "row", row.RowNumber, "key", row.Key)
	}
	return nil
}

// reconcileDue searches the mailbox for every unknown row once (at the
// start of a run).
func (r *reconciler) reconcileDue(ctx context.Context) error {
	rows, err := r.e.j.RowsInState(ctx, 0, journal.StateUnknown)
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	if len(rows) == 0 {
		return nil
	}
	ids := make([]int64, len(rows))
	for i, row := range rows {
		ids[i] = row.ID
	}
	r.prog = newProgress(r.e, PhaseReconciling, len(rows), 0)
	found, err := r.attempt(ctx, ids)
	r.prog.finish()
	r.prog = nil
	if err != nil {
		if errors.Is(err, client.ErrUnauthorized) || ctx.Err() != nil {
			return fmt.Errorf("reconcile: %w", err)
		}
		r.e.log.Warn("reconciliation failed; it is tried again later", "error", err)
	}
	r.e.note(NoteReconciled, "Reconciled %d of %d row(s) whose send had an unknown outcome.", len(found), len(rows))
	return nil
}

// resendExpired puts back to pending the unknown rows whose reconciliation
// window has passed without their acceptance turning up (--resend-unknown),
// except those for which an acceptance might be theirs.
func (r *reconciler) resendExpired(ctx context.Context) (int, error) {
	rows, err := r.e.j.RowsInState(ctx, 0, journal.StateUnknown)
	if err != nil {
		return 0, fmt.Errorf("reconcile: %w", err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	refused, err := r.e.claimRefusedRows(ctx)
	if err != nil {
		return 0, err
	}
	now := r.e.clk.Now()
	n, waiting := 0, 0
	for _, row := range rows {
		if now.Before(row.SendingAt.Add(r.e.c.Sending.ReconcileWindow)) {
			waiting++
			continue
		}
		if row.ChangedAfterSend() {
			// What may have gone out is not what the files render now:
			// resending either would be a guess.
			r.e.note(NoteNotResent, "Row %d (key %q) is not resent: the campaign's files now render it differently from "+
				"what may have been sent; undo that change to resend it as it was, or give it a new key.", row.RowNumber, row.Key)
			continue
		}
		if refused[row.ID] {
			r.e.note(NoteNotResent, "Row %d (key %q) is not resent: the service answered its send with a message id "+
				"another row owns (see its error); check the mailbox and that row.", row.RowNumber, row.Key)
			continue
		}
		if r.ambiguous[row.ID] {
			r.e.note(NoteNotResent, "Row %d (key %q) is not resent: an acceptance in the mailbox may be its own "+
				"(one that names no recipient, or one more than one row could claim); check the mailbox.",
				row.RowNumber, row.Key)
			continue
		}
		if !r.searched[row.ID] {
			r.e.note(NoteNotResent, "Row %d (key %q) is not resent: the mailbox could not be searched for its acceptance; run again later.",
				row.RowNumber, row.Key)
			continue
		}
		if err := r.e.j.ResendUnknown(ctx, row.ID); err != nil {
			return n, fmt.Errorf("reconcile: %w", err)
		}
		n++
	}
	if waiting > 0 {
		r.e.note(NoteWithinWindow, "%d unknown row(s) are still within their reconciliation window (%s): they are not resent yet.",
			waiting, campaign.FormatDuration(r.e.c.Sending.ReconcileWindow))
	}
	return n, nil
}

// reconRow is an unknown row as matching sees it.
type reconRow struct {
	ID         int64
	Key        string
	Recipients []string
	SendingAt  time.Time
	// OwnSubject says the row's subject carries the row's own reference
	// (sending.reference): no other row of any journal has it, so an
	// acceptance of that subject is the row's even if it names nobody.
	OwnSubject bool
	// SoleRowWithSubject says no other row of the journal has the row's
	// subject (a personalised subject): an acceptance of that subject that
	// names nobody and that the claim ledger gives to no journal can only
	// be this row's among every campaign the ledger knows.
	SoleRowWithSubject bool
}

// reconCand is an acceptance (or refusal) receipt found in the mailbox.
type reconCand struct {
	Code    string
	Date    time.Time
	InboxID string
	// Recipients are the addresses the receipt itself names as the send's
	// recipients (its tagged list, `a@b.it ("posta certificata")`); Named
	// says it has that list. An acceptance without it (the provider's
	// documented one has an empty text) names nobody: other addresses in
	// its text may be the sender's or the original mail's.
	Recipients []string
	Named      bool
	// Owner is the key of the row of this journal the claim ledger gives
	// the code to ("" for none): the candidate is that row's alone.
	Owner string
}

// attempt searches the mailbox for the given unknown rows and marks those
// found submitted. It returns the rows found.
func (r *reconciler) attempt(ctx context.Context, ids []int64) (map[int64]bool, error) {
	found := map[int64]bool{}
	bySubject := map[string][]journal.Row{}
	var subjects []string
	for _, id := range ids {
		row, err := r.e.j.Row(ctx, id)
		if err != nil {
			return found, fmt.Errorf("reconcile: %w", err)
		}
		if row.State != journal.StateUnknown {
			continue
		}
		if _, ok := bySubject[row.Subject]; !ok {
			subjects = append(subjects, row.Subject)
		}
		bySubject[row.Subject] = append(bySubject[row.Subject], row)
	}
	var errs []error
	for _, subject := range subjects {
		// Every unknown row of the subject takes part, due or not: an
		// acceptance is only given to a row when no other could claim it.
		group, err := r.unknownWithSubject(ctx, subject, bySubject[subject])
		if err != nil {
			return found, err
		}
		f, err := r.attemptSubject(ctx, subject, group)
		if r.prog != nil {
			r.prog.add(len(bySubject[subject]))
		}
		for id := range f {
			found[id] = true
		}
		if err != nil {
			if errors.Is(err, client.ErrUnauthorized) || ctx.Err() != nil {
				return found, err
			}
			errs = append(errs, err)
		}
	}
	return found, errors.Join(errs...)
}

// unknownWithSubject returns every unknown row with the subject.
func (r *reconciler) unknownWithSubject(ctx context.Context, subject string, due []journal.Row) ([]journal.Row, error) {
	all, err := r.e.j.RowsInState(ctx, 0, journal.StateUnknown)
	if err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	out := slices.Clone(due)
	for _, row := range all {
		if row.Subject == subject && !slices.ContainsFunc(out, func(o journal.Row) bool { return o.ID == row.ID }) {
			out = append(out, row)
		}
	}
	return out, nil
}

func (r *reconciler) attemptSubject(ctx context.Context, subject string, rows []journal.Row) (map[int64]bool, error) {
	e := r.e
	oldest := rows[0].SendingAt
	for _, row := range rows {
		if row.SendingAt.Before(oldest) {
			oldest = row.SendingAt
		}
	}
	// Receipts are dated by the provider's clock, the journal by this
	// computer's: widen the window by how far apart they are, or a computer
	// whose clock is off (no NTP) never finds an acceptance, and
	// --resend-unknown sends the row twice.
	offset, err := r.clockOffset(ctx)
	if err != nil {
		return nil, err
	}
	before, after := e.skew+max(-offset, 0), e.c.Sending.ReconcileWindow+max(offset, 0)
	since := oldest.Add(-before)
	for _, row := range rows {
		delete(r.searched, row.ID)
	}
	var cands []reconCand
	complete := false
	for page := 1; page <= maxInboxPagesPerSubject; page++ {
		if err := e.pollLim.Wait(ctx); err != nil {
			return nil, err
		}
		p, err := e.cl.Inbox(ctx, subject, page)
		if err != nil {
			return nil, fmt.Errorf("reconcile: search the mailbox: %w", err)
		}
		if r.prog != nil {
			r.prog.describe(fmt.Sprintf("mailbox page %d of %d for %q", page, max(p.Pages, page), subject))
		}
		older := 0
		for _, in := range p.Entries {
			if !in.Date.IsZero() && in.Date.Before(since) {
				older++
				continue
			}
			c := client.Classify(in.Subject, "")
			if !provesSend(c, in.Subject) || c.Subject != subject || c.Code == "" {
				continue
			}
			taken, err := e.j.MessageIDTaken(ctx, c.Code)
			if err != nil {
				return nil, fmt.Errorf("reconcile: %w", err)
			}
			if !taken && !slices.ContainsFunc(cands, func(o reconCand) bool { return o.Code == c.Code }) {
				cands = append(cands, reconCand{Code: c.Code, Date: in.Date, InboxID: in.ID})
			}
		}
		// The mailbox lists the newest first: a page of only older
		// messages means the rest is older still.
		if len(p.Entries) == 0 || older == len(p.Entries) || page >= p.Pages {
			complete = true
			break
		}
	}
	if !complete {
		return nil, fmt.Errorf("reconcile: the search of the mailbox for %q stopped after %d pages without reaching "+
			"the time of the send", subject, maxInboxPagesPerSubject)
	}
	if cands, err = r.dropClaimed(ctx, cands); err != nil {
		return nil, err
	}
	for i := range cands {
		if err := e.pollLim.Wait(ctx); err != nil {
			return nil, err
		}
		m, err := e.cl.InboxMessage(ctx, cands[i].InboxID)
		if err != nil {
			return nil, fmt.Errorf("reconcile: read a receipt: %w", err)
		}
		for addr := range acceptanceTags(m.Body) {
			cands[i].Recipients = append(cands[i].Recipients, addr)
			cands[i].Named = true
		}
	}
	// A send in flight (sending) may be the one an acceptance found belongs
	// to, and so may a row that became unknown during the search: they
	// take part as claimants, never given anything here. Read after the
	// search, sending before unknown: a row whose acceptance the search saw
	// was committed as sending before it, and is in one list or the other.
	claimants, err := e.j.RowsInState(ctx, 0, journal.StateSending, journal.StateUnknown)
	if err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	withSubject, err := e.j.RowsWithSubject(ctx, subject)
	if err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	soleRow := withSubject == 1
	own := make(map[int64]bool, len(rows))
	rr := make([]reconRow, 0, len(rows))
	for _, row := range rows {
		own[row.ID] = true
		rr = append(rr, e.reconRow(row, soleRow))
	}
	for _, row := range claimants {
		if row.Subject == subject && !own[row.ID] {
			rr = append(rr, e.reconRow(row, soleRow))
		}
	}
	matches, ambiguous := matchSends(rr, cands, before, after)
	ambiguous = slices.DeleteFunc(ambiguous, func(id int64) bool { return !own[id] })
	wctx := context.WithoutCancel(ctx)
	found := map[int64]bool{}
	for _, row := range rows {
		delete(r.ambiguous, row.ID)
	}
	for _, id := range ambiguous {
		r.ambiguous[id] = true
	}
	for _, row := range rows {
		// A row given an acceptance below is searched only once that is
		// recorded: if recording fails, the acceptance still exists.
		if _, ok := matches[row.ID]; !ok {
			r.searched[row.ID] = true
		}
	}
	if len(ambiguous) > 0 {
		e.log.Warn("acceptances found that could belong to more than one row, or that name no recipient: none is assigned",
			"subject", subject, "rows", len(ambiguous))
		if err := e.j.AddEvent(wctx, EventReconcileAmbiguous, map[string]any{"row_ids": ambiguous, "subject": subject}); err != nil {
			return found, fmt.Errorf("reconcile: %w", err)
		}
	}
	for _, row := range rows {
		c, ok := matches[row.ID]
		if !ok {
			continue
		}
		// The ledger first, as for a send: another journal's run may have
		// claimed the code since the search.
		if err := e.claim(wctx, row, c.Code); errors.Is(err, journal.ErrClaimed) {
			e.log.Warn("an acceptance found for the row belongs to another row: not taken", "row", row.RowNumber,
				"key", row.Key, "error", err)
			continue
		} else if err != nil {
			return found, fmt.Errorf("reconcile: %w", err)
		}
		err := e.j.MarkSubmitted(wctx, row.ID, c.Code)
		if errors.Is(err, journal.ErrConflict) {
			e.log.Warn("reconciled row changed meanwhile", "row", row.RowNumber, "error", err)
			continue
		}
		if err != nil {
			return found, fmt.Errorf("reconcile: %w", err)
		}
		if err := e.j.AddEvent(wctx, EventReconciled, map[string]any{
			"row_id": row.ID, "key": row.Key, "message_id": c.Code, "inbox_id": c.InboxID,
			"receipt_date": c.Date.Format(time.RFC3339),
		}); err != nil {
			return found, fmt.Errorf("reconcile: %w", err)
		}
		e.log.Info("reconciled: the send happened", "row", row.RowNumber, "key", row.Key, "message_id", c.Code)
		found[row.ID] = true
		r.found++
		if r.tr != nil {
			if err := r.tr.adopt(ctx, row.ID); err != nil {
				return found, err
			}
		}
	}
	return found, nil
}

// reconRow is how matching sees a row; soleRow says no other row of the
// journal has its subject.
func (e *runEnv) reconRow(row journal.Row, soleRow bool) reconRow {
	return reconRow{ID: row.ID, Key: row.Key, Recipients: row.Recipients, SendingAt: row.SendingAt,
		OwnSubject: e.ownSubject(row), SoleRowWithSubject: soleRow}
}

// dropClaimed removes the candidates the mailbox's claim ledger gives to
// a row of another journal (another campaign's send, or an earlier
// journal's of this campaign), and ties those it gives to a row of this
// journal to that row: a run that stopped between its claim and its
// journal left it so.
func (r *reconciler) dropClaimed(ctx context.Context, cands []reconCand) ([]reconCand, error) {
	if len(cands) == 0 {
		return cands, nil
	}
	codes := make([]string, len(cands))
	for i, c := range cands {
		codes[i] = c.Code
	}
	owners, err := r.e.ledger.ClaimedAmong(ctx, codes)
	if err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	out := cands[:0]
	for _, c := range cands {
		o, ok := owners[c.Code]
		switch {
		case !ok:
		case o.JournalID != r.e.j.ID():
			r.e.log.Debug("an acceptance of the subject is another journal's send", "message_id", c.Code,
				"owner_journal", o.JournalPath, "owner_key", o.RowKey)
			continue
		default:
			c.Owner = o.RowKey
		}
		out = append(out, c)
	}
	return out, nil
}

// clockOffsetSamples bounds the rows clockOffset reads.
const clockOffsetSamples = 25

// clockOffset estimates how far the dates of the provider's receipts run
// ahead of this computer's clock (negative: behind), from rows whose
// acceptance is archived: the acceptance's date less the journal's sending
// time, the median of a few rows. It includes the provider's acceptance
// delay (a second or two), which only widens the match window a little. 0
// while no acceptance is archived.
func (r *reconciler) clockOffset(ctx context.Context) (time.Duration, error) {
	rows, err := r.e.j.RowsInState(ctx, clockOffsetSamples, journal.StateAccepted, journal.StateDelivered,
		journal.StateFailed, journal.StateExpired, journal.StateAcceptedNotCertifiable)
	if err != nil {
		return 0, fmt.Errorf("reconcile: %w", err)
	}
	var samples []time.Duration
	for _, row := range rows {
		if row.SendingAt.IsZero() {
			continue
		}
		receipts, err := r.e.j.Receipts(ctx, row.ID)
		if err != nil {
			return 0, fmt.Errorf("reconcile: %w", err)
		}
		for _, rc := range receipts {
			if rc.Kind == string(client.KindAcceptance) && !rc.Date.IsZero() {
				samples = append(samples, rc.Date.Sub(row.SendingAt))
				break
			}
		}
	}
	if len(samples) == 0 {
		return 0, nil
	}
	slices.Sort(samples)
	return samples[len(samples)/2], nil
}

// provesSend reports whether a receipt proves that the service acted on a
// send: its acceptance, or its refusal as a whole (a refused message was
// still submitted, and has a code to track).
func provesSend(c client.Classification, subject string) bool {
	switch c.Kind {
	case client.KindAcceptance, client.KindNonAcceptance:
		return true
	case client.KindVirus:
		return hasPrefixFold(subject, "AVVISO DI NON ACCETTAZIONE")
	}
	return false
}

// matchSends gives receipts to unknown rows (of one subject) so that no
// receipt goes to two rows, and no row gets a receipt another row could
// equally claim. A receipt fits a row when it is dated from the row's
// sending time (less skew) to the end of its reconciliation window, and:
// the claim ledger gives it to that row; or it names exactly the row's
// recipients in its tagged list; or it names nobody and the row's subject
// carries the row's own reference or is given to no other row of the
// journal. Then:
//
//  1. a row with one fitting receipt that fits no other row gets it, again
//     and again as the rows and receipts left shrink;
//  2. what is left falls into groups of rows and receipts that fit each
//     other; a group with as many receipts as rows, where the rows in
//     sending order and the receipts in date order fit pairwise, is given
//     in that order (every row of it was sent, and sends are acted on in
//     order);
//  3. the rows of any other group are ambiguous: none gets a receipt.
//
// Rows with no fitting receipt are neither matched nor ambiguous, except
// that a row left unmatched is ambiguous when a receipt that names nobody,
// and that no row got, is dated within its window: it may be the row's
// send, which nothing can prove or rule out.
func matchSends(rows []reconRow, cands []reconCand, skew, window time.Duration) (map[int64]reconCand, []int64) {
	inWindow := func(r reconRow, c reconCand) bool {
		return c.Date.IsZero() || !(c.Date.Before(r.SendingAt.Add(-skew)) || c.Date.After(r.SendingAt.Add(window)))
	}
	fits := func(r reconRow, c reconCand) bool {
		if !inWindow(r, c) {
			return false
		}
		switch {
		case c.Owner != "":
			return c.Owner == r.Key
		case !c.Named:
			return r.OwnSubject || r.SoleRowWithSubject
		case len(c.Recipients) != len(r.Recipients):
			return false
		}
		for _, a := range r.Recipients {
			if !slices.ContainsFunc(c.Recipients, func(b string) bool { return strings.EqualFold(a, b) }) {
				return false
			}
		}
		return true
	}
	matches := map[int64]reconCand{}
	rowLeft := make([]bool, len(rows))
	candLeft := make([]bool, len(cands))
	for i := range rowLeft {
		rowLeft[i] = true
	}
	for i := range candLeft {
		candLeft[i] = true
	}
	fitting := func(ri int) []int {
		var out []int
		for ci := range cands {
			if candLeft[ci] && fits(rows[ri], cands[ci]) {
				out = append(out, ci)
			}
		}
		return out
	}
	claimants := func(ci int) []int {
		var out []int
		for ri := range rows {
			if rowLeft[ri] && fits(rows[ri], cands[ci]) {
				out = append(out, ri)
			}
		}
		return out
	}
	for changed := true; changed; {
		changed = false
		for ri := range rows {
			if !rowLeft[ri] {
				continue
			}
			if fc := fitting(ri); len(fc) == 1 && len(claimants(fc[0])) == 1 {
				matches[rows[ri].ID] = cands[fc[0]]
				rowLeft[ri], candLeft[fc[0]] = false, false
				changed = true
			}
		}
	}
	// Groups: connected components of the rows and receipts left.
	var ambiguous []int64
	seenRow := make([]bool, len(rows))
	for start := range rows {
		if !rowLeft[start] || seenRow[start] || len(fitting(start)) == 0 {
			continue
		}
		var groupRows, groupCands []int
		seenCand := make([]bool, len(cands))
		stack := []int{start}
		seenRow[start] = true
		for len(stack) > 0 {
			ri := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			groupRows = append(groupRows, ri)
			for _, ci := range fitting(ri) {
				if seenCand[ci] {
					continue
				}
				seenCand[ci] = true
				groupCands = append(groupCands, ci)
				for _, rj := range claimants(ci) {
					if !seenRow[rj] {
						seenRow[rj] = true
						stack = append(stack, rj)
					}
				}
			}
		}
		slices.SortFunc(groupRows, func(a, b int) int {
			return cmp.Or(rows[a].SendingAt.Compare(rows[b].SendingAt), cmp.Compare(rows[a].ID, rows[b].ID))
		})
		slices.SortFunc(groupCands, func(a, b int) int {
			return cmp.Or(cands[a].Date.Compare(cands[b].Date), cmp.Compare(cands[a].Code, cands[b].Code))
		})
		inOrder := len(groupRows) == len(groupCands)
		for i := 0; inOrder && i < len(groupRows); i++ {
			inOrder = fits(rows[groupRows[i]], cands[groupCands[i]])
		}
		for i, ri := range groupRows {
			if inOrder {
				matches[rows[ri].ID] = cands[groupCands[i]]
				candLeft[groupCands[i]] = false
			} else {
				ambiguous = append(ambiguous, rows[ri].ID)
			}
		}
	}
	for ri, r := range rows {
		if _, ok := matches[r.ID]; ok || slices.Contains(ambiguous, r.ID) {
			continue
		}
		for ci, c := range cands {
			if candLeft[ci] && !c.Named && c.Owner == "" && inWindow(r, c) {
				ambiguous = append(ambiguous, rows[ri].ID)
				break
			}
		}
	}
	slices.Sort(ambiguous)
	return matches, ambiguous
}
