package sessions_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/feedbackd/feedbackd/sessions"
)

func BenchmarkParseFormSchema(b *testing.B) {
	data := []byte(everyType)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := sessions.ParseFormSchema(data); err != nil {
			b.Fatal(err)
		}
	}
}

// The worst a hostile schema costs: one just under the raw size cap,
// refused for its enum.
func BenchmarkParseFormSchemaHostile(b *testing.B) {
	var enum strings.Builder
	for i := 0; enum.Len() < 4*sessions.MaxFormBytes-100; i++ {
		fmt.Fprintf(&enum, `"%d",`, i)
	}
	data := []byte(`{"type":"object","properties":{"f":{"type":"string","enum":[` + strings.TrimSuffix(enum.String(), ",") + `]}}}`)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := sessions.ParseFormSchema(data); err == nil {
			b.Fatal("accepted")
		}
	}
}

func BenchmarkValidateValues(b *testing.B) {
	f := mustParse(b, everyType)
	values := json.RawMessage(`{"name":"Ada Lovelace","email":"ada@example.org","site":"https://example.org/",
		"born":"1815-12-10","at":"2026-03-01T14:30:00Z","score":2.5,"age":36,"agree":true,"size":"m",
		"legacy":"a","color":"g","tags":["x","y"],"pets":["cat","dog"]}`)
	b.SetBytes(int64(len(values)))
	for b.Loop() {
		if _, err := f.ValidateValues(values); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeImage: validating one 1 MiB PNG (base64 decoding, sniffing,
// hashing).
func BenchmarkDecodeImage(b *testing.B) {
	data := noisePNG(b, 512, 512)
	in := sessions.ImageInput{Data: b64(data)}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := createWithImages(limits, in); err != nil {
			b.Fatal(err)
		}
	}
}
