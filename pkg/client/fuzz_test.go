package client

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
)

// Whatever a server or a proxy answers, decoding it never panics and gives
// an error that says its status.
func FuzzDecodeError(f *testing.F) {
	f.Add(400, `{"success":false,"error":{"code":"INVALID_REQUEST","message":"m","details":{"field":"f","reason":"r"}}}`, "3")
	f.Add(502, `<html>bad gateway</html>`, "Wed, 21 Oct 2015 07:28:00 GMT")
	f.Add(429, `{"error":{"code":7}}`, "-1")
	f.Add(503, `{"error":null}`, "")
	f.Fuzz(func(t *testing.T, status int, body, retryAfter string) {
		err := decodeError(status, http.Header{"Retry-After": {retryAfter}}, []byte(body))
		if err.Status != status || err.Error() == "" || err.RetryAfter < 0 {
			t.Fatalf("%+v", err)
		}
		if s, ok := sentinels[err.Code]; ok && !errors.Is(err, s) {
			t.Fatalf("%s does not match its sentinel", err.Code)
		}
	})
}

// Any text frame parses into an event or an error, never a panic.
func FuzzParseEvent(f *testing.F) {
	f.Add(`{"type":"session_status_changed","data":{"sessionId":"s","oldStatus":"pending","newStatus":"completed","timestamp":"2026-11-22T04:41:33.120Z","revision":57},"timestamp":"2026-11-22T04:41:33.124Z"}`)
	f.Add(`{"type":"connection_established","data":{"revision":18446744073709551615}}`)
	f.Add(`{"type":1}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, frame string) {
		ev, err := parseEvent([]byte(frame))
		if err != nil {
			return
		}
		st := (&Client{}).newStream("/ws", nil)
		st.accept(ev)
		if d, _ := st.accept(ev); d && ev.Type != EventConnected {
			t.Fatalf("the same %s was delivered twice", ev.Type)
		}
	})
}

// A form read from any JSON writes JSON that reads back the same.
func FuzzFormJSON(f *testing.F) {
	f.Add(`{"type":"object","properties":{"b":{"type":"string","enum":["x"],"enumNames":["X"]},"a":{"type":"array","items":{"anyOf":[{"const":"1","title":"one"}]}}},"required":["a"]}`)
	f.Add(`{"properties":null}`)
	f.Add(`{"properties":{"":{"type":"number","minimum":-1e308}}}`)
	f.Fuzz(func(t *testing.T, in string) {
		var form Form
		if json.Unmarshal([]byte(in), &form) != nil {
			return
		}
		b, err := json.Marshal(form)
		if err != nil {
			return // a field without a name cannot be written
		}
		var back Form
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s does not read back: %v", b, err)
		}
		b2, err := json.Marshal(back)
		if err != nil || string(b2) != string(b) {
			t.Fatalf("round trip\n%s\n%s", b, b2)
		}
	})
}
