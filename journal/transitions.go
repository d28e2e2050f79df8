package journal

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrConflict is matched (errors.Is) when a write finds the journal in
// another state than the one it requires: a transition from the wrong
// state, a message id already used by another row, a change to a row
// already sent. It means the caller's view is stale or its logic is wrong;
// the journal was not changed.
var ErrConflict = errors.New("journal state conflict")

// ErrNotFound is matched (errors.Is) when no row has the given id or key.
var ErrNotFound = errors.New("journal row not found")

// Event kinds the journal writes itself. Callers add their own with AddEvent.
const (
	// EventMigrated: the schema was migrated; detail {"from":1,"to":2}.
	EventMigrated = "migrated"
	// EventInit: Init filled the journal; detail {"campaign":..., "rows":n}.
	EventInit = "init"
	// EventAmended: Amend changed the campaign; detail counts added, updated, unchanged.
	EventAmended = "amended"
	// EventContentChanged: Amend gave a pending row new content.
	EventContentChanged = "content_changed"
	// EventChangedAfterSend: Amend found a row past pending rendered
	// differently from what was sent; detail {"current_sha256":...}, ""
	// when it renders as sent again.
	EventChangedAfterSend = "changed_after_send"
	// EventSending: MarkSending.
	EventSending = "sending"
	// EventSubmitted: MarkSubmitted; detail {"from":"unknown"} when reconciled.
	EventSubmitted = "submitted"
	// EventRejected: MarkRejected; detail {"error":...}.
	EventRejected = "rejected"
	// EventUnknown: MarkUnknown; detail {"error":...}.
	EventUnknown = "unknown"
	// EventResendUnknown: ResendUnknown put an unknown row back to pending.
	EventResendUnknown = "resend_unknown"
	// EventTracked: ApplyReceipts changed something; detail {"receipts":new,"to":state}.
	EventTracked = "tracked"
	// EventReceiptsDeleted: MarkReceiptsDeleted.
	EventReceiptsDeleted = "receipts_deleted"
)

// maxErrorText bounds an error text kept in the journal.
const maxErrorText = 2000

// write runs fn in its own IMMEDIATE transaction (the DSN's _txlock) and
// commits it: with synchronous(FULL) the commit is on disk when write
// returns nil. now is the journal's clock, read once per transaction.
func (r *Reader) write(ctx context.Context, op string, fn func(tx *wtx, now int64) error) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("journal: %s: %w", op, err)
	}
	w := &wtx{tx: tx, ctx: ctx, r: r}
	defer func() {
		tx.Rollback() // no-op after Commit
		r.prepareMissed(ctx, w.missed)
	}()
	if err := fn(w, r.nowMillis()); err != nil {
		return fmt.Errorf("journal: %s: %w", op, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("journal: %s: commit: %w", op, err)
	}
	return nil
}

// wtx is a writing transaction whose statements come from the Reader's
// cache of prepared statements: parsing the SQL would otherwise be most of
// the CPU a transition costs.
type wtx struct {
	tx     *sql.Tx
	ctx    context.Context
	r      *Reader
	missed []string
}

// prepare returns query prepared for this transaction; the statement is
// closed with the transaction, so a loop prepares once and executes many
// times. A query not in the cache yet is prepared on the transaction and
// added to the cache after it: preparing on the pool while holding a
// connection in a transaction could wait forever for a free one.
func (t *wtx) prepare(query string) (*sql.Stmt, error) {
	t.r.stmtMu.Lock()
	parent := t.r.stmts[query]
	t.r.stmtMu.Unlock()
	if parent != nil {
		return t.tx.StmtContext(t.ctx, parent), nil
	}
	t.missed = append(t.missed, query)
	return t.tx.PrepareContext(t.ctx, query)
}

func (t *wtx) exec(query string, args ...any) (sql.Result, error) {
	s, err := t.prepare(query)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(t.ctx, args...)
}

func (t *wtx) query(query string, args ...any) (*sql.Rows, error) {
	s, err := t.prepare(query)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(t.ctx, args...)
}

// queryRow reports a preparation error through Scan, as sql.Row does.
func (t *wtx) queryRow(query string, args ...any) rowScanner {
	s, err := t.prepare(query)
	if err != nil {
		return errRow{err}
	}
	return s.QueryRowContext(t.ctx, args...)
}

type rowScanner interface{ Scan(dest ...any) error }

type errRow struct{ err error }

// Scan returns the preparation error.
func (e errRow) Scan(...any) error { return e.err }

// prepareMissed adds queries to the statement cache. The queries are
// constants of this package, so the cache stays small. A failure only
// means the query is parsed again next time.
func (r *Reader) prepareMissed(ctx context.Context, queries []string) {
	for _, q := range queries {
		r.stmtMu.Lock()
		_, ok := r.stmts[q]
		r.stmtMu.Unlock()
		if ok || ctx.Err() != nil {
			continue
		}
		s, err := r.db.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		r.stmtMu.Lock()
		if _, ok := r.stmts[q]; ok || r.stmts == nil {
			s.Close()
		} else {
			r.stmts[q] = s
		}
		r.stmtMu.Unlock()
	}
}

// insertEvent appends to the event log; rowID 0 means "not about a row".
// An empty detail is stored as NULL: most of the some 400,000 events of a
// 100,000-row campaign have nothing to add to their kind.
func insertEvent(ctx context.Context, tx *wtx, now, rowID int64, kind string, detail any) error {
	var stored any
	if detail != nil {
		b, err := json.Marshal(detail)
		if err != nil {
			return fmt.Errorf("event %s: detail: %w", kind, err)
		}
		if s := string(b); s != "{}" && s != "null" {
			stored = s
		}
	}
	var row any
	if rowID != 0 {
		row = rowID
	}
	_, err := tx.exec("INSERT INTO events (at, row_id, kind, detail) VALUES (?, ?, ?, ?)", now, row, kind, stored)
	return err
}

// AddEvent appends an event not tied to a row (a run started or stopped, a
// test send) to the journal's append-only log. detail is stored as JSON
// (nil for {}); never put a token or a password in it.
func (j *Journal) AddEvent(ctx context.Context, kind string, detail any) error {
	if strings.TrimSpace(kind) == "" {
		return errors.New("journal: add event: empty kind")
	}
	return j.write(ctx, "add event", func(tx *wtx, now int64) error {
		return insertEvent(ctx, tx, now, 0, kind, detail)
	})
}

// current is what a transition reads of its row before deciding.
type current struct {
	id        int64
	key       string
	rowNumber int
	state     State
	messageID string
}

func loadCurrent(ctx context.Context, tx *wtx, id int64) (current, error) {
	c := current{id: id}
	var msg sql.NullString
	err := tx.queryRow("SELECT key, row_number, state, message_id FROM rows WHERE id = ?", id).
		Scan(&c.key, &c.rowNumber, &c.state, &msg)
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("%w: no row with id %d", ErrNotFound, id)
	}
	c.messageID = msg.String
	return c, err
}

// expect is the compare half of compare-and-set.
func (c current) expect(from ...State) error {
	if slices.Contains(from, c.state) {
		return nil
	}
	want := make([]string, len(from))
	for i, s := range from {
		want[i] = string(s)
	}
	return fmt.Errorf("%w: row %d (key %q) is %s, not %s", ErrConflict, c.rowNumber, c.key, c.state, strings.Join(want, " or "))
}

// step is one compare-and-set transition: from the states in from (the
// usual one first) to to, by the UPDATE in set, logged as an event of kind
// with detail.
type step struct {
	op     string
	from   []State
	to     State
	kind   string
	detail map[string]any
	set    func(ctx context.Context, tx *wtx, c current, now int64) error
}

// transition runs s on row id in its own IMMEDIATE transaction.
func (j *Journal) transition(ctx context.Context, id int64, s step) error {
	return j.write(ctx, s.op, func(tx *wtx, now int64) error {
		return transitionTx(ctx, tx, now, id, s)
	})
}

func transitionTx(ctx context.Context, tx *wtx, now, id int64, s step) error {
	c, err := loadCurrent(ctx, tx, id)
	if err != nil {
		return err
	}
	if err := c.expect(s.from...); err != nil {
		return err
	}
	if err := s.set(ctx, tx, c, now); err != nil {
		return err
	}
	// The kind names the new state; the old one is only worth its bytes
	// when it was not the usual one (a submission that reconciled an
	// unknown row, say).
	detail := map[string]any{}
	for k, v := range s.detail {
		detail[k] = v
	}
	if c.state != s.from[0] {
		detail["from"] = c.state
	}
	return insertEvent(ctx, tx, now, id, s.kind, detail)
}

func mustAffectOne(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("%w: the row changed under the transaction", ErrConflict)
	}
	return nil
}

// MarkSending moves a row from pending to sending, counts the attempt and
// records when: the runner commits it before the request, so that a crash
// during the request leaves the row in sending (to reconcile), never in
// pending (to send again).
func (j *Journal) MarkSending(ctx context.Context, id int64) error {
	return j.transition(ctx, id, sendingStep())
}

func sendingStep() step {
	return step{op: "mark sending", from: []State{StatePending}, to: StateSending, kind: EventSending,
		set: func(ctx context.Context, tx *wtx, c current, now int64) error {
			if err := mustAffectOne(tx.exec(`UPDATE rows SET state = 'sending', attempts = attempts + 1,
				sending_at = ?, last_error = '', updated_at = ? WHERE id = ? AND state = 'pending'`, now, now, c.id)); err != nil {
				return err
			}
			_, err := tx.exec("UPDATE campaign SET started_at = ? WHERE id = 1 AND started_at IS NULL", now)
			return err
		}}
}

// MarkSubmitted records the API's message id: sending → submitted after a
// 201, or unknown → submitted when reconciliation found the acceptance
// receipt. A message id is never reused by another row.
func (j *Journal) MarkSubmitted(ctx context.Context, id int64, messageID string) error {
	messageID = strings.TrimSpace(messageID)
	if messageID == "" {
		return errors.New("journal: mark submitted: empty message id")
	}
	return j.transition(ctx, id, submittedStep(messageID))
}

func submittedStep(messageID string) step {
	return step{op: "mark submitted", from: []State{StateSending, StateUnknown}, to: StateSubmitted, kind: EventSubmitted,
		set: func(ctx context.Context, tx *wtx, c current, now int64) error {
			var other current
			err := tx.queryRow("SELECT id, key, row_number FROM rows WHERE message_id = ?", messageID).
				Scan(&other.id, &other.key, &other.rowNumber)
			if err == nil {
				return fmt.Errorf("%w: message id %s already belongs to row %d (key %q)", ErrConflict, messageID, other.rowNumber, other.key)
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if err := messageIDInAttempts(tx, messageID); err != nil {
				return err
			}
			return mustAffectOne(tx.exec(`UPDATE rows SET state = 'submitted', message_id = ?,
				submitted_at = ?, last_error = '', updated_at = ? WHERE id = ? AND state IN ('sending', 'unknown')`,
				messageID, now, now, c.id))
		}}
}

// MarkRejected records a definite refusal of the request (a 4xx other than
// 401/429): sending → rejected, final, with the API's message.
func (j *Journal) MarkRejected(ctx context.Context, id int64, message string) error {
	message = clip(message)
	return j.transition(ctx, id, step{op: "mark rejected", from: []State{StateSending}, to: StateRejected,
		kind: EventRejected, detail: map[string]any{"error": message},
		set: func(ctx context.Context, tx *wtx, c current, now int64) error {
			return mustAffectOne(tx.exec(`UPDATE rows SET state = 'rejected', last_error = ?,
				rejected_at = ?, final_at = ?, updated_at = ? WHERE id = ? AND state = 'sending'`,
				message, now, now, now, c.id))
		}})
}

// MarkUnknown records an ambiguous outcome (timeout or drop after the
// request was written, 5xx, garbled answer): sending → unknown. The row is
// never sent again automatically: reconciliation may find it submitted.
func (j *Journal) MarkUnknown(ctx context.Context, id int64, message string) error {
	message = clip(message)
	return j.transition(ctx, id, step{op: "mark unknown", from: []State{StateSending}, to: StateUnknown,
		kind: EventUnknown, detail: map[string]any{"error": message},
		set: func(ctx context.Context, tx *wtx, c current, now int64) error {
			return mustAffectOne(tx.exec(`UPDATE rows SET state = 'unknown', last_error = ?,
				unknown_at = ?, updated_at = ? WHERE id = ? AND state = 'sending'`, message, now, now, c.id))
		}})
}

// ResendUnknown puts an unknown row back to pending so that it is sent
// again. Only `run --resend-unknown` may call it: the message may already
// have gone out once. The event log keeps the decision.
func (j *Journal) ResendUnknown(ctx context.Context, id int64) error {
	return j.transition(ctx, id, step{op: "resend unknown", from: []State{StateUnknown}, to: StatePending,
		kind: EventResendUnknown,
		set: func(ctx context.Context, tx *wtx, c current, now int64) error {
			return mustAffectOne(tx.exec(`UPDATE rows SET state = 'pending', updated_at = ?
				WHERE id = ? AND state = 'unknown'`, now, c.id))
		}})
}

// clip bounds an error text kept in the journal: an API that answers with
// a whole HTML page must not bloat every row.
func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= maxErrorText {
		return s
	}
	cut := maxErrorText
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}
