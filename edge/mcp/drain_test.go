package mcp

import (
	"strings"
	"testing"
)

// What a stream writes pays an answer only when it is a JSON-RPC response:
// not a notification, a request of the server's, a ping comment or the
// endpoint event.
func TestAnswersArePaidByResponsesOnly(t *testing.T) {
	for _, tc := range []struct {
		write string
		pays  bool
	}{
		{"event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}\n\n", true},
		{"event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":\"a\",\"error\":{\"code\":-1,\"message\":\"x\"}}\n\n", true},
		{"event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\n\n", false},
		{"event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n\n", false},
		{"event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{}}\n\n", false},
		{"event: endpoint\ndata: /sse/message?sessionId=x\r\n\r\n", false},
		{": keep-alive\n\n", false},
		{"event: message\ndata: {not json\n\n", false},
	} {
		var a answers
		a.owe()
		a.wrote([]byte(tc.write))
		if paid := a.owed.Load() == 0; paid != tc.pays {
			t.Errorf("%q: paid %v, want %v", tc.write, paid, tc.pays)
		}
	}
}

func TestIsRequest(t *testing.T) {
	for body, want := range map[string]bool{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call"}`:       true,
		`{"jsonrpc":"2.0","id":"x","method":"initialize"}`:     true,
		`{"jsonrpc":"2.0","method":"notifications/cancelled"}`: false,
		`{"jsonrpc":"2.0","id":1,"result":{}}`:                 false,
		`{"jsonrpc":"2.0","id":null,"method":"ping"}`:          false,
		`[{"jsonrpc":"2.0","id":1,"method":"ping"}]`:           false,
		`nonsense`: false,
	} {
		if got := isRequest([]byte(body)); got != want {
			t.Errorf("isRequest(%s) = %v, want %v", body, got, want)
		}
	}
}

// Whatever a client or the stream carries, counting never panics and never
// pays more than one answer per write.
func FuzzAnswers(f *testing.F) {
	f.Add([]byte("event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}\n\n"))
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call"}`))
	f.Add([]byte("event: message\ndata: " + strings.Repeat("[", 1000)))
	f.Fuzz(func(t *testing.T, p []byte) {
		var a answers
		_ = isRequest(p)
		a.wrote(p)
		a.wrote(append([]byte("event: message\ndata: "), p...))
		if n := a.owed.Load(); n < -2 || n > 0 {
			t.Fatalf("owed %d after two writes", n)
		}
	})
}

// isRequest reports whether body is a JSON-RPC request, which gets a
// response, as the SSE paths decide it.
func isRequest(body []byte) bool {
	msg := parseRPC(body)
	return msg != nil && msg.isRequest()
}
