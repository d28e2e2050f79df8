package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// The API's answers are decoded tolerantly: unknown fields are ignored, null counts as absent, and scalar
// fields are accepted as a JSON string or a number, because PHP services are loose about both.

// flexString is a JSON string, or an integer kept as its decimal text (an inbox id, a numeric message_id).
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*f = ""
		return nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	case isIntegerLiteral(b):
		*f = flexString(b)
		return nil
	}
	return errors.New("expected a string or an integer")
}

func isIntegerLiteral(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// flexNumber is a JSON number, or a string holding one.
type flexNumber float64

func (f *flexNumber) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		*f = 0
		return nil
	}
	text := string(b)
	if b[0] == '"' {
		if err := json.Unmarshal(b, &text); err != nil {
			return err
		}
		if text == "" {
			*f = 0
			return nil
		}
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return errors.New("expected a number")
	}
	*f = flexNumber(v)
	return nil
}

// int converts f to an int, saturating rather than overflowing.
func (f flexNumber) int() int {
	const limit = 1 << 53
	switch v := float64(f); {
	case v != v:
		return 0
	case v > limit:
		return limit
	case v < -limit:
		return -limit
	default:
		return int(v)
	}
}

// flexBool is a JSON boolean, or "true"/"false", or 1/0.
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	switch string(bytes.TrimSpace(b)) {
	case "true", `"true"`, "1", `"1"`:
		*f = true
	case "false", `"false"`, "0", `"0"`, "null":
		*f = false
	default:
		return errors.New("expected a boolean")
	}
	return nil
}

// envelope holds the fields every answer of the API carries.
type envelope struct {
	Success *flexBool  `json:"success"`
	Message flexString `json:"message"`
}

// failed reports whether the answer says "success": false. An absent success field is not a failure.
func (e envelope) failed() bool {
	return e.Success != nil && !bool(*e.Success)
}

// errMalformed marks an answer that is not the JSON the contract describes.
var errMalformed = errors.New("malformed answer")

// decodeJSON decodes one JSON value from body into out, ignoring unknown fields and a UTF-8 byte order
// mark, and refusing anything after the value (a truncated or concatenated answer is not trusted).
func decodeJSON(body []byte, out any) error {
	body = bytes.TrimPrefix(body, []byte("\uFEFF"))
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%w: %w", errMalformed, err)
	}
	if rest := bytes.TrimSpace(body[dec.InputOffset():]); len(rest) > 0 {
		return fmt.Errorf("%w: data after the JSON value", errMalformed)
	}
	return nil
}

// decodeEnvelope decodes the envelope fields of an answer; the answer must be a JSON object.
func decodeEnvelope(body []byte) (envelope, error) {
	var env envelope
	err := decodeJSON(body, &env)
	return env, err
}
