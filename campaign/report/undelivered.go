package report

import (
	"fmt"
	"strings"
)

// Only selects the lines a report lists.
type Only string

// The line selections.
const (
	// All lists every line; it is the zero value.
	All Only = ""
	// OnlyUndelivered lists the recipients an office must contact again:
	// those whose outcome is known and is not a delivery (see Undelivered).
	OnlyUndelivered Only = "undelivered"
)

// ParseOnly returns the selection named by s ("" or "all" for every line,
// "undelivered").
func ParseOnly(s string) (Only, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "all":
		return All, nil
	case string(OnlyUndelivered):
		return OnlyUndelivered, nil
	}
	return "", fmt.Errorf("report: unknown selection %q: use undelivered", s)
}

// Undelivered reports whether a recipient in state did not get the message
// and will not without someone acting: failed, expired, not certifiable
// (an ordinary mailbox), rejected by the API, or of unknown outcome. A
// recipient still under way (pending, sending, submitted, accepted) is not:
// its outcome is yet to come.
func Undelivered(state string) bool {
	switch state {
	case "failed", "expired", "accepted_not_certifiable", "rejected", "unknown":
		return true
	}
	return false
}

// waiting reports whether a recipient in state still waits for its outcome.
func waiting(state string) bool {
	switch state {
	case "pending", "sending", "submitted", "accepted":
		return true
	}
	return false
}

// diagnosis returns the catalogue keys of why an undelivered recipient did
// not get the message and of what an office does next, from its state and
// the provider's error text (the standard SMTP-style codes PEC notices
// carry, or their Italian words).
func diagnosis(state, errText string) (reason, next string) {
	e := strings.ToLower(errText)
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(e, w) {
				return true
			}
		}
		return false
	}
	switch state {
	case "accepted_not_certifiable":
		return "reason.not_pec", "next.not_pec"
	case "expired":
		return "reason.expired", "next.expired"
	case "rejected":
		return "reason.rejected", "next.rejected"
	case "unknown":
		return "reason.unknown", "next.unknown"
	}
	switch {
	case has("virus"):
		return "reason.virus", "next.virus"
	case has("5.2.2", "piena", "mailbox full", "quota"):
		return "reason.full", "next.full"
	case has("5.1.1", "non valido", "inesistente", "user unknown", "does not exist", "no such"):
		return "reason.invalid", "next.invalid"
	case has("non accettat", "non-acceptance", "5.7.1"):
		return "reason.not_accepted", "next.check"
	}
	return "reason.failed", "next.check"
}
