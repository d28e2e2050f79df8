package sandbox

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzDecodeSendRequest feeds arbitrary bodies to the POST /send decoding.
// It must never panic; whatever it refuses is errInvalidRequest; whatever it
// accepts holds only valid, distinct recipients and decodes again, from its
// own canonical form, to the same request.
func FuzzDecodeSendRequest(f *testing.F) {
	png := "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAHnOcQAAAAABJRU5ErkJggg=="
	for _, seed := range []string{
		`{"sender":"dev-api@pecmassiva.com","recipient":["dev-api@pecmassiva.com"],"subject":"Invio di prova pec massiva","body":"Salve, <b>corpo in html</b>","attachments":[{"name":"allegato1.png","file":"` + png + `"}],"username":"u","password":"p"}`,
		`{"sender":"a@pec.it","recipient":"b@pec.it","subject":"s","body":"b","attachments":{"name":"a.txt","file":"aGVsbG8="}}`,
		`{"sender":"a@pec.it","recipient":["b@pec.it","B@PEC.IT","c@ordinary.sandbox.test"],"subject":"s","body":"b","attachments":null}`,
		`{"sender":"a@pec.it","recipient":[],"subject":"s","body":"b"}`,
		`{"sender":"a@pec.it","recipient":"b@pec","subject":"s","body":"b"}`,
		`{"sender":"a@pec.it","recipient":"b@pec.it","subject":"s","body":"b","attachments":[{"name":"x","file":"data:text/plain,hi"}]}`,
		`{"sender":"a@pec.it","recipient":"b@pec.it","subject":"s","body":"b","attachments":[null]}`,
		`{"sender":"\"q\"@pec.it","recipient":"<b@pec.it>","subject":"s\n","body":" "}`,
		`{} {}`, `[]`, `null`, `{"recipient":1}`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		raw, err := decodeSendRequest(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, errInvalidRequest) {
				t.Fatalf("decode error %v is not errInvalidRequest", err)
			}
			return
		}
		req, err := raw.validate()
		if err != nil {
			if !errors.Is(err, errInvalidRequest) {
				t.Fatalf("validate error %v is not errInvalidRequest", err)
			}
			return
		}
		if !validAddress(req.Sender) || len(req.Recipients) == 0 || strings.TrimSpace(req.Subject) == "" || strings.TrimSpace(req.Body) == "" {
			t.Fatalf("accepted an incomplete request: %+v", req)
		}
		seen := map[string]bool{}
		for _, r := range req.Recipients {
			if !validAddress(r) || seen[strings.ToLower(r)] {
				t.Fatalf("accepted recipient %q (repeated: %v)", r, seen[strings.ToLower(r)])
			}
			seen[strings.ToLower(r)] = true
		}

		// Re-encode canonically and decode again: the same request must
		// come out.
		attachments := make([]map[string]string, len(req.Attachments))
		for i, a := range req.Attachments {
			if len(req.Files[i]) != a.Size {
				t.Fatalf("attachment %q: %d bytes kept, size %d", a.Name, len(req.Files[i]), a.Size)
			}
			attachments[i] = map[string]string{"name": a.Name, "file": base64.StdEncoding.EncodeToString(req.Files[i])}
		}
		canonical, err := json.Marshal(map[string]any{
			"sender": req.Sender, "recipient": req.Recipients, "subject": req.Subject, "body": req.Body,
			"attachments": attachments, "username": raw.Username, "password": raw.Password,
		})
		if err != nil {
			t.Fatal(err)
		}
		again, err := decodeSendRequest(bytes.NewReader(canonical))
		if err != nil {
			t.Fatalf("canonical form refused: %v", err)
		}
		req2, err := again.validate()
		if err != nil {
			t.Fatalf("canonical form refused: %v\n%s", err, canonical)
		}
		if !reflect.DeepEqual(req, req2) {
			t.Fatalf("round trip changed the request:\n%+v\n%+v", req, req2)
		}
	})
}
