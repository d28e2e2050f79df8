package journal

import "fmt"

// State is the state of a journal row. Its values are stored as-is in the
// journal file and must never be renamed.
type State string

// The row states. See the package documentation for the diagram.
const (
	// StatePending: not sent yet (or put back by ResendUnknown).
	StatePending State = "pending"
	// StateSending: committed just before the request; a row still in this
	// state after a crash may or may not have been sent.
	StateSending State = "sending"
	// StateSubmitted: the API accepted the request and gave a message id.
	StateSubmitted State = "submitted"
	// StateRejected: the API refused the request for good (final).
	StateRejected State = "rejected"
	// StateUnknown: the request may or may not have been acted on.
	StateUnknown State = "unknown"
	// StateAccepted: the sender's provider accepted the message.
	StateAccepted State = "accepted"
	// StateDelivered: every recipient has a delivery receipt (final).
	StateDelivered State = "delivered"
	// StateFailed: at least one recipient failed (final).
	StateFailed State = "failed"
	// StateExpired: at least one recipient expired and none failed (final).
	StateExpired State = "expired"
	// StateAcceptedNotCertifiable: accepted, but delivery to at least one
	// (non-PEC) recipient cannot be certified; none failed or expired (final).
	StateAcceptedNotCertifiable State = "accepted_not_certifiable"
)

// States lists every row state in the order a status display shows them.
func States() []State {
	return []State{
		StatePending, StateSending, StateSubmitted, StateUnknown, StateRejected,
		StateAccepted, StateDelivered, StateFailed, StateExpired, StateAcceptedNotCertifiable,
	}
}

// Final reports whether s is final: a row in a final state never changes state again.
func (s State) Final() bool {
	switch s {
	case StateRejected, StateDelivered, StateFailed, StateExpired, StateAcceptedNotCertifiable:
		return true
	}
	return false
}

// Tracked reports whether a row in state s has a message id, so that its
// receipts can be polled and applied.
func (s State) Tracked() bool {
	switch s {
	case StateSubmitted, StateAccepted, StateDelivered, StateFailed, StateExpired, StateAcceptedNotCertifiable:
		return true
	}
	return false
}

// Valid reports whether s is one of the row states.
func (s State) Valid() bool {
	for _, v := range States() {
		if s == v {
			return true
		}
	}
	return false
}

// RecipientState is the outcome of one recipient of a row.
type RecipientState string

// The recipient states, in the order they can advance. A final recipient
// state never changes again.
const (
	// RecipientPending: nothing known yet.
	RecipientPending RecipientState = "pending"
	// RecipientAccepted: the acceptance receipt names this recipient.
	RecipientAccepted RecipientState = "accepted"
	// RecipientDelivered: a delivery receipt names this recipient (final).
	RecipientDelivered RecipientState = "delivered"
	// RecipientFailed: non-acceptance, non-delivery or virus (final).
	RecipientFailed RecipientState = "failed"
	// RecipientExpired: the time-limit notice, or the give-up time passed (final).
	RecipientExpired RecipientState = "expired"
	// RecipientNotCertifiable: a non-PEC address, delivery cannot be certified (final).
	RecipientNotCertifiable RecipientState = "not_certifiable"
)

// RecipientStates lists every recipient state.
func RecipientStates() []RecipientState {
	return []RecipientState{
		RecipientPending, RecipientAccepted, RecipientDelivered,
		RecipientFailed, RecipientExpired, RecipientNotCertifiable,
	}
}

// Final reports whether s is final.
func (s RecipientState) Final() bool {
	switch s {
	case RecipientDelivered, RecipientFailed, RecipientExpired, RecipientNotCertifiable:
		return true
	}
	return false
}

// Valid reports whether s is one of the recipient states.
func (s RecipientState) Valid() bool {
	for _, v := range RecipientStates() {
		if s == v {
			return true
		}
	}
	return false
}

// rank orders recipient states so that an update never moves one backwards.
func (s RecipientState) rank() int {
	switch s {
	case RecipientPending:
		return 0
	case RecipientAccepted:
		return 1
	}
	return 2
}

// rowStateFor derives a tracked row's state from its recipients' states:
// the row is final only when every recipient is, and then failed wins over
// expired, expired over not-certifiable, and delivered needs every recipient
// delivered.
func rowStateFor(recipients []RecipientState) State {
	var accepted, failed, expired, notCert, delivered int
	for _, r := range recipients {
		switch r {
		case RecipientAccepted:
			accepted++
		case RecipientDelivered:
			delivered++
		case RecipientFailed:
			failed++
		case RecipientExpired:
			expired++
		case RecipientNotCertifiable:
			notCert++
		}
	}
	progressed := accepted + delivered + failed + expired + notCert
	if len(recipients) == 0 || delivered+failed+expired+notCert < len(recipients) {
		if progressed > 0 {
			return StateAccepted
		}
		return StateSubmitted
	}
	switch {
	case failed > 0:
		return StateFailed
	case expired > 0:
		return StateExpired
	case notCert > 0:
		return StateAcceptedNotCertifiable
	}
	return StateDelivered
}

// sqlList renders states as a SQL list literal for the fixed sets used in
// queries and triggers; the values are constants, never user input.
func sqlList[S ~string](states ...S) string {
	out := "("
	for i, s := range states {
		if i > 0 {
			out += ","
		}
		out += fmt.Sprintf("'%s'", string(s))
	}
	return out + ")"
}

func finalStates() []State {
	return []State{StateRejected, StateDelivered, StateFailed, StateExpired, StateAcceptedNotCertifiable}
}
