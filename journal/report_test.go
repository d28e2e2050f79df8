package journal

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// mixedJournal has one row in each state, row i in States()[i].
func mixedJournal(t *testing.T) (*Journal, *clock) {
	t.Helper()
	j, c, _ := initTest(t, len(States()))
	for i, st := range States() {
		c.Advance(time.Second)
		driveTo(t, j, mustRow(t, j.Reader, fmt.Sprintf("K%06d", i)).ID, st)
	}
	return j, c
}

func TestCountsAndTimes(t *testing.T) {
	ctx := t.Context()
	j, c, _ := initTest(t, 3)
	created := c.Now()
	times, err := j.Times(ctx)
	if err != nil || !times.Created.Equal(created) || !times.Started.IsZero() || !times.Finished.IsZero() {
		t.Fatalf("times before sending = %+v %v", times, err)
	}
	counts, err := j.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts.Total() != 3 || counts[StatePending] != 3 || counts.Final() != 0 || len(counts) != len(States()) {
		t.Errorf("counts = %v", counts)
	}
	c.Advance(time.Minute)
	started := c.Now()
	var last time.Time
	for i := range 3 {
		id := mustRow(t, j.Reader, fmt.Sprintf("K%06d", i)).ID
		submit(t, j, id, fmt.Sprintf("C%d", i))
		last = c.Now()
		c.Advance(time.Second)
		if i < 2 {
			if _, err := j.ApplyReceipts(ctx, id, nil, []Outcome{{Address: fmt.Sprintf("dest%d@pec.example.it", i), State: RecipientDelivered}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	times, _ = j.Times(ctx)
	if !times.Started.Equal(started) || !times.LastSubmitted.Equal(last) || !times.Finished.IsZero() {
		t.Errorf("times while tracking = %+v", times)
	}
	c.Advance(time.Hour)
	if _, err := j.ApplyReceipts(ctx, mustRow(t, j.Reader, "K000002").ID, nil,
		[]Outcome{{Address: "dest2@pec.example.it", State: RecipientExpired}}); err != nil {
		t.Fatal(err)
	}
	times, _ = j.Times(ctx)
	if !times.Finished.Equal(c.Now()) {
		t.Errorf("finished = %v, want %v", times.Finished, c.Now())
	}
	counts, _ = j.Counts(ctx)
	if counts[StateDelivered] != 2 || counts[StateExpired] != 1 || counts.Final() != 3 {
		t.Errorf("counts = %v", counts)
	}
	j2, _, _ := openTest(t)
	if _, err := j2.Times(ctx); !errors.Is(err, ErrNotInitialized) {
		t.Errorf("times before Init: %v", err)
	}
}

func TestRowsInState(t *testing.T) {
	ctx := t.Context()
	j, _ := mixedJournal(t)
	tests := []struct {
		name   string
		limit  int
		states []State
		want   []string
	}{
		{"pending", 0, []State{StatePending}, []string{"K000000"}},
		{"attention by row number", 0, AttentionStates(), []string{"K000001", "K000003", "K000004"}},
		{"limit across states", 2, []State{StateRejected, StateUnknown, StateSending}, []string{"K000001", "K000003"}},
		{"finals", 0, finalStates(), []string{"K000004", "K000006", "K000007", "K000008", "K000009"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := j.RowsInState(ctx, tt.limit, tt.states...)
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, r := range rows {
				keys = append(keys, r.Key)
			}
			if !slices.Equal(keys, tt.want) {
				t.Errorf("keys = %v, want %v", keys, tt.want)
			}
		})
	}
	att, err := j.NeedsAttention(ctx, 0)
	if err != nil || len(att) != 3 || att[1].LastError != "timeout" {
		t.Errorf("NeedsAttention = %+v %v", att, err)
	}
	if _, err := j.RowsInState(ctx, 0); err == nil {
		t.Error("no state accepted")
	}
	if _, err := j.RowsInState(ctx, 0, "sent"); err == nil {
		t.Error("invalid state accepted")
	}
	if _, err := j.Row(ctx, 12345); !errors.Is(err, ErrNotFound) {
		t.Errorf("Row(12345): %v", err)
	}
	if _, err := j.RowByKey(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("RowByKey(nope): %v", err)
	}
}

func TestReportRowsStates(t *testing.T) {
	ctx := t.Context()
	j, _ := mixedJournal(t)
	var got []State
	for l, err := range j.ReportRows(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, l.State)
		if l.State == StateRejected && (l.FailedAt.IsZero() || l.Error == "") {
			t.Errorf("rejected line = %+v", l)
		}
		if l.State.Tracked() && (l.MessageID == "" || l.SubmittedAt.IsZero()) {
			t.Errorf("tracked line = %+v", l)
		}
	}
	if !slices.Equal(got, States()) {
		t.Errorf("report states = %v, want %v", got, States())
	}
	// Breaking out of the loop stops the stream and releases the snapshot.
	n := 0
	for _, err := range j.ReportRows(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if n == 2 {
			break
		}
	}
	if err := j.AddEvent(ctx, "after_break", nil); err != nil {
		t.Errorf("write after an abandoned stream: %v", err)
	}
}

func TestTimelineAndDigests(t *testing.T) {
	ctx := t.Context()
	j, _ := mixedJournal(t)
	var states []State
	for p, err := range j.Timeline(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		states = append(states, p.State)
		if p.SubmittedAt.IsZero() || (p.State == StateDelivered) == p.DeliveredAt.IsZero() || p.State.Final() == p.FinalAt.IsZero() {
			t.Errorf("point = %+v", p)
		}
	}
	want := []State{StateSubmitted, StateAccepted, StateDelivered, StateFailed, StateExpired, StateAcceptedNotCertifiable}
	if !slices.Equal(states, want) {
		t.Errorf("timeline states = %v, want %v", states, want)
	}
	digests := collect(t, j.RowDigests(ctx))
	if len(digests) != len(States()) {
		t.Fatalf("%d digests", len(digests))
	}
	for i, d := range digests {
		if d.Key != newRow(i).Key || d.ContentSHA256 != newRow(i).ContentSHA256 || d.State != States()[i] || d.RowNumber != i+1 {
			t.Errorf("digest %d = %+v", i, d)
		}
	}
}

func TestStreamCancelled(t *testing.T) {
	j, _ := mixedJournal(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var gotErr error
	for _, err := range j.ReportRows(ctx) {
		if err != nil {
			gotErr = err
			break
		}
	}
	if !errors.Is(gotErr, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", gotErr)
	}
}

// TestQueryPlans keeps the frequent queries on their indexes, so that
// they stay fast on 100,000 rows whatever the machine: no full scan of
// rows or receipts where an index should serve.
func TestQueryPlans(t *testing.T) {
	ctx := t.Context()
	j, _ := mixedJournal(t)
	tests := []struct {
		name, query string
		args        []any
		want        string
	}{
		{"counts", "SELECT state, count(*) FROM rows GROUP BY state", nil, "COVERING INDEX rows_state"},
		{"rows in state", rowsInStateQuery, []any{"pending", 10}, "SEARCH rows USING INDEX rows_state (state=?)"},
		{"due for poll", dueForPollQuery, []any{0, 10}, "SEARCH rows USING INDEX rows_due"},
		{"next poll", nextPollQuery, nil, "SCAN rows USING INDEX rows_due"},
		{"row by message id", "SELECT id FROM rows WHERE message_id = ?", []any{"x"}, "USING COVERING INDEX rows_message_id"},
		{"receipts of a row", "SELECT kind FROM receipts WHERE row_id = ?", []any{1}, "SEARCH receipts USING PRIMARY KEY (row_id=?)"},
		{"recipients of a row", "SELECT address FROM recipients WHERE row_id = ? ORDER BY position", []any{1}, "SEARCH recipients USING PRIMARY KEY (row_id=?)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := j.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+tt.query, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			var plan []string
			for q.Next() {
				var id, parent, notused int
				var detail string
				if err := q.Scan(&id, &parent, &notused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			joined := strings.Join(plan, " | ")
			if !strings.Contains(joined, tt.want) {
				t.Errorf("plan %q lacks %q", joined, tt.want)
			}
			for _, p := range plan {
				if p == "SCAN rows" || p == "SCAN receipts" {
					t.Errorf("full scan in plan %q", joined)
				}
			}
		})
	}
}
