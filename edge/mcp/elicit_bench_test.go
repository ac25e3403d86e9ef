package mcp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// BenchmarkMCPAskedLatency measures, for each way an answer reaches the
// agent besides the plain wait (BenchmarkMCPAnsweredLatency), the time from
// the person's answer to the agent's result:
//
//   - form, form-2026: the person submits the client's form (the Go SDK's
//     elicitation handler returns) → the interactive_feedback result
//     arrives; 2025-11-25 answers elicitation/create in the middle of the
//     call, 2026-07-28 retries the call with the answer (multi round-trip);
//   - url: the client opened the link; the person submits on the page (the
//     REST submit it uses) → the result arrives, after
//     notifications/elicitation/complete;
//   - task: a task-augmented call; the person submits on the page → a
//     waiting tasks/result returns.
//
// ns/op is the whole cycle, the call creating its session included.
func BenchmarkMCPAskedLatency(b *testing.B) {
	e := newEdge(b)
	ctx := context.Background()
	for _, era := range []struct{ name, protocol string }{{"form", protoLegacy}, {"form-2026", protoModern}} {
		b.Run(era.name, func(b *testing.B) {
			var answeredAt atomic.Int64
			a := &asker{answer: func(context.Context, *sdk.ElicitParams) (*sdk.ElicitResult, error) {
				answeredAt.Store(time.Now().UnixNano())
				return &sdk.ElicitResult{Action: "accept", Content: map[string]any{"freeText": "yes"}}, nil
			}}
			c := connectAsking(b, transportCase{name: era.name, protocol: era.protocol}, e.url, newKeyTransport(keyA), a, "form")
			samples := make([]time.Duration, 0, b.N)
			for b.Loop() {
				res, err := c.CallTool(ctx, &sdk.CallToolParams{Name: "interactive_feedback", Arguments: map[string]any{"message": "Fast?", "waitSeconds": 30}})
				samples = append(samples, time.Since(time.Unix(0, answeredAt.Load())))
				if err != nil || structured(b, res).Status != "completed" {
					b.Fatalf("call: %v %v", err, res)
				}
			}
			reportLatency(b, samples)
		})
	}
	b.Run("url", func(b *testing.B) {
		a := &asker{answer: respond("accept")}
		c := connectAsking(b, legacyAsking[0], e.url, newKeyTransport(keyA), a, "url")
		created := pendingSessions(b, e)
		samples := make([]time.Duration, 0, b.N)
		for b.Loop() {
			done := make(chan *sdk.CallToolResult, 1)
			before, _, _ := a.snapshot()
			asked := len(before)
			go func() {
				res, _ := c.CallTool(ctx, &sdk.CallToolParams{Name: "interactive_feedback", Arguments: map[string]any{"message": "Look", "waitSeconds": 30}})
				done <- res
			}()
			id := <-created
			// The link was offered and the call waits (pendingSessions's
			// subscription and the wait). A spin, not a sleep: ns/op counts
			// this too.
			for n, _, _ := a.snapshot(); len(n) == asked || e.hub.Subscribers() < 2; n, _, _ = a.snapshot() {
				runtime.Gosched()
			}
			start := time.Now()
			submit(b, e.url, id, map[string]any{"freeText": "seen"})
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
	b.Run("task", func(b *testing.B) {
		c, _ := rpcInit(b, e.url, keyA, protoLegacy, `{}`)
		results, _ := rpcInit(b, e.url, keyA, protoLegacy, `{}`)
		samples := make([]time.Duration, 0, b.N)
		for b.Loop() {
			tk := c.startTask("interactive_feedback", map[string]any{"message": "Later?"})
			done := make(chan taskToolResult, 1)
			go func() {
				var res taskToolResult
				raw, rerr := results.call("tasks/result", map[string]any{"taskId": tk.TaskID})
				if rerr == nil {
					_ = json.Unmarshal(raw, &res)
				}
				done <- res
			}()
			for e.hub.Subscribers() < 1 {
				runtime.Gosched()
			}
			start := time.Now()
			if code, env := rest(b, http.MethodPost, e.url+"/api/feedback/"+tk.TaskID+"/submit", "", map[string]any{"freeText": "now"}); code != http.StatusOK {
				b.Fatalf("submit: %d %v", code, env)
			}
			res := <-done
			samples = append(samples, time.Since(start))
			if res.IsError || res.StructuredContent["status"] != "completed" {
				b.Fatalf("result = %+v", res)
			}
			for e.hub.Subscribers() > 0 {
				runtime.Gosched()
			}
		}
		reportLatency(b, samples)
	})
}
