package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/journal"
)

// sameContentFixture is a campaign whose message does not name the row's
// key: two rows with the same address and name send the same PEC.
func sameContentFixture(t *testing.T, rows ...string) *fixture {
	t.Helper()
	f := newFixture(t, fastSandbox(), rows...)
	f.subject = "Sollecito per {{.nome}}"
	f.writeCampaign()
	f.write("corpo.html", "<p>Gentile {{.nome}}, le scriviamo per la sua pratica.</p>\n")
	return f
}

// TestRunDuplicateContent: a row whose message was already sent under
// another key (a key corrected after the send) is refused, naming the
// other row, file and key, and sent only with --allow-duplicate-content;
// the same holds for two new rows of one run.
func TestRunDuplicateContent(t *testing.T) {
	t.Run("already sent under another key", func(t *testing.T) {
		f := sameContentFixture(t, "P001,dest1@pec.example.it,Persona 1", "P002,dest2@pec.example.it,Persona 2")
		if res, out, err := f.run(t.Context(), testRun{NoWait: true}); err != nil || res.Sent != 2 {
			t.Fatalf("first run: %v\n%s", err, out)
		}
		// The key of row 1 corrected after its send: the old row stays in
		// the journal as sent, the corrected one is new, the message the same.
		f.writeRows("P001-A,dest1@pec.example.it,Persona 1", "P002,dest2@pec.example.it,Persona 2",
			"P003,dest3@pec.example.it,Persona 3")
		for _, o := range []testRun{{NoWait: true}, {NoWait: true, AllowChanges: true}} {
			_, out, err := f.run(t.Context(), o)
			if !errors.Is(err, campaign.ErrInvalidInput) {
				t.Fatalf("%+v: %v\n%s", o, err, out)
			}
			for _, want := range []string{`row 1 of destinatari.csv (key "P001-A") is the same message as row 1 (key "P001")`,
				"campaign.journal.db", "already sent (", "--allow-duplicate-content"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%+v: the error lacks %q: %v", o, want, err)
				}
			}
			if strings.Contains(err.Error(), "P003") {
				t.Errorf("a row with a message of its own is named: %v", err)
			}
		}
		f.checkExactlyOnce(2)
		if _, ok := f.rowsByKey()["P003"]; ok {
			t.Error("a refused run amended the journal")
		}

		res, out, err := f.run(t.Context(), testRun{NoWait: true, AllowChanges: true, AllowDuplicateContent: true})
		if err != nil || res.Sent != 2 || !f.rec.noted(NoteDuplicateContent) {
			t.Fatalf("--allow-duplicate-content: sent %d, %v\n%s", res.Sent, err, out)
		}
		if n := len(f.sb.Sends()); n != 4 {
			t.Errorf("the sandbox sent %d messages, want 4 (row 1's twice, as asked)", n)
		}
	})

	t.Run("two new rows of one run", func(t *testing.T) {
		f := sameContentFixture(t, "P001,dest1@pec.example.it,Persona 1", "P002,dest2@pec.example.it,Persona 2",
			"P009,DEST1@pec.example.it,Persona 1")
		_, out, err := f.run(t.Context(), testRun{NoWait: true})
		want := `row 3 of destinatari.csv (key "P009") is the same message as row 1 of destinatari.csv (key "P001"), also to be sent now`
		if !errors.Is(err, campaign.ErrInvalidInput) || !strings.Contains(err.Error(), want) {
			t.Fatalf("want %q, got %v\n%s", want, err, out)
		}
		if len(f.rowsByKey()) != 0 || len(f.sb.Sends()) != 0 {
			t.Fatal("a refused run wrote the journal or sent")
		}
		res, out, err := f.run(t.Context(), testRun{NoWait: true, AllowDuplicateContent: true})
		if err != nil || res.Sent != 3 {
			t.Fatalf("--allow-duplicate-content: sent %d, %v\n%s", res.Sent, err, out)
		}
	})

	t.Run("a rejected row is no duplicate", func(t *testing.T) {
		f := sameContentFixture(t, "P001,dest1@pec.example.it,Persona 1")
		if _, _, err := f.run(t.Context(), testRun{NoWait: true, Limit: 1}); err != nil {
			t.Fatal(err)
		}
		d := []journal.RowDigest{{Key: "P001", RowNumber: 1, ContentSHA256: strings.Repeat("a", 64), State: journal.StateRejected}}
		rows := []journal.NewRow{{Key: "P002", RowNumber: 2, ContentSHA256: strings.Repeat("a", 64)}}
		e, err := Deps{}.env(f.campaign())
		if err != nil {
			t.Fatal(err)
		}
		j, err := journal.Open(t.Context(), f.campaign().Sending.Journal)
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		e.j = j
		if err := e.checkDuplicateContent(rows, d, false); err != nil {
			t.Errorf("a row the API rejected (nothing sent) blocks its retry under a new key: %v", err)
		}
		d[0].State = journal.StateUnknown
		if err := e.checkDuplicateContent(rows, d, false); err == nil || !strings.Contains(err.Error(), "may have been sent (unknown)") {
			t.Errorf("a row that may have been sent: %v", err)
		}
	})
}

// TestRunTrialThenTypoFix: after a --limit 5 trial, a typo fixed in the
// body is refused without --allow-changes (naming the rows and the
// option); with it the remaining rows go out with the new content, the 5
// are not sent again, and status shows them changed after send.
func TestRunTrialThenTypoFix(t *testing.T) {
	f := newFixture(t, fastSandbox(), csvRows(8, "pec.example.it")...)
	f.write("corpo.html", "<p>Gentile {{.nome}}, le scriviamo per la prattica {{.id}}.</p>\n")
	if res, out, err := f.run(t.Context(), testRun{NoWait: true, Limit: 5}); err != nil || res.Sent != 5 {
		t.Fatalf("trial: %v\n%s", err, out)
	}
	fixed := "<p>Gentile {{.nome}}, le scriviamo per la pratica {{.id}}.</p>\n"
	f.write("corpo.html", fixed)

	_, out, err := f.run(t.Context(), testRun{NoWait: true})
	if !errors.Is(err, campaign.ErrInvalidInput) {
		t.Fatalf("typo fix without --allow-changes: %v\n%s", err, out)
	}
	for _, want := range []string{`row 1 (key "P001"): content changed after it was sent`, `row 5 (key "P005")`,
		`row 6 (key "P006"): content changed (not sent yet)`, "--allow-changes", "keep what was sent"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error lacks %q: %v", want, err)
		}
	}
	f.checkExactlyOnce(5)

	res, out, err := f.run(t.Context(), testRun{AllowChanges: true})
	if err != nil || res.Sent != 3 {
		t.Fatalf("typo fix with --allow-changes: sent %d, %v\n%s", res.Sent, err, out)
	}
	f.checkExactlyOnce(8)
	bodies := map[string]string{}
	for _, s := range f.sb.Sends() {
		bodies[s.Subject] = s.BodySHA256
	}
	for i := 1; i <= 8; i++ {
		body := fmt.Sprintf("<p>Gentile Persona %d, le scriviamo per la pratica P%03d.</p>\n", i, i)
		if i <= 5 {
			body = strings.Replace(body, "pratica", "prattica", 1)
		}
		sum := sha256.Sum256([]byte(body))
		if got := bodies[fmt.Sprintf("Sollecito P%03d", i)]; got != hex.EncodeToString(sum[:]) {
			t.Errorf("row %d was sent with body %s, want that of %q", i, got, body)
		}
	}

	st, err := Status(t.Context(), f.campaign(), "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st.ChangedAfterSendCount != 5 || len(st.ChangedAfterSend) != 5 || st.ChangedAfterSend[0].Key != "P001" ||
		st.ChangedAfterSend[0].SentSHA256 == st.ChangedAfterSend[0].CurrentSHA256 {
		t.Errorf("status: changed after send %d %+v", st.ChangedAfterSendCount, st.ChangedAfterSend)
	}
	var text strings.Builder
	if err := st.WriteText(&text, time.UTC); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "Rows changed after send (5)") || !strings.Contains(text.String(), `row 5 (key "P005", delivered) changed after send`) {
		t.Errorf("status text:\n%s", text.String())
	}

	// Running again changes nothing and needs no flag: the change is recorded.
	if res, out, err := f.run(t.Context(), testRun{NoWait: true}); err != nil || res.Sent != 0 {
		t.Fatalf("run after the accepted change: sent %d, %v\n%s", res.Sent, err, out)
	}
	// The typo put back: the rows sent render as sent again; the mark goes
	// with --allow-changes.
	f.write("corpo.html", "<p>Gentile {{.nome}}, le scriviamo per la prattica {{.id}}.</p>\n")
	if _, out, err := f.run(t.Context(), testRun{NoWait: true, AllowChanges: true}); err != nil {
		t.Fatalf("typo back: %v\n%s", err, out)
	}
	if n := len(f.rowsByKey()); n != 8 {
		t.Fatalf("%d rows", n)
	}
	for key, row := range f.rowsByKey() {
		if row.ChangedAfterSend() != (key >= "P006") {
			t.Errorf("row %s: changed after send = %v", key, row.ChangedAfterSend())
		}
	}
	f.checkExactlyOnce(8)
}

// TestRunUnknownChangedAfterSendNotResent: an unknown row whose content
// changed after its send is kept unknown by --resend-unknown (what may have
// gone out is not what the files render now), with a note, and nothing is
// sent for it.
func TestRunUnknownChangedAfterSendNotResent(t *testing.T) {
	f := newFixture(t, fastSandbox(), csvRows(2, "pec.example.it")...)
	f.window = "1m"
	f.writeCampaign()
	var on atomic.Bool
	on.Store(true)
	faultOn(t, f, "500", &on, "Sollecito P001")
	if _, out, err := f.run(t.Context(), testRun{NoWait: true}); !errors.Is(err, campaign.ErrRowsUnknown) {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	on.Store(false)
	f.write("corpo.html", "<p>Gentile {{.nome}}, le scriviamo ancora per la pratica {{.id}}.</p>\n")
	res, out, err := f.run(t.Context(), testRun{NoWait: true, AllowChanges: true, ResendUnknown: true, Clock: offsetClock(2 * time.Minute)})
	if !errors.Is(err, campaign.ErrRowsUnknown) || res.Sent != 0 || !f.rec.noted(NoteNotResent) {
		t.Fatalf("resend of a row changed after send: sent %d, %v\n%s", res.Sent, err, out)
	}
	if row := f.rowsByKey()["P001"]; row.State != journal.StateUnknown || !row.ChangedAfterSend() {
		t.Errorf("row 1: %+v", row)
	}
	f.checkExactlyOnce(1)
}
