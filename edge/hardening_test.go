package edge_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	fws "github.com/fasthttp/websocket"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
)

// The regression tests of issue 12 ("Hardening") that concern the edge and
// the routes serve mounts beside it: each attacks the real program.

// serveStack runs `feedbackd serve` in process (edge, notifier, expirer on
// an embedded NATS), as a user runs it.
func serveStack(t *testing.T, opts ...programtest.Option) *restEdge {
	t.Helper()
	m := programtest.MustRunMain(t, opts...)
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	return &restEdge{URL: m.URL(), Svc: m.Backend().Service(), m: m}
}

// wsDial tries a WebSocket upgrade and returns the HTTP status it got: 101
// when it opened (the socket is closed again at once).
func wsDial(t *testing.T, url string, hdr http.Header) (int, string) {
	t.Helper()
	conn, resp, err := (&fws.Dialer{}).Dial("ws"+strings.TrimPrefix(url, "http"), hdr)
	if err == nil {
		conn.Close()
		return http.StatusSwitchingProtocols, ""
	}
	if resp == nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// Two credentials in one request are refused everywhere, whatever they are
// and whichever is valid (issue 12, break 10: a valid X-API-Key beside a
// wrong Bearer token was served 200). The REST routes are in
// TestAuthEveryCredentialFormThroughTheHTTPStack; here MCP and WebSocket.
func TestTwoCredentialsAreRefusedOnMCPAndWebSocket(t *testing.T) {
	t.Parallel()
	e := serveStack(t)
	id := e.create(t, keyA, map[string]any{"message": "whose?"})
	initialize := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`

	for _, tc := range []struct {
		name string
		hdr  http.Header
	}{
		{"X-API-Key and a wrong Bearer", h("X-API-Key", keyA, "Authorization", "Bearer wrong")},
		{"X-API-Key and the same key as ApiKey", h("X-API-Key", keyA, "Authorization", "ApiKey "+keyA)},
		{"two keys of two principals", h("X-API-Key", keyA, "Authorization", "ApiKey "+keyB)},
	} {
		t.Run("MCP "+tc.name, func(t *testing.T) {
			hdr := tc.hdr.Clone()
			hdr.Set("Content-Type", ctJSON)
			hdr.Set("Accept", "application/json, text/event-stream")
			r := send(t, "POST", e.URL+"/mcp", hdr, initialize)
			if r.Status != 401 || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer ") {
				t.Fatalf("POST /mcp: %d %q %s", r.Status, r.Header.Get("WWW-Authenticate"), r.Raw)
			}
			if r := send(t, "GET", e.URL+"/sse", tc.hdr, ""); r.Status != 401 {
				t.Fatalf("GET /sse: %d %s", r.Status, r.Raw)
			}
		})
	}

	for _, tc := range []struct {
		name, path string
		hdr        http.Header
		want       int
	}{
		{"X-API-Key and Authorization", "/ws/" + id, h("X-API-Key", keyA, "Authorization", "ApiKey "+keyA), 401},
		{"X-API-Key and a wrong Bearer", "/ws", h("X-API-Key", keyA, "Authorization", "Bearer wrong"), 401},
		{"apiKey and token", "/ws/" + id + "?apiKey=" + keyA + "&token=wrong", nil, 401},
		{"apiKey and X-API-Key", "/ws?apiKey=" + keyA, h("X-API-Key", keyA), 401},
		{"token and Authorization", "/ws?token=wrong", h("Authorization", "ApiKey "+keyA), 401},
		{"apiKey twice", "/ws?apiKey=" + keyA + "&apiKey=" + keyB, nil, 401},
		{"one apiKey", "/ws/" + id + "?apiKey=" + keyA, nil, 101},
		{"one header", "/ws", h("X-API-Key", keyA), 101},
	} {
		t.Run("WebSocket "+tc.name, func(t *testing.T) {
			status, body := wsDial(t, e.URL+tc.path, tc.hdr)
			if status != tc.want {
				t.Fatalf("upgrade: %d %s, want %d", status, body, tc.want)
			}
			if tc.want == 401 && !strings.Contains(body, `"UNAUTHORIZED"`) {
				t.Fatalf("refusal is not the UNAUTHORIZED envelope: %s", body)
			}
		})
	}
}
