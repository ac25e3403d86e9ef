package mcp_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// BenchmarkMCPAppAnsweredLatency is BenchmarkMCPAnsweredLatency with the
// person answering inside the MCP App: from the app's
// submit_feedback_from_app call being sent (through the same connection, as
// a host forwards it) to the waiting interactive_feedback result arriving
// at the client. The app's own lookup of the session (read_feedback_for_app
// by the call's arguments) is timed apart, as find-µs.
func BenchmarkMCPAppAnsweredLatency(b *testing.B) {
	e := newEdge(b)
	ctx := context.Background()
	args := map[string]any{"message": "Answer in the app?", "predefinedOptions": []string{"Yes", "No"}, "waitSeconds": 30}
	for _, tc := range transports {
		b.Run(tc.name, func(b *testing.B) {
			c := connectHost(b, tc, e.url, newKeyTransport(keyA))
			created := pendingSessions(b, e)
			samples := make([]time.Duration, 0, b.N)
			var find time.Duration
			for b.Loop() {
				done := make(chan *sdk.CallToolResult, 1)
				go func() {
					res, _ := c.CallTool(ctx, &sdk.CallToolParams{Name: "interactive_feedback", Arguments: args})
					done <- res
				}()
				id := <-created
				for e.hub.Subscribers() < 2 {
					runtime.Gosched()
				}
				start := time.Now()
				view := decodeStructured[appView](b, c.call(b, ctx, "read_feedback_for_app", map[string]any{"arguments": args, "html": true}))
				find += time.Since(start)
				if view.SessionID != id {
					b.Fatalf("the app found %q, want %q", view.SessionID, id)
				}
				start = time.Now()
				if res := c.call(b, ctx, "submit_feedback_from_app", map[string]any{"sessionId": id, "selectedOptions": []string{"Yes"}}); res.IsError {
					b.Fatalf("submit: %s", text(res))
				}
				res := <-done
				samples = append(samples, time.Since(start))
				if out := structured(b, res); out.Status != "completed" {
					b.Fatalf("result = %+v", out)
				}
				for e.hub.Subscribers() > 1 {
					runtime.Gosched()
				}
			}
			reportLatency(b, samples)
			if n := len(samples); n > 0 {
				b.ReportMetric(float64((find / time.Duration(n)).Microseconds()), "find-µs")
			}
		})
	}
}
