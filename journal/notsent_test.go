package journal

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestMarkNotSent(t *testing.T) {
	ctx := t.Context()
	j, c, _ := initTest(t, len(States()))
	for i, from := range States() {
		t.Run("from_"+string(from), func(t *testing.T) {
			id := mustRow(t, j.Reader, fmt.Sprintf("K%06d", i)).ID
			driveTo(t, j, id, from)
			before := mustRowID(t, j.Reader, id)
			events := eventCount(t, j.Reader)
			c.Advance(time.Second)
			err := j.MarkNotSent(ctx, id, "dial tcp: connection refused")
			after := mustRowID(t, j.Reader, id)
			if from != StateSending {
				if !errors.Is(err, ErrConflict) {
					t.Fatalf("from %s: err = %v, want ErrConflict", from, err)
				}
				if eventCount(t, j.Reader) != events || after.State != before.State {
					t.Errorf("refused transition changed the journal")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if after.State != StatePending || after.Attempts != before.Attempts || after.LastError != "dial tcp: connection refused" {
				t.Errorf("after = %s attempts %d error %q; want pending, attempts %d, the reason",
					after.State, after.Attempts, after.LastError, before.Attempts)
			}
			evs := collect(t, j.Events(ctx))
			last := evs[len(evs)-1]
			if last.Kind != EventNotSent || last.RowID != id || !strings.Contains(string(last.Detail), "connection refused") {
				t.Errorf("last event %+v %s", last, last.Detail)
			}
			// The row can be sent again.
			if err := j.MarkSending(ctx, id); err != nil {
				t.Errorf("MarkSending after MarkNotSent: %v", err)
			}
		})
	}
}

func TestMessageIDTaken(t *testing.T) {
	ctx := t.Context()
	j, _, _ := initTest(t, 2)
	submit(t, j, mustRow(t, j.Reader, "K000000").ID, "2026030209000012")
	for code, want := range map[string]bool{"2026030209000012": true, " 2026030209000012 ": true, "2026030209000013": false} {
		got, err := j.MessageIDTaken(ctx, code)
		if err != nil || got != want {
			t.Errorf("MessageIDTaken(%q) = %v, %v; want %v", code, got, err, want)
		}
	}
}
