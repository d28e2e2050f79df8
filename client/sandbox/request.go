package sandbox

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
)

// errInvalidRequest is the cause of every 400 "Post parameter is not valid"
// answer; the wrapped text says which rule failed (for logs and tests only:
// the contract's answer does not say).
var errInvalidRequest = errors.New("invalid send request")

// rawSendRequest is the JSON body of POST /send as it arrives. recipient and
// attachments keep their raw form because the contract allows a string or an
// array, and one object or an array.
type rawSendRequest struct {
	Sender      *string         `json:"sender"`
	Recipient   json.RawMessage `json:"recipient"`
	Subject     *string         `json:"subject"`
	Body        *string         `json:"body"`
	Attachments json.RawMessage `json:"attachments"`
	Username    string          `json:"username"`
	Password    string          `json:"password"`
}

type rawAttachment struct {
	Name *string `json:"name"`
	File *string `json:"file"`
}

// sendRequest is a validated POST /send: what the sandbox records and derives
// receipts from.
type sendRequest struct {
	Sender      string
	Recipients  []string // distinct, case-insensitively, in request order
	Subject     string
	Body        string
	Attachments []SentAttachment
	Files       [][]byte // the attachments' decoded contents
	BodySHA256  string
}

// decodeSendRequest reads the JSON body of POST /send. It checks only that the
// body is one JSON object whose scalar fields have the right types: the
// credentials must be checked (401) before the fields are validated (400).
func decodeSendRequest(r io.Reader) (*rawSendRequest, error) {
	dec := json.NewDecoder(r)
	var raw rawSendRequest
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: body: %w", errInvalidRequest, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: body: data after the JSON object", errInvalidRequest)
	}
	return &raw, nil
}

// validate applies the rules of POST /send and returns the request to act on.
func (raw *rawSendRequest) validate() (*sendRequest, error) {
	req := &sendRequest{}
	switch {
	case raw.Sender == nil:
		return nil, fmt.Errorf("%w: sender missing", errInvalidRequest)
	case !validAddress(*raw.Sender):
		return nil, fmt.Errorf("%w: sender %q is not an address", errInvalidRequest, *raw.Sender)
	case raw.Subject == nil || strings.TrimSpace(*raw.Subject) == "":
		return nil, fmt.Errorf("%w: subject missing", errInvalidRequest)
	case strings.ContainsAny(*raw.Subject, "\r\n"):
		// The subject becomes a header line of the PEC message.
		return nil, fmt.Errorf("%w: subject contains a line break", errInvalidRequest)
	case raw.Body == nil || strings.TrimSpace(*raw.Body) == "":
		return nil, fmt.Errorf("%w: body missing", errInvalidRequest)
	}
	req.Sender, req.Subject, req.Body = *raw.Sender, *raw.Subject, *raw.Body

	recipients, err := decodeRecipients(raw.Recipient)
	if err != nil {
		return nil, err
	}
	req.Recipients = recipients

	attachments, files, err := decodeAttachments(raw.Attachments)
	if err != nil {
		return nil, err
	}
	req.Attachments, req.Files = attachments, files

	sum := sha256.Sum256([]byte(req.Body))
	req.BodySHA256 = hex.EncodeToString(sum[:])
	return req, nil
}

// decodeRecipients accepts one address as a string or a non-empty array of
// addresses. Repeated addresses (compared case-insensitively) count once:
// one mailbox gets one copy, so `sent` counts distinct recipients.
func decodeRecipients(raw json.RawMessage) ([]string, error) {
	var list []string
	switch firstByte(raw) {
	case '"':
		var one string
		if err := json.Unmarshal(raw, &one); err != nil {
			return nil, fmt.Errorf("%w: recipient: %w", errInvalidRequest, err)
		}
		list = []string{one}
	case '[':
		var elems []*string
		if err := json.Unmarshal(raw, &elems); err != nil {
			return nil, fmt.Errorf("%w: recipient: %w", errInvalidRequest, err)
		}
		for _, e := range elems {
			if e == nil {
				return nil, fmt.Errorf("%w: recipient: null in the list", errInvalidRequest)
			}
			list = append(list, *e)
		}
	default:
		return nil, fmt.Errorf("%w: recipient missing or neither a string nor an array", errInvalidRequest)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%w: recipient list is empty", errInvalidRequest)
	}
	seen := make(map[string]bool, len(list))
	out := make([]string, 0, len(list))
	for _, addr := range list {
		if !validAddress(addr) {
			return nil, fmt.Errorf("%w: recipient %q is not an address", errInvalidRequest, addr)
		}
		key := strings.ToLower(addr)
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, addr)
	}
	return out, nil
}

// decodeAttachments accepts nothing, one {name, file} object or an array of
// them, where file is a data URI (data:<mime>;base64,<data>) or raw base64.
func decodeAttachments(raw json.RawMessage) ([]SentAttachment, [][]byte, error) {
	var list []rawAttachment
	switch firstByte(raw) {
	case 0, 'n': // absent or null
		if len(raw) > 0 && string(bytes.TrimSpace(raw)) != "null" {
			return nil, nil, fmt.Errorf("%w: attachments: not an object or array", errInvalidRequest)
		}
		return []SentAttachment{}, [][]byte{}, nil
	case '{':
		var one rawAttachment
		if err := json.Unmarshal(raw, &one); err != nil {
			return nil, nil, fmt.Errorf("%w: attachments: %w", errInvalidRequest, err)
		}
		list = []rawAttachment{one}
	case '[':
		var elems []*rawAttachment
		if err := json.Unmarshal(raw, &elems); err != nil {
			return nil, nil, fmt.Errorf("%w: attachments: %w", errInvalidRequest, err)
		}
		for _, e := range elems {
			if e == nil {
				return nil, nil, fmt.Errorf("%w: attachments: null in the list", errInvalidRequest)
			}
			list = append(list, *e)
		}
	default:
		return nil, nil, fmt.Errorf("%w: attachments: not an object or array", errInvalidRequest)
	}
	out := make([]SentAttachment, 0, len(list))
	files := make([][]byte, 0, len(list))
	for i, a := range list {
		if a.Name == nil || strings.TrimSpace(*a.Name) == "" {
			return nil, nil, fmt.Errorf("%w: attachment %d: name missing", errInvalidRequest, i+1)
		}
		if a.File == nil || *a.File == "" {
			return nil, nil, fmt.Errorf("%w: attachment %d: file missing", errInvalidRequest, i+1)
		}
		content, err := decodeFile(*a.File)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: attachment %d: %w", errInvalidRequest, i+1, err)
		}
		out = append(out, SentAttachment{Name: *a.Name, Size: len(content)})
		files = append(files, content)
	}
	return out, files, nil
}

// decodeFile decodes an attachment's file field: a base64 data URI, as the
// contract's example sends, or raw standard base64, as some clients send.
func decodeFile(file string) ([]byte, error) {
	data := file
	if rest, ok := strings.CutPrefix(file, "data:"); ok {
		meta, payload, found := strings.Cut(rest, ",")
		if !found || !strings.HasSuffix(meta, ";base64") {
			return nil, errors.New("data URI is not base64")
		}
		data = payload
	}
	content, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return nil, fmt.Errorf("file is not base64: %w", err)
	}
	return content, nil
}

// validAddress reports whether s is a bare address local@domain as a PEC
// provider accepts it: no display name, no quoted local part, ASCII only, and
// a domain of at least two dot-separated labels.
func validAddress(s string) bool {
	if s == "" || len(s) > 254 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	parsed, err := mail.ParseAddress(s)
	if err != nil || parsed.Name != "" || parsed.Address != s {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	if local == "" || len(local) > 64 || strings.ContainsAny(local, `"\`) {
		return false
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, label := range labels {
		if !validLabel(label) {
			return false
		}
	}
	tld := labels[len(labels)-1]
	for i := 0; i < len(tld); i++ {
		if !isLetter(tld[i]) {
			return false
		}
	}
	return len(tld) >= 2
}

func validLabel(label string) bool {
	if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
		return false
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		if !isLetter(c) && !(c >= '0' && c <= '9') && c != '-' {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// firstByte returns the first non-space byte of a raw JSON value, 0 if none.
func firstByte(raw json.RawMessage) byte {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		return 0
	}
	return trimmed[0]
}
