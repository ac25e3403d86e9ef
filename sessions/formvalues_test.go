package sessions_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/feedbackd/feedbackd/sessions"
)

func TestValidateValuesAcceptsAndCanonicalizes(t *testing.T) {
	f := mustParse(t, everyType)
	got, err := f.ValidateValues(json.RawMessage(`{
		"name": "Ada Lovelace", "email": "ada@example.org", "site": "https://example.org/a?b=c",
		"born": "2024-02-29", "at": "2026-03-01T14:30:00.5+01:00", "score": 1e2, "age": 36.0,
		"agree": true, "size": "l", "legacy": "b", "color": "g", "tags": ["z", "x"], "pets": ["dog"]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"name": `"Ada Lovelace"`, "email": `"ada@example.org"`, "site": `"https://example.org/a?b=c"`,
		"born": `"2024-02-29"`, "at": `"2026-03-01T14:30:00.5+01:00"`, "score": `100`, "age": `36`,
		"agree": `true`, "size": `"l"`, "legacy": `"b"`, "color": `"g"`, "tags": `["z","x"]`, "pets": `["dog"]`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d values: %v", len(got), got)
	}
	for k, v := range want {
		if string(got[k]) != v {
			t.Errorf("%s = %s, want %s", k, got[k], v)
		}
	}
}

func TestValidateValuesRefuses(t *testing.T) {
	f := mustParse(t, everyType)
	base := map[string]string{"name": `"Ada"`, "age": `30`, "agree": `false`}
	with := func(k, v string) string {
		m := map[string]json.RawMessage{}
		for bk, bv := range base {
			m[bk] = json.RawMessage(bv)
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = json.RawMessage(v)
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	for _, tc := range []struct {
		name, values, field string
	}{
		{"not an object", `["Ada"]`, "values"},
		{"a string", `"x"`, "values"},
		{"duplicate key", `{"name":"Ada","name":"Bob","age":1,"agree":true}`, "values"},
		{"unknown field", with("nickname", `"x"`), "values.nickname"},
		{"unknown odd field", `{"a b":1}`, "values"},
		{"required missing", with("age", ""), "values.age"},
		{"required empty string", with("name", `""`), "values.name"},
		{"required null", with("agree", `null`), "values.agree"},
		{"string as number", with("name", `5`), "values.name"},
		{"string too short", with("name", `"A"`), "values.name"},
		{"string too long in characters", with("name", `"`+strings.Repeat("字", 51)+`"`), "values.name"},
		{"control character", with("name", `"Ada\u0000"`), "values.name"},
		{"no maxLength still capped", with("site", `"https://e.org/`+strings.Repeat("a", 1000)+`"`), "values.site"},
		{"email without at", with("email", `"ada.example.org"`), "values.email"},
		{"email with a name", with("email", `"Ada <ada@example.org>"`), "values.email"},
		{"email without a dot", with("email", `"ada@localhost"`), "values.email"},
		{"email two ats", with("email", `"a@b@example.org"`), "values.email"},
		{"email with space", with("email", `"ada @example.org"`), "values.email"},
		{"uri relative", with("site", `"/just/a/path"`), "values.site"},
		{"uri no scheme", with("site", `"example.org"`), "values.site"},
		{"uri scheme only", with("site", `"https://"`), "values.site"},
		{"uri with space", with("site", `"https://example.org/a b"`), "values.site"},
		{"date not leap", with("born", `"2023-02-29"`), "values.born"},
		{"date month 13", with("born", `"2024-13-01"`), "values.born"},
		{"date unpadded", with("born", `"2024-1-01"`), "values.born"},
		{"date with time", with("born", `"2024-01-01T00:00:00Z"`), "values.born"},
		{"date-time without zone", with("at", `"2026-03-01T14:30:00"`), "values.at"},
		{"date-time date only", with("at", `"2026-03-01"`), "values.at"},
		{"date-time hour 25", with("at", `"2026-03-01T25:00:00Z"`), "values.at"},
		{"number as string", with("score", `"5"`), "values.score"},
		{"number below minimum", with("score", `-2`), "values.score"},
		{"number above maximum", with("score", `1000.5`), "values.score"},
		{"number out of range", with("score", `1e400`), "values.score"},
		{"integer fraction", with("age", `36.5`), "values.age"},
		{"integer above maximum", with("age", `151`), "values.age"},
		{"integer below minimum", with("age", `-1`), "values.age"},
		{"integer as bool", with("age", `true`), "values.age"},
		{"boolean as string", with("agree", `"true"`), "values.agree"},
		{"boolean as number", with("agree", `1`), "values.agree"},
		{"enum not a choice", with("size", `"xl"`), "values.size"},
		{"enum by title", with("color", `"Red"`), "values.color"},
		{"enum as list", with("size", `["s"]`), "values.size"},
		{"multi not a list", with("tags", `"x"`), "values.tags"},
		{"multi not a choice", with("tags", `["x","w"]`), "values.tags[1]"},
		{"multi twice", with("tags", `["x","x"]`), "values.tags[1]"},
		{"multi above maxItems", with("tags", `["x","y","z"]`), "values.tags"},
		{"multi of numbers", with("pets", `[1]`), "values.pets[0]"},
		{"multi more than choices", with("pets", `["cat","dog","cat"]`), "values.pets"},
		{"deep nesting", with("pets", strings.Repeat("[", 20000)+strings.Repeat("]", 20000)), "values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.ValidateValues(json.RawMessage(tc.values))
			e, ok := err.(*sessions.Error)
			if !ok || e.Code != sessions.CodeInvalidRequest {
				t.Fatalf("%s: err = %v, want INVALID_REQUEST", tc.values, err)
			}
			if e.Field != tc.field {
				t.Fatalf("field %q (%s), want %q", e.Field, e.Message, tc.field)
			}
		})
	}
}

func TestValidateValuesAcceptsTheEdges(t *testing.T) {
	f := mustParse(t, everyType)
	for _, values := range []string{
		`{"name":"Ad","age":0,"agree":false}`,
		`{"name":"` + strings.Repeat("字", 50) + `","age":150,"agree":true}`,
		`{"name":"Ada","age":1.0e2,"agree":true,"score":-1.5}`,
		`{"name":"Ada","age":3,"agree":true,"email":"o'neil+tag@mail.example.co.uk"}`,
		`{"name":"Ada","age":3,"agree":true,"email":"用户@例子.广告"}`,
		`{"name":"Ada","age":3,"agree":true,"site":"mailto:ada@example.org"}`,
		`{"name":"Ada","age":3,"agree":true,"site":"urn:isbn:0451450523"}`,
		`{"name":"Ada","age":3,"agree":true,"at":"2026-03-01T14:30:00Z","born":"2000-02-29"}`,
		`{"name":"Ada","age":3,"agree":true,"email":"","tags":[],"pets":null}`,
		`{"name":"Ada\nLovelace","age":3,"agree":true}`,
	} {
		if _, err := f.ValidateValues(json.RawMessage(values)); err != nil {
			t.Errorf("%s: %v", values, err)
		}
	}
}

// Empty, null and missing answers to optional fields are all "no answer"
// and leave nothing behind.
func TestEmptyAnswersAreNotStored(t *testing.T) {
	f := mustParse(t, everyType)
	got, err := f.ValidateValues(json.RawMessage(`{"name":"Ada","age":3,"agree":false,"email":"","tags":[ ],"score":null}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("stored %v", got)
	}
}

func TestDescribeRendersInFormOrder(t *testing.T) {
	f := mustParse(t, everyType)
	v, err := f.ValidateValues(json.RawMessage(`{"pets":["cat","dog"],"tags":["y","x"],"color":"r","legacy":"a","size":"m",
		"agree":true,"age":36,"score":2.5,"born":"1815-12-10","name":"Ada"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := "Name: Ada\nBirthday: 1815-12-10\nscore: 2.5\nAge: 36\nI agree: yes\nsize: m\nlegacy: Option A (a)\n" +
		"Colour: Red (r)\ntags: y, x\nPets: Cat (cat), Dog (dog)"
	if got := f.Describe(v); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	v, _ = f.ValidateValues(json.RawMessage(`{"name":"Ada","age":1,"agree":false}`))
	if got := f.Describe(v); got != "Name: Ada\nAge: 1\nI agree: no" {
		t.Fatalf("got %q", got)
	}
}

func TestValuesFromForm(t *testing.T) {
	f := mustParse(t, everyType)
	form := url.Values{
		"name":  {"Ada"},
		"age":   {" 36 "},
		"score": {"2.5e0"},
		"agree": {"false", "on"}, // a hidden "false" and the ticked box
		"size":  {"m"},
		"tags":  {"x", "", "z"},
		"email": {""},
	}
	raw, err := f.ValuesFromForm(func(name string) []string { return form[name] })
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"Ada","score":2.5,"age":36,"agree":true,"size":"m","tags":["x","z"]}`
	if string(raw) != want {
		t.Fatalf("got  %s\nwant %s", raw, want)
	}
	if _, err := f.ValidateValues(raw); err != nil {
		t.Fatal(err)
	}
	// An unticked box posts nothing, which is an answer: false.
	raw, _ = f.ValuesFromForm(func(name string) []string { return url.Values{"name": {"Ada"}, "age": {"1"}}[name] })
	if !strings.Contains(string(raw), `"agree":false`) {
		t.Fatalf("unticked box: %s", raw)
	}
	for _, bad := range []string{"abc", "Inf", "NaN", "0x10", "1,5", "--1"} {
		_, err := f.ValuesFromForm(func(name string) []string { return url.Values{"age": {bad}}[name] })
		if e, ok := err.(*sessions.Error); !ok || e.Field != "values.age" {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
