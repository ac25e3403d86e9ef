package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/feedbackd/feedbackd/pkg/poll"
)

// keyHeader adds the API key to every request of an MCP client.
type keyHeader struct{ base http.RoundTripper }

func (k keyHeader) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-API-Key", testKey)
	return k.base.RoundTrip(r)
}

// SIGTERM answers every waiter at once: an MCP interactive_feedback call
// (official Go SDK) gets a result naming its session, still pending, and
// how to keep waiting; a REST long poll gets 503 with Retry-After on a
// closing connection. With only waiters open, the process exits well
// within the 10 s grace.
func TestSIGTERMAnswersEveryWaiterAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a real process")
	}
	p := start(t, 0)
	id, err := create(p.url)
	if err != nil {
		t.Fatal(err)
	}

	// A REST long poll, as curl sends it.
	conn, err := net.Dial("tcp", strings.TrimPrefix(p.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /api/feedback/%s/result?wait=60 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: %s\r\n\r\n", id, testKey)

	// An agent asking a question and waiting an hour for the answer.
	cl := sdk.NewClient(&sdk.Implementation{Name: "sigterm-test", Version: "1"}, nil)
	cs, err := cl.Connect(context.Background(), &sdk.StreamableClientTransport{
		Endpoint: p.url + "/mcp", MaxRetries: -1,
		HTTPClient: &http.Client{Transport: keyHeader{http.DefaultTransport}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	type callResult struct {
		res *sdk.CallToolResult
		err error
	}
	called := make(chan callResult, 1)
	go func() {
		res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "interactive_feedback",
			Arguments: map[string]any{"message": "Deploy now?", "waitSeconds": 3600}})
		called <- callResult{res, err}
	}()
	poll.Until(t, 10*time.Second, func() error {
		if n := gauge(p.url, "feedbackd_sessions_waits_in_flight"); n != 2 {
			return fmt.Errorf("%v waits in flight, want 2", n)
		}
		return nil
	})

	took := p.stop(t)
	t.Logf("feedbackd exited %s after SIGTERM with an MCP call and a long poll waiting", took.Round(time.Millisecond))
	if took >= 2*time.Second {
		t.Errorf("exit took %s, want under 2 s", took)
	}

	_ = conn.SetReadDeadline(time.Now().Add(time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the long poll got no answer: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" || !res.Close ||
		!strings.Contains(string(body), `"code":"SERVICE_UNAVAILABLE"`) {
		t.Errorf("the long poll: %d, Retry-After %q, close %v: %s", res.StatusCode, res.Header.Get("Retry-After"), res.Close, body)
	}

	select {
	case r := <-called:
		if r.err != nil {
			t.Fatalf("interactive_feedback ended without a result: %v", r.err)
		}
		var out struct {
			SessionID, Status, Instruction string
		}
		b, _ := json.Marshal(r.res.StructuredContent)
		_ = json.Unmarshal(b, &out)
		var text string
		for _, c := range r.res.Content {
			if tc, ok := c.(*sdk.TextContent); ok {
				text += tc.Text
			}
		}
		if r.res.IsError || out.Status != "pending" || out.SessionID == "" ||
			!strings.Contains(text, out.SessionID) || !strings.Contains(out.Instruction, "get_feedback_result") {
			t.Errorf("interactive_feedback at SIGTERM: %s; text %q", b, text)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("interactive_feedback got nothing")
	}
}
