package journal

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ledgerApplicationID marks a SQLite file as a pecbatch claim ledger ("PECL").
const ledgerApplicationID = 0x5045434C

// ledgerVersion is the ledger schema this binary writes.
const ledgerVersion = 1

// ErrClaimed is matched (errors.Is) by the error Claim returns when another
// row already owns the message id. The error itself is a *ClaimedError.
var ErrClaimed = errors.New("message id already claimed")

// ClaimOwner is the row of a journal a message id belongs to.
type ClaimOwner struct {
	// JournalID is the owning journal's ID (Reader.ID).
	JournalID string
	// JournalPath is where that journal was when it claimed, for people:
	// a journal moved since keeps its ID.
	JournalPath string
	// RowKey is the row's key in that journal.
	RowKey string
	// Row is the row's number in the recipients file, for people.
	Row int
}

// same reports whether o and other are the same row: the journal's ID and
// the row's key; the path and the number only describe it.
func (o ClaimOwner) same(other ClaimOwner) bool {
	return o.JournalID == other.JournalID && o.RowKey == other.RowKey
}

// ClaimedError says which row owns a message id that another row tried to
// claim.
type ClaimedError struct {
	MessageID string
	Owner     ClaimOwner
}

// Error names the owner and what to do.
func (e *ClaimedError) Error() string {
	return fmt.Sprintf("journal: message id %s already belongs to row %d (key %q) of the journal %s (id %s): "+
		"that send is recorded there, never give it to another row; check that journal with `pecbatch status`",
		e.MessageID, e.Owner.Row, e.Owner.RowKey, e.Owner.JournalPath, e.Owner.JournalID)
}

// Is makes errors.Is(err, ErrClaimed) true.
func (e *ClaimedError) Is(target error) bool { return target == ErrClaimed }

// Ledger records, for one sending mailbox, which row of which journal each
// message id belongs to: a send belongs to one row of one journal,
// provably, even when two campaigns share the mailbox or a campaign is run
// again with a new journal and reconciliation sees the other's messages.
//
// It is one SQLite file shared by every journal of the machine that sends
// from the mailbox (DefaultLedgerPath), opened by several processes at
// once: no run lock, every claim one IMMEDIATE transaction, WAL and
// synchronous(FULL) like a journal. Claims are never changed or deleted.
// Its methods are safe for concurrent use.
type Ledger struct {
	db    *sql.DB
	path  string
	clock func() time.Time
}

// DefaultLedgerPath is the ledger of a sending mailbox (any case) under the
// user's configuration directory: <config>/pecbatch/ledger/<first 16 hex
// digits of the SHA-256 of the lower-case mailbox>.db. The name does not
// show the address.
func DefaultLedgerPath(mailbox string) (string, error) {
	mailbox = strings.ToLower(strings.TrimSpace(mailbox))
	if mailbox == "" {
		return "", errors.New("journal: ledger path: empty mailbox")
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("journal: ledger path: %w (set HOME, or choose the ledger's path)", err)
	}
	h := sha256.Sum256([]byte(mailbox))
	return filepath.Join(dir, "pecbatch", "ledger", hex.EncodeToString(h[:])[:16]+".db"), nil
}

// OpenLedger opens the ledger at path, creating it (mode 0600, and its
// directory 0700) if needed. Options WithNow and WithBusyTimeout apply.
// A file that is not a ledger is refused untouched (ErrNotJournal), one
// written by a newer pecbatch with ErrSchemaTooNew.
func OpenLedger(ctx context.Context, path string, opts ...Option) (*Ledger, error) {
	o := buildOptions(opts)
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("journal: ledger: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("journal: ledger: %w", err)
	}
	db, err := openPrivate(ctx, abs, o, func(ctx context.Context, db *sql.DB) error {
		_, err := checkLedger(ctx, db, abs)
		return err
	})
	if err != nil {
		return nil, err
	}
	l := &Ledger{db: db, path: abs, clock: o.now}
	if err := l.create(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := tightenSides(abs); err != nil {
		db.Close()
		return nil, err
	}
	return l, nil
}

func checkLedger(ctx context.Context, db *sql.DB, path string) (int, error) {
	version, appID, tables, err := schemaInfo(ctx, db)
	if err != nil {
		return 0, fmt.Errorf("journal: read ledger %s: %w", path, err)
	}
	if version == 0 && appID == 0 && tables == 0 {
		return 0, nil
	}
	if appID != ledgerApplicationID {
		return 0, fmt.Errorf("journal: %s: %w: it is not a pecbatch claim ledger; choose another ledger path", path, ErrNotJournal)
	}
	if version > ledgerVersion {
		return 0, fmt.Errorf("journal: ledger %s has schema version %d but this pecbatch knows only up to %d: %w; "+
			"use the newer pecbatch that wrote it", path, version, ledgerVersion, ErrSchemaTooNew)
	}
	return version, nil
}

// create writes the schema of a new ledger, in one IMMEDIATE transaction
// so that two processes creating it at once do it once.
func (l *Ledger) create(ctx context.Context) error {
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("journal: ledger %s: %w", l.path, err)
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("journal: ledger %s: %w", l.path, err)
	}
	if version >= ledgerVersion {
		return nil
	}
	for _, s := range []string{
		fmt.Sprintf("PRAGMA application_id = %d", ledgerApplicationID),
		`CREATE TABLE claims (
			message_id TEXT PRIMARY KEY CHECK (message_id <> ''),
			journal_id TEXT NOT NULL CHECK (journal_id <> ''),
			journal_path TEXT NOT NULL,
			row_key TEXT NOT NULL CHECK (row_key <> ''),
			row_number INTEGER NOT NULL,
			claimed_at INTEGER NOT NULL
		) WITHOUT ROWID`,
		`CREATE TRIGGER claims_never_update BEFORE UPDATE ON claims
		 BEGIN SELECT RAISE(ABORT, 'a claim never changes'); END`,
		`CREATE TRIGGER claims_never_delete BEFORE DELETE ON claims
		 BEGIN SELECT RAISE(ABORT, 'a claim never changes'); END`,
		fmt.Sprintf("PRAGMA user_version = %d", ledgerVersion),
	} {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("journal: create ledger %s: %w", l.path, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("journal: create ledger %s: %w", l.path, err)
	}
	return nil
}

// Path returns the ledger's absolute path.
func (l *Ledger) Path() string { return l.path }

// Close closes the ledger.
func (l *Ledger) Close() error {
	if err := l.db.Close(); err != nil {
		return fmt.Errorf("journal: close ledger: %w", err)
	}
	return nil
}

// Claim records that messageID belongs to owner. Claiming again for the
// same owner (same JournalID and RowKey) is a no-op that returns nil; when
// another owner holds it, Claim changes nothing and returns a
// *ClaimedError (errors.Is(err, ErrClaimed)) that names the holder. Of
// concurrent claims by different owners, in any processes, exactly one
// succeeds. When Claim returns nil the claim is on disk.
func (l *Ledger) Claim(ctx context.Context, messageID string, owner ClaimOwner) error {
	messageID = strings.TrimSpace(messageID)
	switch {
	case messageID == "":
		return errors.New("journal: claim: empty message id")
	case owner.JournalID == "" || owner.RowKey == "":
		return errors.New("journal: claim: the owner needs a journal id and a row key")
	}
	tx, err := l.db.BeginTx(ctx, nil) // IMMEDIATE: the DSN's _txlock
	if err != nil {
		return fmt.Errorf("journal: claim %s: %w", messageID, err)
	}
	defer tx.Rollback()
	held, ok, err := ownerOf(ctx, tx, messageID)
	if err != nil {
		return fmt.Errorf("journal: claim %s: %w", messageID, err)
	}
	if ok {
		if held.same(owner) {
			return nil
		}
		return &ClaimedError{MessageID: messageID, Owner: held}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO claims (message_id, journal_id, journal_path, row_key, row_number,
		claimed_at) VALUES (?, ?, ?, ?, ?, ?)`, messageID, owner.JournalID, owner.JournalPath, owner.RowKey, owner.Row,
		l.clock().UnixMilli()); err != nil {
		return fmt.Errorf("journal: claim %s: %w", messageID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("journal: claim %s: commit: %w", messageID, err)
	}
	return nil
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func ownerOf(ctx context.Context, q queryRower, messageID string) (ClaimOwner, bool, error) {
	var o ClaimOwner
	err := q.QueryRowContext(ctx, "SELECT journal_id, journal_path, row_key, row_number FROM claims WHERE message_id = ?",
		messageID).Scan(&o.JournalID, &o.JournalPath, &o.RowKey, &o.Row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return ClaimOwner{}, false, nil
	case err != nil:
		return ClaimOwner{}, false, err
	}
	return o, true, nil
}

// Owner returns the owner of messageID; false if nobody claimed it.
func (l *Ledger) Owner(ctx context.Context, messageID string) (ClaimOwner, bool, error) {
	o, ok, err := ownerOf(ctx, l.db, strings.TrimSpace(messageID))
	if err != nil {
		return ClaimOwner{}, false, fmt.Errorf("journal: ledger owner of %s: %w", messageID, err)
	}
	return o, ok, nil
}

// ClaimedAmong returns the owners of those of ids that are claimed, by
// message id (trimmed); ids nobody claimed are absent. Reconciliation
// uses it to drop, in one query, the messages that belong to other rows.
func (l *Ledger) ClaimedAmong(ctx context.Context, ids []string) (map[string]ClaimOwner, error) {
	out := map[string]ClaimOwner{}
	if len(ids) == 0 {
		return out, nil
	}
	trimmed := make([]string, len(ids))
	for i, id := range ids {
		trimmed[i] = strings.TrimSpace(id)
	}
	list, err := json.Marshal(trimmed)
	if err != nil {
		return nil, fmt.Errorf("journal: claimed among: %w", err)
	}
	// One JSON parameter rather than one placeholder per id: no limit on
	// how many ids a call may ask about.
	q, err := l.db.QueryContext(ctx, `SELECT message_id, journal_id, journal_path, row_key, row_number FROM claims
		WHERE message_id IN (SELECT value FROM json_each(?))`, string(list))
	if err != nil {
		return nil, fmt.Errorf("journal: claimed among: %w", err)
	}
	defer q.Close()
	for q.Next() {
		var id string
		var o ClaimOwner
		if err := q.Scan(&id, &o.JournalID, &o.JournalPath, &o.RowKey, &o.Row); err != nil {
			return nil, fmt.Errorf("journal: claimed among: %w", err)
		}
		out[id] = o
	}
	if err := q.Err(); err != nil {
		return nil, fmt.Errorf("journal: claimed among: %w", err)
	}
	return out, nil
}
