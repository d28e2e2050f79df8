package sandbox_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/pecbatch/pecbatch/client/sandbox"
)

// contractPath is the project's own copy of the contract (the provider's
// file with its known errors corrected), kept in the repository so the tests
// need nothing outside it.
const contractPath = "../testdata/openapi.json"

// exchange is one request and its answer, as they went over the wire.
type exchange struct {
	req      *http.Request
	reqBody  []byte
	resp     *http.Response
	respBody []byte
}

// recorder is a RoundTripper that keeps every exchange.
type recorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	list []exchange
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		var err error
		if reqBody, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := r.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	respBody, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	r.mu.Lock()
	r.list = append(r.list, exchange{req: req, reqBody: reqBody, resp: resp, respBody: respBody})
	r.mu.Unlock()
	return resp, nil
}

// CloseIdleConnections lets httptest.Server.Close reach the real transport.
func (r *recorder) CloseIdleConnections() {
	if c, ok := r.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (r *recorder) attach(h *harness) {
	client := h.srv.Client()
	r.base = client.Transport
	client.Transport = r
}

// spec is the contract, decoded for the example checks.
type spec struct {
	Paths map[string]map[string]struct {
		Responses map[string]struct {
			Content map[string]struct {
				Example any `json:"example"`
			} `json:"content"`
		} `json:"responses"`
	} `json:"paths"`
}

// templateOf maps a request path to the contract's path template.
func (s *spec) templateOf(path string) string {
	for tpl := range s.Paths {
		pattern := "^" + regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(tpl), `[^/]+`) + "$"
		if regexp.MustCompile(pattern).MatchString(path) {
			return tpl
		}
	}
	return ""
}

// deviations are the answers whose message differs from the contract's
// example on purpose (the sandbox's package doc explains each).
var deviations = map[string]string{
	"DELETE /inbox/{id} 200": "Message not found",
}

// TestContract drives every status code of every operation and validates
// each answer the sandbox gave against client/testdata/openapi.json with
// libopenapi-validator, then against the contract's examples: same fields
// of the same types, and for errors the very same message.
func TestContract(t *testing.T) {
	raw, err := os.ReadFile(contractPath)
	if err != nil {
		t.Fatalf("reading the contract: %v", err)
	}
	doc, err := libopenapi.NewDocument(raw)
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var contract spec
	if err := json.Unmarshal(raw, &contract); err != nil {
		t.Fatal(err)
	}

	rec := &recorder{}
	runContractScenario(t, rec)

	covered := map[string]bool{}
	for _, ex := range rec.list {
		tpl := contract.templateOf(ex.req.URL.Path)
		if tpl == "" || strings.HasPrefix(ex.req.URL.Path, "/_sandbox/") {
			continue
		}
		key := fmt.Sprintf("%s %s %d", ex.req.Method, tpl, ex.resp.StatusCode)
		covered[key] = true
		t.Run(key, func(t *testing.T) {
			ex.resp.Body = io.NopCloser(bytes.NewReader(ex.respBody))
			if ok, verrs := v.ValidateHttpResponse(ex.req, ex.resp); !ok {
				for _, e := range verrs {
					t.Errorf("%s %s → %d %s: %s (%s)", ex.req.Method, ex.req.URL, ex.resp.StatusCode, ex.respBody, e.Message, e.Reason)
				}
			}
			if ex.resp.StatusCode/100 == 2 {
				// What the sandbox accepted must be a request the contract allows.
				req := ex.req.Clone(ex.req.Context())
				req.Body = io.NopCloser(bytes.NewReader(ex.reqBody))
				if ok, verrs := v.ValidateHttpRequest(req); !ok {
					for _, e := range verrs {
						t.Errorf("accepted request %s %s is not valid: %s (%s)", ex.req.Method, ex.req.URL, e.Message, e.Reason)
					}
				}
			}
			example := contract.Paths[tpl][strings.ToLower(ex.req.Method)].Responses[fmt.Sprint(ex.resp.StatusCode)].Content["application/json"].Example
			var got any
			if err := json.Unmarshal(ex.respBody, &got); err != nil {
				t.Fatalf("answer is not JSON: %v", err)
			}
			if err := sameShape(example, got, "$"); err != nil {
				t.Errorf("answer %s does not have the shape of the contract's example: %v", ex.respBody, err)
			}
			wantMsg, _ := example.(map[string]any)["message"].(string)
			gotMsg, _ := got.(map[string]any)["message"].(string)
			if d, ok := deviations[key]; ok && gotMsg == d {
				return
			}
			if example.(map[string]any)["success"] == false {
				pattern := "^" + strings.ReplaceAll(regexp.QuoteMeta(wantMsg), `\{error code\}`, `[0-9]+`) + "$"
				if !regexp.MustCompile(pattern).MatchString(gotMsg) {
					t.Errorf("message %q, the contract says %q", gotMsg, wantMsg)
				}
			}
		})
	}

	for path, methods := range contract.Paths {
		for method, op := range methods {
			for status := range op.Responses {
				key := fmt.Sprintf("%s %s %s", strings.ToUpper(method), path, status)
				if !covered[key] {
					t.Errorf("no answer %s was produced and validated", key)
				}
			}
		}
	}
	if t.Failed() {
		var keys []string
		for k := range covered {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		t.Logf("covered: %s", strings.Join(keys, "; "))
	}
}

// runContractScenario produces one answer of every documented status code.
func runContractScenario(t *testing.T, rec *recorder) {
	h := newHarness(t, func(o *sandbox.Options) { o.SendRate = 1 })
	rec.attach(h)

	example := h.sendBody([]string{"dev-api@pecmassiva.com"}, testSubject)
	example["attachments"] = []map[string]string{{"name": "allegato1.png", "file": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAHnOcQAAAAABJRU5ErkJggg=="}}
	code := h.post(example).json["message_id"].(string) // 201
	h.post(h.sendBody("a@pec.example.it", testSubject)) // 429
	h.receipts(code)                                    // 404 Result empty
	h.delete("/send/" + code)                           // 404 Email not found
	h.advanceTo(time.Second)
	h.post(h.sendBody("not an address", testSubject)) // 400
	noToken := h.request(http.MethodPost, "/send", []byte(`{}`))
	noToken.Header.Del("Authorization")
	h.do(noToken) // 401
	single := h.sendBody("x@slow.sandbox.test", "Oggetto singolo")
	single["attachments"] = map[string]string{"name": "a.txt", "file": "aGVsbG8="}
	h.post(single) // 201, the single-object forms
	h.advanceTo(12*time.Hour + 3*time.Second)

	for _, path := range []string{"/send/" + code, "/inbox", "/inbox?q=consegna&page=1", "/inbox/1", "/quota/INBOX"} {
		h.get(path) // 200
		r := h.request(http.MethodGet, path, nil)
		r.Header.Set("Authorization", "Bearer wrong")
		h.do(r) // 401
	}
	h.get("/inbox/9999")      // 404
	h.get("/quota/Sent")      // 400
	h.delete("/inbox/1")      // 200 Message deleted
	h.delete("/inbox/1")      // 200 success false
	h.delete("/send/" + code) // 200
	for _, path := range []string{"/inbox/2", "/send/" + code} {
		r := h.request(http.MethodDelete, path, nil)
		r.Header.Set("x-password", "wrong")
		h.do(r) // 401
	}
	h.get("/_sandbox/sends")

	failing := newHarness(t, func(o *sandbox.Options) { o.FailRate = 1 })
	rec.attach(failing)
	failing.post(failing.sendBody("a@pec.example.it", testSubject)) // 500

	// Every receipt of every magic domain, in every style, must fit the
	// contract too: one send to all of them, and a refused one.
	var everyDomain []string
	for _, d := range magicDomains {
		if d != sandbox.DomainVirus && d != sandbox.DomainReject {
			everyDomain = append(everyDomain, "x@"+d)
		}
	}
	for _, style := range sandbox.ReceiptStyles {
		sh := newHarness(t, func(o *sandbox.Options) { o.Receipts = style })
		rec.attach(sh)
		codes := []string{
			sh.mustSend(append([]string{testSender}, everyDomain...), testSubject),
			sh.mustSend([]string{"a@pec.example.it", "v@virus.sandbox.test"}, testSubject),
		}
		sh.advanceTo(48 * time.Hour)
		for _, code := range codes {
			sh.get("/send/" + code) // 200
		}
		sh.get("/inbox")
	}

	// The SMTP refusals are 201 answers of the documented shape; the daily
	// cap (403) and the proxy's HTML 502 are outside the contract and are
	// checked in faults_test.go.
	for _, f := range []sandbox.Fault{sandbox.FaultSMTPAuth, sandbox.FaultSMTPAuthFalse} {
		fh := newHarness(t, func(o *sandbox.Options) { o.Fault = f })
		rec.attach(fh)
		fh.post(fh.sendBody("a@pec.example.it", testSubject)) // 201
	}
}

// magicDomains are every recipient domain that scripts receipts.
var magicDomains = []string{
	sandbox.DomainInvalid, sandbox.DomainFull, sandbox.DomainSlow, sandbox.DomainExpire,
	sandbox.DomainOrdinary, sandbox.DomainVirus, sandbox.DomainReject, sandbox.DomainCharge,
	sandbox.DomainInfected, sandbox.DomainAnomaly, sandbox.DomainSecurity, sandbox.DomainDuplicate,
	sandbox.DomainUnsorted, sandbox.DomainForeign,
}

// sameShape reports whether got has exactly the fields of the contract's
// example, recursively, with values of the same JSON types.
func sameShape(example, got any, at string) error {
	switch ex := example.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: %T, want an object", at, got)
		}
		for k := range ex {
			if _, ok := g[k]; !ok {
				return fmt.Errorf("%s.%s missing", at, k)
			}
		}
		for k := range g {
			if _, ok := ex[k]; !ok {
				return fmt.Errorf("%s.%s is not in the contract", at, k)
			}
			if err := sameShape(ex[k], g[k], at+"."+k); err != nil {
				return err
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			return fmt.Errorf("%s: %T, want an array", at, got)
		}
		for i, item := range g {
			if len(ex) > 0 {
				if err := sameShape(ex[0], item, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		}
	default:
		if fmt.Sprintf("%T", example) != fmt.Sprintf("%T", got) {
			return fmt.Errorf("%s: %T, the contract has %T", at, got, example)
		}
	}
	return nil
}

// TestContractValidatorCatchesMismatches proves the validation above can
// fail: answers that break the contract are reported.
func TestContractValidatorCatchesMismatches(t *testing.T) {
	raw, err := os.ReadFile(contractPath)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := libopenapi.NewDocument(raw)
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, tc := range []struct {
		name, method, path string
		status             int
		body               string
	}{
		{"sent as a string", http.MethodPost, "/send", 201, `{"success":true,"sent":"1","message":"","message_id":"2020082610003492"}`},
		{"an undocumented status", http.MethodDelete, "/inbox/3", 404, `{"success":false,"message":"Message not found"}`},
		{"data not an array", http.MethodGet, "/send/2020082610003492", 200, `{"data":{},"success":true,"message":""}`},
		{"id a string", http.MethodGet, "/inbox", 200, `{"data":[{"id":"3"}],"success":true,"message":"","total":1,"page":1,"n_of_pages":1}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, "http://127.0.0.1"+tc.path, nil)
			resp := &http.Response{
				StatusCode: tc.status,
				Header:     http.Header{"Content-Type": {"application/json"}},
				Body:       io.NopCloser(strings.NewReader(tc.body)),
				Request:    req,
			}
			if ok, _ := v.ValidateHttpResponse(req, resp); ok {
				t.Fatal("the validator accepted an answer the contract forbids")
			}
		})
	}
	t.Run("a request with recipient a number", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/send", strings.NewReader(`{"sender":"a@b.it","recipient":5,"subject":"s","body":"b"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer x")
		if ok, _ := v.ValidateHttpRequest(req); ok {
			t.Fatal("the validator accepted a request the contract forbids")
		}
	})
	if err := sameShape(map[string]any{"success": true, "message": ""}, map[string]any{"success": true, "message": "", "extra": 1.0}, "$"); err == nil {
		t.Fatal("sameShape accepted an extra field")
	}
}
