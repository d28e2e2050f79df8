package client

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
)

// specPath is the project's own copy of the contract: the provider's description with its known errors
// corrected (see info.x-pecbatch-corrections). TestContractAgreesWithProvider checks it against the shared
// original when one lies beside the clone.
const specPath = "testdata/openapi.json"

func newContractValidator(t *testing.T) validator.Validator {
	t.Helper()
	spec, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatalf("reading the contract: %v", err)
	}
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		t.Fatalf("parsing the contract: %v", err)
	}
	// Strict mode also reports properties, query parameters and headers the contract does not declare.
	v, errs := validator.NewValidator(doc, config.WithStrictMode())
	if len(errs) > 0 {
		t.Fatalf("building the validator: %v", errs)
	}
	return v
}

// asSpecRequest rebuilds a captured request as a request to the production server of the contract.
func asSpecRequest(t *testing.T, c captured) *http.Request {
	t.Helper()
	target := ProductionURL + c.path
	if c.rawQuery != "" {
		target += "?" + c.rawQuery
	}
	r, err := http.NewRequest(c.method, target, bytes.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header = c.header.Clone()
	return r
}

func validationErrors(v validator.Validator, r *http.Request) string {
	ok, errs := v.ValidateHttpRequestSync(r)
	if ok {
		return ""
	}
	var b strings.Builder
	for _, e := range errs {
		b.WriteString(e.Error())
		for _, s := range e.SchemaValidationErrors {
			b.WriteString("; " + s.Reason)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestRequestsFollowTheContract makes every request of the client (all seven operations, a send with
// attachments in both encodings) and validates each against the project's contract.
func TestRequestsFollowTheContract(t *testing.T) {
	v := newContractValidator(t)
	answers := map[string]string{
		"POST /send":    okSend,
		"GET /send":     exampleReceipts,
		"DELETE /send":  `{"success":true,"message":"Operation succefull"}`,
		"GET /inbox":    exampleInbox,
		"DELETE /inbox": `{"success":true,"message":"Message deleted"}`,
		"GET /quota":    exampleQuota,
	}
	handler := func(w http.ResponseWriter, r *http.Request) {
		key := r.Method + " /" + strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")[0]
		body := answers[key]
		if key == "GET /inbox" && r.URL.Path != "/inbox" {
			body = exampleInboxMessage
		}
		status := 200
		if key == "POST /send" {
			status = 201
		}
		jsonAnswer(w, status, body)
	}
	ctx := context.Background()
	withAttachments := sampleSend()
	withAttachments.Recipients = append(withAttachments.Recipients, "anna.bianchi@pec.example.test")
	withAttachments.Attachments = []Attachment{
		{Name: "avviso.pdf", ContentType: "application/pdf", Content: []byte("%PDF-1.4")},
		{Name: "nota.txt", ContentType: "text/plain; charset=utf-8", Content: []byte("ciao")},
	}
	for _, variant := range []struct {
		name string
		opts []Option
	}{{"data URI", nil}, {"raw base64", []Option{WithRawBase64()}}} {
		t.Run(variant.name, func(t *testing.T) {
			c, rec, _ := newTestClient(t, handler, variant.opts...)
			calls := []struct {
				name string
				run  func() error
			}{
				{"send", func() error { _, err := c.Send(ctx, sampleSend()); return err }},
				{"send with attachments", func() error { _, err := c.Send(ctx, withAttachments); return err }},
				{"receipts", func() error { _, err := c.Receipts(ctx, "2020082610003492"); return err }},
				{"delete receipts", func() error { return c.DeleteReceipts(ctx, "2020082610003492") }},
				{"inbox", func() error { _, err := c.Inbox(ctx, "", 0); return err }},
				{"inbox with query", func() error { _, err := c.Inbox(ctx, "CONSEGNA: Invio", 2); return err }},
				{"inbox message", func() error { _, err := c.InboxMessage(ctx, "3"); return err }},
				{"delete inbox message", func() error { return c.DeleteInboxMessage(ctx, "3") }},
				{"quota", func() error { _, err := c.Quota(ctx, ""); return err }},
			}
			for _, call := range calls {
				if err := call.run(); err != nil {
					t.Fatalf("%s: %v", call.name, err)
				}
			}
			reqs := rec.requests()
			if len(reqs) != len(calls) {
				t.Fatalf("%d requests for %d calls", len(reqs), len(calls))
			}
			for i, captured := range reqs {
				if msg := validationErrors(v, asSpecRequest(t, captured)); msg != "" {
					t.Errorf("%s (%s %s) breaks the contract:\n%s", calls[i].name, captured.method, captured.path, msg)
				}
			}
		})
	}
}

// TestContractValidatorRejectsMismatches proves the validator above can fail: requests that break the
// contract in the ways a client could must be reported.
func TestContractValidatorRejectsMismatches(t *testing.T) {
	v := newContractValidator(t)
	good := captured{
		method: "GET", path: "/send/2020082610003492",
		header: http.Header{"Authorization": {"Bearer t"}, "X-Username": {"u"}, "X-Password": {"p"}},
	}
	goodSend := captured{
		method: "POST", path: "/send",
		header: http.Header{"Authorization": {"Bearer t"}, "Content-Type": {"application/json"}},
		body:   []byte(`{"sender":"a@b.it","recipient":["c@d.it"],"subject":"s","body":"b","attachments":[{"name":"a","file":"data:text/plain;base64,YQ=="}],"username":"u","password":"p"}`),
	}
	if msg := validationErrors(v, asSpecRequest(t, good)); msg != "" {
		t.Fatalf("the good GET is refused:\n%s", msg)
	}
	if msg := validationErrors(v, asSpecRequest(t, goodSend)); msg != "" {
		t.Fatalf("the good send is refused:\n%s", msg)
	}
	tests := []struct {
		name   string
		mutate func(*captured)
	}{
		{"no x-password", func(c *captured) { *c = good; c.header = c.header.Clone(); c.header.Del("X-Password") }},
		{"no Authorization", func(c *captured) { *c = good; c.header = c.header.Clone(); c.header.Del("Authorization") }},
		{"unknown path", func(c *captured) { *c = good; c.path = "/receipts/1" }},
		{"unknown method", func(c *captured) { *c = good; c.method = "PUT" }},
		{"id not a number", func(c *captured) { *c = good; c.path = "/inbox/abc" }},
		{"undeclared query parameter", func(c *captured) { *c = good; c.path = "/inbox"; c.rawQuery = "limit=5" }},
		{"page not a number", func(c *captured) { *c = good; c.path = "/inbox"; c.rawQuery = "page=last" }},
		{"recipient a number", func(c *captured) {
			*c = goodSend
			c.body = []byte(strings.Replace(string(goodSend.body), `["c@d.it"]`, `42`, 1))
		}},
		{"attachments a string", func(c *captured) {
			*c = goodSend
			c.body = []byte(strings.Replace(string(goodSend.body), `[{"name":"a","file":"data:text/plain;base64,YQ=="}]`, `"YQ=="`, 1))
		}},
		{"undeclared body field", func(c *captured) {
			*c = goodSend
			c.body = []byte(strings.Replace(string(goodSend.body), `"sender"`, `"from":"x","sender"`, 1))
		}},
		{"body not JSON", func(c *captured) { *c = goodSend; c.body = []byte("sender=a") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c captured
			tt.mutate(&c)
			if msg := validationErrors(v, asSpecRequest(t, c)); msg == "" {
				t.Errorf("a request breaking the contract was accepted")
			}
		})
	}
}
