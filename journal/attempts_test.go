package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestResolve decides unknown rows and refuses every other state.
func TestResolve(t *testing.T) {
	ctx := t.Context()
	j, c, _ := initTest(t, 2*len(States()))
	for i, from := range States() {
		for k, d := range []Decision{DecidedSent, DecidedNotSent} {
			t.Run(string(d)+"_from_"+string(from), func(t *testing.T) {
				id := mustRow(t, j.Reader, fmt.Sprintf("K%06d", 2*i+k)).ID
				driveTo(t, j, id, from)
				events := eventCount(t, j.Reader)
				c.Advance(time.Second)
				msg := ""
				if d == DecidedSent {
					msg = fmt.Sprintf("OPERATOR%04d", id)
				}
				err := j.Resolve(ctx, id, d, msg, "checked the sent folder")
				after := mustRowID(t, j.Reader, id)
				if from != StateUnknown {
					if !errors.Is(err, ErrConflict) {
						t.Fatalf("err = %v, want ErrConflict", err)
					}
					if eventCount(t, j.Reader) != events || after.State != from || after.Decision != "" {
						t.Errorf("refused decision changed the journal")
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				want := map[Decision]State{DecidedSent: StateSubmitted, DecidedNotSent: StatePending}[d]
				if after.State != want || after.MessageID != msg || after.Decision != d || !after.DecidedAt.Equal(c.Now()) {
					t.Errorf("after = %s %q decision %q at %v; want %s %q %q at %v", after.State, after.MessageID,
						after.Decision, after.DecidedAt, want, msg, d, c.Now())
				}
				evs := collect(t, j.Events(ctx))
				last := evs[len(evs)-1]
				var detail map[string]any
				if err := json.Unmarshal(last.Detail, &detail); err != nil {
					t.Fatal(err)
				}
				if last.Kind != EventResolved || detail["as"] != string(d) || detail["note"] != "checked the sent folder" {
					t.Errorf("event = %s %s", last.Kind, last.Detail)
				}
			})
		}
	}
}

func TestResolveSentRefusesATakenMessageID(t *testing.T) {
	ctx := t.Context()
	j, _, _ := initTest(t, 3)
	a, b, r := mustRow(t, j.Reader, "K000000").ID, mustRow(t, j.Reader, "K000001").ID, mustRow(t, j.Reader, "K000002").ID
	taken := driveTo(t, j, a, StateFailed)
	driveTo(t, j, b, StateUnknown)
	driveTo(t, j, r, StateUnknown)
	if err := j.Resolve(ctx, b, DecidedSent, taken, ""); !errors.Is(err, ErrConflict) {
		t.Errorf("resolve with another row's id: err = %v, want ErrConflict", err)
	}
	// Once row a is retried, its first id still belongs to it.
	if _, err := j.Retry(ctx, a, ""); err != nil {
		t.Fatal(err)
	}
	if err := j.Resolve(ctx, b, DecidedSent, taken, ""); !errors.Is(err, ErrConflict) {
		t.Errorf("resolve with a retried attempt's id: err = %v, want ErrConflict", err)
	}
	if ok, err := j.MessageIDTaken(ctx, taken); err != nil || !ok {
		t.Errorf("MessageIDTaken(retried attempt's id) = %v, %v; want true", ok, err)
	}
	if err := j.Resolve(ctx, r, DecidedSent, "", ""); err == nil {
		t.Error("resolve sent without a message id: no error")
	}
	if err := j.Resolve(ctx, r, "maybe", "", ""); err == nil {
		t.Error("resolve with an unknown decision: no error")
	}
	if row := mustRowID(t, j.Reader, b); row.State != StateUnknown {
		t.Errorf("row b = %s, want unknown", row.State)
	}
}

// TestRetry queues final rows for a new attempt, keeps the previous one,
// and refuses the states a retry does not apply to.
func TestRetry(t *testing.T) {
	ctx := t.Context()
	j, c, _ := initTest(t, len(States()))
	for i, from := range States() {
		t.Run("from_"+string(from), func(t *testing.T) {
			id := mustRow(t, j.Reader, fmt.Sprintf("K%06d", i)).ID
			code := driveTo(t, j, id, from)
			before := mustRowID(t, j.Reader, id)
			events := eventCount(t, j.Reader)
			c.Advance(time.Hour)
			attempt, err := j.Retry(ctx, id, "mailbox full")
			after := mustRowID(t, j.Reader, id)
			if from != StateFailed && from != StateRejected && from != StateExpired {
				if !errors.Is(err, ErrConflict) {
					t.Fatalf("err = %v, want ErrConflict", err)
				}
				if eventCount(t, j.Reader) != events || after.State != from || after.Attempt != 1 {
					t.Errorf("refused retry changed the journal")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if attempt != 2 || after.Attempt != 2 || after.State != StatePending || after.MessageID != "" ||
				after.LastError != "" || !after.FinalAt.IsZero() || after.Receipts != 0 || after.Attempts != before.Attempts {
				t.Errorf("after retry = attempt %d (%d) %s %q error %q final %v receipts %d attempts %d",
					attempt, after.Attempt, after.State, after.MessageID, after.LastError, after.FinalAt, after.Receipts, after.Attempts)
			}
			hist, err := j.Attempts(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if len(hist) != 1 || hist[0].Number != 1 || hist[0].State != from || hist[0].Error != before.LastError ||
				!hist[0].RetriedAt.Equal(c.Now()) || len(hist[0].Recipients) != len(before.Recipients) {
				t.Fatalf("history = %+v", hist)
			}
			if from != StateRejected && (hist[0].MessageID != code || hist[0].Recipients[0].State.Final() != true) {
				t.Errorf("history lost the message id or the recipients' outcome: %+v", hist[0])
			}
			ds, n, err := j.Decisions(ctx, 1)
			if err != nil || n == 0 || ds[0].Kind != EventRetried || ds[0].Attempt != 2 || ds[0].From != from || ds[0].Note != "mailbox full" {
				t.Errorf("decisions = %+v, %d, %v", ds, n, err)
			}
			// The new attempt is sent and tracked like a fresh row: its
			// recipients start over, a new message id is allowed.
			if err := j.MarkSending(ctx, id); err != nil {
				t.Fatal(err)
			}
			if err := j.MarkSubmitted(ctx, id, code+"B"); err != nil {
				t.Fatal(err)
			}
			addr := after.Recipients[0]
			ap, err := j.ApplyReceipts(ctx, id, []Receipt{{Kind: "delivery", DateText: "d2", Addressee: addr, Body: "b"}},
				[]Outcome{{Address: addr, State: RecipientDelivered}})
			if err != nil {
				t.Fatal(err)
			}
			if ap.State != StateDelivered {
				t.Errorf("second attempt delivered = %s, want delivered", ap.State)
			}
		})
	}
}

// TestRetryGuards are the schema's own guards: whatever code writes the
// file, a final row changes only with a new attempt number, after the
// previous attempt is archived.
func TestRetryGuards(t *testing.T) {
	ctx := t.Context()
	j, _, path := initTest(t, 1)
	id := mustRow(t, j.Reader, "K000000").ID
	driveTo(t, j, id, StateFailed)
	for _, stmt := range []string{
		"UPDATE rows SET state = 'pending' WHERE id = ?",
		"UPDATE rows SET state = 'pending', message_id = NULL, attempt = attempt + 1 WHERE id = ?",
		"UPDATE rows SET attempt = attempt + 2 WHERE id = ?",
	} {
		if _, err := j.db.ExecContext(ctx, stmt, id); err == nil {
			t.Errorf("%s: no error", stmt)
		}
	}
	if _, err := j.Retry(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{"UPDATE attempts SET state = 'delivered'", "DELETE FROM attempts"} {
		if _, err := j.db.ExecContext(ctx, stmt); err == nil {
			t.Errorf("%s: no error", stmt)
		}
	}
	// The schema holds on the system's SQLite too.
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if res, v := externalIntegrityCheck(t, path); res != "ok" {
		t.Errorf("integrity_check after a retry with SQLite %s: %s", v, res)
	}
}
