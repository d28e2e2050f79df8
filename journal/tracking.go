package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Receipt is one receipt or notice of a send, as the runner read and
// classified it. Entries with the same (Code, Kind, DateText, Addressee)
// are identical; ApplyReceipts counts them by multiplicity (see there).
type Receipt struct {
	// Code is the message id the receipt belongs to; empty means the row's.
	Code string
	// Kind is the classifier's kind ("acceptance", "delivery", ...).
	Kind string
	// Date is the receipt's date, parsed; zero if it could not be parsed.
	Date time.Time
	// DateText is the date exactly as the API gave it.
	DateText string
	// Sender and Recipient are the API's fields of the receipt message.
	Sender, Recipient string
	// Addressee is the campaign recipient the body names, lower-case
	// ("" for a receipt about the whole message).
	Addressee string
	// Subject and Body are the receipt's text, verbatim.
	Subject, Body string
	// ErrorText is the error the receipt reports, if any.
	ErrorText string
}

// StoredReceipt is a Receipt as archived.
type StoredReceipt struct {
	Receipt
	// RowID is the row it belongs to.
	RowID int64
	// Occurrence numbers identical entries (same Code, Kind, DateText and
	// Addressee) from 1: the n-th identical entry of one answer.
	Occurrence int
	// ArchivedAt is when the journal stored it.
	ArchivedAt time.Time
}

// Outcome is what the runner concluded about one recipient of a row.
type Outcome struct {
	// Address is one of the row's recipients (any case).
	Address string
	// State is the recipient's new state. A state before the stored one
	// (accepted after delivered, say), or any change to a final state, is
	// ignored: outcomes only move forward.
	State RecipientState
	// At is when it happened (the receipt's date); zero means now.
	At time.Time
	// Error is the reason of a failure or expiry.
	Error string
	// Warnings is how many time-limit warnings this recipient has had so
	// far; the journal keeps the larger of this and the stored count.
	Warnings int
	// AcceptedAt is the date of the acceptance receipt, when the runner saw
	// it. The acceptance and the delivery often arrive in the same poll, so
	// the outcome is already "delivered" and only this field tells the row
	// when it was accepted.
	AcceptedAt time.Time
}

// Applied tells what ApplyReceipts did.
type Applied struct {
	// NewReceipts is how many of the receipts were not archived before.
	NewReceipts int
	// From and State are the row's state before and after.
	From, State State
}

// Changed reports whether the row's state changed.
func (a Applied) Changed() bool { return a.From != a.State }

// ApplyReceipts records, in one transaction, what a poll of a row found:
// it archives the new receipts, applies the
// recipients' outcomes, and derives the row's state from its recipients:
//
//   - not every recipient final: accepted if any recipient progressed, else submitted;
//   - every recipient final: failed if any failed, else expired if any
//     expired, else accepted_not_certifiable if any is not certifiable,
//     else delivered.
//
// A final row state never goes back, and neither does a final recipient
// state: a late warning after a delivery is archived but changes nothing.
// receipts is one answer of the API, the row's whole list as it was read:
// every entry is archived exactly once, identical entries (same Code, Kind,
// DateText and Addressee) by their multiplicity. Two identical entries in
// one answer are two receipts (two deliveries to addressees the bodies do
// not tell apart, in the same second); the same entries in a later answer
// are not new. The n-th identical entry of an answer is occurrence n, and
// an answer archives only the occurrences beyond those already archived:
// the archive keeps the largest count any answer showed, not the sum. The
// first copy of an occurrence is the one kept.
//
// The row must have a message id (submitted or later), else ErrConflict;
// a receipt whose Code is another message id, or an outcome for an address
// that is not one of the row's recipients, is refused with nothing written.
func (j *Journal) ApplyReceipts(ctx context.Context, rowID int64, receipts []Receipt, outcomes []Outcome) (Applied, error) {
	var out Applied
	err := j.write(ctx, "apply receipts", func(tx *wtx, now int64) error {
		var err error
		out, err = j.applyReceiptsTx(ctx, tx, now, rowID, receipts, outcomes)
		return err
	})
	if err != nil {
		return Applied{}, err
	}
	return out, nil
}

func (j *Journal) applyReceiptsTx(ctx context.Context, tx *wtx, now, rowID int64, receipts []Receipt, outcomes []Outcome) (Applied, error) {
	c, err := loadCurrent(ctx, tx, rowID)
	if err != nil {
		return Applied{}, err
	}
	if !c.state.Tracked() {
		return Applied{}, fmt.Errorf("%w: row %d (key %q) is %s: it has no message id to track", ErrConflict, c.rowNumber, c.key, c.state)
	}
	out := Applied{From: c.state, State: c.state}
	if out.NewReceipts, err = j.archive(ctx, tx, c, receipts, now); err != nil {
		return Applied{}, err
	}
	changedRecipients, err := applyOutcomes(ctx, tx, c, outcomes, now)
	if err != nil {
		return Applied{}, err
	}
	if out.NewReceipts == 0 && !changedRecipients {
		return out, nil
	}
	states, errs, err := recipientStates(ctx, tx, c.id)
	if err != nil {
		return Applied{}, err
	}
	if !c.state.Final() {
		out.State = rowStateFor(states)
	}
	if err := updateTrackedRow(ctx, tx, c, out.State, errs, out.NewReceipts, outcomes, now); err != nil {
		return Applied{}, err
	}
	return out, insertEvent(ctx, tx, now, c.id, EventTracked, map[string]any{"to": out.State, "receipts": out.NewReceipts})
}

func (j *Journal) archive(ctx context.Context, tx *wtx, c current, receipts []Receipt, now int64) (int, error) {
	if len(receipts) == 0 {
		return 0, nil
	}
	// Occurrences already archived make the insert a no-op, so an answer
	// adds exactly those beyond what an earlier answer showed.
	stmt, err := tx.prepare(`INSERT INTO receipts (row_id, kind, date_text, addressee, occurrence, date,
		error_text, content, dict_id, archived_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (row_id, kind, date_text, addressee, occurrence) DO NOTHING`)
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	dict, err := currentDictionary(ctx, tx)
	if err != nil {
		return 0, err
	}
	type identical struct{ kind, dateText, addressee string }
	occurrences := map[identical]int{}
	n := 0
	for _, rc := range receipts {
		code := strings.TrimSpace(rc.Code)
		if code == "" {
			code = c.messageID
		}
		if code != c.messageID {
			return 0, fmt.Errorf("%w: receipt for message id %s applied to row %d (key %q) whose message id is %s",
				ErrConflict, code, c.rowNumber, c.key, c.messageID)
		}
		if strings.TrimSpace(rc.Kind) == "" {
			return 0, fmt.Errorf("receipt for row %d (key %q) has no kind: classify it first (\"unknown\" is a kind)", c.rowNumber, c.key)
		}
		addressee := strings.ToLower(strings.TrimSpace(rc.Addressee))
		key := identical{rc.Kind, rc.DateText, addressee}
		occurrences[key]++
		packed := receiptContent{rc.Sender, rc.Recipient, rc.Subject, rc.Body}.pack()
		if dict, err = dict.learn(ctx, tx, rc.Kind, packed); err != nil {
			return 0, err
		}
		content, dictID, err := j.codec.compress(dict, packed)
		if err != nil {
			return 0, err
		}
		res, err := stmt.ExecContext(ctx, c.id, rc.Kind, rc.DateText, addressee, occurrences[key],
			millis(rc.Date), clip(rc.ErrorText), content, dictID, now)
		if err != nil {
			return 0, err
		}
		if k, _ := res.RowsAffected(); k == 1 {
			n++
		}
	}
	return n, nil
}

// applyOutcomes merges outcomes into the recipients table, forward only.
func applyOutcomes(ctx context.Context, tx *wtx, c current, outcomes []Outcome, now int64) (bool, error) {
	changed := false
	for _, o := range outcomes {
		addr := strings.ToLower(strings.TrimSpace(o.Address))
		if !o.State.Valid() {
			return false, fmt.Errorf("outcome for %s: invalid recipient state %q", addr, o.State)
		}
		var st RecipientState
		var warnings int
		err := tx.queryRow("SELECT state, warnings FROM recipients WHERE row_id = ? AND address = ?", c.id, addr).
			Scan(&st, &warnings)
		if errors.Is(err, sql.ErrNoRows) {
			return false, fmt.Errorf("%w: %s is not a recipient of row %d (key %q)", ErrConflict, addr, c.rowNumber, c.key)
		}
		if err != nil {
			return false, err
		}
		if o.Warnings > warnings {
			if _, err := tx.exec("UPDATE recipients SET warnings = ? WHERE row_id = ? AND address = ?",
				o.Warnings, c.id, addr); err != nil {
				return false, err
			}
			changed = true
		}
		if st.Final() || o.State.rank() <= st.rank() {
			continue
		}
		at := now
		if !o.At.IsZero() {
			at = o.At.UnixMilli()
		}
		if _, err := tx.exec("UPDATE recipients SET state = ?, at = ?, error = ? WHERE row_id = ? AND address = ?",
			o.State, at, clip(o.Error), c.id, addr); err != nil {
			return false, err
		}
		changed = true
	}
	return changed, nil
}

// recipientStates reads a row's recipients' states and the errors of the
// failed or expired ones, "address: error", sorted by address.
func recipientStates(ctx context.Context, tx *wtx, rowID int64) ([]RecipientState, []string, error) {
	q, err := tx.query("SELECT address, state, error FROM recipients WHERE row_id = ? ORDER BY address", rowID)
	if err != nil {
		return nil, nil, err
	}
	defer q.Close()
	var states []RecipientState
	var errs []string
	for q.Next() {
		var addr, msg string
		var st RecipientState
		if err := q.Scan(&addr, &st, &msg); err != nil {
			return nil, nil, err
		}
		states = append(states, st)
		if (st == RecipientFailed || st == RecipientExpired) && msg != "" {
			errs = append(errs, addr+": "+msg)
		}
	}
	return states, errs, q.Err()
}

func updateTrackedRow(ctx context.Context, tx *wtx, c current, next State, errs []string, newReceipts int,
	outcomes []Outcome, now int64) error {
	sort.Strings(errs)
	lastError := clip(strings.Join(errs, "; "))
	// The row's accepted and final times are those of the outcomes that
	// made them, so latency charts show the receipts' times, not the poll's.
	var setAccepted, setFinal any
	var acceptedAt, finalAt int64
	for _, o := range outcomes {
		if !o.AcceptedAt.IsZero() && (acceptedAt == 0 || o.AcceptedAt.UnixMilli() < acceptedAt) {
			acceptedAt = o.AcceptedAt.UnixMilli()
		}
		if o.At.IsZero() {
			continue
		}
		ms := o.At.UnixMilli()
		if o.State == RecipientAccepted && (acceptedAt == 0 || ms < acceptedAt) {
			acceptedAt = ms
		}
		if o.State.Final() && ms > finalAt {
			finalAt = ms
		}
	}
	switch {
	case acceptedAt != 0:
		setAccepted = acceptedAt
	case next == StateAccepted:
		setAccepted = now
	}
	if next.Final() && !c.state.Final() {
		setFinal = now
		if finalAt != 0 {
			setFinal = finalAt
		}
	}
	return mustAffectOne(tx.exec(`UPDATE rows SET state = ?, receipts = receipts + ?,
		last_error = CASE WHEN ? <> '' THEN ? ELSE last_error END,
		accepted_at = coalesce(accepted_at, ?), final_at = coalesce(final_at, ?),
		next_poll_at = CASE WHEN ? THEN NULL ELSE next_poll_at END,
		updated_at = ? WHERE id = ?`,
		next, newReceipts, lastError, lastError, setAccepted, setFinal, next.Final(), now, c.id))
}

// SetNextPoll schedules a tracked row's next poll (the runner's backoff).
// A row whose next poll was never set is due at once. On a final row it
// does nothing: final rows are not polled.
func (j *Journal) SetNextPoll(ctx context.Context, id int64, at time.Time) error {
	return j.poll(ctx, "set next poll", id, at, 0)
}

// RecordPoll counts one poll of a tracked row and schedules the next.
func (j *Journal) RecordPoll(ctx context.Context, id int64, next time.Time) error {
	return j.poll(ctx, "record poll", id, next, 1)
}

func (j *Journal) poll(ctx context.Context, op string, id int64, at time.Time, inc int) error {
	if at.IsZero() {
		return fmt.Errorf("journal: %s: zero time", op)
	}
	return j.write(ctx, op, func(tx *wtx, now int64) error {
		c, err := loadCurrent(ctx, tx, id)
		if err != nil {
			return err
		}
		if !c.state.Tracked() {
			return fmt.Errorf("%w: row %d (key %q) is %s: it has no message id to poll", ErrConflict, c.rowNumber, c.key, c.state)
		}
		next := any(at.UnixMilli())
		if c.state.Final() {
			next = nil
		}
		_, err = tx.exec("UPDATE rows SET next_poll_at = ?, polls = polls + ?, updated_at = ? WHERE id = ?",
			next, inc, now, id)
		return err
	})
}

// MarkReceiptsDeleted records that the runner deleted the row's receipts
// from the mailbox (tracking.delete_receipts). The row must be final, and
// must have archived receipts, or it is ErrConflict: deleting evidence
// that is not archived would lose it.
func (j *Journal) MarkReceiptsDeleted(ctx context.Context, id int64) error {
	return j.write(ctx, "mark receipts deleted", func(tx *wtx, now int64) error {
		c, err := loadCurrent(ctx, tx, id)
		if err != nil {
			return err
		}
		if !c.state.Final() || !c.state.Tracked() {
			return fmt.Errorf("%w: row %d (key %q) is %s: delete receipts only of a final, tracked row", ErrConflict, c.rowNumber, c.key, c.state)
		}
		var n int
		if err := tx.queryRow("SELECT receipts FROM rows WHERE id = ?", id).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: row %d (key %q) has no archived receipt", ErrConflict, c.rowNumber, c.key)
		}
		if err := mustAffectOne(tx.exec(`UPDATE rows SET receipts_deleted_at = coalesce(receipts_deleted_at, ?),
			updated_at = ? WHERE id = ?`, now, now, id)); err != nil {
			return err
		}
		return insertEvent(ctx, tx, now, id, EventReceiptsDeleted, map[string]any{"message_id": c.messageID})
	})
}

// Receipts returns the archived receipts of a row, oldest first.
func (r *Reader) Receipts(ctx context.Context, rowID int64) ([]StoredReceipt, error) {
	q, err := r.db.QueryContext(ctx, `SELECT r.message_id, rc.kind, rc.date_text, rc.addressee, rc.occurrence,
		rc.row_id, rc.date, rc.error_text, rc.content, rc.dict_id, rc.archived_at
		FROM receipts rc JOIN rows r ON r.id = rc.row_id WHERE rc.row_id = ?
		ORDER BY coalesce(rc.date, rc.archived_at), rc.kind, rc.addressee, rc.occurrence`, rowID)
	if err != nil {
		return nil, fmt.Errorf("journal: receipts: %w", err)
	}
	defer q.Close()
	var out []StoredReceipt
	for q.Next() {
		var s StoredReceipt
		var date, archived sql.NullInt64
		var content []byte
		var dictID sql.NullInt64
		if err := q.Scan(&s.Code, &s.Kind, &s.DateText, &s.Addressee, &s.Occurrence, &s.RowID, &date, &s.ErrorText, &content,
			&dictID, &archived); err != nil {
			return nil, fmt.Errorf("journal: receipts: %w", err)
		}
		var dict []byte
		if dictID.Valid {
			if dict, err = r.codec.dictionary(ctx, r.db, dictID.Int64); err != nil {
				return nil, fmt.Errorf("journal: receipts: %w", err)
			}
		}
		rc, err := expand(content, dict)
		if err != nil {
			return nil, fmt.Errorf("journal: receipt %s %s of %s: %w", s.Kind, s.DateText, s.Code, err)
		}
		s.Sender, s.Recipient, s.Subject, s.Body = rc.sender, rc.recipient, rc.subject, rc.body
		s.Date, s.ArchivedAt = fromMillis(date), fromMillis(archived)
		out = append(out, s)
	}
	if err := q.Err(); err != nil {
		return nil, fmt.Errorf("journal: receipts: %w", err)
	}
	return out, nil
}
