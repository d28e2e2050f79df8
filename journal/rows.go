package journal

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"time"
)

// Row is a journal row. Times are in UTC with millisecond precision; a
// zero time means "never".
type Row struct {
	ID            int64
	Key           string
	RowNumber     int
	Recipients    []string
	Subject       string
	ContentSHA256 string
	State         State
	// MessageID is the API's id of the send; empty before submitted.
	MessageID string
	// Attempts counts the times the row went to sending.
	Attempts int
	// LastError is the error of the current state (rejected, unknown,
	// failed, expired), empty otherwise.
	LastError string
	CreatedAt time.Time
	// SendingAt is the start of the latest attempt.
	SendingAt   time.Time
	SubmittedAt time.Time
	UnknownAt   time.Time
	RejectedAt  time.Time
	AcceptedAt  time.Time
	// FinalAt is when the row reached its final state.
	FinalAt    time.Time
	NextPollAt time.Time
	Polls      int
	// Receipts counts the archived receipts of the row.
	Receipts          int
	ReceiptsDeletedAt time.Time
	UpdatedAt         time.Time
	// CurrentSHA256 is, for a row past pending whose content the campaign's
	// files render differently since it was sent (accepted with Amend), the
	// hash they render now; "" otherwise. ContentSHA256 stays what was sent.
	CurrentSHA256 string
	// Attempt is the number of the row's current attempt: 1, and one more
	// for each Retry (the previous ones are in Reader.Attempts).
	Attempt int
	// Decision is what the operator decided of the row's current attempt
	// when its outcome was unknown (Resolve), "" when nobody did;
	// DecidedAt is when.
	Decision  Decision
	DecidedAt time.Time
}

// ChangedAfterSend reports whether the campaign's files, at the last
// accepted change, render the row differently from what was sent.
func (r Row) ChangedAfterSend() bool { return r.CurrentSHA256 != "" }

// recipientsColumn reads a row's addresses, in order, as a JSON array.
const recipientsColumn = `(SELECT json_group_array(address) FROM
	(SELECT address FROM recipients WHERE row_id = rows.id ORDER BY position))`

const rowColumns = `id, key, row_number, ` + recipientsColumn + `, subject, lower(hex(content_sha256)), state, message_id, attempts, last_error,
	created_at, sending_at, submitted_at, unknown_at, rejected_at, accepted_at, final_at, next_poll_at, polls,
	receipts, receipts_deleted_at, updated_at, coalesce(lower(hex(current_sha256)), ''), attempt, coalesce(decision, ''),
	decided_at`

type scanner interface{ Scan(dest ...any) error }

func scanRow(s scanner) (Row, error) {
	var r Row
	var recipients string
	var msg sql.NullString
	var created, sending, submitted, unknown, rejected, accepted, final, nextPoll, deleted, updated, decided sql.NullInt64
	if err := s.Scan(&r.ID, &r.Key, &r.RowNumber, &recipients, &r.Subject, &r.ContentSHA256, &r.State, &msg,
		&r.Attempts, &r.LastError, &created, &sending, &submitted, &unknown, &rejected, &accepted, &final, &nextPoll,
		&r.Polls, &r.Receipts, &deleted, &updated, &r.CurrentSHA256, &r.Attempt, &r.Decision, &decided); err != nil {
		return Row{}, err
	}
	if err := json.Unmarshal([]byte(recipients), &r.Recipients); err != nil {
		return Row{}, fmt.Errorf("row %d: recipients: %w", r.ID, err)
	}
	r.MessageID = msg.String
	r.CreatedAt, r.SendingAt, r.SubmittedAt = fromMillis(created), fromMillis(sending), fromMillis(submitted)
	r.UnknownAt, r.RejectedAt, r.AcceptedAt = fromMillis(unknown), fromMillis(rejected), fromMillis(accepted)
	r.FinalAt, r.NextPollAt = fromMillis(final), fromMillis(nextPoll)
	r.ReceiptsDeletedAt, r.UpdatedAt, r.DecidedAt = fromMillis(deleted), fromMillis(updated), fromMillis(decided)
	return r, nil
}

func (r *Reader) queryRows(ctx context.Context, op, query string, args ...any) ([]Row, error) {
	q, err := r.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("journal: %s: %w", op, err)
	}
	defer q.Close()
	var out []Row
	for q.Next() {
		row, err := scanRow(q)
		if err != nil {
			return nil, fmt.Errorf("journal: %s: %w", op, err)
		}
		out = append(out, row)
	}
	if err := q.Err(); err != nil {
		return nil, fmt.Errorf("journal: %s: %w", op, err)
	}
	return out, nil
}

// Row returns the row with id, or an error matching ErrNotFound.
func (r *Reader) Row(ctx context.Context, id int64) (Row, error) {
	return r.oneRow(ctx, "row", "SELECT "+rowColumns+" FROM rows WHERE id = ?", id)
}

// RowByKey returns the row with key, or an error matching ErrNotFound.
func (r *Reader) RowByKey(ctx context.Context, key string) (Row, error) {
	return r.oneRow(ctx, "row by key", "SELECT "+rowColumns+" FROM rows WHERE key = ?", key)
}

func (r *Reader) oneRow(ctx context.Context, op, query string, arg any) (Row, error) {
	row, err := scanRow(r.db.QueryRowContext(ctx, query, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return Row{}, fmt.Errorf("journal: %s %v: %w", op, arg, ErrNotFound)
	}
	if err != nil {
		return Row{}, fmt.Errorf("journal: %s: %w", op, err)
	}
	return row, nil
}

// RowsInState returns up to limit rows in any of states, by row number
// (limit <= 0: all). The sender takes RowsInState(ctx, n, StatePending);
// reconciliation takes StateSending and StateUnknown.
func (r *Reader) RowsInState(ctx context.Context, limit int, states ...State) ([]Row, error) {
	if len(states) == 0 {
		return nil, errors.New("journal: rows in state: no state given")
	}
	for _, s := range states {
		if !s.Valid() {
			return nil, fmt.Errorf("journal: rows in state: invalid state %q", s)
		}
	}
	// One query per state keeps each on the (state, row_number) index; the
	// merge below restores row-number order across states.
	var out []Row
	for _, s := range states {
		rows, err := r.queryRows(ctx, "rows in state", rowsInStateQuery, s, sqlLimit(limit))
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	sortRows(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

const rowsInStateQuery = "SELECT " + rowColumns + " FROM rows WHERE state = ? ORDER BY row_number, id LIMIT ?"

// AttentionStates are the states a person should look at: rows that may or
// may not have been sent, and rows the API refused.
func AttentionStates() []State {
	return []State{StateSending, StateUnknown, StateRejected}
}

// NeedsAttention returns up to limit rows in AttentionStates, by row number.
func (r *Reader) NeedsAttention(ctx context.Context, limit int) ([]Row, error) {
	return r.RowsInState(ctx, limit, AttentionStates()...)
}

// The poll queries name their partial index: the planner would otherwise
// pick rows_state and sort every tracked row, and INDEXED BY makes the
// query fail rather than silently scan if the index ever stops fitting.
const (
	dueForPollQuery = "SELECT " + rowColumns + ` FROM rows INDEXED BY rows_due
		WHERE state IN ('submitted', 'accepted') AND coalesce(next_poll_at, 0) <= ?
		ORDER BY coalesce(next_poll_at, 0), id LIMIT ?`
	nextPollQuery = `SELECT coalesce(next_poll_at, 0) FROM rows INDEXED BY rows_due
		WHERE state IN ('submitted', 'accepted') ORDER BY coalesce(next_poll_at, 0), id LIMIT 1`
)

// DueForPoll returns up to limit tracked, non-final rows whose next poll
// time has come (by the journal's clock), earliest first. A row whose next
// poll was never scheduled is due at once.
func (r *Reader) DueForPoll(ctx context.Context, limit int) ([]Row, error) {
	return r.queryRows(ctx, "due for poll", dueForPollQuery, r.nowMillis(), sqlLimit(limit))
}

// NextPoll returns the earliest next poll time among tracked, non-final
// rows (the zero time if one was never scheduled: due now), and false if
// no row is left to track.
func (r *Reader) NextPoll(ctx context.Context) (time.Time, bool, error) {
	var next sql.NullInt64
	err := r.db.QueryRowContext(ctx, nextPollQuery).Scan(&next)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("journal: next poll: %w", err)
	}
	if next.Int64 == 0 {
		return time.Time{}, true, nil
	}
	return fromMillis(next), true, nil
}

// ReceiptsToDelete returns up to limit final rows with archived receipts
// not yet deleted from the mailbox, by row number.
func (r *Reader) ReceiptsToDelete(ctx context.Context, limit int) ([]Row, error) {
	return r.queryRows(ctx, "receipts to delete", "SELECT "+rowColumns+` FROM rows
		WHERE state IN `+sqlList(StateDelivered, StateFailed, StateExpired, StateAcceptedNotCertifiable)+`
		AND receipts > 0 AND receipts_deleted_at IS NULL ORDER BY row_number, id LIMIT ?`, sqlLimit(limit))
}

// ChangedAfterSend returns up to limit rows changed after send (see
// Row.CurrentSHA256), by row number, and how many there are in all.
func (r *Reader) ChangedAfterSend(ctx context.Context, limit int) ([]Row, int, error) {
	var n int
	if err := r.db.QueryRowContext(ctx, "SELECT count(*) FROM rows WHERE current_sha256 IS NOT NULL").Scan(&n); err != nil {
		return nil, 0, fmt.Errorf("journal: changed after send: %w", err)
	}
	if n == 0 {
		return nil, 0, nil
	}
	rows, err := r.queryRows(ctx, "changed after send", "SELECT "+rowColumns+
		" FROM rows WHERE current_sha256 IS NOT NULL ORDER BY row_number, id LIMIT ?", sqlLimit(limit))
	return rows, n, err
}

// RowDigest is what a resume compares with a fresh preflight.
type RowDigest struct {
	ID            int64
	Key           string
	RowNumber     int
	ContentSHA256 string
	State         State
	// CurrentSHA256 is as in Row: set only for a row changed after send.
	CurrentSHA256 string
}

// RowDigests yields every row's digest by row number. It reads one
// snapshot; stop early by breaking out of the loop.
func (r *Reader) RowDigests(ctx context.Context) iter.Seq2[RowDigest, error] {
	return func(yield func(RowDigest, error) bool) {
		r.stream(ctx, "row digests", `SELECT id, key, row_number, lower(hex(content_sha256)), state,
			coalesce(lower(hex(current_sha256)), '') FROM rows ORDER BY row_number, id`,
			func(s scanner) bool {
				var d RowDigest
				if err := s.Scan(&d.ID, &d.Key, &d.RowNumber, &d.ContentSHA256, &d.State, &d.CurrentSHA256); err != nil {
					yield(RowDigest{}, fmt.Errorf("journal: row digests: %w", err))
					return false
				}
				return yield(d, nil)
			}, func(err error) { yield(RowDigest{}, err) })
	}
}

// stream runs query in a read transaction (one snapshot, even while a run
// writes) and hands each result row to each until it returns false.
func (r *Reader) stream(ctx context.Context, op, query string, each func(scanner) bool, fail func(error)) {
	tx, err := r.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		fail(fmt.Errorf("journal: %s: %w", op, err))
		return
	}
	defer tx.Rollback()
	q, err := tx.QueryContext(ctx, query)
	if err != nil {
		fail(fmt.Errorf("journal: %s: %w", op, err))
		return
	}
	defer q.Close()
	for q.Next() {
		if !each(q) {
			return
		}
	}
	if err := q.Err(); err != nil {
		fail(fmt.Errorf("journal: %s: %w", op, err))
	}
}

// sqlLimit turns "no limit" into SQLite's -1.
func sqlLimit(limit int) int {
	if limit <= 0 {
		return -1
	}
	return limit
}

func sortRows(rows []Row) {
	slices.SortFunc(rows, func(a, b Row) int {
		if c := cmp.Compare(a.RowNumber, b.RowNumber); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}
