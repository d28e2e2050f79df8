package campaign

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
)

// Values of sending.reference.
const (
	// ReferenceSubject adds each row's reference to its subject.
	ReferenceSubject = "subject"
	// ReferenceNone, like leaving the key out, adds nothing.
	ReferenceNone = "none"
)

// referenceEncoding is Crockford's base32: no I, L, O or U to misread when
// the code is read out over the phone or typed into a mailbox search.
var referenceEncoding = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

// SubjectReference is what sending.reference: subject appends to a row's
// subject: " [rif. ABCD2345]", eight characters derived from seed (the
// journal's id: the same on every resume, another for a new journal) and
// the row's key. It makes every message of every campaign unique, so that
// its receipts can be searched for and belong to that row alone, even
// when a receipt names no recipient.
func SubjectReference(seed, key string) string {
	h := sha256.Sum256([]byte("pecbatch reference\x00" + seed + "\x00" + key))
	return " [rif. " + referenceEncoding.EncodeToString(h[:5]) + "]"
}

// subjectTracker notices rows whose subject an earlier row already has,
// keeping one small entry per row as the deduper does per key.
type subjectTracker struct {
	seen        map[[16]byte]rowRef
	repeated    int
	first, then rowRef
	subject     string
}

func newSubjectTracker() *subjectTracker { return &subjectTracker{seen: map[[16]byte]rowRef{}} }

// add records the subject of a row that will be sent.
func (t *subjectTracker) add(r *RowResult) {
	if r.Subject == "" {
		return
	}
	sum := sha256.Sum256([]byte(r.Subject))
	var k [16]byte
	copy(k[:], sum[:])
	first, dup := t.seen[k]
	if !dup {
		t.seen[k] = rowRef{int32(r.Row), int32(r.Line)}
		return
	}
	if t.repeated == 0 {
		t.first, t.then, t.subject = first, rowRef{int32(r.Row), int32(r.Line)}, r.Subject
	}
	t.repeated++
}

// warning is the recommendation of sending.reference when subjects repeat
// and the campaign does not set it.
func (t *subjectTracker) warning(c *Campaign) (Problem, bool) {
	if t.repeated == 0 || c.Sending.Reference == ReferenceSubject {
		return Problem{}, false
	}
	return Problem{File: c.fileName, Field: "message.subject", Message: fmt.Sprintf("%d row(s) have the subject of an "+
		"earlier row (rows %d and %d: %q). When the answer to a send is lost, pecbatch looks for its acceptance in the "+
		"mailbox by subject: with a shared subject it can only tell the rows apart by the recipients the acceptance "+
		"names, and an acceptance that names none (the provider's documented one) then proves nothing, so the row stays "+
		"unknown for you to check. Set sending.reference: subject to add a short code of each row to its subject "+
		"(e.g. \"%s%s\"): every message is then unique and found for sure",
		t.repeated, t.first.row, t.then.row, t.subject, t.subject, SubjectReference("example", "key"))}, true
}
