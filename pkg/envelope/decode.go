package envelope

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"unicode/utf8"

	"github.com/feedbackd/feedbackd/sessions"
)

// Decode reads one JSON value from body into v: valid UTF-8, one value,
// nothing after it, numbers kept as written. Every failure is
// INVALID_REQUEST naming the field at fault ("body" when it is the whole
// body). REST bodies and MCP tool arguments are read with it, so the same
// input gets the same complaint on both. See docs/api.md, "Errors".
func Decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return sessions.Invalid("body", "must not be empty")
	}
	if !utf8.Valid(body) {
		return sessions.Invalid("body", "must be valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return jsonErr(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return sessions.Invalid("body", "must hold exactly one JSON value")
	}
	return nil
}

func jsonErr(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		kind := typeErr.Type.Kind().String()
		if typeErr.Type == reflect.TypeFor[json.Number]() || typeErr.Type == reflect.TypeFor[sessions.Number]() {
			kind = "int"
		}
		reason := "must be " + jsonKind(kind)
		if kind == "int" && typeErr.Value == "string" {
			// "timeout":"60" looks like a number to a person; say why not.
			reason += ", not a string"
		}
		return sessions.Invalid(field, reason)
	case errors.As(err, &syntaxErr):
		return sessions.Invalid("body", fmt.Sprintf("malformed JSON at byte %d", syntaxErr.Offset))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return sessions.Invalid("body", "truncated JSON")
	}
	return sessions.Invalid("body", "malformed JSON")
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "a JSON object"
	case "int", "int64", "float64":
		return "a number"
	case "bool":
		return "true or false"
	}
	return "of another type"
}
