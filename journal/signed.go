package journal

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Event kinds of the signed receipts.
const (
	// EventSignedReceipt: AddSignedReceipts stored a signed receipt of the
	// row; detail {"sha256":...,"kind":...,"signature":...}.
	EventSignedReceipt = "signed_receipt"
	// EventSignedConflict: a usable signed receipt says something else
	// than a recipient's final state, which is kept (ApplySignedOutcomes);
	// detail {"sha256":...,"address":...,"state":...,"signed":...}.
	EventSignedConflict = "signed_conflict"
)

// The signature statuses a signed receipt may have.
const (
	SignatureValid          = "valid"
	SignatureValidUntrusted = "valid-untrusted"
	SignatureInvalid        = "invalid"
	SignatureMissing        = "missing"
)

// SignedReceipt is one receipt message read from the sending mailbox over
// IMAP, as fetched, with what its daticert.xml and S/MIME signature said.
// The journal stores plain values; it neither parses nor verifies.
type SignedReceipt struct {
	// Code is the message id at the end of the subject: the send the
	// receipt belongs to.
	Code string
	// UIDValidity and UID locate the message in the mailbox.
	UIDValidity, UID uint32
	// SHA256 is the lower-case hex SHA-256 of Raw: a message fetched twice
	// is stored once.
	SHA256 string
	// Raw is the message exactly as the server gave it.
	Raw []byte
	// Subject is the decoded Subject header, Kind the X-Ricevuta (or
	// X-Trasporto) value.
	Subject, Kind string
	// HasDaticert says the message has a daticert.xml that parsed; the
	// fields below are its text, trimmed.
	HasDaticert                                                 bool
	Tipo, Errore, Consegna, ErroreEsteso, Identificativo, MsgID string
	// Data is daticert's date, zero if absent.
	Data time.Time
	// DaticertErr is why daticert.xml could not be read, "" if fine.
	DaticertErr string
	// Signature is one of SignatureValid, SignatureValidUntrusted,
	// SignatureInvalid, SignatureMissing; Signer the signing certificate's
	// subject, SignatureDetail the reason of a problem.
	Signature, Signer, SignatureDetail string
	// Agrees says daticert is consistent with the message.
	Agrees bool
}

// Usable reports whether the receipt may decide an outcome: its signature
// verifies and its daticert agrees with the message. The others are kept
// as evidence of what arrived and counted as problems.
func (s SignedReceipt) Usable() bool {
	return (s.Signature == SignatureValid || s.Signature == SignatureValidUntrusted) && s.Agrees && s.HasDaticert
}

// StoredSignedReceipt is a SignedReceipt as the journal holds it. Raw is
// only filled by SignedReceiptRaw.
type StoredSignedReceipt struct {
	SignedReceipt
	// RowID is the row whose send (current or a retried attempt's) the
	// receipt belongs to.
	RowID int64
	// FetchedAt is when the journal stored it.
	FetchedAt time.Time
}

// SignedCursor is where the last fetch of the mailbox stopped: its
// UIDVALIDITY and the highest UID read. The zero value reads everything.
type SignedCursor struct {
	UIDValidity, LastUID uint32
}

// SignedCursorAt is the cursor and the asOf its read was stored with (zero:
// never read): a send the journal recorded after asOf was not among the
// sends that read wanted, so its receipts may lie behind the cursor.
func (r *Reader) SignedCursorAt(ctx context.Context) (SignedCursor, time.Time, error) {
	var c SignedCursor
	var at sql.NullInt64
	err := r.db.QueryRowContext(ctx, "SELECT uidvalidity, last_uid, updated_at FROM imap_cursor WHERE id = 1").
		Scan(&c.UIDValidity, &c.LastUID, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return SignedCursor{}, time.Time{}, nil
	}
	if err != nil {
		return c, time.Time{}, fmt.Errorf("journal: signed cursor: %w", err)
	}
	return c, fromMillis(at), nil
}

// SignedSummary counts the signed receipts of a journal.
type SignedSummary struct {
	// Stored is every signed receipt stored; Problems those with an invalid
	// or missing signature or a daticert that is missing or disagrees (never
	// used); Conflicts the signed receipts that contradicted a final state.
	Stored, Problems, Conflicts int
}

// signedMigration is the body of schema version 8.
func signedMigration() []string {
	return append([]string{
		// The raw message is stored as fetched, never re-encoded: it is the
		// evidence, and its SHA-256 is its identity.
		`CREATE TABLE signed_receipts (
			sha256 TEXT PRIMARY KEY CHECK (length(sha256) = 64),
			row_id INTEGER NOT NULL REFERENCES rows (id),
			code TEXT NOT NULL CHECK (code <> ''),
			uidvalidity INTEGER NOT NULL,
			uid INTEGER NOT NULL,
			raw BLOB NOT NULL,
			subject TEXT NOT NULL,
			kind TEXT NOT NULL,
			has_daticert INTEGER NOT NULL CHECK (has_daticert IN (0, 1)),
			tipo TEXT NOT NULL,
			errore TEXT NOT NULL,
			consegna TEXT NOT NULL,
			errore_esteso TEXT NOT NULL,
			identificativo TEXT NOT NULL,
			msgid TEXT NOT NULL,
			data TEXT NOT NULL,
			daticert_error TEXT NOT NULL,
			signature TEXT NOT NULL CHECK (signature IN ('valid', 'valid-untrusted', 'invalid', 'missing')),
			signer TEXT NOT NULL,
			signature_detail TEXT NOT NULL,
			agrees INTEGER NOT NULL CHECK (agrees IN (0, 1)),
			fetched_at INTEGER NOT NULL
		) WITHOUT ROWID`,
		`CREATE INDEX signed_receipts_row ON signed_receipts (row_id, fetched_at)`,
		// One row: where the last fetch stopped. It changes in the same
		// transaction as the receipts it covers.
		`CREATE TABLE imap_cursor (
			id INTEGER PRIMARY KEY CHECK (id = 1),
			uidvalidity INTEGER NOT NULL,
			last_uid INTEGER NOT NULL,
			updated_at INTEGER NOT NULL
		)`,
		`CREATE INDEX events_signed_conflicts ON events (row_id, id) WHERE kind = 'signed_conflict'`,
	}, appendOnly("signed_receipts", "signed receipts are")...)
}

// AddSignedReceipts stores, in one transaction, the receipts of one fetch
// and the cursor after it. A receipt whose Code is no send of this journal
// (no row's message id, current or of a retried attempt) is not stored;
// one already stored (same SHA256) is not stored again. It returns how many
// were stored. A SHA256 that is not the hash of Raw is refused with
// nothing written. asOf is when the fetch took its list of wanted sends
// (zero: now); SignedCursorAt returns it with the cursor.
func (j *Journal) AddSignedReceipts(ctx context.Context, receipts []SignedReceipt, cur SignedCursor,
	asOf time.Time) (added int, err error) {
	err = j.write(ctx, "add signed receipts", func(tx *wtx, now int64) error {
		stamp := now
		if !asOf.IsZero() {
			stamp = asOf.UnixMilli()
		}
		added = 0
		for _, s := range receipts {
			ok, err := addSignedTx(ctx, tx, now, s)
			if err != nil {
				return err
			}
			if ok {
				added++
			}
		}
		_, err := tx.exec(`INSERT INTO imap_cursor (id, uidvalidity, last_uid, updated_at) VALUES (1, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid,
			updated_at = excluded.updated_at`, cur.UIDValidity, cur.LastUID, stamp)
		return err
	})
	if err != nil {
		return 0, err
	}
	return added, nil
}

func addSignedTx(ctx context.Context, tx *wtx, now int64, s SignedReceipt) (bool, error) {
	h := sha256.Sum256(s.Raw)
	if got := hex.EncodeToString(h[:]); !strings.EqualFold(got, s.SHA256) {
		return false, fmt.Errorf("signed receipt %q: sha256 %q is not the hash of its bytes (%s)", s.Subject, s.SHA256, got)
	}
	switch s.Signature {
	case SignatureValid, SignatureValidUntrusted, SignatureInvalid, SignatureMissing:
	default:
		return false, fmt.Errorf("signed receipt %q: unknown signature status %q", s.Subject, s.Signature)
	}
	code := strings.TrimSpace(s.Code)
	if code == "" {
		return false, nil
	}
	rowID, err := rowOfCode(tx, code)
	if err != nil || rowID == 0 {
		return false, err
	}
	var data string
	if !s.Data.IsZero() {
		data = s.Data.Format(time.RFC3339)
	}
	res, err := tx.exec(`INSERT INTO signed_receipts (sha256, row_id, code, uidvalidity, uid, raw, subject, kind,
		has_daticert, tipo, errore, consegna, errore_esteso, identificativo, msgid, data, daticert_error,
		signature, signer, signature_detail, agrees, fetched_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (sha256) DO NOTHING`,
		hex.EncodeToString(h[:]), rowID, code, s.UIDValidity, s.UID, s.Raw, s.Subject, s.Kind,
		s.HasDaticert, s.Tipo, s.Errore, s.Consegna, clip(s.ErroreEsteso), s.Identificativo, s.MsgID, data,
		clip(s.DaticertErr), s.Signature, s.Signer, clip(s.SignatureDetail), s.Agrees, now)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	return true, insertEvent(ctx, tx, now, rowID, EventSignedReceipt,
		map[string]any{"sha256": hex.EncodeToString(h[:]), "kind": s.Kind, "signature": s.Signature})
}

// rowOfCode returns the row whose send has message id code, now or in a
// retried attempt; 0 when none.
func rowOfCode(tx *wtx, code string) (int64, error) {
	var id int64
	err := tx.queryRow(`SELECT id FROM rows WHERE message_id = ?
		UNION ALL SELECT row_id FROM attempts WHERE message_id = ? LIMIT 1`, code, code).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return id, err
}

const signedColumns = `sha256, row_id, code, uidvalidity, uid, subject, kind, has_daticert, tipo, errore,
	consegna, errore_esteso, identificativo, msgid, data, daticert_error, signature, signer, signature_detail,
	agrees, fetched_at`

func scanSigned(q interface{ Scan(...any) error }) (StoredSignedReceipt, error) {
	var s StoredSignedReceipt
	var data string
	var fetched sql.NullInt64
	err := q.Scan(&s.SHA256, &s.RowID, &s.Code, &s.UIDValidity, &s.UID, &s.Subject, &s.Kind, &s.HasDaticert,
		&s.Tipo, &s.Errore, &s.Consegna, &s.ErroreEsteso, &s.Identificativo, &s.MsgID, &data, &s.DaticertErr,
		&s.Signature, &s.Signer, &s.SignatureDetail, &s.Agrees, &fetched)
	if err != nil {
		return s, err
	}
	if data != "" {
		if s.Data, err = time.Parse(time.RFC3339, data); err != nil {
			return s, fmt.Errorf("signed receipt %s: data %q: %w", s.SHA256, data, err)
		}
	}
	s.FetchedAt = fromMillis(fetched)
	return s, nil
}

// SignedReceiptsFor returns the signed receipts of a row, in the order
// they were stored, without their raw bytes (SignedReceiptRaw has them).
func (r *Reader) SignedReceiptsFor(ctx context.Context, rowID int64) ([]StoredSignedReceipt, error) {
	q, err := r.db.QueryContext(ctx, `SELECT `+signedColumns+` FROM signed_receipts WHERE row_id = ?
		ORDER BY fetched_at, uidvalidity, uid, sha256`, rowID)
	if err != nil {
		return nil, fmt.Errorf("journal: signed receipts: %w", err)
	}
	defer q.Close()
	var out []StoredSignedReceipt
	for q.Next() {
		s, err := scanSigned(q)
		if err != nil {
			return nil, fmt.Errorf("journal: signed receipts: %w", err)
		}
		out = append(out, s)
	}
	if err := q.Err(); err != nil {
		return nil, fmt.Errorf("journal: signed receipts: %w", err)
	}
	return out, nil
}

// SignedReceiptRaw returns the message with the given SHA-256 (hex) exactly
// as it was fetched: the .eml file. ErrNotFound when there is none.
func (r *Reader) SignedReceiptRaw(ctx context.Context, sha string) ([]byte, error) {
	var raw []byte
	err := r.db.QueryRowContext(ctx, "SELECT raw FROM signed_receipts WHERE sha256 = ?", strings.ToLower(sha)).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("journal: signed receipt %s: %w", sha, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("journal: signed receipt %s: %w", sha, err)
	}
	return raw, nil
}

// SignedCursor returns where the last fetch of the mailbox stopped; the
// zero cursor when the mailbox was never read.
func (r *Reader) SignedCursor(ctx context.Context) (SignedCursor, error) {
	c, _, err := r.SignedCursorAt(ctx)
	return c, err
}

// SignedSummary counts the journal's signed receipts, those with problems
// and the contradictions with final states recorded.
func (r *Reader) SignedSummary(ctx context.Context) (SignedSummary, error) {
	var s SignedSummary
	err := r.db.QueryRowContext(ctx, `SELECT count(*),
		coalesce(sum(signature NOT IN ('valid', 'valid-untrusted') OR agrees = 0 OR has_daticert = 0), 0),
		(SELECT count(*) FROM events WHERE kind = 'signed_conflict')
		FROM signed_receipts`).Scan(&s.Stored, &s.Problems, &s.Conflicts)
	if err != nil {
		return s, fmt.Errorf("journal: signed summary: %w", err)
	}
	return s, nil
}

// SignedOutcome is what a usable signed receipt (SHA256) decides of one
// recipient of its row.
type SignedOutcome struct {
	Outcome
	SHA256 string
}

// SignedApplied tells what ApplySignedOutcomes did.
type SignedApplied struct {
	Applied
	// Conflicts is how many outcomes contradicted a final recipient state
	// and were recorded (EventSignedConflict) rather than applied, this
	// call; a contradiction recorded before is not recorded again.
	Conflicts int
}

// ApplySignedOutcomes applies, in one transaction, what the row's signed
// receipts decide of its recipients, as ApplyReceipts applies outcomes
// (forward only, the row's state derived from its recipients). An outcome
// for a recipient whose state is final and other than the outcome's is
// never applied: it is recorded once per receipt and address as an
// EventSignedConflict, for a person to look at. The row must be tracked
// (it has a message id), else ErrConflict.
func (j *Journal) ApplySignedOutcomes(ctx context.Context, rowID int64, outcomes []SignedOutcome) (SignedApplied, error) {
	var out SignedApplied
	err := j.write(ctx, "apply signed outcomes", func(tx *wtx, now int64) error {
		c, err := loadCurrent(ctx, tx, rowID)
		if err != nil {
			return err
		}
		out.Conflicts = 0
		var apply []Outcome
		for _, o := range outcomes {
			addr := strings.ToLower(strings.TrimSpace(o.Address))
			var st RecipientState
			err := tx.queryRow("SELECT state FROM recipients WHERE row_id = ? AND address = ?", c.id, addr).Scan(&st)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("%w: %s is not a recipient of row %d (key %q)", ErrConflict, addr, c.rowNumber, c.key)
			}
			if err != nil {
				return err
			}
			if !st.Final() || st == o.State {
				apply = append(apply, o.Outcome)
				continue
			}
			if !o.State.Final() {
				continue // a warning after the outcome: nothing to contradict
			}
			var seen int
			if err := tx.queryRow(`SELECT count(*) FROM events WHERE row_id = ? AND kind = 'signed_conflict'
				AND json_extract(detail, '$.sha256') = ? AND json_extract(detail, '$.address') = ?`,
				c.id, o.SHA256, addr).Scan(&seen); err != nil {
				return err
			}
			if seen > 0 {
				continue
			}
			if err := insertEvent(ctx, tx, now, c.id, EventSignedConflict, map[string]any{
				"sha256": o.SHA256, "address": addr, "state": st, "signed": o.State}); err != nil {
				return err
			}
			out.Conflicts++
		}
		out.Applied, err = j.applyReceiptsTx(ctx, tx, now, rowID, nil, apply)
		return err
	})
	if err != nil {
		return SignedApplied{}, err
	}
	return out, nil
}

// SendCode is a message id this journal owns: its row, and when that
// send started and was recorded submitted (zero for a retried attempt's).
type SendCode struct {
	RowID                  int64
	SendingAt, SubmittedAt time.Time
}

// SendCodes maps every message id this journal owns, current or of a
// retried attempt, to its row: the receipts worth fetching.
func (r *Reader) SendCodes(ctx context.Context) (map[string]SendCode, error) {
	q, err := r.db.QueryContext(ctx, `SELECT message_id, id, sending_at, submitted_at FROM rows WHERE message_id IS NOT NULL
		UNION ALL SELECT message_id, row_id, NULL, NULL FROM attempts WHERE message_id IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("journal: send codes: %w", err)
	}
	defer q.Close()
	out := map[string]SendCode{}
	for q.Next() {
		var code string
		var c SendCode
		var sending, submitted sql.NullInt64
		if err := q.Scan(&code, &c.RowID, &sending, &submitted); err != nil {
			return nil, fmt.Errorf("journal: send codes: %w", err)
		}
		c.SendingAt, c.SubmittedAt = fromMillis(sending), fromMillis(submitted)
		out[code] = c
	}
	if err := q.Err(); err != nil {
		return nil, fmt.Errorf("journal: send codes: %w", err)
	}
	return out, nil
}

// SignedConflict is a signed receipt that contradicted a recipient's final
// state (EventSignedConflict): the state was kept.
type SignedConflict struct {
	RowNumber int
	Key       string
	At        time.Time
	Address   string
	// State is the recipient's final state, kept; Signed what the receipt
	// said; SHA256 names the receipt.
	State, Signed RecipientState
	SHA256        string
}

// SignedConflicts returns up to limit contradictions (0: all), latest
// first, and how many there are.
func (r *Reader) SignedConflicts(ctx context.Context, limit int) ([]SignedConflict, int, error) {
	var n int
	if err := r.db.QueryRowContext(ctx, "SELECT count(*) FROM events WHERE kind = 'signed_conflict'").Scan(&n); err != nil {
		return nil, 0, fmt.Errorf("journal: signed conflicts: %w", err)
	}
	if limit <= 0 {
		limit = -1
	}
	q, err := r.db.QueryContext(ctx, `SELECT r.row_number, r.key, e.at, json_extract(e.detail, '$.address'),
		json_extract(e.detail, '$.state'), json_extract(e.detail, '$.signed'), json_extract(e.detail, '$.sha256')
		FROM events e JOIN rows r ON r.id = e.row_id WHERE e.kind = 'signed_conflict' ORDER BY e.id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("journal: signed conflicts: %w", err)
	}
	defer q.Close()
	var out []SignedConflict
	for q.Next() {
		var c SignedConflict
		var at sql.NullInt64
		if err := q.Scan(&c.RowNumber, &c.Key, &at, &c.Address, &c.State, &c.Signed, &c.SHA256); err != nil {
			return nil, 0, fmt.Errorf("journal: signed conflicts: %w", err)
		}
		c.At = fromMillis(at)
		out = append(out, c)
	}
	if err := q.Err(); err != nil {
		return nil, 0, fmt.Errorf("journal: signed conflicts: %w", err)
	}
	return out, n, nil
}
