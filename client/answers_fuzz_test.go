package client

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// FuzzSendAnswer decodes arbitrary answers to POST /send (status, Content-Type, body) and checks what the
// client makes of them against an independent reading of the body.
func FuzzSendAnswer(f *testing.F) {
	seeds := []struct {
		status      int
		contentType string
		body        string
	}{
		{201, "application/json", okSend},
		{201, "application/json", `{"success":true,"sent":1,"message_id":" 2026113020185802 "}`},
		{201, "application/json", `{"success":true,"message_id":2026113020185802}`},
		{201, "application/json", `{"success":true,"sent":0,"message_id":"2026113020185802"}`},
		{201, "application/json", `{"success":true,"sent":"0","message_id":"535 5.7.8 Error: authentication failed"}`},
		{201, "application/json", `{"success":true,"message_id":"SMTP Error: Could not authenticate."}`},
		{200, "application/json", `{"success":false,"message":"Post parameter is not valid"}`},
		{200, "application/json", `{"success":false,"sent":1,"message_id":"2026113020185802"}`},
		{400, "application/json", `{"success":false,"message":"An error occured: the requested mailbox might be unavailable"}`},
		{401, "application/json", `{"success":false,"message":"Authorization is not valid or empty"}`},
		{404, "text/html", "<html><title>404 Not Found</title></html>"},
		{502, "", "<!DOCTYPE html><title>Bad Gateway</title>"},
		{500, "application/json", `{"success":false,"message":"MySQL Error 2006 ` + testPassword + `"}`},
		{301, "", ""},
		{201, "application/json; charset=utf-8", "\uFEFF" + okSend},
	}
	for _, s := range seeds {
		f.Add(s.status, s.contentType, s.body)
	}
	c, err := NewClient("http://127.0.0.1:1", WithToken(testToken), WithCredentials(testUser, testPassword))
	if err != nil {
		f.Fatal(err)
	}
	secretForms := []string{testToken, testPassword, url.QueryEscape(testPassword), url.QueryEscape(testToken)}
	f.Fuzz(func(t *testing.T, status int, contentType, body string) {
		if status < 100 || status > 999 || status == http.StatusTooManyRequests {
			return // not an HTTP status; a 429 is retried before decoding
		}
		a := &answer{status: status, header: http.Header{}, body: []byte(body)}
		if contentType != "" {
			a.header.Set("Content-Type", contentType)
		}
		res, err := c.decodeSendAnswer(a)
		if (res == nil) == (err == nil) {
			t.Fatalf("result %v and error %v", res, err)
		}
		if err == nil {
			id, sent, sentPresent, ok := readSendAnswer(body)
			switch {
			case status/100 != 2 || isHTML(a):
				t.Fatalf("%d %q %q read as a send %+v", status, contentType, body, res)
			case !ok:
				if !plausibleCode(res.MessageID) || res.Sent < 0 {
					t.Fatalf("%q read as %+v", body, res)
				}
			case res.MessageID != id || !plausibleCode(id):
				t.Fatalf("message id %q from %q (answer's %q)", res.MessageID, body, id)
			case sentPresent && (sent < 1 || res.Sent != int(sent)):
				t.Fatalf("sent %v read as a send %+v", sent, res)
			case !sentPresent && res.Sent != 0:
				t.Fatalf("no sent count, result %+v", res)
			}
			return
		}
		if got := proves(err); got == "contradictory" || got == "unclassified" || got == "not sent" ||
			got == "rate-limited, not sent" {
			t.Fatalf("%d %q: %s error %v", status, body, got, err)
		}
		if status/100 == 5 && !errors.Is(err, ErrAmbiguous) {
			t.Fatalf("a 5xx must leave the outcome unknown: %v", err)
		}
		if status/100 == 4 && errors.Is(err, ErrAmbiguous) {
			t.Fatalf("a 4xx proves nothing was sent: %v", err)
		}
		if _, refused := errors.AsType[*APIError](err); refused && !errors.Is(err, ErrAmbiguous) &&
			status/100 != 2 && status != 400 && status != 413 && status != 422 && classifyText(body) == textUnknown {
			t.Fatalf("%d refuses the row without a word about it: %v", status, err)
		}
		for _, s := range secretForms {
			if strings.Contains(err.Error(), s) {
				t.Fatalf("secret in %v", err)
			}
		}
	})
}

// readSendAnswer reads message_id (trimmed) and sent from a body with encoding/json alone, as a check on
// the client's own decoding. ok is false when the body is not one JSON object.
func readSendAnswer(body string) (id string, sent float64, sentPresent, ok bool) {
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(strings.TrimPrefix(body, "\uFEFF")))
	dec.UseNumber()
	if dec.Decode(&m) != nil || m == nil {
		return "", 0, false, false
	}
	// encoding/json matches keys case-insensitively, the last one winning: with two spellings of a key
	// the map cannot tell which one the client read.
	m, ok = foldKeys(m)
	switch v := m["message_id"].(type) {
	case string:
		id = strings.TrimSpace(v)
	case json.Number:
		id = v.String()
	}
	switch v := m["sent"].(type) {
	case json.Number:
		sent, _ = strconv.ParseFloat(v.String(), 64)
		sentPresent = true
	case string:
		var err error
		if sent, err = strconv.ParseFloat(v, 64); err != nil || v == "" {
			sent = math.NaN()
		}
		sentPresent = v != ""
	}
	return id, sent, sentPresent, ok
}

// foldKeys returns m with its keys in lower case; ok is false when two keys fold to the same one.
func foldKeys(m map[string]any) (map[string]any, bool) {
	out := make(map[string]any, len(m))
	for k, v := range m {
		lk := strings.ToLower(k)
		if _, dup := out[lk]; dup {
			return out, false
		}
		out[lk] = v
	}
	return out, true
}
