package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Form is a typed form: the fields a person fills in, shown in order. On the
// wire it is an MCP elicitation requestedSchema (protocol 2025-11-25):
//
//	{"type":"object","properties":{"<name>":{…},…},"required":[…]}
//
// using only the subset elicitation allows (docs/api.md): strings (with
// lengths and a format), numbers, integers, booleans, single-select and
// multi-select enums. The server validates the form at create and every
// answer against it; the answer comes back as Feedback.Values.
type Form struct {
	Fields []Field
}

// FieldType is the JSON type of a field's answer.
type FieldType string

// The field types.
const (
	FieldString  FieldType = "string"
	FieldNumber  FieldType = "number"
	FieldInteger FieldType = "integer"
	FieldBoolean FieldType = "boolean"
	// FieldArray is a multi-select: its answer is a list of Choices.
	FieldArray FieldType = "array"
)

// The formats of a string field.
const (
	FormatEmail    = "email"
	FormatURI      = "uri"
	FormatDate     = "date"      // YYYY-MM-DD
	FormatDateTime = "date-time" // RFC 3339
)

// Choice is one value a select field offers, with an optional title shown
// instead of the value.
type Choice struct {
	Value string
	Title string
}

// Field is one field of a Form. A string field with Choices is a single
// select; an array field with Choices a multi-select. Pointers are nil when
// the constraint is absent.
type Field struct {
	// Name keys the field's value in the answer: letters, digits, '_' and
	// '-'.
	Name        string
	Type        FieldType
	Title       string
	Description string
	// Required makes the answer give this field.
	Required bool

	// String fields.
	MinLength, MaxLength *int
	Format               string

	// Number and integer fields.
	Minimum, Maximum *float64

	// Select fields: the choices, and for a multi-select how many to pick.
	Choices            []Choice
	MinItems, MaxItems *int

	// Default is the value the form starts with, nil if none.
	Default any
}

// MarshalJSON writes the form as a requestedSchema, fields in order.
func (f Form) MarshalJSON() ([]byte, error) {
	var props orderedObject
	var required []string
	for _, fl := range f.Fields {
		if fl.Name == "" {
			return nil, errors.New("marshal form: a field has no name")
		}
		b, err := json.Marshal(fieldSchema(fl))
		if err != nil {
			return nil, fmt.Errorf("marshal form field %s: %w", fl.Name, err)
		}
		props.add(fl.Name, b)
		if fl.Required {
			required = append(required, fl.Name)
		}
	}
	var root orderedObject
	root.add("type", []byte(`"object"`))
	root.add("properties", props.bytes())
	if len(required) > 0 {
		b, _ := json.Marshal(required)
		root.add("required", b)
	}
	return root.bytes(), nil
}

// titled is a choice with a title, as oneOf and anyOf write it.
type titled struct {
	Const string `json:"const"`
	Title string `json:"title,omitempty"`
}

// schema is one property of a requestedSchema.
type schema struct {
	Type        FieldType `json:"type"`
	Title       string    `json:"title,omitempty"`
	Description string    `json:"description,omitempty"`
	MinLength   *int      `json:"minLength,omitempty"`
	MaxLength   *int      `json:"maxLength,omitempty"`
	Format      string    `json:"format,omitempty"`
	Minimum     *float64  `json:"minimum,omitempty"`
	Maximum     *float64  `json:"maximum,omitempty"`
	Enum        []string  `json:"enum,omitempty"`
	EnumNames   []string  `json:"enumNames,omitempty"`
	OneOf       []titled  `json:"oneOf,omitempty"`
	MinItems    *int      `json:"minItems,omitempty"`
	MaxItems    *int      `json:"maxItems,omitempty"`
	Items       *struct {
		Type  string   `json:"type,omitempty"`
		Enum  []string `json:"enum,omitempty"`
		AnyOf []titled `json:"anyOf,omitempty"`
	} `json:"items,omitempty"`
	Default any `json:"default,omitempty"`
}

// fieldSchema writes choices as plain enums when none has a title, else as
// oneOf (single select) or anyOf (multi-select).
func fieldSchema(f Field) schema {
	s := schema{
		Type: f.Type, Title: f.Title, Description: f.Description,
		MinLength: f.MinLength, MaxLength: f.MaxLength, Format: f.Format,
		Minimum: f.Minimum, Maximum: f.Maximum, Default: f.Default,
	}
	hasTitles := false
	values := make([]string, len(f.Choices))
	choices := make([]titled, len(f.Choices))
	for i, c := range f.Choices {
		values[i] = c.Value
		choices[i] = titled{Const: c.Value, Title: c.Title}
		if c.Title == "" {
			// oneOf and anyOf need a title on every choice.
			choices[i].Title = c.Value
		}
		hasTitles = hasTitles || c.Title != ""
	}
	if f.Type == FieldArray {
		s.MinItems, s.MaxItems = f.MinItems, f.MaxItems
		s.Items = &struct {
			Type  string   `json:"type,omitempty"`
			Enum  []string `json:"enum,omitempty"`
			AnyOf []titled `json:"anyOf,omitempty"`
		}{}
		if hasTitles {
			s.Items.AnyOf = choices
		} else {
			s.Items.Type, s.Items.Enum = "string", values
		}
		return s
	}
	if len(f.Choices) > 0 {
		if hasTitles {
			s.OneOf = choices
		} else {
			s.Enum = values
		}
	}
	return s
}

// UnmarshalJSON reads a requestedSchema, keeping the fields in the order
// written.
func (f *Form) UnmarshalJSON(b []byte) error {
	var root struct {
		Properties json.RawMessage `json:"properties"`
		Required   []string        `json:"required"`
	}
	if err := json.Unmarshal(b, &root); err != nil {
		return fmt.Errorf("read form: %w", err)
	}
	required := map[string]bool{}
	for _, r := range root.Required {
		required[r] = true
	}
	names, values, err := objectMembers(root.Properties)
	if err != nil {
		return fmt.Errorf("read form properties: %w", err)
	}
	fields := make([]Field, 0, len(names))
	for i, name := range names {
		var s schema
		if err := json.Unmarshal(values[i], &s); err != nil {
			return fmt.Errorf("read form field %s: %w", name, err)
		}
		fl := Field{
			Name: name, Type: s.Type, Title: s.Title, Description: s.Description, Required: required[name],
			MinLength: s.MinLength, MaxLength: s.MaxLength, Format: s.Format,
			Minimum: s.Minimum, Maximum: s.Maximum, MinItems: s.MinItems, MaxItems: s.MaxItems, Default: s.Default,
		}
		switch {
		case len(s.OneOf) > 0:
			for _, c := range s.OneOf {
				fl.Choices = append(fl.Choices, Choice{Value: c.Const, Title: c.Title})
			}
		case len(s.Enum) > 0:
			for j, v := range s.Enum {
				c := Choice{Value: v}
				if j < len(s.EnumNames) {
					c.Title = s.EnumNames[j]
				}
				fl.Choices = append(fl.Choices, c)
			}
		case s.Items != nil:
			for _, v := range s.Items.Enum {
				fl.Choices = append(fl.Choices, Choice{Value: v})
			}
			for _, c := range s.Items.AnyOf {
				fl.Choices = append(fl.Choices, Choice{Value: c.Const, Title: c.Title})
			}
		}
		fields = append(fields, fl)
	}
	f.Fields = fields
	return nil
}

// objectMembers returns the keys and values of a JSON object in the order
// written (Go maps forget it, and a form's order is what the person sees).
func objectMembers(b []byte) ([]string, []json.RawMessage, error) {
	if len(bytes.TrimSpace(b)) == 0 || string(bytes.TrimSpace(b)) == "null" {
		return nil, nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, errors.New("not a JSON object")
	}
	var names []string
	var values []json.RawMessage
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		name, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, err
		}
		names = append(names, name)
		values = append(values, v)
	}
	return names, values, nil
}

// orderedObject writes a JSON object with its keys in the order added.
type orderedObject struct{ b bytes.Buffer }

func (o *orderedObject) add(k string, v []byte) {
	if o.b.Len() == 0 {
		o.b.WriteByte('{')
	} else {
		o.b.WriteByte(',')
	}
	kb, _ := json.Marshal(k)
	o.b.Write(kb)
	o.b.WriteByte(':')
	o.b.Write(v)
}

func (o *orderedObject) bytes() []byte {
	if o.b.Len() == 0 {
		return []byte("{}")
	}
	return append(o.b.Bytes(), '}')
}
