package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"
)

// Attachment is a file sent with a message.
type Attachment struct {
	// Name is the file name the recipient sees.
	Name string
	// ContentType is the MIME type, e.g. "application/pdf"; empty means application/octet-stream.
	ContentType string
	// Content is the file's bytes.
	Content []byte
}

// SendRequest is one PEC message to one or more recipients.
type SendRequest struct {
	// Sender is the sending PEC address.
	Sender string
	// Recipients are the addresses the message goes to; at least one.
	Recipients []string
	// Subject is the subject line.
	Subject string
	// Body is the HTML body.
	Body string
	// Attachments are the files sent with the message.
	Attachments []Attachment
}

// SendResult is the answer to an accepted send.
type SendResult struct {
	// MessageID is the code of the send, used to fetch its receipts; an opaque string.
	MessageID string
	// Sent is the number of PEC messages the service says it sent (one per recipient), at least 1; 0 when
	// the answer does not say (the message_id alone proves the send: see docs/client.md).
	Sent int
}

// sendBody is the JSON body of POST /send.
type sendBody struct {
	Sender      string           `json:"sender"`
	Recipient   []string         `json:"recipient"`
	Subject     string           `json:"subject"`
	Body        string           `json:"body"`
	Attachments []sendAttachment `json:"attachments,omitempty"`
	Username    string           `json:"username"`
	Password    string           `json:"password"`
}

type sendAttachment struct {
	Name string `json:"name"`
	File string `json:"file"`
}

// sendAnswer is the JSON answer of POST /send.
type sendAnswer struct {
	envelope
	MessageID flexString  `json:"message_id"`
	Sent      *flexNumber `json:"sent"` // nil when absent or null

}

// Send sends one message. It waits for the send limiter first; on a 429 it waits Retry-After (1 s when
// absent or zero) and sends the same request again, up to 5 requests in all; a Retry-After over 2 minutes
// is returned at once as the *APIError, and later sends of the Client still wait up to 2 minutes. Its error tells
// whether the message may have been sent, and whether the failure is the message's or the account's: see the
// package documentation (ErrNotSent, ErrAccount and *AccountError, ErrAmbiguous, *APIError).
func (c *Client) Send(ctx context.Context, req *SendRequest) (*SendResult, error) {
	res, err := c.send(ctx, req)
	return res, c.scrubber.wrap(err)
}

func (c *Client) send(ctx context.Context, req *SendRequest) (*SendResult, error) {
	body, err := c.encodeSend(req)
	if err != nil {
		return nil, fmt.Errorf("client: send: %w", err)
	}
	cl := &call{method: http.MethodPost, path: "/send", body: body, send: true}
	for attempt := 1; ; attempt++ {
		if err := c.waitTurn(ctx); err != nil {
			if attempt > 1 {
				return nil, fmt.Errorf("client: send: %w: waiting after a 429: %w", ErrNotSent, err)
			}
			return nil, fmt.Errorf("client: send: %w: waiting for the send rate limit: %w", ErrNotSent, err)
		}
		if res, retry, err := c.sendAttempt(ctx, cl, attempt); !retry {
			return res, err
		}
	}
}

// sendAttempt makes the attempt-th request of a send and reads its answer:
// the result, or the error to return, or retry after a 429 (the Client is
// then held back for its Retry-After). Both send paths go through it.
func (c *Client) sendAttempt(ctx context.Context, cl *call, attempt int) (res *SendResult, retry bool, err error) {
	a, err := c.do(ctx, cl)
	if err != nil {
		return nil, false, fmt.Errorf("client: send: %w", err)
	}
	if a.status == http.StatusTooManyRequests {
		if err := c.throttled(a, attempt); err != nil {
			return nil, false, err
		}
		return nil, true, nil
	}
	if res, err = c.decodeSendAnswer(a); err != nil {
		return nil, false, fmt.Errorf("client: send: %w", err)
	}
	return res, false, nil
}

// throttled handles a 429 answer to the attempt-th request of a send: it holds every sender of the Client
// back for the Retry-After (1 s when absent or zero; the limit is the account's, not one goroutine's) and
// returns nil to retry, or, when the attempts are spent or the wait is too long to make silently, the
// error to return.
func (c *Client) throttled(a *answer, attempt int) error {
	e := c.apiError(a)
	if cls := classifyText(e.Message); cls == textLimit || cls == textLogin {
		// A daily or plan limit does not clear in a Retry-After: stop asking.
		return fmt.Errorf("client: send: %w", c.textFailure(a, e.Message, false))
	}
	wait := e.RetryAfter
	if wait <= 0 {
		wait = time.Second
	}
	c.holdBack(min(wait, maxRetryAfter))
	if attempt >= maxSendAttempts || wait > maxRetryAfter {
		return fmt.Errorf("client: send: %w", e)
	}
	return nil
}

// encodeSend validates req and returns the JSON body of POST /send. The mailbox credentials go in the body,
// as the contract asks for this one call.
func (c *Client) encodeSend(req *SendRequest) ([]byte, error) {
	if req == nil {
		return nil, fmt.Errorf("%w: no request", ErrInvalidRequest)
	}
	if len(req.Recipients) == 0 {
		return nil, fmt.Errorf("%w: no recipient", ErrInvalidRequest)
	}
	for i, r := range req.Recipients {
		if strings.TrimSpace(r) == "" {
			return nil, fmt.Errorf("%w: recipient %d is empty", ErrInvalidRequest, i+1)
		}
	}
	sb := sendBody{
		Sender:    req.Sender,
		Recipient: req.Recipients,
		Subject:   req.Subject,
		Body:      req.Body,
		Username:  c.username,
		Password:  c.password,
	}
	for i, att := range req.Attachments {
		if strings.TrimSpace(att.Name) == "" {
			return nil, fmt.Errorf("%w: attachment %d has no name", ErrInvalidRequest, i+1)
		}
		file, err := c.encodeFile(att)
		if err != nil {
			return nil, fmt.Errorf("%w: attachment %d: %w", ErrInvalidRequest, i+1, err)
		}
		sb.Attachments = append(sb.Attachments, sendAttachment{Name: att.Name, File: file})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // the body is HTML: keep it readable on the wire
	if err := enc.Encode(sb); err != nil {
		return nil, fmt.Errorf("%w: encoding: %w", ErrInvalidRequest, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// encodeFile returns an attachment's content as a data URI (data:<mime>;base64,...), or as raw base64 with
// WithRawBase64.
func (c *Client) encodeFile(att Attachment) (string, error) {
	content := base64.StdEncoding.EncodeToString(att.Content)
	if c.rawBase64 {
		return content, nil
	}
	mediaType := "application/octet-stream"
	if strings.TrimSpace(att.ContentType) != "" {
		t, params, err := mime.ParseMediaType(att.ContentType)
		if err != nil {
			return "", fmt.Errorf("content type: %w", err)
		}
		// A data URI's media type has no spaces: "text/plain;charset=utf-8".
		mediaType = strings.ReplaceAll(mime.FormatMediaType(t, params), "; ", ";")
		if mediaType == "" || strings.ContainsAny(mediaType, ", ") {
			return "", fmt.Errorf("content type %q cannot be put in a data URI", att.ContentType)
		}
	}
	return "data:" + mediaType + ";base64," + content, nil
}

// waitTurn waits until the Client may issue a POST /send: after any 429 hold, then for a token of the send
// limiter. A waiting caller whose context ends gives its token back.
func (c *Client) waitTurn(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := c.waitHold(ctx); err != nil {
		return err
	}
	if c.limiter != nil {
		now := c.now()
		r := c.limiter.ReserveN(now, 1)
		if !r.OK() {
			return errors.New("the send limiter refused a reservation")
		}
		if d := r.DelayFrom(now); d > 0 {
			if err := c.sleep(ctx, d); err != nil {
				r.CancelAt(c.now())
				return err
			}
		}
	}
	// Another goroutine may have met a 429 while this one waited for its token.
	return c.waitHold(ctx)
}

// waitHold waits until the hold set by a 429 has passed.
func (c *Client) waitHold(ctx context.Context) error {
	for {
		c.mu.Lock()
		d := c.holdUntil.Sub(c.now())
		c.mu.Unlock()
		if d <= 0 {
			return nil
		}
		if err := c.sleep(ctx, d); err != nil {
			return err
		}
	}
}

// holdBack keeps every sender of the Client from issuing a POST /send for d.
func (c *Client) holdBack(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if until := c.now().Add(d); until.After(c.holdUntil) {
		c.holdUntil = until
	}
}
