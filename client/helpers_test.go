package client

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Recognisable secrets: tests assert they never show in an error.
const (
	testToken    = "tok-SECRET-7f3a9c"
	testUser     = "mittente@pec.example.test"
	testPassword = "pw-SECRET-51c2e8"
)

// fakeClock is a manual clock: sleeping advances it at once and is recorded.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2020, 8, 26, 10, 0, 0, 0, time.UTC)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
	f.sleeps = append(f.sleeps, d)
	return nil
}

func (f *fakeClock) Sleeps() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.sleeps...)
}

// captured is one request as the server saw it.
type captured struct {
	method, path, rawQuery string
	header                 http.Header
	body                   []byte
}

// recorder is an httptest handler wrapper that records every request and counts hits.
type recorder struct {
	mu   sync.Mutex
	reqs []captured
	hits atomic.Int64
	next http.HandlerFunc
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, captured{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone(), body})
	rec.mu.Unlock()
	rec.hits.Add(1)
	rec.next(w, r)
}

func (rec *recorder) requests() []captured {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]captured(nil), rec.reqs...)
}

// jsonAnswer writes a JSON answer with a status.
func jsonAnswer(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

const okSend = `{"success":true,"sent":1,"message":"","message_id":"2020082610003492"}`

// newTestClient starts a server running h and a client for it with the test secrets and a fake clock.
func newTestClient(t *testing.T, h http.HandlerFunc, opts ...Option) (*Client, *recorder, *fakeClock) {
	t.Helper()
	rec := &recorder{next: h}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	clock := newFakeClock()
	all := append([]Option{
		WithToken(testToken),
		WithCredentials(testUser, testPassword),
		WithClock(clock.Now, clock.Sleep),
	}, opts...)
	c, err := NewClient(srv.URL, all...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c, rec, clock
}

func sampleSend() *SendRequest {
	return &SendRequest{
		Sender:     testUser,
		Recipients: []string{"mario.rossi@pec.example.test"},
		Subject:    "Invio di prova pec massiva",
		Body:       "Salve, questa rappresenta una prova di invio, che prevede un <b>corpo in html</b>",
	}
}

// newClosedServerURL returns the URL of a server that is already closed: connections are refused.
func newClosedServerURL(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	return srv.URL
}
