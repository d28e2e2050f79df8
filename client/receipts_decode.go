package client

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The contract shows the data of GET /send/{code} as an array of {sender, recipient, data, object,
// message} and documents nothing else. A PHP service may also send null, an empty string or false for "no
// receipt", an object keyed by position ({"0": {...}, "1": {...}}, what json_encode makes of an array with
// a hole), one entry as a bare object, entries lacking fields, fields of another JSON type, and the date
// as "date" (as in /inbox) rather than "data". All of these are read; every entry becomes one Receipt,
// nothing is merged or dropped, and each keeps its raw JSON.

// receiptFields are the keys of an entry; an object holding any of them is one entry, not a keyed list.
var receiptFields = map[string]bool{"sender": true, "recipient": true, "data": true, "date": true, "object": true, "message": true}

// receiptsFrom turns the answer's data into receipts.
func receiptsFrom(ans receiptsAnswer) ([]Receipt, error) {
	entries, err := receiptEntries(ans.Data)
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, nil
	}
	out := make([]Receipt, 0, len(entries))
	for _, e := range entries {
		out = append(out, receiptFromEntry(e))
	}
	return out, nil
}

// receiptEntries splits the data of an answer into its entries, in order.
func receiptEntries(data json.RawMessage) ([]json.RawMessage, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, nil
	}
	switch data[0] {
	case '[':
		var list []json.RawMessage
		if err := json.Unmarshal(data, &list); err != nil {
			return nil, fmt.Errorf("%w: data: %w", errMalformed, err)
		}
		return list, nil
	case '{':
		members, err := objectMembers(data)
		if err != nil {
			return nil, fmt.Errorf("%w: data: %w", errMalformed, err)
		}
		for _, m := range members {
			if receiptFields[strings.ToLower(m.key)] {
				return []json.RawMessage{data}, nil // one entry, not a list
			}
		}
		// A list keyed by position: in the order of the positions, other keys after them as they came.
		slices.SortStableFunc(members, func(a, b member) int {
			ai, aerr := strconv.ParseUint(a.key, 10, 64)
			bi, berr := strconv.ParseUint(b.key, 10, 64)
			switch {
			case aerr == nil && berr == nil:
				return cmp.Compare(ai, bi)
			case aerr == nil:
				return -1
			case berr == nil:
				return 1
			}
			return 0
		})
		out := make([]json.RawMessage, len(members))
		for i, m := range members {
			out[i] = m.value
		}
		return out, nil
	}
	switch string(data) {
	case "null", `""`, "false":
		return nil, nil
	}
	return nil, fmt.Errorf("%w: data is neither a list nor an object", errMalformed)
}

// member is one key and value of a JSON object.
type member struct {
	key   string
	value json.RawMessage
}

// objectMembers returns the members of a JSON object in their order, repeated keys included (a map would
// keep only the last of them, and lose an entry).
func objectMembers(obj []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errors.New("object key is not a string")
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, member{key, v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return out, nil
}

// receiptFromEntry reads one entry. An entry that is not an object, or a field of an unexpected type, is
// kept with what could be read: Raw always holds the whole entry.
func receiptFromEntry(raw json.RawMessage) Receipt {
	r := Receipt{Raw: string(raw)}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return r
	}
	members, err := objectMembers(raw)
	if err != nil {
		return r
	}
	fields := make(map[string]string, len(members))
	for _, m := range members {
		k := strings.ToLower(m.key)
		if _, seen := fields[k]; !seen || fields[k] == "" {
			fields[k] = scalarText(m.value)
		}
	}
	r.Sender, r.Recipient = fields["sender"], fields["recipient"]
	r.Subject, r.Body = fields["object"], fields["message"]
	// The date is "data" here, "date" in /inbox: take the one that reads as a date, else the text there is.
	r.DateText = cmp.Or(fields["data"], fields["date"])
	for _, text := range []string{fields["data"], fields["date"]} {
		if d, err := ParseDate(text); err == nil {
			r.Date, r.DateText = d, text
			break
		}
	}
	return r
}

// scalarText returns a JSON string's text, a number's or a boolean's literal, and "" for null, an object or
// an array (whose text stays in the entry's Raw).
func scalarText(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return ""
	}
	switch v[0] {
	case '"':
		var s string
		if json.Unmarshal(v, &s) != nil {
			return ""
		}
		return s
	case '{', '[', 'n':
		return ""
	}
	return string(v) // a number or a boolean, as written
}
