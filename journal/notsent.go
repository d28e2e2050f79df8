package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// EventNotSent is the event of a row put back from sending to pending
// because its request provably never reached the service.
const EventNotSent = "not_sent"

// MarkNotSent puts a row back from sending to pending when its request
// provably never reached the service: the connection could not be opened,
// the service answered 401 or 429 (it did not act on the request), or the
// run stopped before the request was written. The attempt stays counted,
// the reason is kept as the row's last error and in the event log; the row
// is sent again by this run or the next. Calling it for a request that may
// have been written would risk a second send: use MarkUnknown then.
func (j *Journal) MarkNotSent(ctx context.Context, id int64, reason string) error {
	reason = clip(reason)
	return j.transition(ctx, id, step{op: "mark not sent", from: []State{StateSending}, to: StatePending,
		kind: EventNotSent, detail: map[string]any{"error": reason},
		set: func(ctx context.Context, tx *wtx, c current, now int64) error {
			return mustAffectOne(tx.exec(`UPDATE rows SET state = 'pending', last_error = ?,
				updated_at = ? WHERE id = ? AND state = 'sending'`, reason, now, c.id))
		}})
}

// MessageIDTaken reports whether a row of the journal already has the
// message id: reconciliation never gives a receipt whose code belongs to
// another row to an unknown row.
func (r *Reader) MessageIDTaken(ctx context.Context, messageID string) (bool, error) {
	var id int64
	messageID = strings.TrimSpace(messageID)
	// A retried attempt's message id stays its row's, like a current one.
	err := r.db.QueryRowContext(ctx, `SELECT id FROM rows WHERE message_id = ?
		UNION ALL SELECT row_id FROM attempts WHERE message_id = ? LIMIT 1`, messageID, messageID).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("journal: message id taken: %w", err)
	}
	return true, nil
}

// RowsWithSubject counts the rows of the journal whose subject is subject.
// Reconciliation uses it: an acceptance that names no recipient can only
// be a row's when no other row of the journal was given that subject.
func (r *Reader) RowsWithSubject(ctx context.Context, subject string) (int, error) {
	var n int
	if err := r.db.QueryRowContext(ctx, "SELECT count(*) FROM rows WHERE subject = ?", subject).Scan(&n); err != nil {
		return 0, fmt.Errorf("journal: rows with subject: %w", err)
	}
	return n, nil
}
