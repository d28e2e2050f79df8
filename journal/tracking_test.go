package journal

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRowStateFor(t *testing.T) {
	P, A, D, F, E, N := RecipientPending, RecipientAccepted, RecipientDelivered, RecipientFailed, RecipientExpired, RecipientNotCertifiable
	tests := []struct {
		in   []RecipientState
		want State
	}{
		{[]RecipientState{P}, StateSubmitted},
		{[]RecipientState{P, P}, StateSubmitted},
		{[]RecipientState{A}, StateAccepted},
		{[]RecipientState{D, P}, StateAccepted},
		{[]RecipientState{D, A}, StateAccepted},
		{[]RecipientState{D}, StateDelivered},
		{[]RecipientState{D, D, D}, StateDelivered},
		{[]RecipientState{D, F}, StateFailed},
		{[]RecipientState{E, F, N}, StateFailed},
		{[]RecipientState{E, D}, StateExpired},
		{[]RecipientState{E, N}, StateExpired},
		{[]RecipientState{N, D}, StateAcceptedNotCertifiable},
		{[]RecipientState{N}, StateAcceptedNotCertifiable},
		{nil, StateSubmitted},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.in), func(t *testing.T) {
			if got := rowStateFor(tt.in); got != tt.want {
				t.Errorf("rowStateFor(%v) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

// trackRow makes a journal with one submitted row of the given recipients.
func trackRow(t *testing.T, recipients ...string) (*Journal, *clock, Row) {
	t.Helper()
	ctx := context.Background()
	j, c, _ := openTest(t)
	r := newRow(0)
	r.Recipients = recipients
	if _, err := j.Init(ctx, testMeta(), RowsOf([]NewRow{r})); err != nil {
		t.Fatal(err)
	}
	row := mustRow(t, j.Reader, r.Key)
	submit(t, j, row.ID, "2026030210003492")
	return j, c, mustRowID(t, j.Reader, row.ID)
}

func receipt(kind, dateText, addressee string) Receipt {
	return Receipt{
		Kind: kind, DateText: dateText, Addressee: addressee,
		Date:      time.Date(2026, 3, 2, 10, 0, 35, 0, time.UTC),
		Sender:    "posta-certificata@pec.example.it",
		Recipient: "ufficio@pec.example.it",
		Subject:   strings.ToUpper(kind) + ": Sollecito 2026030210003492",
		Body:      "Ricevuta di " + kind + " del messaggio indirizzato a " + addressee + " (\"posta certificata\")",
	}
}

func TestApplyReceiptsMultiRecipient(t *testing.T) {
	ctx := context.Background()
	j, c, row := trackRow(t, "Uno@pec.it", "due@pec.it", "tre@mail.it")
	at := func(s int) time.Time { return time.Date(2026, 3, 2, 10, 0, s, 0, time.UTC) }
	steps := []struct {
		name     string
		receipts []Receipt
		outcomes []Outcome
		want     Applied
	}{
		{"acceptance", []Receipt{receipt("acceptance", "Mon, 2 Mar 2026 10:00:01 +0000", "")},
			[]Outcome{{Address: "uno@pec.it", State: RecipientAccepted, At: at(1)}, {Address: "DUE@pec.it", State: RecipientAccepted, At: at(1)},
				{Address: "tre@mail.it", State: RecipientAccepted, At: at(1)}},
			Applied{NewReceipts: 1, From: StateSubmitted, State: StateAccepted}},
		{"first delivery", []Receipt{receipt("delivery", "Mon, 2 Mar 2026 10:00:05 +0000", "uno@pec.it")},
			[]Outcome{{Address: "uno@pec.it", State: RecipientDelivered, At: at(5)}},
			Applied{NewReceipts: 1, From: StateAccepted, State: StateAccepted}},
		{"same receipts again", []Receipt{receipt("acceptance", "Mon, 2 Mar 2026 10:00:01 +0000", ""),
			receipt("delivery", "Mon, 2 Mar 2026 10:00:05 +0000", "uno@pec.it")},
			[]Outcome{{Address: "uno@pec.it", State: RecipientDelivered, At: at(5)}},
			Applied{NewReceipts: 0, From: StateAccepted, State: StateAccepted}},
		{"failure of the second", []Receipt{receipt("non-delivery", "Mon, 2 Mar 2026 10:00:07 +0000", "due@pec.it")},
			[]Outcome{{Address: "due@pec.it", State: RecipientFailed, At: at(7), Error: "5.1.1 - indirizzo non valido"}},
			Applied{NewReceipts: 1, From: StateAccepted, State: StateAccepted}},
		{"give-up for the ordinary address", nil,
			[]Outcome{{Address: "tre@mail.it", State: RecipientNotCertifiable, At: at(9)}},
			Applied{NewReceipts: 0, From: StateAccepted, State: StateFailed}},
		{"late delivery after final", []Receipt{receipt("delivery", "Mon, 2 Mar 2026 11:00:00 +0000", "due@pec.it")},
			[]Outcome{{Address: "due@pec.it", State: RecipientDelivered, At: at(30)}},
			Applied{NewReceipts: 1, From: StateFailed, State: StateFailed}},
	}
	for _, s := range steps {
		c.Advance(time.Minute)
		got, err := j.ApplyReceipts(ctx, row.ID, s.receipts, s.outcomes)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got != s.want {
			t.Fatalf("%s: %+v, want %+v", s.name, got, s.want)
		}
	}
	r := mustRowID(t, j.Reader, row.ID)
	if r.Receipts != 4 || !r.AcceptedAt.Equal(at(1)) || !r.FinalAt.Equal(at(9)) ||
		r.LastError != "due@pec.it: 5.1.1 - indirizzo non valido" || !r.NextPollAt.IsZero() {
		t.Errorf("row = %+v", r)
	}
	var lines []string
	for l, err := range j.ReportRows(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, fmt.Sprintf("%s %s %s del=%s fail=%s err=%q n=%d", l.Recipient, l.State, l.RowState,
			l.DeliveredAt.Format("15:04:05"), l.FailedAt.Format("15:04:05"), l.Error, l.Receipts))
	}
	want := []string{
		`uno@pec.it delivered failed del=10:00:05 fail=00:00:00 err="" n=4`,
		`due@pec.it failed failed del=00:00:00 fail=10:00:07 err="5.1.1 - indirizzo non valido" n=4`,
		`tre@mail.it accepted_not_certifiable failed del=00:00:00 fail=00:00:00 err="" n=4`,
	}
	if !slices.Equal(lines, want) {
		t.Errorf("report:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	stored, err := j.Receipts(ctx, row.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 4 {
		t.Fatalf("%d receipts archived", len(stored))
	}
	in := receipt("non-delivery", "Mon, 2 Mar 2026 10:00:07 +0000", "due@pec.it")
	in.Code = "2026030210003492"
	var found bool
	for _, s := range stored {
		if s.Kind == "non-delivery" {
			found = true
			if !reflect.DeepEqual(s.Receipt, in) || s.RowID != row.ID || s.ArchivedAt.IsZero() {
				t.Errorf("stored receipt:\n%+v\nwant\n%+v", s.Receipt, in)
			}
		}
	}
	if !found {
		t.Error("non-delivery receipt not archived")
	}
	tracked := 0
	for _, e := range collect(t, j.Events(ctx)) {
		if e.Kind == EventTracked {
			tracked++
		}
	}
	// "same receipts again" changed nothing and is not logged.
	if tracked != len(steps)-1 {
		t.Errorf("%d tracked events, want %d", tracked, len(steps)-1)
	}
}

// TestFinalNeverGoesBack: whatever arrives after a final state is archived
// but changes neither the row nor its recipients.
func TestFinalNeverGoesBack(t *testing.T) {
	late := []struct {
		name    string
		outcome RecipientState
	}{
		{"late warning", RecipientAccepted},
		{"pending", RecipientPending},
		{"expiry after delivery", RecipientExpired},
		{"failure after delivery", RecipientFailed},
	}
	for _, tt := range late {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			j, c, row := trackRow(t, "uno@pec.it")
			if _, err := j.ApplyReceipts(ctx, row.ID, []Receipt{receipt("delivery", "d1", "uno@pec.it")},
				[]Outcome{{Address: "uno@pec.it", State: RecipientDelivered}}); err != nil {
				t.Fatal(err)
			}
			before := mustRowID(t, j.Reader, row.ID)
			c.Advance(time.Hour)
			got, err := j.ApplyReceipts(ctx, row.ID, []Receipt{receipt("timeout-warning", "d2", "uno@pec.it")},
				[]Outcome{{Address: "uno@pec.it", State: tt.outcome, Error: "5.4.1", Warnings: 1}})
			if err != nil {
				t.Fatal(err)
			}
			if got.State != StateDelivered || got.NewReceipts != 1 || got.Changed() {
				t.Errorf("applied = %+v", got)
			}
			after := mustRowID(t, j.Reader, row.ID)
			if after.State != StateDelivered || !after.FinalAt.Equal(before.FinalAt) || after.LastError != "" || after.Receipts != 2 {
				t.Errorf("row after late receipt = %+v", after)
			}
			lines := collect(t, j.ReportRows(ctx))
			if lines[0].State != StateDelivered || lines[0].Error != "" || lines[0].Warnings != 1 {
				t.Errorf("recipient after late receipt = %+v", lines[0])
			}
		})
	}
}

func TestRecipientOutcomeForwardOnly(t *testing.T) {
	ctx := context.Background()
	j, _, row := trackRow(t, "uno@pec.it", "due@pec.it")
	apply := func(st RecipientState, warnings int) {
		t.Helper()
		if _, err := j.ApplyReceipts(ctx, row.ID, nil, []Outcome{{Address: "uno@pec.it", State: st, Warnings: warnings}}); err != nil {
			t.Fatal(err)
		}
	}
	apply(RecipientAccepted, 1)
	apply(RecipientPending, 0)
	lines := collect(t, j.ReportRows(ctx))
	if lines[0].State != StateAccepted || lines[0].Warnings != 1 || lines[1].State != StateAccepted {
		t.Errorf("lines = %+v", lines)
	}
	if r := mustRowID(t, j.Reader, row.ID); r.State != StateAccepted {
		t.Errorf("row = %s", r.State)
	}
}

func TestApplyReceiptsRefusals(t *testing.T) {
	tests := []struct {
		name     string
		state    State
		receipts []Receipt
		outcomes []Outcome
		is       error
		msg      string
	}{
		{"pending row", StatePending, nil, nil, ErrConflict, "no message id"},
		{"sending row", StateSending, nil, nil, ErrConflict, "no message id"},
		{"unknown row", StateUnknown, nil, nil, ErrConflict, "no message id"},
		{"rejected row", StateRejected, nil, nil, ErrConflict, "no message id"},
		{"receipt of another send", StateSubmitted, []Receipt{receipt("delivery", "d", ""), {Code: "OTHER", Kind: "delivery"}},
			nil, ErrConflict, "message id OTHER"},
		{"address not a recipient", StateSubmitted, []Receipt{receipt("delivery", "d", "")},
			[]Outcome{{Address: "intruso@pec.it", State: RecipientDelivered}}, ErrConflict, "not a recipient"},
		{"invalid recipient state", StateSubmitted, nil, []Outcome{{Address: "dest0@pec.example.it", State: "done"}}, nil, "invalid recipient state"},
		{"receipt without kind", StateSubmitted, []Receipt{{DateText: "d"}}, nil, nil, "no kind"},
	}
	j, _, _ := initTest(t, len(tests))
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			id := mustRow(t, j.Reader, fmt.Sprintf("K%06d", i)).ID
			driveTo(t, j, id, tt.state)
			before := mustRowID(t, j.Reader, id)
			_, err := j.ApplyReceipts(ctx, id, tt.receipts, tt.outcomes)
			if err == nil || (tt.is != nil && !errors.Is(err, tt.is)) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want %v %q", err, tt.is, tt.msg)
			}
			if after := mustRowID(t, j.Reader, id); !reflect.DeepEqual(before, after) {
				t.Errorf("refused ApplyReceipts changed the row")
			}
			if rs, err := j.Receipts(ctx, id); err != nil || len(rs) != 0 {
				t.Errorf("refused ApplyReceipts archived %d receipts (%v)", len(rs), err)
			}
		})
	}
	if _, err := j.ApplyReceipts(context.Background(), 9999, nil, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("no such row: %v", err)
	}
}

// TestReceiptDedup: identical entries share (code, kind, date text,
// addressee); across answers the first copy is the one kept.
func TestReceiptDedup(t *testing.T) {
	ctx := context.Background()
	j, _, row := trackRow(t, "uno@pec.it", "due@pec.it")
	base := receipt("delivery", "Mon, 2 Mar 2026 10:00:05 +0000", "uno@pec.it")
	otherBody := base
	otherBody.Body = "same receipt listed again with other text"
	otherCase := base
	otherCase.Addressee = " UNO@pec.it "
	tests := []struct {
		name string
		r    Receipt
		new  int
	}{
		{"first", base, 1},
		{"exact duplicate", base, 0},
		{"same key, other body", otherBody, 0},
		{"addressee in other case", otherCase, 0},
		{"other addressee", receipt("delivery", base.DateText, "due@pec.it"), 1},
		{"other date", receipt("delivery", "Mon, 2 Mar 2026 10:00:06 +0000", "uno@pec.it"), 1},
		{"other kind", receipt("timeout-warning", base.DateText, "uno@pec.it"), 1},
	}
	total := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := j.ApplyReceipts(ctx, row.ID, []Receipt{tt.r}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got.NewReceipts != tt.new {
				t.Errorf("new = %d, want %d", got.NewReceipts, tt.new)
			}
			total += tt.new
			if n := mustRowID(t, j.Reader, row.ID).Receipts; n != total {
				t.Errorf("row counts %d receipts, want %d", n, total)
			}
		})
	}
	stored, _ := j.Receipts(ctx, row.ID)
	for _, s := range stored {
		if s.Kind == "delivery" && s.Addressee == "uno@pec.it" && s.DateText == base.DateText && s.Body != base.Body {
			t.Errorf("kept body %q, want the first one", s.Body)
		}
	}
	if len(stored) != total {
		t.Errorf("%d stored, want %d", len(stored), total)
	}
}

// TestReceiptMultiplicity: identical entries of one answer are as many
// receipts as entries; a later answer adds only the occurrences beyond the
// largest count archived so far (max over answers, not sum).
func TestReceiptMultiplicity(t *testing.T) {
	ctx := context.Background()
	consegna := receipt("delivery", "Mon, 2 Mar 2026 10:00:05 +0000", "")
	accettazione := receipt("acceptance", "Mon, 2 Mar 2026 10:00:01 +0000", "")
	times := func(r Receipt, n int) []Receipt {
		out := make([]Receipt, n)
		for i := range out {
			out[i] = r
		}
		return out
	}
	answers := []struct {
		name     string
		receipts []Receipt
		new      int
	}{
		{"two identical deliveries in one answer are two", append(times(consegna, 2), accettazione), 3},
		{"the same answer again adds nothing", append(times(consegna, 2), accettazione), 0},
		{"an answer listing one of them adds nothing", []Receipt{consegna}, 0},
		{"an answer listing three adds exactly one", times(consegna, 3), 1},
		{"three again, in another order, adds nothing", []Receipt{consegna, accettazione, consegna, consegna}, 0},
		{"an empty answer adds nothing", nil, 0},
	}
	j, _, row := trackRow(t, "uno@pec.it", "due@pec.it")
	total := 0
	for _, a := range answers {
		t.Run(a.name, func(t *testing.T) {
			got, err := j.ApplyReceipts(ctx, row.ID, a.receipts, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got.NewReceipts != a.new {
				t.Errorf("new = %d, want %d", got.NewReceipts, a.new)
			}
			total += a.new
			if n := mustRowID(t, j.Reader, row.ID).Receipts; n != total {
				t.Errorf("row counts %d receipts, want %d", n, total)
			}
		})
	}
	stored, err := j.Receipts(ctx, row.ID)
	if err != nil {
		t.Fatal(err)
	}
	var occ []int
	for _, s := range stored {
		if s.Kind == "delivery" {
			occ = append(occ, s.Occurrence)
		}
	}
	if !slices.Equal(occ, []int{1, 2, 3}) || len(stored) != 4 {
		t.Errorf("stored %d receipts, delivery occurrences %v; want 4 and [1 2 3]", len(stored), occ)
	}
}

func TestPollSchedule(t *testing.T) {
	ctx := context.Background()
	j, c, _ := initTest(t, 4)
	ids := make([]int64, 4)
	for i := range ids {
		ids[i] = mustRow(t, j.Reader, fmt.Sprintf("K%06d", i)).ID
	}
	if _, ok, err := j.NextPoll(ctx); ok || err != nil {
		t.Fatalf("NextPoll with nothing to track: %v %v", ok, err)
	}
	for i, id := range ids[:3] {
		submit(t, j, id, fmt.Sprintf("C%d", i))
	}
	// Never scheduled: due at once.
	due, err := j.DueForPoll(ctx, 10)
	if err != nil || len(due) != 3 {
		t.Fatalf("due = %d rows, %v", len(due), err)
	}
	if next, ok, _ := j.NextPoll(ctx); !ok || !next.IsZero() {
		t.Errorf("NextPoll = %v %v, want zero (now)", next, ok)
	}
	now := c.Now()
	if err := j.SetNextPoll(ctx, ids[0], now.Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := j.RecordPoll(ctx, ids[1], now.Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := j.RecordPoll(ctx, ids[2], now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if due, _ := j.DueForPoll(ctx, 10); len(due) != 0 {
		t.Errorf("due before time: %v", due)
	}
	if next, ok, _ := j.NextPoll(ctx); !ok || !next.Equal(now.Add(5*time.Second)) {
		t.Errorf("NextPoll = %v, want %v", next, now.Add(5*time.Second))
	}
	c.Advance(10 * time.Second)
	due, _ = j.DueForPoll(ctx, 10)
	if len(due) != 2 || due[0].ID != ids[1] || due[1].ID != ids[0] || due[0].Polls != 1 || due[1].Polls != 0 {
		t.Errorf("due = %+v", due)
	}
	if due, _ := j.DueForPoll(ctx, 1); len(due) != 1 || due[0].ID != ids[1] {
		t.Errorf("limit 1: %+v", due)
	}
	// A final row is never due, and its schedule is cleared.
	if _, err := j.ApplyReceipts(ctx, ids[1], nil, []Outcome{{Address: "dest1@pec.example.it", State: RecipientDelivered}}); err != nil {
		t.Fatal(err)
	}
	if err := j.RecordPoll(ctx, ids[1], c.Now()); err != nil {
		t.Fatal(err)
	}
	if r := mustRowID(t, j.Reader, ids[1]); !r.NextPollAt.IsZero() || r.Polls != 2 {
		t.Errorf("final row schedule = %v, polls %d", r.NextPollAt, r.Polls)
	}
	due, _ = j.DueForPoll(ctx, 10)
	if len(due) != 1 || due[0].ID != ids[0] {
		t.Errorf("due after final = %+v", due)
	}
	// Only tracked rows have a schedule.
	if err := j.SetNextPoll(ctx, ids[3], c.Now()); !errors.Is(err, ErrConflict) {
		t.Errorf("SetNextPoll on a pending row: %v", err)
	}
	if err := j.SetNextPoll(ctx, ids[0], time.Time{}); err == nil {
		t.Error("zero time accepted")
	}
}

func TestReceiptsDeleted(t *testing.T) {
	ctx := context.Background()
	j, _, _ := initTest(t, 3)
	a, b, cc := mustRow(t, j.Reader, "K000000").ID, mustRow(t, j.Reader, "K000001").ID, mustRow(t, j.Reader, "K000002").ID
	driveTo(t, j, a, StateDelivered) // with one receipt
	submit(t, j, b, "CB")
	if _, err := j.ApplyReceipts(ctx, b, nil, []Outcome{{Address: "dest1@pec.example.it", State: RecipientFailed}}); err != nil {
		t.Fatal(err)
	}
	submit(t, j, cc, "CC")
	todo, err := j.ReceiptsToDelete(ctx, 10)
	if err != nil || len(todo) != 1 || todo[0].ID != a {
		t.Fatalf("ReceiptsToDelete = %+v %v", todo, err)
	}
	for _, tt := range []struct {
		name string
		id   int64
	}{{"not final", cc}, {"nothing archived", b}} {
		if err := j.MarkReceiptsDeleted(ctx, tt.id); !errors.Is(err, ErrConflict) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	if err := j.MarkReceiptsDeleted(ctx, a); err != nil {
		t.Fatal(err)
	}
	if r := mustRowID(t, j.Reader, a); r.ReceiptsDeletedAt.IsZero() {
		t.Error("receipts_deleted_at not set")
	}
	if todo, _ := j.ReceiptsToDelete(ctx, 10); len(todo) != 0 {
		t.Errorf("still to delete: %+v", todo)
	}
	// The archive keeps them.
	if rs, _ := j.Receipts(ctx, a); len(rs) != 1 {
		t.Errorf("archive has %d receipts", len(rs))
	}
}

// TestAcceptedAtFromDeliveredOutcome covers the common case of the acceptance
// and the delivery arriving in the same poll: the outcome is already
// "delivered", and the row's accepted_at must still be the acceptance's date.
func TestAcceptedAtFromDeliveredOutcome(t *testing.T) {
	ctx := context.Background()
	j, _, row := trackRow(t, "uno@pec.it")
	accepted := time.Date(2026, 3, 2, 10, 0, 1, 0, time.UTC)
	delivered := time.Date(2026, 3, 2, 10, 0, 3, 0, time.UTC)
	_, err := j.ApplyReceipts(ctx, row.ID,
		[]Receipt{receipt("acceptance", "a", ""), receipt("delivery", "d", "uno@pec.it")},
		[]Outcome{{Address: "uno@pec.it", State: RecipientDelivered, At: delivered, AcceptedAt: accepted}})
	if err != nil {
		t.Fatal(err)
	}
	got := mustRowID(t, j.Reader, row.ID)
	if got.State != StateDelivered || !got.AcceptedAt.Equal(accepted) || !got.FinalAt.Equal(delivered) {
		t.Errorf("row %s accepted %v final %v, want delivered accepted %v final %v",
			got.State, got.AcceptedAt, got.FinalAt, accepted, delivered)
	}
}
