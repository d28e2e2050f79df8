package journal

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"iter"
	"time"
)

// Counts maps every row state to its number of rows (zero included).
type Counts map[State]int

// Total is the number of rows.
func (c Counts) Total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// Final is the number of rows in a final state.
func (c Counts) Final() int {
	n := 0
	for s, v := range c {
		if s.Final() {
			n += v
		}
	}
	return n
}

// Counts counts the rows by state.
func (r *Reader) Counts(ctx context.Context) (Counts, error) {
	q, err := r.db.QueryContext(ctx, "SELECT state, count(*) FROM rows GROUP BY state")
	if err != nil {
		return nil, fmt.Errorf("journal: counts: %w", err)
	}
	defer q.Close()
	c := Counts{}
	for _, s := range States() {
		c[s] = 0
	}
	for q.Next() {
		var s State
		var n int
		if err := q.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("journal: counts: %w", err)
		}
		c[s] = n
	}
	if err := q.Err(); err != nil {
		return nil, fmt.Errorf("journal: counts: %w", err)
	}
	return c, nil
}

// Times are the campaign's milestones; a zero time means "not yet".
type Times struct {
	// Created is when Init ran.
	Created time.Time
	// Started is when the first row went to sending.
	Started time.Time
	// LastSubmitted is the latest submission.
	LastSubmitted time.Time
	// Finished is when the last row reached a final state, once every row has.
	Finished time.Time
}

// Times returns the campaign's milestones, or an error matching
// ErrNotInitialized.
func (r *Reader) Times(ctx context.Context) (Times, error) {
	var t Times
	var created, started, lastSubmitted, lastFinal sql.NullInt64
	var open int
	err := r.db.QueryRowContext(ctx, `SELECT c.created_at, c.started_at,
		(SELECT max(submitted_at) FROM rows),
		(SELECT max(final_at) FROM rows),
		(SELECT count(*) FROM rows WHERE state NOT IN `+sqlList(finalStates()...)+`)
		FROM campaign c WHERE c.id = 1`).Scan(&created, &started, &lastSubmitted, &lastFinal, &open)
	if err == sql.ErrNoRows {
		return Times{}, fmt.Errorf("journal: times: %w", ErrNotInitialized)
	}
	if err != nil {
		return Times{}, fmt.Errorf("journal: times: %w", err)
	}
	t.Created, t.Started, t.LastSubmitted = fromMillis(created), fromMillis(started), fromMillis(lastSubmitted)
	if open == 0 {
		t.Finished = fromMillis(lastFinal)
	}
	return t, nil
}

// ReportRow is one line of the delivery report: one recipient of one row.
type ReportRow struct {
	RowID     int64
	RowNumber int
	Key       string
	Recipient string
	Subject   string
	MessageID string
	// State is this recipient's state in row-state words: the row's state
	// until tracking knows more about the recipient, then delivered,
	// failed, expired, accepted or accepted_not_certifiable for it alone.
	State State
	// RowState is the state of the whole row.
	RowState State
	// Error is the recipient's own error (failed, expired) once the row
	// is tracked, the row's error before (rejected, unknown).
	Error       string
	SubmittedAt time.Time
	AcceptedAt  time.Time
	DeliveredAt time.Time
	// FailedAt is when the recipient failed or expired, or the row was rejected.
	FailedAt time.Time
	// Warnings counts the time-limit warnings the recipient had.
	Warnings int
	// Receipts counts the archived receipts of the whole row.
	Receipts int
	// ChangedAfterSend says the campaign's files, at the last accepted
	// change, render the row differently from what was sent.
	ChangedAfterSend bool
	// Attempt is the row's current attempt (2 and more after a Retry).
	Attempt int
	// Decision is the operator's decision on the current attempt
	// (Resolve), "" when none.
	Decision Decision
}

// ReportRows yields the report lines by row number, then recipient in the
// row's order, from one consistent snapshot, without loading them all.
func (r *Reader) ReportRows(ctx context.Context) iter.Seq2[ReportRow, error] {
	const query = `SELECT r.id, r.row_number, r.key, rc.address, r.subject, r.message_id, r.state, rc.state,
		rc.error, r.last_error, r.submitted_at, r.accepted_at, rc.at, r.rejected_at, rc.warnings, r.receipts,
		r.current_sha256 IS NOT NULL, r.attempt, coalesce(r.decision, '')
		FROM rows r JOIN recipients rc ON rc.row_id = r.id
		ORDER BY r.row_number, r.id, rc.position`
	return func(yield func(ReportRow, error) bool) {
		r.stream(ctx, "report", query, func(s scanner) bool {
			var l ReportRow
			var msg sql.NullString
			var rcState RecipientState
			var rcError, rowError string
			var submitted, accepted, at, rejected sql.NullInt64
			if err := s.Scan(&l.RowID, &l.RowNumber, &l.Key, &l.Recipient, &l.Subject, &msg, &l.RowState, &rcState,
				&rcError, &rowError, &submitted, &accepted, &at, &rejected, &l.Warnings, &l.Receipts,
				&l.ChangedAfterSend, &l.Attempt, &l.Decision); err != nil {
				yield(ReportRow{}, fmt.Errorf("journal: report: %w", err))
				return false
			}
			l.MessageID = msg.String
			l.SubmittedAt, l.AcceptedAt = fromMillis(submitted), fromMillis(accepted)
			// A tracked row's error belongs to its recipients: one that was
			// delivered must not show another's failure.
			l.State, l.Error = l.RowState, rcError
			if !l.RowState.Tracked() {
				l.Error = rowError
			}
			if l.RowState.Tracked() {
				switch rcState {
				case RecipientAccepted:
					l.State = StateAccepted
				case RecipientDelivered:
					l.State, l.DeliveredAt = StateDelivered, fromMillis(at)
				case RecipientFailed:
					l.State, l.FailedAt = StateFailed, fromMillis(at)
				case RecipientExpired:
					l.State, l.FailedAt = StateExpired, fromMillis(at)
				case RecipientNotCertifiable:
					l.State = StateAcceptedNotCertifiable
				}
			}
			if l.RowState == StateRejected {
				l.FailedAt = fromMillis(rejected)
			}
			return yield(l, nil)
		}, func(err error) { yield(ReportRow{}, err) })
	}
}

// TimelinePoint is one sent row, for the report's charts.
type TimelinePoint struct {
	RowID       int64
	RowNumber   int
	State       State
	SubmittedAt time.Time
	AcceptedAt  time.Time
	// DeliveredAt is set when the row is delivered (to every recipient).
	DeliveredAt time.Time
	// FinalAt is when the row reached its final state, whatever it is.
	FinalAt time.Time
}

// Timeline yields every submitted row's times by submission time.
func (r *Reader) Timeline(ctx context.Context) iter.Seq2[TimelinePoint, error] {
	const query = `SELECT id, row_number, state, submitted_at, accepted_at, final_at FROM rows
		WHERE submitted_at IS NOT NULL ORDER BY submitted_at, id`
	return func(yield func(TimelinePoint, error) bool) {
		r.stream(ctx, "timeline", query, func(s scanner) bool {
			var p TimelinePoint
			var submitted, accepted, final sql.NullInt64
			if err := s.Scan(&p.RowID, &p.RowNumber, &p.State, &submitted, &accepted, &final); err != nil {
				yield(TimelinePoint{}, fmt.Errorf("journal: timeline: %w", err))
				return false
			}
			p.SubmittedAt, p.AcceptedAt, p.FinalAt = fromMillis(submitted), fromMillis(accepted), fromMillis(final)
			if p.State == StateDelivered {
				p.DeliveredAt = p.FinalAt
			}
			return yield(p, nil)
		}, func(err error) { yield(TimelinePoint{}, err) })
	}
}

// Event is one entry of the journal's append-only log.
type Event struct {
	ID int64
	At time.Time
	// RowID is the row the event is about, 0 for a campaign-wide event.
	RowID int64
	Kind  string
	// Detail is the event's JSON object ({} when it has none).
	Detail json.RawMessage
}

// Events yields the event log in order.
func (r *Reader) Events(ctx context.Context) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		r.stream(ctx, "events", "SELECT id, at, row_id, kind, detail FROM events ORDER BY id", func(s scanner) bool {
			var e Event
			var at, row sql.NullInt64
			var detail sql.NullString
			if err := s.Scan(&e.ID, &at, &row, &e.Kind, &detail); err != nil {
				yield(Event{}, fmt.Errorf("journal: events: %w", err))
				return false
			}
			e.At, e.RowID, e.Detail = fromMillis(at), row.Int64, json.RawMessage("{}")
			if detail.Valid {
				e.Detail = json.RawMessage(detail.String)
			}
			return yield(e, nil)
		}, func(err error) { yield(Event{}, err) })
	}
}
