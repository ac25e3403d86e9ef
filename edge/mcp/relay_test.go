package mcp_test

import (
	"context"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
)

func TestMCPSSEMessagesReachTheStreamThroughAnyEdge(t *testing.T) {
	t.Parallel()
	ns := programtest.StartNATS(t)
	a, b := startEdge(t, ns.URL), startEdge(t, ns.URL)
	// The stream opens on a; the requests after it alternate b, a, b, ...
	kt := newKeyTransport(keyA, hostOf(a.url), hostOf(b.url))
	c := connect(t, transports[2], a.url, kt)
	ctx := context.Background()
	if res, err := c.ListTools(ctx, nil); err != nil || len(res.Tools) != 6 {
		t.Fatalf("list tools through the other edge: %v", err)
	}
	for range 3 {
		id := structured(t, c.call(t, ctx, "interactive_feedback", map[string]any{"message": "Relayed?", "waitSeconds": 0})).SessionID
		structured(t, c.call(t, ctx, "check_feedback_status", map[string]any{"sessionId": id}))
	}
	done := make(chan *sdk.CallToolResult, 1)
	go func() {
		done <- c.call(t, ctx, "interactive_feedback", map[string]any{"message": "Answer me", "predefinedOptions": []string{"A", "B"}, "waitSeconds": 30})
	}()
	programtest.WaitFor(t, 5*time.Second, programtest.Until("the relayed call to wait", func() bool { return a.hub.Subscribers()+b.hub.Subscribers() == 1 }))
	id := pendingSession(t, b, keyA)
	submit(t, b.url, id, map[string]any{"selectedOptions": []string{"A"}})
	select {
	case res := <-done:
		if out := structured(t, res); out.Status != "completed" || out.Feedback.CombinedFeedback != "A" {
			t.Fatalf("answer = %+v", out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the relayed wait never returned the answer")
	}
	if seen := kt.hostsSeen(); seen[hostOf(b.url)] < 4 {
		t.Fatalf("requests per edge = %v: too few went to the edge without the stream", seen)
	}
}

func TestMCPSSEMessageForAStreamNoEdgeHoldsIsRefused(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	code, body := rest(t, "POST", e.url+"/sse/message?sessionId=00000000-0000-4000-8000-000000000000", keyA,
		map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
	if code != 400 || body["error"] == nil {
		t.Fatalf("unknown stream: %d %v", code, body)
	}
}
