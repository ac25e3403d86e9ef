package edge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/goleak"

	"github.com/feedbackd/feedbackd/edge"
	"github.com/feedbackd/feedbackd/pkg/auth"
	"github.com/feedbackd/feedbackd/pkg/natsutil/natstest"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/natskv"
)

// The API keys of principals A and B (keyA, keyB) are those of rest_test.go.

// Protocol eras: the Go SDK speaks the sessionless 2026-07-28 protocol by
// default; legacy is the last version with initialize and Mcp-Session-Id,
// which most deployed clients still use.
const (
	protoModern = ""
	protoLegacy = "2025-11-25"
)

// testEdge is one edge replica on a real listener.
type testEdge struct {
	srv *edge.Server
	svc *sessions.Service
	hub *sessions.Hub
	url string
}

var quietLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))

// fastConfig makes keep-alives and progress quick enough for tests.
func fastConfig() edge.Config {
	return edge.Config{
		Version:             "test-1.2.3",
		MCPWait:             2 * time.Second,
		MCPKeepAlive:        50 * time.Millisecond,
		MCPProgressInterval: 50 * time.Millisecond,
	}
}

// startMCPEdge starts an edge replica over ns with its own NATS connection,
// change feed and hub, as a separate process would have.
func startMCPEdge(t testing.TB, ns *natstest.Server, cfg edge.Config, opts ...sessions.Option) *testEdge {
	t.Helper()
	ctx := context.Background()
	_, js := ns.Connect(t)
	store, err := natskv.Open(ctx, js, natskv.Options{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	hub := sessions.NewHub()
	fctx, stopFeed := context.WithCancel(ctx)
	fed, err := natskv.NewFeed(store, hub, quietLog).Start(fctx)
	if err != nil {
		t.Fatal(err)
	}
	svc := sessions.NewService(store, hub, opts...)
	authn, err := auth.New(auth.Config{APIKeys: []string{keyA, keyB}})
	if err != nil {
		t.Fatal(err)
	}
	srv := edge.New(cfg, svc, authn, func(context.Context) error { return nil }, quietLog)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
		stopFeed()
		<-fed
	})
	te := &testEdge{srv: srv, svc: svc, hub: hub, url: "http://" + ln.Addr().String()}
	// Serving starts fasthttp's own long-lived goroutines; let them start
	// before a test counts goroutines.
	waitFor(t, 5*time.Second, "the edge to serve", func() bool {
		resp, err := http.Get(te.url + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	http.DefaultClient.CloseIdleConnections()
	return te
}

func newEdge(t testing.TB) *testEdge {
	return startMCPEdge(t, natstest.Start(t), fastConfig())
}

// keyTransport adds an API key to every request and can route each request
// to another base URL (to spread one MCP session over replicas) or cut every
// connection it opened (a client that vanishes without a word).
type keyTransport struct {
	key   string
	base  *http.Transport
	hosts []string // when set, requests go round robin to these host:port
	n     atomic.Int64

	mu    sync.Mutex
	conns []net.Conn
	seen  []string // host each request went to
}

func newKeyTransport(key string, hosts ...string) *keyTransport {
	kt := &keyTransport{key: key, hosts: hosts}
	d := &net.Dialer{}
	kt.base = &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err == nil {
				kt.mu.Lock()
				kt.conns = append(kt.conns, c)
				kt.mu.Unlock()
			}
			return c, err
		},
	}
	return kt
}

func (kt *keyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if kt.key != "" {
		r.Header.Set("X-API-Key", kt.key)
	}
	if len(kt.hosts) > 0 {
		r.URL.Host = kt.hosts[int(kt.n.Add(1)-1)%len(kt.hosts)]
		r.Host = r.URL.Host
	}
	kt.mu.Lock()
	kt.seen = append(kt.seen, r.URL.Host)
	kt.mu.Unlock()
	return kt.base.RoundTrip(r)
}

// cut closes every connection the client opened, without a goodbye.
func (kt *keyTransport) cut() {
	kt.mu.Lock()
	defer kt.mu.Unlock()
	for _, c := range kt.conns {
		_ = c.Close()
	}
	kt.conns = nil
}

func (kt *keyTransport) hostsSeen() map[string]int {
	kt.mu.Lock()
	defer kt.mu.Unlock()
	m := map[string]int{}
	for _, h := range kt.seen {
		m[h]++
	}
	return m
}

// client is a Go SDK client session with what tests need to observe it.
type client struct {
	*sdk.ClientSession
	kt *keyTransport

	mu       sync.Mutex
	progress []*sdk.ProgressNotificationParams
}

func (c *client) progressFor(token any) []*sdk.ProgressNotificationParams {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*sdk.ProgressNotificationParams
	for _, p := range c.progress {
		if fmt.Sprint(p.ProgressToken) == fmt.Sprint(token) {
			out = append(out, p)
		}
	}
	return out
}

type transportCase struct {
	name     string
	sse      bool
	protocol string
}

var transports = []transportCase{
	{name: "streamable", protocol: protoModern},
	{name: "streamable-legacy", protocol: protoLegacy},
	{name: "sse", sse: true},
}

// connect opens an MCP client session with the official Go SDK.
func connect(t testing.TB, tc transportCase, baseURL string, kt *keyTransport) *client {
	t.Helper()
	c := &client{kt: kt}
	hc := &http.Client{Transport: kt}
	var tr sdk.Transport
	if tc.sse {
		tr = &sdk.SSEClientTransport{Endpoint: baseURL + "/sse", HTTPClient: hc}
	} else {
		tr = &sdk.StreamableClientTransport{Endpoint: baseURL + "/mcp", HTTPClient: hc, MaxRetries: -1}
	}
	cl := sdk.NewClient(&sdk.Implementation{Name: "feedbackd-test", Version: "1"}, &sdk.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *sdk.ProgressNotificationClientRequest) {
			c.mu.Lock()
			c.progress = append(c.progress, req.Params)
			c.mu.Unlock()
		},
	})
	// The SSE transport's stream lives on Connect's context.
	cs, err := cl.Connect(context.Background(), tr, &sdk.ClientSessionOptions{ProtocolVersion: tc.protocol})
	if err != nil {
		t.Fatalf("connect over %s: %v", tc.name, err)
	}
	c.ClientSession = cs
	t.Cleanup(func() {
		_ = cs.Close()
		kt.base.CloseIdleConnections()
	})
	return c
}

// call calls a tool and fails the test on a protocol error.
func (c *client) call(t testing.TB, ctx context.Context, name string, args map[string]any) *sdk.CallToolResult {
	t.Helper()
	res, err := c.CallTool(ctx, &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("call %s: %v", name, err)
	}
	return res
}

// toolOutput is the union of the tools' structuredContent.
type toolOutput struct {
	SessionID   string `json:"sessionId"`
	Status      string `json:"status"`
	FeedbackURL string `json:"feedbackUrl"`
	CreatedAt   string `json:"createdAt"`
	ExpiresAt   string `json:"expiresAt"`
	SubmittedAt string `json:"submittedAt"`
	Feedback    *struct {
		SelectedOptions  []string `json:"selectedOptions"`
		FreeText         string   `json:"freeText"`
		CombinedFeedback string   `json:"combinedFeedback"`
	} `json:"feedback"`
	Metadata    map[string]any `json:"metadata"`
	Instruction string         `json:"instruction"`
}

func structured(t testing.TB, res *sdk.CallToolResult) toolOutput {
	t.Helper()
	if res.IsError {
		t.Fatalf("tool failed: %s", text(res))
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	var out toolOutput
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("structuredContent %s: %v", b, err)
	}
	return out
}

func text(res *sdk.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// rest calls the REST API with key (empty for none) and decodes the envelope.
func rest(t testing.TB, method, u, key string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&env)
	return resp.StatusCode, env
}

func submit(t testing.TB, baseURL, id string, answer map[string]any) {
	t.Helper()
	if code, env := rest(t, http.MethodPost, baseURL+"/api/feedback/"+id+"/submit", "", answer); code != http.StatusOK {
		t.Fatalf("submit: %d %v", code, env)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pendingSession returns the id of the principal's only pending session.
func pendingSession(t testing.TB, e *testEdge, key string) string {
	t.Helper()
	var id string
	waitFor(t, 5*time.Second, "a pending session", func() bool {
		code, env := rest(t, http.MethodGet, e.url+"/api/feedback?status=pending", key, nil)
		if code != http.StatusOK {
			t.Fatalf("list: %d %v", code, env)
		}
		items, _ := env["data"].(map[string]any)["items"].([]any)
		if len(items) == 0 {
			return false
		}
		id, _ = items[0].(map[string]any)["sessionId"].(string)
		return true
	})
	return id
}

func hostOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		panic(err)
	}
	return u.Host
}

// noLeaks fails if goroutines started since before are still running after
// a settling period. fasthttp keeps a served connection's worker goroutine
// parked for reuse; that is not a leak.
func noLeaks(t testing.TB, before goleak.Option) {
	t.Helper()
	opts := []goleak.Option{before, goleak.IgnoreTopFunction("github.com/valyala/fasthttp.(*workerPool).workerFunc"),
		// fasthttp's process-wide clock for Date headers, started by the first request.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
	}
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if err = goleak.Find(opts...); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("goroutines left behind: %v", err)
}

// rawMCP posts one JSON-RPC message to /mcp the way a legacy (2025-11-25)
// client does and returns the response.
func rawMCP(t testing.TB, baseURL, key, session, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, baseURL+"/mcp", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("X-API-Key", key)
	req.Header.Set("MCP-Protocol-Version", protoLegacy)
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// rawInitialize opens a legacy session and returns its Mcp-Session-Id.
func rawInitialize(t testing.TB, baseURL, key string) string {
	t.Helper()
	resp := rawMCP(t, baseURL, key, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"`+protoLegacy+`","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	id := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != http.StatusOK || id == "" {
		t.Fatalf("initialize: %d, session %q", resp.StatusCode, id)
	}
	return id
}
