package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Receipt is one entry of GET /send/{code}: a receipt, a notice, or the transport envelope of a send. Every
// entry of an answer is one Receipt, in the answer's order, identical ones included: a send to n PEC
// recipients gets n delivery receipts that may be identical to the byte.
type Receipt struct {
	// Sender and Recipient are as the API gives them (they may carry quotes, e.g. "Per conto di: ...");
	// SenderAddress and RecipientAddress clean them. In the documented answer Recipient is the sending
	// mailbox, not the addressee.
	Sender, Recipient string
	// Date is DateText parsed; zero when it cannot be parsed.
	Date time.Time
	// DateText is the date as the API gives it (RFC 2822), kept for deduplication.
	DateText string
	// Subject is the receipt's subject ("object"), e.g. "CONSEGNA: <subject> <code>".
	Subject string
	// Body is the receipt's text ("message"): a provider's receipt text, or the original mail.
	Body string
	// Raw is the entry exactly as the API sent it (its JSON text), for the journal to archive verbatim.
	Raw string
}

// SenderAddress is CleanAddress(r.Sender).
func (r Receipt) SenderAddress() string { return CleanAddress(r.Sender) }

// RecipientAddress is CleanAddress(r.Recipient).
func (r Receipt) RecipientAddress() string { return CleanAddress(r.Recipient) }

// InboxEntry is one message of an inbox page.
type InboxEntry struct {
	// ID identifies the message for InboxMessage and DeleteInboxMessage; the API gives a number, kept as
	// its decimal text.
	ID string
	// Sender and Recipient are as the API gives them.
	Sender, Recipient string
	// Date is DateText parsed; zero when it cannot be parsed.
	Date time.Time
	// DateText is the date as the API gives it (RFC 2822).
	DateText string
	// Subject is the message's subject ("object").
	Subject string
}

// InboxPage is one page (at most 25 entries) of the inbox.
type InboxPage struct {
	// Entries are the messages of the page.
	Entries []InboxEntry
	// Total is the number of messages matching the query; Page the page number; Pages the number of pages.
	Total, Page, Pages int
}

// InboxMessage is one message of the inbox with its body.
type InboxMessage struct {
	// Sender and Recipient are as the API gives them.
	Sender, Recipient string
	// Date is DateText parsed; zero when it cannot be parsed.
	Date time.Time
	// DateText is the date as the API gives it (RFC 2822).
	DateText string
	// Subject is the message's subject ("object").
	Subject string
	// Body is the message text, decoded from the x-www-form-urlencoded form the API gives (kept as given
	// when it is not valid form encoding).
	Body string
}

// Quota is the usage of a mailbox. The contract says megabytes, but its example (171012 of 1048576) reads as
// KiB of a 1 GiB mailbox: the numbers are passed on as the API gives them.
type Quota struct {
	// Usage is the space used; Limit the space available.
	Usage, Limit float64
}

// receiptsAnswer is the answer of GET /send/{code}; its data is decoded by receiptEntries, which copes with
// every form the contract leaves open.
type receiptsAnswer struct {
	envelope
	Data json.RawMessage `json:"data"`
}

type inboxEntryJSON struct {
	ID        flexString `json:"id"`
	Sender    flexString `json:"sender"`
	Recipient flexString `json:"recipient"`
	Date      flexString `json:"date"`
	Object    flexString `json:"object"`
}

type inboxAnswer struct {
	envelope
	Data    []inboxEntryJSON `json:"data"`
	Total   flexNumber       `json:"total"`
	Page    flexNumber       `json:"page"`
	NOfPage flexNumber       `json:"n_of_pages"`
}

type inboxMessageAnswer struct {
	envelope
	Data *struct {
		Sender    flexString `json:"sender"`
		Recipient flexString `json:"recipient"`
		Date      flexString `json:"date"`
		Object    flexString `json:"object"`
		Body      flexString `json:"body"`
	} `json:"data"`
}

type quotaAnswer struct {
	envelope
	Data *struct {
		Usage flexNumber `json:"usage"`
		Limit flexNumber `json:"limit"`
	} `json:"data"`
}

// resultEmpty is the message of the 404 that GET /send/{code} gives before any receipt exists.
const resultEmpty = "Result empty"

// Receipts returns the receipts of the send with the given code (GET /send/{code}). Before the first receipt
// exists the API answers 404 "Result empty": that is normal right after a send, and gives (nil, nil). Any
// other 404 is an *APIError matching ErrNotFound.
func (c *Client) Receipts(ctx context.Context, code string) ([]Receipt, error) {
	rs, err := c.receipts(ctx, code)
	return rs, c.scrubber.wrap(err)
}

func (c *Client) receipts(ctx context.Context, code string) ([]Receipt, error) {
	if code == "" {
		return nil, fmt.Errorf("client: receipts: %w: empty code", ErrInvalidRequest)
	}
	var ans receiptsAnswer
	_, err := c.fetch(ctx, &call{method: http.MethodGet, path: "/send/" + url.PathEscape(code), mailbox: true}, &ans)
	if err != nil {
		if apiErr, ok := errors.AsType[*APIError](err); ok && isResultEmpty(apiErr) {
			return nil, nil
		}
		return nil, fmt.Errorf("client: receipts of %s: %w", code, err)
	}
	rs, err := receiptsFrom(ans)
	if err != nil {
		return nil, fmt.Errorf("client: receipts of %s: %w", code, err)
	}
	return rs, nil
}

// isResultEmpty reports whether e is the API's "no receipt yet" answer: 404, or a 2xx with success:false,
// saying "Result empty".
func isResultEmpty(e *APIError) bool {
	return (e.StatusCode == http.StatusNotFound || e.StatusCode/100 == 2) &&
		strings.EqualFold(strings.TrimSpace(e.Message), resultEmpty)
}

// decodeReceipts decodes the 2xx answer of GET /send/{code}.
func decodeReceipts(body []byte) ([]Receipt, error) {
	var ans receiptsAnswer
	if err := decodeJSON(body, &ans); err != nil {
		return nil, err
	}
	return receiptsFrom(ans)
}

// DeleteReceipts deletes the receipts of the send with the given code from the inbox (DELETE /send/{code}).
// A 404 ("Email not found") is an *APIError matching ErrNotFound.
func (c *Client) DeleteReceipts(ctx context.Context, code string) error {
	if code == "" {
		return fmt.Errorf("client: delete receipts: %w: empty code", ErrInvalidRequest)
	}
	_, err := c.fetch(ctx, &call{method: http.MethodDelete, path: "/send/" + url.PathEscape(code), mailbox: true}, nil)
	if err != nil {
		return c.scrubber.wrap(fmt.Errorf("client: delete receipts of %s: %w", code, err))
	}
	return nil
}

// Inbox returns one page of the inbox (GET /inbox), pages of at most 25 messages counted from 1. query,
// when not empty, searches the messages (the API warns this can be slow on a full mailbox); page <= 0 asks
// for the API's default page.
func (c *Client) Inbox(ctx context.Context, query string, page int) (*InboxPage, error) {
	q := url.Values{}
	if query != "" {
		q.Set("q", query)
	}
	if page > 0 {
		q.Set("page", strconv.Itoa(page))
	}
	var ans inboxAnswer
	if _, err := c.fetch(ctx, &call{method: http.MethodGet, path: "/inbox", query: q, mailbox: true}, &ans); err != nil {
		return nil, c.scrubber.wrap(fmt.Errorf("client: inbox: %w", err))
	}
	return inboxPageFrom(ans), nil
}

// decodeInbox decodes the 2xx answer of GET /inbox.
func decodeInbox(body []byte) (*InboxPage, error) {
	var ans inboxAnswer
	if err := decodeJSON(body, &ans); err != nil {
		return nil, err
	}
	return inboxPageFrom(ans), nil
}

func inboxPageFrom(ans inboxAnswer) *InboxPage {
	p := &InboxPage{Total: ans.Total.int(), Page: ans.Page.int(), Pages: ans.NOfPage.int()}
	for _, e := range ans.Data {
		date, _ := ParseDate(string(e.Date))
		p.Entries = append(p.Entries, InboxEntry{
			ID:        string(e.ID),
			Sender:    string(e.Sender),
			Recipient: string(e.Recipient),
			Date:      date,
			DateText:  string(e.Date),
			Subject:   string(e.Object),
		})
	}
	return p
}

// InboxMessage returns one message of the inbox (GET /inbox/{id}) with its body decoded. A 404 ("Message not
// found") is an *APIError matching ErrNotFound.
func (c *Client) InboxMessage(ctx context.Context, id string) (*InboxMessage, error) {
	if id == "" {
		return nil, c.scrubber.wrap(fmt.Errorf("client: inbox message: %w: empty id", ErrInvalidRequest))
	}
	var ans inboxMessageAnswer
	if _, err := c.fetch(ctx, &call{method: http.MethodGet, path: "/inbox/" + url.PathEscape(id), mailbox: true}, &ans); err != nil {
		return nil, c.scrubber.wrap(fmt.Errorf("client: inbox message %s: %w", id, err))
	}
	if ans.Data == nil {
		return nil, fmt.Errorf("client: inbox message %s: %w: no data", id, errMalformed)
	}
	d := ans.Data
	date, _ := ParseDate(string(d.Date))
	return &InboxMessage{
		Sender:    string(d.Sender),
		Recipient: string(d.Recipient),
		Date:      date,
		DateText:  string(d.Date),
		Subject:   string(d.Object),
		Body:      formDecode(string(d.Body)),
	}, nil
}

// formDecode decodes x-www-form-urlencoded text ("+" for space, %XX escapes); text that is not valid form
// encoding is returned as given, since a body must never be lost.
func formDecode(s string) string {
	if d, err := url.QueryUnescape(s); err == nil {
		return d
	}
	return s
}

// DeleteInboxMessage deletes one message of the inbox (DELETE /inbox/{id}).
func (c *Client) DeleteInboxMessage(ctx context.Context, id string) error {
	if id == "" {
		return fmt.Errorf("client: delete inbox message: %w: empty id", ErrInvalidRequest)
	}
	_, err := c.fetch(ctx, &call{method: http.MethodDelete, path: "/inbox/" + url.PathEscape(id), mailbox: true}, nil)
	if err != nil {
		return c.scrubber.wrap(fmt.Errorf("client: delete inbox message %s: %w", id, err))
	}
	return nil
}

// Quota returns the usage of a mailbox (GET /quota/{mailbox}); an empty mailbox means "INBOX", the main one.
func (c *Client) Quota(ctx context.Context, mailbox string) (*Quota, error) {
	if mailbox == "" {
		mailbox = "INBOX"
	}
	var ans quotaAnswer
	if _, err := c.fetch(ctx, &call{method: http.MethodGet, path: "/quota/" + url.PathEscape(mailbox), mailbox: true}, &ans); err != nil {
		return nil, c.scrubber.wrap(fmt.Errorf("client: quota of %s: %w", mailbox, err))
	}
	if ans.Data == nil {
		return nil, fmt.Errorf("client: quota of %s: %w: no data", mailbox, errMalformed)
	}
	return &Quota{Usage: float64(ans.Data.Usage), Limit: float64(ans.Data.Limit)}, nil
}
