package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/client/sandbox"
)

// lineWriter is a concurrency-safe buffer that reports the URL the sandbox
// command prints, so the test waits for the server instead of sleeping.
type lineWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
	url chan string
}

var listeningRE = regexp.MustCompile(`listening on (http://\S+)`)

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	had := listeningRE.MatchString(w.buf.String())
	n, err := w.buf.Write(p)
	if m := listeningRE.FindStringSubmatch(w.buf.String()); !had && m != nil {
		w.url <- m[1]
	}
	return n, err
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// startSandbox runs `pecbatch sandbox args...` until the returned stop is
// called; it returns the printed URL.
func startSandbox(t *testing.T, args ...string) (url string, out *lineWriter, stop func() error) {
	t.Helper()
	out = &lineWriter{url: make(chan string, 1)}
	g := testGlobals(nil, out, io.Discard)
	cmd := newSandboxCommand(g)
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	select {
	case url = <-out.url:
	case err := <-done:
		cancel()
		t.Fatalf("sandbox exited before listening: %v", err)
	case <-time.After(time.Minute): // only a hang takes that long
		cancel()
		t.Fatal("sandbox did not start")
	}
	var once sync.Once
	var stopErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(time.Minute): // only a hang takes that long
				stopErr = errors.New("sandbox did not stop")
			}
		})
		return stopErr
	}
	t.Cleanup(func() { _ = stop() })
	return url, out, stop
}

func TestSandboxCommandServesAndStops(t *testing.T) {
	t.Parallel()
	url, out, stop := startSandbox(t, "--addr", "127.0.0.1:0", "--seed", "5", "--token", "tok", "--deliver-delay", "0s", "--accept-delay", "0s")
	for _, want := range []string{"token:     tok", "username:  sandbox@pec.sandbox.test", "password:  sandbox", "seed 5"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, out.String())
		}
	}

	body := `{"sender":"sandbox@pec.sandbox.test","recipient":"mario@pec.example.it","subject":"Prova","body":"Ciao","username":"sandbox@pec.sandbox.test","password":"sandbox"}`
	req, _ := http.NewRequest(http.MethodPost, url+"/send", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var sent struct {
		Sent      int    `json:"sent"`
		MessageID string `json:"message_id"`
	}
	err = json.NewDecoder(resp.Body).Decode(&sent)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated || sent.Sent != 1 {
		t.Fatalf("send: %d %+v %v", resp.StatusCode, sent, err)
	}

	req, _ = http.NewRequest(http.MethodGet, url+"/send/"+sent.MessageID, nil)
	req.Header.Set("Authorization", "Bearer tok")
	req.Header.Set("x-username", "sandbox@pec.sandbox.test")
	req.Header.Set("x-password", "sandbox")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(raw, []byte(`"CONSEGNA: Prova `+sent.MessageID+`"`)) {
		t.Fatalf("receipts with zero delays: %d %s", resp.StatusCode, raw)
	}

	if err := stop(); err != nil {
		t.Fatalf("stopping: %v", err)
	}
	if !strings.Contains(out.String(), "sandbox stopped") {
		t.Errorf("no stop message:\n%s", out.String())
	}
	if _, err := http.Get(url + "/inbox"); err == nil {
		t.Error("still serving after stop")
	}
}

// TestSandboxCommandShapes: --receipts, --fault and --daily-limit reach the
// sandbox and its banner.
func TestSandboxCommandShapes(t *testing.T) {
	t.Parallel()
	url, out, _ := startSandbox(t, "--addr", "127.0.0.1:0", "--receipts", "PEC", "--daily-limit", "1",
		"--accept-delay", "0s", "--deliver-delay", "0s", "--send-rate", "0")
	for _, want := range []string{"style:     pec receipts", "daily limit 1 PEC messages per Rome day", "fault none"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, out.String())
		}
	}
	send := func(to string) (int, string) {
		body := `{"sender":"sandbox@pec.sandbox.test","recipient":"` + to + `","subject":"Prova","body":"Ciao","username":"sandbox@pec.sandbox.test","password":"sandbox"}`
		req, _ := http.NewRequest(http.MethodPost, url+"/send", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer sandbox-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var ans struct {
			MessageID string `json:"message_id"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&ans)
		return resp.StatusCode, ans.MessageID
	}
	status, code := send("mario@pec.example.it")
	if status != http.StatusCreated {
		t.Fatalf("first send: %d", status)
	}
	if status, _ := send("anna@pec.example.it"); status != http.StatusForbidden {
		t.Errorf("a send past --daily-limit 1: %d, want 403", status)
	}
	req, _ := http.NewRequest(http.MethodGet, url+"/send/"+code, nil)
	req.Header.Set("Authorization", "Bearer sandbox-token")
	req.Header.Set("x-username", "sandbox@pec.sandbox.test")
	req.Header.Set("x-password", "sandbox")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(raw, []byte("Ricevuta di avvenuta consegna del messaggio indirizzato a mario@pec.example.it")) {
		t.Errorf("--receipts pec: the delivery receipt does not name its addressee: %s", raw)
	}

	url, _, _ = startSandbox(t, "--addr", "127.0.0.1:0", "--fault", "smtp-auth", "--send-rate", "0")
	body := `{"sender":"sandbox@pec.sandbox.test","recipient":"mario@pec.example.it","subject":"Prova","body":"Ciao","username":"sandbox@pec.sandbox.test","password":"sandbox"}`
	req, _ = http.NewRequest(http.MethodPost, url+"/send", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer sandbox-token")
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	raw, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(raw, []byte(sandbox.SMTPAuthError)) {
		t.Errorf("--fault smtp-auth: %d %s", resp.StatusCode, raw)
	}
}

func TestSandboxCommandTimeScale(t *testing.T) {
	t.Parallel()
	url, _, _ := startSandbox(t, "--addr", "127.0.0.1:0", "--time-scale", "36000", "--send-rate", "1")
	send := func() int {
		body := `{"sender":"sandbox@pec.sandbox.test","recipient":"x@slow.sandbox.test","subject":"Prova","body":"Ciao","username":"sandbox@pec.sandbox.test","password":"sandbox"}`
		req, _ := http.NewRequest(http.MethodPost, url+"/send", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer sandbox-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := send(); got != http.StatusCreated {
		t.Fatalf("first send: %d", got)
	}
	// The rate window stays in real seconds even with the clock accelerated.
	if got := send(); got != http.StatusTooManyRequests {
		t.Fatalf("second send at once: %d, want 429", got)
	}
}

func TestSandboxCommandRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"all interfaces", []string{"--addr", ":8025"}, "not a loopback address"},
		{"0.0.0.0", []string{"--addr", "0.0.0.0:8025"}, "not a loopback address"},
		{"a LAN address", []string{"--addr", "192.168.1.10:8025"}, "not a loopback address"},
		{"a host name", []string{"--addr", "example.com:8025"}, "not a loopback address"},
		{"no port", []string{"--addr", "127.0.0.1"}, "use host:port"},
		{"fail rate above 1", []string{"--fail-rate", "1.5"}, "probabilities"},
		{"negative drop rate", []string{"--drop-rate", "-0.1"}, "probabilities"},
		{"negative send rate", []string{"--send-rate", "-1"}, "--send-rate"},
		{"delivery before acceptance", []string{"--accept-delay", "5s", "--deliver-delay", "1s"}, "--deliver-delay"},
		{"expiry before warning", []string{"--warn-after", "2h", "--expire-after", "1h"}, "--expire-after"},
		{"empty token", []string{"--token", ""}, "must not be empty"},
		{"zero time scale", []string{"--time-scale", "0"}, "--time-scale"},
		{"unknown receipt style", []string{"--receipts", "postale"}, "--receipts"},
		{"unknown fault", []string{"--fault", "meteor"}, "--fault"},
		{"negative daily limit", []string{"--daily-limit", "-1"}, "--daily-limit"},
		{"an argument", []string{"extra"}, "accepts 0 arg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			cmd := newSandboxCommand(testGlobals(nil, &out, io.Discard))
			cmd.SetArgs(tc.args)
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			err := cmd.ExecuteContext(t.Context())
			var usage *usageError
			if !errors.As(err, &usage) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want a usage error about %q", err, tc.want)
			}
			if out.Len() != 0 {
				t.Fatalf("printed %q before refusing", out.String())
			}
		})
	}
}
