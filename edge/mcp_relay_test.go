package edge_test

import (
	"context"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/feedbackd/feedbackd/edge"
	"github.com/feedbackd/feedbackd/pkg/natsutil/natstest"
	"github.com/feedbackd/feedbackd/pkg/relay"
)

// relayedConfig is fastConfig with SSE messages relayed over ns.
func relayedConfig(t testing.TB, ns *natstest.Server) edge.Config {
	cfg := fastConfig()
	nc, _ := ns.Connect(t)
	cfg.Relay = relay.NewNATS(nc, edge.RelaySubjectPrefix, quietLog)
	return cfg
}

func TestMCPSSEMessagesReachTheStreamThroughAnyEdge(t *testing.T) {
	ns := natstest.Start(t)
	a, b := startMCPEdge(t, ns, relayedConfig(t, ns)), startMCPEdge(t, ns, relayedConfig(t, ns))
	// The stream opens on a; the requests after it alternate b, a, b, ...
	kt := newKeyTransport(keyA, hostOf(a.url), hostOf(b.url))
	c := connect(t, transports[2], a.url, kt)
	ctx := context.Background()
	if res, err := c.ListTools(ctx, nil); err != nil || len(res.Tools) != 3 {
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
	waitFor(t, 5*time.Second, "the relayed call to wait", func() bool { return a.hub.Subscribers()+b.hub.Subscribers() == 1 })
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
	ns := natstest.Start(t)
	e := startMCPEdge(t, ns, relayedConfig(t, ns))
	code, body := rest(t, "POST", e.url+"/sse/message?sessionId=00000000-0000-4000-8000-000000000000", keyA,
		map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
	if code != 400 || body["error"] == nil {
		t.Fatalf("unknown stream: %d %v", code, body)
	}
}
