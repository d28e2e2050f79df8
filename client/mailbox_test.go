package client

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Answers from the examples of the contract (testdata/openapi.json).
const (
	exampleAcceptance = `{"sender":"posta-certificata@pecmassiva.com","recipient":"dev-api@pecmassiva.com","data":"Wed, 26 Aug 2020 10:00:35 +0200","object":"ACCETTAZIONE: Invio di prova pec massiva 2020082610003492","message":""}`
	exampleTransport  = `{"sender":"\"Per conto di: dev-api@pecmassiva.com\" ","recipient":"\"dev-api@pecmassiva.com\" ","data":"Wed, 26 Aug 2020 10:00:35 +0200","object":"POSTA CERTIFICATA: Invio di prova pec massiva 2020082610003492","message":"Salve, questa email \ufffd una prova di invio, che prevede un corpo in html"}`
	exampleDelivery   = `{"sender":"posta-certificata@pecmassiva.com","recipient":"dev-api@pecmassiva.com","data":"Wed, 26 Aug 2020 10:00:36 +0200","object":"CONSEGNA: Invio di prova pec massiva 2020082610003492","message":"Salve, questa email \ufffd una prova di invio, che prevede un corpo in html"}`
	exampleReceipts   = `{"data":[
 ` + exampleAcceptance + `,
 ` + exampleTransport + `,
 ` + exampleDelivery + `],
 "success":true,"message":""}`
	exampleInbox = `{"data":[
 {"sender":"posta-certificata@pecmassiva.com","recipient":"dev-api@pecmassiva.com","date":"Wed, 26 Aug 2020 10:00:35 +0200","object":"ACCETTAZIONE: Invio di prova pec massiva 2020082610003492","id":1},
 {"sender":"posta-certificata@pecmassiva.com","recipient":"dev-api@pecmassiva.com","date":"Wed, 26 Aug 2020 10:00:36 +0200","object":"CONSEGNA: Invio di prova pec massiva 2020082610003492","id":"3"}],
 "success":true,"message":"","total":981,"page":39,"n_of_pages":39,"unexpected":[1,2]}`
	exampleInboxMessage = `{"data":{"sender":"posta-certificata@pecmassiva.com","recipient":"altravia@pecmassiva.com","date":"Mon, 21 Sep 2020 15:26:37 +0200","object":"ACCETTAZIONE: Invio di prova pec massiva 202009211526363","body":"Ricevuta+di+accettazione%0AIl+messaggio+%C3%A8+stato+accettato+100%25"},"success":true,"message":""}`
	exampleQuota        = `{"data":{"usage":171012,"limit":1048576},"success":true,"message":""}`
)

func mustDate(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestMailboxOperations(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		answer     string
		run        func(*Client) (any, error)
		wantMethod string
		wantPath   string
		wantQuery  string
		want       func(*testing.T) any
	}{
		{
			name:   "receipts",
			answer: exampleReceipts,
			run: func(c *Client) (any, error) {
				return c.Receipts(ctx, "2020082610003492")
			},
			wantMethod: "GET", wantPath: "/send/2020082610003492",
			want: func(t *testing.T) any {
				body := "Salve, questa email \ufffd una prova di invio, che prevede un corpo in html"
				return []Receipt{
					{Sender: "posta-certificata@pecmassiva.com", Recipient: "dev-api@pecmassiva.com",
						Date: mustDate(t, "Wed, 26 Aug 2020 10:00:35 +0200"), DateText: "Wed, 26 Aug 2020 10:00:35 +0200",
						Subject: "ACCETTAZIONE: Invio di prova pec massiva 2020082610003492", Raw: exampleAcceptance},
					{Sender: `"Per conto di: dev-api@pecmassiva.com" `, Recipient: `"dev-api@pecmassiva.com" `,
						Date: mustDate(t, "Wed, 26 Aug 2020 10:00:35 +0200"), DateText: "Wed, 26 Aug 2020 10:00:35 +0200",
						Subject: "POSTA CERTIFICATA: Invio di prova pec massiva 2020082610003492", Body: body, Raw: exampleTransport},
					{Sender: "posta-certificata@pecmassiva.com", Recipient: "dev-api@pecmassiva.com",
						Date: mustDate(t, "Wed, 26 Aug 2020 10:00:36 +0200"), DateText: "Wed, 26 Aug 2020 10:00:36 +0200",
						Subject: "CONSEGNA: Invio di prova pec massiva 2020082610003492", Body: body, Raw: exampleDelivery},
				}
			},
		},
		{
			name:   "receipts code is path-escaped",
			answer: `{"data":[],"success":true,"message":""}`,
			run: func(c *Client) (any, error) {
				return c.Receipts(ctx, "a/b c")
			},
			wantMethod: "GET", wantPath: "/send/a%2Fb%20c",
			want: func(*testing.T) any { return []Receipt(nil) },
		},
		{
			name:   "delete receipts",
			answer: `{"success":true,"message":"Operation succefull"}`,
			run: func(c *Client) (any, error) {
				return nil, c.DeleteReceipts(ctx, "2020082610003492")
			},
			wantMethod: "DELETE", wantPath: "/send/2020082610003492",
			want: func(*testing.T) any { return nil },
		},
		{
			name:   "inbox with query and page",
			answer: exampleInbox,
			run: func(c *Client) (any, error) {
				return c.Inbox(ctx, "CONSEGNA: Invio", 39)
			},
			wantMethod: "GET", wantPath: "/inbox", wantQuery: "page=39&q=CONSEGNA%3A+Invio",
			want: func(t *testing.T) any {
				return &InboxPage{
					Entries: []InboxEntry{
						{"1", "posta-certificata@pecmassiva.com", "dev-api@pecmassiva.com", mustDate(t, "Wed, 26 Aug 2020 10:00:35 +0200"),
							"Wed, 26 Aug 2020 10:00:35 +0200", "ACCETTAZIONE: Invio di prova pec massiva 2020082610003492"},
						{"3", "posta-certificata@pecmassiva.com", "dev-api@pecmassiva.com", mustDate(t, "Wed, 26 Aug 2020 10:00:36 +0200"),
							"Wed, 26 Aug 2020 10:00:36 +0200", "CONSEGNA: Invio di prova pec massiva 2020082610003492"},
					},
					Total: 981, Page: 39, Pages: 39,
				}
			},
		},
		{
			name:   "inbox without query or page",
			answer: `{"data":[],"success":true,"message":"","total":0,"page":1,"n_of_pages":0}`,
			run: func(c *Client) (any, error) {
				return c.Inbox(ctx, "", 0)
			},
			wantMethod: "GET", wantPath: "/inbox", wantQuery: "",
			want: func(*testing.T) any { return &InboxPage{Page: 1} },
		},
		{
			name:   "inbox message body is form-decoded",
			answer: exampleInboxMessage,
			run: func(c *Client) (any, error) {
				return c.InboxMessage(ctx, "3")
			},
			wantMethod: "GET", wantPath: "/inbox/3",
			want: func(t *testing.T) any {
				return &InboxMessage{
					Sender: "posta-certificata@pecmassiva.com", Recipient: "altravia@pecmassiva.com",
					Date: mustDate(t, "Mon, 21 Sep 2020 15:26:37 +0200"), DateText: "Mon, 21 Sep 2020 15:26:37 +0200",
					Subject: "ACCETTAZIONE: Invio di prova pec massiva 202009211526363",
					Body:    "Ricevuta di accettazione\nIl messaggio è stato accettato 100%",
				}
			},
		},
		{
			name:   "inbox message body that is not form encoding is kept",
			answer: `{"data":{"body":"sconto del 50% oggi"},"success":true}`,
			run: func(c *Client) (any, error) {
				return c.InboxMessage(ctx, "4")
			},
			wantMethod: "GET", wantPath: "/inbox/4",
			want: func(*testing.T) any { return &InboxMessage{Body: "sconto del 50% oggi"} },
		},
		{
			name:   "delete inbox message",
			answer: `{"success":true,"message":"Message deleted"}`,
			run: func(c *Client) (any, error) {
				return nil, c.DeleteInboxMessage(ctx, "3")
			},
			wantMethod: "DELETE", wantPath: "/inbox/3",
			want: func(*testing.T) any { return nil },
		},
		{
			name:   "quota of the main mailbox by default",
			answer: exampleQuota,
			run: func(c *Client) (any, error) {
				return c.Quota(ctx, "")
			},
			wantMethod: "GET", wantPath: "/quota/INBOX",
			want: func(*testing.T) any { return &Quota{Usage: 171012, Limit: 1048576} },
		},
		{
			name:   "quota numbers as strings",
			answer: `{"data":{"usage":"12.5","limit":"1048576"},"success":true,"message":""}`,
			run: func(c *Client) (any, error) {
				return c.Quota(ctx, "Sent")
			},
			wantMethod: "GET", wantPath: "/quota/Sent",
			want: func(*testing.T) any { return &Quota{Usage: 12.5, Limit: 1048576} },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rec, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				jsonAnswer(w, 200, tt.answer)
			})
			got, err := tt.run(c)
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if want := tt.want(t); !reflect.DeepEqual(derefNil(got), derefNil(want)) {
				t.Errorf("got\n%#v\nwant\n%#v", got, want)
			}
			reqs := rec.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.method != tt.wantMethod || r.path != tt.wantPath || r.rawQuery != tt.wantQuery {
				t.Errorf("request %s %s?%s, want %s %s?%s", r.method, r.path, r.rawQuery, tt.wantMethod, tt.wantPath, tt.wantQuery)
			}
			for k, want := range map[string]string{
				"Authorization": "Bearer " + testToken,
				"X-Username":    testUser,
				"X-Password":    testPassword,
				"Content-Type":  "",
			} {
				if v := r.header.Get(k); v != want {
					t.Errorf("header %s = %q, want %q", k, v, want)
				}
			}
			if len(r.body) != 0 {
				t.Errorf("request has a body: %q", r.body)
			}
		})
	}
}

// derefNil makes a nil interface and a typed nil compare equal.
func derefNil(v any) any {
	if v == nil {
		return nil
	}
	if rv := reflect.ValueOf(v); (rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Slice) && rv.IsNil() {
		return nil
	}
	return v
}

func TestReceiptsResultEmpty(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		answer  string
		wantErr error // nil: (nil, nil)
	}{
		{"404 Result empty is normal", 404, `{"success":false,"message":"Result empty"}`, nil},
		{"200 success false Result empty", 200, `{"success":false,"message":"result empty "}`, nil},
		{"200 empty data", 200, `{"data":null,"success":true,"message":""}`, nil},
		{"other 404 is an error", 404, `<html>Not Found</html>`, ErrNotFound},
		{"401", 401, `{"success":false,"message":"Authorization is not valid or empty"}`, ErrUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { jsonAnswer(w, tt.status, tt.answer) })
			rs, err := c.Receipts(context.Background(), "2020082610003492")
			if tt.wantErr == nil {
				if err != nil || rs != nil {
					t.Fatalf("got (%v, %v), want (nil, nil)", rs, err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// TestOperationErrors runs every operation other than Send against failing answers.
func TestOperationErrors(t *testing.T) {
	ctx := context.Background()
	ops := map[string]func(*Client) error{
		"receipts":             func(c *Client) error { _, err := c.Receipts(ctx, "1234567890123456"); return err },
		"delete receipts":      func(c *Client) error { return c.DeleteReceipts(ctx, "1234567890123456") },
		"inbox":                func(c *Client) error { _, err := c.Inbox(ctx, "", 1); return err },
		"inbox message":        func(c *Client) error { _, err := c.InboxMessage(ctx, "3"); return err },
		"delete inbox message": func(c *Client) error { return c.DeleteInboxMessage(ctx, "3") },
		"quota":                func(c *Client) error { _, err := c.Quota(ctx, "INBOX"); return err },
	}
	answers := []struct {
		name   string
		status int
		body   string
		check  func(error) bool
	}{
		{"401", 401, `{"success":false,"message":"Authorization is not valid or empty"}`,
			func(err error) bool { return errors.Is(err, ErrUnauthorized) }},
		{"404 other than Result empty", 404, `{"success":false,"message":"Message not found"}`,
			func(err error) bool { return errors.Is(err, ErrNotFound) }},
		{"400 mailbox unavailable", 400, `{"success":false,"message":"An error occured: the requested mailbox might be unavailable"}`,
			func(err error) bool {
				e, ok := errors.AsType[*APIError](err)
				return ok && e.StatusCode == 400 && e.Message == "An error occured: the requested mailbox might be unavailable"
			}},
		{"500", 500, `{"success":false,"message":"MySQL Error 2006"}`,
			func(err error) bool {
				e, ok := errors.AsType[*APIError](err)
				return ok && e.StatusCode == 500 && !errors.Is(err, ErrAmbiguous)
			}},
		{"200 with success false", 200, `{"success":false,"message":"Something failed"}`,
			func(err error) bool {
				e, ok := errors.AsType[*APIError](err)
				return ok && e.StatusCode == 200 && e.Message == "Something failed"
			}},
		{"200 malformed", 200, `{"success":true,"data":`,
			func(err error) bool { return errors.Is(err, errMalformed) }},
		{"200 data of the wrong type", 200, `{"success":true,"data":"nope"}`,
			func(err error) bool { return errors.Is(err, errMalformed) }},
	}
	for opName, op := range ops {
		for _, a := range answers {
			if strings.HasPrefix(opName, "delete") && a.name == "200 data of the wrong type" {
				continue // deletes read only the envelope: no data to be wrong
			}
			t.Run(opName+"/"+a.name, func(t *testing.T) {
				c, _, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { jsonAnswer(w, a.status, a.body) })
				err := op(c)
				if err == nil || !a.check(err) {
					t.Fatalf("err = %v", err)
				}
				if errors.Is(err, ErrNotSent) || errors.Is(err, ErrAmbiguous) {
					t.Errorf("err = %v: an answer is neither not-sent nor ambiguous", err)
				}
			})
		}
	}
}

func TestOperationsNotSent(t *testing.T) {
	srv := newClosedServerURL(t)
	c := mustClient(t, srv)
	ctx := context.Background()
	for name, op := range map[string]func() error{
		"receipts":             func() error { _, err := c.Receipts(ctx, "1"); return err },
		"delete receipts":      func() error { return c.DeleteReceipts(ctx, "1") },
		"inbox":                func() error { _, err := c.Inbox(ctx, "", 1); return err },
		"inbox message":        func() error { _, err := c.InboxMessage(ctx, "1"); return err },
		"delete inbox message": func() error { return c.DeleteInboxMessage(ctx, "1") },
		"quota":                func() error { _, err := c.Quota(ctx, ""); return err },
	} {
		t.Run(name, func(t *testing.T) {
			if err := op(); !errors.Is(err, ErrNotSent) || errors.Is(err, ErrAmbiguous) {
				t.Errorf("err = %v, want ErrNotSent only", err)
			}
		})
	}
}

func TestOperationsRefuseEmptyIdentifiers(t *testing.T) {
	c, rec, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { jsonAnswer(w, 200, `{}`) })
	ctx := context.Background()
	_, err1 := c.Receipts(ctx, "")
	err2 := c.DeleteReceipts(ctx, "")
	_, err3 := c.InboxMessage(ctx, "")
	err4 := c.DeleteInboxMessage(ctx, "")
	for i, err := range []error{err1, err2, err3, err4} {
		if !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("call %d: err = %v, want ErrInvalidRequest", i+1, err)
		}
	}
	if rec.hits.Load() != 0 {
		t.Errorf("server was hit")
	}
}
