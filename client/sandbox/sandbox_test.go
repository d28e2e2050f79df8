package sandbox_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/client/sandbox"
)

func TestSendValidation(t *testing.T) {
	pdf := []byte("%PDF-1.4 sandbox attachment")
	dataURI := "data:application/pdf;base64," + base64.StdEncoding.EncodeToString(pdf)
	rawB64 := base64.StdEncoding.EncodeToString(pdf)
	with := func(h *harness, key string, value any) map[string]any {
		b := h.sendBody([]string{"a@pec.example.it"}, testSubject)
		if value == nil {
			delete(b, key)
		} else {
			b[key] = value
		}
		return b
	}
	invalid := []struct {
		name string
		body func(h *harness) any
	}{
		{"not JSON", func(h *harness) any { return []byte(`{"sender":`) }},
		{"a JSON array", func(h *harness) any { return []byte(`[]`) }},
		{"two JSON objects", func(h *harness) any {
			b, _ := json.Marshal(h.sendBody("a@pec.example.it", "x"))
			return append(b, b...)
		}},
		{"sender missing", func(h *harness) any { return with(h, "sender", nil) }},
		{"sender malformed", func(h *harness) any { return with(h, "sender", "ufficio.pec.example.it") }},
		{"sender with a display name", func(h *harness) any { return with(h, "sender", "Ufficio <ufficio@pec.example.it>") }},
		{"sender not a string", func(h *harness) any { return with(h, "sender", 7) }},
		{"recipient missing", func(h *harness) any { return with(h, "recipient", nil) }},
		{"recipient list empty", func(h *harness) any { return with(h, "recipient", []string{}) }},
		{"recipient empty string", func(h *harness) any { return with(h, "recipient", "") }},
		{"recipient without a dot in the domain", func(h *harness) any { return with(h, "recipient", "mario@localhost") }},
		{"recipient without a local part", func(h *harness) any { return with(h, "recipient", "@pec.example.it") }},
		{"recipient with a space", func(h *harness) any { return with(h, "recipient", "mario rossi@pec.example.it") }},
		{"recipients joined by a comma", func(h *harness) any { return with(h, "recipient", "a@pec.example.it,b@pec.example.it") }},
		{"one bad recipient among good ones", func(h *harness) any {
			return with(h, "recipient", []string{"a@pec.example.it", "b@pec"})
		}},
		{"recipient a number", func(h *harness) any { return with(h, "recipient", 3) }},
		{"recipient list with a null", func(h *harness) any { return with(h, "recipient", []any{"a@pec.example.it", nil}) }},
		{"subject missing", func(h *harness) any { return with(h, "subject", nil) }},
		{"subject blank", func(h *harness) any { return with(h, "subject", "   ") }},
		{"subject with a line break", func(h *harness) any { return with(h, "subject", "Oggetto\r\nBcc: x@y.it") }},
		{"body missing", func(h *harness) any { return with(h, "body", nil) }},
		{"body empty", func(h *harness) any { return with(h, "body", "") }},
		{"attachment file not base64", func(h *harness) any {
			return with(h, "attachments", []map[string]string{{"name": "a.pdf", "file": "not base64!"}})
		}},
		{"attachment data URI not base64", func(h *harness) any {
			return with(h, "attachments", []map[string]string{{"name": "a.txt", "file": "data:text/plain,hello"}})
		}},
		{"attachment data URI with bad base64", func(h *harness) any {
			return with(h, "attachments", map[string]string{"name": "a.pdf", "file": "data:application/pdf;base64,iVBOR......"})
		}},
		{"attachment without a name", func(h *harness) any {
			return with(h, "attachments", []map[string]string{{"file": rawB64}})
		}},
		{"attachment without a file", func(h *harness) any {
			return with(h, "attachments", []map[string]string{{"name": "a.pdf"}})
		}},
		{"attachments a string", func(h *harness) any { return with(h, "attachments", rawB64) }},
	}
	for _, tc := range invalid {
		t.Run("400/"+tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			wantError(t, h.post(tc.body(h)), http.StatusBadRequest, "Post parameter is not valid")
			if n := len(h.sb.Sends()); n != 0 {
				t.Fatalf("%d messages sent by an invalid request", n)
			}
		})
	}

	valid := []struct {
		name       string
		recipient  any
		attachment any
		wantSent   int
		wantFiles  []sandbox.SentAttachment
	}{
		{"recipient as a string", "a@pec.example.it", nil, 1, []sandbox.SentAttachment{}},
		{"recipients as an array", []string{"a@pec.example.it", "b@pec.example.it", "c@ordinary.sandbox.test"}, nil, 3, []sandbox.SentAttachment{}},
		{"attachments null", "a@pec.example.it", json.RawMessage(`null`), 1, []sandbox.SentAttachment{}},
		{"attachments an empty array", "a@pec.example.it", []any{}, 1, []sandbox.SentAttachment{}},
		{"one attachment object, data URI", "a@pec.example.it", map[string]string{"name": "atto.pdf", "file": dataURI}, 1,
			[]sandbox.SentAttachment{{Name: "atto.pdf", Size: len(pdf)}}},
		{"an array of attachments, data URI and raw base64", "a@pec.example.it",
			[]map[string]string{{"name": "atto.pdf", "file": dataURI}, {"name": "copia.pdf", "file": rawB64}}, 1,
			[]sandbox.SentAttachment{{Name: "atto.pdf", Size: len(pdf)}, {Name: "copia.pdf", Size: len(pdf)}}},
	}
	for _, tc := range valid {
		t.Run("201/"+tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			body := h.sendBody(tc.recipient, testSubject)
			if tc.attachment != nil {
				body["attachments"] = tc.attachment
			}
			a := h.post(body)
			if a.status != http.StatusCreated {
				t.Fatalf("status %d: %s", a.status, a.raw)
			}
			if len(a.json) != 4 || a.json["success"] != true || a.json["sent"] != float64(tc.wantSent) || a.json["message"] != "" {
				t.Fatalf("answer %s", a.raw)
			}
			sends := h.sb.Sends()
			if len(sends) != 1 || sends[0].Code != a.json["message_id"] {
				t.Fatalf("sends %+v, answer %s", sends, a.raw)
			}
			if !slices.Equal(sends[0].Attachments, tc.wantFiles) {
				t.Fatalf("attachments %+v, want %+v", sends[0].Attachments, tc.wantFiles)
			}
		})
	}
}

func TestAuthorization(t *testing.T) {
	type mod func(h *harness, r *http.Request)
	header := func(key, value string) mod {
		return func(_ *harness, r *http.Request) { r.Header.Set(key, value) }
	}
	without := func(key string) mod {
		return func(_ *harness, r *http.Request) { r.Header.Del(key) }
	}
	wrongs := []struct {
		name string
		mod  mod
	}{
		{"no Authorization", without("Authorization")},
		{"wrong token", header("Authorization", "Bearer not-the-token")},
		{"empty bearer", header("Authorization", "Bearer ")},
		{"token without the Bearer scheme", header("Authorization", "sandbox-token")},
		{"Basic scheme", header("Authorization", "Basic c2FuZGJveDpzYW5kYm94")},
	}
	mailboxWrongs := append(slices.Clone(wrongs), []struct {
		name string
		mod  mod
	}{
		{"no x-username", without("x-username")},
		{"no x-password", without("x-password")},
		{"wrong x-username", header("x-username", "altro@pec.sandbox.test")},
		{"wrong x-password", header("x-password", "sandbox!")},
	}...)
	operations := []struct{ method, path string }{
		{http.MethodGet, "/send/2020082610003401"},
		{http.MethodDelete, "/send/2020082610003401"},
		{http.MethodGet, "/inbox"},
		{http.MethodGet, "/inbox/1"},
		{http.MethodDelete, "/inbox/1"},
		{http.MethodGet, "/quota/INBOX"},
	}
	for _, op := range operations {
		for _, w := range mailboxWrongs {
			t.Run(op.method+" "+op.path+"/"+w.name, func(t *testing.T) {
				h := newHarness(t, nil)
				h.mustSend("a@pec.example.it", testSubject)
				h.advanceTo(time.Minute)
				req := h.request(op.method, op.path, nil)
				w.mod(h, req)
				wantError(t, h.do(req), http.StatusUnauthorized, "Authorization is not valid or empty")
				if got := h.receipts(h.sb.Sends()[0].Code); len(got) != 2 {
					t.Fatalf("a refused call changed the mailbox: %d receipts", len(got))
				}
			})
		}
	}

	sendWrongs := append(slices.Clone(wrongs), []struct {
		name string
		mod  mod
	}{
		{"username missing from the body", nil},
		{"wrong username", nil},
		{"wrong password", nil},
	}...)
	for _, w := range sendWrongs {
		t.Run("POST /send/"+w.name, func(t *testing.T) {
			h := newHarness(t, nil)
			body := h.sendBody("a@pec.example.it", testSubject)
			switch w.name {
			case "username missing from the body":
				delete(body, "username")
			case "wrong username":
				body["username"] = "altro@pec.sandbox.test"
			case "wrong password":
				body["password"] = "x"
			}
			raw, _ := json.Marshal(body)
			req := h.request(http.MethodPost, "/send", raw)
			if w.mod != nil {
				w.mod(h, req)
			}
			wantError(t, h.do(req), http.StatusUnauthorized, "Authorization is not valid or empty")
			if n := len(h.sb.Sends()); n != 0 {
				t.Fatalf("%d messages sent without authorization", n)
			}
		})
	}

	t.Run("x-username headers do not replace the body's credentials", func(t *testing.T) {
		h := newHarness(t, nil)
		body := h.sendBody("a@pec.example.it", testSubject)
		delete(body, "username")
		delete(body, "password")
		raw, _ := json.Marshal(body)
		req := h.request(http.MethodPost, "/send", raw)
		req.Header.Set("x-username", h.opts.Username)
		req.Header.Set("x-password", h.opts.Password)
		wantError(t, h.do(req), http.StatusUnauthorized, "Authorization is not valid or empty")
	})

	t.Run("SetToken rotates the token", func(t *testing.T) {
		h := newHarness(t, nil)
		h.mustSend("a@pec.example.it", testSubject)
		h.sb.SetToken("rotated")
		wantError(t, h.get("/inbox"), http.StatusUnauthorized, "Authorization is not valid or empty")
		wantError(t, h.post(h.sendBody("a@pec.example.it", testSubject)), http.StatusUnauthorized, "Authorization is not valid or empty")
		h.opts.Token = "rotated"
		if a := h.get("/inbox"); a.status != http.StatusOK {
			t.Fatalf("new token refused: %d %s", a.status, a.raw)
		}
		h.mustSend("a@pec.example.it", testSubject)
	})

	t.Run("GET /_sandbox/sends needs the token only", func(t *testing.T) {
		h := newHarness(t, nil)
		req := h.request(http.MethodGet, "/_sandbox/sends", nil)
		req.Header.Del("x-username")
		req.Header.Del("x-password")
		if a := h.do(req); a.status != http.StatusOK {
			t.Fatalf("status %d: %s", a.status, a.raw)
		}
		req.Header.Set("Authorization", "Bearer wrong")
		wantError(t, h.do(req), http.StatusUnauthorized, "Authorization is not valid or empty")
	})
}

func TestNotFound(t *testing.T) {
	h := newHarness(t, nil)
	code := h.mustSend("a@pec.example.it", testSubject)

	t.Run("GET /send/{code} before the first receipt", func(t *testing.T) {
		wantError(t, h.get("/send/"+code), http.StatusNotFound, "Result empty")
	})
	t.Run("DELETE /send/{code} before the first receipt", func(t *testing.T) {
		wantError(t, h.delete("/send/"+code), http.StatusNotFound, "Email not found")
	})
	h.advanceTo(time.Minute)
	for _, tc := range []struct {
		name, method, path string
		status             int
		message            string
	}{
		{"GET /send/{code} of an unknown code", http.MethodGet, "/send/2099010100000001", 404, "Result empty"},
		{"DELETE /send/{code} of an unknown code", http.MethodDelete, "/send/2099010100000001", 404, "Email not found"},
		{"GET /inbox/{id} of an unknown id", http.MethodGet, "/inbox/999", 404, "Message not found"},
		{"GET /inbox/{id} of a non-numeric id", http.MethodGet, "/inbox/abc", 404, "Message not found"},
		{"DELETE /inbox/{id} of an unknown id: 200, success false", http.MethodDelete, "/inbox/999", 200, "Message not found"},
		{"an unknown path", http.MethodGet, "/nothing/here", 404, "Not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, h.do(h.request(tc.method, tc.path, nil)), tc.status, tc.message)
		})
	}
	if got := h.receipts(code); len(got) != 2 {
		t.Fatalf("%d receipts, want 2", len(got))
	}
}

func TestSendRate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rate  float64
		tries []struct {
			at         time.Duration
			retryAfter string // "" means accepted
		}
	}{
		{name: "1 per second", rate: 1, tries: []struct {
			at         time.Duration
			retryAfter string
		}{{0, ""}, {0, "1"}, {400 * time.Millisecond, "1"}, {999 * time.Millisecond, "1"}, {time.Second, ""}, {1500 * time.Millisecond, "1"}, {2 * time.Second, ""}}},
		{name: "one every 4 seconds", rate: 0.25, tries: []struct {
			at         time.Duration
			retryAfter string
		}{{0, ""}, {time.Second, "3"}, {1100 * time.Millisecond, "3"}, {3500 * time.Millisecond, "1"}, {4 * time.Second, ""}, {4 * time.Second, "4"}}},
		{name: "unlimited", rate: 0, tries: []struct {
			at         time.Duration
			retryAfter string
		}{{0, ""}, {0, ""}, {0, ""}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(o *sandbox.Options) { o.SendRate = tc.rate })
			accepted := 0
			for i, try := range tc.tries {
				h.advanceTo(try.at)
				a := h.post(h.sendBody("a@pec.example.it", testSubject))
				if try.retryAfter == "" {
					if a.status != http.StatusCreated {
						t.Fatalf("try %d at +%v: status %d, want 201: %s", i, try.at, a.status, a.raw)
					}
					accepted++
					continue
				}
				wantError(t, a, http.StatusTooManyRequests, "Too many requests")
				if got := a.header.Get("Retry-After"); got != try.retryAfter {
					t.Fatalf("try %d at +%v: Retry-After %q, want %q", i, try.at, got, try.retryAfter)
				}
			}
			if n := len(h.sb.Sends()); n != accepted {
				t.Fatalf("%d sent, %d accepted", n, accepted)
			}
		})
	}

	t.Run("invalid or unauthorized requests do not consume the window", func(t *testing.T) {
		h := newHarness(t, func(o *sandbox.Options) { o.SendRate = 1 })
		bad := h.sendBody("not-an-address", testSubject)
		wantError(t, h.post(bad), http.StatusBadRequest, "Post parameter is not valid")
		unauthorized := h.sendBody("a@pec.example.it", testSubject)
		unauthorized["password"] = "wrong"
		wantError(t, h.post(unauthorized), http.StatusUnauthorized, "Authorization is not valid or empty")
		h.mustSend("a@pec.example.it", testSubject)
	})

	t.Run("the window is kept on RateNow", func(t *testing.T) {
		rate := sandbox.NewClock(start)
		h := newHarness(t, func(o *sandbox.Options) { o.SendRate = 1; o.RateNow = rate.Now })
		h.mustSend("a@pec.example.it", testSubject)
		h.advanceTo(time.Hour) // sandbox time moves, the rate clock does not
		wantError(t, h.post(h.sendBody("a@pec.example.it", testSubject)), http.StatusTooManyRequests, "Too many requests")
		rate.Advance(time.Second)
		h.mustSend("a@pec.example.it", testSubject)
	})
}

func TestFaults(t *testing.T) {
	t.Run("fail: 500 and nothing sent", func(t *testing.T) {
		h := newHarness(t, func(o *sandbox.Options) { o.FailRate = 1 })
		wantError(t, h.post(h.sendBody("a@pec.example.it", testSubject)), http.StatusInternalServerError, "MySQL Error 2006")
		h.advanceTo(48 * time.Hour)
		if n := len(h.sb.Sends()); n != 0 {
			t.Fatalf("%d sent", n)
		}
		if page := h.inbox(""); page.Total != 0 {
			t.Fatalf("%d receipts for a failed send", page.Total)
		}
	})

	t.Run("drop: sent, then the connection closes without an answer", func(t *testing.T) {
		h := newHarness(t, func(o *sandbox.Options) { o.DropRate = 1 })
		raw, _ := json.Marshal(h.sendBody("a@pec.example.it", testSubject))
		resp, err := h.srv.Client().Do(h.request(http.MethodPost, "/send", raw))
		if err == nil {
			resp.Body.Close()
			t.Fatalf("got an answer (%d), want a dropped connection", resp.StatusCode)
		}
		if !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "EOF") {
			t.Fatalf("error %v, want the connection closed (EOF)", err)
		}
		sends := h.sb.Sends()
		if len(sends) != 1 {
			t.Fatalf("%d sent, want 1", len(sends))
		}
		h.advanceTo(3 * time.Second)
		got := h.receipts(sends[0].Code)
		if len(got) != 2 || !strings.HasPrefix(got[1].Object, "CONSEGNA: ") {
			t.Fatalf("receipts of the dropped send: %+v", got)
		}
	})

	pattern := func(seed int64) string {
		h := newHarness(t, func(o *sandbox.Options) { o.FailRate = 0.5; o.Seed = seed })
		var b strings.Builder
		for range 40 {
			switch a := h.post(h.sendBody("a@pec.example.it", testSubject)); a.status {
			case http.StatusCreated:
				b.WriteByte('.')
			case http.StatusInternalServerError:
				b.WriteByte('F')
			default:
				t.Fatalf("status %d", a.status)
			}
		}
		if sent := strings.Count(b.String(), "."); len(h.sb.Sends()) != sent {
			t.Fatalf("%d sent, %d answered 201", len(h.sb.Sends()), sent)
		}
		return b.String()
	}
	t.Run("seeded", func(t *testing.T) {
		first, again, other := pattern(7), pattern(7), pattern(8)
		if first != again {
			t.Fatalf("seed 7 gave %s then %s", first, again)
		}
		if first == other {
			t.Fatalf("seeds 7 and 8 gave the same faults %s", first)
		}
		if !strings.Contains(first, ".") || !strings.Contains(first, "F") {
			t.Fatalf("fail rate 0.5 gave %s", first)
		}
	})
}

func TestInboxPagination(t *testing.T) {
	h := newHarness(t, nil)
	for i := 1; i <= 30; i++ {
		h.mustSend("a@pec.example.it", fmt.Sprintf("Pratica %02d", i))
	}
	if page := h.inbox(""); page.Total != 0 || page.NOfPages != 0 || len(page.Data) != 0 || page.Page != 1 {
		t.Fatalf("inbox before any receipt: %+v", page)
	}
	h.advanceTo(3 * time.Second)

	seen := map[int64]bool{}
	lastID := int64(1 << 62)
	for p, wantLen := range []int{25, 25, 10} {
		page := h.inbox(fmt.Sprintf("?page=%d", p+1))
		if page.Total != 60 || page.Page != p+1 || page.NOfPages != 3 || len(page.Data) != wantLen || !page.Success || page.Message != "" {
			t.Fatalf("page %d: total %d page %d of %d, %d entries", p+1, page.Total, page.Page, page.NOfPages, len(page.Data))
		}
		for _, e := range page.Data {
			if e.ID >= lastID {
				t.Fatalf("page %d: id %d after %d: not newest first", p+1, e.ID, lastID)
			}
			lastID = e.ID
			seen[e.ID] = true
			if e.Sender != sandbox.DocumentedReceiptSender || e.Recipient != testSender {
				t.Fatalf("entry %+v", e)
			}
			if _, err := time.Parse(time.RFC1123Z, e.Date); err != nil {
				t.Fatalf("entry date: %v", err)
			}
		}
	}
	if len(seen) != 60 {
		t.Fatalf("%d distinct ids over the pages, want 60", len(seen))
	}
	if first := h.inbox(""); first.Data[0].Object != "CONSEGNA: Pratica 30 "+h.sb.Sends()[29].Code {
		t.Fatalf("newest entry %q", first.Data[0].Object)
	}

	for _, tc := range []struct {
		query         string
		total, pages  int
		page, entries int
	}{
		{"?page=4", 60, 3, 4, 0},
		{"?page=abc", 60, 3, 1, 25},
		{"?page=0", 60, 3, 1, 25},
		{"?page=2.0", 60, 3, 2, 25},
		{"?q=pratica+07", 2, 1, 1, 2},
		{"?q=CONSEGNA", 30, 2, 1, 25},
		{"?q=consegna&page=2", 30, 2, 2, 5},
		{"?q=accettazione:+pratica+1", 10, 1, 1, 10},
		{"?q=nessuna", 0, 0, 1, 0},
		{"?q=" + url.QueryEscape(h.sb.Sends()[4].Code), 2, 1, 1, 2},
	} {
		t.Run(tc.query, func(t *testing.T) {
			page := h.inbox(tc.query)
			if page.Total != tc.total || page.NOfPages != tc.pages || page.Page != tc.page || len(page.Data) != tc.entries {
				t.Fatalf("total %d, %d pages, page %d, %d entries; want %d, %d, %d, %d",
					page.Total, page.NOfPages, page.Page, len(page.Data), tc.total, tc.pages, tc.page, tc.entries)
			}
		})
	}
	if a := h.get("/inbox?page=9"); !bytes.Contains(a.raw, []byte(`"data":[]`)) {
		t.Fatalf("an empty page must have data [], got %s", a.raw)
	}
}

func TestInboxMessage(t *testing.T) {
	h := newHarness(t, nil)
	code := h.mustSend("nessuno@invalid.sandbox.test", testSubject)
	h.advanceTo(3 * time.Second)
	byCode := h.receipts(code)
	page := h.inbox("")
	if len(page.Data) != 2 {
		t.Fatalf("inbox %+v", page)
	}
	for i, entry := range page.Data {
		a := h.get(fmt.Sprintf("/inbox/%d", entry.ID))
		if a.status != http.StatusOK || a.json["success"] != true || a.json["message"] != "" {
			t.Fatalf("GET /inbox/%d: %d %s", entry.ID, a.status, a.raw)
		}
		data := a.json["data"].(map[string]any)
		body := data["body"].(string)
		if strings.ContainsAny(body, " \n") {
			t.Fatalf("body is not form-urlencoded: %q", body)
		}
		decoded, err := url.QueryUnescape(body)
		if err != nil {
			t.Fatal(err)
		}
		want := byCode[len(byCode)-1-i] // the inbox is newest first
		if decoded != want.Message || data["object"] != want.Object || data["date"] != want.Data ||
			data["sender"] != want.Sender || data["recipient"] != want.Recipient || data["object"] != entry.Object {
			t.Fatalf("GET /inbox/%d = %v, GET /send/{code} has %+v", entry.ID, data, want)
		}
	}
}

func TestDeletes(t *testing.T) {
	t.Run("DELETE /send/{code}", func(t *testing.T) {
		// The pec style's longer texts make the quota move by whole KiB.
		h := newHarness(t, pecStyle)
		keep := h.mustSend("a@pec.example.it", "da tenere")
		code := h.mustSend("b@pec.example.it", "da cancellare")
		h.advanceTo(3 * time.Second)
		before := h.quotaUsage()
		a := h.delete("/send/" + code)
		if a.status != http.StatusOK || len(a.json) != 2 || a.json["success"] != true || a.json["message"] != "Operation succefull" {
			t.Fatalf("delete: %d %s", a.status, a.raw)
		}
		for _, at := range []time.Duration{3 * time.Second, 48 * time.Hour} {
			h.advanceTo(at)
			if got := h.receipts(code); got != nil {
				t.Fatalf("at +%v: deleted receipts came back: %+v", at, got)
			}
			for _, e := range h.inbox("").Data {
				if strings.HasSuffix(e.Object, code) {
					t.Fatalf("at +%v: deleted receipt in the inbox: %q", at, e.Object)
				}
			}
		}
		if len(h.receipts(keep)) != 2 || h.inbox("").Total != 2 {
			t.Fatal("another send's receipts were deleted")
		}
		if after := h.quotaUsage(); after >= before {
			t.Fatalf("quota %v after deleting, %v before", after, before)
		}
		wantError(t, h.delete("/send/"+code), http.StatusNotFound, "Email not found")
	})

	t.Run("DELETE /send/{code} between acceptance and delivery", func(t *testing.T) {
		h := newHarness(t, nil)
		code := h.mustSend("a@pec.example.it", testSubject)
		h.advanceTo(time.Second)
		if a := h.delete("/send/" + code); a.status != http.StatusOK {
			t.Fatalf("delete: %d %s", a.status, a.raw)
		}
		h.advanceTo(3 * time.Second)
		got := h.receipts(code)
		if len(got) != 1 || !strings.HasPrefix(got[0].Object, "CONSEGNA: ") {
			t.Fatalf("want only the later delivery, got %+v", got)
		}
	})

	t.Run("DELETE /inbox/{id}", func(t *testing.T) {
		h := newHarness(t, nil)
		code := h.mustSend("a@pec.example.it", testSubject)
		h.advanceTo(3 * time.Second)
		page := h.inbox("")
		newest := page.Data[0]
		a := h.delete(fmt.Sprintf("/inbox/%d", newest.ID))
		if a.status != http.StatusOK || len(a.json) != 2 || a.json["success"] != true || a.json["message"] != "Message deleted" {
			t.Fatalf("delete: %d %s", a.status, a.raw)
		}
		wantError(t, h.get(fmt.Sprintf("/inbox/%d", newest.ID)), http.StatusNotFound, "Message not found")
		wantError(t, h.delete(fmt.Sprintf("/inbox/%d", newest.ID)), http.StatusOK, "Message not found")
		h.advanceTo(48 * time.Hour)
		got := h.receipts(code)
		if len(got) != 1 || !strings.HasPrefix(got[0].Object, "ACCETTAZIONE: ") {
			t.Fatalf("GET /send/{code} after deleting the delivery: %+v", got)
		}
		if after := h.inbox(""); after.Total != 1 || after.Data[0].ID != page.Data[1].ID {
			t.Fatalf("inbox after delete: %+v", after)
		}
		// Ids are never reused.
		h.mustSend("a@pec.example.it", testSubject)
		h.advanceTo(49 * time.Hour)
		if top := h.inbox("").Data[0].ID; top <= newest.ID {
			t.Fatalf("new message got id %d, not above the deleted %d", top, newest.ID)
		}
	})
}

func TestQuota(t *testing.T) {
	h := newHarness(t, nil)
	if got := h.quotaUsage(); got != 0 {
		t.Fatalf("empty mailbox uses %v", got)
	}
	body := h.sendBody("a@pec.example.it", testSubject)
	big := bytes.Repeat([]byte("PEC"), 100<<10) // 300 KiB
	body["attachments"] = []map[string]string{{"name": "big.bin", "file": base64.StdEncoding.EncodeToString(big)}}
	a := h.post(body)
	if a.status != http.StatusCreated {
		t.Fatalf("send: %s", a.raw)
	}
	code := a.json["message_id"].(string)
	h.advanceTo(time.Second)
	accepted := h.quotaUsage()
	if accepted < 1 || accepted > 8 {
		t.Fatalf("one acceptance uses %v KiB", accepted)
	}
	h.advanceTo(3 * time.Second)
	if delivered := h.quotaUsage(); delivered < accepted+300 {
		t.Fatalf("after the delivery receipt (which carries the 300 KiB message): %v KiB", delivered)
	}
	for _, name := range []string{"INBOX", "inbox", "Inbox"} {
		if a := h.get("/quota/" + name); a.status != http.StatusOK {
			t.Fatalf("/quota/%s: %d", name, a.status)
		}
	}
	for _, name := range []string{"Sent", "INBOX.Trash", "x"} {
		wantError(t, h.get("/quota/"+name), http.StatusBadRequest, "An error occured: the requested mailbox might be unavailable")
	}
	if a := h.delete("/send/" + code); a.status != http.StatusOK {
		t.Fatal(string(a.raw))
	}
	if got := h.quotaUsage(); got != 0 {
		t.Fatalf("emptied mailbox uses %v", got)
	}
}

func TestSandboxSends(t *testing.T) {
	h := newHarness(t, nil)
	body := h.sendBody([]string{"a@pec.example.it", "b@ordinary.sandbox.test"}, testSubject)
	body["attachments"] = map[string]string{"name": "atto.pdf", "file": "data:application/pdf;base64," + base64.StdEncoding.EncodeToString([]byte("12345"))}
	code := h.post(body).json["message_id"].(string)

	req := h.request(http.MethodGet, "/_sandbox/sends", nil)
	a := h.do(req)
	if a.status != http.StatusOK {
		t.Fatalf("status %d: %s", a.status, a.raw)
	}
	var list struct {
		Sends []struct {
			Code        string   `json:"code"`
			Time        string   `json:"time"`
			Sender      string   `json:"sender"`
			Recipients  []string `json:"recipients"`
			Subject     string   `json:"subject"`
			Attachments []struct {
				Name string `json:"name"`
				Size int    `json:"size"`
			} `json:"attachments"`
			BodySHA256 string `json:"body_sha256"`
		} `json:"sends"`
	}
	if err := json.Unmarshal(a.raw, &list); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(testBody))
	if len(list.Sends) != 1 {
		t.Fatalf("%s", a.raw)
	}
	s := list.Sends[0]
	when, err := time.Parse(time.RFC3339, s.Time)
	if err != nil || !when.Equal(start) {
		t.Fatalf("time %q (%v)", s.Time, err)
	}
	if s.Code != code || s.Sender != testSender || !slices.Equal(s.Recipients, []string{"a@pec.example.it", "b@ordinary.sandbox.test"}) ||
		s.Subject != testSubject || len(s.Attachments) != 1 || s.Attachments[0].Name != "atto.pdf" || s.Attachments[0].Size != 5 ||
		s.BodySHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("sends %s", a.raw)
	}
	// The Go method returns a copy.
	got := h.sb.Sends()
	got[0].Recipients[0] = "changed"
	if h.sb.Sends()[0].Recipients[0] != "a@pec.example.it" {
		t.Fatal("Sends shares its slices with the server")
	}
	if empty := newHarness(t, nil).get("/_sandbox/sends"); empty.status != 200 || !bytes.Contains(empty.raw, []byte(`"sends":[]`)) {
		t.Fatalf("empty sandbox: %s", empty.raw)
	}
}

// TestConcurrentUse drives one sandbox from many goroutines (run with -race):
// every 201 is one recorded send, codes are unique, every receipt arrives.
func TestConcurrentUse(t *testing.T) {
	h := newHarness(t, nil)
	const writers, perWriter = 6, 15
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		codes []string
	)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				raw, _ := json.Marshal(h.sendBody("a@pec.example.it", fmt.Sprintf("w%d n%d", w, i)))
				resp, err := h.srv.Client().Do(h.request(http.MethodPost, "/send", raw))
				if err != nil {
					t.Error(err)
					return
				}
				var out struct {
					MessageID string `json:"message_id"`
				}
				err = json.NewDecoder(resp.Body).Decode(&out)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusCreated {
					t.Errorf("send: %d %v", resp.StatusCode, err)
					return
				}
				mu.Lock()
				codes = append(codes, out.MessageID)
				mu.Unlock()
			}
		})
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 3 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, path := range []string{"/inbox", "/quota/INBOX", "/_sandbox/sends", "/inbox/1"} {
					resp, err := h.srv.Client().Do(h.request(http.MethodGet, path, nil))
					if err != nil {
						t.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				h.clock.Advance(100 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()

	sends := h.sb.Sends()
	if len(sends) != writers*perWriter || len(codes) != len(sends) {
		t.Fatalf("%d sends recorded, %d answered 201", len(sends), len(codes))
	}
	recorded := map[string]bool{}
	for _, s := range sends {
		if recorded[s.Code] {
			t.Fatalf("code %s recorded twice", s.Code)
		}
		recorded[s.Code] = true
	}
	for _, c := range codes {
		if !recorded[c] {
			t.Fatalf("answered code %s not recorded", c)
		}
	}
	h.clock.Advance(time.Hour)
	if total := h.inbox("").Total; total != 2*len(sends) {
		t.Fatalf("%d receipts, want %d", total, 2*len(sends))
	}
}

func TestClock(t *testing.T) {
	c := sandbox.NewClock(start)
	if !c.Now().Equal(start) {
		t.Fatal("NewClock does not start at start")
	}
	c.Advance(90 * time.Minute)
	if got := c.Now().Sub(start); got != 90*time.Minute {
		t.Fatalf("advanced %v", got)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("Advance with a negative duration did not panic")
			}
		}()
		c.Advance(-time.Second)
	}()

	for _, tc := range []struct {
		factor  float64
		elapsed time.Duration
		want    time.Duration
	}{
		{3600, time.Second, time.Hour},
		{3600, 12 * time.Second, 12 * time.Hour},
		{1, time.Minute, time.Minute},
		{0, time.Minute, time.Minute},
		{0.5, time.Minute, 30 * time.Second},
	} {
		t.Run(fmt.Sprint(tc.factor, "x", tc.elapsed), func(t *testing.T) {
			wall := sandbox.NewClock(start)
			now := sandbox.Accelerated(wall.Now, tc.factor)
			if !now().Equal(start) {
				t.Fatalf("accelerated clock starts at %v", now())
			}
			wall.Advance(tc.elapsed)
			if got := now().Sub(start); got != tc.want {
				t.Fatalf("after %v real: %v sandbox, want %v", tc.elapsed, got, tc.want)
			}
		})
	}
}

// TestAcceleratedSandbox runs the 12 h case on an accelerated clock: the
// warning of slow.sandbox.test arrives after 12 real seconds at ×3600.
func TestAcceleratedSandbox(t *testing.T) {
	wall := sandbox.NewClock(start)
	h := newHarness(t, func(o *sandbox.Options) { o.Now = sandbox.Accelerated(wall.Now, 3600) })
	code := h.mustSend("x@slow.sandbox.test", testSubject)
	wall.Advance(11 * time.Second)
	if got := h.receipts(code); len(got) != 1 {
		t.Fatalf("after 11 s (11 h): %d receipts, want the acceptance", len(got))
	}
	wall.Advance(time.Second)
	if got := h.receipts(code); len(got) != 2 {
		t.Fatalf("after 12 s (12 h): %d receipts, want acceptance and warning", len(got))
	}
	wall.Advance(time.Millisecond) // 3.6 sandbox seconds
	if got := h.receipts(code); len(got) != 3 {
		t.Fatalf("after 12.001 s: %d receipts, want the delivery too", len(got))
	}
}
