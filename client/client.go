package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/time/rate"
)

// ProductionURL is the base URL of the PEC Massiva production service.
const ProductionURL = "https://ws.pecmassiva.com"

// ProviderSandboxURL is the base URL of the provider's own test service (not pecbatch's local sandbox).
const ProviderSandboxURL = "https://test.ws.pecmassiva.com"

// DefaultTimeout is the per-request timeout used when WithTimeout is not given.
const DefaultTimeout = 2 * time.Minute

// DefaultUserAgent is the User-Agent sent when WithUserAgent is not given.
const DefaultUserAgent = "pecbatch"

// maxAnswerBody bounds a successful answer: receipts and inbox messages carry message texts, so the bound
// is generous, but a misbehaving server cannot exhaust memory.
const maxAnswerBody = 32 << 20

// maxSendAttempts bounds how many times one Send issues its request when the answers are 429.
const maxSendAttempts = 5

// maxRetryAfter is the longest Retry-After a Send waits by itself; a longer one is returned to the caller.
const maxRetryAfter = 2 * time.Minute

// Client is a PEC Massiva API client. It is safe for concurrent use; all goroutines share one send limiter.
type Client struct {
	base      string // scheme://host[/path], no trailing slash
	token     string
	username  string
	password  string
	userAgent string
	timeout   time.Duration
	rawBase64 bool
	hc        *http.Client
	traceable bool // hc's transport reports httptrace events reliably
	limiter   *rate.Limiter
	now       func() time.Time
	sleep     func(context.Context, time.Duration) error
	scrubber  scrubber
	maxAnswer int64 // bound of a 2xx answer body; maxAnswerBody, lowered by tests

	mu            sync.Mutex
	holdUntil     time.Time // no send before this instant (set by a 429)
	lastSendStart time.Time // start of the latest SendCommitted request
}

// settings collects the options before NewClient validates them.
type settings struct {
	token, username, password string
	userAgent                 string
	timeout                   time.Duration
	sendRate                  float64
	rawBase64                 bool
	hc                        *http.Client
	now                       func() time.Time
	sleep                     func(context.Context, time.Duration) error
}

// Option configures a Client.
type Option func(*settings)

// WithToken sets the API token sent as "Authorization: Bearer <token>" on every call. Required.
func WithToken(token string) Option {
	return func(s *settings) { s.token = token }
}

// WithCredentials sets the PEC mailbox username and password, sent as x-username/x-password headers (in
// the JSON body for POST /send). Required.
func WithCredentials(username, password string) Option {
	return func(s *settings) { s.username, s.password = username, password }
}

// WithHTTPClient sets the *http.Client used for every call. The Client works on a shallow copy whose
// CheckRedirect refuses redirects: a redirected send could be replayed or turned into a GET.
func WithHTTPClient(hc *http.Client) Option {
	return func(s *settings) { s.hc = hc }
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option {
	return func(s *settings) { s.userAgent = ua }
}

// WithTimeout sets the timeout of one request, from its start to the end of reading its answer; it does not
// include waiting for the send rate limiter. Zero or negative means no timeout of the Client's own.
func WithTimeout(d time.Duration) Option {
	return func(s *settings) { s.timeout = d }
}

// WithSendRate sets the most POST /send requests per second the Client issues (burst 1). Default 1, the
// service's documented limit; zero or negative disables pacing (the Client still honours 429 answers).
func WithSendRate(perSecond float64) Option {
	return func(s *settings) { s.sendRate = perSecond }
}

// WithRawBase64 sends attachment contents as plain base64 instead of a data URI.
func WithRawBase64() Option {
	return func(s *settings) { s.rawBase64 = true }
}

// WithClock replaces the time source and the sleep used for pacing and Retry-After waits (tests use a
// manual clock). sleep must return ctx's error if ctx is done before d has passed.
func WithClock(now func() time.Time, sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(s *settings) { s.now, s.sleep = now, sleep }
}

// NewClient returns a Client for the API at baseURL (ProductionURL, ProviderSandboxURL, or a local
// sandbox). Plain http:// is accepted only for loopback hosts (127.0.0.0/8, ::1, localhost).
func NewClient(baseURL string, opts ...Option) (*Client, error) {
	s := settings{
		userAgent: DefaultUserAgent,
		timeout:   DefaultTimeout,
		sendRate:  1,
		now:       time.Now,
		sleep:     sleepCtx,
	}
	for _, o := range opts {
		o(&s)
	}
	base, err := checkBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	if err := checkSettings(&s); err != nil {
		return nil, err
	}
	c := &Client{
		base:      base,
		token:     s.token,
		username:  s.username,
		password:  s.password,
		userAgent: s.userAgent,
		timeout:   s.timeout,
		rawBase64: s.rawBase64,
		now:       s.now,
		sleep:     s.sleep,
		scrubber:  newScrubber(s.username, s.token, s.password),
		maxAnswer: maxAnswerBody,
	}
	hc := &http.Client{}
	if s.hc != nil {
		copied := *s.hc
		hc = &copied
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.hc = hc
	switch t := hc.Transport.(type) {
	case nil:
		c.traceable = true
	case *http.Transport:
		// Unencrypted HTTP/2 would not show up as a TLS connection negotiating "h2" in the trace.
		c.traceable = t.Protocols == nil || !t.Protocols.UnencryptedHTTP2()
	}
	if s.sendRate > 0 && !math.IsInf(s.sendRate, 1) {
		c.limiter = rate.NewLimiter(rate.Limit(s.sendRate), 1)
	}
	return c, nil
}

func checkSettings(s *settings) error {
	switch {
	case s.token == "":
		return errors.New("client: no API token: give one with WithToken")
	case s.username == "" || s.password == "":
		return errors.New("client: no mailbox username or password: give them with WithCredentials")
	case !httpguts.ValidHeaderFieldValue(s.token) || strings.ContainsAny(s.token, " \t"):
		return errors.New("client: the API token contains spaces or control characters: check how it was copied")
	case !httpguts.ValidHeaderFieldValue(s.username) || !httpguts.ValidHeaderFieldValue(s.password):
		return errors.New("client: the mailbox username or password contains control characters")
	case !httpguts.ValidHeaderFieldValue(s.userAgent):
		return errors.New("client: the user agent contains control characters")
	case math.IsNaN(s.sendRate):
		return errors.New("client: the send rate is not a number")
	case s.now == nil || s.sleep == nil:
		return errors.New("client: WithClock needs both a time source and a sleep")
	}
	return nil
}

// checkBaseURL validates baseURL and returns it without a trailing slash. Its errors never repeat the URL,
// which might carry credentials.
func checkBaseURL(baseURL string) (string, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", fmt.Errorf("client: invalid base URL: %w", err)
	}
	switch {
	case u.User != nil:
		return "", errors.New("client: the base URL must not contain credentials: use WithToken and WithCredentials")
	case u.Host == "" || u.Opaque != "":
		return "", errors.New("client: the base URL needs a scheme and a host, e.g. " + ProductionURL)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", errors.New("client: the base URL must not have a query or a fragment")
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return "", fmt.Errorf("client: plain http is refused for %s (only loopback hosts may use it): use https", u.Hostname())
		}
	default:
		return "", fmt.Errorf("client: unsupported URL scheme %q: use https", u.Scheme)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}

// isLoopback reports whether host names the local machine: localhost, 127.0.0.0/8 or ::1.
func isLoopback(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	return addr.Unmap().IsLoopback()
}

// BaseURL returns the base URL the Client talks to, normalised (no trailing slash). It identifies the
// endpoint, e.g. in a journal.
func (c *Client) BaseURL() string { return c.base }

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// call describes one API request.
type call struct {
	method  string
	path    string // already escaped, starting with "/"
	query   url.Values
	body    []byte // JSON; nil for none
	mailbox bool   // send the mailbox credentials as x-username/x-password
	send    bool   // a POST /send: transport failures after writing are ambiguous
}

// answer is an HTTP answer, its body read (bounded).
type answer struct {
	status int
	header http.Header
	body   []byte
	// bodyErr is set when a 2xx body could not be read completely or was too large.
	bodyErr error
}

// writeTrace records, through httptrace, whether a request may have reached the server.
type writeTrace struct {
	wrote atomic.Bool // WroteRequest fired (with or without error)
	gotH2 atomic.Bool // an HTTP/2 connection was obtained
}

func (w *writeTrace) clientTrace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			if tc, ok := info.Conn.(*tls.Conn); ok && tc.ConnectionState().NegotiatedProtocol == "h2" {
				w.gotH2.Store(true)
			}
		},
		WroteRequest: func(httptrace.WroteRequestInfo) { w.wrote.Store(true) },
	}
}

// notSent reports whether the request provably never reached the server. Over HTTP/1.x the transport
// returns a failure only after its writer goroutine is done, so WroteRequest has fired by then if it ever
// will. Over HTTP/2 the writer may still be running when the round trip fails, so an obtained HTTP/2
// connection counts as "may have been written".
func (w *writeTrace) notSent(traceable bool) bool {
	if !traceable {
		return false
	}
	return !w.wrote.Load() && !w.gotH2.Load()
}

// do is the one request path of the Client: it builds the request, sends it, and reads the answer. Its
// errors are transport failures, already marked ErrNotSent, or for a send ErrAmbiguous; the status of an
// answer is left to the caller.
func (c *Client) do(ctx context.Context, cl *call) (*answer, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	var tr writeTrace
	ctx = httptrace.WithClientTrace(ctx, tr.clientTrace())

	target := c.base + cl.path
	if len(cl.query) > 0 {
		target += "?" + cl.query.Encode()
	}
	var body io.Reader
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, target, body)
	if err != nil {
		return nil, fmt.Errorf("%w: building the request: %w", ErrNotSent, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if cl.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cl.mailbox {
		req.Header.Set("x-username", c.username)
		req.Header.Set("x-password", c.password)
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		switch {
		case tr.notSent(c.traceable):
			return nil, fmt.Errorf("%w: %w", ErrNotSent, err)
		case cl.send:
			return nil, fmt.Errorf("%w: %w", ErrAmbiguous, err)
		default:
			return nil, err
		}
	}
	defer resp.Body.Close()

	ans := &answer{status: resp.StatusCode, header: resp.Header}
	limit := int64(maxErrorBody)
	ok := resp.StatusCode >= 200 && resp.StatusCode <= 299
	if ok {
		limit = c.maxAnswer
	}
	ans.body, err = io.ReadAll(io.LimitReader(resp.Body, limit+1))
	switch {
	case !ok:
		// An error answer is definite from its status alone: a partial or oversized body only loses
		// part of its message.
		if int64(len(ans.body)) > limit {
			ans.body = ans.body[:limit]
		}
	case err != nil:
		ans.bodyErr = fmt.Errorf("reading the answer: %w", err)
	case int64(len(ans.body)) > limit:
		ans.bodyErr = fmt.Errorf("the answer is larger than %d bytes", limit)
	}
	return ans, nil
}

// apiError builds the *APIError of an answer from its JSON envelope, or an excerpt of a non-JSON body.
func (c *Client) apiError(a *answer) *APIError {
	e := &APIError{StatusCode: a.status}
	if env, err := decodeEnvelope(a.body); err == nil && env.Message != "" {
		e.Message = c.scrubber.clean(string(env.Message))
	} else if err != nil {
		e.Message = c.scrubber.clean(string(a.body))
	}
	if d, ok := parseRetryAfter(a.header.Get("Retry-After"), c.now()); ok {
		e.RetryAfter = d
	}
	return e
}

// fetch runs a call that is not a send and decodes its 2xx JSON answer into out (which may be nil). A
// non-2xx answer, or a 2xx saying "success": false, is returned as the answer and an *APIError.
func (c *Client) fetch(ctx context.Context, cl *call, out any) (*answer, error) {
	a, err := c.do(ctx, cl)
	if err != nil {
		return nil, err
	}
	if a.status < 200 || a.status > 299 {
		return a, c.apiError(a)
	}
	if a.bodyErr != nil {
		return a, a.bodyErr
	}
	env, err := decodeEnvelope(a.body)
	if err != nil {
		return a, err
	}
	if env.failed() {
		return a, c.apiError(a)
	}
	if out != nil {
		if err := decodeJSON(a.body, out); err != nil {
			return a, err
		}
	}
	return a, nil
}
