package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSendEncodesTheContractRequest(t *testing.T) {
	pdf := []byte("%PDF-1.4 fake")
	tests := []struct {
		name     string
		opts     []Option
		atts     []Attachment
		wantFile []string
	}{
		{"no attachments", nil, nil, nil},
		{
			"data URI by default",
			nil,
			[]Attachment{
				{Name: "avviso.pdf", ContentType: "application/pdf", Content: pdf},
				{Name: "nota.txt", ContentType: "text/plain; charset=utf-8", Content: []byte("ciao")},
				{Name: "blob.bin", Content: []byte{0, 1, 2}},
			},
			[]string{
				"data:application/pdf;base64," + base64.StdEncoding.EncodeToString(pdf),
				"data:text/plain;charset=utf-8;base64," + base64.StdEncoding.EncodeToString([]byte("ciao")),
				"data:application/octet-stream;base64,AAEC",
			},
		},
		{
			"raw base64 option",
			[]Option{WithRawBase64()},
			[]Attachment{{Name: "avviso.pdf", ContentType: "application/pdf", Content: pdf}},
			[]string{base64.StdEncoding.EncodeToString(pdf)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rec, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				jsonAnswer(w, http.StatusCreated, okSend)
			}, append(tt.opts, WithUserAgent("pecbatch-test/1"))...)
			req := sampleSend()
			req.Attachments = tt.atts
			res, err := c.Send(context.Background(), req)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if res.MessageID != "2020082610003492" || res.Sent != 1 {
				t.Errorf("result = %+v", res)
			}
			reqs := rec.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			got := reqs[0]
			if got.method != http.MethodPost || got.path != "/send" {
				t.Errorf("request %s %s, want POST /send", got.method, got.path)
			}
			for k, want := range map[string]string{
				"Authorization": "Bearer " + testToken,
				"Content-Type":  "application/json",
				"User-Agent":    "pecbatch-test/1",
				"X-Username":    "",
				"X-Password":    "",
			} {
				if v := got.header.Get(k); v != want {
					t.Errorf("header %s = %q, want %q", k, v, want)
				}
			}
			var body map[string]any
			if err := json.Unmarshal(got.body, &body); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			want := map[string]any{
				"sender":    testUser,
				"recipient": []any{"mario.rossi@pec.example.test"},
				"subject":   req.Subject,
				"body":      req.Body,
				"username":  testUser,
				"password":  testPassword,
			}
			if tt.wantFile != nil {
				var atts []any
				for i, f := range tt.wantFile {
					atts = append(atts, map[string]any{"name": tt.atts[i].Name, "file": f})
				}
				want["attachments"] = atts
			}
			if fmt.Sprint(body) != fmt.Sprint(want) {
				t.Errorf("body =\n%v\nwant\n%v", body, want)
			}
		})
	}
}

func TestSendRefusesInvalidRequestsLocally(t *testing.T) {
	tests := []struct {
		name string
		req  *SendRequest
	}{
		{"nil", nil},
		{"no recipient", &SendRequest{Sender: testUser, Subject: "s", Body: "b"}},
		{"blank recipient", &SendRequest{Sender: testUser, Recipients: []string{"a@b.it", " "}, Subject: "s", Body: "b"}},
		{"attachment without name", &SendRequest{Sender: testUser, Recipients: []string{"a@b.it"},
			Attachments: []Attachment{{Content: []byte("x")}}}},
		{"bad content type", &SendRequest{Sender: testUser, Recipients: []string{"a@b.it"},
			Attachments: []Attachment{{Name: "a", ContentType: "text/", Content: []byte("x")}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rec, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				jsonAnswer(w, http.StatusCreated, okSend)
			})
			_, err := c.Send(context.Background(), tt.req)
			if !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("err = %v, want ErrInvalidRequest", err)
			}
			if errors.Is(err, ErrAmbiguous) || errors.Is(err, ErrNotSent) {
				t.Errorf("err = %v: a local refusal is neither ambiguous nor retryable", err)
			}
			if n := rec.hits.Load(); n != 0 {
				t.Errorf("server hit %d times, want 0", n)
			}
		})
	}
}

// outcome is how a send error must be classified.
type outcome int

const (
	wantOK outcome = iota
	wantNotSent
	wantAmbiguous
	wantRefused // an *APIError, neither ErrNotSent nor ErrAmbiguous
	wantAccount // an *AccountError proving nothing was sent (a maybe-sent one is wantAmbiguous)
)

func (o outcome) String() string {
	if o < 0 || o > wantAccount {
		return "unclassified"
	}
	return [...]string{"ok", "not sent", "ambiguous", "refused", "account"}[o]
}

func classifyOutcome(err error) outcome {
	switch {
	case err == nil:
		return wantOK
	case errors.Is(err, ErrNotSent) && errors.Is(err, ErrAmbiguous),
		errors.Is(err, ErrNotSent) && errors.Is(err, ErrAccount):
		return -1
	case errors.Is(err, ErrNotSent):
		return wantNotSent
	case errors.Is(err, ErrAmbiguous):
		return wantAmbiguous
	}
	_, isAPI := errors.AsType[*APIError](err)
	_, isAccount := errors.AsType[*AccountError](err)
	switch {
	case isAPI && isAccount:
		return -1
	case isAPI:
		return wantRefused
	case isAccount && errors.Is(err, ErrAccount):
		return wantAccount
	}
	return -1
}

// hijackAfterRequest reads the whole request, then drops the connection without an answer: the message may
// have been sent.
func hijackAfterRequest(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	conn.Close()
}

// rawAnswer writes raw bytes on the hijacked connection, then closes it.
func rawAnswer(raw string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		buf.WriteString(raw)
		buf.Flush()
		conn.Close()
	}
}

func TestSendErrorMapping(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		opts    []Option
		want    outcome
		status  int     // of the *APIError, when one is expected in the chain
		is      []error // further errors.Is targets
		check   func(*testing.T, *SendResult, error)
	}{
		{name: "201", handler: func(w http.ResponseWriter, r *http.Request) {
			jsonAnswer(w, 201, okSend)
		}, want: wantOK},
		{name: "200 with extra fields and numeric id", handler: func(w http.ResponseWriter, r *http.Request) {
			jsonAnswer(w, 200, `{"success":"true","sent":"2","message_id":2020082610003492,"extra":{"a":[1]}}`)
		}, want: wantOK, check: func(t *testing.T, res *SendResult, _ error) {
			if res.MessageID != "2020082610003492" || res.Sent != 2 {
				t.Errorf("result = %+v", res)
			}
		}},
		{name: "hijack and close after reading the request", handler: hijackAfterRequest, want: wantAmbiguous},
		{name: "slow handler past the timeout", handler: func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, opts: []Option{WithTimeout(50 * time.Millisecond)}, want: wantAmbiguous, is: []error{context.DeadlineExceeded}},
		{name: "truncated JSON", handler: func(w http.ResponseWriter, r *http.Request) {
			jsonAnswer(w, 201, `{"success":true,"sent":1,"message_id":"20200826`)
		}, want: wantAmbiguous},
		{name: "body shorter than its Content-Length", handler: rawAnswer(
			"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"success\":true,"),
			want: wantAmbiguous},
		{name: "not HTTP at all", handler: rawAnswer("SMTP 421 closing\r\n"), want: wantAmbiguous},
		{name: "HTML instead of JSON", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(201)
			io.WriteString(w, "<html>ok</html>")
		}, want: wantAmbiguous},
		{name: "JSON followed by garbage", handler: func(w http.ResponseWriter, r *http.Request) {
			jsonAnswer(w, 201, okSend+`{"message_id":"other"}`)
		}, want: wantAmbiguous},
		{name: "missing message_id", handler: func(w http.ResponseWriter, r *http.Request) {
			jsonAnswer(w, 201, `{"success":true,"sent":1,"message":""}`)
		}, want: wantAmbiguous},
		{name: "implausible message_id without spaces", handler: func(w http.ResponseWriter, r *http.Request) {
			jsonAnswer(w, 201, `{"success":true,"message_id":"`+strings.Repeat("9", 100)+`"}`)
		}, want: wantAmbiguous},
		{name: "fractional numeric message_id", handler: func(w http.ResponseWriter, r *http.Request) {
			jsonAnswer(w, 201, `{"success":true,"message_id":2.0200826e15}`)
		}, want: wantAmbiguous},
		{name: "oversized answer", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(201)
			io.WriteString(w, `{"success":true,"message_id":"1234567890123456","pad":"`)
			w.Write([]byte(strings.Repeat("x", 4<<10)))
			io.WriteString(w, `"}`)
		}, want: wantAmbiguous},
		{name: "500 MySQL Error", handler: func(w http.ResponseWriter, r *http.Request) {
			jsonAnswer(w, 500, `{"success":false,"message":"MySQL Error 2006"}`)
		}, want: wantAmbiguous, status: 500},
		{name: "503 from a proxy", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(503)
			io.WriteString(w, "<html><body>Service Unavailable</body></html>")
		}, want: wantAmbiguous, status: 503, is: []error{ErrAccount}},
		{name: "redirect is not followed", handler: func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/send" {
				panic("redirect followed to " + r.URL.Path)
			}
			http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
		}, want: wantAmbiguous, status: 307, is: []error{ErrAccount}},
		{name: "success false with 201 about the sender", handler: func(w http.ResponseWriter, r *http.Request) {
			jsonAnswer(w, 201, `{"success":false,"message":"Sender not allowed"}`)
		}, want: wantAccount, status: 201},
		{name: "SMTP error text in message_id", handler: func(w http.ResponseWriter, r *http.Request) {
			jsonAnswer(w, 201, `{"success":true,"sent":0,"message_id":"550 5.1.1 <x@y.it>: Recipient address rejected"}`)
		}, want: wantRefused, status: 201, check: func(t *testing.T, _ *SendResult, err error) {
			if !strings.Contains(err.Error(), "Recipient address rejected") {
				t.Errorf("err = %v, want the SMTP text", err)
			}
		}},
		{name: "400", handler: func(w http.ResponseWriter, r *http.Request) {
			jsonAnswer(w, 400, `{"success":false,"message":"Post parameter is not valid"}`)
		}, want: wantRefused, status: 400},
		{name: "401", handler: func(w http.ResponseWriter, r *http.Request) {
			jsonAnswer(w, 401, `{"success":false,"message":"Authorization is not valid or empty"}`)
		}, want: wantAccount, status: 401, is: []error{ErrUnauthorized, ErrAccount}},
		{name: "413 without JSON", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(413)
		}, want: wantRefused, status: 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rec, _ := newTestClient(t, tt.handler, tt.opts...)
			c.maxAnswer = 4 << 10
			res, err := c.Send(context.Background(), sampleSend())
			if got := classifyOutcome(err); got != tt.want {
				t.Fatalf("outcome %v (err = %v), want %v", got, err, tt.want)
			}
			if tt.want != wantOK && res != nil {
				t.Errorf("result %+v with an error", res)
			}
			if tt.status != 0 {
				apiErr, isAPI := errors.AsType[*APIError](err)
				accErr, isAccount := errors.AsType[*AccountError](err)
				if !(isAPI && apiErr.StatusCode == tt.status) && !(isAccount && accErr.StatusCode == tt.status) {
					t.Errorf("err = %v, want an *APIError with status %d", err, tt.status)
				}
			}
			for _, target := range tt.is {
				if !errors.Is(err, target) {
					t.Errorf("err = %v, want errors.Is %v", err, target)
				}
			}
			if n := rec.hits.Load(); n != 1 {
				t.Errorf("server hit %d times: a send is issued once (only a 429 is retried)", n)
			}
			if tt.check != nil {
				tt.check(t, res, err)
			}
		})
	}
}

func TestSendNotSent(t *testing.T) {
	t.Run("server closed before the call", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		c := mustClient(t, srv.URL)
		_, err := c.Send(context.Background(), sampleSend())
		if got := classifyOutcome(err); got != wantNotSent {
			t.Fatalf("outcome %v (err = %v), want not sent", got, err)
		}
	})
	t.Run("TLS handshake failure", func(t *testing.T) {
		var hits int
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits++ }))
		srv.Config.ErrorLog = log.New(io.Discard, "", 0)
		srv.StartTLS()
		defer srv.Close()
		// The default transport does not trust the test certificate.
		c := mustClient(t, srv.URL)
		_, err := c.Send(context.Background(), sampleSend())
		if got := classifyOutcome(err); got != wantNotSent {
			t.Fatalf("outcome %v (err = %v), want not sent", got, err)
		}
		if hits != 0 {
			t.Errorf("handler ran %d times", hits)
		}
	})
	t.Run("context already done", func(t *testing.T) {
		c, rec, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { jsonAnswer(w, 201, okSend) })
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := c.Send(ctx, sampleSend())
		if got := classifyOutcome(err); got != wantNotSent || !errors.Is(err, context.Canceled) {
			t.Fatalf("outcome %v (err = %v), want not sent, canceled", got, err)
		}
		if rec.hits.Load() != 0 {
			t.Errorf("server was hit")
		}
	})
	t.Run("context done while waiting on the limiter", func(t *testing.T) {
		rec := &recorder{next: func(w http.ResponseWriter, r *http.Request) { jsonAnswer(w, 201, okSend) }}
		srv := httptest.NewServer(rec)
		defer srv.Close()
		// The real clock: the second send would wait 1000 s for its token.
		c := mustClient(t, srv.URL, WithSendRate(0.001))
		if _, err := c.Send(context.Background(), sampleSend()); err != nil {
			t.Fatalf("first send: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		_, err := c.Send(ctx, sampleSend())
		if got := classifyOutcome(err); got != wantNotSent || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("outcome %v (err = %v), want not sent, deadline exceeded", got, err)
		}
		if n := rec.hits.Load(); n != 1 {
			t.Errorf("server hit %d times, want 1", n)
		}
	})
	t.Run("foreign transport makes transport failures ambiguous", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		hc := &http.Client{Transport: roundTripperFunc(func(r *http.Request) (*http.Response, error) {
			return http.DefaultTransport.RoundTrip(r)
		})}
		c := mustClient(t, srv.URL, WithHTTPClient(hc))
		_, err := c.Send(context.Background(), sampleSend())
		if got := classifyOutcome(err); got != wantAmbiguous {
			t.Fatalf("outcome %v (err = %v): a transport that may not report traces cannot prove anything", got, err)
		}
	})
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func mustClient(t *testing.T, base string, opts ...Option) *Client {
	t.Helper()
	c, err := NewClient(base, append([]Option{WithToken(testToken), WithCredentials(testUser, testPassword)}, opts...)...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// TestSendKeepAliveDropIsAmbiguous covers a server that answers one send, keeps the connection, and drops it
// while the next request is in flight.
func TestSendKeepAliveDropIsAmbiguous(t *testing.T) {
	var n int
	c, _, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		n++
		if n == 1 {
			jsonAnswer(w, 201, okSend)
			return
		}
		hijackAfterRequest(w, r)
	}, WithSendRate(0))
	if _, err := c.Send(context.Background(), sampleSend()); err != nil {
		t.Fatalf("first send: %v", err)
	}
	_, err := c.Send(context.Background(), sampleSend())
	if got := classifyOutcome(err); got != wantAmbiguous {
		t.Fatalf("outcome %v (err = %v), want ambiguous", got, err)
	}
}

func TestSendPacing(t *testing.T) {
	tests := []struct {
		name  string
		rate  float64
		sends int
		want  []time.Duration
	}{
		{"default one per second", 1, 3, []time.Duration{time.Second, time.Second}},
		{"two per second", 2, 3, []time.Duration{500 * time.Millisecond, 500 * time.Millisecond}},
		{"one every four seconds", 0.25, 2, []time.Duration{4 * time.Second}},
		{"no pacing", 0, 4, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rec, clock := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				jsonAnswer(w, 201, okSend)
			}, WithSendRate(tt.rate))
			for range tt.sends {
				if _, err := c.Send(context.Background(), sampleSend()); err != nil {
					t.Fatalf("Send: %v", err)
				}
			}
			if got := clock.Sleeps(); !slices.Equal(got, tt.want) {
				t.Errorf("sleeps %v, want %v", got, tt.want)
			}
			if n := rec.hits.Load(); n != int64(tt.sends) {
				t.Errorf("server hit %d times, want %d", n, tt.sends)
			}
		})
	}
}

func TestSendPacingDefaultIsOnePerSecond(t *testing.T) {
	c, _, clock := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { jsonAnswer(w, 201, okSend) })
	for range 2 {
		if _, err := c.Send(context.Background(), sampleSend()); err != nil {
			t.Fatal(err)
		}
	}
	if got := clock.Sleeps(); !slices.Equal(got, []time.Duration{time.Second}) {
		t.Errorf("sleeps %v, want [1s]", got)
	}
}

// TestSendPacingRealClock runs the real limiter at a high rate, from several goroutines sharing the Client.
func TestSendPacingRealClock(t *testing.T) {
	const rate, sends = 50.0, 6
	rec := &recorder{next: func(w http.ResponseWriter, r *http.Request) { jsonAnswer(w, 201, okSend) }}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	c := mustClient(t, srv.URL, WithSendRate(rate))
	start := time.Now()
	errs := make(chan error, sends)
	for range sends {
		go func() {
			_, err := c.Send(context.Background(), sampleSend())
			errs <- err
		}()
	}
	for range sends {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// Burst 1: the first send goes at once, each other one waits 1/rate.
	if min := time.Duration(float64(sends-1) / rate * float64(time.Second)); time.Since(start) < min-5*time.Millisecond {
		t.Errorf("%d sends took %v, want at least %v", sends, time.Since(start), min)
	}
	if n := rec.hits.Load(); n != sends {
		t.Errorf("server hit %d times, want %d", n, sends)
	}
}

func TestSendRetriesAfter429(t *testing.T) {
	clockStart := newFakeClock().Now()
	tests := []struct {
		name       string
		retryAfter []string // one per 429 answer; then 201
		always429  bool
		want       outcome
		wantHits   int64
		wantSleeps []time.Duration
		wantRA     time.Duration
	}{
		{name: "Retry-After seconds", retryAfter: []string{"7", "7"}, want: wantOK, wantHits: 3,
			wantSleeps: []time.Duration{7 * time.Second, 7 * time.Second}},
		{name: "no Retry-After waits one second", retryAfter: []string{""}, want: wantOK, wantHits: 2,
			wantSleeps: []time.Duration{time.Second}},
		{name: "Retry-After HTTP date", retryAfter: []string{clockStart.Add(3 * time.Second).Format(http.TimeFormat)},
			want: wantOK, wantHits: 2, wantSleeps: []time.Duration{3 * time.Second}},
		{name: "always 429 gives up after five requests", always429: true, want: wantRefused, wantHits: 5,
			wantSleeps: []time.Duration{2 * time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second},
			wantRA:     2 * time.Second},
		{name: "Retry-After too long is returned at once", retryAfter: []string{"3600"}, want: wantRefused,
			wantHits: 1, wantSleeps: nil, wantRA: time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n int
			c, rec, clock := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				n++
				switch {
				case tt.always429:
					w.Header().Set("Retry-After", "2")
				case n <= len(tt.retryAfter):
					if ra := tt.retryAfter[n-1]; ra != "" {
						w.Header().Set("Retry-After", ra)
					}
				default:
					jsonAnswer(w, 201, okSend)
					return
				}
				jsonAnswer(w, 429, `{"success":false,"message":"Too many requests"}`)
			})
			_, err := c.Send(context.Background(), sampleSend())
			if got := classifyOutcome(err); got != tt.want {
				t.Fatalf("outcome %v (err = %v), want %v", got, err, tt.want)
			}
			if tt.want == wantRefused {
				apiErr, _ := errors.AsType[*APIError](err)
				if !errors.Is(err, ErrRateLimited) || apiErr.RetryAfter != tt.wantRA {
					t.Errorf("err = %v (%+v), want ErrRateLimited with RetryAfter %v", err, apiErr, tt.wantRA)
				}
			}
			if got := rec.hits.Load(); got != tt.wantHits {
				t.Errorf("server hit %d times, want %d", got, tt.wantHits)
			}
			if got := clock.Sleeps(); !slices.Equal(got, tt.wantSleeps) {
				t.Errorf("sleeps %v, want %v", got, tt.wantSleeps)
			}
			// Every retry is the very same request.
			reqs := rec.requests()
			for _, r := range reqs[1:] {
				if string(r.body) != string(reqs[0].body) {
					t.Errorf("retried body differs")
				}
			}
		})
	}
}

func TestSend429HoldsBackOtherSends(t *testing.T) {
	c, _, clock := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { jsonAnswer(w, 201, okSend) },
		WithSendRate(0))
	c.holdBack(5 * time.Second) // as a 429 met by another goroutine does
	if _, err := c.Send(context.Background(), sampleSend()); err != nil {
		t.Fatal(err)
	}
	if got := clock.Sleeps(); !slices.Equal(got, []time.Duration{5 * time.Second}) {
		t.Errorf("sleeps %v, want [5s]", got)
	}
}

func TestSendContextDoneDuring429WaitIsNotSent(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var slept []time.Duration
	// The caller gives up while the client waits Retry-After.
	sleep := func(ctx context.Context, d time.Duration) error {
		slept = append(slept, d)
		cancel()
		<-ctx.Done()
		return ctx.Err()
	}
	c, rec, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		jsonAnswer(w, 429, `{"success":false,"message":"Too many requests"}`)
	}, WithSendRate(0), WithClock(newFakeClock().Now, sleep))
	_, err := c.Send(ctx, sampleSend())
	if got := classifyOutcome(err); got != wantNotSent || !errors.Is(err, context.Canceled) {
		t.Fatalf("outcome %v (err = %v), want not sent, canceled", got, err)
	}
	if n := rec.hits.Load(); n != 1 {
		t.Errorf("server hit %d times, want 1", n)
	}
	if !slices.Equal(slept, []time.Duration{30 * time.Second}) {
		t.Errorf("slept %v, want [30s]", slept)
	}
}

func TestSend429HoldsBackAfterGivingUp(t *testing.T) {
	c, _, clock := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3600")
		jsonAnswer(w, 429, `{"success":false,"message":"Too many requests"}`)
	}, WithSendRate(0))
	if _, err := c.Send(context.Background(), sampleSend()); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("err = %v, want ErrRateLimited", err)
	}
	if got := clock.Sleeps(); len(got) != 0 {
		t.Fatalf("slept %v before giving up", got)
	}
	// The next send waits what the Client honours of that Retry-After before asking again.
	c.Send(context.Background(), sampleSend())
	if got := clock.Sleeps(); len(got) == 0 || got[0] != maxRetryAfter {
		t.Errorf("sleeps %v, want a first wait of %v", got, maxRetryAfter)
	}
}
