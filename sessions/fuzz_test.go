package sessions_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/feedbackd/feedbackd/sessions"
)

var schemaSeeds = []string{
	everyType,
	smallForm,
	`{"type":"object","properties":{"f":{"type":"string","enum":["a","b"],"enumNames":["A","B"],"default":"b"}}}`,
	`{"type":"object","properties":{"f":{"type":"array","items":{"anyOf":[{"const":"a","title":"A"}]},"default":["a"]}}}`,
	`{"type":"object","properties":{"f":{"type":"number","minimum":-0,"maximum":1e308,"default":-0.0}}}`,
	`{"type":"object","properties":{"f":{"type":"integer","minimum":3.0,"default":3e0}}}`,
	`{"type":"object","properties":{"f":{"type":"string","title":"\u003c\u0026\u003e","default":"\u00e9"}}}`,
	`{"type":"object","properties":{"f":{"type":"object","properties":{}}}}`,
	`{"type":"object","$ref":"#"}`,
	`{"type":"object","properties":{"f":{"type":"string","default":[[[[[[[[]]]]]]]]}}}`,
	`[]`, `null`, `"x"`, `{}`, `{"type":"object","properties":{"":{}}}`,
}

// FuzzParseFormSchema: any input is a schema or INVALID_REQUEST naming a
// field under "fields", never a panic; an accepted schema re-encodes to JSON
// that parses to the same schema and encodes to the same bytes.
func FuzzParseFormSchema(f *testing.F) {
	for _, s := range schemaSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fs, err := sessions.ParseFormSchema(data)
		if err != nil {
			e, ok := err.(*sessions.Error)
			if !ok || e.Code != sessions.CodeInvalidRequest || !strings.HasPrefix(e.Field, "fields") {
				t.Fatalf("%q: %v", data, err)
			}
			return
		}
		enc, err := json.Marshal(fs)
		if err != nil {
			t.Fatal(err)
		}
		again, err := sessions.ParseFormSchema(enc)
		if err != nil {
			t.Fatalf("accepted %q but not its encoding %s: %v", data, enc, err)
		}
		if !reflect.DeepEqual(fs, again) {
			t.Fatalf("re-parse differs:\n%+v\n%+v", fs, again)
		}
		if enc2, _ := json.Marshal(again); string(enc2) != string(enc) {
			t.Fatalf("encoding not stable:\n%s\n%s", enc, enc2)
		}
		if len(enc) > sessions.MaxFormBytes || len(fs.Properties) > sessions.MaxFormFields {
			t.Fatalf("accepted a schema over the caps: %d bytes, %d fields", len(enc), len(fs.Properties))
		}
	})
}

// FuzzValidateValues: against forms of every field type, an answer is
// accepted in canonical form or refused with INVALID_REQUEST naming a field
// under "values"; the canonical form is accepted again unchanged and holds
// only properties of the form, with every required one.
func FuzzValidateValues(f *testing.F) {
	for _, v := range []string{
		`{"name":"Ada","age":36,"agree":true,"tags":["x"],"pets":["cat"],"color":"r","born":"2024-02-29"}`,
		`{"name":"Ada","age":3.0,"agree":false,"score":-0,"email":"a@b.co","site":"https://x.org","at":"2026-01-01T00:00:00Z"}`,
		`{"name":"","age":null,"agree":"yes"}`, `{"x":1}`, `[]`, `{"tags":["x","x"]}`, `{"age":1e999}`, `{"n":9007199254740991}`,
		`{"name":"Ada","age":1,"agree":true,"legacy":"a","size":"s","tags":[],"email":"用户@例子.广告"}`,
	} {
		f.Add([]byte(v))
	}
	forms := []*sessions.FormSchema{mustParse(f, everyType), mustParse(f, smallForm)}
	f.Fuzz(func(t *testing.T, values []byte) {
		for _, fs := range forms {
			v, err := fs.ValidateValues(values)
			if err != nil {
				e, ok := err.(*sessions.Error)
				if !ok || e.Code != sessions.CodeInvalidRequest || !strings.HasPrefix(e.Field, "values") {
					t.Fatalf("%q: %v", values, err)
				}
				continue
			}
			for name := range v {
				if _, ok := fs.Property(name); !ok {
					t.Fatalf("kept unknown field %q", name)
				}
			}
			for _, r := range fs.Required {
				if _, ok := v[r]; !ok {
					t.Fatalf("accepted without required %q", r)
				}
			}
			canon, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			again, err := fs.ValidateValues(canon)
			if err != nil {
				t.Fatalf("canonical answer %s refused: %v", canon, err)
			}
			if !reflect.DeepEqual(v, again) {
				t.Fatalf("canonical answer changed:\n%v\n%v", v, again)
			}
			_ = fs.Describe(v)
		}
	})
}

// FuzzImage: any bytes offered as an image are accepted as one of the four
// types or refused with INVALID_REQUEST naming the image.
func FuzzImage(f *testing.F) {
	f.Add(encodePNG(f, 3, 2))
	f.Add(encodeJPEG(f, 3, 2))
	f.Add(encodeGIF(f, 3, 2))
	f.Add(readFixture(f, "lossy.webp"))
	f.Add(readFixture(f, "lossless.webp"))
	f.Add(readFixture(f, "extended.webp"))
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8X"))
	f.Add([]byte(`<svg onload="alert(1)"/>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		err := createWithImages(limits, sessions.ImageInput{Data: b64(data), Name: string(data[:min(len(data), 120)])})
		if err == nil {
			return
		}
		e, ok := err.(*sessions.Error)
		if !ok || e.Code != sessions.CodeInvalidRequest || !strings.HasPrefix(e.Field, "images[0]") {
			t.Fatalf("%q: %v", data, err)
		}
	})
}
