package sessions

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
)

// Number is a JSON number kept exactly as written, for the numeric fields
// of requests whose range the service checks itself (a session's timeout,
// MCP's waitSeconds). Unlike json.Number it refuses a string that holds a
// number: "timeout":"60" is a mistake of the caller's (docs/api.md,
// "Limits"), not a number. Decoding anything but a number fails with a
// *json.UnmarshalTypeError, which decoders turn into INVALID_REQUEST naming
// the field.
type Number string

// UnmarshalJSON accepts a JSON number; null leaves n alone, as for any
// other type.
func (n *Number) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	if kind := jsonKind(b); kind != "a number" {
		value := "string"
		switch b[0] {
		case '{':
			value = "object"
		case '[':
			value = "array"
		case 't', 'f':
			value = "bool"
		}
		return &json.UnmarshalTypeError{Value: value, Type: reflect.TypeFor[Number]()}
	}
	*n = Number(b)
	return nil
}

// MarshalJSON writes n as the number it holds.
func (n Number) MarshalJSON() ([]byte, error) {
	if n == "" {
		return []byte("null"), nil
	}
	return []byte(n), nil
}

// String returns the number as written.
func (n Number) String() string { return string(n) }

// Int64 returns n as a whole number; a fraction, an exponent or a value
// out of range is an error.
func (n Number) Int64() (int64, error) { return strconv.ParseInt(string(n), 10, 64) }
