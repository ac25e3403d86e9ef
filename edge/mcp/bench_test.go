package mcp_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
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

// pendingSessions delivers the id of each session that turns pending until
// b ends. Its hub subscription counts among e.hub.Subscribers().
func pendingSessions(b *testing.B, e *testEdge) <-chan string {
	created := make(chan string, 16)
	b.Cleanup(e.hub.SubscribeAll(func(s *sessions.Session) {
		if s.Status == sessions.StatusPending {
			created <- s.ID
		}
	}))
	return created
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
			created := pendingSessions(b, e)
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
				// pendingSessions's subscription, and the call's wait. A spin,
				// not a sleep or a poll: ns/op counts this too.
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

// noisePNG is a w×h PNG of random pixels, which PNG cannot compress: a
// 512×512 one is about 1 MiB, the size of a typical screenshot.
func noisePNG(b *testing.B, w, h int, seed uint64) []byte {
	b.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(seed, seed))
	for i := range img.Pix {
		img.Pix[i] = byte(r.Uint32())
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// peakRSS is the process's peak resident set (VmHWM), in bytes, or 0 where
// /proc is not there.
func peakRSS() float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb * 1024
		}
	}
	return 0
}

// BenchmarkImageRoundTrip is the cost of images through the real server:
// an agent creates a question with a 1 MiB image over REST, the person
// answers with a 1 MiB image over the page's REST submit, and the agent
// receives the answer with the image as MCP image content
// (get_feedback_result). Reported: the time of each step (p50), the bytes
// the object store holds per round trip, and memory: bytes allocated per
// round trip and the live heap it leaves behind (after GC), both for the
// whole process — server, embedded NATS and the clients — so an upper bound
// for the server, and the process's peak RSS.
func BenchmarkImageRoundTrip(b *testing.B) {
	e := newEdge(b)
	ctx := context.Background()
	c := connect(b, transports[0], e.url, newKeyTransport(keyA))
	agentImg, personImg := noisePNG(b, 512, 512, 1), noisePNG(b, 512, 512, 2)
	createBody, _ := json.Marshal(map[string]any{"message": "Does this look right?",
		"images": []map[string]any{{"data": base64.StdEncoding.EncodeToString(agentImg), "mimeType": "image/png", "name": "screen.png"}}})
	submitBody, _ := json.Marshal(map[string]any{"freeText": "Not quite: see mine.",
		"images": []map[string]any{{"data": base64.StdEncoding.EncodeToString(personImg), "mimeType": "image/png", "name": "mine.png"}}})
	post := func(url, key string, body []byte) []byte {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		if res.StatusCode/100 != 2 {
			b.Fatalf("POST %s: %d %s", url, res.StatusCode, out)
		}
		return out
	}
	obs := e.m.Backend().Images().ObjectStore()
	storeSize := func() uint64 {
		st, err := obs.Status(ctx)
		if err != nil {
			b.Fatal(err)
		}
		return st.Size()
	}
	var recordBytes int
	var createT, submitT, receiveT []time.Duration
	before := storeSize()
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	n := 0
	b.SetBytes(int64(len(agentImg) + len(personImg)))
	b.ResetTimer()
	for b.Loop() {
		n++
		t0 := time.Now()
		var created struct {
			Data struct{ SessionID string }
		}
		if err := json.Unmarshal(post(e.url+"/api/feedback/create", keyA, createBody), &created); err != nil {
			b.Fatal(err)
		}
		id := created.Data.SessionID
		t1 := time.Now()
		post(e.url+"/api/feedback/"+id+"/submit", "", submitBody)
		t2 := time.Now()
		res, err := c.CallTool(ctx, &sdk.CallToolParams{Name: "get_feedback_result", Arguments: map[string]any{"sessionId": id, "waitSeconds": 0}})
		t3 := time.Now()
		if err != nil || res.IsError {
			b.Fatalf("get_feedback_result: %v %v", err, res)
		}
		var got []byte
		for _, cont := range res.Content {
			if ic, ok := cont.(*sdk.ImageContent); ok {
				got = ic.Data
			}
		}
		if !bytes.Equal(got, personImg) {
			b.Fatalf("the agent received %d bytes, want the person's %d", len(got), len(personImg))
		}
		createT, submitT, receiveT = append(createT, t1.Sub(t0)), append(submitT, t2.Sub(t1)), append(receiveT, t3.Sub(t2))
		if recordBytes == 0 {
			entry, err := e.m.Backend().Store().KV().Get(ctx, "s."+id)
			if err != nil {
				b.Fatal(err)
			}
			recordBytes = len(entry.Value())
		}
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&m1)
	const mib = 1 << 20
	p50 := func(d []time.Duration) float64 {
		return float64(stats.Percentile(stats.Sorted(d), .50).Microseconds()) / 1000
	}
	b.ReportMetric(p50(createT), "create-p50-ms")
	b.ReportMetric(p50(submitT), "submit-p50-ms")
	b.ReportMetric(p50(receiveT), "receive-p50-ms")
	b.ReportMetric(float64(storeSize()-before)/float64(n)/mib, "stored-MiB/op")
	b.ReportMetric(float64(recordBytes), "record-bytes")
	b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/float64(n)/mib, "alloc-MiB/op")
	b.ReportMetric((float64(m1.HeapInuse)-float64(m0.HeapInuse))/mib, "heap-delta-MiB")
	b.ReportMetric(peakRSS()/mib, "peak-RSS-MiB")
}
