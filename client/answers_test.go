package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// proves names what a send's outcome proves, in the words of the table "What a send answer proves" in
// docs/client.md.
func proves(err error) string {
	_, isAPI := errors.AsType[*APIError](err)
	acc, isAccount := errors.AsType[*AccountError](err)
	switch {
	case err == nil:
		return "sent"
	case isAPI && isAccount, errors.Is(err, ErrNotSent) && (errors.Is(err, ErrAmbiguous) || isAccount):
		return "contradictory"
	case errors.Is(err, ErrNotSent):
		return "not sent"
	case isAccount && errors.Is(err, ErrAccount) && errors.Is(err, ErrAmbiguous) == acc.MaybeSent:
		if acc.MaybeSent {
			return "account, unknown"
		}
		return "account, not sent"
	case isAccount:
		return "contradictory"
	case errors.Is(err, ErrAmbiguous):
		return "unknown"
	case errors.Is(err, ErrRateLimited):
		return "rate-limited, not sent"
	case isAPI:
		return "refused-row"
	}
	return "unclassified"
}

// answerWith is a handler giving one answer: status, Content-Type (none when empty) and body.
func answerWith(status int, contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

const htmlType = "text/html; charset=utf-8"

// TestSendAnswersTable has one case per row of the table "What a send answer proves" in docs/client.md,
// against a real HTTP server.
func TestSendAnswersTable(t *testing.T) {
	const js = "application/json"
	tests := []struct {
		row     int
		name    string
		handler http.HandlerFunc
		want    string
		problem AccountProblem // for an *AccountError
		id      string         // for a send
		sent    int
		hits    int64 // 0 means 1
	}{
		{row: 1, name: "the contract's answer", handler: answerWith(201, js, okSend),
			want: "sent", id: "2020082610003492", sent: 1},
		{row: 2, name: "spaces around the code", handler: answerWith(201, js,
			`{"success":true,"sent":1,"message_id":" 2026113020185802 "}`),
			want: "sent", id: "2026113020185802", sent: 1},
		{row: 3, name: "numeric code, success as a string", handler: answerWith(200, js,
			`{"success":"true","sent":"1","message_id":2026113020185802}`),
			want: "sent", id: "2026113020185802", sent: 1},
		{row: 4, name: "sent absent", handler: answerWith(201, js, `{"success":true,"message_id":"2026113020185802"}`),
			want: "sent", id: "2026113020185802", sent: 0},
		{row: 5, name: "sent 3", handler: answerWith(201, js, `{"success":true,"sent":3,"message_id":"2026113020185802"}`),
			want: "sent", id: "2026113020185802", sent: 3},
		{row: 6, name: "sent 0 with a code", handler: answerWith(201, js,
			`{"success":true,"sent":0,"message_id":"2026113020185802"}`), want: "unknown"},
		{row: 7, name: "sent fractional", handler: answerWith(201, js,
			`{"success":true,"sent":1.5,"message_id":"2026113020185802"}`), want: "unknown"},
		{row: 8, name: "no message_id", handler: answerWith(201, js, `{"success":true,"sent":1,"message_id":"  "}`),
			want: "unknown"},
		{row: 9, name: "message_id not a code", handler: answerWith(201, js, `{"success":true,"sent":1,"message_id":"null"}`),
			want: "unknown"},
		{row: 9, name: "message_id echoing the token", handler: answerWith(201, js,
			`{"success":true,"sent":1,"message_id":"`+testToken+`"}`), want: "unknown"},
		{row: 10, name: "SMTP login failure in message_id", handler: answerWith(201, js,
			`{"success":true,"sent":0,"message_id":"535 5.7.8 Error: authentication failed"}`),
			want: "account, not sent", problem: ProblemMailboxLogin},
		{row: 11, name: "SMTP refusal of the recipient in message_id", handler: answerWith(201, js,
			`{"success":true,"sent":0,"message_id":"550 5.1.1 <x@y.it>: Recipient address rejected"}`),
			want: "refused-row"},
		{row: 12, name: "other SMTP text in message_id", handler: answerWith(201, js,
			`{"success":true,"message_id":"SMTP Error: data not accepted."}`),
			want: "account, not sent", problem: ProblemService},
		{row: 13, name: "SMTP text in message_id with sent 1", handler: answerWith(201, js,
			`{"success":true,"sent":1,"message_id":"SMTP Error: data not accepted."}`),
			want: "account, unknown", problem: ProblemService},
		{row: 14, name: "success false about the message", handler: answerWith(200, js,
			`{"success":false,"message":"Post parameter is not valid"}`), want: "refused-row"},
		{row: 15, name: "success false, login refused", handler: answerWith(200, js,
			`{"success":false,"message":"SMTP Error: Could not authenticate."}`),
			want: "account, not sent", problem: ProblemMailboxLogin},
		{row: 16, name: "success false, another reason", handler: answerWith(201, js,
			`{"success":false,"message":"Sender not allowed"}`), want: "account, not sent", problem: ProblemService},
		{row: 17, name: "success false with a code", handler: answerWith(201, js,
			`{"success":false,"sent":1,"message_id":"2026113020185802"}`), want: "unknown"},
		{row: 18, name: "sent 0, no code, a limit message", handler: answerWith(201, js,
			`{"success":true,"sent":0,"message":"Daily limit reached"}`), want: "account, not sent", problem: ProblemLimit},
		{row: 19, name: "truncated JSON", handler: answerWith(201, js, `{"success":true,"sent":1,"message_id":"2026`),
			want: "unknown"},
		{row: 20, name: "HTML 404 of a wrong base URL", handler: answerWith(404, htmlType,
			"<html><head><title>404 Not Found</title></head><body>nginx</body></html>"),
			want: "account, not sent", problem: ProblemEndpoint},
		{row: 20, name: "HTML 413 of a proxy's size limit", handler: answerWith(413, htmlType,
			"<html><head><title>413 Request Entity Too Large</title></head></html>"), want: "refused-row"},
		{row: 21, name: "HTML 502 of a proxy", handler: answerWith(502, "",
			"\n<!DOCTYPE html><title>502 Bad Gateway</title>"), want: "account, unknown", problem: ProblemEndpoint},
		{row: 22, name: "redirect", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", "https://example.test/send")
			w.WriteHeader(http.StatusMovedPermanently)
		}, want: "account, unknown", problem: ProblemEndpoint},
		{row: 23, name: "400 Post parameter is not valid", handler: answerWith(400, js,
			`{"success":false,"message":"Post parameter is not valid"}`), want: "refused-row"},
		{row: 24, name: "400 mailbox unavailable (the quota answer)", handler: answerWith(400, js,
			`{"success":false,"message":"An error occured: the requested mailbox might be unavailable"}`),
			want: "account, not sent", problem: ProblemLimit},
		{row: 25, name: "401", handler: answerWith(401, js,
			`{"success":false,"message":"Authorization is not valid or empty"}`),
			want: "account, not sent", problem: ProblemCredentials},
		{row: 26, name: "405 in JSON", handler: answerWith(405, js, `{"message":"Method Not Allowed"}`),
			want: "account, not sent", problem: ProblemEndpoint},
		{row: 27, name: "409", handler: answerWith(409, "", ""), want: "account, not sent", problem: ProblemService},
		{row: 28, name: "429 daily limit", handler: answerWith(429, js,
			`{"success":false,"message":"Daily limit of 3500 messages exceeded"}`),
			want: "account, not sent", problem: ProblemLimit},
		{row: 29, name: "429 always", handler: answerWith(429, js, `{"success":false,"message":"Too many requests"}`),
			want: "rate-limited, not sent", hits: maxSendAttempts},
		{row: 30, name: "500 with a login text", handler: answerWith(500, js,
			`{"success":false,"message":"SMTP Error: Could not authenticate."}`),
			want: "account, unknown", problem: ProblemMailboxLogin},
		{row: 31, name: "500 MySQL Error", handler: answerWith(500, js, `{"success":false,"message":"MySQL Error 2006"}`),
			want: "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rec, _ := newTestClient(t, tt.handler)
			res, err := c.Send(context.Background(), sampleSend())
			if got := proves(err); got != tt.want {
				t.Fatalf("row %d: proves %q (err = %v), want %q", tt.row, got, err, tt.want)
			}
			want := tt.hits
			if want == 0 {
				want = 1
			}
			if n := rec.hits.Load(); n != want {
				t.Errorf("server hit %d times, want %d", n, want)
			}
			if tt.want == "sent" {
				if res == nil || res.MessageID != tt.id || res.Sent != tt.sent {
					t.Errorf("row %d: result %+v, want id %q sent %d", tt.row, res, tt.id, tt.sent)
				}
				return
			}
			if res != nil {
				t.Errorf("row %d: result %+v with an error", tt.row, res)
			}
			if acc, ok := errors.AsType[*AccountError](err); ok {
				if acc.Problem != tt.problem {
					t.Errorf("row %d: problem %q, want %q", tt.row, acc.Problem, tt.problem)
				}
				if !strings.Contains(err.Error(), acc.Hint()) {
					t.Errorf("row %d: %v does not say what to check", tt.row, err)
				}
				if (tt.problem == ProblemCredentials || tt.problem == ProblemMailboxLogin) != errors.Is(err, ErrUnauthorized) {
					t.Errorf("row %d: errors.Is(ErrUnauthorized) = %v for %s", tt.row, errors.Is(err, ErrUnauthorized), acc.Problem)
				}
			} else if tt.problem != "" {
				t.Errorf("row %d: %v is not an *AccountError", tt.row, err)
			}
		})
	}
}

func TestSendAnswerPlausibleCodes(t *testing.T) {
	for _, tt := range []struct {
		id   string
		want bool
	}{
		{"2020082610003492", true},
		{"202009211526363", true},
		{"abc-DEF_123.x", true},
		{"123456", true},
		{"12345", false},
		{"000000", false},
		{"-1", false},
		{"null", false},
		{"undefined", false},
		{"535 5.7.8 Error: authentication failed", false},
		{"SMTP_Error", false},
		{"Error:535", false},
		{"2020082610003492\n", false},
		{"caf\u00e9123456", false},
		{strings.Repeat("1", maxCodeLen), true},
		{strings.Repeat("1", maxCodeLen+1), false},
	} {
		if got := plausibleCode(tt.id); got != tt.want {
			t.Errorf("plausibleCode(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestClassifyText(t *testing.T) {
	for _, tt := range []struct {
		text string
		want textClass
	}{
		{"535 5.7.8 Error: authentication failed", textLogin},
		{"SMTP Error: Could not authenticate.", textLogin},
		{"Credenziali non valide", textLogin},
		{"Login failed for mailbox", textLogin},
		{"Authorization is not valid or empty", textLogin},
		{"Daily limit reached", textLimit},
		{"Limite giornaliero raggiunto", textLimit},
		{"An error occured: the requested mailbox might be unavailable", textLimit},
		{"452 4.5.3 Daily limit of recipients exceeded", textLimit},
		{"SMTP Error: Could not connect to SMTP host.", textConnect},
		{"Post parameter is not valid", textRow},
		{"550 5.1.1 <x@y.it>: Recipient address rejected", textRow},
		{"552 5.3.4 Message size exceeds fixed limit", textRow},
		{"MySQL Error 2006", textUnknown},
		{"Post parameter is not valid: password=[redacted] authorization=Bearer [redacted]", textRow},
		{`MySQL Error 2006: {"username":"a@b.it","password":"[redacted]"}`, textUnknown},
		{"Password: wrong", textLogin},
		{"Sender not allowed", textUnknown},
		{"Error 5535 in module", textUnknown},
	} {
		if got := classifyText(tt.text); got != tt.want {
			t.Errorf("classifyText(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}
