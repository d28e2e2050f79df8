package runner

import (
	"context"
	"errors"
	"fmt"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/client"
	"github.com/pecbatch/pecbatch/journal"
)

// Events of `pecbatch test-send` in the journal: a test message is never a
// campaign row, but the journal keeps the record of it.
const (
	EventTestSending = "test_sending"
	EventTestSent    = "test_sent"
	EventTestFailed  = "test_send_failed"
)

// TestSubjectPrefix starts the subject of a test message.
const TestSubjectPrefix = "[TEST] "

// TestSendResult is what a test send did.
type TestSendResult struct {
	// Row and Key identify the row whose message was sent.
	Row int
	Key string
	// To is the test address, Subject the subject sent.
	To, Subject string
	// MessageID is the send's code.
	MessageID string
}

// TestSendOptions says what TestSend sends, and where.
type TestSendOptions struct {
	// To is the address the test message goes to.
	To string
	// Row is the number of the row whose message is sent; 0 means the first.
	Row int
	// Journal is the journal file; "" means sending.journal.
	Journal string
}

// TestSend sends the message of one row, exactly as rendered for its
// recipients but to opts.To and with its subject prefixed "[TEST] ", so
// that a person sees in their own mailbox what the recipients will get. The
// send is recorded in the journal's event log (it is not a campaign row).
func TestSend(ctx context.Context, c *campaign.Campaign, d Deps, opts TestSendOptions) (*TestSendResult, error) {
	addr, err := campaign.ParseAddress(opts.To)
	if err != nil {
		return nil, fmt.Errorf("test-send: --to: %w: %w", err, campaign.ErrInvalidInput)
	}
	row := opts.Row
	if row <= 0 {
		row = 1
	}
	e, err := d.env(c)
	if err != nil {
		return nil, err
	}
	m, err := c.RenderRow(ctx, row)
	if err != nil {
		return nil, fmt.Errorf("test-send: %w", err)
	}
	res := &TestSendResult{Row: m.Row, Key: m.Key, To: addr, Subject: TestSubjectPrefix + m.Subject}
	j, err := journal.Open(ctx, journalPath(c, opts.Journal), journal.WithNow(e.clk.Now))
	if err != nil {
		return nil, fmt.Errorf("test-send: %w", err)
	}
	defer j.Close()
	meta, err := j.Meta(ctx)
	switch {
	case errors.Is(err, journal.ErrNotInitialized):
	case err != nil:
		return nil, fmt.Errorf("test-send: %w", err)
	default:
		if err := meta.CheckTarget(e.endpoint, c.Sender.Address); err != nil {
			return nil, fmt.Errorf("test-send: %w", err)
		}
	}
	req := sendRequest(c.Sender.Address, m)
	req.Recipients = []string{addr}
	req.Subject = res.Subject
	detail := map[string]any{"row": m.Row, "key": m.Key, "to": addr, "subject": res.Subject,
		"content_sha256": m.SHA256, "endpoint": e.endpoint}
	wctx := context.WithoutCancel(ctx)
	sent, err := e.cl.SendCommitted(ctx, req, func() error { return j.AddEvent(wctx, EventTestSending, detail) })
	if err != nil {
		detail["error"] = err.Error()
		if jerr := j.AddEvent(wctx, EventTestFailed, detail); jerr != nil {
			e.log.Warn("could not record the failed test send", "error", jerr)
		}
		if errors.Is(err, client.ErrAmbiguous) {
			return res, fmt.Errorf("test-send: the test message may or may not have been sent (check %s): %w", addr, err)
		}
		return res, fmt.Errorf("test-send: %w", err)
	}
	res.MessageID = sent.MessageID
	detail["message_id"] = sent.MessageID
	if err := j.AddEvent(wctx, EventTestSent, detail); err != nil {
		return res, fmt.Errorf("test-send: sent (message id %s) but not recorded: %w", sent.MessageID, err)
	}
	e.note(NoteTestSent, "Sent the message of row %d (key %q) to %s with the subject %q (message id %s).\n"+
		"Check that mailbox: it is exactly what the recipients will get, but for the subject's %q.",
		m.Row, m.Key, addr, res.Subject, sent.MessageID, TestSubjectPrefix)
	return res, nil
}
