package sessions

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// A form is the typed part of a question (CreateRequest.Fields), written
// exactly as the requestedSchema of an MCP elicitation (protocol 2025-11-25):
//
//	{"type":"object",
//	 "properties":{"<name>":{"type":"string","title":"…",…},…},
//	 "required":["<name>",…]}
//
// Only the subset elicitation allows is accepted; see ParseFormSchema. The
// bounds below are part of that language rather than deployment settings, so
// they are constants: a schema that is valid here is valid everywhere.
const (
	// MaxFormFields is how many properties a form may have.
	MaxFormFields = 20
	// MaxFormBytes bounds a form's canonical JSON encoding. A request may send
	// up to four times as much (whitespace), which is refused before parsing.
	MaxFormBytes = 16 << 10
	// MaxFieldName bounds a property name; names are letters, digits, '_'
	// and '-'.
	MaxFieldName = 64
	// MaxFieldTitle bounds a field's title and each choice's value and title,
	// in characters.
	MaxFieldTitle = 200
	// MaxFieldDescription bounds a field's description, in characters.
	MaxFieldDescription = 1000
	// MaxFieldChoices is how many choices a single- or multi-select field may
	// offer.
	MaxFieldChoices = 100
	// MaxFieldText bounds a string answer, in characters; a field's maxLength
	// may not exceed it and applies in its place when absent.
	MaxFieldText = 1000
)

// FieldType is the JSON type of a form field's answer.
type FieldType string

// The field types elicitation allows.
const (
	FieldString  FieldType = "string"
	FieldNumber  FieldType = "number"
	FieldInteger FieldType = "integer"
	FieldBoolean FieldType = "boolean"
	FieldArray   FieldType = "array" // a multi-select: a list of choices
)

// Format constrains a string field.
type Format string

// The formats elicitation allows.
const (
	FormatEmail    Format = "email"
	FormatURI      Format = "uri"
	FormatDate     Format = "date"      // YYYY-MM-DD
	FormatDateTime Format = "date-time" // RFC 3339
)

// ChoiceStyle says how a field's choices are written in the schema, so that
// a schema is sent on exactly as its author wrote it.
type ChoiceStyle string

// The ways elicitation writes choices.
const (
	// ChoicesEnum is "enum" on a string field or "items":{"type":"string",
	// "enum":[…]} on an array field; choices have no titles.
	ChoicesEnum ChoiceStyle = "enum"
	// ChoicesEnumNames is the legacy titled single select: "enum" with
	// "enumNames" of the same length.
	ChoicesEnumNames ChoiceStyle = "enumNames"
	// ChoicesOneOf is the titled single select: "oneOf":[{"const","title"}].
	ChoicesOneOf ChoiceStyle = "oneOf"
	// ChoicesAnyOf is the titled multi select: "items":{"anyOf":[{"const",
	// "title"}]}.
	ChoicesAnyOf ChoiceStyle = "anyOf"
)

// Choice is one value a select field offers.
type Choice struct {
	Value string // what the answer holds (the enum value or const)
	Title string // what a person sees; empty for an untitled enum
}

// Label is what a person sees for the choice.
func (c Choice) Label() string {
	if c.Title != "" {
		return c.Title
	}
	return c.Value
}

// Property is one field of a form. Pointers are nil when the keyword is
// absent. A Property is not modified after parsing.
type Property struct {
	Name        string
	Type        FieldType
	Title       string
	Description string

	// String fields.
	MinLength, MaxLength *int
	Format               Format

	// Number and integer fields.
	Minimum, Maximum *float64

	// Array (multi-select) fields.
	MinItems, MaxItems *int

	// Choices of a single select (Type string) or a multi select (Type
	// array), in the order written; Style says how they are written.
	Choices []Choice
	Style   ChoiceStyle

	// Default is the canonical JSON of the default answer, nil if none.
	Default json.RawMessage
}

// Label is the field's title, or its name when it has none.
func (p *Property) Label() string {
	if p.Title != "" {
		return p.Title
	}
	return p.Name
}

// IsSelect reports whether the answer is one or more of p.Choices.
func (p *Property) IsSelect() bool { return len(p.Choices) > 0 }

// Choice returns the choice whose value is v.
func (p *Property) Choice(v string) (Choice, bool) {
	for _, c := range p.Choices {
		if c.Value == v {
			return c, true
		}
	}
	return Choice{}, false
}

// FormSchema is a parsed, valid form. Its JSON encoding is the
// requestedSchema of an MCP elicitation, properties in the order written, so
// it can be sent to an MCP client as it is. A FormSchema is not modified
// after parsing; share it freely.
type FormSchema struct {
	// Schema is the optional "$schema" URI, kept as written.
	Schema     string
	Properties []Property
	// Required names the properties an answer must give, in the order written.
	Required []string
}

// Property returns the property called name.
func (f *FormSchema) Property(name string) (*Property, bool) {
	for i := range f.Properties {
		if f.Properties[i].Name == name {
			return &f.Properties[i], true
		}
	}
	return nil, false
}

// IsRequired reports whether an answer must give the property called name.
func (f *FormSchema) IsRequired(name string) bool {
	for _, r := range f.Required {
		if r == name {
			return true
		}
	}
	return false
}

// UnmarshalJSON parses and validates a schema with ParseFormSchema.
func (f *FormSchema) UnmarshalJSON(data []byte) error {
	p, err := ParseFormSchema(data)
	if err != nil {
		return err
	}
	*f = *p
	return nil
}

// MarshalJSON encodes the schema as an elicitation requestedSchema, in one
// canonical form: the keys of each property in a fixed order, properties
// and required names in the order written.
func (f FormSchema) MarshalJSON() ([]byte, error) {
	var w objWriter
	if f.Schema != "" {
		w.field("$schema", encodeJSON(f.Schema))
	}
	w.field("type", []byte(`"object"`))
	var props objWriter
	for i := range f.Properties {
		b, err := f.Properties[i].MarshalJSON()
		if err != nil {
			return nil, err
		}
		props.field(f.Properties[i].Name, b)
	}
	w.field("properties", props.bytes())
	if len(f.Required) > 0 {
		w.field("required", encodeJSON(f.Required))
	}
	return w.bytes(), nil
}

// MarshalJSON encodes one property's schema (without its name).
func (p Property) MarshalJSON() ([]byte, error) {
	var w objWriter
	w.field("type", encodeJSON(string(p.Type)))
	if p.Title != "" {
		w.field("title", encodeJSON(p.Title))
	}
	if p.Description != "" {
		w.field("description", encodeJSON(p.Description))
	}
	intField := func(k string, v *int) {
		if v != nil {
			w.field(k, encodeJSON(*v))
		}
	}
	numField := func(k string, v *float64) {
		if v != nil {
			w.field(k, encodeNumber(*v))
		}
	}
	values := make([]string, len(p.Choices))
	titled := make([]map[string]string, len(p.Choices))
	for i, c := range p.Choices {
		values[i] = c.Value
		titled[i] = map[string]string{"const": c.Value, "title": c.Title}
	}
	switch p.Type {
	case FieldString:
		intField("minLength", p.MinLength)
		intField("maxLength", p.MaxLength)
		if p.Format != "" {
			w.field("format", encodeJSON(string(p.Format)))
		}
		switch p.Style {
		case ChoicesEnum:
			w.field("enum", encodeJSON(values))
		case ChoicesEnumNames:
			w.field("enum", encodeJSON(values))
			names := make([]string, len(p.Choices))
			for i, c := range p.Choices {
				names[i] = c.Title
			}
			w.field("enumNames", encodeJSON(names))
		case ChoicesOneOf:
			w.field("oneOf", encodeJSON(titled))
		}
	case FieldNumber, FieldInteger:
		numField("minimum", p.Minimum)
		numField("maximum", p.Maximum)
	case FieldArray:
		intField("minItems", p.MinItems)
		intField("maxItems", p.MaxItems)
		var items objWriter
		if p.Style == ChoicesAnyOf {
			items.field("anyOf", encodeJSON(titled))
		} else {
			items.field("type", []byte(`"string"`))
			items.field("enum", encodeJSON(values))
		}
		w.field("items", items.bytes())
	}
	if p.Default != nil {
		w.field("default", p.Default)
	}
	return w.bytes(), nil
}

// objWriter writes a JSON object with keys in the order they are added.
type objWriter struct{ b bytes.Buffer }

func (w *objWriter) field(k string, v []byte) {
	if w.b.Len() == 0 {
		w.b.WriteByte('{')
	} else {
		w.b.WriteByte(',')
	}
	w.b.Write(encodeJSON(k))
	w.b.WriteByte(':')
	w.b.Write(v)
}

func (w *objWriter) bytes() []byte {
	if w.b.Len() == 0 {
		return []byte("{}")
	}
	return append(w.b.Bytes(), '}')
}

// ParseFormSchema parses and validates a form schema. It accepts exactly the
// requestedSchema subset of MCP elicitation (2025-11-25):
//
//   - the root: "type":"object" (required), "properties" (1 to MaxFormFields),
//     "required" (names of declared properties, no repeats), "$schema";
//   - property names of letters, digits, '_' and '-', at most MaxFieldName;
//   - every property: "type", "title", "description", "default", and by type
//     string: "minLength", "maxLength" (≤ MaxFieldText), "format" (email, uri,
//     date, date-time); or a single select with "enum" (optionally with the
//     legacy "enumNames") or "oneOf":[{"const","title"}];
//     number, integer: "minimum", "maximum" (integers for integer fields);
//     boolean: nothing more;
//     array (a multi select): "items" with "enum" (and "type":"string") or
//     "anyOf":[{"const","title"}], "minItems", "maxItems";
//   - at most MaxFieldChoices choices, each 1 to MaxFieldTitle characters,
//     no repeats; a default of the field's type within its constraints;
//     minimums not above maximums.
//
// Anything else — nested objects, "$ref", keywords such as "pattern",
// unknown types or formats, wrong JSON types — is INVALID_REQUEST naming the
// offending keyword, e.g. "fields.properties.age.minimum". Parsing is linear
// in the input and refuses over-long input before reading it.
func ParseFormSchema(data []byte) (*FormSchema, error) {
	const root = "fields"
	if len(data) > 4*MaxFormBytes {
		return nil, Invalid(root, fmt.Sprintf("must be at most %d bytes of JSON", MaxFormBytes))
	}
	members, err := readObject(root, data)
	if err != nil {
		return nil, err
	}
	var f FormSchema
	var props, required json.RawMessage
	sawType := false
	for _, m := range members {
		switch m.key {
		case "type":
			t, err := readString(root+".type", m.val)
			if err != nil {
				return nil, err
			}
			if t != "object" {
				return nil, Invalid(root+".type", `must be "object"`)
			}
			sawType = true
		case "properties":
			props = m.val
		case "required":
			required = m.val
		case "$schema":
			s, err := readString(root+".$schema", m.val)
			if err != nil {
				return nil, err
			}
			if err := checkLine(root+".$schema", s, 1, MaxFieldTitle); err != nil {
				return nil, err
			}
			f.Schema = s
		default:
			return nil, notAllowed(root, m.key, "a form takes only type, properties, required and $schema")
		}
	}
	if !sawType {
		return nil, Invalid(root+".type", `is required and must be "object"`)
	}
	if props == nil {
		return nil, Invalid(root+".properties", "is required")
	}
	pm, err := readObject(root+".properties", props)
	if err != nil {
		return nil, err
	}
	if len(pm) == 0 {
		return nil, Invalid(root+".properties", "must declare at least one field")
	}
	if len(pm) > MaxFormFields {
		return nil, Invalid(root+".properties", fmt.Sprintf("at most %d fields are allowed, got %d", MaxFormFields, len(pm)))
	}
	for _, m := range pm {
		if !isFieldName(m.key) {
			return nil, Invalid(root+".properties", fmt.Sprintf("%q is not a field name: use 1 to %d letters, digits, '_' or '-'", Preview(m.key, MaxFieldName+1), MaxFieldName))
		}
		p, err := parseProperty(root+".properties."+m.key, m.key, m.val)
		if err != nil {
			return nil, err
		}
		f.Properties = append(f.Properties, *p)
	}
	if required != nil {
		elems, err := readArray(root+".required", required)
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for i, e := range elems {
			field := fmt.Sprintf("%s.required[%d]", root, i)
			name, err := readString(field, e)
			if err != nil {
				return nil, err
			}
			if _, ok := f.Property(name); !ok {
				return nil, Invalid(field, fmt.Sprintf("%q is not one of the properties", Preview(name, MaxFieldName+1)))
			}
			if seen[name] {
				return nil, Invalid(field, fmt.Sprintf("%q is listed twice", name))
			}
			seen[name] = true
			f.Required = append(f.Required, name)
		}
	}
	enc, err := f.MarshalJSON()
	if err != nil {
		return nil, Invalid(root, "cannot be encoded")
	}
	if len(enc) > MaxFormBytes {
		return nil, Invalid(root, fmt.Sprintf("must be at most %d bytes of JSON, got %d", MaxFormBytes, len(enc)))
	}
	return &f, nil
}

// keywords lists what each field type takes besides type, title,
// description and default.
var keywords = map[FieldType][]string{
	FieldString:  {"minLength", "maxLength", "format", "enum", "enumNames", "oneOf"},
	FieldNumber:  {"minimum", "maximum"},
	FieldInteger: {"minimum", "maximum"},
	FieldBoolean: {},
	FieldArray:   {"items", "minItems", "maxItems"},
}

func parseProperty(path, name string, raw json.RawMessage) (*Property, error) {
	members, err := readObject(path, raw)
	if err != nil {
		return nil, err
	}
	p := &Property{Name: name}
	for _, m := range members {
		if m.key == "$ref" {
			return nil, notAllowed(path, m.key, "")
		}
		if m.key != "type" {
			continue
		}
		t, err := readString(path+".type", m.val)
		if err != nil {
			return nil, err
		}
		p.Type = FieldType(t)
	}
	switch p.Type {
	case FieldString, FieldNumber, FieldInteger, FieldBoolean, FieldArray:
	case "":
		return nil, Invalid(path+".type", "is required: string, number, integer, boolean or array")
	case "object":
		return nil, Invalid(path+".type", "nested objects are not allowed: a field is a string, number, integer, boolean or array")
	default:
		return nil, Invalid(path+".type", fmt.Sprintf("%q is not a field type: use string, number, integer, boolean or array", Preview(string(p.Type), 32)))
	}
	allowed := map[string]bool{"type": true, "title": true, "description": true, "default": true}
	for _, k := range keywords[p.Type] {
		allowed[k] = true
	}
	var def, enum, enumNames json.RawMessage
	for _, m := range members {
		field := path + "." + m.key
		if !allowed[m.key] {
			switch m.key {
			case "properties", "additionalProperties", "patternProperties":
				return nil, Invalid(path, "nested objects are not allowed")
			case "items":
				return nil, notAllowed(path, m.key, "only an array field takes items")
			}
			return nil, notAllowed(path, m.key, fmt.Sprintf("a %s field takes %s", p.Type, strings.Join(append([]string{"title", "description", "default"}, keywords[p.Type]...), ", ")))
		}
		switch m.key {
		case "type":
		case "title":
			if p.Title, err = readString(field, m.val); err == nil {
				err = checkLine(field, p.Title, 0, MaxFieldTitle)
			}
		case "description":
			if p.Description, err = readString(field, m.val); err == nil {
				err = checkText(field, p.Description, 0, MaxFieldDescription)
			}
		case "default":
			def = m.val
		case "minLength":
			p.MinLength, err = countPtr(field, m.val, MaxFieldText)
		case "maxLength":
			p.MaxLength, err = countPtr(field, m.val, MaxFieldText)
		case "minItems":
			p.MinItems, err = countPtr(field, m.val, MaxFieldChoices)
		case "maxItems":
			p.MaxItems, err = countPtr(field, m.val, MaxFieldChoices)
		case "minimum":
			p.Minimum, err = boundPtr(field, m.val, p.Type == FieldInteger)
		case "maximum":
			p.Maximum, err = boundPtr(field, m.val, p.Type == FieldInteger)
		case "format":
			var s string
			if s, err = readString(field, m.val); err == nil {
				switch Format(s) {
				case FormatEmail, FormatURI, FormatDate, FormatDateTime:
					p.Format = Format(s)
				default:
					err = Invalid(field, fmt.Sprintf("%q is not allowed: use email, uri, date or date-time", Preview(s, 32)))
				}
			}
		case "enum":
			enum = m.val
		case "enumNames":
			enumNames = m.val
		case "oneOf":
			p.Style = ChoicesOneOf
			p.Choices, err = readTitledChoices(field, m.val)
		case "items":
			p.Style, p.Choices, err = readItems(field, m.val)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := p.checkShape(path, enum, enumNames); err != nil {
		return nil, err
	}
	if def != nil {
		if isNull(def) {
			return nil, Invalid(path+".default", "must not be null; leave it out instead")
		}
		canon, err := p.checkValue(path+".default", def)
		if err != nil {
			return nil, err
		}
		p.Default = canon
	}
	return p, nil
}

// checkShape checks the keywords of p against each other.
func (p *Property) checkShape(path string, enum, enumNames json.RawMessage) error {
	switch p.Type {
	case FieldString:
		if enum != nil && p.Style == ChoicesOneOf {
			return Invalid(path+".oneOf", "give enum or oneOf, not both")
		}
		if enumNames != nil && enum == nil {
			return Invalid(path+".enumNames", "needs enum")
		}
		if enum != nil {
			values, err := readChoiceValues(path+".enum", enum)
			if err != nil {
				return err
			}
			p.Style = ChoicesEnum
			p.Choices = make([]Choice, len(values))
			for i, v := range values {
				p.Choices[i] = Choice{Value: v}
			}
			if enumNames != nil {
				elems, err := readArray(path+".enumNames", enumNames)
				if err != nil {
					return err
				}
				if len(elems) != len(values) {
					return Invalid(path+".enumNames", fmt.Sprintf("must have one name per enum value: %d values, %d names", len(values), len(elems)))
				}
				for i, e := range elems {
					field := fmt.Sprintf("%s.enumNames[%d]", path, i)
					name, err := readString(field, e)
					if err != nil {
						return err
					}
					if err := checkLine(field, name, 1, MaxFieldTitle); err != nil {
						return err
					}
					p.Choices[i].Title = name
				}
				p.Style = ChoicesEnumNames
			}
		}
		if p.IsSelect() {
			switch {
			case p.Format != "":
				return Invalid(path+".format", "does not apply to a field with choices")
			case p.MinLength != nil:
				return Invalid(path+".minLength", "does not apply to a field with choices")
			case p.MaxLength != nil:
				return Invalid(path+".maxLength", "does not apply to a field with choices")
			}
		}
		if p.MinLength != nil && p.MaxLength != nil && *p.MinLength > *p.MaxLength {
			return Invalid(path+".minLength", "must not exceed maxLength")
		}
	case FieldNumber, FieldInteger:
		if p.Minimum != nil && p.Maximum != nil && *p.Minimum > *p.Maximum {
			return Invalid(path+".minimum", "must not exceed maximum")
		}
	case FieldArray:
		if !p.IsSelect() {
			return Invalid(path+".items", "is required: a list field is a multi-select, its items list the choices")
		}
		if p.MinItems != nil && p.MaxItems != nil && *p.MinItems > *p.MaxItems {
			return Invalid(path+".minItems", "must not exceed maxItems")
		}
		if p.MinItems != nil && *p.MinItems > len(p.Choices) {
			return Invalid(path+".minItems", fmt.Sprintf("asks for more than the %d choices there are", len(p.Choices)))
		}
	}
	return nil
}

// readItems reads the items of a multi select: {"type":"string","enum":[…]}
// or {"anyOf":[{"const","title"},…]}.
func readItems(path string, raw json.RawMessage) (ChoiceStyle, []Choice, error) {
	members, err := readObject(path, raw)
	if err != nil {
		return "", nil, err
	}
	var style ChoiceStyle
	var choices []Choice
	for _, m := range members {
		field := path + "." + m.key
		switch m.key {
		case "type":
			t, err := readString(field, m.val)
			if err != nil {
				return "", nil, err
			}
			if t != "string" {
				return "", nil, Invalid(field, `must be "string": a multi-select's choices are strings`)
			}
		case "enum":
			if style != "" {
				return "", nil, Invalid(path, "give enum or anyOf, not both")
			}
			values, err := readChoiceValues(field, m.val)
			if err != nil {
				return "", nil, err
			}
			style = ChoicesEnum
			for _, v := range values {
				choices = append(choices, Choice{Value: v})
			}
		case "anyOf":
			if style != "" {
				return "", nil, Invalid(path, "give enum or anyOf, not both")
			}
			if choices, err = readTitledChoices(field, m.val); err != nil {
				return "", nil, err
			}
			style = ChoicesAnyOf
		case "properties", "items":
			return "", nil, Invalid(path, "nested structures are not allowed: items list string choices")
		default:
			return "", nil, notAllowed(path, m.key, "items take enum (with type string) or anyOf")
		}
	}
	if style == "" {
		return "", nil, Invalid(path, "must list the choices in enum or anyOf")
	}
	return style, choices, nil
}

// readChoiceValues reads an enum: 1 to MaxFieldChoices distinct strings.
func readChoiceValues(path string, raw json.RawMessage) ([]string, error) {
	elems, err := readArray(path, raw)
	if err != nil {
		return nil, err
	}
	if err := checkChoiceCount(path, len(elems)); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	out := make([]string, len(elems))
	for i, e := range elems {
		field := fmt.Sprintf("%s[%d]", path, i)
		v, err := readString(field, e)
		if err != nil {
			return nil, err
		}
		if err := checkLine(field, v, 1, MaxFieldTitle); err != nil {
			return nil, err
		}
		if seen[v] {
			return nil, Invalid(field, "repeats an earlier value")
		}
		seen[v] = true
		out[i] = v
	}
	return out, nil
}

// readTitledChoices reads oneOf or anyOf: [{"const":"…","title":"…"},…].
func readTitledChoices(path string, raw json.RawMessage) ([]Choice, error) {
	elems, err := readArray(path, raw)
	if err != nil {
		return nil, err
	}
	if err := checkChoiceCount(path, len(elems)); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	out := make([]Choice, len(elems))
	for i, e := range elems {
		field := fmt.Sprintf("%s[%d]", path, i)
		members, err := readObject(field, e)
		if err != nil {
			return nil, err
		}
		var c Choice
		var sawConst, sawTitle bool
		for _, m := range members {
			switch m.key {
			case "const":
				if c.Value, err = readString(field+".const", m.val); err == nil {
					err = checkLine(field+".const", c.Value, 1, MaxFieldTitle)
				}
				sawConst = true
			case "title":
				if c.Title, err = readString(field+".title", m.val); err == nil {
					err = checkLine(field+".title", c.Title, 1, MaxFieldTitle)
				}
				sawTitle = true
			default:
				err = notAllowed(field, m.key, "a choice takes only const and title")
			}
			if err != nil {
				return nil, err
			}
		}
		if !sawConst {
			return nil, Invalid(field+".const", "is required")
		}
		if !sawTitle {
			return nil, Invalid(field+".title", "is required")
		}
		if seen[c.Value] {
			return nil, Invalid(field+".const", "repeats an earlier value")
		}
		seen[c.Value] = true
		out[i] = c
	}
	return out, nil
}

func checkChoiceCount(path string, n int) error {
	if n == 0 {
		return Invalid(path, "must offer at least one choice")
	}
	if n > MaxFieldChoices {
		return Invalid(path, fmt.Sprintf("at most %d choices are allowed, got %d", MaxFieldChoices, n))
	}
	return nil
}

func countPtr(field string, raw json.RawMessage, limit int) (*int, error) {
	n, err := readCount(field, raw, limit)
	if err != nil {
		return nil, err
	}
	return &n, nil
}

func boundPtr(field string, raw json.RawMessage, integer bool) (*float64, error) {
	if integer {
		n, err := readInteger(field, raw)
		if err != nil {
			return nil, err
		}
		f := float64(n)
		return &f, nil
	}
	f, err := readNumber(field, raw)
	if err != nil {
		return nil, err
	}
	if f == 0 {
		f = math.Copysign(0, 1) // -0 and 0 are one bound
	}
	return &f, nil
}

// notAllowed refuses a keyword, naming it in the field when it is printable.
func notAllowed(path, key, hint string) error {
	if key == "$ref" {
		return Invalid(path+".$ref", "references are not allowed: write every field inline")
	}
	if isFieldName(strings.TrimPrefix(key, "$")) {
		return Invalid(path+"."+key, "is not allowed: "+hint)
	}
	return Invalid(path, fmt.Sprintf("the key %q is not allowed: %s", Preview(key, MaxFieldName+1), hint))
}

// isFieldName accepts 1 to MaxFieldName letters, digits, '_' and '-'.
func isFieldName(s string) bool {
	if len(s) == 0 || len(s) > MaxFieldName {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// checkLine is checkText for one line: no line breaks or tabs either.
func checkLine(field, s string, minRunes, maxRunes int) error {
	if err := checkText(field, s, minRunes, maxRunes); err != nil {
		return err
	}
	if strings.ContainsAny(s, "\n\r\t") {
		return Invalid(field, "must be a single line")
	}
	return nil
}
