package sessions

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"
)

// The readers below turn untrusted JSON into typed values with a reason a
// person can act on. They keep the order of object members, which the
// standard library's maps do not, because a form is shown in the order its
// author wrote it.

// member is one key and its raw value, in the order written.
type member struct {
	key string
	val json.RawMessage
}

// jsonKind names the JSON type of raw for error messages.
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// readObject returns the members of a JSON object in order. Duplicate keys are
// refused: which of two values a reader keeps differs between parsers.
func readObject(field string, raw json.RawMessage) ([]member, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, Invalid(field, "must be a JSON object, got "+jsonKind(raw))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil, Invalid(field, "must be a JSON object")
	}
	var out []member
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, Invalid(field, "is not valid JSON")
		}
		key, ok := tok.(string)
		if !ok {
			return nil, Invalid(field, "is not valid JSON")
		}
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, Invalid(field, "is not valid JSON")
		}
		if seen[key] {
			return nil, Invalid(field, fmt.Sprintf("has the key %q twice", Preview(key, 64)))
		}
		seen[key] = true
		out = append(out, member{key: key, val: val})
	}
	if _, err := dec.Token(); err != nil {
		return nil, Invalid(field, "is not valid JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, Invalid(field, "must hold exactly one JSON value")
	}
	return out, nil
}

// readArray returns the elements of a JSON array.
func readArray(field string, raw json.RawMessage) ([]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '[' {
		return nil, Invalid(field, "must be an array, got "+jsonKind(raw))
	}
	var out []json.RawMessage
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, Invalid(field, "is not valid JSON")
	}
	return out, nil
}

func readString(field string, raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return "", Invalid(field, "must be a string, got "+jsonKind(raw))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", Invalid(field, "is not a valid JSON string")
	}
	if !utf8.ValidString(s) {
		return "", Invalid(field, "must be valid UTF-8")
	}
	return s, nil
}

func readBool(field string, raw json.RawMessage) (bool, error) {
	switch string(bytes.TrimSpace(raw)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, Invalid(field, "must be true or false, got "+jsonKind(raw))
}

// readNumber reads a finite JSON number (not a string holding one).
func readNumber(field string, raw json.RawMessage) (float64, error) {
	raw = bytes.TrimSpace(raw)
	if jsonKind(raw) != "a number" {
		return 0, Invalid(field, "must be a number, got "+jsonKind(raw))
	}
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&n); err != nil {
		return 0, Invalid(field, "must be a number")
	}
	f, err := strconv.ParseFloat(n.String(), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, Invalid(field, "is out of range")
	}
	return f, nil
}

// maxSafeInteger is the largest integer every JSON reader holds exactly
// (2^53 − 1): a browser or a JavaScript agent reads numbers as doubles.
const maxSafeInteger = 1<<53 - 1

// readInteger reads a whole JSON number within ±maxSafeInteger; 3.0 and 3e0
// are the integer 3, as JSON Schema's "integer" says.
func readInteger(field string, raw json.RawMessage) (int64, error) {
	f, err := readNumber(field, raw)
	if err != nil {
		return 0, err
	}
	if f != math.Trunc(f) {
		return 0, Invalid(field, "must be a whole number")
	}
	if math.Abs(f) > maxSafeInteger {
		return 0, Invalid(field, fmt.Sprintf("must be between %d and %d", -maxSafeInteger, maxSafeInteger))
	}
	return int64(f), nil
}

// readCount reads a whole number from 0 to limit.
func readCount(field string, raw json.RawMessage, limit int) (int, error) {
	n, err := readInteger(field, raw)
	if err != nil {
		return 0, err
	}
	if n < 0 || n > int64(limit) {
		return 0, Invalid(field, fmt.Sprintf("must be between 0 and %d", limit))
	}
	return int(n), nil
}

// encodeJSON writes v as compact JSON without HTML escaping, the one canonical
// form in which schemas and answers are stored.
func encodeJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only strings, bools, float64s and slices of them reach here.
		panic(fmt.Sprintf("encode %T: %v", v, err))
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// encodeNumber writes f as JSON: whole numbers without a fraction.
func encodeNumber(f float64) []byte { return encodeJSON(f) }
