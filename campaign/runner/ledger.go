package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/journal"
)

// EventClaimRefused is the journal event of a row whose send the service
// answered with a message id that the mailbox's claim ledger gives to
// another row; EventClaimConflict that of rows of this journal whose
// message id the ledger gives to another row (written before the ledger
// knew this journal).
const (
	EventClaimRefused  = "claim_refused"
	EventClaimConflict = "claim_conflict"
)

// openLedger opens the claim ledger of the sending mailbox and claims, for
// this journal's rows, the message ids the journal already holds: sends
// recorded before the ledger existed, or by a run that stopped between its
// claim and its journal. It returns the function that closes the ledger.
func (e *runEnv) openLedger(ctx context.Context) (func(), error) {
	path := e.ledgerPath
	if path == "" {
		p, err := journal.DefaultLedgerPath(e.c.Sender.Address)
		if err != nil {
			return nil, fmt.Errorf("run: the claim ledger of the mailbox: %w", err)
		}
		path = p
	}
	l, err := journal.OpenLedger(ctx, path, journal.WithNow(e.clk.Now))
	if err != nil {
		return nil, fmt.Errorf("run: the claim ledger of the mailbox: %w", err)
	}
	e.ledger = l
	closer := func() {
		if err := l.Close(); err != nil {
			e.log.Warn("closing the claim ledger", "error", err)
		}
	}
	if err := e.syncClaims(ctx); err != nil {
		closer()
		e.ledger = nil
		return nil, err
	}
	return closer, nil
}

// owner is the ledger's name of a row of this journal.
func (e *runEnv) owner(row journal.Row) journal.ClaimOwner {
	return journal.ClaimOwner{JournalID: e.j.ID(), JournalPath: e.j.Path(), RowKey: row.Key, Row: row.RowNumber}
}

// syncClaims claims the message ids of this journal's rows, in one ledger
// transaction. An id the ledger gives to another row cannot be undone
// here (the row's send was recorded long ago): it is told loudly, for
// people to look at both rows.
func (e *runEnv) syncClaims(ctx context.Context) error {
	rows, err := e.j.RowsInState(ctx, 0, trackedStates()...)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	claims := make([]journal.Claim, 0, len(rows))
	byID := make(map[string]journal.Row, len(rows))
	for _, row := range rows {
		if row.MessageID == "" {
			continue
		}
		claims = append(claims, journal.Claim{MessageID: row.MessageID, Owner: e.owner(row)})
		byID[row.MessageID] = row
	}
	refused, err := e.ledger.ClaimAll(ctx, claims)
	if err != nil {
		return fmt.Errorf("run: the claim ledger of the mailbox: %w", err)
	}
	for _, ce := range refused {
		row := byID[ce.MessageID]
		e.log.Error("a message id of this journal belongs to another row in the mailbox's claim ledger",
			"row", row.RowNumber, "key", row.Key, "message_id", ce.MessageID, "owner_journal", ce.Owner.JournalPath,
			"owner_key", ce.Owner.RowKey)
		e.note(NoteClaimConflict, "Warning: row %d (key %q) reports message id %s, which the claim ledger of the mailbox "+
			"gives to row %d (key %q) of the journal %s: one message cannot be both rows' send. Look at both rows "+
			"(`pecbatch status`) and at the mailbox before trusting either report.",
			row.RowNumber, row.Key, ce.MessageID, ce.Owner.Row, ce.Owner.RowKey, ce.Owner.JournalPath)
		if err := e.j.AddEvent(context.WithoutCancel(ctx), EventClaimConflict, map[string]any{
			"row_id": row.ID, "key": row.Key, "message_id": ce.MessageID,
			"owner_journal_id": ce.Owner.JournalID, "owner_journal": ce.Owner.JournalPath, "owner_key": ce.Owner.RowKey,
		}); err != nil {
			return fmt.Errorf("run: %w", err)
		}
	}
	return nil
}

// trackedStates are the states whose rows have a message id.
func trackedStates() []journal.State {
	var out []journal.State
	for _, s := range journal.States() {
		if s.Tracked() {
			out = append(out, s)
		}
	}
	return out
}

// claimRefused records that the service answered a send of row with a
// message id the ledger gives to another row: the row stays unknown (its
// message may have gone out under that id, if the other row's claim is
// the wrong one), and is never resent by --resend-unknown.
func (e *runEnv) claimRefused(ctx context.Context, row journal.Row, ce *journal.ClaimedError) error {
	msg := fmt.Sprintf("the service answered 201 with message id %s, which already belongs to row %d (key %q) of "+
		"the journal %s: one send cannot be two rows' send, so this row is left unknown and never resent by itself; "+
		"look in the mailbox for the acceptance of %s and at that journal's row", ce.MessageID, ce.Owner.Row,
		ce.Owner.RowKey, ce.Owner.JournalPath, ce.MessageID)
	if err := e.j.MarkUnknown(ctx, row.ID, msg); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	if err := e.j.AddEvent(ctx, EventClaimRefused, map[string]any{
		"row_id": row.ID, "key": row.Key, "message_id": ce.MessageID,
		"owner_journal_id": ce.Owner.JournalID, "owner_journal": ce.Owner.JournalPath, "owner_key": ce.Owner.RowKey,
	}); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	e.log.Error("the service gave this send a message id another row owns: the row stays unknown",
		"row", row.RowNumber, "key", row.Key, "message_id", ce.MessageID, "owner_journal", ce.Owner.JournalPath)
	return nil
}

// claimRefusedRows returns the rows whose send was answered with a message
// id another row owns (EventClaimRefused): --resend-unknown never resends
// them, as their message may have gone out.
func (e *runEnv) claimRefusedRows(ctx context.Context) (map[int64]bool, error) {
	out := map[int64]bool{}
	for ev, err := range e.j.Events(ctx) {
		if err != nil {
			return nil, fmt.Errorf("run: %w", err)
		}
		if ev.Kind != EventClaimRefused {
			continue
		}
		var d struct {
			RowID int64 `json:"row_id"`
		}
		if err := json.Unmarshal(ev.Detail, &d); err != nil {
			return nil, fmt.Errorf("run: event %d: %w", ev.ID, err)
		}
		out[d.RowID] = true
	}
	return out, nil
}

// claim records in the ledger that messageID is row's send. A
// *journal.ClaimedError (errors.Is journal.ErrClaimed) says another row
// owns it.
func (e *runEnv) claim(ctx context.Context, row journal.Row, messageID string) error {
	if e.ledger == nil {
		return errors.New("run: no claim ledger open")
	}
	if err := e.ledger.Claim(ctx, messageID, e.owner(row)); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	return nil
}

// reference is row key's reference in this journal (sending.reference).
func (e *runEnv) reference(key string) string { return campaign.SubjectReference(e.j.ID(), key) }

// addReferences appends to the subject of every row its reference, with
// sending.reference: subject. The journal's id is its seed: the same on
// every resume, another for a new journal, so that a campaign run again
// with a new journal never finds the old journal's messages as its own.
// The reference is not part of the content hash: the message is the same.
// A row past pending keeps the subject it was sent with, so that turning
// the setting on or off changes only the rows not sent yet.
func (e *runEnv) addReferences(ctx context.Context, rows []journal.NewRow) error {
	var states []journal.State
	for _, s := range journal.States() {
		if s != journal.StatePending {
			states = append(states, s)
		}
	}
	sent, err := e.j.RowsInState(ctx, 0, states...)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	journaled := make(map[string]string, len(sent))
	for _, r := range sent {
		journaled[r.Key] = r.Subject
	}
	for i := range rows {
		plain, withRef := rows[i].Subject, rows[i].Subject+e.reference(rows[i].Key)
		switch s, ok := journaled[rows[i].Key]; {
		case ok && (s == plain || s == withRef):
			rows[i].Subject = s
		case e.c.Sending.Reference == campaign.ReferenceSubject:
			rows[i].Subject = withRef
		}
	}
	return nil
}

// subjectToSend is the subject a row is sent with: the journal's, which is
// the rendered subject, with the row's reference when the row was
// journaled with sending.reference: subject (a row journaled before the
// setting keeps the subject it was journaled with).
func (e *runEnv) subjectToSend(row journal.Row, m *campaign.Message) (string, error) {
	if row.Subject != m.Subject && row.Subject != m.Subject+e.reference(row.Key) {
		return "", fmt.Errorf("run: row %d (key %q) renders the subject %q, but the journal has %q: nothing was sent for "+
			"it; run again to see what changed", row.RowNumber, row.Key, m.Subject, row.Subject)
	}
	return row.Subject, nil
}

// ownSubject reports whether row's subject carries the row's own
// reference (sending.reference: subject): no row of another journal, nor
// another row of this one, has that subject.
func (e *runEnv) ownSubject(row journal.Row) bool {
	return strings.HasSuffix(row.Subject, e.reference(row.Key))
}
