package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/feedbackd/feedbackd/edge"
	"github.com/feedbackd/feedbackd/pkg/auth"
	"github.com/feedbackd/feedbackd/pkg/natsutil/natstest"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/natskv"
)

const benchKey = "bench-key-0123456789abcdef0123456789abcdef"

// startEdge serves a real edge over embedded NATS, as feedbackd serve does.
func startEdge(t *testing.T) string {
	t.Helper()
	ns := natstest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	store, err := natskv.Open(ctx, ns.JS, natskv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hub := sessions.NewHub()
	feedDone, err := natskv.NewFeed(store, hub, slog.Default()).Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	authn, err := auth.New(auth.Config{APIKeys: []string{benchKey}})
	if err != nil {
		t.Fatal(err)
	}
	srv := edge.New(edge.Config{Version: "test"}, sessions.NewService(store, hub), authn,
		func(context.Context) error { return nil }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
		<-served
		cancel()
		<-feedDone
	})
	return "http://" + ln.Addr().String()
}

func bench(t *testing.T, args ...string) *result {
	t.Helper()
	o, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := newScenario(o)
	if err != nil {
		t.Fatal(err)
	}
	res := drive(context.Background(), o, sc)
	var out bytes.Buffer
	res.print(&out, o)
	t.Logf("\n%s", out.String())
	if strings.Contains(out.String(), benchKey) {
		t.Fatal("the report shows the API key")
	}
	return res
}

// count is how many times op succeeded.
func (res *result) count(op string) int {
	res.rec.mu.Lock()
	defer res.rec.mu.Unlock()
	if s := res.rec.ops[op]; s != nil {
		return len(s.lat)
	}
	return 0
}

func TestBenchRESTScenarioAgainstARealEdge(t *testing.T) {
	base := startEdge(t)
	res := bench(t, "--url", base, "--api-key", benchKey, "--duration", "700ms", "--concurrency", "2")
	n := int(res.iterations.Load())
	if n == 0 || res.failed.Load() != 0 {
		t.Fatalf("%d iterations, %d failed", n, res.failed.Load())
	}
	for _, op := range []string{"create", "submit", "result", "iteration"} {
		if res.count(op) != n {
			t.Errorf("%s: %d, want %d", op, res.count(op), n)
		}
	}
}

func TestBenchOpenLoopKeepsTheRateAndTheCount(t *testing.T) {
	base := startEdge(t)
	res := bench(t, "--url", base, "--api-key", benchKey, "--duration", "5s", "--concurrency", "4",
		"--rate", "50", "--max-iterations", "20")
	if res.iterations.Load() != 20 || res.failed.Load() != 0 {
		t.Fatalf("%d iterations, %d failed; want 20 and 0", res.iterations.Load(), res.failed.Load())
	}
	// 20 iterations at 50/s take about 0.4 s, not the 5 s allowed.
	if res.elapsed > 3*time.Second {
		t.Fatalf("run took %s after its iteration budget was spent", res.elapsed)
	}
}

func TestBenchWrongKeyIsCountedNotFatal(t *testing.T) {
	base := startEdge(t)
	res := bench(t, "--url", base, "--api-key", "not-the-key", "--duration", "300ms", "--concurrency", "1")
	if res.iterations.Load() != 0 || res.failed.Load() == 0 {
		t.Fatalf("%d iterations, %d failed", res.iterations.Load(), res.failed.Load())
	}
	if res.rec.ops["create"].errs["HTTP 401 UNAUTHORIZED"] == 0 {
		t.Fatalf("errors: %v", res.rec.ops["create"].errs)
	}
}

// fakeFeedback is a stand-in for the parts of feedbackd that are built on
// other branches (MCP tools, WebSocket notifier), speaking the SPEC §5 and
// §7 wire formats, so the load tool's clients are exercised before merge.
type fakeFeedback struct {
	mu       sync.Mutex
	sessions map[string]string // id → status
	subs     map[string][]chan struct{}
	next     int
}

func newFake() *fakeFeedback {
	return &fakeFeedback{sessions: map[string]string{}, subs: map[string][]chan struct{}{}}
}

func (f *fakeFeedback) create() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next++
	id := fmt.Sprintf("00000000-0000-4000-8000-%012d", f.next)
	f.sessions[id] = "pending"
	return id
}

func (f *fakeFeedback) submit(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sessions[id] != "pending" {
		return false
	}
	f.sessions[id] = "completed"
	for _, c := range f.subs[id] {
		close(c)
	}
	delete(f.subs, id)
	return true
}

func (f *fakeFeedback) status(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sessions[id]
}

func (f *fakeFeedback) handler(t *testing.T) http.Handler {
	mux := http.NewServeMux()
	requireKey := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-API-Key") != benchKey && r.URL.Query().Get("apiKey") != benchKey {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	mux.Handle("POST /api/feedback/create", requireKey(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"success": true, "data": map[string]any{"sessionId": f.create()}})
	})))
	mux.HandleFunc("POST /api/feedback/{id}/submit", func(w http.ResponseWriter, r *http.Request) {
		if !f.submit(r.PathValue("id")) {
			w.WriteHeader(http.StatusConflict)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"success": true, "data": map[string]any{"status": "completed"}})
	})

	type created struct {
		SessionID string `json:"sessionId"`
		Status    string `json:"status"`
	}
	type feedbackIn struct {
		Message           string   `json:"message"`
		PredefinedOptions []string `json:"predefinedOptions,omitempty"`
		WaitSeconds       *int     `json:"waitSeconds,omitempty"`
	}
	type idIn struct {
		SessionID   string `json:"sessionId"`
		WaitSeconds *int   `json:"waitSeconds,omitempty"`
	}
	srv := mcp.NewServer(&mcp.Implementation{Name: "Interactive Feedback MCP"}, nil)
	mcp.AddTool(srv, &mcp.Tool{Name: "interactive_feedback"}, func(_ context.Context, _ *mcp.CallToolRequest, in feedbackIn) (*mcp.CallToolResult, created, error) {
		if in.WaitSeconds == nil || *in.WaitSeconds != 0 {
			return nil, created{}, errors.New("the bench must not wait")
		}
		return nil, created{SessionID: f.create(), Status: "pending"}, nil
	})
	byID := func(_ context.Context, _ *mcp.CallToolRequest, in idIn) (*mcp.CallToolResult, created, error) {
		st := f.status(in.SessionID)
		if st == "" {
			return nil, created{}, errors.New("session not found")
		}
		return nil, created{SessionID: in.SessionID, Status: st}, nil
	}
	mcp.AddTool(srv, &mcp.Tool{Name: "get_feedback_result"}, byID)
	mcp.AddTool(srv, &mcp.Tool{Name: "check_feedback_status"}, byID)
	get := func(*http.Request) *mcp.Server { return srv }
	mux.Handle("/mcp", requireKey(mcp.NewStreamableHTTPHandler(get, nil)))
	sse := requireKey(mcp.NewSSEHandler(get, nil))
	mux.Handle("/sse", sse)
	mux.Handle("/sse/", sse)

	mux.Handle("GET /ws/{id}", requireKey(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		done := make(chan struct{})
		f.mu.Lock()
		f.subs[id] = append(f.subs[id], done)
		f.mu.Unlock()
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		_ = c.Write(ctx, websocket.MessageText, []byte(`{"type":"connection_established","data":{"sessionId":"`+id+`","status":"pending"}}`))
		select {
		case <-done:
		case <-ctx.Done():
			return
		}
		_ = c.Write(ctx, websocket.MessageText, []byte(`{"type":"session_status_changed","data":{"sessionId":"`+id+`","oldStatus":"pending","newStatus":"completed"}}`))
		_ = c.Write(ctx, websocket.MessageText, []byte(`{"type":"feedback_submitted","data":{"sessionId":"`+id+`"}}`))
		_, _, _ = c.Read(ctx) // until the client closes
	})))
	return mux
}

func TestBenchMCPScenarioOverBothTransports(t *testing.T) {
	srv := httptest.NewServer(newFake().handler(t))
	defer srv.Close()
	for _, sc := range []string{"mcp", "mcp-sse"} {
		t.Run(sc, func(t *testing.T) {
			res := bench(t, "--scenario", sc, "--url", srv.URL, "--api-key", benchKey, "--duration", "500ms", "--concurrency", "2")
			n := int(res.iterations.Load())
			if n == 0 || res.failed.Load() != 0 || res.setupErrs.Load() != 0 {
				t.Fatalf("%d iterations, %d failed, %d setup errors", n, res.failed.Load(), res.setupErrs.Load())
			}
			if res.count("mcp-connect") != 2 {
				t.Fatalf("one connect per worker: %d", res.count("mcp-connect"))
			}
			for _, op := range []string{"interactive_feedback", "submit", "get_feedback_result", "check_feedback_status"} {
				if res.count(op) != n {
					t.Errorf("%s: %d, want %d", op, res.count(op), n)
				}
			}
		})
	}
}

func TestBenchWSScenarioMeasuresEverySubscriber(t *testing.T) {
	srv := httptest.NewServer(newFake().handler(t))
	defer srv.Close()
	res := bench(t, "--scenario", "ws", "--url", srv.URL, "--api-key", benchKey, "--duration", "500ms", "--concurrency", "2", "--subscribers", "3")
	n := int(res.iterations.Load())
	if n == 0 || res.failed.Load() != 0 {
		t.Fatalf("%d iterations, %d failed: %v", n, res.failed.Load(), res.rec.ops)
	}
	if res.count("ws-connect") != 3*n || res.count("ws-delivery") != 3*n {
		t.Fatalf("connects %d, deliveries %d, want %d each", res.count("ws-connect"), res.count("ws-delivery"), 3*n)
	}
}

func TestBenchOnlyTalksToTheGivenURL(t *testing.T) {
	o, err := parseFlags([]string{"--url", "http://127.0.0.1:1", "--api-key", benchKey}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(o)
	for _, u := range []string{"http://127.0.0.2:1/x", "https://127.0.0.1:1/x", "http://example.invalid/"} {
		req, _ := http.NewRequest("GET", u, nil)
		if _, err := c.http.Do(req); !errors.Is(err, errOffTarget) {
			t.Errorf("%s: %v, want refused", u, err)
		}
	}
	for _, args := range [][]string{
		{"--api-key", "k", "--url", "ftp://127.0.0.1"},
		{"--api-key", "k", "--url", "http://127.0.0.1:8787/api"},
		{"--api-key", "k", "--duration", "11m"},
		{"--api-key", "k", "--rate", "-1"},
		{"--api-key", "k", "--concurrency", "0"},
		{"--api-key", ""},
		{"--api-key", "k", "--scenario", "rest", "extra"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

func TestBenchPercentilesAreNearestRank(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for q, want := range map[float64]time.Duration{.5: 50 * time.Millisecond, .9: 90 * time.Millisecond, .99: 99 * time.Millisecond, 1: 100 * time.Millisecond} {
		if got := percentile(d, q); got != want {
			t.Errorf("p%v = %s, want %s", q*100, got, want)
		}
	}
	if percentile(nil, .5) != 0 || percentile(d[:1], .99) != time.Millisecond {
		t.Fatal("edge cases")
	}
}

func TestBenchScrubsTheKeyFromErrors(t *testing.T) {
	c := &client{apiKey: benchKey}
	err := c.scrub(errors.New(`failed to WebSocket dial: GET "ws://h/ws/x?apiKey=` + benchKey + `": refused`))
	if strings.Contains(err.Error(), benchKey) || !strings.Contains(err.Error(), "REDACTED") {
		t.Fatalf("scrubbed: %v", err)
	}
}
