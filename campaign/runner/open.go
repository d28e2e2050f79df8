package runner

// Opening a campaign: preflight of every row, the journal created or
// amended (what changed since the last run), and the plan shown before the
// first send.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/journal"
)

// preflight checks every row and returns what the journal records of each.
func (e *runEnv) preflight(ctx context.Context) ([]journal.NewRow, error) {
	var rows []journal.NewRow
	rep, err := e.c.Preflight(ctx, campaign.PreflightOptions{OnRow: func(r *campaign.RowResult) error {
		rows = append(rows, journal.NewRow{
			Key: r.Key, RowNumber: r.Row, Recipients: r.Recipients, Subject: r.Subject, ContentSHA256: r.SHA256,
		})
		return nil
	}})
	if err != nil {
		return nil, fmt.Errorf("run: preflight: %w", err)
	}
	if !rep.OK() {
		var b strings.Builder
		_ = rep.WriteText(&b, campaign.TextOptions{})
		e.pr.Note(Note{Kind: NotePreflight, Text: strings.TrimSuffix(b.String(), "\n")})
		return nil, fmt.Errorf("run: preflight found %d problem(s), listed above; nothing was sent: %w", rep.ProblemCount, campaign.ErrInvalidInput)
	}
	if rep.WarningCount > 0 {
		for _, w := range rep.Warnings {
			e.log.Warn("preflight", "warning", w.String())
		}
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("run: the recipients file has no row to send: %w", campaign.ErrInvalidInput)
	}
	e.avgMessageKiB = float64(rep.Summary.TotalSize) / float64(max(rep.Summary.Messages, 1)) / 1024
	return rows, nil
}

// fingerprint is the campaign's fingerprint as the journal stores it.
func (e *runEnv) fingerprint() (journal.Fingerprint, error) {
	parts, err := e.c.Fingerprint()
	if err != nil {
		return nil, fmt.Errorf("run: %w", err)
	}
	fp := journal.Fingerprint{}
	for _, p := range parts {
		name := p.Name
		if p.Path != "" && p.Path != p.Name {
			name += " (" + p.Path + ")"
		}
		fp[name] = p.SHA256
	}
	return fp, nil
}

// openCampaign initialises a new journal or checks a resume: the same
// endpoint and sender, and the same campaign (or, with AllowChanges, any
// change that keeps every pending row; rows already sent keep what was
// sent). Either way no row to send may repeat a message already sent or
// another row's, unless AllowDuplicateContent.
func (e *runEnv) openCampaign(ctx context.Context, rows []journal.NewRow, opts RunOptions) (Plan, error) {
	plan := Plan{Campaign: e.c.Name, Journal: e.j.Path(), Endpoint: e.endpoint, Rate: e.c.Sending.Rate}
	fp, err := e.fingerprint()
	if err != nil {
		return plan, err
	}
	m, err := e.j.Meta(ctx)
	switch {
	case errors.Is(err, journal.ErrNotInitialized):
		if err := e.checkDuplicateContent(rows, nil, opts.AllowDuplicateContent); err != nil {
			return plan, err
		}
		n, err := e.j.Init(ctx, journal.Meta{Campaign: e.c.Name, Endpoint: e.endpoint, Sender: e.c.Sender.Address,
			Fingerprint: fp}, journal.RowsOf(rows))
		if err != nil {
			return plan, fmt.Errorf("run: %w", err)
		}
		e.log.Debug("journal created", "path", e.j.Path(), "rows", n)
		return plan, nil
	case err != nil:
		return plan, fmt.Errorf("run: %w", err)
	}
	plan.Resume = true
	if err := m.CheckTarget(e.endpoint, e.c.Sender.Address); err != nil {
		return plan, fmt.Errorf("run: %w", err)
	}
	digests, err := e.digests(ctx)
	if err != nil {
		return plan, err
	}
	changes, blocking, sentChanged := diff(m.Fingerprint, fp, rows, digests)
	if len(blocking) > 0 {
		return plan, fmt.Errorf("run: the campaign changed since the journal %s was written, and rows not sent yet "+
			"are no longer in the recipients:\n  %s\nput them back (a row is never forgotten before it is sent): %w",
			e.j.Path(), strings.Join(limitLines(blocking, 20), "\n  "), campaign.ErrInvalidInput)
	}
	if err := e.checkDuplicateContent(rows, digests, opts.AllowDuplicateContent); err != nil {
		return plan, err
	}
	if len(changes) == 0 {
		return plan, nil
	}
	plan.Changes = changes
	if !opts.AllowChanges {
		keep := ""
		if sentChanged > 0 {
			keep = fmt.Sprintf("; the %d row(s) already sent keep what was sent, are not sent again and are shown as "+
				"\"changed after send\"", sentChanged)
		}
		return plan, fmt.Errorf("run: the campaign changed since the journal %s was written:\n  %s\n"+
			"undo the changes, or run again with --allow-changes to send the new and changed rows not sent yet%s: %w",
			e.j.Path(), strings.Join(limitLines(changes, 20), "\n  "), keep, campaign.ErrInvalidInput)
	}
	ar, err := e.j.Amend(ctx, fp, journal.RowsOf(rows))
	if err != nil {
		return plan, fmt.Errorf("run: %w", err)
	}
	text := fmt.Sprintf("Changes accepted (--allow-changes): %d new row(s), %d pending row(s) with new content.", ar.Added, ar.Updated)
	if ar.ChangedAfterSend > 0 {
		text += fmt.Sprintf("\n%d row(s) already sent render differently now: they keep what was sent, are not sent "+
			"again, and status and the report show them as \"changed after send\" (to send them the new content, "+
			"give them new keys).", ar.ChangedAfterSend)
	}
	e.note(NoteChangesAccepted, "%s", text)
	return plan, nil
}

func limitLines(lines []string, n int) []string {
	if len(lines) <= n {
		return lines
	}
	return append(slices.Clone(lines[:n]), fmt.Sprintf("... and %d more", len(lines)-n))
}

// digests reads every journal row's digest, by row number.
func (e *runEnv) digests(ctx context.Context) ([]journal.RowDigest, error) {
	var out []journal.RowDigest
	for d, err := range e.j.RowDigests(ctx) {
		if err != nil {
			return nil, fmt.Errorf("run: %w", err)
		}
		out = append(out, d)
	}
	return out, nil
}

// diff says what changed between the journal and the campaign as it is
// now: the fingerprint's parts and, row by row, new rows, changed content
// and vanished rows. blocking lists the changes --allow-changes cannot
// accept: a pending row removed. sentChanged counts the rows past pending
// that render differently from what was sent and were not yet marked so.
func diff(old, fresh journal.Fingerprint, rows []journal.NewRow, digests []journal.RowDigest) (changes, blocking []string, sentChanged int) {
	for _, pc := range old.Diff(fresh) {
		changes = append(changes, pc.String())
	}
	byKey := make(map[string]journal.NewRow, len(rows))
	for _, r := range rows {
		byKey[r.Key] = r
	}
	seen := make(map[string]bool, len(rows))
	for _, d := range digests {
		seen[d.Key] = true
		r, ok := byKey[d.Key]
		switch {
		case !ok && d.State == journal.StatePending:
			line := fmt.Sprintf("row %d (key %q) is no longer in the recipients, and was not sent", d.RowNumber, d.Key)
			changes = append(changes, line)
			blocking = append(blocking, line)
		case !ok:
			// A row already sent stays in the journal and the report: its
			// message went out whatever the file says now.
			changes = append(changes, fmt.Sprintf("row %d (key %q) is no longer in the recipients (already %s: kept)",
				d.RowNumber, d.Key, d.State))
		case r.ContentSHA256 == d.ContentSHA256:
			if d.CurrentSHA256 != "" {
				changes = append(changes, fmt.Sprintf("row %d (key %q) renders as it was sent again (%s)", r.RowNumber, d.Key, d.State))
			}
		case d.State == journal.StatePending:
			changes = append(changes, fmt.Sprintf("row %d (key %q): content changed (not sent yet)", r.RowNumber, d.Key))
		case r.ContentSHA256 != d.CurrentSHA256:
			// The change was not accepted before (or changed again).
			changes = append(changes, fmt.Sprintf("row %d (key %q): content changed after it was sent (already %s: "+
				"it keeps what was sent)", r.RowNumber, d.Key, d.State))
			sentChanged++
		}
	}
	for _, r := range rows {
		if !seen[r.Key] {
			changes = append(changes, fmt.Sprintf("row %d (key %q) is new", r.RowNumber, r.Key))
		}
	}
	return changes, blocking, sentChanged
}

// checkQuota warns when the receipts of the rows still to send would not
// fit in the mailbox: a full PEC mailbox refuses receipts, which are the
// sender's evidence. A failure to read the quota is only logged.
func (e *runEnv) checkQuota(ctx context.Context) {
	pending, err := e.j.RowsInState(ctx, 0, journal.StatePending)
	if err != nil || len(pending) == 0 {
		return
	}
	q, err := e.cl.Quota(ctx, "INBOX")
	if err != nil {
		e.log.Warn("could not read the mailbox quota", "error", err)
		return
	}
	// The quota's unit is documented as megabytes, but the contract's
	// example (171012 of 1048576) and the sandbox read as KiB. Count an
	// acceptance of a few KiB per message and, per recipient, a delivery
	// receipt that carries the whole message (of the preflight's mean size).
	var need float64
	for _, r := range pending {
		need += 4 + float64(len(r.Recipients))*(4+e.avgMessageKiB)
	}
	free := q.Limit - q.Usage
	if q.Limit > 0 && need > free {
		e.note(NoteQuota, "Warning: the receipts of %d message(s) need about %.0f MB, but the mailbox has %.0f MB free of %.0f MB: "+
			"receipts that do not fit are refused. Free some space, or set tracking.delete_receipts: true.",
			len(pending), need/1024, math.Max(free, 0)/1024, q.Limit/1024)
	}
}

// fillPlan counts the rows for the plan.
func (e *runEnv) fillPlan(ctx context.Context, plan *Plan, limit int) error {
	counts, err := e.j.Counts(ctx)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	plan.Rows = counts.Total()
	plan.Pending = counts[journal.StatePending]
	plan.Unknown = counts[journal.StateUnknown] + counts[journal.StateSending]
	plan.Done = plan.Rows - plan.Pending - plan.Unknown
	plan.ToSend = plan.Pending
	if limit > 0 && limit < plan.ToSend {
		plan.ToSend = limit
	}
	now := e.clk.Now()
	sent, err := e.j.SentPerDay(ctx, campaign.Rome(), now)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	s := e.c.Sending
	plan.DailyLimit, plan.SentToday, plan.Window = s.DailyLimit, sent, s.Window.String()
	if plan.ToSend > 0 {
		plan.ETA = EstimateSending(e.c, now, plan.ToSend, sent)
		plan.Days = calendarDays(now, now.Add(plan.ETA))
	}
	return nil
}

// calendarDays counts the calendar days in Europe/Rome from a to b, both
// included.
func calendarDays(a, b time.Time) int {
	n := 1
	for d := campaign.NextDay(a); !d.After(b); d = campaign.NextDay(d) {
		n++
	}
	return n
}
