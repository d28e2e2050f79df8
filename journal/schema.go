package journal

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// applicationID marks a SQLite file as a pecbatch journal ("PECB"), so that
// Open refuses to write into some other database by mistake.
const applicationID = 0x50454342

// ErrSchemaTooNew is matched (errors.Is) when the journal was written by a
// newer pecbatch whose schema this binary does not know.
var ErrSchemaTooNew = errors.New("journal schema is newer than this pecbatch")

// ErrNotJournal is matched (errors.Is) when the file is not a pecbatch journal.
var ErrNotJournal = errors.New("not a pecbatch journal")

// migration brings the schema from version-1 to version. Each runs in its
// own IMMEDIATE transaction together with the user_version bump, so a crash
// leaves the journal at the previous version or at this one, never between.
type migration struct {
	version int
	name    string
	stmts   []string
	// fill, when set, runs after stmts in the same transaction, for what
	// SQL alone cannot write (a value from the injected randomness).
	fill func(ctx context.Context, tx *sql.Tx, env migrateEnv) error
}

// migrateEnv is what a migration's fill may use: the journal's clock and
// randomness, so that tests are deterministic.
type migrateEnv struct {
	now  func() int64
	rand io.Reader
}

// Rebuilding a table is SQLite's way to change a constraint or a primary
// key: create the new table, copy, drop the old one (which drops its
// triggers), rename, and create the triggers again. The appendOnly
// triggers are the same text as in the version that first created them.
func appendOnly(table, what string) []string {
	return []string{
		`CREATE TRIGGER ` + table + `_append_only_update BEFORE UPDATE ON ` + table + `
		 BEGIN SELECT RAISE(ABORT, '` + what + ` append-only'); END`,
		`CREATE TRIGGER ` + table + `_append_only_delete BEFORE DELETE ON ` + table + `
		 BEGIN SELECT RAISE(ABORT, '` + what + ` append-only'); END`,
	}
}

// migrations is the ordered schema history. Never edit a migration that has
// shipped: append a new one.
func migrations() []migration {
	allStates := sqlList(States()...)
	finals := sqlList(finalStates()...)
	return []migration{
		{
			version: 1,
			name:    "sending: campaign, fingerprint, rows, events",
			stmts: []string{
				fmt.Sprintf("PRAGMA application_id = %d", applicationID),
				// One row: the campaign this journal belongs to. There is
				// deliberately no column for a token or a password.
				`CREATE TABLE campaign (
					id INTEGER PRIMARY KEY CHECK (id = 1),
					name TEXT NOT NULL,
					created_at INTEGER NOT NULL,
					endpoint TEXT NOT NULL,
					sender TEXT NOT NULL,
					started_at INTEGER
				)`,
				`CREATE TABLE fingerprint (
					part TEXT PRIMARY KEY,
					sha256 TEXT NOT NULL CHECK (length(sha256) = 64)
				) WITHOUT ROWID`,
				`CREATE TABLE rows (
					id INTEGER PRIMARY KEY,
					key TEXT NOT NULL UNIQUE,
					row_number INTEGER NOT NULL,
					subject TEXT NOT NULL,
					content_sha256 BLOB NOT NULL CHECK (length(content_sha256) = 32),
					state TEXT NOT NULL CHECK (state IN ` + allStates + `),
					message_id TEXT CHECK (message_id <> ''),
					attempts INTEGER NOT NULL DEFAULT 0,
					last_error TEXT NOT NULL DEFAULT '',
					created_at INTEGER NOT NULL,
					sending_at INTEGER,
					submitted_at INTEGER,
					unknown_at INTEGER,
					rejected_at INTEGER,
					updated_at INTEGER NOT NULL,
					CHECK (message_id IS NOT NULL OR state IN ('pending', 'sending', 'unknown', 'rejected'))
				)`,
				`CREATE INDEX rows_state ON rows (state, row_number)`,
				// A row's addresses, lower-case, in the order they were given.
				`CREATE TABLE recipients (
					row_id INTEGER NOT NULL REFERENCES rows (id),
					address TEXT NOT NULL,
					position INTEGER NOT NULL,
					PRIMARY KEY (row_id, address)
				) WITHOUT ROWID`,
				`CREATE UNIQUE INDEX rows_message_id ON rows (message_id) WHERE message_id IS NOT NULL`,
				`CREATE TABLE events (
					id INTEGER PRIMARY KEY,
					at INTEGER NOT NULL,
					row_id INTEGER REFERENCES rows (id),
					kind TEXT NOT NULL,
					detail TEXT CHECK (json_valid(detail))
				)`,
				// The invariants below hold whatever code writes the file.
				`CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
				 BEGIN SELECT RAISE(ABORT, 'journal events are append-only'); END`,
				`CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
				 BEGIN SELECT RAISE(ABORT, 'journal events are append-only'); END`,
				`CREATE TRIGGER rows_never_deleted BEFORE DELETE ON rows
				 BEGIN SELECT RAISE(ABORT, 'journal rows are never deleted'); END`,
				`CREATE TRIGGER rows_final_never_goes_back BEFORE UPDATE OF state ON rows
				 WHEN OLD.state IN ` + finals + ` AND NEW.state IS NOT OLD.state
				 BEGIN SELECT RAISE(ABORT, 'a final row state never changes'); END`,
				`CREATE TRIGGER rows_message_id_fixed BEFORE UPDATE OF message_id ON rows
				 WHEN OLD.message_id IS NOT NULL AND NEW.message_id IS NOT OLD.message_id
				 BEGIN SELECT RAISE(ABORT, 'a row''s message id never changes'); END`,
			},
		},
		{
			version: 2,
			name:    "tracking: recipient outcomes, receipt archive, poll schedule",
			stmts: []string{
				`ALTER TABLE rows ADD COLUMN accepted_at INTEGER`,
				`ALTER TABLE rows ADD COLUMN final_at INTEGER`,
				`ALTER TABLE rows ADD COLUMN next_poll_at INTEGER`,
				`ALTER TABLE rows ADD COLUMN polls INTEGER NOT NULL DEFAULT 0`,
				`ALTER TABLE rows ADD COLUMN receipts INTEGER NOT NULL DEFAULT 0`,
				`ALTER TABLE rows ADD COLUMN receipts_deleted_at INTEGER`,
				`UPDATE rows SET final_at = rejected_at WHERE state = 'rejected'`,
				// NULL next_poll_at means "due now": a row whose schedule was
				// never written is polled rather than forgotten.
				`CREATE INDEX rows_due ON rows (coalesce(next_poll_at, 0), id)
				 WHERE state IN ('submitted', 'accepted')`,
				// Each recipient's outcome.
				`ALTER TABLE recipients ADD COLUMN state TEXT NOT NULL DEFAULT 'pending'
				 CHECK (state IN ` + sqlList(RecipientStates()...) + `)`,
				`ALTER TABLE recipients ADD COLUMN at INTEGER`,
				`ALTER TABLE recipients ADD COLUMN error TEXT NOT NULL DEFAULT ''`,
				`ALTER TABLE recipients ADD COLUMN warnings INTEGER NOT NULL DEFAULT 0`,
				`CREATE TRIGGER recipients_final_never_goes_back BEFORE UPDATE OF state ON recipients
				 WHEN OLD.state IN ` + sqlList(RecipientDelivered, RecipientFailed, RecipientExpired, RecipientNotCertifiable) + `
				   AND NEW.state IS NOT OLD.state
				 BEGIN SELECT RAISE(ABORT, 'a final recipient state never changes'); END`,
				// Compression dictionaries for receipt content (see codec.go);
				// the first is the usual receipt wording, later ones add
				// samples of the campaign's own receipts.
				`CREATE TABLE dictionaries (
					id INTEGER PRIMARY KEY,
					kinds TEXT NOT NULL,
					data BLOB NOT NULL
				)`,
				fmt.Sprintf(`INSERT INTO dictionaries (id, kinds, data) VALUES (1, '', X'%x')`, receiptDictV1),
				`CREATE TRIGGER dictionaries_append_only_update BEFORE UPDATE ON dictionaries
				 BEGIN SELECT RAISE(ABORT, 'dictionaries are append-only'); END`,
				`CREATE TRIGGER dictionaries_append_only_delete BEFORE DELETE ON dictionaries
				 BEGIN SELECT RAISE(ABORT, 'dictionaries are append-only'); END`,
				// The dedup key is the primary key of a WITHOUT ROWID table, so
				// it is stored once rather than again in an index. It names the
				// send by its row rather than by the message id (the same send:
				// a row's message id is unique and never changes) because that
				// is 3 bytes instead of 17 on each of hundreds of thousands of
				// receipts. The sender, recipient, subject and body are packed
				// into content, DEFLATE-compressed against dictionary dict_id
				// (NULL: stored as packed): receipts are most of a journal's bytes.
				`CREATE TABLE receipts (
					row_id INTEGER NOT NULL REFERENCES rows (id),
					kind TEXT NOT NULL,
					date_text TEXT NOT NULL,
					addressee TEXT NOT NULL,
					date INTEGER,
					error_text TEXT NOT NULL,
					content BLOB NOT NULL,
					dict_id INTEGER REFERENCES dictionaries (id),
					archived_at INTEGER NOT NULL,
					PRIMARY KEY (row_id, kind, date_text, addressee)
				) WITHOUT ROWID`,
				`CREATE TRIGGER receipts_append_only_update BEFORE UPDATE ON receipts
				 BEGIN SELECT RAISE(ABORT, 'the receipt archive is append-only'); END`,
				`CREATE TRIGGER receipts_append_only_delete BEFORE DELETE ON receipts
				 BEGIN SELECT RAISE(ABORT, 'the receipt archive is append-only'); END`,
			},
		},
		{
			version: 3,
			// json_valid(NULL) is 0 before SQLite 3.45 and NULL after: the
			// v1 CHECK held in the bundled SQLite but failed `PRAGMA
			// integrity_check` in the sqlite3 tool and Python of Debian 12
			// (3.40) on every event without detail.
			name: "events: a CHECK that holds on every SQLite; sending intents by time",
			stmts: append([]string{
				`CREATE TABLE events_v3 (
					id INTEGER PRIMARY KEY,
					at INTEGER NOT NULL,
					row_id INTEGER REFERENCES rows (id),
					kind TEXT NOT NULL,
					detail TEXT CHECK (detail IS NULL OR json_valid(detail))
				)`,
				`INSERT INTO events_v3 (id, at, row_id, kind, detail) SELECT id, at, row_id, kind, detail FROM events`,
				`DROP TABLE events`,
				`ALTER TABLE events_v3 RENAME TO events`,
				// SentBetween counts the sending intents of a day, less the
				// attempts that provably never reached the service: a few
				// bytes per attempt instead of a scan of the whole log.
				`CREATE INDEX events_sending ON events (at) WHERE kind = 'sending'`,
				`CREATE INDEX events_attempts ON events (row_id, id) WHERE kind IN ('sending', 'not_sent')`,
			}, appendOnly("events", "journal events are")...),
		},
		{
			version: 4,
			// Two identical entries in one answer are two receipts (a
			// message to two addressees the body does not tell apart gets
			// two identical deliveries in the same second), so the key
			// counts them: the n-th identical entry of an answer is
			// occurrence n, and an answer archives only the occurrences
			// beyond those already archived.
			name: "receipts: dedup key counts identical entries (occurrence)",
			stmts: append([]string{
				`CREATE TABLE receipts_v4 (
					row_id INTEGER NOT NULL REFERENCES rows (id),
					kind TEXT NOT NULL,
					date_text TEXT NOT NULL,
					addressee TEXT NOT NULL,
					occurrence INTEGER NOT NULL CHECK (occurrence >= 1),
					date INTEGER,
					error_text TEXT NOT NULL,
					content BLOB NOT NULL,
					dict_id INTEGER REFERENCES dictionaries (id),
					archived_at INTEGER NOT NULL,
					PRIMARY KEY (row_id, kind, date_text, addressee, occurrence)
				) WITHOUT ROWID`,
				`INSERT INTO receipts_v4 (row_id, kind, date_text, addressee, occurrence, date, error_text, content,
					dict_id, archived_at)
				 SELECT row_id, kind, date_text, addressee, 1, date, error_text, content, dict_id, archived_at FROM receipts`,
				`DROP TABLE receipts`,
				`ALTER TABLE receipts_v4 RENAME TO receipts`,
			}, appendOnly("receipts", "the receipt archive is")...),
		},
		{
			version: 5,
			// A send belongs to one row of one journal: the claim ledger
			// names the journal by this id, which a copied or moved file
			// keeps and a new journal never shares.
			name: "identity: the journal's own random id",
			stmts: []string{
				`CREATE TABLE identity (
					id INTEGER PRIMARY KEY CHECK (id = 1),
					journal_id TEXT NOT NULL CHECK (length(journal_id) = 32),
					created_at INTEGER NOT NULL
				)`,
				`CREATE TRIGGER identity_fixed_update BEFORE UPDATE ON identity
				 BEGIN SELECT RAISE(ABORT, 'a journal''s id never changes'); END`,
				`CREATE TRIGGER identity_fixed_delete BEFORE DELETE ON identity
				 BEGIN SELECT RAISE(ABORT, 'a journal''s id never changes'); END`,
			},
			fill: func(ctx context.Context, tx *sql.Tx, env migrateEnv) error {
				id, err := newJournalID(env.rand)
				if err != nil {
					return err
				}
				_, err = tx.ExecContext(ctx, "INSERT INTO identity (id, journal_id, created_at) VALUES (1, ?, ?)", id, env.now())
				return err
			},
		},
		{
			version: 6,
			// content_sha256 stays what was sent; current_sha256 is what
			// the campaign's files render for a row past pending at the
			// last accepted change (`run --allow-changes`), NULL while that
			// is the same: "changed after send" in status and the report.
			name: "rows: content changed after send",
			stmts: []string{
				`ALTER TABLE rows ADD COLUMN current_sha256 BLOB
				 CHECK (current_sha256 IS NULL OR length(current_sha256) = 32)`,
				`CREATE INDEX rows_changed ON rows (row_number, id) WHERE current_sha256 IS NOT NULL`,
			},
		},
		{
			version: 7,
			// The operator decides what pecbatch cannot (resolve) and
			// queues a final row for a new attempt (retry). A retry is
			// the only way a final row or a row's message id changes:
			// the triggers let them change only together with the
			// attempt number, and only once the previous attempt is
			// archived in attempts, which is append-only.
			name:  "operator decisions and attempts: resolve, retry",
			stmts: attemptsMigration(finals),
		},
		{
			version: 8,
			// The signed receipts read from the mailbox over IMAP
			// (tracking.imap): each message as fetched, what its
			// daticert.xml and signature said, and where the last fetch
			// stopped.
			name:  "signed receipts from the mailbox",
			stmts: signedMigration(),
		},
	}
}

// newJournalID draws 128 random bits, as 32 lower-case hex digits.
func newJournalID(rand io.Reader) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", fmt.Errorf("journal id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// SchemaVersion is the schema version this binary writes.
func SchemaVersion() int {
	m := migrations()
	return m[len(m)-1].version
}

// schemaInfo reads the header fields that identify a journal.
func schemaInfo(ctx context.Context, db *sql.DB) (version, appID int, tables int, err error) {
	if err = db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return 0, 0, 0, err
	}
	if err = db.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return 0, 0, 0, err
	}
	if err = db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&tables); err != nil {
		return 0, 0, 0, err
	}
	return version, appID, tables, nil
}

// checkSchema refuses a file that is not a journal or is newer than this
// binary; it returns the file's version.
func checkSchema(ctx context.Context, db *sql.DB, path string) (int, error) {
	version, appID, tables, err := schemaInfo(ctx, db)
	if err != nil {
		return 0, fmt.Errorf("journal: read %s: %w (is it a pecbatch journal?)", path, err)
	}
	if version == 0 && appID == 0 && tables == 0 {
		return 0, nil // an empty file: a new journal
	}
	if appID != applicationID {
		return 0, fmt.Errorf("journal: %s: %w: it is some other SQLite database; choose another journal path", path, ErrNotJournal)
	}
	if latest := SchemaVersion(); version > latest {
		return 0, fmt.Errorf("journal: %s has schema version %d but this pecbatch knows only up to %d: %w; "+
			"use the newer pecbatch that wrote it", path, version, latest, ErrSchemaTooNew)
	}
	return version, nil
}

// migrate brings db from its version to SchemaVersion, one transaction per
// step, recording each step in the event log.
func migrate(ctx context.Context, db *sql.DB, env migrateEnv) error {
	return migrateTo(ctx, db, env, SchemaVersion())
}

// migrateTo runs the migrations up to version; tests use it to build a
// journal as an older pecbatch left it.
func migrateTo(ctx context.Context, db *sql.DB, env migrateEnv, version int) error {
	for _, m := range migrations() {
		if m.version > version {
			break
		}
		if err := migrateOne(ctx, db, m, env); err != nil {
			return err
		}
	}
	return nil
}

func migrateOne(ctx context.Context, db *sql.DB, m migration, env migrateEnv) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("journal: migrate to v%d: %w", m.version, err)
	}
	defer tx.Rollback()
	var current int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&current); err != nil {
		return fmt.Errorf("journal: migrate to v%d: %w", m.version, err)
	}
	if current >= m.version {
		return nil
	}
	if current != m.version-1 {
		return fmt.Errorf("journal: migrate to v%d: file is at v%d, migrations must run in order", m.version, current)
	}
	for _, s := range m.stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("journal: migrate to v%d (%s): %w", m.version, m.name, err)
		}
	}
	if m.fill != nil {
		if err := m.fill(ctx, tx, env); err != nil {
			return fmt.Errorf("journal: migrate to v%d (%s): %w", m.version, m.name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
		return fmt.Errorf("journal: migrate to v%d: %w", m.version, err)
	}
	detail := fmt.Sprintf(`{"from":%d,"to":%d}`, current, m.version)
	if _, err := tx.ExecContext(ctx, "INSERT INTO events (at, kind, detail) VALUES (?, ?, ?)",
		env.now(), EventMigrated, detail); err != nil {
		return fmt.Errorf("journal: migrate to v%d: %w", m.version, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("journal: migrate to v%d: %w", m.version, err)
	}
	return nil
}
