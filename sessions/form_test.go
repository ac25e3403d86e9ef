package sessions_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/feedbackd/feedbackd/sessions"
)

// everyType is a form with every field type and constraint elicitation
// allows, its properties deliberately not in alphabetical order.
const everyType = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "properties": {
    "name":     {"type": "string", "title": "Name", "description": "Your full name", "minLength": 2, "maxLength": 50, "default": "Ada"},
    "email":    {"type": "string", "title": "Email", "format": "email"},
    "site":     {"type": "string", "format": "uri"},
    "born":     {"type": "string", "title": "Birthday", "format": "date", "default": "1815-12-10"},
    "at":       {"type": "string", "format": "date-time"},
    "score":    {"type": "number", "minimum": -1.5, "maximum": 1e3, "default": 2.25},
    "age":      {"type": "integer", "title": "Age", "minimum": 0, "maximum": 150},
    "agree":    {"type": "boolean", "title": "I agree", "default": false},
    "size":     {"type": "string", "enum": ["s", "m", "l"], "default": "m"},
    "legacy":   {"type": "string", "enum": ["a", "b"], "enumNames": ["Option A", "Option B"]},
    "color":    {"type": "string", "title": "Colour", "oneOf": [{"const": "r", "title": "Red"}, {"const": "g", "title": "Green"}]},
    "tags":     {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "string", "enum": ["x", "y", "z"]}, "default": ["x"]},
    "pets":     {"type": "array", "title": "Pets", "items": {"anyOf": [{"const": "cat", "title": "Cat"}, {"const": "dog", "title": "Dog"}]}}
  },
  "required": ["name", "age", "agree"]
}`

func mustParse(t testing.TB, schema string) *sessions.FormSchema {
	t.Helper()
	f, err := sessions.ParseFormSchema([]byte(schema))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return f
}

func TestParseFormSchemaReadsEveryTypeAndConstraint(t *testing.T) {
	f := mustParse(t, everyType)
	var names []string
	for _, p := range f.Properties {
		names = append(names, p.Name)
	}
	want := []string{"name", "email", "site", "born", "at", "score", "age", "agree", "size", "legacy", "color", "tags", "pets"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("order %v, want %v", names, want)
	}
	if f.Schema != "https://json-schema.org/draft/2020-12/schema" || !reflect.DeepEqual(f.Required, []string{"name", "age", "agree"}) {
		t.Fatalf("root: %+v", f)
	}
	get := func(name string) *sessions.Property {
		p, ok := f.Property(name)
		if !ok {
			t.Fatalf("no property %s", name)
		}
		return p
	}
	name := get("name")
	if name.Type != sessions.FieldString || *name.MinLength != 2 || *name.MaxLength != 50 || string(name.Default) != `"Ada"` || name.Description != "Your full name" {
		t.Fatalf("name: %+v", name)
	}
	if get("email").Format != sessions.FormatEmail || get("born").Format != sessions.FormatDate || get("at").Format != sessions.FormatDateTime || get("site").Format != sessions.FormatURI {
		t.Fatal("formats not read")
	}
	score := get("score")
	if *score.Minimum != -1.5 || *score.Maximum != 1000 || string(score.Default) != "2.25" {
		t.Fatalf("score: %+v", score)
	}
	if age := get("age"); age.Type != sessions.FieldInteger || *age.Maximum != 150 {
		t.Fatalf("age: %+v", age)
	}
	if agree := get("agree"); agree.Type != sessions.FieldBoolean || string(agree.Default) != "false" {
		t.Fatalf("agree: %+v", agree)
	}
	for name, want := range map[string]struct {
		style   sessions.ChoiceStyle
		choices []sessions.Choice
	}{
		"size":   {sessions.ChoicesEnum, []sessions.Choice{{Value: "s"}, {Value: "m"}, {Value: "l"}}},
		"legacy": {sessions.ChoicesEnumNames, []sessions.Choice{{"a", "Option A"}, {"b", "Option B"}}},
		"color":  {sessions.ChoicesOneOf, []sessions.Choice{{"r", "Red"}, {"g", "Green"}}},
		"tags":   {sessions.ChoicesEnum, []sessions.Choice{{Value: "x"}, {Value: "y"}, {Value: "z"}}},
		"pets":   {sessions.ChoicesAnyOf, []sessions.Choice{{"cat", "Cat"}, {"dog", "Dog"}}},
	} {
		p := get(name)
		if p.Style != want.style || !reflect.DeepEqual(p.Choices, want.choices) {
			t.Errorf("%s: style %q choices %+v", name, p.Style, p.Choices)
		}
	}
	if tags := get("tags"); *tags.MinItems != 1 || *tags.MaxItems != 2 || string(tags.Default) != `["x"]` {
		t.Fatalf("tags: %+v", tags)
	}
	if !f.IsRequired("age") || f.IsRequired("email") {
		t.Fatal("IsRequired")
	}
}

// The encoding is the elicitation requestedSchema itself, in the order
// written, so the MCP work can send it as it is.
func TestFormSchemaEncodesAsRequestedSchema(t *testing.T) {
	f := mustParse(t, `{"properties":{"zeta":{"type":"string","title":"Z"},"alpha":{"type":"array","items":{"anyOf":[{"title":"One","const":"1"}]}},"mid":{"type":"string","enum":["a"],"enumNames":["A"]}},"type":"object","required":["mid"]}`)
	got, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"object","properties":{"zeta":{"type":"string","title":"Z"},` +
		`"alpha":{"type":"array","items":{"anyOf":[{"const":"1","title":"One"}]}},` +
		`"mid":{"type":"string","enum":["a"],"enumNames":["A"]}},"required":["mid"]}`
	if string(got) != want {
		t.Fatalf("encoded\n%s\nwant\n%s", got, want)
	}
	// Untitled multi-select items gain the type elicitation requires.
	f = mustParse(t, `{"type":"object","properties":{"t":{"type":"array","items":{"enum":["a","b"]}}}}`)
	got, _ = json.Marshal(f)
	if want := `{"type":"object","properties":{"t":{"type":"array","items":{"type":"string","enum":["a","b"]}}}}`; string(got) != want {
		t.Fatalf("encoded %s", got)
	}
}

// Property order is the form's order on the page; it must survive a record's
// trip through storage and through JSON any number of times.
func TestFormOrderSurvivesJSONRoundTrips(t *testing.T) {
	f := mustParse(t, everyType)
	first, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	sess := &sessions.Session{ID: sessions.NewID(), Fields: f}
	for range 3 {
		b, err := json.Marshal(sess)
		if err != nil {
			t.Fatal(err)
		}
		var back sessions.Session
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back.Fields, f) {
			t.Fatalf("fields changed in a round trip:\n%+v\n%+v", back.Fields, f)
		}
		sess = &back
	}
	again, _ := json.Marshal(sess.Fields)
	if string(again) != string(first) {
		t.Fatalf("re-encoded differently:\n%s\n%s", again, first)
	}
}

func TestParseFormSchemaRefuses(t *testing.T) {
	prop := func(p string) string { return `{"type":"object","properties":{"f":` + p + `}}` }
	many := func(n int, item func(i int) string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = item(i)
		}
		return strings.Join(parts, ",")
	}
	deep := strings.Repeat("[", 5000) + strings.Repeat("]", 5000)
	for _, tc := range []struct {
		name, schema, field string
	}{
		{"a number", `5`, "fields"},
		{"an array", `[]`, "fields"},
		{"a string", `"object"`, "fields"},
		{"no type", `{"properties":{"f":{"type":"string"}}}`, "fields.type"},
		{"root type array", `{"type":"array","properties":{}}`, "fields.type"},
		{"root type not a string", `{"type":["object"],"properties":{}}`, "fields.type"},
		{"no properties", `{"type":"object"}`, "fields.properties"},
		{"empty properties", `{"type":"object","properties":{}}`, "fields.properties"},
		{"properties an array", `{"type":"object","properties":[]}`, "fields.properties"},
		{"properties null", `{"type":"object","properties":null}`, "fields.properties"},
		{"21 properties", `{"type":"object","properties":{` + many(21, func(i int) string { return fmt.Sprintf(`"f%d":{"type":"boolean"}`, i) }) + `}}`, "fields.properties"},
		{"root $ref", `{"type":"object","$ref":"#/x","properties":{"f":{"type":"string"}}}`, "fields.$ref"},
		{"root title", `{"type":"object","title":"x","properties":{"f":{"type":"string"}}}`, "fields.title"},
		{"root additionalProperties", `{"type":"object","additionalProperties":false,"properties":{"f":{"type":"string"}}}`, "fields.additionalProperties"},
		{"duplicate key", `{"type":"object","type":"object","properties":{"f":{"type":"string"}}}`, "fields"},
		{"duplicate property", `{"type":"object","properties":{"f":{"type":"string"},"f":{"type":"number"}}}`, "fields.properties"},
		{"space in name", `{"type":"object","properties":{"a b":{"type":"string"}}}`, "fields.properties"},
		{"dot in name", `{"type":"object","properties":{"a.b":{"type":"string"}}}`, "fields.properties"},
		{"non-ASCII name", `{"type":"object","properties":{"é":{"type":"string"}}}`, "fields.properties"},
		{"65-char name", `{"type":"object","properties":{"` + strings.Repeat("n", 65) + `":{"type":"string"}}}`, "fields.properties"},
		{"empty name", `{"type":"object","properties":{"":{"type":"string"}}}`, "fields.properties"},
		{"property not an object", prop(`"string"`), "fields.properties.f"},
		{"no field type", prop(`{"title":"x"}`), "fields.properties.f.type"},
		{"nested object", prop(`{"type":"object","properties":{"g":{"type":"string"}}}`), "fields.properties.f.type"},
		{"nested properties", prop(`{"type":"string","properties":{"g":{"type":"string"}}}`), "fields.properties.f"},
		{"$ref", prop(`{"$ref":"#/defs/x","type":"string"}`), "fields.properties.f.$ref"},
		{"unknown type", prop(`{"type":"date"}`), "fields.properties.f.type"},
		{"null type", prop(`{"type":"null"}`), "fields.properties.f.type"},
		{"type list", prop(`{"type":["string","null"]}`), "fields.properties.f.type"},
		{"pattern", prop(`{"type":"string","pattern":"^a"}`), "fields.properties.f.pattern"},
		{"unknown format", prop(`{"type":"string","format":"ipv4"}`), "fields.properties.f.format"},
		{"format not a string", prop(`{"type":"string","format":1}`), "fields.properties.f.format"},
		{"title not a string", prop(`{"type":"string","title":5}`), "fields.properties.f.title"},
		{"title over 200", prop(`{"type":"string","title":"` + strings.Repeat("t", 201) + `"}`), "fields.properties.f.title"},
		{"title with newline", prop(`{"type":"string","title":"a\nb"}`), "fields.properties.f.title"},
		{"description over 1000", prop(`{"type":"string","description":"` + strings.Repeat("d", 1001) + `"}`), "fields.properties.f.description"},
		{"control character", prop(`{"type":"string","title":"a\u0007"}`), "fields.properties.f.title"},
		{"minLength negative", prop(`{"type":"string","minLength":-1}`), "fields.properties.f.minLength"},
		{"minLength fraction", prop(`{"type":"string","minLength":1.5}`), "fields.properties.f.minLength"},
		{"minLength a string", prop(`{"type":"string","minLength":"1"}`), "fields.properties.f.minLength"},
		{"maxLength over the cap", prop(`{"type":"string","maxLength":1001}`), "fields.properties.f.maxLength"},
		{"maxLength huge", prop(`{"type":"string","maxLength":1e300}`), "fields.properties.f.maxLength"},
		{"minLength over maxLength", prop(`{"type":"string","minLength":5,"maxLength":4}`), "fields.properties.f.minLength"},
		{"minimum over maximum", prop(`{"type":"number","minimum":5,"maximum":4}`), "fields.properties.f.minimum"},
		{"minimum a string", prop(`{"type":"number","minimum":"5"}`), "fields.properties.f.minimum"},
		{"minimum out of range", prop(`{"type":"number","minimum":1e400}`), "fields.properties.f.minimum"},
		{"integer with fractional bound", prop(`{"type":"integer","maximum":1.5}`), "fields.properties.f.maximum"},
		{"integer bound beyond 2^53", prop(`{"type":"integer","maximum":9007199254740993}`), "fields.properties.f.maximum"},
		{"minLength on a number", prop(`{"type":"number","minLength":1}`), "fields.properties.f.minLength"},
		{"minimum on a string", prop(`{"type":"string","minimum":1}`), "fields.properties.f.minimum"},
		{"enum on a number", prop(`{"type":"number","enum":[1,2]}`), "fields.properties.f.enum"},
		{"minimum on a boolean", prop(`{"type":"boolean","minimum":0}`), "fields.properties.f.minimum"},
		{"items on a string", prop(`{"type":"string","items":{"enum":["a"]}}`), "fields.properties.f.items"},
		{"empty enum", prop(`{"type":"string","enum":[]}`), "fields.properties.f.enum"},
		{"enum not an array", prop(`{"type":"string","enum":"a"}`), "fields.properties.f.enum"},
		{"enum of numbers", prop(`{"type":"string","enum":[1]}`), "fields.properties.f.enum[0]"},
		{"enum with an empty value", prop(`{"type":"string","enum":["a",""]}`), "fields.properties.f.enum[1]"},
		{"enum value over 200", prop(`{"type":"string","enum":["` + strings.Repeat("v", 201) + `"]}`), "fields.properties.f.enum[0]"},
		{"duplicate enum value", prop(`{"type":"string","enum":["a","b","a"]}`), "fields.properties.f.enum[2]"},
		{"101 enum values", prop(`{"type":"string","enum":[` + many(101, func(i int) string { return fmt.Sprintf(`"%d"`, i) }) + `]}`), "fields.properties.f.enum"},
		{"10,000 enum values", prop(`{"type":"string","enum":[` + many(10000, func(i int) string { return fmt.Sprintf(`"%d"`, i) }) + `]}`), "fields"},
		{"enumNames without enum", prop(`{"type":"string","enumNames":["A"]}`), "fields.properties.f.enumNames"},
		{"enumNames too short", prop(`{"type":"string","enum":["a","b"],"enumNames":["A"]}`), "fields.properties.f.enumNames"},
		{"enumNames not strings", prop(`{"type":"string","enum":["a"],"enumNames":[1]}`), "fields.properties.f.enumNames[0]"},
		{"enum and oneOf", prop(`{"type":"string","enum":["a"],"oneOf":[{"const":"a","title":"A"}]}`), "fields.properties.f.oneOf"},
		{"oneOf without title", prop(`{"type":"string","oneOf":[{"const":"a"}]}`), "fields.properties.f.oneOf[0].title"},
		{"oneOf without const", prop(`{"type":"string","oneOf":[{"title":"A"}]}`), "fields.properties.f.oneOf[0].const"},
		{"oneOf with a number const", prop(`{"type":"string","oneOf":[{"const":1,"title":"A"}]}`), "fields.properties.f.oneOf[0].const"},
		{"oneOf with an extra key", prop(`{"type":"string","oneOf":[{"const":"a","title":"A","description":"x"}]}`), "fields.properties.f.oneOf[0].description"},
		{"oneOf with a schema", prop(`{"type":"string","oneOf":[{"type":"string"}]}`), "fields.properties.f.oneOf[0].type"},
		{"duplicate oneOf const", prop(`{"type":"string","oneOf":[{"const":"a","title":"A"},{"const":"a","title":"B"}]}`), "fields.properties.f.oneOf[1].const"},
		{"format on an enum", prop(`{"type":"string","enum":["a"],"format":"email"}`), "fields.properties.f.format"},
		{"maxLength on an enum", prop(`{"type":"string","enum":["a"],"maxLength":3}`), "fields.properties.f.maxLength"},
		{"array without items", prop(`{"type":"array"}`), "fields.properties.f.items"},
		{"array items of numbers", prop(`{"type":"array","items":{"type":"number"}}`), "fields.properties.f.items.type"},
		{"array items without choices", prop(`{"type":"array","items":{"type":"string"}}`), "fields.properties.f.items"},
		{"array items nested", prop(`{"type":"array","items":{"type":"string","items":{"enum":["a"]}}}`), "fields.properties.f.items"},
		{"array items enum and anyOf", prop(`{"type":"array","items":{"enum":["a"],"anyOf":[{"const":"b","title":"B"}]}}`), "fields.properties.f.items"},
		{"array items with pattern", prop(`{"type":"array","items":{"enum":["a"],"pattern":"x"}}`), "fields.properties.f.items.pattern"},
		{"uniqueItems", prop(`{"type":"array","uniqueItems":true,"items":{"enum":["a"]}}`), "fields.properties.f.uniqueItems"},
		{"minItems over maxItems", prop(`{"type":"array","minItems":2,"maxItems":1,"items":{"enum":["a","b"]}}`), "fields.properties.f.minItems"},
		{"minItems over the choices", prop(`{"type":"array","minItems":3,"items":{"enum":["a","b"]}}`), "fields.properties.f.minItems"},
		{"default of the wrong type", prop(`{"type":"number","default":"5"}`), "fields.properties.f.default"},
		{"default null", prop(`{"type":"string","default":null}`), "fields.properties.f.default"},
		{"default fraction for integer", prop(`{"type":"integer","default":2.5}`), "fields.properties.f.default"},
		{"default below minimum", prop(`{"type":"integer","minimum":3,"default":2}`), "fields.properties.f.default"},
		{"default too long", prop(`{"type":"string","maxLength":3,"default":"abcd"}`), "fields.properties.f.default"},
		{"default bad email", prop(`{"type":"string","format":"email","default":"nope"}`), "fields.properties.f.default"},
		{"default not a choice", prop(`{"type":"string","enum":["a"],"default":"b"}`), "fields.properties.f.default"},
		{"default list not choices", prop(`{"type":"array","items":{"enum":["a"]},"default":["b"]}`), "fields.properties.f.default[0]"},
		{"default list not a list", prop(`{"type":"array","items":{"enum":["a"]},"default":"a"}`), "fields.properties.f.default"},
		{"boolean default a string", prop(`{"type":"boolean","default":"true"}`), "fields.properties.f.default"},
		{"huge default", prop(`{"type":"string","default":"` + strings.Repeat("x", 70000) + `"}`), "fields"},
		{"deeply nested default", prop(`{"type":"string","default":` + deep + `}`), "fields.properties.f.default"},
		{"required not a list", `{"type":"object","properties":{"f":{"type":"string"}},"required":"f"}`, "fields.required"},
		{"required unknown", `{"type":"object","properties":{"f":{"type":"string"}},"required":["g"]}`, "fields.required[0]"},
		{"required twice", `{"type":"object","properties":{"f":{"type":"string"}},"required":["f","f"]}`, "fields.required[1]"},
		{"required a number", `{"type":"object","properties":{"f":{"type":"string"}},"required":[1]}`, "fields.required[0]"},
		{"$schema a number", `{"$schema":1,"type":"object","properties":{"f":{"type":"string"}}}`, "fields.$schema"},
		{"trailing value", `{"type":"object","properties":{"f":{"type":"string"}}} {}`, "fields"},
		{"truncated", `{"type":"object","properties":{"f":{"type":"string"}}`, "fields"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sessions.ParseFormSchema([]byte(tc.schema))
			e, ok := err.(*sessions.Error)
			if !ok || e.Code != sessions.CodeInvalidRequest {
				t.Fatalf("err = %v, want INVALID_REQUEST", err)
			}
			if e.Field != tc.field {
				t.Fatalf("field %q (%s), want %q", e.Field, e.Message, tc.field)
			}
		})
	}
}

func TestParseFormSchemaAcceptsTheEdges(t *testing.T) {
	for _, schema := range []string{
		`{"type":"object","properties":{"f":{"type":"string","maxLength":1000,"minLength":1000}}}`,
		`{"type":"object","properties":{"f":{"type":"integer","minimum":-9007199254740991,"maximum":9007199254740991}}}`,
		`{"type":"object","properties":{"f":{"type":"integer","minimum":3.0,"default":3e0}}}`,
		`{"type":"object","properties":{"f":{"type":"number","minimum":5,"maximum":5,"default":5}}}`,
		`{"type":"object","properties":{"f":{"type":"array","minItems":0,"maxItems":0,"items":{"enum":["a"]}}}}`,
		`{"type":"object","properties":{"` + strings.Repeat("n", 64) + `":{"type":"boolean"}}}`,
		`{"type":"object","properties":{"f":{"type":"string","enum":[` + strings.TrimSuffix(strings.Repeat(`"ab",`, 1)+numberedEnum(99), ",") + `]}}}`,
		`{"type":"object","properties":{"f":{"type":"string","title":"问题🙂","oneOf":[{"const":"是","title":"是的"}]}},"required":[]}`,
		"{\n  \"type\" : \"object\" ,\n  \"properties\" : { \"f_1-x\" : { \"type\" : \"string\" } }\n}",
	} {
		if _, err := sessions.ParseFormSchema([]byte(schema)); err != nil {
			t.Errorf("%s: %v", schema, err)
		}
	}
}

func numberedEnum(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `"v%d",`, i)
	}
	return b.String()
}

// A form arrives as part of a session record; a decoder that meets a bad
// one reports the same coded error.
func TestFormSchemaUnmarshalValidates(t *testing.T) {
	var f sessions.FormSchema
	err := json.Unmarshal([]byte(`{"type":"object","properties":{"f":{"type":"object"}}}`), &f)
	if sessions.ErrorCode(err) != sessions.CodeInvalidRequest {
		t.Fatalf("err = %v", err)
	}
}
