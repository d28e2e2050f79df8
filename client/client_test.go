package client

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestNewClientBaseURL(t *testing.T) {
	tests := []struct {
		url     string
		want    string // normalised base; "" = refused
		errWord string // a word the refusal must contain
	}{
		{ProductionURL, ProductionURL, ""},
		{ProviderSandboxURL + "/", ProviderSandboxURL, ""},
		{"HTTPS://ws.pecmassiva.com/api/v1/", "https://ws.pecmassiva.com/api/v1", ""},
		{"http://127.0.0.1:8025", "http://127.0.0.1:8025", ""},
		{"http://127.45.6.7:8025/", "http://127.45.6.7:8025", ""},
		{"http://[::1]:8025", "http://[::1]:8025", ""},
		{"http://localhost:8025", "http://localhost:8025", ""},
		{"http://LocalHost.:8025", "http://LocalHost.:8025", ""},
		{"http://[::ffff:127.0.0.1]:8025", "http://[::ffff:127.0.0.1]:8025", ""},
		{"http://ws.pecmassiva.com", "", "https"},
		{"http://10.0.0.1:8025", "", "https"},
		{"http://128.0.0.1", "", "https"},
		{"http://localhost.example.com", "", "https"},
		{"http://[::2]:80", "", "https"},
		{"ftp://ws.pecmassiva.com", "", "https"},
		{"ws.pecmassiva.com", "", "scheme"},
		{"https://", "", "host"},
		{"https://ws.pecmassiva.com/?token=x", "", "query"},
		{"https://ws.pecmassiva.com/#frag", "", "fragment"},
		{"https://user:hunter2-pass@ws.pecmassiva.com", "", "WithCredentials"},
		{"https://ws.pecmassiva.com:bad/", "", "invalid"},
		{"", "", "scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			c, err := NewClient(tt.url, WithToken(testToken), WithCredentials(testUser, testPassword))
			if tt.want != "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if c.BaseURL() != tt.want {
					t.Errorf("BaseURL = %q, want %q", c.BaseURL(), tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want refused")
			}
			if !strings.Contains(err.Error(), tt.errWord) {
				t.Errorf("err = %v, want it to mention %q", err, tt.errWord)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("err = %v shows the password of the URL", err)
			}
		})
	}
}

func TestNewClientSettings(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
		ok   bool
	}{
		{"complete", []Option{WithToken("t"), WithCredentials("u", "p")}, true},
		{"no token", []Option{WithCredentials("u", "p")}, false},
		{"no username", []Option{WithToken("t"), WithCredentials("", "p")}, false},
		{"no password", []Option{WithToken("t"), WithCredentials("u", "")}, false},
		{"token with a newline", []Option{WithToken("t\n"), WithCredentials("u", "p")}, false},
		{"token with a space", []Option{WithToken("Bearer t"), WithCredentials("u", "p")}, false},
		{"password with a newline", []Option{WithToken("t"), WithCredentials("u", "p\r\nX: y")}, false},
		{"user agent with a newline", []Option{WithToken("t"), WithCredentials("u", "p"), WithUserAgent("a\nb")}, false},
		{"NaN rate", []Option{WithToken("t"), WithCredentials("u", "p"), WithSendRate(math.NaN())}, false},
		{"infinite rate", []Option{WithToken("t"), WithCredentials("u", "p"), WithSendRate(math.Inf(1))}, true},
		{"half a clock", []Option{WithToken("t"), WithCredentials("u", "p"), WithClock(time.Now, nil)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewClient(ProductionURL, tt.opts...)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && strings.Contains(err.Error(), "p\r\n") {
				t.Errorf("err = %v shows the password", err)
			}
		})
	}
}

func TestWithHTTPClientIsCopiedAndNeverRedirects(t *testing.T) {
	var redirected bool
	hc := &http.Client{Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error {
		redirected = true
		return nil
	}}
	c, rec, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/quota/INBOX" {
			t.Errorf("redirect followed to %s", r.URL.Path)
		}
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}, WithHTTPClient(hc))
	_, err := c.Quota(context.Background(), "")
	if e, ok := errors.AsType[*APIError](err); !ok || e.StatusCode != http.StatusFound {
		t.Fatalf("err = %v, want the 302 as an *APIError", err)
	}
	if redirected || rec.hits.Load() != 1 {
		t.Errorf("redirect followed")
	}
	if hc.CheckRedirect == nil || c.hc == hc || c.hc.Timeout != time.Minute {
		t.Errorf("the caller's client was modified or not used")
	}
}

func TestAPIError(t *testing.T) {
	tests := []struct {
		err      *APIError
		is       []error
		isNot    []error
		contains []string
	}{
		{&APIError{StatusCode: 401, Message: "Authorization is not valid or empty"},
			[]error{ErrUnauthorized}, []error{ErrNotFound, ErrRateLimited},
			[]string{"401 Unauthorized", "Authorization is not valid or empty", "check the API token"}},
		{&APIError{StatusCode: 404, Message: "Email not found"},
			[]error{ErrNotFound}, []error{ErrUnauthorized, ErrRateLimited}, []string{"404 Not Found: Email not found"}},
		{&APIError{StatusCode: 429, Message: "Too many requests", RetryAfter: 3 * time.Second},
			[]error{ErrRateLimited}, []error{ErrNotFound}, []string{"429", "retry after 3s"}},
		{&APIError{StatusCode: 429},
			[]error{ErrRateLimited}, nil, []string{"slow down"}},
		{&APIError{StatusCode: 500, Message: "MySQL Error 2006"},
			nil, []error{ErrNotFound, ErrUnauthorized, ErrRateLimited}, []string{"500 Internal Server Error: MySQL Error 2006", "try again later"}},
		{&APIError{StatusCode: 599},
			nil, nil, []string{"api answered 599"}},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			for _, target := range tt.is {
				if !errors.Is(tt.err, target) {
					t.Errorf("not Is %v", target)
				}
			}
			for _, target := range tt.isNot {
				if errors.Is(tt.err, target) {
					t.Errorf("Is %v", target)
				}
			}
			for _, s := range tt.contains {
				if !strings.Contains(tt.err.Error(), s) {
					t.Errorf("%q does not contain %q", tt.err.Error(), s)
				}
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2020, 8, 26, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"1", time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"99999999999999999999", 0, false},
		{"soon", 0, false},
		{"Wed, 26 Aug 2020 10:00:30 GMT", 30 * time.Second, true},
		{"Wednesday, 26-Aug-20 10:01:00 GMT", time.Minute, true},
		{"Wed Aug 26 10:00:05 2020", 5 * time.Second, true},
		{"Wed, 26 Aug 2020 09:00:00 GMT", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := parseRetryAfter(tt.in, now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestClean(t *testing.T) {
	s := newScrubber("", "SECRET1", "SECRET2")
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"  a\n\tb\x00c  ", "a b c"},
		{"token SECRET1 and SECRET2", "token [redacted] and [redacted]"},
		{"bad \xff utf8", "bad \ufffd utf8"},
		{strings.Repeat("é", maxMessageLen+10), strings.Repeat("é", maxMessageLen) + "..."},
	}
	for _, tt := range tests {
		if got := s.clean(tt.in); got != tt.want {
			t.Errorf("clean(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
