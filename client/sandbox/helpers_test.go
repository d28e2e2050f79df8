package sandbox_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/client/sandbox"
)

// start is the sandbox time of every test: 10:00:34 in Rome, the contract's
// example.
var start = time.Date(2020, 8, 26, 8, 0, 34, 0, time.UTC)

const (
	testSender  = "ufficio@pec.example.it"
	testSubject = "Invio di prova pec massiva"
	testBody    = "Salve, questa è una prova di invio, che prevede un <b>corpo in html</b>"
)

// harness is one sandbox behind a real HTTP server, on a manual clock.
type harness struct {
	t     *testing.T
	sb    *sandbox.Server
	srv   *httptest.Server
	clock *sandbox.Clock
	opts  sandbox.Options
}

// newHarness starts a sandbox with the default options, no send rate limit
// and a manual clock at start; mutate adjusts the options.
func newHarness(t *testing.T, mutate func(*sandbox.Options)) *harness {
	t.Helper()
	clock := sandbox.NewClock(start)
	opts := sandbox.DefaultOptions()
	opts.Now = clock.Now
	opts.SendRate = 0
	if mutate != nil {
		mutate(&opts)
	}
	sb := sandbox.New(opts)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return &harness{t: t, sb: sb, srv: srv, clock: clock, opts: opts}
}

// advanceTo moves the clock to start+d (never backwards).
func (h *harness) advanceTo(d time.Duration) {
	h.t.Helper()
	if delta := start.Add(d).Sub(h.clock.Now()); delta > 0 {
		h.clock.Advance(delta)
	}
}

// request builds an authenticated request: bearer token always, mailbox
// headers except for POST /send (whose credentials go in the body).
func (h *harness) request(method, path string, body []byte) *http.Request {
	h.t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, r)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+h.opts.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	} else {
		req.Header.Set("x-username", h.opts.Username)
		req.Header.Set("x-password", h.opts.Password)
	}
	return req
}

// answer is a decoded HTTP answer.
type answer struct {
	status int
	header http.Header
	raw    []byte
	json   map[string]any
}

func (h *harness) do(req *http.Request) answer {
	h.t.Helper()
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	if err := json.Unmarshal(raw, &a.json); err != nil {
		h.t.Fatalf("%s %s: answer is not a JSON object: %v: %s", req.Method, req.URL.Path, err, raw)
	}
	return a
}

func (h *harness) get(path string) answer {
	h.t.Helper()
	return h.do(h.request(http.MethodGet, path, nil))
}

func (h *harness) delete(path string) answer {
	h.t.Helper()
	return h.do(h.request(http.MethodDelete, path, nil))
}

// sendBody is a valid POST /send body to recipients (a string or a list).
func (h *harness) sendBody(recipients any, subject string) map[string]any {
	return map[string]any{
		"sender":    testSender,
		"recipient": recipients,
		"subject":   subject,
		"body":      testBody,
		"username":  h.opts.Username,
		"password":  h.opts.Password,
	}
}

func (h *harness) post(body any) answer {
	h.t.Helper()
	raw, ok := body.([]byte)
	if !ok {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			h.t.Fatal(err)
		}
	}
	return h.do(h.request(http.MethodPost, "/send", raw))
}

// mustSend sends to recipients and returns the message_id.
func (h *harness) mustSend(recipients any, subject string) string {
	h.t.Helper()
	a := h.post(h.sendBody(recipients, subject))
	if a.status != http.StatusCreated {
		h.t.Fatalf("send: status %d: %s", a.status, a.raw)
	}
	code, _ := a.json["message_id"].(string)
	if code == "" {
		h.t.Fatalf("send: no message_id: %s", a.raw)
	}
	return code
}

// receipt is one entry of GET /send/{code}.
type receipt struct {
	Sender    string `json:"sender"`
	Recipient string `json:"recipient"`
	Data      string `json:"data"`
	Object    string `json:"object"`
	Message   string `json:"message"`
}

// receipts returns the receipts of code, nil on 404 "Result empty".
func (h *harness) receipts(code string) []receipt {
	h.t.Helper()
	a := h.get("/send/" + code)
	if a.status == http.StatusNotFound {
		wantError(h.t, a, http.StatusNotFound, "Result empty")
		return nil
	}
	if a.status != http.StatusOK {
		h.t.Fatalf("GET /send/%s: status %d: %s", code, a.status, a.raw)
	}
	var out struct {
		Data    []receipt `json:"data"`
		Success bool      `json:"success"`
	}
	if err := json.Unmarshal(a.raw, &out); err != nil || !out.Success || len(out.Data) == 0 {
		h.t.Fatalf("GET /send/%s: bad answer (%v): %s", code, err, a.raw)
	}
	return out.Data
}

type inboxPage struct {
	Data []struct {
		Sender    string `json:"sender"`
		Recipient string `json:"recipient"`
		Date      string `json:"date"`
		Object    string `json:"object"`
		ID        int64  `json:"id"`
	} `json:"data"`
	Success  bool   `json:"success"`
	Message  string `json:"message"`
	Total    int    `json:"total"`
	Page     int    `json:"page"`
	NOfPages int    `json:"n_of_pages"`
}

func (h *harness) inbox(query string) inboxPage {
	h.t.Helper()
	a := h.get("/inbox" + query)
	if a.status != http.StatusOK {
		h.t.Fatalf("GET /inbox%s: status %d: %s", query, a.status, a.raw)
	}
	var page inboxPage
	if err := json.Unmarshal(a.raw, &page); err != nil {
		h.t.Fatal(err)
	}
	return page
}

func (h *harness) quotaUsage() float64 {
	h.t.Helper()
	a := h.get("/quota/INBOX")
	if a.status != http.StatusOK {
		h.t.Fatalf("quota: status %d: %s", a.status, a.raw)
	}
	data := a.json["data"].(map[string]any)
	if data["limit"] != float64(1048576) {
		h.t.Fatalf("quota limit = %v, want 1048576", data["limit"])
	}
	return data["usage"].(float64)
}

// wantError checks an error answer against the contract: the status and
// exactly {"success":false,"message":msg}.
func wantError(t *testing.T, a answer, status int, msg string) {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a.raw)
	}
	want := map[string]any{"success": false, "message": msg}
	if len(a.json) != 2 || a.json["success"] != false || a.json["message"] != msg {
		t.Fatalf("answer %s, want %v", a.raw, want)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
}
