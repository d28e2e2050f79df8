package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestOpenPathWithSpecialCharacters(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "dir with space?#%")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "a?b#c.journal")
	j, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Init(ctx, testMeta(), genRows(2)); err != nil {
		t.Fatal(err)
	}
	j.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("journal not at its path: %v", err)
	}
	r, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if c, err := r.Counts(ctx); err != nil || c.Total() != 2 {
		t.Fatalf("counts %v %v", c, err)
	}
}

func TestLockSameProcess(t *testing.T) {
	ctx := context.Background()
	j, _, path := openTest(t)
	_, err := Open(ctx, path)
	var le *LockedError
	if !errors.Is(err, ErrLocked) || !errors.As(err, &le) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if le.PID != os.Getpid() {
		t.Errorf("pid in lock = %d, want %d", le.PID, os.Getpid())
	}
	msg := err.Error()
	for _, want := range []string{"another pecbatch run", fmt.Sprint(os.Getpid()), path, "wait for it to finish", "pecbatch status"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j2, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	j2.Close()
}

func TestLockedErrorWithoutPID(t *testing.T) {
	err := &LockedError{Path: "/x/j"}
	if strings.Contains(err.Error(), "pid") || !strings.Contains(err.Error(), "/x/j") {
		t.Errorf("message: %s", err)
	}
}

func TestOpenRefuses(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		setup func(t *testing.T, path string)
		is    error
		msg   string
	}{
		{"schema newer than the binary", func(t *testing.T, path string) {
			j, err := Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := j.db.ExecContext(ctx, "PRAGMA user_version = 99"); err != nil {
				t.Fatal(err)
			}
			j.Close()
		}, ErrSchemaTooNew, "use the newer pecbatch"},
		{"another SQLite database", func(t *testing.T, path string) {
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec("CREATE TABLE accounts (name TEXT)"); err != nil {
				t.Fatal(err)
			}
		}, ErrNotJournal, "choose another journal path"},
		{"not a database", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte(strings.Repeat("not sqlite ", 100)), 0o600); err != nil {
				t.Fatal(err)
			}
		}, nil, "pecbatch journal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j")
			tt.setup(t, path)
			before, _ := os.ReadFile(path)
			for _, open := range []func() error{
				func() error { j, err := Open(ctx, path); closeIf(j, err); return err },
				func() error { r, err := OpenReadOnly(ctx, path); closeIfR(r, err); return err },
			} {
				err := open()
				if err == nil || (tt.is != nil && !errors.Is(err, tt.is)) || !strings.Contains(err.Error(), tt.msg) {
					t.Errorf("err = %v, want %v mentioning %q", err, tt.is, tt.msg)
				}
			}
			if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Error("a refused Open changed the file")
			}
		})
	}
}

func closeIf(j *Journal, err error) {
	if err == nil {
		j.Close()
	}
}

func closeIfR(r *Reader, err error) {
	if err == nil {
		r.Close()
	}
}

func TestOpenReadOnlyRefusals(t *testing.T) {
	ctx := context.Background()
	_, err := OpenReadOnly(ctx, filepath.Join(t.TempDir(), "missing"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "pecbatch run") {
		t.Errorf("missing file: %v", err)
	}
	path := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenReadOnly(ctx, path); err == nil || !strings.Contains(err.Error(), "not initialised") {
		t.Errorf("empty file: %v", err)
	}
}

// TestReadOnlyDuringWrite: status and report open the journal while a run
// holds the lock and is in the middle of a write transaction, read the
// last committed state, and then see the new one.
func TestReadOnlyDuringWrite(t *testing.T) {
	ctx := context.Background()
	j, _, path := initTest(t, 10)
	submit(t, j, mustRow(t, j.Reader, "K000000").ID, "C0")

	r, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	inTx := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := j.Amend(ctx, testFingerprint(), func(yield func(NewRow, error) bool) {
			for i := range 20 {
				if i == 15 {
					close(inTx)
					<-release
				}
				if !yield(newRow(i), nil) {
					return
				}
			}
		})
		done <- err
	}()
	<-inTx
	// The writer holds the write lock with 5 uncommitted new rows.
	c, err := r.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Total() != 10 || c[StateSubmitted] != 1 {
		t.Errorf("counts during the write: %v", c)
	}
	lines := collect(t, r.ReportRows(ctx))
	if len(lines) != 10 {
		t.Errorf("report during the write: %d lines", len(lines))
	}
	if _, err := r.Meta(ctx); err != nil {
		t.Errorf("meta during the write: %v", err)
	}
	if _, err := r.db.ExecContext(ctx, "UPDATE rows SET subject = 'x'"); err == nil {
		t.Error("a read-only journal accepted a write")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c, err = r.Counts(ctx)
	if err != nil || c.Total() != 20 {
		t.Errorf("counts after the write: %v %v", c, err)
	}
}

func TestInit(t *testing.T) {
	ctx := context.Background()
	j, c, _ := openTest(t)
	if _, err := j.Meta(ctx); !errors.Is(err, ErrNotInitialized) {
		t.Fatalf("Meta before Init: %v", err)
	}
	n, err := j.Init(ctx, testMeta(), genRows(5))
	if err != nil || n != 5 {
		t.Fatalf("Init = %d, %v", n, err)
	}
	m, err := j.Meta(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := testMeta()
	want.CreatedAt = c.Now()
	if m.Campaign != want.Campaign || m.Endpoint != want.Endpoint || m.Sender != want.Sender ||
		!m.CreatedAt.Equal(want.CreatedAt) || !m.StartedAt.IsZero() || len(m.Fingerprint.Diff(want.Fingerprint)) != 0 {
		t.Errorf("meta = %+v", m)
	}
	r := mustRow(t, j.Reader, "K000002")
	if r.State != StatePending || r.RowNumber != 3 || !slices.Equal(r.Recipients, []string{"dest2@pec.example.it"}) ||
		r.Attempts != 0 || r.MessageID != "" || !r.CreatedAt.Equal(c.Now()) {
		t.Errorf("row = %+v", r)
	}
	if _, err := j.Init(ctx, testMeta(), genRows(1)); !errors.Is(err, ErrConflict) {
		t.Errorf("second Init: %v", err)
	}
}

// TestInitAllOrNothing: a bad row anywhere leaves the journal empty.
func TestInitAllOrNothing(t *testing.T) {
	bad := func(i int, mutate func(*NewRow)) func(yield func(NewRow, error) bool) {
		return func(yield func(NewRow, error) bool) {
			for k := range 10 {
				r := newRow(k)
				if k == i {
					mutate(&r)
				}
				if !yield(r, nil) {
					return
				}
			}
		}
	}
	tests := []struct {
		name string
		rows func(yield func(NewRow, error) bool)
		meta func(*Meta)
		msg  string
	}{
		{"duplicate key", bad(7, func(r *NewRow) { r.Key = "K000001" }), nil, `key "K000001" appears twice`},
		{"no recipients", bad(3, func(r *NewRow) { r.Recipients = nil }), nil, "no recipients"},
		{"empty recipient", bad(3, func(r *NewRow) { r.Recipients = []string{" "} }), nil, "empty recipient"},
		{"recipient twice", bad(3, func(r *NewRow) { r.Recipients = []string{"a@x.it", "A@X.IT"} }), nil, "listed twice"},
		{"bad hash", bad(3, func(r *NewRow) { r.ContentSHA256 = "abc" }), nil, "not a hex SHA-256"},
		{"empty key", bad(3, func(r *NewRow) { r.Key = "" }), nil, "empty key"},
		{"source error", func(yield func(NewRow, error) bool) {
			if yield(newRow(0), nil) {
				yield(NewRow{}, errors.New("csv: line 3: bare quote"))
			}
		}, nil, "bare quote"},
		{"no sender", genRows(2), func(m *Meta) { m.Sender = "" }, "required"},
		{"bad fingerprint", genRows(2), func(m *Meta) { m.Fingerprint = Fingerprint{"x": "zz"} }, "not a lower-case hex SHA-256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			j, _, _ := openTest(t)
			m := testMeta()
			if tt.meta != nil {
				tt.meta(&m)
			}
			_, err := j.Init(ctx, m, tt.rows)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want %q", err, tt.msg)
			}
			if _, err := j.Meta(ctx); !errors.Is(err, ErrNotInitialized) {
				t.Errorf("meta after failed Init: %v", err)
			}
			if c, _ := j.Counts(ctx); c.Total() != 0 {
				t.Errorf("rows after failed Init: %v", c)
			}
			if _, err := j.Init(ctx, testMeta(), genRows(3)); err != nil {
				t.Errorf("Init after a failed one: %v", err)
			}
		})
	}
}

func TestAmend(t *testing.T) {
	changed := func(r NewRow) NewRow {
		r.Subject += " (corretto)"
		r.ContentSHA256 = sum(r.Subject)
		return r
	}
	// The journal holds rows 0..4: 0 submitted, 1 rejected, 2..4 pending.
	tests := []struct {
		name  string
		rows  func() []NewRow
		want  AmendResult
		msg   string // non-empty: refused with ErrConflict
		check func(t *testing.T, r *Reader)
	}{
		{"nothing changed", func() []NewRow { return rowsN(5) }, AmendResult{Unchanged: 5}, "", nil},
		{"new rows", func() []NewRow { return rowsN(7) }, AmendResult{Added: 2, Unchanged: 5}, "", func(t *testing.T, r *Reader) {
			if row := mustRow(t, r, "K000006"); row.State != StatePending {
				t.Errorf("new row is %s", row.State)
			}
		}},
		{"pending row changed", func() []NewRow {
			rs := rowsN(5)
			rs[3] = changed(rs[3])
			rs[3].Recipients = []string{"Nuovo@PEC.it", "altro@pec.it"}
			return rs
		}, AmendResult{Updated: 1, Unchanged: 4}, "", func(t *testing.T, r *Reader) {
			row := mustRow(t, r, "K000003")
			if !strings.HasSuffix(row.Subject, "(corretto)") || !slices.Equal(row.Recipients, []string{"nuovo@pec.it", "altro@pec.it"}) {
				t.Errorf("row = %+v", row)
			}
			var addrs []string
			for l, err := range r.ReportRows(context.Background()) {
				if err != nil {
					t.Fatal(err)
				}
				if l.Key == "K000003" {
					addrs = append(addrs, l.Recipient)
				}
			}
			if !slices.Equal(addrs, []string{"nuovo@pec.it", "altro@pec.it"}) {
				t.Errorf("recipients in report = %v", addrs)
			}
		}},
		{"sent row renumbered is left alone", func() []NewRow {
			rs := rowsN(5)
			rs[0].RowNumber = 40
			rs[2].RowNumber = 42
			return rs
		}, AmendResult{Unchanged: 5}, "", func(t *testing.T, r *Reader) {
			if n := mustRow(t, r, "K000000").RowNumber; n != 1 {
				t.Errorf("sent row renumbered to %d", n)
			}
			if n := mustRow(t, r, "K000002").RowNumber; n != 42 {
				t.Errorf("pending row number = %d, want 42", n)
			}
		}},
		{"sent row removed", func() []NewRow { return rowsN(5)[1:] }, AmendResult{Unchanged: 4}, "", nil},
		{"submitted row changed", func() []NewRow {
			rs := rowsN(6)
			rs[0] = changed(rs[0])
			return rs
		}, AmendResult{}, `key "K000000") is submitted and its content changed`, nil},
		{"rejected row changed", func() []NewRow {
			rs := rowsN(5)
			rs[1].Recipients = []string{"x@pec.it"}
			return rs
		}, AmendResult{}, `key "K000001") is rejected`, nil},
		{"pending row removed", func() []NewRow { return rowsN(4) }, AmendResult{}, `key "K000004") is pending but no longer`, nil},
		{"duplicate key", func() []NewRow { return append(rowsN(5), newRow(2)) }, AmendResult{}, "appears twice", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			j, _, _ := initTest(t, 5)
			submit(t, j, mustRow(t, j.Reader, "K000000").ID, "C0")
			id1 := mustRow(t, j.Reader, "K000001").ID
			if err := j.MarkSending(ctx, id1); err != nil {
				t.Fatal(err)
			}
			if err := j.MarkRejected(ctx, id1, "no"); err != nil {
				t.Fatal(err)
			}
			before := collect(t, j.ReportRows(ctx))
			fp := testFingerprint()
			fp["recipients.csv"] = sum("csv v2")
			got, err := j.Amend(ctx, fp, RowsOf(tt.rows()))
			m, merr := j.Meta(ctx)
			if merr != nil {
				t.Fatal(merr)
			}
			if tt.msg != "" {
				if !errors.Is(err, ErrConflict) && tt.name != "duplicate key" || err == nil || !strings.Contains(err.Error(), tt.msg) {
					t.Fatalf("err = %v, want conflict %q", err, tt.msg)
				}
				if after := collect(t, j.ReportRows(ctx)); !slices.Equal(before, after) {
					t.Error("a refused Amend changed rows")
				}
				if len(m.Fingerprint.Diff(testFingerprint())) != 0 {
					t.Error("a refused Amend changed the fingerprint")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("result = %+v, want %+v", got, tt.want)
			}
			if d := m.Fingerprint.Diff(fp); len(d) != 0 {
				t.Errorf("fingerprint not replaced: %v", d)
			}
			if tt.check != nil {
				tt.check(t, j.Reader)
			}
		})
	}
}

func rowsN(n int) []NewRow {
	out := make([]NewRow, n)
	for i := range out {
		out[i] = newRow(i)
	}
	return out
}

func TestAmendBeforeInit(t *testing.T) {
	j, _, _ := openTest(t)
	if _, err := j.Amend(context.Background(), testFingerprint(), RowsOf(rowsN(1))); !errors.Is(err, ErrNotInitialized) {
		t.Errorf("err = %v", err)
	}
}

func TestFingerprintDiff(t *testing.T) {
	a, b := sum("a"), sum("b")
	tests := []struct {
		name      string
		old, new  Fingerprint
		want      []string
		wantEmpty bool
	}{
		{"same", Fingerprint{"x": a}, Fingerprint{"x": a}, nil, true},
		{"changed", Fingerprint{"recipients.csv": a, "x": a}, Fingerprint{"recipients.csv": b, "x": a}, []string{"recipients.csv changed"}, false},
		{"added and removed", Fingerprint{"attachment a.pdf": a}, Fingerprint{"attachment b.pdf": a},
			[]string{"attachment a.pdf removed", "attachment b.pdf added"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.old.Diff(tt.new)
			var got []string
			for _, c := range d {
				got = append(got, c.String())
			}
			if !slices.Equal(got, tt.want) || (d == nil) != tt.wantEmpty {
				t.Errorf("Diff = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCheckTarget(t *testing.T) {
	m := testMeta()
	tests := []struct {
		endpoint, sender string
		ok               bool
	}{
		{"sandbox:builtin", "UFFICIO@pec.example.it", true},
		{"https://ws.pecmassiva.com", "ufficio@pec.example.it", false},
		{"sandbox:builtin", "altro@pec.example.it", false},
	}
	for _, tt := range tests {
		t.Run(tt.endpoint+" "+tt.sender, func(t *testing.T) {
			err := m.CheckTarget(tt.endpoint, tt.sender)
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrOtherTarget)) {
				t.Errorf("err = %v", err)
			}
		})
	}
}

// TestNoSecretColumns: the schema has no place a token or a password could go.
func TestNoSecretColumns(t *testing.T) {
	ctx := context.Background()
	j, _, _ := openTest(t)
	secret := regexp.MustCompile(`(?i)token|passw|secret|credential|auth|api_?key`)
	q, err := j.db.QueryContext(ctx, "SELECT name FROM sqlite_schema WHERE type = 'table'")
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for q.Next() {
		var n string
		q.Scan(&n)
		tables = append(tables, n)
	}
	q.Close()
	if len(tables) < 6 {
		t.Fatalf("tables = %v", tables)
	}
	for _, tbl := range tables {
		cols, err := j.db.QueryContext(ctx, "SELECT name FROM pragma_table_info(?)", tbl)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for cols.Next() {
			var c string
			cols.Scan(&c)
			n++
			if secret.MatchString(c) || secret.MatchString(tbl) {
				t.Errorf("table %s has column %s", tbl, c)
			}
		}
		cols.Close()
		if n == 0 {
			t.Errorf("table %s: no columns read", tbl)
		}
	}
}

// v1Schema is the schema as version 1 shipped, written out by hand so the
// migration test does not depend on the migration code it tests.
const v1Schema = `
PRAGMA application_id = 1346716482;
CREATE TABLE campaign (id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL, created_at INTEGER NOT NULL,
	endpoint TEXT NOT NULL, sender TEXT NOT NULL, started_at INTEGER);
CREATE TABLE fingerprint (part TEXT PRIMARY KEY, sha256 TEXT NOT NULL CHECK (length(sha256) = 64)) WITHOUT ROWID;
CREATE TABLE rows (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, row_number INTEGER NOT NULL,
	subject TEXT NOT NULL,
	content_sha256 BLOB NOT NULL CHECK (length(content_sha256) = 32),
	state TEXT NOT NULL CHECK (state IN ('pending','sending','submitted','unknown','rejected','accepted','delivered',
		'failed','expired','accepted_not_certifiable')),
	message_id TEXT CHECK (message_id <> ''), attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL, sending_at INTEGER, submitted_at INTEGER, unknown_at INTEGER, rejected_at INTEGER,
	updated_at INTEGER NOT NULL,
	CHECK (message_id IS NOT NULL OR state IN ('pending', 'sending', 'unknown', 'rejected')));
CREATE INDEX rows_state ON rows (state, row_number);
CREATE UNIQUE INDEX rows_message_id ON rows (message_id) WHERE message_id IS NOT NULL;
CREATE TABLE recipients (row_id INTEGER NOT NULL REFERENCES rows (id), address TEXT NOT NULL, position INTEGER NOT NULL,
	PRIMARY KEY (row_id, address)) WITHOUT ROWID;
CREATE TABLE events (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, row_id INTEGER REFERENCES rows (id),
	kind TEXT NOT NULL, detail TEXT CHECK (json_valid(detail)));
CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, 'journal events are append-only'); END;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, 'journal events are append-only'); END;
CREATE TRIGGER rows_never_deleted BEFORE DELETE ON rows BEGIN SELECT RAISE(ABORT, 'journal rows are never deleted'); END;
CREATE TRIGGER rows_final_never_goes_back BEFORE UPDATE OF state ON rows
	WHEN OLD.state IN ('rejected','delivered','failed','expired','accepted_not_certifiable') AND NEW.state IS NOT OLD.state
	BEGIN SELECT RAISE(ABORT, 'a final row state never changes'); END;
CREATE TRIGGER rows_message_id_fixed BEFORE UPDATE OF message_id ON rows
	WHEN OLD.message_id IS NOT NULL AND NEW.message_id IS NOT OLD.message_id
	BEGIN SELECT RAISE(ABORT, 'a row''s message id never changes'); END;
INSERT INTO campaign VALUES (1, 'vecchia', 1700000000000, 'https://ws.pecmassiva.com', 'ufficio@pec.example.it', 1700000001000);
INSERT INTO fingerprint VALUES ('recipients.csv', '` + "0000000000000000000000000000000000000000000000000000000000000000" + `');
INSERT INTO rows (id, key, row_number, subject, content_sha256, state, message_id, attempts, created_at,
	sending_at, submitted_at, rejected_at, updated_at, last_error) VALUES
	(1, 'a', 1, 's1', zeroblob(32), 'submitted', 'M1', 1, 1700000000000, 1700000001000, 1700000002000, NULL, 1700000002000, ''),
	(2, 'b', 2, 's2', zeroblob(32), 'rejected', NULL, 1, 1700000000000, 1700000003000, NULL, 1700000004000, 1700000004000, 'bad'),
	(3, 'c', 3, 's3', zeroblob(32), 'pending', NULL, 0, 1700000000000, NULL, NULL, NULL, 1700000000000, '');
INSERT INTO recipients (row_id, address, position) VALUES (1, 'uno@pec.it', 0), (1, 'due@pec.it', 1), (2, 'tre@pec.it', 0),
	(3, 'quattro@pec.it', 0);
INSERT INTO events (at, row_id, kind, detail) VALUES (1700000001000, 1, 'sending', NULL);
PRAGMA user_version = 1;
`

// writeV1 writes a journal as version 1 left it (v1Schema) and returns its
// path with the database still open, for a test to add to it.
func writeV1(t *testing.T) (string, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "old.journal")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, stmt := range strings.Split(v1Schema, ";\n") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	return path, db
}

func TestMigrateFromV1(t *testing.T) {
	ctx := context.Background()
	path, db := writeV1(t)
	db.Close()

	// A reader cannot migrate: it says what to run.
	if _, err := OpenReadOnly(ctx, path); err == nil || !strings.Contains(err.Error(), "upgrade") {
		t.Fatalf("read-only open of v1: %v", err)
	}

	c := newClock()
	j, err := Open(ctx, path, WithNow(c.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var version int
	if err := j.db.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != SchemaVersion() || version < 2 {
		t.Fatalf("version = %d (%v), want %d", version, err, SchemaVersion())
	}
	m, err := j.Meta(ctx)
	if err != nil || m.Campaign != "vecchia" || !m.StartedAt.Equal(time.UnixMilli(1700000001000).UTC()) {
		t.Fatalf("meta = %+v, %v", m, err)
	}
	if r := mustRow(t, j.Reader, "b"); !r.FinalAt.Equal(r.RejectedAt) || r.FinalAt.IsZero() {
		t.Errorf("rejected row final_at not backfilled: %+v", r)
	}
	var got []string
	for l, err := range j.ReportRows(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, l.Key+":"+l.Recipient+":"+string(l.State))
	}
	want := []string{"a:uno@pec.it:submitted", "a:due@pec.it:submitted", "b:tre@pec.it:rejected", "c:quattro@pec.it:pending"}
	if !slices.Equal(got, want) {
		t.Errorf("report after migration = %v, want %v", got, want)
	}
	// The migrated journal tracks like a new one.
	a := mustRow(t, j.Reader, "a")
	res, err := j.ApplyReceipts(ctx, a.ID, []Receipt{{Kind: "delivery", DateText: "x", Addressee: "uno@pec.it"}},
		[]Outcome{{Address: "uno@pec.it", State: RecipientDelivered}, {Address: "due@pec.it", State: RecipientDelivered}})
	if err != nil || res.State != StateDelivered || res.NewReceipts != 1 {
		t.Fatalf("ApplyReceipts after migration = %+v, %v", res, err)
	}
	var migrated []string
	for _, e := range collect(t, j.Events(ctx)) {
		if e.Kind == EventMigrated {
			migrated = append(migrated, string(e.Detail))
		}
	}
	var wantMigrated []string
	for v := 2; v <= SchemaVersion(); v++ {
		wantMigrated = append(wantMigrated, fmt.Sprintf(`{"from":%d,"to":%d}`, v-1, v))
	}
	if !slices.Equal(migrated, wantMigrated) {
		t.Errorf("migration events = %v", migrated)
	}
	// Reopening is a no-op.
	j.Close()
	j2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	j2.Close()
}

// TestMigrationsOrdered guards the list itself: versions 1..n, in order.
func TestMigrationsOrdered(t *testing.T) {
	for i, m := range migrations() {
		if m.version != i+1 || len(m.stmts) == 0 || m.name == "" {
			t.Errorf("migration %d: version %d, %d statements", i, m.version, len(m.stmts))
		}
	}
}
