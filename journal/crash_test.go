package journal

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The crash tests re-execute the test binary as a child process that works
// on a journal until the parent kills it with SIGKILL.
const (
	helperEnv     = "PECBATCH_JOURNAL_HELPER"
	helperPathEnv = "PECBATCH_JOURNAL_HELPER_PATH"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode, os.Getenv(helperPathEnv)))
	}
	os.Exit(m.Run())
}

func runHelper(mode, path string) int {
	ctx := context.Background()
	j, err := Open(ctx, path)
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	switch mode {
	case "lock":
		fmt.Println("locked", os.Getpid())
		time.Sleep(time.Minute) // until killed
		return 0
	case "insert":
		// A tiny page cache makes the uncommitted transaction spill into
		// the WAL file early, so the kill finds it there.
		j.db.SetMaxOpenConns(1)
		if _, err := j.db.ExecContext(ctx, "PRAGMA cache_size = 16"); err != nil {
			fmt.Println("error", err)
			return 1
		}
		_, err = j.Init(ctx, testMeta(), func(yield func(NewRow, error) bool) {
			for i := range 1_000_000 {
				if i%100 == 0 {
					fmt.Println("inserting", i)
				}
				if !yield(newRow(i), nil) {
					return
				}
			}
		})
		if err == nil {
			fmt.Println("committed")
		}
	case "work":
		err = helperWork(ctx, j)
		if err == nil {
			fmt.Println("finished")
		}
	default:
		err = fmt.Errorf("unknown helper mode %q", mode)
	}
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	return 0
}

// outcomeOf decides, from the key alone, what the fake API answers for a
// row, so that every run of the child agrees.
func outcomeOf(key string) string {
	h := fnv.New32a()
	io.WriteString(h, key)
	switch h.Sum32() % 10 {
	case 0:
		return "unknown"
	case 1:
		return "rejected"
	}
	return "submitted"
}

func codeOf(key string) string { return "M-" + key }

// helperWork does what a runner does, logging each committed write as
// "ok <op> <key>": send the pending rows, reconcile the rows a crash left
// in sending, then track every submitted row to delivered.
func helperWork(ctx context.Context, j *Journal) error {
	ok := func(op, key string) { fmt.Println("ok", op, key) }
	// Rows left in sending by a kill: reconciliation finds the acceptance
	// for those the fake API submitted, and gives up on the others.
	stuck, err := j.RowsInState(ctx, 0, StateSending)
	if err != nil {
		return err
	}
	for _, r := range stuck {
		if outcomeOf(r.Key) == "submitted" {
			if err := j.MarkSubmitted(ctx, r.ID, codeOf(r.Key)); err != nil {
				return err
			}
			ok("submitted", r.Key)
		} else {
			if err := j.MarkUnknown(ctx, r.ID, "interrupted"); err != nil {
				return err
			}
			ok("unknown", r.Key)
		}
	}
	for {
		rows, err := j.RowsInState(ctx, 1, StatePending)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			break
		}
		r := rows[0]
		if err := j.MarkSending(ctx, r.ID); err != nil {
			return err
		}
		ok("sending", r.Key)
		switch outcomeOf(r.Key) {
		case "submitted":
			err = j.MarkSubmitted(ctx, r.ID, codeOf(r.Key))
		case "unknown":
			err = j.MarkUnknown(ctx, r.ID, "timeout")
		case "rejected":
			err = j.MarkRejected(ctx, r.ID, "Post parameter is not valid")
		}
		if err != nil {
			return err
		}
		ok(outcomeOf(r.Key), r.Key)
	}
	for {
		due, err := j.DueForPoll(ctx, 5)
		if err != nil {
			return err
		}
		if len(due) == 0 {
			return nil
		}
		for _, r := range due {
			addr := r.Recipients[0]
			receipts := []Receipt{
				{Kind: "acceptance", DateText: "t1", Subject: "ACCETTAZIONE: x", Body: "Ricevuta di accettazione " + addr},
				{Kind: "delivery", DateText: "t2", Addressee: addr, Subject: "CONSEGNA: x", Body: "Ricevuta di avvenuta consegna " + addr},
			}
			if _, err := j.ApplyReceipts(ctx, r.ID, receipts, []Outcome{{Address: addr, State: RecipientDelivered}}); err != nil {
				return err
			}
			ok("delivered", r.Key)
			if err := j.RecordPoll(ctx, r.ID, time.Now()); err != nil {
				return err
			}
		}
	}
}

// child runs the test binary in a helper mode and reads its lines.
type child struct {
	cmd   *exec.Cmd
	lines chan string
}

func startChild(t *testing.T, mode, path string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperPathEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, lines: make(chan string, 1024)}
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			c.lines <- s.Text()
		}
		close(c.lines)
	}()
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		c.cmd.Wait()
	})
	return c
}

// next returns the child's next line, failing the test after a deadline.
func (c *child) next(t *testing.T) (string, bool) {
	t.Helper()
	select {
	case l, ok := <-c.lines:
		return l, ok
	case <-time.After(30 * time.Second):
		t.Fatal("child said nothing for 30 s")
		return "", false
	}
}

// kill sends SIGKILL and returns the lines the child printed before dying
// that were not read yet.
func (c *child) kill(t *testing.T) []string {
	t.Helper()
	// Kill is SIGKILL on Unix, TerminateProcess on Windows: no cleanup either way.
	if err := c.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatal(err)
	}
	c.cmd.Wait()
	var rest []string
	for l := range c.lines {
		rest = append(rest, l)
	}
	return rest
}

// TestLockReleasedWhenHolderKilled: a second process is refused while the
// first runs, with the holder's pid; once the holder dies by SIGKILL (no
// chance to clean up) the journal opens again.
func TestLockReleasedWhenHolderKilled(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "j")
	c := startChild(t, "lock", path)
	line, _ := c.next(t)
	pid, err := strconv.Atoi(strings.TrimPrefix(line, "locked "))
	if err != nil || pid != c.cmd.Process.Pid {
		t.Fatalf("child said %q", line)
	}
	_, err = Open(ctx, path)
	var le *LockedError
	if !errors.As(err, &le) || le.PID != pid {
		t.Fatalf("Open while the child holds the lock: %v", err)
	}
	// Readers are not blocked by the lock.
	r, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatalf("OpenReadOnly while locked: %v", err)
	}
	r.Close()
	c.kill(t)
	j, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open after the holder was killed: %v", err)
	}
	j.Close()
}

// TestCrashDuringInit: a kill in the middle of inserting leaves an empty
// journal (not a partial campaign), which a new run initialises normally.
// The kill waits until the uncommitted transaction has spilled pages into
// the WAL file, the case where recovery has something to throw away.
func TestCrashDuringInit(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "j")
	c := startChild(t, "insert", path)
	for {
		line, ok := c.next(t)
		if !ok {
			t.Fatal("child ended before being killed")
		}
		if st, err := os.Stat(path + "-wal"); err == nil && st.Size() > 256<<10 && strings.HasPrefix(line, "inserting") {
			break
		}
	}
	c.kill(t)
	j, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	checkIntegrity(t, j)
	if _, err := j.Meta(ctx); !errors.Is(err, ErrNotInitialized) {
		t.Errorf("meta after a killed Init: %v", err)
	}
	if n, _ := j.Counts(ctx); n.Total() != 0 {
		t.Errorf("%d rows after a killed Init", n.Total())
	}
	if _, err := j.Init(ctx, testMeta(), genRows(10)); err != nil {
		t.Errorf("Init after a killed one: %v", err)
	}
}

// TestCrashDuringWork kills a child runner at random points (seeded) and
// restarts it until it finishes. After every kill the journal must be
// intact and agree with what the child had reported as committed; at the
// end every row must have its expected final state, with each send
// attempted once and every receipt archived once.
func TestCrashDuringWork(t *testing.T) {
	const rows, kills = 80, 6
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "j")
	j, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Init(ctx, testMeta(), genRows(rows)); err != nil {
		t.Fatal(err)
	}
	j.Close()

	rng := rand.New(rand.NewPCG(42, 6))
	committed := map[string]string{} // key → the last op the child reported
	record := func(line string) bool {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "ok" {
			committed[f[2]] = f[1]
			return false
		}
		if line == "finished" {
			return true
		}
		t.Fatalf("child: %s", line)
		return false
	}
	killed := 0
	for round := 0; ; round++ {
		c := startChild(t, "work", path)
		killAfter := -1 // the last round runs to the end
		if round < kills {
			killAfter = 1 + rng.IntN(25)
		}
		finished := false
		for n := 0; ; n++ {
			if n == killAfter {
				for _, l := range c.kill(t) {
					finished = record(l) || finished
				}
				killed++
				break
			}
			line, ok := c.next(t)
			if !ok {
				c.cmd.Wait()
				break
			}
			finished = record(line) || finished
		}
		checkCrashInvariants(t, path, committed)
		if finished {
			break
		}
		if round > kills {
			t.Fatal("child did not finish after the kills")
		}
	}
	if killed != kills {
		t.Fatalf("%d kills, want %d: give the child more work", killed, kills)
	}

	r, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := range rows {
		key := newRow(i).Key
		row := mustRow(t, r, key)
		var want []State
		switch outcomeOf(key) {
		case "submitted":
			want = []State{StateDelivered}
		case "unknown":
			want = []State{StateUnknown}
		case "rejected": // killed between sending and the answer: unknown
			want = []State{StateRejected, StateUnknown}
		}
		if !slices.Contains(want, row.State) {
			t.Errorf("row %s: %s, want %v", key, row.State, want)
		}
		if row.Attempts != 1 {
			t.Errorf("row %s: %d attempts", key, row.Attempts)
		}
		if row.State == StateDelivered && (row.Receipts != 2 || row.MessageID != codeOf(key)) {
			t.Errorf("row %s: %d receipts, message id %s", key, row.Receipts, row.MessageID)
		}
	}
}

func checkIntegrity(t *testing.T, j *Journal) {
	t.Helper()
	var res string
	if err := j.db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check: %s %v", res, err)
	}
	q, err := j.db.Query("PRAGMA foreign_key_check")
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if q.Next() {
		t.Fatal("foreign_key_check found violations")
	}
}

// checkCrashInvariants opens the journal as the next run would and checks
// it against itself and against what the killed child had reported.
func checkCrashInvariants(t *testing.T, path string, committed map[string]string) {
	t.Helper()
	ctx := context.Background()
	j, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	checkIntegrity(t, j)
	type stat struct {
		sending int
		lastTo  State
	}
	events := map[int64]*stat{}
	for e, err := range j.Events(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if e.RowID == 0 {
			continue
		}
		s := events[e.RowID]
		if s == nil {
			s = &stat{}
			events[e.RowID] = s
		}
		if e.Kind == EventSending {
			s.sending++
		}
		if to := stateOfEvent(e); to != "" {
			s.lastTo = to
		}
	}
	archived := map[int64]int{}
	q, err := j.db.Query("SELECT row_id, count(*) FROM receipts GROUP BY row_id")
	if err != nil {
		t.Fatal(err)
	}
	for q.Next() {
		var id int64
		var n int
		q.Scan(&id, &n)
		archived[id] = n
	}
	q.Close()
	rank := map[string]int{"sending": 1, "unknown": 2, "rejected": 2, "submitted": 2, "delivered": 3}
	for r, err := range j.RowDigests(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		row := mustRowID(t, j.Reader, r.ID)
		s := events[r.ID]
		if s == nil {
			s = &stat{lastTo: StatePending}
		}
		// The event log and the row were written in the same transactions.
		if row.Attempts != s.sending || row.State != s.lastTo {
			t.Errorf("row %s: state %s attempts %d, but its events say %s and %d", row.Key, row.State, row.Attempts, s.lastTo, s.sending)
		}
		if row.Receipts != archived[row.ID] {
			t.Errorf("row %s: counts %d receipts, archive has %d", row.Key, row.Receipts, archived[row.ID])
		}
		if row.State.Tracked() != (row.MessageID != "") {
			t.Errorf("row %s: %s with message id %q", row.Key, row.State, row.MessageID)
		}
		// What the child reported as committed survived the kill.
		if op, ok := committed[row.Key]; ok {
			have := map[State]int{StateSending: 1, StateUnknown: 2, StateRejected: 2, StateSubmitted: 2, StateDelivered: 3}[row.State]
			if have < rank[op] {
				t.Errorf("row %s: child reported %s committed, journal has %s", row.Key, op, row.State)
			}
		}
	}
}
