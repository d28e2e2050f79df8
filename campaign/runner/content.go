package runner

import (
	"fmt"
	"strings"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/journal"
)

// contentRef names a row that holds a message, for the duplicate check.
type contentRef struct {
	row   int
	key   string
	state journal.State
	// journaled says the row was sent (or may have been) in an earlier run;
	// otherwise it is a row this run is about to send.
	journaled bool
}

// mayHaveBeenSent reports whether a row in state may have sent its message:
// every state but pending and rejected (which the API refused: nothing
// went out).
func mayHaveBeenSent(s journal.State) bool {
	return s != journal.StatePending && s != journal.StateRejected
}

// checkDuplicateContent refuses the rows this run would send (new keys and
// pending rows) whose message is the same as a row the journal already
// sent, under any key, or as an earlier row to send: the content hash
// covers the recipients, subject, body and attachments, so two rows with
// the same hash send the same PEC. A key corrected after a send is the
// usual way to get there: the old row stays in the journal as sent, the
// corrected one is new. With allow, the rows are sent, and a note names
// them.
func (e *runEnv) checkDuplicateContent(rows []journal.NewRow, digests []journal.RowDigest, allow bool) error {
	sent := make(map[string]contentRef)
	states := make(map[string]journal.State, len(digests))
	for _, d := range digests {
		states[d.Key] = d.State
		if _, dup := sent[d.ContentSHA256]; !dup && mayHaveBeenSent(d.State) {
			sent[d.ContentSHA256] = contentRef{row: d.RowNumber, key: d.Key, state: d.State, journaled: true}
		}
	}
	file := e.c.Recipients.FileName
	var lines []string
	for _, r := range rows {
		if s, ok := states[r.Key]; ok && s != journal.StatePending {
			continue // not sent by this run
		}
		first, dup := sent[r.ContentSHA256]
		if !dup {
			sent[r.ContentSHA256] = contentRef{row: r.RowNumber, key: r.Key}
			continue
		}
		other := fmt.Sprintf("row %d of %s (key %q), also to be sent now", first.row, file, first.key)
		if first.journaled {
			other = fmt.Sprintf("row %d (key %q) of the journal %s, already sent (%s)", first.row, first.key, e.j.Path(), first.state)
			if first.state == journal.StateUnknown || first.state == journal.StateSending {
				other = fmt.Sprintf("row %d (key %q) of the journal %s, which may have been sent (%s)",
					first.row, first.key, e.j.Path(), first.state)
			}
		}
		lines = append(lines, fmt.Sprintf("row %d of %s (key %q) is the same message as %s", r.RowNumber, file, r.Key, other))
	}
	if len(lines) == 0 {
		return nil
	}
	if allow {
		e.note(NoteDuplicateContent, "Sending %d message(s) again (--allow-duplicate-content):\n  %s",
			len(lines), strings.Join(limitLines(lines, 20), "\n  "))
		return nil
	}
	return fmt.Errorf("run: %d row(s) would send a message already sent, or the same message twice (same recipients, "+
		"subject, body and attachments):\n  %s\nnothing was sent: remove or correct those rows (a key corrected after a "+
		"send leaves the sent row in the journal: its message went out); if the same PEC must really go out again, run "+
		"again with --allow-duplicate-content: %w", len(lines), strings.Join(limitLines(lines, 20), "\n  "), campaign.ErrInvalidInput)
}
