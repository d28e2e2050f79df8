package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/journal"
)

// maxAttention bounds the rows `status` lists by name.
const maxAttention = 50

// StatusReport is how a campaign stands, from its journal: what `pecbatch
// status` shows. It is read without the run lock, so it works while a run
// is going on.
type StatusReport struct {
	Campaign string `json:"campaign"`
	Journal  string `json:"journal"`
	Endpoint string `json:"endpoint"`
	Sender   string `json:"sender"`
	// Rows is the number of rows; Counts the rows in each state.
	Rows   int            `json:"rows"`
	Counts map[string]int `json:"counts"`
	// Final is the number of rows in a final state.
	Final int `json:"final"`
	// Created, Started, LastSubmitted and Finished are the campaign's
	// times (zero: not yet).
	Created       time.Time `json:"created"`
	Started       time.Time `json:"started,omitzero"`
	LastSubmitted time.Time `json:"last_submitted,omitzero"`
	Finished      time.Time `json:"finished,omitzero"`
	// NextPoll is when the next row is due for a receipts poll (zero: none
	// left to track, or PollDue).
	NextPoll time.Time `json:"next_poll,omitzero"`
	// PollDue says a row is due for a poll now.
	PollDue bool `json:"poll_due,omitempty"`
	// SendingETA estimates the time left to send the pending rows at
	// sending.rate.
	SendingETA time.Duration `json:"sending_eta_ns"`
	// Attention lists the rows a person should look at (unknown,
	// interrupted in sending, rejected, and those not delivered: failed,
	// expired, not certifiable), at most 50, by row number; AttentionCount
	// counts them all.
	Attention      []AttentionRow `json:"attention"`
	AttentionCount int            `json:"attention_count"`
	// ChangedAfterSend lists the rows already sent that the campaign's
	// files, when a run last accepted a change (--allow-changes), render
	// differently from what was sent, at most 50; ChangedAfterSendCount
	// counts them all. They kept what was sent and were not sent again.
	ChangedAfterSend      []ChangedRow `json:"changed_after_send"`
	ChangedAfterSendCount int          `json:"changed_after_send_count"`
	// Decisions lists the operator's decisions (`pecbatch resolve` and
	// `pecbatch retry`), latest first, at most 50; DecisionCount counts
	// them all.
	Decisions     []DecisionRow `json:"decisions"`
	DecisionCount int           `json:"decision_count"`
	// SignedReceipts counts the signed receipts read from the mailbox
	// (tracking.imap); SignedProblems those with an invalid or missing
	// signature or a daticert that is missing or disagrees with the
	// message, stored but never used; SignedConflicts the signed receipts
	// that contradicted a recipient's final state, which was kept.
	SignedReceipts  int `json:"signed_receipts"`
	SignedProblems  int `json:"signed_receipts_with_problems"`
	SignedConflicts int `json:"signed_receipt_conflicts"`
	// Conflicts lists those contradictions, latest first, at most 50.
	Conflicts []ConflictRow `json:"signed_conflicts"`
}

// ConflictRow is a signed receipt that contradicted a recipient's final
// state: the state was kept, a person should look at the receipt.
type ConflictRow struct {
	Row     int       `json:"row"`
	Key     string    `json:"key"`
	At      time.Time `json:"at"`
	Address string    `json:"address"`
	// State is the final state kept, Signed what the receipt said, SHA256
	// the receipt (journal table signed_receipts).
	State  string `json:"state"`
	Signed string `json:"signed"`
	SHA256 string `json:"sha256"`
}

// DecisionRow is one decision of the operator on a row.
type DecisionRow struct {
	Row int    `json:"row"`
	Key string `json:"key"`
	// Decision is "resolved sent", "resolved not_sent" or "retried".
	Decision string    `json:"decision"`
	At       time.Time `json:"at"`
	// MessageID is, for a row resolved sent, the id given; for a retry,
	// the previous attempt's.
	MessageID string `json:"message_id,omitempty"`
	// Attempt is, for a retry, the new attempt's number; From and Error
	// the previous attempt's outcome.
	Attempt int    `json:"attempt,omitempty"`
	From    string `json:"from,omitempty"`
	Error   string `json:"error,omitempty"`
	Note    string `json:"note,omitempty"`
}

// ChangedRow is a row whose message, as the campaign's files render it now,
// is not the one that was sent.
type ChangedRow struct {
	Row   int    `json:"row"`
	Key   string `json:"key"`
	State string `json:"state"`
	// SentSHA256 is the content hash of what was sent, CurrentSHA256 of
	// what the files render now.
	SentSHA256    string `json:"sent_sha256"`
	CurrentSHA256 string `json:"current_sha256"`
}

// AttentionRow is a row that needs a person's attention.
type AttentionRow struct {
	Row        int      `json:"row"`
	Key        string   `json:"key"`
	State      string   `json:"state"`
	Recipients []string `json:"recipients"`
	Error      string   `json:"error,omitempty"`
}

// Status reads how the campaign stands from its journal (journalPath, or
// the campaign's sending.journal when empty); now is the time the sending
// estimate starts from (the day's sends and the sending window).
func Status(ctx context.Context, c *campaign.Campaign, journalPath string, now time.Time) (*StatusReport, error) {
	if journalPath == "" {
		journalPath = c.Sending.Journal
	}
	r, err := journal.OpenReadOnly(ctx, journalPath)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	defer r.Close()
	m, err := r.Meta(ctx)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	st := &StatusReport{Campaign: m.Campaign, Journal: r.Path(), Endpoint: m.Endpoint, Sender: m.Sender,
		Counts: map[string]int{}, Attention: []AttentionRow{}, ChangedAfterSend: []ChangedRow{}, Decisions: []DecisionRow{}}
	counts, err := r.Counts(ctx)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	for _, s := range journal.States() {
		st.Counts[string(s)] = counts[s]
	}
	st.Rows, st.Final = counts.Total(), counts.Final()
	times, err := r.Times(ctx)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	st.Created, st.Started, st.LastSubmitted, st.Finished = times.Created, times.Started, times.LastSubmitted, times.Finished
	next, ok, err := r.NextPoll(ctx)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	st.NextPoll, st.PollDue = next, ok && next.IsZero()
	if n := counts[journal.StatePending]; n > 0 {
		sentToday, err := r.SentPerDay(ctx, campaign.Rome(), now)
		if err != nil {
			return nil, fmt.Errorf("status: %w", err)
		}
		// Never less than the sending itself takes at sending.rate.
		st.SendingETA = max(EstimateSending(c, now, n, sentToday), c.Sending.Rate.TimeFor(n))
	}
	states := statusAttentionStates()
	for _, s := range states {
		st.AttentionCount += counts[s]
	}
	rows, err := r.RowsInState(ctx, maxAttention, states...)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	for _, row := range rows {
		st.Attention = append(st.Attention, AttentionRow{
			Row: row.RowNumber, Key: row.Key, State: string(row.State), Recipients: row.Recipients, Error: row.LastError,
		})
	}
	changed, n, err := r.ChangedAfterSend(ctx, maxAttention)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	st.ChangedAfterSendCount = n
	for _, row := range changed {
		st.ChangedAfterSend = append(st.ChangedAfterSend, ChangedRow{Row: row.RowNumber, Key: row.Key, State: string(row.State),
			SentSHA256: row.ContentSHA256, CurrentSHA256: row.CurrentSHA256})
	}
	signed, err := r.SignedSummary(ctx)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	st.SignedReceipts, st.SignedProblems, st.SignedConflicts = signed.Stored, signed.Problems, signed.Conflicts
	st.Conflicts = []ConflictRow{}
	if signed.Conflicts > 0 {
		cs, _, err := r.SignedConflicts(ctx, maxAttention)
		if err != nil {
			return nil, fmt.Errorf("status: %w", err)
		}
		for _, c := range cs {
			st.Conflicts = append(st.Conflicts, ConflictRow{Row: c.RowNumber, Key: c.Key, At: c.At, Address: c.Address,
				State: string(c.State), Signed: string(c.Signed), SHA256: c.SHA256})
		}
	}
	decisions, n, err := r.Decisions(ctx, maxAttention)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	st.DecisionCount = n
	for _, d := range decisions {
		row := DecisionRow{Row: d.RowNumber, Key: d.Key, Decision: "retried", At: d.At, MessageID: d.MessageID,
			Attempt: d.Attempt, From: string(d.From), Error: d.Error, Note: d.Note}
		if d.Kind == journal.EventResolved {
			row.Decision = "resolved " + string(d.As)
		}
		st.Decisions = append(st.Decisions, row)
	}
	return st, nil
}

// statusAttentionStates are the row states status lists under attention:
// the journal's (a send of unknown outcome, a refusal) and the rows that
// did not reach their recipients, which an office must contact again.
func statusAttentionStates() []journal.State {
	return append(journal.AttentionStates(), journal.StateFailed, journal.StateExpired, journal.StateAcceptedNotCertifiable)
}

// WriteJSON writes the report as one JSON object.
func (s *StatusReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// WriteText writes the report for people, times in loc.
func (s *StatusReport) WriteText(w io.Writer, loc *time.Location) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Campaign %q (journal %s)\n", s.Campaign, s.Journal)
	fmt.Fprintf(&b, "  endpoint %s, sender %s\n", s.Endpoint, s.Sender)
	fmt.Fprintf(&b, "  %d row(s), %d final\n", s.Rows, s.Final)
	for _, st := range journal.States() {
		if n := s.Counts[string(st)]; n > 0 {
			fmt.Fprintf(&b, "    %-26s %d\n", st, n)
		}
	}
	when := func(label string, t time.Time) {
		if !t.IsZero() {
			fmt.Fprintf(&b, "  %-15s %s\n", label, t.In(loc).Format("2006-01-02 15:04:05 MST"))
		}
	}
	when("created", s.Created)
	when("started", s.Started)
	when("last submitted", s.LastSubmitted)
	when("finished", s.Finished)
	if s.Finished.IsZero() {
		when("next poll", s.NextPoll)
		if s.PollDue {
			fmt.Fprintf(&b, "  %-15s now\n", "next poll")
		}
	}
	if s.SendingETA > 0 {
		fmt.Fprintf(&b, "  %d row(s) still to send: about %s at sending.rate, within the daily limit and the window\n", s.Counts[string(journal.StatePending)], campaign.FormatDuration(s.SendingETA))
	}
	if s.AttentionCount > 0 {
		fmt.Fprintf(&b, "\nRows that need attention (%d):\n", s.AttentionCount)
		for _, a := range s.Attention {
			fmt.Fprintf(&b, "  row %d (key %q, %s) %s", a.Row, a.Key, strings.Join(a.Recipients, ", "), a.State)
			if a.Error != "" {
				fmt.Fprintf(&b, ": %s", a.Error)
			}
			b.WriteByte('\n')
		}
		if s.AttentionCount > len(s.Attention) {
			fmt.Fprintf(&b, "  ... and %d more: see `pecbatch report`\n", s.AttentionCount-len(s.Attention))
		}
		if s.Counts[string(journal.StateFailed)]+s.Counts[string(journal.StateExpired)]+s.Counts[string(journal.StateAcceptedNotCertifiable)] > 0 {
			b.WriteString("  failed, expired, accepted_not_certifiable: not delivered; `pecbatch report --only undelivered`\n" +
				"  lists them with why and what to do next (e.g. raccomandata A/R for an address that is not PEC).\n")
		}
		if s.Counts[string(journal.StateRejected)] > 0 {
			b.WriteString("  rejected: once the cause is fixed, `pecbatch retry CAMPAIGN.yaml --state rejected` queues them for a new attempt.\n")
		}
		if s.Counts[string(journal.StateUnknown)]+s.Counts[string(journal.StateSending)] > 0 {
			b.WriteString("  unknown: the send may or may not have happened; `pecbatch run` reconciles them from the mailbox,\n" +
				"  `pecbatch run --resend-unknown` sends again those not found within sending.reconcile_window, and\n" +
				"  `pecbatch resolve` records what you found out yourself (sent, with its message id, or not sent).\n")
		}
	}
	if s.ChangedAfterSendCount > 0 {
		fmt.Fprintf(&b, "\nRows changed after send (%d): the campaign's files now render them differently from what was sent;\n"+
			"  they keep what was sent and are not sent again (give a row a new key to send it the new content):\n", s.ChangedAfterSendCount)
		for _, c := range s.ChangedAfterSend {
			fmt.Fprintf(&b, "  row %d (key %q, %s) changed after send\n", c.Row, c.Key, c.State)
		}
		if s.ChangedAfterSendCount > len(s.ChangedAfterSend) {
			fmt.Fprintf(&b, "  ... and %d more: see `pecbatch report`\n", s.ChangedAfterSendCount-len(s.ChangedAfterSend))
		}
	}
	s.writeSigned(&b, loc)
	s.writeDecisions(&b, loc)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeSigned says how many signed receipts were read, and which need a
// person: those with problems, and contradictions of a final state.
func (s *StatusReport) writeSigned(b *strings.Builder, loc *time.Location) {
	if s.SignedReceipts == 0 && s.SignedConflicts == 0 {
		return
	}
	fmt.Fprintf(b, "\nSigned receipts from the mailbox: %d\n", s.SignedReceipts)
	if s.SignedProblems > 0 {
		fmt.Fprintf(b, "  signed receipts with problems: %d (invalid or missing signature, or a daticert that does not\n"+
			"  agree with the message): kept as received, never used to decide an outcome\n", s.SignedProblems)
	}
	if s.SignedConflicts > 0 {
		fmt.Fprintf(b, "  signed receipts contradicting a final state: %d (the state was kept; look at the receipt):\n", s.SignedConflicts)
		for _, c := range s.Conflicts {
			fmt.Fprintf(b, "  %s row %d (key %q) %s is %s, its signed receipt says %s (sha256 %s)\n",
				c.At.In(loc).Format("2006-01-02 15:04:05 MST"), c.Row, c.Key, c.Address, c.State, c.Signed, c.SHA256)
		}
		if s.SignedConflicts > len(s.Conflicts) {
			fmt.Fprintf(b, "  ... and %d more: see the journal's events (kind signed_conflict)\n", s.SignedConflicts-len(s.Conflicts))
		}
	}
}

// writeDecisions lists the operator's decisions, latest first.
func (s *StatusReport) writeDecisions(b *strings.Builder, loc *time.Location) {
	if s.DecisionCount == 0 {
		return
	}
	fmt.Fprintf(b, "\nDecisions of the operator (%d), latest first:\n", s.DecisionCount)
	for _, d := range s.Decisions {
		fmt.Fprintf(b, "  %s row %d (key %q) ", d.At.In(loc).Format("2006-01-02 15:04:05 MST"), d.Row, d.Key)
		switch d.Decision {
		case "retried":
			fmt.Fprintf(b, "retried: attempt %d; attempt %d was %s", d.Attempt, d.Attempt-1, d.From)
			if d.MessageID != "" {
				fmt.Fprintf(b, " (message id %s)", d.MessageID)
			}
			if d.Error != "" {
				fmt.Fprintf(b, ": %s", d.Error)
			}
		case "resolved sent":
			fmt.Fprintf(b, "decided sent, message id %s: tracked from it", d.MessageID)
		default:
			b.WriteString("decided not sent: sent again by the next run")
		}
		if d.Note != "" {
			fmt.Fprintf(b, " (note: %s)", d.Note)
		}
		b.WriteByte('\n')
	}
	if s.DecisionCount > len(s.Decisions) {
		fmt.Fprintf(b, "  ... and %d more: see the journal's events\n", s.DecisionCount-len(s.Decisions))
	}
}
