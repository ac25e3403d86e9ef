package clientcmd

import (
	"fmt"
	"strings"

	"github.com/feedbackd/feedbackd/pkg/client"
)

// fieldHelp documents --field; it is part of `feedbackd ask --help`.
const fieldHelp = `--field NAME[?]:TYPE[:TITLE]   a form field (repeatable; shown in order)
      NAME     letters, digits, _ and -; the key of the value in the answer.
               A trailing ? makes the field optional (fields are required).
      TYPE     string   one line of text        email     an e-mail address
               text     (the same as string)    uri       a URL
               number   any number              date      YYYY-MM-DD
               integer  a whole number          datetime  a date and a time
               boolean  yes or no (a checkbox)
               enum=A|B|C    one of the choices
               multi=A|B|C   any of the choices
      TITLE    the label shown (the rest of the argument; may hold colons).
               Choices cannot hold ':' or '|'.
      e.g. --field day:date:"Release day" --field 'env:enum=staging|prod' --field 'note?:text:Anything else?'`

// parseField reads one --field argument.
func parseField(spec string) (client.Field, error) {
	parts := strings.SplitN(spec, ":", 3)
	if len(parts) < 2 {
		return client.Field{}, fmt.Errorf("--field %q: want NAME:TYPE[:TITLE]", spec)
	}
	name, typ := strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1])
	f := client.Field{Name: name, Required: true}
	if optional, ok := strings.CutSuffix(name, "?"); ok {
		f.Name, f.Required = optional, false
	}
	if f.Name == "" {
		return client.Field{}, fmt.Errorf("--field %q: the name is empty", spec)
	}
	for _, r := range f.Name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return client.Field{}, fmt.Errorf("--field %q: a name is letters, digits, _ and - only", spec)
		}
	}
	if len(parts) == 3 {
		f.Title = strings.TrimSpace(parts[2])
	}
	kind, choices, hasChoices := strings.Cut(typ, "=")
	switch strings.ToLower(kind) {
	case "string", "text":
		f.Type = client.FieldString
	case "email":
		f.Type, f.Format = client.FieldString, client.FormatEmail
	case "uri", "url":
		f.Type, f.Format = client.FieldString, client.FormatURI
	case "date":
		f.Type, f.Format = client.FieldString, client.FormatDate
	case "datetime", "date-time":
		f.Type, f.Format = client.FieldString, client.FormatDateTime
	case "number":
		f.Type = client.FieldNumber
	case "integer", "int":
		f.Type = client.FieldInteger
	case "boolean", "bool":
		f.Type = client.FieldBoolean
	case "enum":
		f.Type = client.FieldString
	case "multi":
		f.Type = client.FieldArray
	default:
		return client.Field{}, fmt.Errorf("--field %q: unknown type %q (see feedbackd ask --help)", spec, typ)
	}
	isSelect := strings.EqualFold(kind, "enum") || strings.EqualFold(kind, "multi")
	switch {
	case isSelect && !hasChoices:
		return client.Field{}, fmt.Errorf("--field %q: %s needs its choices: %s=A|B|C", spec, kind, kind)
	case !isSelect && hasChoices:
		return client.Field{}, fmt.Errorf("--field %q: only enum and multi take choices", spec)
	}
	if isSelect {
		for c := range strings.SplitSeq(choices, "|") {
			if c = strings.TrimSpace(c); c == "" {
				return client.Field{}, fmt.Errorf("--field %q: an empty choice", spec)
			}
			f.Choices = append(f.Choices, client.Choice{Value: c})
		}
	}
	return f, nil
}
