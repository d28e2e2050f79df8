package sandbox_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/client/sandbox"
)

// TestFaultSMTPAuth checks both forms of a refused mailbox password: the
// SMTP error where the code should be, nothing sent, until the fault is
// lifted.
func TestFaultSMTPAuth(t *testing.T) {
	for _, tc := range []struct {
		fault   sandbox.Fault
		success bool
		message string
	}{
		{sandbox.FaultSMTPAuth, true, ""},
		{sandbox.FaultSMTPAuthFalse, false, sandbox.SMTPAuthError},
	} {
		t.Run(string(tc.fault), func(t *testing.T) {
			h := newHarness(t, func(o *sandbox.Options) { o.Fault = tc.fault })
			a := h.post(h.sendBody("a@pec.example.it", testSubject))
			want := map[string]any{"success": tc.success, "sent": float64(0), "message": tc.message, "message_id": sandbox.SMTPAuthError}
			if a.status != http.StatusCreated || len(a.json) != len(want) {
				t.Fatalf("%d %s, want 201 %v", a.status, a.raw, want)
			}
			for k, v := range want {
				if a.json[k] != v {
					t.Errorf("%s = %v, want %v", k, a.json[k], v)
				}
			}
			if sends := h.sb.Sends(); len(sends) != 0 {
				t.Fatalf("sent %d messages with a refused password", len(sends))
			}
			h.sb.SetFault(sandbox.FaultNone)
			h.mustSend("a@pec.example.it", testSubject)
			if len(h.sb.Sends()) != 1 {
				t.Fatal("lifting the fault did not let the send through")
			}
		})
	}
}

// TestDailyLimit counts messages (recipients) per Rome day: a send that
// would pass the cap is refused whole with 403, the next day starts again.
func TestDailyLimit(t *testing.T) {
	h := newHarness(t, func(o *sandbox.Options) { o.DailyLimit = 3 })
	h.mustSend([]string{"a@pec.example.it", "b@pec.example.it"}, "uno")
	capped := h.post(h.sendBody([]string{"c@pec.example.it", "d@pec.example.it"}, "due"))
	wantError(t, capped, http.StatusForbidden, sandbox.MsgDailyLimit)
	h.mustSend("c@pec.example.it", "tre")
	wantError(t, h.post(h.sendBody("d@pec.example.it", "quattro")), http.StatusForbidden, sandbox.MsgDailyLimit)
	// start is 10:00:34 in Rome: midnight there is 13h59m26s later.
	h.advanceTo(14*time.Hour - 35*time.Second)
	wantError(t, h.post(h.sendBody("d@pec.example.it", "cinque")), http.StatusForbidden, sandbox.MsgDailyLimit)
	h.advanceTo(14*time.Hour - 34*time.Second)
	h.mustSend([]string{"d@pec.example.it", "e@pec.example.it", "f@pec.example.it"}, "sei")
	if n := len(h.sb.Sends()); n != 3 {
		t.Fatalf("%d sends went through, want 3", n)
	}

	t.Run("as a fault", func(t *testing.T) {
		h := newHarness(t, func(o *sandbox.Options) { o.Fault = sandbox.FaultDailyLimit })
		wantError(t, h.post(h.sendBody("a@pec.example.it", testSubject)), http.StatusForbidden, sandbox.MsgDailyLimit)
		if len(h.sb.Sends()) != 0 {
			t.Fatal("sent over the cap")
		}
	})
}

// TestFaultProxy502 checks that every API call gets the proxy's HTML page,
// while the sandbox's own endpoint still answers.
func TestFaultProxy502(t *testing.T) {
	h := newHarness(t, nil)
	code := h.mustSend("a@pec.example.it", testSubject)
	h.sb.SetFault(sandbox.FaultProxy502)
	for _, tc := range []struct{ method, path string }{
		{http.MethodPost, "/send"}, {http.MethodGet, "/send/" + code}, {http.MethodDelete, "/send/" + code},
		{http.MethodGet, "/inbox"}, {http.MethodGet, "/inbox/1"}, {http.MethodDelete, "/inbox/1"},
		{http.MethodGet, "/quota/INBOX"},
	} {
		var body []byte
		if tc.method == http.MethodPost {
			body = []byte(`{"sender":"` + testSender + `","recipient":"a@pec.example.it","subject":"s","body":"b","username":"` + h.opts.Username + `","password":"` + h.opts.Password + `"}`)
		}
		resp, err := h.srv.Client().Do(h.request(tc.method, tc.path, body))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadGateway || resp.Header.Get("Content-Type") != "text/html" || !strings.Contains(string(raw), "<title>502 Bad Gateway</title>") {
			t.Errorf("%s %s: %d %q %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), raw)
		}
	}
	if a := h.get("/_sandbox/sends"); a.status != http.StatusOK {
		t.Errorf("/_sandbox/sends behind the proxy: %d", a.status)
	}
	if n := len(h.sb.Sends()); n != 1 {
		t.Errorf("%d sends, want 1: a 502 sends nothing", n)
	}
	h.sb.SetFault(sandbox.FaultNone)
	h.advanceTo(3 * time.Second)
	if got := h.receipts(code); len(got) != 2 {
		t.Errorf("after the fault: %d receipts, want 2", len(got))
	}
}

// TestParseFlagValues checks the helpers for --receipts and --fault.
func TestParseFlagValues(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want sandbox.ReceiptStyle
		err  bool
	}{
		{"", sandbox.StyleDocumented, false}, {"documented", sandbox.StyleDocumented, false},
		{"PEC", sandbox.StylePEC, false}, {"mixed", sandbox.StyleMixed, false}, {"html", "", true},
	} {
		got, err := sandbox.ParseReceiptStyle(tc.in)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("ParseReceiptStyle(%q) = %q, %v", tc.in, got, err)
		}
		if err != nil && !strings.Contains(err.Error(), "documented, pec, mixed") {
			t.Errorf("error %q does not list the valid values", err)
		}
	}
	for _, tc := range []struct {
		in   string
		want sandbox.Fault
		err  bool
	}{
		{"", sandbox.FaultNone, false}, {"none", sandbox.FaultNone, false}, {"smtp-auth", sandbox.FaultSMTPAuth, false},
		{"SMTP-AUTH-FALSE", sandbox.FaultSMTPAuthFalse, false}, {"daily-limit", sandbox.FaultDailyLimit, false},
		{"proxy-502", sandbox.FaultProxy502, false}, {"502", "", true},
	} {
		got, err := sandbox.ParseFault(tc.in)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("ParseFault(%q) = %q, %v", tc.in, got, err)
		}
		if err != nil && !strings.Contains(err.Error(), "none, smtp-auth, smtp-auth-false, daily-limit, proxy-502") {
			t.Errorf("error %q does not list the valid values", err)
		}
	}
}
