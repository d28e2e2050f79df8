package journal

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// DefaultBusyTimeout is how long a statement waits for another connection's
// write lock before failing with "database is locked".
const DefaultBusyTimeout = 10 * time.Second

// Option configures Open and OpenReadOnly.
type Option func(*options)

type options struct {
	now         func() time.Time
	busyTimeout time.Duration
	rand        io.Reader
}

// WithRand sets the randomness a new journal draws its ID from (default,
// and for nil, crypto/rand). Tests inject a fixed source.
func WithRand(r io.Reader) Option {
	return func(o *options) {
		if r != nil {
			o.rand = r
		}
	}
}

// WithNow sets the clock the journal stamps transitions and events with
// (default, and for nil, time.Now). Tests inject a fixed or manual clock.
func WithNow(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// WithBusyTimeout sets how long a write waits for another connection's write
// lock (default, and for d <= 0, DefaultBusyTimeout).
func WithBusyTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.busyTimeout = d
		}
	}
}

func buildOptions(opts []Option) options {
	o := options{now: time.Now, busyTimeout: DefaultBusyTimeout, rand: rand.Reader}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// Reader reads a journal. It is what OpenReadOnly returns, for `status` and
// `report`, and it works while another process runs and writes the journal:
// each query sees a consistent snapshot. A *Journal has every Reader method.
type Reader struct {
	db    *sql.DB
	path  string
	id    string
	clock func() time.Time
	rand  io.Reader
	codec *codec

	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt
}

// Journal is a journal opened for writing. It holds the run lock until Close.
// Its methods are safe for concurrent use.
type Journal struct {
	*Reader
	lock *runLock
}

// Open opens the journal at path for writing, creating it (mode 0600) if it
// does not exist, and migrates its schema to the current version.
//
// Open first takes the run lock on path+".lock": if another process holds
// it, Open returns a *LockedError (errors.Is(err, ErrLocked)) and touches
// nothing. The lock is held until Close, or until the process dies.
//
// A new journal is empty until Init; Meta reports ErrNotInitialized until then.
func Open(ctx context.Context, path string, opts ...Option) (*Journal, error) {
	o := buildOptions(opts)
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	lock, err := acquireRunLock(abs)
	if err != nil {
		return nil, err
	}
	r, err := openWriter(ctx, abs, o)
	if err != nil {
		lock.release()
		return nil, err
	}
	return &Journal{Reader: r, lock: lock}, nil
}

func openWriter(ctx context.Context, abs string, o options) (*Reader, error) {
	db, err := openPrivate(ctx, abs, o, func(ctx context.Context, db *sql.DB) error {
		_, err := checkSchema(ctx, db, abs)
		return err
	})
	if err != nil {
		return nil, err
	}
	r := newReader(db, abs, o)
	if err := r.setup(ctx, true); err != nil {
		db.Close()
		return nil, err
	}
	if err := tightenSides(abs); err != nil {
		db.Close()
		return nil, err
	}
	return r, nil
}

// openPrivate opens the SQLite file abs for writing, creating it with
// mode 0600, after check has accepted what the file holds.
func openPrivate(ctx context.Context, abs string, o options, check func(context.Context, *sql.DB) error) (*sql.DB, error) {
	// Creating the file here, not through SQLite, fixes its mode: SQLite
	// would create it with 0644 minus the umask, and gives its -wal and
	// -shm files the mode of the main file.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal: create %s: %w", abs, err)
	}
	f.Close()
	if err := tightenMode(abs); err != nil {
		return nil, err
	}
	// Look at the file read-only first: the writer's DSN switches the file
	// to WAL as it connects, which must not happen to a file that turns out
	// to be some other database.
	probe, err := sql.Open("sqlite", dsn(abs, readOnlyQuery(o)))
	if err != nil {
		return nil, fmt.Errorf("journal: open %s: %w", abs, err)
	}
	err = check(ctx, probe)
	probe.Close()
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", dsn(abs, writerQuery(o)))
	if err != nil {
		return nil, fmt.Errorf("journal: open %s: %w", abs, err)
	}
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		db.Close()
		return nil, fmt.Errorf("journal: open %s: %w", abs, err)
	}
	if mode != "wal" {
		db.Close()
		return nil, fmt.Errorf("journal: open %s: journal mode is %q, not wal: is the file on a network file system? "+
			"keep it on a local disk", abs, mode)
	}
	return db, nil
}

// tightenSides narrows the mode of the -wal and -shm files of abs.
func tightenSides(abs string) error {
	for _, side := range []string{abs + "-wal", abs + "-shm"} {
		if err := tightenMode(side); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// writerQuery is the DSN of a connection that writes: IMMEDIATE
// transactions, WAL, and a commit that is on disk when it returns.
func writerQuery(o options) url.Values {
	q := url.Values{}
	q.Set("_txlock", "immediate")
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(o.busyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	return q
}

func readOnlyQuery(o options) url.Values {
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(o.busyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "query_only(1)")
	return q
}

// OpenReadOnly opens an existing journal for reading only. It takes no lock
// and never writes, so it works while a run holds the journal. It fails with
// an error matching fs.ErrNotExist if there is no journal at path, and asks
// for a writing command first if the journal's schema is older than this
// binary's.
func OpenReadOnly(ctx context.Context, path string, opts ...Option) (*Reader, error) {
	o := buildOptions(opts)
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if _, err := os.Stat(abs); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("journal: no journal at %s: run `pecbatch run` first: %w", abs, err)
		}
		return nil, fmt.Errorf("journal: %w", err)
	}
	db, err := sql.Open("sqlite", dsn(abs, readOnlyQuery(o)))
	if err != nil {
		return nil, fmt.Errorf("journal: open %s: %w", abs, err)
	}
	r := newReader(db, abs, o)
	if err := r.setup(ctx, false); err != nil {
		db.Close()
		return nil, err
	}
	return r, nil
}

func newReader(db *sql.DB, abs string, o options) *Reader {
	return &Reader{db: db, path: abs, clock: o.now, rand: o.rand, codec: newCodec(), stmts: map[string]*sql.Stmt{}}
}

// dsn builds a file: URI so that any path (spaces, '?', '#') reaches SQLite
// intact; the driver reads its own parameters from the same query string.
func dsn(abs string, q url.Values) string {
	u := url.URL{Scheme: "file", Path: uriPath(filepath.ToSlash(abs)), RawQuery: q.Encode()}
	return u.String()
}

// uriPath makes a slash-separated absolute path the path of a file: URI.
// A Windows path (C:/Users/...) needs a leading slash: SQLite reads
// file:///C:/Users/... as C:\Users\..., while file:C:/... would be relative.
func uriPath(slashed string) string {
	if !strings.HasPrefix(slashed, "/") {
		return "/" + slashed
	}
	return slashed
}

// setup checks what the file is and, for a writer, migrates it.
func (r *Reader) setup(ctx context.Context, writer bool) error {
	version, err := checkSchema(ctx, r.db, r.path)
	if err != nil {
		return err
	}
	if writer {
		if err := migrate(ctx, r.db, migrateEnv{now: r.nowMillis, rand: r.rand}); err != nil {
			return err
		}
		return r.loadID(ctx)
	}
	switch {
	case version == 0:
		return fmt.Errorf("journal: %s is not initialised yet: run `pecbatch run` first", r.path)
	case version < SchemaVersion():
		return fmt.Errorf("journal: %s has schema version %d, older than this pecbatch's %d: "+
			"run `pecbatch run` or `pecbatch poll` once to upgrade it", r.path, version, SchemaVersion())
	}
	return r.loadID(ctx)
}

func (r *Reader) loadID(ctx context.Context) error {
	if err := r.db.QueryRowContext(ctx, "SELECT journal_id FROM identity WHERE id = 1").Scan(&r.id); err != nil {
		return fmt.Errorf("journal: %s: read its id: %w", r.path, err)
	}
	return nil
}

// ID returns the journal's id: 32 lower-case hex digits drawn when the
// file was created (or first opened by a pecbatch that knows ids), never
// changed after. A copy of the file has the same id; a new journal for the
// same campaign has another. The claim Ledger names journals by it.
func (r *Reader) ID() string { return r.id }

// Path returns the journal's absolute path.
func (r *Reader) Path() string { return r.path }

// Close closes a read-only journal.
func (r *Reader) Close() error {
	r.stmtMu.Lock()
	for _, s := range r.stmts {
		s.Close()
	}
	r.stmts = nil // a write still running caches nothing more
	r.stmtMu.Unlock()
	if err := r.db.Close(); err != nil {
		return fmt.Errorf("journal: close: %w", err)
	}
	return nil
}

// Close closes the journal and releases the run lock.
func (j *Journal) Close() error {
	err := j.Reader.Close()
	if lerr := j.lock.release(); err == nil {
		err = lerr
	}
	return err
}

func (r *Reader) nowMillis() int64 { return r.clock().UnixMilli() }

// tightenMode makes path readable by its owner only: the journal holds
// addresses and receipts, and a file created by an older version or copied
// by hand may be wider.
func tightenMode(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if st.Mode().Perm()&0o077 == 0 {
		return nil
	}
	if err := os.Chmod(path, st.Mode().Perm()&0o700); err != nil {
		return fmt.Errorf("journal: restrict %s to its owner: %w", path, err)
	}
	return nil
}

// millis stores a time as Unix milliseconds; the zero time is NULL.
func millis(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// fromMillis is the inverse of millis; times come back in UTC.
func fromMillis(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMilli(v.Int64).UTC()
}
