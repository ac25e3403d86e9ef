package mcp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/goleak"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program"
	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/edge"
	"github.com/feedbackd/feedbackd/sessions"
)

// The API keys of principals A and B.
const (
	keyA = programtest.KeyA
	keyB = programtest.KeyB
)

// Protocol eras: the Go SDK speaks the sessionless 2026-07-28 protocol by
// default; legacy is the last version with initialize and Mcp-Session-Id,
// which most deployed clients still use.
const (
	protoModern = ""
	protoLegacy = "2025-11-25"
)

// testEdge is one edge replica, the real program's edge role.
type testEdge struct {
	m   *program.Main
	svc *sessions.Service
	hub *sessions.Hub
	url string
}

// fast makes keep-alives and progress quick enough for tests, and the
// default wait short.
func fast(c *edge.Config) {
	c.MCP.Wait = 2 * time.Second
	c.MCP.KeepAlive = 50 * time.Millisecond
	c.MCP.ProgressInterval = 50 * time.Millisecond
}

// startEdge runs an edge replica against the NATS at natsURL, as a
// separate process would: its own connection, change feed and hub.
func startEdge(t testing.TB, natsURL string, opts ...programtest.Option) *testEdge {
	t.Helper()
	opts = append([]programtest.Option{programtest.Role("edge"), programtest.NATS(natsURL), programtest.Edge(fast)}, opts...)
	m := programtest.MustRunMain(t, opts...)
	be := m.Backend()
	// Let fasthttp's own long-lived goroutines start before a test counts
	// goroutines.
	programtest.WaitFor(t, 5*time.Second, func() error {
		resp, err := http.Get(m.URL() + "/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/health: %d", resp.StatusCode)
		}
		return nil
	})
	http.DefaultClient.CloseIdleConnections()
	return &testEdge{m: m, svc: be.Service(), hub: be.Hub(), url: m.URL()}
}

// newEdge is one edge on a NATS of its own.
func newEdge(t testing.TB, opts ...programtest.Option) *testEdge {
	return startEdge(t, programtest.StartNATS(t).URL, opts...)
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
	c.ClientSession = dial(t, tc, baseURL, kt, &sdk.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *sdk.ProgressNotificationClientRequest) {
			c.mu.Lock()
			c.progress = append(c.progress, req.Params)
			c.mu.Unlock()
		},
	})
	return c
}

// connectOpts is connect with the client's options: its capabilities and
// the handlers of what the server asks it.
func connectOpts(t testing.TB, tc transportCase, baseURL string, kt *keyTransport, opts *sdk.ClientOptions) *client {
	t.Helper()
	return &client{ClientSession: dial(t, tc, baseURL, kt, opts), kt: kt}
}

// dial opens a Go SDK client session over tc, closed when the test ends.
func dial(t testing.TB, tc transportCase, baseURL string, kt *keyTransport, opts *sdk.ClientOptions) *sdk.ClientSession {
	t.Helper()
	hc := &http.Client{Transport: kt}
	var tr sdk.Transport
	if tc.sse {
		tr = &sdk.SSEClientTransport{Endpoint: baseURL + "/sse", HTTPClient: hc}
	} else {
		tr = &sdk.StreamableClientTransport{Endpoint: baseURL + "/mcp", HTTPClient: hc, MaxRetries: -1}
	}
	cl := sdk.NewClient(&sdk.Implementation{Name: "feedbackd-test", Version: "1"}, opts)
	// The SSE transport's stream lives on Connect's context.
	cs, err := cl.Connect(context.Background(), tr, &sdk.ClientSessionOptions{ProtocolVersion: tc.protocol})
	if err != nil {
		t.Fatalf("connect over %s: %v", tc.name, err)
	}
	t.Cleanup(func() {
		_ = cs.Close()
		kt.base.CloseIdleConnections()
	})
	return cs
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

// pendingSession returns the id of the principal's only pending session.
func pendingSession(t testing.TB, e *testEdge, key string) string {
	t.Helper()
	var id string
	programtest.WaitFor(t, 5*time.Second, programtest.Until("a pending session", func() bool {
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
	}))
	return id
}

func hostOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		panic(err)
	}
	return u.Host
}

// leaveMidWait starts an interactive_feedback call on c that waits, then
// leaves it as how says, and checks that the server ends the wait and that
// no goroutine started since before is left. The call must first meet
// ready, then wait.
func leaveMidWait(t testing.TB, e *testEdge, c *client, how string, before goleak.Option, ready ...func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		_, _ = c.CallTool(ctx, &sdk.CallToolParams{Name: "interactive_feedback", Arguments: map[string]any{"message": "Anyone?", "waitSeconds": 600}})
	}()
	for _, check := range ready {
		programtest.WaitFor(t, 5*time.Second, check)
	}
	programtest.WaitFor(t, 5*time.Second, programtest.Until("the call to wait", func() bool { return e.hub.Subscribers() == 1 }))
	switch how {
	case "cancel": // the SDK sends notifications/cancelled
		cancel()
	case "cut": // the network goes away without a word
		c.kt.cut()
	}
	programtest.WaitFor(t, 5*time.Second, programtest.Until("the server to end the wait", func() bool { return e.hub.Subscribers() == 0 }))
	_ = c.Close()
	<-returned
	c.kt.base.CloseIdleConnections()
	c.kt.cut()
	noLeaks(t, before)
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
	programtest.WaitFor(t, 5*time.Second, func() error {
		if err := goleak.Find(opts...); err != nil {
			return fmt.Errorf("goroutines left behind: %w", err)
		}
		return nil
	})
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
