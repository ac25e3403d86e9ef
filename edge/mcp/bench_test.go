package mcp_test

import (
	"context"
	"net/http"
	"runtime"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/feedbackd/feedbackd/pkg/stats"
	"github.com/feedbackd/feedbackd/sessions"
)

// reportLatency adds p50 and p99 of samples, in microseconds, to b's output.
func reportLatency(b *testing.B, samples []time.Duration) {
	if len(samples) == 0 {
		return
	}
	sorted := stats.Sorted(samples)
	b.ReportMetric(float64(stats.Percentile(sorted, .50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(stats.Percentile(sorted, .99).Microseconds()), "p99-µs")
}

// BenchmarkMCPCheckFeedbackStatus is one check_feedback_status round trip
// through the whole stack: Go SDK client, HTTP, fiber, mcp-go, the sessions
// service and the KV bucket on embedded NATS.
func BenchmarkMCPCheckFeedbackStatus(b *testing.B) {
	e := newEdge(b)
	ctx := context.Background()
	for _, tc := range transports {
		b.Run(tc.name, func(b *testing.B) {
			c := connect(b, tc, e.url, newKeyTransport(keyA))
			id := structured(b, c.call(b, ctx, "interactive_feedback", map[string]any{"message": "Benchmark?", "waitSeconds": 0})).SessionID
			args := map[string]any{"sessionId": id}
			samples := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				start := time.Now()
				res, err := c.CallTool(ctx, &sdk.CallToolParams{Name: "check_feedback_status", Arguments: args})
				samples = append(samples, time.Since(start))
				if err != nil || res.IsError {
					b.Fatalf("call: %v %v", err, res)
				}
			}
			reportLatency(b, samples)
		})
	}
}

// BenchmarkMCPAnsweredLatency measures what an agent waits for once the
// person answers: from the REST submit being sent to the waiting
// interactive_feedback result arriving at the client. ns/op is the whole
// cycle: the call creating its session, its wait starting, the submit and
// the result.
func BenchmarkMCPAnsweredLatency(b *testing.B) {
	e := newEdge(b)
	ctx := context.Background()
	answer := map[string]any{"selectedOptions": []string{"Yes"}}
	for _, tc := range transports {
		b.Run(tc.name, func(b *testing.B) {
			c := connect(b, tc, e.url, newKeyTransport(keyA))
			created := make(chan string, 16)
			stop := e.hub.SubscribeAll(func(s *sessions.Session) {
				if s.Status == sessions.StatusPending {
					created <- s.ID
				}
			})
			defer stop()
			samples := make([]time.Duration, 0, b.N)
			for b.Loop() {
				done := make(chan *sdk.CallToolResult, 1)
				go func() {
					res, _ := c.CallTool(ctx, &sdk.CallToolParams{Name: "interactive_feedback", Arguments: map[string]any{
						"message": "Answer fast?", "predefinedOptions": []string{"Yes", "No"}, "waitSeconds": 30,
					}})
					done <- res
				}()
				id := <-created
				// SubscribeAll above, and the call's wait. A spin, not a
				// sleep or a poll: ns/op counts this too.
				for e.hub.Subscribers() < 2 {
					runtime.Gosched()
				}
				start := time.Now()
				if code, env := rest(b, http.MethodPost, e.url+"/api/feedback/"+id+"/submit", "", answer); code != http.StatusOK {
					b.Fatalf("submit: %d %v", code, env)
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
		})
	}
}
