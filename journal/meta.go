package journal

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sort"
	"strings"
	"time"
)

// ErrNotInitialized is matched (errors.Is) by Meta on a journal that Init
// has not filled yet: the run that created it stopped before inserting rows.
var ErrNotInitialized = errors.New("journal not initialised")

// ErrOtherTarget is matched (errors.Is) by Meta.CheckTarget when a resume
// would send through another endpoint or from another sender.
var ErrOtherTarget = errors.New("journal belongs to another endpoint or sender")

// Fingerprint names the parts a campaign is made of ("campaign file",
// "recipients.csv", "template body.html", "attachment a.pdf", ...) with the
// SHA-256 (lower-case hex) of each, so a resume can tell which part changed.
type Fingerprint map[string]string

// PartChange is one difference between two fingerprints.
type PartChange struct {
	Part string
	// Old and New are the hashes; "" when the part was added or removed.
	Old, New string
}

// String says what happened to the part, for a user-facing message.
func (c PartChange) String() string {
	switch {
	case c.Old == "":
		return c.Part + " added"
	case c.New == "":
		return c.Part + " removed"
	}
	return c.Part + " changed"
}

// Diff lists the parts that differ between the journal's fingerprint f and
// a fresh one, sorted by part name; nil when they are the same.
func (f Fingerprint) Diff(fresh Fingerprint) []PartChange {
	var out []PartChange
	for part, old := range f {
		if now, ok := fresh[part]; !ok || now != old {
			out = append(out, PartChange{Part: part, Old: old, New: now})
		}
	}
	for part, now := range fresh {
		if _, ok := f[part]; !ok {
			out = append(out, PartChange{Part: part, New: now})
		}
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Part < out[k].Part })
	return out
}

func (f Fingerprint) validate() error {
	for part, sum := range f {
		if strings.TrimSpace(part) == "" {
			return errors.New("fingerprint part with an empty name")
		}
		if b, err := hex.DecodeString(sum); err != nil || len(b) != 32 || strings.ToLower(sum) != sum {
			return fmt.Errorf("fingerprint part %q: %q is not a lower-case hex SHA-256", part, sum)
		}
	}
	return nil
}

// Meta describes the campaign a journal belongs to. It holds no secret:
// the journal has no place for a token or a password.
type Meta struct {
	// Campaign is the campaign's name.
	Campaign string
	// CreatedAt is set by Init from the journal's clock.
	CreatedAt time.Time
	// Endpoint identifies where messages go: the API base URL, or
	// "sandbox:builtin" for the built-in sandbox.
	Endpoint string
	// Sender is the sender's PEC address.
	Sender string
	// Fingerprint is the campaign's content at Init, or at the last Amend.
	Fingerprint Fingerprint
	// StartedAt is when the first row went to sending; zero before that.
	StartedAt time.Time
}

// CheckTarget refuses a resume against another endpoint or sender: rows
// "sent" to a sandbox were never sent for real, and the other way round.
func (m Meta) CheckTarget(endpoint, sender string) error {
	if m.Endpoint != endpoint {
		return fmt.Errorf("journal: this journal was run against %s, not %s: %w; "+
			"use another journal file (or another campaign name) for that endpoint", m.Endpoint, endpoint, ErrOtherTarget)
	}
	if !strings.EqualFold(m.Sender, sender) {
		return fmt.Errorf("journal: this journal was run with sender %s, not %s: %w; "+
			"use another journal file for that sender", m.Sender, sender, ErrOtherTarget)
	}
	return nil
}

// NewRow is one recipient row of the campaign as the preflight rendered it.
type NewRow struct {
	// Key identifies the row across runs (unique in the campaign).
	Key string
	// RowNumber is the row's number in the recipients file, for people.
	RowNumber int
	// Recipients are the addresses the message goes to, in order; the
	// journal stores them lower-cased and trimmed.
	Recipients []string
	// Subject is the rendered subject.
	Subject string
	// ContentSHA256 is the hash of the rendered message (lower-case hex).
	ContentSHA256 string
}

func (n NewRow) normalized() (NewRow, error) {
	if strings.TrimSpace(n.Key) == "" {
		return n, fmt.Errorf("row %d: empty key", n.RowNumber)
	}
	if len(n.Recipients) == 0 {
		return n, fmt.Errorf("row %d (key %q): no recipients", n.RowNumber, n.Key)
	}
	if b, err := hex.DecodeString(n.ContentSHA256); err != nil || len(b) != 32 {
		return n, fmt.Errorf("row %d (key %q): content hash %q is not a hex SHA-256", n.RowNumber, n.Key, n.ContentSHA256)
	}
	out := n
	out.ContentSHA256 = strings.ToLower(n.ContentSHA256)
	out.Recipients = make([]string, len(n.Recipients))
	for i, a := range n.Recipients {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == "" {
			return n, fmt.Errorf("row %d (key %q): empty recipient address", n.RowNumber, n.Key)
		}
		if slices.Contains(out.Recipients[:i], a) {
			return n, fmt.Errorf("row %d (key %q): recipient %s listed twice", n.RowNumber, n.Key, a)
		}
		out.Recipients[i] = a
	}
	return out, nil
}

// recipientsJSON renders the addresses as recipientsColumn reads them.
func (n NewRow) recipientsJSON() string {
	b, _ := json.Marshal(n.Recipients) // []string always marshals
	return string(b)
}

// RowsOf adapts a slice to the row source Init and Amend take.
func RowsOf(rows []NewRow) iter.Seq2[NewRow, error] {
	return func(yield func(NewRow, error) bool) {
		for _, r := range rows {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// Init fills a new journal in one transaction: the campaign's meta and
// fingerprint and every row as pending. Either all of it is committed or
// none. An error from rows (or a duplicate key, or a bad row) rolls it all
// back. Init fails on a journal that already has a campaign: resume it,
// or Amend it. It returns the number of rows inserted.
func (j *Journal) Init(ctx context.Context, m Meta, rows iter.Seq2[NewRow, error]) (int, error) {
	if m.Campaign == "" || m.Endpoint == "" || m.Sender == "" {
		return 0, errors.New("journal: init: campaign name, endpoint and sender are required")
	}
	if err := m.Fingerprint.validate(); err != nil {
		return 0, fmt.Errorf("journal: init: %w", err)
	}
	var n int
	err := j.write(ctx, "init", func(tx *wtx, now int64) error {
		var exists int
		if err := tx.queryRow("SELECT count(*) FROM campaign").Scan(&exists); err != nil {
			return err
		}
		if exists > 0 {
			return fmt.Errorf("%w: the journal already holds a campaign: resume it instead", ErrConflict)
		}
		if _, err := tx.exec(
			"INSERT INTO campaign (id, name, created_at, endpoint, sender) VALUES (1, ?, ?, ?, ?)",
			m.Campaign, now, m.Endpoint, m.Sender); err != nil {
			return err
		}
		if err := writeFingerprint(ctx, tx, m.Fingerprint); err != nil {
			return err
		}
		ins, err := newRowInserter(ctx, tx, now)
		if err != nil {
			return err
		}
		defer ins.close()
		for row, err := range rows {
			if err != nil {
				return fmt.Errorf("row source: %w", err)
			}
			if err := ins.insert(ctx, row); err != nil {
				return err
			}
			n++
		}
		return insertEvent(ctx, tx, now, 0, EventInit, map[string]any{"campaign": m.Campaign, "rows": n})
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

func writeFingerprint(ctx context.Context, tx *wtx, f Fingerprint) error {
	if _, err := tx.exec("DELETE FROM fingerprint"); err != nil {
		return err
	}
	for part, sum := range f {
		if _, err := tx.exec("INSERT INTO fingerprint (part, sha256) VALUES (?, ?)", part, sum); err != nil {
			return err
		}
	}
	return nil
}

// rowInserter inserts rows with prepared statements inside one transaction:
// that is what makes 100,000 rows take seconds, not minutes.
type rowInserter struct {
	row, rcpt *sql.Stmt
	now       int64
}

func newRowInserter(ctx context.Context, tx *wtx, now int64) (*rowInserter, error) {
	row, err := tx.prepare(`INSERT INTO rows
		(key, row_number, subject, content_sha256, state, created_at, updated_at)
		VALUES (?, ?, ?, unhex(?), 'pending', ?, ?)`)
	if err != nil {
		return nil, err
	}
	rcpt, err := tx.prepare("INSERT INTO recipients (row_id, address, position) VALUES (?, ?, ?)")
	if err != nil {
		row.Close()
		return nil, err
	}
	return &rowInserter{row: row, rcpt: rcpt, now: now}, nil
}

func (ins *rowInserter) insert(ctx context.Context, r NewRow) error {
	r, err := r.normalized()
	if err != nil {
		return err
	}
	res, err := ins.row.ExecContext(ctx, r.Key, r.RowNumber, r.Subject, r.ContentSHA256, ins.now, ins.now)
	if err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("row %d: key %q appears twice: keys must be unique", r.RowNumber, r.Key)
		}
		return err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return err
	}
	return insertRecipients(ctx, ins.rcpt, id, r.Recipients)
}

func insertRecipients(ctx context.Context, stmt *sql.Stmt, id int64, addrs []string) error {
	for i, a := range addrs {
		if _, err := stmt.ExecContext(ctx, id, a, i); err != nil {
			return err
		}
	}
	return nil
}

func (ins *rowInserter) close() {
	ins.row.Close()
	ins.rcpt.Close()
}

// AmendResult counts what Amend did.
type AmendResult struct {
	// Added rows are new keys, inserted as pending.
	Added int
	// Updated rows were pending and got new content.
	Updated int
	// Unchanged rows had the same content (any state).
	Unchanged int
	// ChangedAfterSend rows are past pending and the fresh rows render them
	// differently from what was sent: they keep what was sent and are
	// marked (Row.CurrentSHA256).
	ChangedAfterSend int
}

// Amend records an accepted change of the campaign (`run --allow-changes`)
// in one transaction: rows is the full fresh set of rows. A new key is
// added as pending; a pending row whose recipients, subject or content hash
// changed gets the new content (and row number); a pending row must not
// have disappeared: if one did, nothing is written and the error (matching
// ErrConflict) names the rows. The stored fingerprint becomes fp.
//
// Rows past pending keep what was sent (or may have been sent): their
// content, recipients and row number never change. When the fresh row
// renders differently, its hash is recorded as the row's CurrentSHA256
// ("changed after send", with an event); when it renders as sent again,
// the mark is cleared.
func (j *Journal) Amend(ctx context.Context, fp Fingerprint, rows iter.Seq2[NewRow, error]) (AmendResult, error) {
	if err := fp.validate(); err != nil {
		return AmendResult{}, fmt.Errorf("journal: amend: %w", err)
	}
	var res AmendResult
	err := j.write(ctx, "amend", func(tx *wtx, now int64) error {
		res = AmendResult{}
		if err := requireCampaign(ctx, tx); err != nil {
			return err
		}
		type stored struct {
			id         int64
			state      State
			recipients string
			subject    string
			hash       string
			current    string
			rowNumber  int
		}
		existing := map[string]stored{}
		q, err := tx.query("SELECT id, key, state, " + recipientsColumn + ", subject, lower(hex(content_sha256)), " +
			"coalesce(lower(hex(current_sha256)), ''), row_number FROM rows")
		if err != nil {
			return err
		}
		for q.Next() {
			var s stored
			var key string
			if err := q.Scan(&s.id, &key, &s.state, &s.recipients, &s.subject, &s.hash, &s.current, &s.rowNumber); err != nil {
				q.Close()
				return err
			}
			existing[key] = s
		}
		if err := q.Close(); err != nil {
			return err
		}
		ins, err := newRowInserter(ctx, tx, now)
		if err != nil {
			return err
		}
		defer ins.close()
		var refused []string
		seen := map[string]bool{}
		for row, err := range rows {
			if err != nil {
				return fmt.Errorf("row source: %w", err)
			}
			nr, err := row.normalized()
			if err != nil {
				return err
			}
			if seen[nr.Key] {
				return fmt.Errorf("row %d: key %q appears twice: keys must be unique", nr.RowNumber, nr.Key)
			}
			seen[nr.Key] = true
			old, ok := existing[nr.Key]
			switch {
			case !ok:
				if err := ins.insert(ctx, nr); err != nil {
					return err
				}
				res.Added++
			case old.recipients == nr.recipientsJSON() && old.subject == nr.Subject && old.hash == nr.ContentSHA256:
				if old.state == StatePending && old.rowNumber != nr.RowNumber {
					if _, err := tx.exec("UPDATE rows SET row_number = ?, updated_at = ? WHERE id = ?",
						nr.RowNumber, now, old.id); err != nil {
						return err
					}
				}
				if old.current != "" {
					if err := markCurrentContent(ctx, tx, old.id, "", now); err != nil {
						return err
					}
				}
				res.Unchanged++
			case old.state != StatePending:
				if old.current != nr.ContentSHA256 {
					if err := markCurrentContent(ctx, tx, old.id, nr.ContentSHA256, now); err != nil {
						return err
					}
				}
				res.ChangedAfterSend++
			default:
				if err := updatePendingContent(ctx, tx, ins, old.id, nr, now); err != nil {
					return err
				}
				res.Updated++
			}
		}
		for key, old := range existing {
			if !seen[key] && old.state == StatePending {
				refused = append(refused, fmt.Sprintf("row %d (key %q) is pending but no longer in the recipients", old.rowNumber, key))
			}
		}
		if len(refused) > 0 {
			sort.Strings(refused)
			more := ""
			if len(refused) > 10 {
				more = fmt.Sprintf(" and %d more", len(refused)-10)
				refused = refused[:10]
			}
			return fmt.Errorf("%w: %s%s: a pending row cannot vanish; put it back in the recipients", ErrConflict,
				strings.Join(refused, "; "), more)
		}
		if err := writeFingerprint(ctx, tx, fp); err != nil {
			return err
		}
		return insertEvent(ctx, tx, now, 0, EventAmended, map[string]any{
			"added": res.Added, "updated": res.Updated, "unchanged": res.Unchanged, "changed_after_send": res.ChangedAfterSend,
		})
	})
	if err != nil {
		return AmendResult{}, err
	}
	return res, nil
}

func updatePendingContent(ctx context.Context, tx *wtx, ins *rowInserter, id int64, r NewRow, now int64) error {
	// The row is pending inside this IMMEDIATE transaction, so no sender
	// can have picked it up: the state check in the WHERE is belt and braces.
	res, err := tx.exec(`UPDATE rows SET subject = ?, content_sha256 = unhex(?), row_number = ?,
		updated_at = ? WHERE id = ? AND state = 'pending'`,
		r.Subject, r.ContentSHA256, r.RowNumber, now, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("%w: row %d (key %q) left pending while amending", ErrConflict, r.RowNumber, r.Key)
	}
	if _, err := tx.exec("DELETE FROM recipients WHERE row_id = ?", id); err != nil {
		return err
	}
	if err := insertRecipients(ctx, ins.rcpt, id, r.Recipients); err != nil {
		return err
	}
	return insertEvent(ctx, tx, now, id, EventContentChanged, map[string]any{"content_sha256": r.ContentSHA256})
}

// markCurrentContent records what the campaign's files render now for a
// row past pending (sum; "" when that is again what was sent). Only
// current_sha256 changes: the row keeps the content, recipients and number
// it was sent with.
func markCurrentContent(ctx context.Context, tx *wtx, id int64, sum string, now int64) error {
	var cur any
	if sum != "" {
		cur = sum
	}
	if _, err := tx.exec("UPDATE rows SET current_sha256 = unhex(?), updated_at = ? WHERE id = ? AND state <> 'pending'",
		cur, now, id); err != nil {
		return err
	}
	return insertEvent(ctx, tx, now, id, EventChangedAfterSend, map[string]any{"current_sha256": sum})
}

func requireCampaign(ctx context.Context, tx *wtx) error {
	var n int
	if err := tx.queryRow("SELECT count(*) FROM campaign").Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: call Init first", ErrNotInitialized)
	}
	return nil
}

// Meta returns the campaign's meta and fingerprint, or an error matching
// ErrNotInitialized on a journal that Init has not filled.
func (r *Reader) Meta(ctx context.Context) (Meta, error) {
	var m Meta
	var created, started sql.NullInt64
	err := r.db.QueryRowContext(ctx,
		"SELECT name, created_at, endpoint, sender, started_at FROM campaign WHERE id = 1").
		Scan(&m.Campaign, &created, &m.Endpoint, &m.Sender, &started)
	if errors.Is(err, sql.ErrNoRows) {
		return Meta{}, fmt.Errorf("journal: %s: %w", r.path, ErrNotInitialized)
	}
	if err != nil {
		return Meta{}, fmt.Errorf("journal: meta: %w", err)
	}
	m.CreatedAt, m.StartedAt = fromMillis(created), fromMillis(started)
	rows, err := r.db.QueryContext(ctx, "SELECT part, sha256 FROM fingerprint")
	if err != nil {
		return Meta{}, fmt.Errorf("journal: meta: %w", err)
	}
	defer rows.Close()
	m.Fingerprint = Fingerprint{}
	for rows.Next() {
		var part, sum string
		if err := rows.Scan(&part, &sum); err != nil {
			return Meta{}, fmt.Errorf("journal: meta: %w", err)
		}
		m.Fingerprint[part] = sum
	}
	if err := rows.Err(); err != nil {
		return Meta{}, fmt.Errorf("journal: meta: %w", err)
	}
	return m, nil
}
