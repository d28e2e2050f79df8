package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestErrorsNeverShowSecrets runs every error path of every operation with recognisable secrets, against
// servers that echo the secrets back in every way they can, and checks no error text carries them.
func TestErrorsNeverShowSecrets(t *testing.T) {
	echo := testToken + " " + testPassword
	handlers := map[string]http.HandlerFunc{
		"401 echoing the credentials": func(w http.ResponseWriter, r *http.Request) {
			jsonAnswer(w, 401, `{"success":false,"message":"bad token `+r.Header.Get("Authorization")+` or password `+
				r.Header.Get("x-password")+`"}`)
		},
		"400 echoing the request body": func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			w.WriteHeader(400)
			w.Write(body)
		},
		"500 echoing": func(w http.ResponseWriter, r *http.Request) {
			jsonAnswer(w, 500, `{"success":false,"message":"MySQL Error 2006 `+echo+`"}`)
		},
		"200 success false echoing": func(w http.ResponseWriter, r *http.Request) {
			jsonAnswer(w, 200, `{"success":false,"message":"`+echo+`"}`)
		},
		"201 SMTP text echoing": func(w http.ResponseWriter, r *http.Request) {
			jsonAnswer(w, 201, `{"success":true,"message_id":"550 rejected `+echo+`"}`)
		},
		"malformed JSON echoing": func(w http.ResponseWriter, r *http.Request) {
			jsonAnswer(w, 200, `{"success":"`+echo+`"`)
		},
		"malformed value echoing": func(w http.ResponseWriter, r *http.Request) {
			jsonAnswer(w, 200, `{"success":true,"message_id":{"`+echo+`":1},"data":"`+echo+`"}`)
		},
		"429 always": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "3600")
			jsonAnswer(w, 429, `{"success":false,"message":"`+echo+`"}`)
		},
		"404 echoing": func(w http.ResponseWriter, r *http.Request) {
			jsonAnswer(w, 404, `{"success":false,"message":"`+echo+`"}`)
		},
		"dropped connection": hijackAfterRequest,
		"timeout": func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		},
	}
	ctx := context.Background()
	ops := map[string]func(*Client) error{
		"send": func(c *Client) error {
			_, err := c.Send(ctx, sampleSend())
			return err
		},
		"receipts":             func(c *Client) error { _, err := c.Receipts(ctx, "1234567890123456"); return err },
		"delete receipts":      func(c *Client) error { return c.DeleteReceipts(ctx, "1234567890123456") },
		"inbox":                func(c *Client) error { _, err := c.Inbox(ctx, "q", 1); return err },
		"inbox message":        func(c *Client) error { _, err := c.InboxMessage(ctx, "3"); return err },
		"delete inbox message": func(c *Client) error { return c.DeleteInboxMessage(ctx, "3") },
		"quota":                func(c *Client) error { _, err := c.Quota(ctx, ""); return err },
	}
	for hname, h := range handlers {
		for opName, op := range ops {
			t.Run(hname+"/"+opName, func(t *testing.T) {
				c, _, _ := newTestClient(t, h, WithTimeout(100*time.Millisecond))
				err := op(c)
				if err == nil {
					if hname == "201 SMTP text echoing" && opName != "send" {
						return // a 201 without data is fine for the other operations
					}
					if strings.HasPrefix(hname, "malformed value") && strings.HasPrefix(opName, "delete") {
						return // deletes read only the envelope
					}
					t.Fatalf("no error")
				}
				assertNoSecret(t, err)
			})
		}
	}
	t.Run("not sent", func(t *testing.T) {
		c := mustClient(t, newClosedServerURL(t))
		for _, op := range ops {
			assertNoSecret(t, op(c))
		}
	})
}

func assertNoSecret(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	for _, secret := range []string{testToken, testPassword} {
		if strings.Contains(msg, secret) {
			t.Errorf("error shows a secret: %s", msg)
		}
	}
	if apiErr, ok := errors.AsType[*APIError](err); ok {
		if strings.Contains(apiErr.Message, testToken) || strings.Contains(apiErr.Message, testPassword) {
			t.Errorf("APIError.Message shows a secret: %s", apiErr.Message)
		}
	}
	// The whole tree, as a caller unwrapping it might print any part of it.
	walkErrors(err, func(e error) {
		if strings.Contains(e.Error(), testPassword) || strings.Contains(e.Error(), testToken) {
			t.Errorf("a wrapped error shows a secret: %s", e.Error())
		}
	})
}

func walkErrors(err error, visit func(error)) {
	if err == nil {
		return
	}
	visit(err)
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		walkErrors(u.Unwrap(), visit)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			walkErrors(e, visit)
		}
	}
}

// TestScrubberLeavesShortSecretsAlone: a secret too short to tell apart
// from ordinary text is not replaced, so messages stay readable; longer
// ones always are.
func TestScrubberLeavesShortSecretsAlone(t *testing.T) {
	s := newScrubber("", "p", "tok", "PASSWORD-QW77")
	tests := []struct{ in, want string }{
		{`Post "https://ws.pecmassiva.com/send": no such host`, `Post "https://ws.pecmassiva.com/send": no such host`},
		{"echo PASSWORD-QW77 and tok", "echo [redacted] and tok"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := s.scrub(tt.in); got != tt.want {
				t.Errorf("scrub(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
