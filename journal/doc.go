// Package journal is pecbatch's record of a campaign: one SQLite file that
// makes sending exactly-once and resumable, tracks every row to a final
// state, and archives the receipts that are the sender's evidence.
//
// It stores plain values only (strings, ints, times) and imports nothing of
// pecbatch. It never stores a token or a password: it has no column for one.
//
// # Opening
//
//	j, err := journal.Open(ctx, path)            // writers: run, poll (holds the run lock)
//	r, err := journal.OpenReadOnly(ctx, path)    // readers: status, report (no lock)
//	defer j.Close()
//
// Open creates the file with mode 0600 if needed (and narrows a wider mode
// on the file, its -wal, -shm and .lock files), migrates the schema (PRAGMA
// user_version, one transaction per step; a journal newer than the binary
// is refused with ErrSchemaTooNew, another SQLite file with ErrNotJournal),
// and takes the run lock: an exclusive, non-blocking lock on path+".lock"
// (flock on Linux and macOS, LockFileEx on Windows, via gofrs/flock).
// A second Open, from another process or the same one, fails with a
// *LockedError (errors.Is(err, ErrLocked)) that names the holder's pid and
// says what to do. The system releases the lock when the holder closes the
// journal or dies, even by SIGKILL, so there is never a stale lock.
//
// Each journal has an ID (Reader.ID), drawn once from the injected
// randomness (WithRand) when the file is created, never changed.
//
// OpenReadOnly takes no lock and never writes: it works while a run holds
// the lock and writes. A *Journal has every method of a *Reader (it embeds
// one), so code that only reads takes a *Reader.
//
// The file is in WAL mode with synchronous(FULL): when a write method
// returns nil, its transaction is on disk. Every write method is one
// IMMEDIATE transaction, so concurrent writers (the sender and the tracker
// of one run) serialise without deadlocks. A write whose context is
// cancelled is rolled back: record the outcome of a request that was made
// with context.WithoutCancel(ctx), also when the run is being interrupted.
//
// Every time the journal records comes from its clock (WithNow), so tests
// are deterministic. Times come back in UTC with millisecond precision.
//
// # A new campaign, or a resume
//
//	m, err := j.Meta(ctx)
//	switch {
//	case errors.Is(err, journal.ErrNotInitialized): // new, or a crash before Init
//		_, err = j.Init(ctx, journal.Meta{Campaign: name, Endpoint: url, Sender: from, Fingerprint: fp},
//			journal.RowsOf(rows))                    // every row pending, one transaction
//	case err == nil:
//		err = m.CheckTarget(endpoint, sender)       // never resume against another endpoint or sender
//		for _, c := range m.Fingerprint.Diff(fp) {  // "recipients.csv changed", ...
//		}
//		// with --allow-changes: j.Amend(ctx, fp, rows); j.RowDigests(ctx) lists the rows
//	}
//
// Init is all-or-nothing: a journal holds a whole campaign or none of it.
// Amend adds new keys as pending and updates the content of rows still
// pending; any change to a row past pending, or a pending row that
// disappeared, refuses the whole amendment with ErrConflict.
//
// # Sending
//
// Every transition is a compare-and-set on the row's state in its own
// transaction, and appends an event to the append-only event log. A
// transition from the wrong state changes nothing and returns an error
// matching ErrConflict; an unknown id matches ErrNotFound.
//
//	rows, _ := j.RowsInState(ctx, n, journal.StatePending) // by row number
//	j.MarkSending(ctx, row.ID)                  // BEFORE the request; attempts++
//	// ... the request ...
//	j.MarkSubmitted(ctx, row.ID, messageID)     // 201: the message id
//	j.MarkRejected(ctx, row.ID, apiMessage)     // definite refusal (400): final
//	j.MarkUnknown(ctx, row.ID, errText)         // timeout, drop, 5xx: may have been sent
//	j.MarkNotSent(ctx, row.ID, errText)         // provably never reached the API: back to pending
//
// A row found in sending when a run starts was interrupted mid-request:
// reconcile it like an unknown row. Reconciliation that finds the
// acceptance receipt calls MarkSubmitted (unknown or sending → submitted;
// MessageIDTaken tells whether a code already belongs to a row, and a
// message id is never given to two rows); one that gives up calls
// MarkUnknown for a sending row. Only `run --resend-unknown` calls
// ResendUnknown (unknown → pending).
//
// # States
//
//	pending   → sending     MarkSending
//	sending   → submitted   MarkSubmitted (the 201)
//	sending   → rejected    MarkRejected (final)
//	sending   → unknown     MarkUnknown
//	sending   → pending     MarkNotSent
//	unknown   → submitted   MarkSubmitted (reconciled)
//	unknown   → pending     ResendUnknown (--resend-unknown only)
//	unknown   → submitted   Resolve(DecidedSent, id) (the operator's decision)
//	unknown   → pending     Resolve(DecidedNotSent) (the operator's decision)
//	failed, rejected, expired → pending   Retry (a new attempt; the previous one kept in Attempts)
//	submitted → accepted    ApplyReceipts
//	submitted, accepted → delivered, failed, expired or accepted_not_certifiable   ApplyReceipts (final)
//
// Final states: rejected, delivered, failed, expired, accepted_not_certifiable.
// A final state never changes, except by Retry, which archives the attempt
// and gives the row the next attempt number. SQLite triggers enforce it
// too (a final row changes only together with its attempt number, after
// the attempt is archived), as they enforce that events, receipts,
// dictionaries and archived attempts are never updated or deleted, that
// rows are never deleted, and that a message id never changes within an
// attempt. MarkSubmitted and Resolve refuse an id another row, or an
// archived attempt of any row, has.
//
// # Tracking
//
//	due, _ := j.DueForPoll(ctx, n)              // next poll time has come (journal's clock); never scheduled = due
//	next, ok, _ := j.NextPoll(ctx)              // when to wake up; !ok: nothing left to track
//	j.SetNextPoll(ctx, id, at)                  // schedule only (e.g. right after submitting)
//	j.RecordPoll(ctx, id, next)                 // polls++ and schedule
//	j.ApplyReceipts(ctx, id, receipts, outcomes)
//	j.ReceiptsToDelete(ctx, n); j.MarkReceiptsDeleted(ctx, id)
//
// ApplyReceipts archives the receipts of one answer, each entry exactly
// once: identical entries (code, kind, date text, addressee) count by
// their multiplicity in the answer, and an answer archives only the
// occurrences beyond those an earlier answer showed. It moves each
// recipient's outcome forward (never back), and derives the row's state
// from its recipients, in one transaction. The runner decides each
// recipient's outcome (the receipts' kinds, the give-up time); the journal
// keeps outcomes, receipts and row state consistent. See ApplyReceipts for
// the derivation.
//
// # One send, one row
//
// Within a journal a message id belongs to one row (a unique index). Across
// journals, a Ledger shared by every journal that sends from one mailbox
// records which row of which journal each message id belongs to:
//
//	l, err := journal.OpenLedger(ctx, path)     // path: DefaultLedgerPath(sender)
//	err = l.Claim(ctx, messageID, journal.ClaimOwner{JournalID: j.ID(), JournalPath: j.Path(), RowKey: key, Row: n})
//	// *ClaimedError (errors.Is(err, ErrClaimed)): another row owns it
//	owners, err := l.ClaimedAmong(ctx, ids)     // reconciliation skips the others' messages
//
// # Signed receipts
//
// The receipt messages themselves, read from the mailbox over IMAP, are
// kept as fetched (signed_receipts, append-only, one row per SHA-256) with
// what their daticert.xml and signature said, and the mailbox cursor is
// written in the same transaction:
//
//	added, err := j.AddSignedReceipts(ctx, receipts, cursor, asOf)
//	res, err := j.ApplySignedOutcomes(ctx, rowID, outcomes) // forward only; a contradiction of a final state is an event
//	raw, err := r.SignedReceiptRaw(ctx, sha256)              // the .eml, byte for byte
//
// # Daily limit
//
// SentPerDay(ctx, loc, day) and SentBetween(ctx, from, to) count the sending
// intents (MarkSending) of every run, less the attempts MarkNotSent proved
// never reached the service.
//
// # Reading
//
// Meta, Counts, Times, Row, RowByKey, RowsInState, NeedsAttention,
// DueForPoll, NextPoll, ReceiptsToDelete, Receipts, SignedReceiptsFor,
// SignedCursor, SignedSummary, SignedConflicts and SendCodes return values.
// ReportRows, Timeline, RowDigests and Events are iterators (iter.Seq2)
// that stream one snapshot without loading everything: break out of the
// loop to stop early; an error ends the stream.
//
// # Storage
//
// Receipts are most of a journal's bytes. Their sender, recipient, subject
// and body are packed and DEFLATE-compressed against a dictionary stored in
// the journal: the usual receipt wording, extended with the first receipt
// of each kind the campaign archives. A finished 100,000-row campaign with
// two receipts a row takes about 87 MB (see the package benchmarks).
package journal
