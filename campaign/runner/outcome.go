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
	// Named is the recipient of the row the receipt names in a place that
	// is about its addressee (client.Classification.AddresseeAmong),
	// lower-case; empty when it names none of them.
	Named string
	// Stranger says the receipt text's addressee sentence names an address
	// that is not the row's recipient it could be about (another address,
	// or one the recipient field contradicts): such a receipt is archived
	// but decides nothing.
	Stranger bool
}

// sendingMailbox is the mailbox a campaign sends from: the documented API
// puts it in the recipient field of every receipt, where it says nothing
// of the addressee.
type sendingMailbox struct {
	Address, Username string
}

// ownAnswer is one answer of GET /send/{code} as tracking reads it.
type ownAnswer struct {
	// Own are the entries that belong to the send (their subject ends in
	// " " + code), every one of them, identical ones included, ordered by
	// date.
	Own []classifiedReceipt
	// Foreign are the entries listed under the code that belong to another
	// send (or to none): they are neither applied nor archived.
	Foreign []client.Receipt
}

// classifyReceipts classifies one answer's receipts for the send code of a
// row with the given recipients, sent from mb. It keeps every entry that
// belongs to the send, identical ones included: a send to n PEC
// recipients gets n delivery receipts that may be identical to the byte,
// so multiplicity is evidence (the journal counts it per answer, and a
// later answer listing the same entries adds nothing). It orders them by
// date: the API's order is not a promise, and outcomes are decided by the
// receipts' own dates; ties are broken on the entries' content, so that
// the same entries always come in the same order.
func classifyReceipts(receipts []client.Receipt, code string, mb sendingMailbox, recipients []string) ownAnswer {
	var ans ownAnswer
	lowered := make([]string, len(recipients))
	for i, a := range recipients {
		lowered[i] = strings.ToLower(strings.TrimSpace(a))
	}
	for _, r := range receipts {
		if !client.ReceiptBelongsTo(r.Subject, code) {
			ans.Foreign = append(ans.Foreign, r)
			continue
		}
		c := classifiedReceipt{Receipt: r, Classification: client.Classify(r.Subject, r.Body)}
		if !c.WholeMessage && !c.Kind.Informational() {
			name, ok := c.AddresseeAmong(r, mb.fieldMailbox(r, lowered), lowered)
			switch {
			case ok:
				c.Named = name
			case c.Addressee != "":
				c.Stranger = true
			}
		}
		ans.Own = append(ans.Own, c)
	}
	slices.SortStableFunc(ans.Own, func(a, b classifiedReceipt) int {
		return cmp.Or(a.Date.Compare(b.Date), cmp.Compare(kindOrder(a.Kind), kindOrder(b.Kind)),
			cmp.Compare(a.Receipt.Subject, b.Receipt.Subject), cmp.Compare(a.Body, b.Body),
			cmp.Compare(a.Sender, b.Sender), cmp.Compare(a.Recipient, b.Recipient), cmp.Compare(a.DateText, b.DateText))
	})
	return ans
}

// fieldMailbox returns the mailbox to give AddresseeAmong for r: the
// recipient field names an addressee only when it is one of the row's
// recipients and not the sending mailbox (by address or by username).
// Any other field is some spelling of the mailbox, and names nobody.
func (mb sendingMailbox) fieldMailbox(r client.Receipt, recipients []string) string {
	field := r.RecipientAddress()
	if field == "" {
		return mb.Address
	}
	if field == client.CleanAddress(mb.Username) || !slices.Contains(recipients, field) {
		return field
	}
	return mb.Address
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
	// Unattributed says, for people, which receipts of a row with several
	// recipients name no addressee and could not be attributed by count
	// ("2 of 3 delivery receipts, addressees not named"); empty when none.
	Unattributed string
	// Ignored describes receipts that could not be applied (naming an
	// address that is not a recipient of the row), for the log.
	Ignored []string
}

// deriveOutcomes decides the outcome of each recipient of a row from every
// receipt of its send (classifyReceipts' Own: every entry, ordered by date)
// and from what the journal already holds. It returns the outcomes that
// change something; a final outcome never changes, and the first final
// receipt of a recipient decides it, whatever the order the receipts were
// listed in.
//
// The rules (receipts.md, and what an entry of the API proves): an
// acceptance makes every recipient accepted; a non-acceptance (or a virus
// refusal) fails the whole message. A delivery, non-delivery, virus,
// time-limit or anomaly notice decides the recipient it names (Named); on
// a row with one recipient, it is that recipient's whether it names it or
// not. On a row with several, receipts that name nobody are attributed by
// count only: n unnamed delivery receipts deliver the n recipients still
// open that may be PEC mailboxes when there are exactly n of them and no
// unnamed failure contradicts it; otherwise they stay open (Unattributed
// says why), and an unnamed failure never finalises anyone, since any of
// them may still get its delivery receipt. A time-limit notice with 5.4.1,
// or a second warning, expires its recipient; an anomaly makes it not
// certifiable. At the give-up time a recipient still without an outcome is
// not certifiable if receipts of its row could not be attributed, if it
// was accepted as a non-PEC address, or accepted with no time-limit
// warning (a PEC mailbox that never answers gets warnings, an ordinary one
// does not), and expired otherwise. Nothing but a delivery receipt ever
// makes a recipient delivered.
func deriveOutcomes(recipients []recipientStatus, receipts []classifiedReceipt, now, giveUpAt time.Time) ([]journal.Outcome, rowFacts) {
	return deriveOutcomesSigned(recipients, receipts, nil, now, giveUpAt)
}

// deriveOutcomesSigned is deriveOutcomes with what the row's usable signed
// receipts decide (signedFacts). They name their addressee, so they decide
// before any API entry; and each one about a recipient that no API entry
// of its kind names explains one API entry of that kind that names nobody,
// so that the entries left unnamed are attributed by count among the
// recipients still open (a 2-recipient row with one unnamed delivery and a
// signed delivery naming one of them: that one delivered, nothing left
// unattributed).
func deriveOutcomesSigned(recipients []recipientStatus, receipts []classifiedReceipt, signed []signedFact,
	now, giveUpAt time.Time) ([]journal.Outcome, rowFacts) {
	type work struct {
		recipientStatus
		at       time.Time
		err      string
		changed  bool
		accepted time.Time // date of the acceptance receipt, if seen
		nonPEC   bool
		pec      bool
		warnings map[string]bool // dates of distinct warnings
		// signedWarnings are the distinct signed warnings: the same
		// warning is also an API entry, so they are counted apart.
		signedWarnings map[string]bool
		// named are the kinds of the API entries naming this recipient.
		named map[client.Kind]bool
	}
	var facts rowFacts
	ws := make([]*work, len(recipients))
	byAddr := map[string]*work{}
	for i, r := range recipients {
		w := &work{recipientStatus: r, warnings: map[string]bool{}, signedWarnings: map[string]bool{}, named: map[client.Kind]bool{}}
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
	// unnamed holds, on a row with several recipients, the receipts about
	// one recipient that name none: they are attributed by count below.
	var unnamed []classifiedReceipt
	target := func(c classifiedReceipt) []*work {
		switch {
		case c.WholeMessage:
			return ws
		case c.Named != "":
			if w, ok := byAddr[c.Named]; ok {
				w.named[c.Kind] = true
				return []*work{w}
			}
		case c.Stranger:
			facts.Ignored = append(facts.Ignored, fmt.Sprintf("%s receipt of %s names %q, not a recipient of the row "+
				"(or not the one its recipient field names)", c.Kind, c.DateText, c.Addressee))
			return nil
		case len(ws) == 1:
			// A one-recipient send: a receipt that names nobody is about it.
			return ws
		}
		unnamed = append(unnamed, c)
		return nil
	}
	for _, f := range signed {
		w, ok := byAddr[f.Address]
		if !ok {
			continue
		}
		if f.Warning {
			w.signedWarnings[f.Key] = true
			set(w, journal.RecipientAccepted, f.At, "")
			if len(w.signedWarnings) >= 2 {
				set(w, journal.RecipientExpired, f.At, "second time-limit notice: not delivered in time")
			}
		}
		set(w, f.State, f.At, f.Err)
	}
	for _, c := range receipts {
		switch c.Kind {
		case client.KindAcceptance:
			// The tags of a provider's acceptance text tell PEC from
			// ordinary mailboxes; the documented acceptance is empty.
			var tags map[string]string
			if c.ReceiptText {
				tags = acceptanceTags(c.Receipt.Body)
			}
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
			if c.Date.After(facts.LastDelivery) {
				facts.LastDelivery = c.Date
			}
			for _, w := range target(c) {
				set(w, journal.RecipientDelivered, c.Date, "")
			}
		case client.KindNonDelivery, client.KindNonAcceptance, client.KindVirus:
			for _, w := range target(c) {
				set(w, journal.RecipientFailed, c.Date, failureText(c))
			}
		case client.KindTimeoutWarning:
			if c.Date.After(facts.LastWarning) {
				facts.LastWarning = c.Date
			}
			for _, w := range target(c) {
				w.warnings[c.DateText] = true
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
	if len(unnamed) > 0 {
		var open, openPEC []*work
		for _, w := range ws {
			if !w.State.Final() {
				open = append(open, w)
				if !w.nonPEC {
					openPEC = append(openPEC, w)
				}
			}
		}
		var deliveries, pecFailures, otherFailures, warnings int
		var lastDelivery time.Time
		for _, c := range unnamed {
			switch c.Kind {
			case client.KindDelivery:
				deliveries++
				lastDelivery = c.Date
			case client.KindTimeoutWarning:
				warnings++
			case client.KindAnomaly:
				otherFailures++
			default:
				pecFailures++
			}
		}
		// A signed receipt about a recipient that no API entry of its kind
		// names is one of the unnamed entries of that kind.
		for _, f := range signed {
			w, ok := byAddr[f.Address]
			if !ok {
				continue
			}
			switch {
			case f.Warning && f.State == journal.RecipientExpired:
				// The final time-limit notice (5.4.1), counted with the failures.
				if !w.named[client.KindTimeoutExpired] && pecFailures > 0 {
					pecFailures--
				}
			case f.Warning:
				if !w.named[client.KindTimeoutWarning] && warnings > 0 {
					warnings--
				}
			case f.State == journal.RecipientDelivered:
				if !w.named[client.KindDelivery] && deliveries > 0 {
					deliveries--
				}
			case f.State == journal.RecipientFailed:
				if !w.named[client.KindNonDelivery] && !w.named[client.KindVirus] && pecFailures > 0 {
					pecFailures--
				}
			}
		}
		if deliveries > 0 && deliveries == len(openPEC) && pecFailures == 0 {
			// As many delivery receipts as open PEC recipients: each has
			// one, delivered no later than the last of them.
			for _, w := range openPEC {
				set(w, journal.RecipientDelivered, lastDelivery, "")
			}
			deliveries = 0
		}
		if len(open) > 0 {
			facts.Unattributed = unattributedText(deliveries, len(openPEC), pecFailures+otherFailures, warnings)
		}
	}
	if !now.Before(giveUpAt) {
		for _, w := range ws {
			if w.State.Final() {
				continue
			}
			warned := max(w.Warnings, len(w.warnings)) > 0
			switch {
			case facts.Unattributed != "":
				set(w, journal.RecipientNotCertifiable, now, "no delivery receipt naming this recipient by the give-up time ("+
					facts.Unattributed+"): delivery cannot be certified")
			case w.nonPEC || (w.State == journal.RecipientAccepted && !warned && !w.pec):
				set(w, journal.RecipientNotCertifiable, now, "accepted, but no delivery receipt by the give-up time: "+
					"a non-PEC address, delivery cannot be certified")
			default:
				set(w, journal.RecipientExpired, now, "no outcome by the give-up time (tracking.give_up_after)")
			}
		}
	}
	var out []journal.Outcome
	facts.Final, facts.Delivered, facts.NonPECOnly = true, true, true
	open := 0
	for _, w := range ws {
		warnings := max(len(w.warnings), len(w.signedWarnings))
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

// unattributedText says which receipts of a row with several recipients
// could not be given to a recipient: deliveries of open PEC-capable
// recipients, failures and warnings that name nobody.
func unattributedText(deliveries, openPEC, failures, warnings int) string {
	var parts []string
	switch {
	case deliveries > openPEC:
		parts = append(parts, fmt.Sprintf("%d delivery receipts for %d open recipients, addressees not named", deliveries, openPEC))
	case deliveries > 0:
		parts = append(parts, fmt.Sprintf("%d of %d delivery receipts, addressees not named", deliveries, openPEC))
	}
	if failures > 0 {
		parts = append(parts, fmt.Sprintf("%d failure notice(s) naming no addressee", failures))
	}
	if warnings > 0 {
		parts = append(parts, fmt.Sprintf("%d time-limit warning(s) naming no addressee", warnings))
	}
	return strings.Join(parts, "; ")
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
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
