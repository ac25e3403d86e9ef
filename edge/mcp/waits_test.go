package mcp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/goleak"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/edge"
	"github.com/feedbackd/feedbackd/pkg/metrics"
)

// waitsInFlight reads feedbackd_sessions_waits_in_flight, as /metrics shows
// it.
func waitsInFlight(t testing.TB) float64 {
	t.Helper()
	fams, err := metrics.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == "feedbackd_sessions_waits_in_flight" {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("no feedbackd_sessions_waits_in_flight")
	return 0
}

// waitsBackTo waits until the gauge and the hub say that no wait is left.
func waitsBackTo(t testing.TB, e *testEdge, gauge float64, within time.Duration) {
	t.Helper()
	programtest.WaitFor(t, within, func() error {
		if got := waitsInFlight(t); got != gauge {
			return fmt.Errorf("feedbackd_sessions_waits_in_flight %v, want %v", got, gauge)
		}
		if n := e.hub.Subscribers(); n != 0 {
			return fmt.Errorf("%d waits still subscribed", n)
		}
		return nil
	})
}

// rawToolCall opens a connection of its own and posts one tools/call of a
// legacy session on it, accepting accept; the connection is returned
// unread, for the test to abandon.
func rawToolCall(t testing.TB, baseURL, key, session, accept, body string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(baseURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	fmt.Fprintf(conn, "POST /mcp HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nAccept: %s\r\nX-API-Key: %s\r\n"+
		"MCP-Protocol-Version: %s\r\nMcp-Session-Id: %s\r\nContent-Length: %d\r\n\r\n%s",
		strings.TrimPrefix(baseURL, "http://"), accept, key, protoLegacy, session, len(body), body)
	return conn
}

// A client that leaves a waiting call, on any transport, ends the wait
// soon: its socket and goroutines are given back and the waits gauge drops,
// although nothing is written to it (answers in JSON; keep-alives a minute
// apart) — the server looks at the socket itself.
func TestMCPAbandonedWaitsEndSoonAfterTheirClientsLeave(t *testing.T) {
	e := newEdge(t, programtest.Edge(func(c *edge.Config) { fast(c); c.MCP.KeepAlive = time.Minute }),
		programtest.Env("MAX_WAITS_PER_PRINCIPAL", "1000"))
	code, env := rest(t, http.MethodPost, e.url+"/api/feedback/create", keyA, map[string]any{"message": "Anyone?", "timeout": 3600})
	if code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, env)
	}
	id := env["data"].(map[string]any)["sessionId"].(string)
	call := `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"get_feedback_result","arguments":{"sessionId":"` + id + `","waitSeconds":3600}}}`

	t.Run("json", func(t *testing.T) {
		session := rawInitialize(t, e.url, keyA)
		http.DefaultClient.CloseIdleConnections()
		gauge, before := waitsInFlight(t), goleak.IgnoreCurrent()
		const calls = 50
		conns := make([]net.Conn, calls)
		for i := range conns {
			conns[i] = rawToolCall(t, e.url, keyA, session, "application/json", fmt.Sprintf(call, i+10))
		}
		programtest.WaitFor(t, 10*time.Second, programtest.Until("every call to wait", func() bool {
			return e.hub.Subscribers() == calls && waitsInFlight(t) == gauge+calls
		}))
		for _, c := range conns {
			_ = c.Close()
		}
		left := time.Now()
		waitsBackTo(t, e, gauge, 3*time.Second)
		t.Logf("%d JSON-mode waits ended %s after their clients left", calls, time.Since(left).Round(time.Millisecond))
		noLeaks(t, before)
	})

	// A tasks/result is a wait too, answered in front of mcp-go: it ends
	// as soon after its client leaves.
	t.Run("tasks/result", func(t *testing.T) {
		rc, _ := rpcInit(t, e.url, keyA, protoLegacy, `{}`)
		tk := rc.startTask("interactive_feedback", map[string]any{"message": "A task nobody waits for", "timeout": 3600})
		http.DefaultClient.CloseIdleConnections()
		gauge, before := waitsInFlight(t), goleak.IgnoreCurrent()
		const calls = 10
		conns := make([]net.Conn, calls)
		for i := range conns {
			conns[i] = rawToolCall(t, e.url, keyA, rc.session, "application/json, text/event-stream",
				fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tasks/result","params":{"taskId":"%s"}}`, i+100, tk.TaskID))
		}
		programtest.WaitFor(t, 10*time.Second, programtest.Until("every tasks/result to wait", func() bool {
			return e.hub.Subscribers() == calls && waitsInFlight(t) == gauge+calls
		}))
		for _, c := range conns {
			_ = c.Close()
		}
		left := time.Now()
		waitsBackTo(t, e, gauge, 3*time.Second)
		t.Logf("%d tasks/result waits ended %s after their clients left", calls, time.Since(left).Round(time.Millisecond))
		rc.http.CloseIdleConnections()
		noLeaks(t, before)
	})

	for _, tc := range []transportCase{{name: "event-stream", protocol: protoLegacy}, {name: "sse", sse: true}} {
		t.Run(tc.name, func(t *testing.T) {
			gauge, before := waitsInFlight(t), goleak.IgnoreCurrent()
			kt := newKeyTransport(keyA)
			c := connect(t, tc, e.url, kt)
			// Should the server miss the departure, the calls end with the
			// test instead of an hour later.
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			const calls = 5
			var wg sync.WaitGroup
			for range calls {
				wg.Go(func() {
					_, _ = c.CallTool(ctx, &sdk.CallToolParams{Name: "get_feedback_result", Arguments: map[string]any{"sessionId": id, "waitSeconds": 3600}})
				})
			}
			programtest.WaitFor(t, 10*time.Second, programtest.Until("every call to wait", func() bool { return e.hub.Subscribers() == calls }))
			kt.cut()
			left := time.Now()
			waitsBackTo(t, e, gauge, 3*time.Second)
			t.Logf("%d waits over %s ended %s after their client left", calls, tc.name, time.Since(left).Round(time.Millisecond))
			_ = c.Close()
			wg.Wait()
			kt.base.CloseIdleConnections()
			noLeaks(t, before)
		})
	}
}

// One principal may have MAX_WAITS_PER_PRINCIPAL waiting calls on an edge;
// one more is a tool error that says so (and interactive_feedback then
// creates nothing), others are not affected, and a slot frees when a
// waiter leaves.
func TestMCPWaitsOverThePrincipalsCapAreToolErrors(t *testing.T) {
	t.Parallel()
	e := newEdge(t, programtest.Env("MAX_WAITS_PER_PRINCIPAL", "2"))
	a := connect(t, transports[0], e.url, newKeyTransport(keyA))
	b := connect(t, transports[0], e.url, newKeyTransport(keyB))
	ctx := context.Background()
	ask := func(c *client, wait int) *sdk.CallToolResult {
		return c.call(t, ctx, "interactive_feedback", map[string]any{"message": "Ready?", "waitSeconds": wait})
	}
	first := structured(t, ask(a, 0))

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		_, _ = a.CallTool(cctx, &sdk.CallToolParams{Name: "get_feedback_result", Arguments: map[string]any{"sessionId": first.SessionID, "waitSeconds": 600}})
	})
	wg.Go(func() {
		_, _ = a.CallTool(ctx, &sdk.CallToolParams{Name: "get_feedback_result", Arguments: map[string]any{"sessionId": first.SessionID, "waitSeconds": 600}})
	})
	defer submit(t, e.url, first.SessionID, map[string]any{"freeText": "done"})
	programtest.WaitFor(t, 5*time.Second, programtest.Until("both calls to wait", func() bool { return e.hub.Subscribers() == 2 }))

	sessionsBefore := len(listSessions(t, e, keyA))
	for _, res := range []*sdk.CallToolResult{
		ask(a, 30),
		a.call(t, ctx, "get_feedback_result", map[string]any{"sessionId": first.SessionID, "waitSeconds": 30}),
	} {
		if !res.IsError || !strings.HasPrefix(text(res), "RATE_LIMITED: ") || !strings.Contains(text(res), "at most 2") {
			t.Fatalf("a third wait: %v %q, want a RATE_LIMITED tool error", res.IsError, text(res))
		}
	}
	if n := len(listSessions(t, e, keyA)); n != sessionsBefore {
		t.Fatalf("a refused interactive_feedback created a session: %d sessions, had %d", n, sessionsBefore)
	}
	if out := structured(t, a.call(t, ctx, "get_feedback_result", map[string]any{"sessionId": first.SessionID, "waitSeconds": 0})); out.Status != "pending" {
		t.Fatalf("a call that does not wait: %+v", out)
	}
	if out := structured(t, ask(b, 1)); out.Status != "pending" {
		t.Fatalf("another principal's wait: %+v", out)
	}

	cancel() // one waiter leaves (notifications/cancelled)
	programtest.WaitFor(t, 5*time.Second, programtest.Until("its slot to free", func() bool { return e.hub.Subscribers() == 1 }))
	if res := ask(a, 1); res.IsError {
		t.Fatalf("a wait after a slot freed: %s", text(res))
	}
}

// listSessions is the principal's sessions, newest first.
func listSessions(t testing.TB, e *testEdge, key string) []any {
	t.Helper()
	code, env := rest(t, http.MethodGet, e.url+"/api/feedback?limit=100", key, nil)
	if code != http.StatusOK {
		t.Fatalf("list: %d %v", code, env)
	}
	items, _ := env["data"].(map[string]any)["items"].([]any)
	return items
}

// At shutdown every waiting call, on every transport, gets its result at
// once: the session it waits on, still pending, and how to keep waiting —
// never a stream that ends without a response. Shutdown is quick.
func TestMCPShutdownAnswersEveryWaitingCall(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	type answer struct {
		name string
		res  *sdk.CallToolResult
		err  error
	}
	answers := make(chan answer, len(transports))
	for _, tc := range transports {
		c := connect(t, tc, e.url, newKeyTransport(keyA))
		go func() {
			res, err := c.CallTool(context.Background(), &sdk.CallToolParams{Name: "interactive_feedback", Arguments: map[string]any{"message": "Shutting down?", "waitSeconds": 3600}})
			answers <- answer{tc.name, res, err}
		}()
	}
	programtest.WaitFor(t, 5*time.Second, programtest.Until("every call to wait", func() bool { return e.hub.Subscribers() == len(transports) }))
	start := time.Now()
	if err := e.m.Close(); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("shutdown with %d waiting calls took %s", len(transports), took.Round(time.Millisecond))
	if took > 2*time.Second {
		t.Errorf("shutdown took %s", took)
	}
	for range transports {
		select {
		case a := <-answers:
			if a.err != nil {
				t.Errorf("%s: the call ended without a result: %v", a.name, a.err)
				continue
			}
			out := structured(t, a.res)
			if out.Status != "pending" || out.SessionID == "" ||
				!strings.Contains(out.Instruction, "shutting down") || !strings.Contains(out.Instruction, `"`+out.SessionID+`"`) ||
				!strings.Contains(text(a.res), out.SessionID) || !strings.Contains(text(a.res), "get_feedback_result") {
				t.Errorf("%s: result %+v, text %q", a.name, out, text(a.res))
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a call got no answer")
		}
	}
}

// rawRPC posts one JSON-RPC request of a legacy session and returns its
// response, read from a JSON or an event-stream answer; unlike rpcClient it
// may run on any goroutine.
func rawRPC(baseURL, key, session, body string) (map[string]any, error) {
	req, err := http.NewRequest(http.MethodPost, baseURL+"/mcp", strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("X-API-Key", key)
	req.Header.Set("MCP-Protocol-Version", protoLegacy)
	req.Header.Set("Mcp-Session-Id", session)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read the response (%d bytes so far): %w", len(b), err)
	}
	for _, line := range append(strings.Split(string(b), "\n"), "data: "+string(b)) {
		var msg map[string]any
		if d, ok := strings.CutPrefix(line, "data: "); ok && json.Unmarshal([]byte(d), &msg) == nil && msg["id"] != nil {
			return msg, nil
		}
	}
	return nil, fmt.Errorf("HTTP %d without a response: %q", resp.StatusCode, b)
}

// At shutdown the waits that ask inside the client answer as every wait
// does: a call whose client has a form open gets the session, still
// pending, and how to keep waiting, and the form is withdrawn; a
// tasks/result gets an error that names the task and says it is still
// working, which any replica, or this one restarted, carries on. No stream
// ends without a response, and the task outlives the edge.
func TestMCPShutdownAnswersInClientWaitsAndTaskResults(t *testing.T) {
	t.Parallel()
	ns := programtest.StartNATS(t)
	e := startEdge(t, ns.URL)
	type answer struct {
		name string
		res  *sdk.CallToolResult
		err  error
	}
	answers := make(chan answer, len(legacyAsking))
	var askers []*asker
	for _, tc := range legacyAsking {
		a := &asker{answer: neverAnswer}
		askers = append(askers, a)
		c := connectAsking(t, tc, e.url, newKeyTransport(keyA), a, "form")
		go func() {
			res, err := c.CallTool(context.Background(), &sdk.CallToolParams{Name: "interactive_feedback",
				Arguments: map[string]any{"message": "Asked in " + tc.name, "waitSeconds": 3600}})
			answers <- answer{tc.name, res, err}
		}()
	}
	rc, _ := rpcInit(t, e.url, keyA, protoLegacy, `{}`)
	tk := rc.startTask("interactive_feedback", map[string]any{"message": "A task at shutdown"})
	type rpcAnswer struct {
		msg map[string]any
		err error
	}
	taskDone := make(chan rpcAnswer, 1)
	go func() {
		msg, err := rawRPC(e.url, keyA, rc.session, `{"jsonrpc":"2.0","id":77,"method":"tasks/result","params":{"taskId":"`+tk.TaskID+`"}}`)
		taskDone <- rpcAnswer{msg, err}
	}()
	programtest.WaitFor(t, 5*time.Second, func() error {
		for i, a := range askers {
			if asked, _, _ := a.snapshot(); len(asked) != 1 {
				return fmt.Errorf("%s: asked %d times", legacyAsking[i].name, len(asked))
			}
		}
		if n := e.hub.Subscribers(); n != len(legacyAsking)+1 {
			return fmt.Errorf("%d waits, want %d", n, len(legacyAsking)+1)
		}
		return nil
	})

	start := time.Now()
	if err := e.m.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("shutdown took %s", took)
	}
	for range legacyAsking {
		select {
		case a := <-answers:
			if a.err != nil {
				t.Errorf("%s: the call ended without a result: %v", a.name, a.err)
				continue
			}
			out := structured(t, a.res)
			if out.Status != "pending" || !strings.Contains(out.Instruction, "shutting down") || !strings.Contains(text(a.res), out.SessionID) {
				t.Errorf("%s: result %+v, text %q", a.name, out, text(a.res))
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a call that asked in the client got no answer")
		}
	}
	programtest.WaitFor(t, 5*time.Second, func() error {
		for i, a := range askers {
			if _, withdrawn, _ := a.snapshot(); withdrawn != 1 {
				return fmt.Errorf("%s: %d forms withdrawn, want 1", legacyAsking[i].name, withdrawn)
			}
		}
		return nil
	})
	select {
	case a := <-taskDone:
		if a.err != nil {
			t.Fatalf("tasks/result ended without a response: %v", a.err)
		}
		e, _ := a.msg["error"].(map[string]any)
		data, _ := e["data"].(map[string]any)
		msg, _ := e["message"].(string)
		if e == nil || e["code"] != float64(-32800) || data["taskId"] != tk.TaskID || data["status"] != "working" ||
			!strings.Contains(msg, tk.TaskID) || !strings.Contains(msg, "shutting down") {
			t.Fatalf("tasks/result at shutdown = %v", a.msg)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("tasks/result got no answer")
	}
	// The task is the session: the next edge carries on with it.
	b := startEdge(t, ns.URL)
	if got := rc.on(b.url).getTask(tk.TaskID); got.Status != "working" {
		t.Fatalf("after the restart the task is %+v", got)
	}
}
