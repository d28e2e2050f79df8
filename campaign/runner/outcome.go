package runner

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pecbatch/pecbatch/client"
	"github.com/pecbatch/pecbatch/journal"
)

// recipientStatus is what the journal knows of one recipient of a row.
type recipientStatus struct {
	Address  string
	State    journal.RecipientState
	Warnings int
}

// classifiedReceipt is a receipt of a send with what the classifier read
// from it.
type classifiedReceipt struct {
	client.Receipt
	client.Classification
}

// classifyReceipts classifies every receipt, dropping exact duplicates
// (the API may list the same receipt twice), and orders them by date: the
// API's order is not a promise, and outcomes are decided by the receipts'
// own dates.
func classifyReceipts(receipts []client.Receipt) []classifiedReceipt {
	out := make([]classifiedReceipt, 0, len(receipts))
	seen := map[[4]string]bool{}
	for _, r := range receipts {
		c := classifiedReceipt{Receipt: r, Classification: client.Classify(r.Subject, r.Body)}
		if c.Kind == client.KindAcceptance || c.wholeMessage() {
			// An acceptance names every recipient; the classifier's
			// addressee is only the first of them.
			c.Addressee = ""
		}
		k := [4]string{string(c.Kind), r.DateText, c.Addressee, r.Subject}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, c)
	}
	slices.SortStableFunc(out, func(a, b classifiedReceipt) int {
		if c := a.Date.Compare(b.Date); c != 0 {
			return c
		}
		return cmp.Compare(kindOrder(a.Kind), kindOrder(b.Kind))
	})
	return out
}

// kindOrder orders receipts of the same second as they are produced: the
// acceptance before anything about the recipients.
func kindOrder(k client.Kind) int {
	switch k {
	case client.KindAcceptance, client.KindNonAcceptance:
		return 0
	case client.KindTakenInCharge, client.KindTransport:
		return 1
	case client.KindTimeoutWarning:
		return 2
	}
	return 3
}

// wholeMessage reports whether the receipt concerns the whole message
// rather than one recipient: a non-acceptance (for a virus or not), or a
// virus notice that names nobody.
func (c classifiedReceipt) wholeMessage() bool {
	switch c.Kind {
	case client.KindNonAcceptance:
		return true
	case client.KindVirus:
		return hasPrefixFold(strings.TrimSpace(c.Receipt.Subject), "AVVISO DI NON ACCETTAZIONE") || c.Addressee == ""
	}
	return false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// rowFacts is what deriveOutcomes learned of a row besides its outcomes.
type rowFacts struct {
	// LastWarning is the date of the latest time-limit warning, zero if none.
	LastWarning time.Time
	// LastDelivery is the date of the latest delivery receipt, zero if none.
	LastDelivery time.Time
	// NonPECOnly says every recipient without an outcome is known (from the
	// acceptance) to be a non-PEC address.
	NonPECOnly bool
	// Final says every recipient has a final outcome.
	Final bool
	// Delivered says every recipient was delivered.
	Delivered bool
	// Ignored describes receipts that could not be applied (naming an
	// address that is not a recipient of the row), for the log.
	Ignored []string
}

// deriveOutcomes decides the outcome of each recipient of a row from every
// receipt of its send (classified, deduplicated and ordered by date) and
// from what the journal already holds. It returns the outcomes that change
// something; a final outcome never changes, and the first final receipt of
// a recipient decides it, whatever the order the receipts were listed in.
//
// The rules (receipts.md): an acceptance makes every recipient accepted; a
// non-acceptance (or a virus refusal) fails the whole message; a delivery,
// non-delivery or virus notice decides the recipient it names; a time-limit
// notice with 5.4.1, or a second warning, expires it; an anomaly notice
// makes it not certifiable. At the give-up time a recipient still without
// an outcome is not certifiable if it was accepted as a non-PEC address, or
// accepted with no time-limit warning (a PEC mailbox that never answers
// gets warnings, an ordinary one does not), and expired otherwise.
func deriveOutcomes(recipients []recipientStatus, receipts []classifiedReceipt, now, giveUpAt time.Time) ([]journal.Outcome, rowFacts) {
	type work struct {
		recipientStatus
		at       time.Time
		err      string
		changed  bool
		accepted time.Time // date of the acceptance receipt, if seen
		nonPEC   bool
		pec      bool
		warnings map[string]bool // dates of distinct warnings
	}
	var facts rowFacts
	ws := make([]*work, len(recipients))
	byAddr := map[string]*work{}
	for i, r := range recipients {
		w := &work{recipientStatus: r, warnings: map[string]bool{}}
		w.Address = strings.ToLower(strings.TrimSpace(r.Address))
		ws[i] = w
		byAddr[w.Address] = w
	}
	set := func(w *work, st journal.RecipientState, at time.Time, errText string) {
		if w.State.Final() || (st == journal.RecipientAccepted && w.State != journal.RecipientPending) {
			return
		}
		w.State, w.at, w.err, w.changed = st, at, errText, true
	}
	target := func(c classifiedReceipt) []*work {
		if c.wholeMessage() {
			return ws
		}
		if w, ok := byAddr[c.Addressee]; ok {
			return []*work{w}
		}
		if c.Addressee == "" && len(ws) == 1 {
			// A one-recipient send: a notice that names nobody is about it.
			return ws
		}
		if c.Addressee == "" && c.Kind == client.KindAnomaly {
			// An anomaly names the ordinary server, not always the
			// address: it concerns the recipients still open.
			return ws
		}
		facts.Ignored = append(facts.Ignored, fmt.Sprintf("%s receipt of %s names %q, not a recipient of the row",
			c.Kind, c.DateText, c.Addressee))
		return nil
	}
	for _, c := range receipts {
		switch c.Kind {
		case client.KindAcceptance:
			tags := acceptanceTags(c.Receipt.Body)
			for _, w := range ws {
				switch tags[w.Address] {
				case tagOrdinary:
					w.nonPEC = true
				case tagCertified:
					w.pec = true
				}
				if w.accepted.IsZero() || c.Date.Before(w.accepted) {
					w.accepted = c.Date
				}
				set(w, journal.RecipientAccepted, c.Date, "")
			}
		case client.KindDelivery:
			for _, w := range target(c) {
				set(w, journal.RecipientDelivered, c.Date, "")
				if c.Date.After(facts.LastDelivery) {
					facts.LastDelivery = c.Date
				}
			}
		case client.KindNonDelivery, client.KindNonAcceptance, client.KindVirus:
			for _, w := range target(c) {
				set(w, journal.RecipientFailed, c.Date, failureText(c))
			}
		case client.KindTimeoutWarning:
			for _, w := range target(c) {
				w.warnings[c.DateText] = true
				if c.Date.After(facts.LastWarning) {
					facts.LastWarning = c.Date
				}
				set(w, journal.RecipientAccepted, c.Date, "")
				if len(w.warnings) >= 2 {
					set(w, journal.RecipientExpired, c.Date, cmp.Or(c.ErrorText, "second time-limit notice: not delivered in time"))
				}
			}
		case client.KindTimeoutExpired:
			for _, w := range target(c) {
				set(w, journal.RecipientExpired, c.Date, cmp.Or(c.ErrorText, "time-limit notice: not delivered in time"))
			}
		case client.KindAnomaly:
			for _, w := range target(c) {
				set(w, journal.RecipientNotCertifiable, c.Date, cmp.Or(c.ErrorText, "anomaly notice from a non-PEC mail server"))
			}
		}
	}
	if !now.Before(giveUpAt) {
		for _, w := range ws {
			if w.State.Final() {
				continue
			}
			warned := max(w.Warnings, len(w.warnings)) > 0
			if w.nonPEC || (w.State == journal.RecipientAccepted && !warned && !w.pec) {
				set(w, journal.RecipientNotCertifiable, now, "accepted, but no delivery receipt by the give-up time: "+
					"a non-PEC address, delivery cannot be certified")
			} else {
				set(w, journal.RecipientExpired, now, "no outcome by the give-up time (tracking.give_up_after)")
			}
		}
	}
	var out []journal.Outcome
	facts.Final, facts.Delivered, facts.NonPECOnly = true, true, true
	open := 0
	for _, w := range ws {
		warnings := len(w.warnings)
		if w.changed || warnings > w.Warnings {
			out = append(out, journal.Outcome{
				Address: w.Address, State: w.State, At: w.at, Error: w.err, Warnings: warnings, AcceptedAt: w.accepted,
			})
		}
		if !w.State.Final() {
			facts.Final = false
			open++
			if !w.nonPEC {
				facts.NonPECOnly = false
			}
		}
		if w.State != journal.RecipientDelivered {
			facts.Delivered = false
		}
	}
	if open == 0 {
		facts.NonPECOnly = false
	}
	return out, facts
}

// failureText is the error of a failure receipt, or a description of its
// kind when the body gave none.
func failureText(c classifiedReceipt) string {
	if c.ErrorText != "" {
		return c.ErrorText
	}
	switch c.Kind {
	case client.KindNonAcceptance:
		return "not accepted by the sender's provider"
	case client.KindVirus:
		return "refused: virus detected"
	}
	return "not delivered"
}

// The tags an acceptance receipt puts after each recipient.
const (
	tagCertified = "posta certificata"
	tagOrdinary  = "posta ordinaria"
)

// acceptanceTags reads, from the body of an acceptance receipt, the tag
// that follows each recipient address: `a@b.it ("posta certificata")` or
// `a@b.it ("posta ordinaria")`. It maps lower-case addresses to the tag.
// Only ASCII anchors are used: the texts may reach us with U+FFFD in place
// of accented letters.
func acceptanceTags(body string) map[string]string {
	tags := map[string]string{}
	lower := asciiLowerString(body)
	for _, tag := range []string{tagCertified, tagOrdinary} {
		for from := 0; ; {
			i := strings.Index(lower[from:], tag)
			if i < 0 {
				break
			}
			i += from
			from = i + len(tag)
			// Walk back over `("` to the address before it.
			j := i
			for j > 0 && strings.IndexByte(" \t\"'(", lower[j-1]) >= 0 {
				j--
			}
			if j == i || !strings.Contains(lower[j:i], "(") {
				continue
			}
			k := j
			for k > 0 && isAddrByte(lower[k-1]) {
				k--
			}
			if addr := lower[k:j]; plausibleAddress(addr) {
				if _, dup := tags[addr]; !dup {
					tags[addr] = tag
				}
			}
		}
	}
	return tags
}

// bodyAddresses returns every e-mail address named in text, lower-case, in
// order of appearance, without duplicates.
func bodyAddresses(text string) []string {
	lower := asciiLowerString(text)
	var out []string
	for i := 0; i < len(lower); i++ {
		if lower[i] != '@' {
			continue
		}
		s, e := i, i+1
		for s > 0 && isAddrByte(lower[s-1]) {
			s--
		}
		for e < len(lower) && isAddrByte(lower[e]) {
			e++
		}
		addr := strings.TrimRight(lower[s:e], ".-")
		if plausibleAddress(addr) && !slices.Contains(out, addr) {
			out = append(out, addr)
		}
		i = e - 1
	}
	return out
}

// isAddrByte reports whether b can be part of an address as receipts print
// them (the local part's usual characters and the domain's).
func isAddrByte(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte(".-_+@", b) >= 0
}

func plausibleAddress(a string) bool {
	at := strings.IndexByte(a, '@')
	return at > 0 && at < len(a)-1 && strings.Count(a, "@") == 1 && strings.Contains(a[at:], ".")
}

func asciiLowerString(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
