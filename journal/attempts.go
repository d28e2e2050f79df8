package journal

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Event kinds of the operator's decisions.
const (
	// EventResolved: the operator decided what happened to an unknown row
	// (Resolve); detail {"as":"sent"|"not_sent","message_id":...,"note":...}.
	EventResolved = "resolved"
	// EventRetried: the operator queued a final row for a new attempt
	// (Retry); detail {"attempt":new number,"from":previous state,
	// "message_id":previous id,"error":previous error,"note":...}.
	EventRetried = "retried"
)

// Decision is what the operator decided of an unknown row.
type Decision string

// The decisions Resolve takes.
const (
	// DecidedSent: the message went out, with the message id the operator
	// gives; the row is tracked from it.
	DecidedSent Decision = "sent"
	// DecidedNotSent: the message never went out; the row is pending and
	// the next run sends it.
	DecidedNotSent Decision = "not_sent"
)

// Valid reports whether d is one of the decisions.
func (d Decision) Valid() bool { return d == DecidedSent || d == DecidedNotSent }

// RetryStates are the final states a row may be retried from: the message
// did not reach every recipient. A delivered row is never retried.
func RetryStates() []State { return []State{StateFailed, StateRejected, StateExpired} }

// attemptsMigration is the body of schema version 7.
func attemptsMigration(finals string) []string {
	recipientFinals := sqlList(RecipientDelivered, RecipientFailed, RecipientExpired, RecipientNotCertifiable)
	return append([]string{
		`ALTER TABLE rows ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1 CHECK (attempt >= 1)`,
		`ALTER TABLE rows ADD COLUMN decision TEXT CHECK (decision IS NULL OR decision IN ('sent', 'not_sent'))`,
		`ALTER TABLE rows ADD COLUMN decided_at INTEGER`,
		`ALTER TABLE recipients ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1`,
		// One line per attempt that a retry closed: what it was when the
		// operator queued the row again, its recipients' outcomes as JSON.
		`CREATE TABLE attempts (
			row_id INTEGER NOT NULL REFERENCES rows (id),
			attempt INTEGER NOT NULL CHECK (attempt >= 1),
			state TEXT NOT NULL,
			message_id TEXT,
			error TEXT NOT NULL,
			sending_at INTEGER,
			submitted_at INTEGER,
			accepted_at INTEGER,
			final_at INTEGER,
			receipts INTEGER NOT NULL,
			recipients TEXT NOT NULL CHECK (json_valid(recipients)),
			retried_at INTEGER NOT NULL,
			PRIMARY KEY (row_id, attempt)
		) WITHOUT ROWID`,
		// A message id belongs to one send for ever, also once retried.
		`CREATE UNIQUE INDEX attempts_message_id ON attempts (message_id) WHERE message_id IS NOT NULL`,
		`CREATE INDEX events_decisions ON events (row_id, id) WHERE kind IN ('resolved', 'retried')`,
		`DROP TRIGGER rows_final_never_goes_back`,
		`CREATE TRIGGER rows_final_never_goes_back BEFORE UPDATE OF state ON rows
		 WHEN OLD.state IN ` + finals + ` AND NEW.state IS NOT OLD.state AND NEW.attempt IS OLD.attempt
		 BEGIN SELECT RAISE(ABORT, 'a final row state never changes'); END`,
		`DROP TRIGGER rows_message_id_fixed`,
		`CREATE TRIGGER rows_message_id_fixed BEFORE UPDATE OF message_id ON rows
		 WHEN OLD.message_id IS NOT NULL AND NEW.message_id IS NOT OLD.message_id AND NEW.attempt IS OLD.attempt
		 BEGIN SELECT RAISE(ABORT, 'a row''s message id never changes'); END`,
		`CREATE TRIGGER rows_attempt_forward BEFORE UPDATE OF attempt ON rows
		 WHEN NEW.attempt IS NOT OLD.attempt
		   AND (NEW.attempt IS NOT OLD.attempt + 1 OR OLD.state NOT IN ` + finals + `
		     OR NOT EXISTS (SELECT 1 FROM attempts WHERE row_id = OLD.id AND attempt = OLD.attempt))
		 BEGIN SELECT RAISE(ABORT, 'a new attempt follows a final, archived one'); END`,
		`DROP TRIGGER recipients_final_never_goes_back`,
		`CREATE TRIGGER recipients_final_never_goes_back BEFORE UPDATE OF state ON recipients
		 WHEN OLD.state IN ` + recipientFinals + ` AND NEW.state IS NOT OLD.state AND NEW.attempt IS OLD.attempt
		 BEGIN SELECT RAISE(ABORT, 'a final recipient state never changes'); END`,
	}, appendOnly("attempts", "the attempts archive is")...)
}

// messageIDInAttempts refuses a message id that a retried attempt of any
// row had: it belongs to that send for ever.
func messageIDInAttempts(tx *wtx, messageID string) error {
	var rowNumber, attempt int
	var key string
	err := tx.queryRow(`SELECT r.row_number, r.key, a.attempt FROM attempts a JOIN rows r ON r.id = a.row_id
		WHERE a.message_id = ?`, messageID).Scan(&rowNumber, &key, &attempt)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	return fmt.Errorf("%w: message id %s already belongs to attempt %d of row %d (key %q)", ErrConflict, messageID, attempt, rowNumber, key)
}

// Resolve records the operator's decision on an unknown row, with an
// optional note: DecidedSent moves it to submitted with messageID (the row
// is then tracked from it; the id must belong to no other row or attempt),
// DecidedNotSent puts it back to pending (the next run sends it). A row in
// any other state is ErrConflict. The decision, its time and the note are
// an EventResolved and the row's Decision; when Resolve returns nil they
// are on disk.
func (j *Journal) Resolve(ctx context.Context, id int64, d Decision, messageID, note string) error {
	messageID, note = strings.TrimSpace(messageID), clip(note)
	detail := map[string]any{"as": d}
	if note != "" {
		detail["note"] = note
	}
	var s step
	switch d {
	case DecidedSent:
		if messageID == "" {
			return errors.New("journal: resolve: a row decided sent needs its message id")
		}
		detail["message_id"] = messageID
		s = submittedStep(messageID)
		s.op, s.from = "resolve sent", []State{StateUnknown}
	case DecidedNotSent:
		if messageID != "" {
			return errors.New("journal: resolve: a row decided not sent has no message id")
		}
		s = step{op: "resolve not sent", from: []State{StateUnknown}, to: StatePending,
			set: func(ctx context.Context, tx *wtx, c current, now int64) error {
				return mustAffectOne(tx.exec(`UPDATE rows SET state = 'pending', updated_at = ?
					WHERE id = ? AND state = 'unknown'`, now, c.id))
			}}
	default:
		return fmt.Errorf("journal: resolve: decision %q is neither %q nor %q", d, DecidedSent, DecidedNotSent)
	}
	s.kind, s.detail = EventResolved, detail
	set := s.set
	s.set = func(ctx context.Context, tx *wtx, c current, now int64) error {
		if err := set(ctx, tx, c, now); err != nil {
			return err
		}
		return mustAffectOne(tx.exec("UPDATE rows SET decision = ?, decided_at = ? WHERE id = ?", d, now, c.id))
	}
	return j.transition(ctx, id, s)
}

// Retry queues a row in one of RetryStates for a new attempt: the current
// attempt (state, message id, error, times, each recipient's outcome) is
// archived in the attempts history, the row goes back to pending with the
// next attempt number and its recipients back to pending, and an
// EventRetried keeps the decision and the note. The row is then sent again
// by the next run, exactly once, like any pending row; its receipts
// archive keeps those of every attempt. It returns the new attempt number.
func (j *Journal) Retry(ctx context.Context, id int64, note string) (int, error) {
	note = clip(note)
	var attempt int
	err := j.write(ctx, "retry", func(tx *wtx, now int64) error {
		c, err := loadCurrent(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := c.expect(RetryStates()...); err != nil {
			return err
		}
		var lastError string
		if err := tx.queryRow("SELECT attempt, last_error FROM rows WHERE id = ?", id).Scan(&attempt, &lastError); err != nil {
			return err
		}
		if _, err := tx.exec(`INSERT INTO attempts (row_id, attempt, state, message_id, error, sending_at, submitted_at,
			accepted_at, final_at, receipts, recipients, retried_at)
			SELECT id, attempt, state, message_id, last_error, sending_at, submitted_at, accepted_at, final_at, receipts,
				(SELECT json_group_array(json_object('address', address, 'state', state, 'at', at, 'error', error,
					'warnings', warnings)) FROM (SELECT * FROM recipients WHERE row_id = rows.id ORDER BY position)), ?
			FROM rows WHERE id = ?`, now, id); err != nil {
			return err
		}
		if _, err := tx.exec(`UPDATE recipients SET state = 'pending', at = NULL, error = '', warnings = 0,
			attempt = attempt + 1 WHERE row_id = ?`, id); err != nil {
			return err
		}
		if err := mustAffectOne(tx.exec(`UPDATE rows SET attempt = attempt + 1, state = 'pending', message_id = NULL,
			last_error = '', sending_at = NULL, submitted_at = NULL, unknown_at = NULL, rejected_at = NULL,
			accepted_at = NULL, final_at = NULL, next_poll_at = NULL, polls = 0, receipts = 0,
			receipts_deleted_at = NULL, current_sha256 = NULL, decision = NULL, decided_at = NULL, updated_at = ?
			WHERE id = ? AND state = ?`, now, id, c.state)); err != nil {
			return err
		}
		attempt++
		detail := map[string]any{"attempt": attempt, "from": c.state}
		if c.messageID != "" {
			detail["message_id"] = c.messageID
		}
		if lastError != "" {
			detail["error"] = lastError
		}
		if note != "" {
			detail["note"] = note
		}
		return insertEvent(ctx, tx, now, id, EventRetried, detail)
	})
	return attempt, err
}

// Attempt is a previous attempt of a row, archived by Retry.
type Attempt struct {
	// Number is the attempt's number, from 1.
	Number    int
	State     State
	MessageID string
	Error     string
	SendingAt time.Time
	// SubmittedAt, AcceptedAt and FinalAt are zero when the attempt never
	// got there.
	SubmittedAt time.Time
	AcceptedAt  time.Time
	FinalAt     time.Time
	Receipts    int
	// Recipients are the recipients' outcomes, in the row's order.
	Recipients []AttemptRecipient
	// RetriedAt is when the operator queued the row again.
	RetriedAt time.Time
}

// AttemptRecipient is one recipient's outcome in a previous attempt.
type AttemptRecipient struct {
	Address string         `json:"address"`
	State   RecipientState `json:"state"`
	// At is the outcome's time in Unix milliseconds (0: none).
	At       int64  `json:"at"`
	Error    string `json:"error"`
	Warnings int    `json:"warnings"`
}

// Attempts returns the previous attempts of a row, oldest first (none
// for a row never retried).
func (r *Reader) Attempts(ctx context.Context, rowID int64) ([]Attempt, error) {
	q, err := r.db.QueryContext(ctx, `SELECT attempt, state, message_id, error, sending_at, submitted_at, accepted_at,
		final_at, receipts, recipients, retried_at FROM attempts WHERE row_id = ? ORDER BY attempt`, rowID)
	if err != nil {
		return nil, fmt.Errorf("journal: attempts: %w", err)
	}
	defer q.Close()
	var out []Attempt
	for q.Next() {
		var a Attempt
		var msg sql.NullString
		var recipients string
		var sending, submitted, accepted, final, retried sql.NullInt64
		if err := q.Scan(&a.Number, &a.State, &msg, &a.Error, &sending, &submitted, &accepted, &final, &a.Receipts,
			&recipients, &retried); err != nil {
			return nil, fmt.Errorf("journal: attempts: %w", err)
		}
		if err := json.Unmarshal([]byte(recipients), &a.Recipients); err != nil {
			return nil, fmt.Errorf("journal: attempts of row %d: recipients: %w", rowID, err)
		}
		a.MessageID = msg.String
		a.SendingAt, a.SubmittedAt, a.AcceptedAt = fromMillis(sending), fromMillis(submitted), fromMillis(accepted)
		a.FinalAt, a.RetriedAt = fromMillis(final), fromMillis(retried)
		out = append(out, a)
	}
	if err := q.Err(); err != nil {
		return nil, fmt.Errorf("journal: attempts: %w", err)
	}
	return out, nil
}

// OperatorDecision is one decision of the operator, from the event log: a
// Resolve or a Retry.
type OperatorDecision struct {
	RowID     int64
	RowNumber int
	Key       string
	// Kind is EventResolved or EventRetried.
	Kind string
	At   time.Time
	// As is the decision of a Resolve; "" for a Retry.
	As Decision
	// MessageID is, for a Resolve, the id the operator gave; for a Retry,
	// the previous attempt's id ("" when it had none).
	MessageID string
	// Attempt is, for a Retry, the new attempt's number; From and Error
	// the previous attempt's state and error.
	Attempt int
	From    State
	Error   string
	Note    string
}

const decisionsQuery = `SELECT e.row_id, r.row_number, r.key, e.kind, e.at, coalesce(e.detail, '{}')
	FROM events e INDEXED BY events_decisions JOIN rows r ON r.id = e.row_id
	WHERE e.kind IN ('resolved', 'retried') ORDER BY e.id DESC LIMIT ?`

// Decisions returns up to limit of the operator's decisions, latest first
// (limit <= 0: all), and how many there are in all.
func (r *Reader) Decisions(ctx context.Context, limit int) ([]OperatorDecision, int, error) {
	var n int
	if err := r.db.QueryRowContext(ctx, `SELECT count(*) FROM events INDEXED BY events_decisions
		WHERE kind IN ('resolved', 'retried')`).Scan(&n); err != nil {
		return nil, 0, fmt.Errorf("journal: decisions: %w", err)
	}
	if n == 0 {
		return nil, 0, nil
	}
	q, err := r.db.QueryContext(ctx, decisionsQuery, sqlLimit(limit))
	if err != nil {
		return nil, 0, fmt.Errorf("journal: decisions: %w", err)
	}
	defer q.Close()
	var out []OperatorDecision
	for q.Next() {
		var d OperatorDecision
		var at int64
		var detail string
		if err := q.Scan(&d.RowID, &d.RowNumber, &d.Key, &d.Kind, &at, &detail); err != nil {
			return nil, 0, fmt.Errorf("journal: decisions: %w", err)
		}
		var dd struct {
			As        Decision `json:"as"`
			MessageID string   `json:"message_id"`
			Attempt   int      `json:"attempt"`
			From      State    `json:"from"`
			Error     string   `json:"error"`
			Note      string   `json:"note"`
		}
		if err := json.Unmarshal([]byte(detail), &dd); err != nil {
			return nil, 0, fmt.Errorf("journal: decisions: event of row %d: %w", d.RowID, err)
		}
		d.At = time.UnixMilli(at).UTC()
		d.As, d.MessageID, d.Attempt, d.From, d.Error, d.Note = dd.As, dd.MessageID, dd.Attempt, dd.From, dd.Error, dd.Note
		out = append(out, d)
	}
	if err := q.Err(); err != nil {
		return nil, 0, fmt.Errorf("journal: decisions: %w", err)
	}
	return out, n, nil
}

// RowsByNumber returns the rows with the row number n, by id: one, or none;
// more than one only when the recipients file changed between runs and a
// new row took the number of one no longer in it.
func (r *Reader) RowsByNumber(ctx context.Context, n int) ([]Row, error) {
	return r.queryRows(ctx, "rows by number", "SELECT "+rowColumns+" FROM rows WHERE row_number = ? ORDER BY id", n)
}
