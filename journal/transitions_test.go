package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// driveTo takes a fresh pending row to state st through the public API and
// returns its message id ("" when it has none).
func driveTo(t *testing.T, j *Journal, id int64, st State) string {
	t.Helper()
	ctx := context.Background()
	code := fmt.Sprintf("2026030209%06d", id)
	row, err := j.Row(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	addr := row.Recipients[0]
	outcome := func(rs RecipientState) {
		t.Helper()
		if _, err := j.ApplyReceipts(ctx, id, []Receipt{{Kind: "delivery", DateText: "d", Addressee: addr, Body: "b"}},
			[]Outcome{{Address: addr, State: rs, Error: "e"}}); err != nil {
			t.Fatal(err)
		}
	}
	var steps []func() error
	sending := func() error { return j.MarkSending(ctx, id) }
	submitted := func() error { return j.MarkSubmitted(ctx, id, code) }
	switch st {
	case StatePending:
	case StateSending:
		steps = append(steps, sending)
	case StateUnknown:
		steps = append(steps, sending, func() error { return j.MarkUnknown(ctx, id, "timeout") })
	case StateRejected:
		steps = append(steps, sending, func() error { return j.MarkRejected(ctx, id, "Post parameter is not valid") })
	default:
		steps = append(steps, sending, submitted)
	}
	for _, s := range steps {
		if err := s(); err != nil {
			t.Fatal(err)
		}
	}
	switch st {
	case StateAccepted:
		outcome(RecipientAccepted)
	case StateDelivered:
		outcome(RecipientDelivered)
	case StateFailed:
		outcome(RecipientFailed)
	case StateExpired:
		outcome(RecipientExpired)
	case StateAcceptedNotCertifiable:
		outcome(RecipientNotCertifiable)
	}
	if got := mustRowID(t, j.Reader, id).State; got != st {
		t.Fatalf("driveTo %s: row is %s", st, got)
	}
	if st.Tracked() {
		return code
	}
	return ""
}

func mustRowID(t *testing.T, r *Reader, id int64) Row {
	t.Helper()
	row, err := r.Row(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return row
}

func eventCount(t *testing.T, r *Reader) int {
	t.Helper()
	return len(collect(t, r.Events(context.Background())))
}

// TestTransitions tries every sending transition from every state: the
// allowed ones move the row and log an event, the others return
// ErrConflict and change nothing at all.
func TestTransitions(t *testing.T) {
	type op struct {
		name string
		from []State
		to   State
		do   func(ctx context.Context, j *Journal, id int64) error
	}
	ops := []op{
		{"MarkSending", []State{StatePending}, StateSending,
			func(ctx context.Context, j *Journal, id int64) error { return j.MarkSending(ctx, id) }},
		{"MarkSubmitted", []State{StateSending, StateUnknown}, StateSubmitted,
			func(ctx context.Context, j *Journal, id int64) error {
				return j.MarkSubmitted(ctx, id, fmt.Sprintf("NEW%d", id))
			}},
		{"MarkRejected", []State{StateSending}, StateRejected,
			func(ctx context.Context, j *Journal, id int64) error { return j.MarkRejected(ctx, id, "refused") }},
		{"MarkUnknown", []State{StateSending}, StateUnknown,
			func(ctx context.Context, j *Journal, id int64) error { return j.MarkUnknown(ctx, id, "timeout") }},
		{"ResendUnknown", []State{StateUnknown}, StatePending,
			func(ctx context.Context, j *Journal, id int64) error { return j.ResendUnknown(ctx, id) }},
	}
	// One journal, one row per case: a journal per case would spend the
	// test's time creating files.
	j, c, _ := initTest(t, len(ops)*len(States()))
	n := 0
	for _, o := range ops {
		for _, from := range States() {
			key := fmt.Sprintf("K%06d", n)
			n++
			t.Run(o.name+"/from_"+string(from), func(t *testing.T) {
				ctx := context.Background()
				id := mustRow(t, j.Reader, key).ID
				driveTo(t, j, id, from)
				before := mustRowID(t, j.Reader, id)
				events := eventCount(t, j.Reader)
				c.Advance(time.Second)
				err := o.do(ctx, j, id)
				after := mustRowID(t, j.Reader, id)
				if !slices.Contains(o.from, from) {
					if !errors.Is(err, ErrConflict) {
						t.Fatalf("from %s: err = %v, want ErrConflict", from, err)
					}
					if !reflect.DeepEqual(before, after) {
						t.Errorf("refused transition changed the row:\n%+v\n%+v", before, after)
					}
					if n := eventCount(t, j.Reader); n != events {
						t.Errorf("refused transition logged %d events", n-events)
					}
					return
				}
				if err != nil {
					t.Fatalf("from %s: %v", from, err)
				}
				if after.State != o.to {
					t.Fatalf("state = %s, want %s", after.State, o.to)
				}
				if !after.UpdatedAt.Equal(c.Now()) {
					t.Errorf("updated_at = %v, want %v", after.UpdatedAt, c.Now())
				}
				evs := collect(t, j.Events(ctx))
				if len(evs) != events+1 {
					t.Fatalf("events = %d, want %d", len(evs), events+1)
				}
				last := evs[len(evs)-1]
				if last.RowID != id || stateOfEvent(last) != o.to || (from != o.from[0]) != strings.Contains(string(last.Detail), `"from":"`+string(from)+`"`) {
					t.Errorf("last event = %+v %s", last, last.Detail)
				}
			})
		}
	}
}

func TestTransitionFields(t *testing.T) {
	ctx := context.Background()
	j, c, _ := initTest(t, 1)
	id := mustRow(t, j.Reader, "K000000").ID

	t0 := c.Now()
	if err := j.MarkSending(ctx, id); err != nil {
		t.Fatal(err)
	}
	m, err := j.Meta(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !m.StartedAt.Equal(t0) {
		t.Errorf("started_at = %v, want %v", m.StartedAt, t0)
	}
	c.Advance(2 * time.Second)
	if err := j.MarkUnknown(ctx, id, "read tcp: i/o timeout"); err != nil {
		t.Fatal(err)
	}
	r := mustRowID(t, j.Reader, id)
	if r.Attempts != 1 || !r.SendingAt.Equal(t0) || !r.UnknownAt.Equal(c.Now()) || r.LastError != "read tcp: i/o timeout" {
		t.Errorf("after unknown: %+v", r)
	}
	c.Advance(time.Minute)
	if err := j.ResendUnknown(ctx, id); err != nil {
		t.Fatal(err)
	}
	t1 := c.Now()
	if err := j.MarkSending(ctx, id); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Second)
	if err := j.MarkSubmitted(ctx, id, " 2026030210003492 "); err != nil {
		t.Fatal(err)
	}
	r = mustRowID(t, j.Reader, id)
	if r.Attempts != 2 || !r.SendingAt.Equal(t1) || r.MessageID != "2026030210003492" || r.LastError != "" ||
		!r.SubmittedAt.Equal(c.Now()) {
		t.Errorf("after submitted: %+v", r)
	}
	m, _ = j.Meta(ctx)
	if !m.StartedAt.Equal(t0) {
		t.Errorf("started_at moved to %v", m.StartedAt)
	}
}

func TestMarkSubmittedRefusals(t *testing.T) {
	ctx := context.Background()
	j, _, _ := initTest(t, 2)
	a, b := mustRow(t, j.Reader, "K000000").ID, mustRow(t, j.Reader, "K000001").ID
	submit(t, j, a, "CODE1")
	if err := j.MarkSending(ctx, b); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		id   int64
		code string
		is   error
	}{
		{"empty message id", b, "  ", nil},
		{"message id of another row", b, "CODE1", ErrConflict},
		{"no such row", 999, "CODE9", ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := j.MarkSubmitted(ctx, tt.id, tt.code)
			if err == nil || (tt.is != nil && !errors.Is(err, tt.is)) {
				t.Fatalf("err = %v, want %v", err, tt.is)
			}
			if st := mustRowID(t, j.Reader, b).State; st != StateSending {
				t.Errorf("row b is %s", st)
			}
		})
	}
}

func TestErrorTextClipped(t *testing.T) {
	ctx := context.Background()
	j, _, _ := initTest(t, 1)
	id := mustRow(t, j.Reader, "K000000").ID
	if err := j.MarkSending(ctx, id); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("è", 5000) // 2 bytes each: the cut must not split one
	if err := j.MarkRejected(ctx, id, long); err != nil {
		t.Fatal(err)
	}
	got := mustRowID(t, j.Reader, id).LastError
	if len(got) > maxErrorText+len("…") || !strings.HasSuffix(got, "…") || !strings.HasPrefix(got, "èèè") {
		t.Errorf("clipped error: %d bytes", len(got))
	}
	if !utf8Valid(got) {
		t.Error("clipped error is not valid UTF-8")
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// TestConcurrentCAS races writers on separate connections of the pool: for
// each row exactly one MarkSending wins, the rest get ErrConflict, and the
// attempt is counted once.
func TestConcurrentCAS(t *testing.T) {
	ctx := context.Background()
	const rows, writers = 20, 4
	j, _, _ := initTest(t, rows)
	j.db.SetMaxOpenConns(writers)
	all, err := j.RowsInState(ctx, 0, StatePending)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	wins := map[int64]int{}
	var wg sync.WaitGroup
	errs := make(chan error, rows*writers)
	for range writers {
		wg.Go(func() {
			for _, r := range all {
				err := j.MarkSending(ctx, r.ID)
				switch {
				case err == nil:
					mu.Lock()
					wins[r.ID]++
					mu.Unlock()
				case !errors.Is(err, ErrConflict):
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("unexpected error: %v", err)
	}
	for _, r := range all {
		if wins[r.ID] != 1 {
			t.Errorf("row %s: %d winners", r.Key, wins[r.ID])
		}
		if got := mustRowID(t, j.Reader, r.ID); got.Attempts != 1 || got.State != StateSending {
			t.Errorf("row %s: attempts %d state %s", r.Key, got.Attempts, got.State)
		}
	}
	sendingEvents := 0
	for _, e := range collect(t, j.Events(ctx)) {
		if e.Kind == EventSending {
			sendingEvents++
		}
	}
	if sendingEvents != rows {
		t.Errorf("%d sending events, want %d", sendingEvents, rows)
	}
}

// TestConcurrentSubmitReconcile races the two ways a row reaches
// submitted (the 201 of the sender and a reconciliation) with different
// codes: one wins, the other is a conflict, the message id never changes.
func TestConcurrentSubmitReconcile(t *testing.T) {
	ctx := context.Background()
	const rounds = 20
	j, _, _ := initTest(t, rounds)
	j.db.SetMaxOpenConns(2)
	for round := range rounds {
		id := mustRow(t, j.Reader, fmt.Sprintf("K%06d", round)).ID
		if err := j.MarkSending(ctx, id); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		res := make([]error, 2)
		codes := []string{fmt.Sprintf("A%d", round), fmt.Sprintf("B%d", round)}
		for i, code := range codes {
			wg.Go(func() { res[i] = j.MarkSubmitted(ctx, id, code) })
		}
		wg.Wait()
		ok := 0
		for _, err := range res {
			if err == nil {
				ok++
			} else if !errors.Is(err, ErrConflict) {
				t.Fatal(err)
			}
		}
		row := mustRowID(t, j.Reader, id)
		if ok != 1 || !slices.Contains(codes, row.MessageID) {
			t.Fatalf("round %d: %d winners, message id %q", round, ok, row.MessageID)
		}
	}
}

func TestAddEvent(t *testing.T) {
	ctx := context.Background()
	j, c, _ := openTest(t)
	if err := j.AddEvent(ctx, "test_send", map[string]any{"to": "me@pec.example.it", "row": 1}); err != nil {
		t.Fatal(err)
	}
	if err := j.AddEvent(ctx, "run_start", nil); err != nil {
		t.Fatal(err)
	}
	if err := j.AddEvent(ctx, " ", nil); err == nil {
		t.Error("empty kind accepted")
	}
	if err := j.AddEvent(ctx, "bad", func() {}); err == nil {
		t.Error("unmarshalable detail accepted")
	}
	evs := collect(t, j.Events(ctx))
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, e.Kind)
	}
	var want []string
	for range SchemaVersion() {
		want = append(want, EventMigrated)
	}
	want = append(want, "test_send", "run_start")
	if !slices.Equal(kinds, want) {
		t.Fatalf("kinds = %v, want %v", kinds, want)
	}
	evs = evs[SchemaVersion():]
	if got := string(evs[0].Detail); got != `{"row":1,"to":"me@pec.example.it"}` || evs[0].RowID != 0 || !evs[0].At.Equal(c.Now()) {
		t.Errorf("event = %+v %s", evs[0], got)
	}
	if got := string(evs[1].Detail); got != `{}` {
		t.Errorf("nil detail stored as %s", got)
	}
}

// TestAppendOnlyTriggers proves the invariants hold even for SQL that
// bypasses the API.
func TestAppendOnlyTriggers(t *testing.T) {
	ctx := context.Background()
	j, _, _ := initTest(t, 1)
	id := mustRow(t, j.Reader, "K000000").ID
	code := driveTo(t, j, id, StateDelivered)
	tests := []struct{ name, sql string }{
		{"update event", "UPDATE events SET kind = 'x'"},
		{"delete event", "DELETE FROM events"},
		{"delete row", "DELETE FROM rows"},
		{"final row goes back", "UPDATE rows SET state = 'accepted'"},
		{"final recipient goes back", "UPDATE recipients SET state = 'accepted'"},
		{"message id changes", "UPDATE rows SET message_id = 'OTHER'"},
		{"update receipt", "UPDATE receipts SET body = x'00'"},
		{"delete receipt", "DELETE FROM receipts"},
		{"invalid state", "UPDATE rows SET state = 'sent'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := j.db.ExecContext(ctx, tt.sql); err == nil {
				t.Fatalf("%s succeeded", tt.sql)
			}
		})
	}
	if r := mustRowID(t, j.Reader, id); r.State != StateDelivered || r.MessageID != code {
		t.Errorf("row changed: %+v", r)
	}
}

// stateOfEvent is the row state an event of a row leaves it in.
func stateOfEvent(e Event) State {
	switch e.Kind {
	case EventSending:
		return StateSending
	case EventSubmitted:
		return StateSubmitted
	case EventUnknown:
		return StateUnknown
	case EventRejected:
		return StateRejected
	case EventResendUnknown:
		return StatePending
	case EventTracked:
		var d struct{ To State }
		if json.Unmarshal(e.Detail, &d) == nil {
			return d.To
		}
	}
	return ""
}
