package mcp_test

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/goleak"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/edge"
	"github.com/feedbackd/feedbackd/edge/mcp"
	"github.com/feedbackd/feedbackd/sessions"
)

func TestMCPHandshakeListsExactlyTheToolsWithSchemas(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	for _, tc := range transports {
		t.Run(tc.name, func(t *testing.T) {
			c := connect(t, tc, e.url, newKeyTransport(keyA))
			info := c.InitializeResult().ServerInfo
			if info.Name != mcp.ServerName || info.Version != "test" {
				t.Errorf("server info = %+v", info)
			}
			res, err := c.ListTools(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tool := range res.Tools {
				names = append(names, tool.Name)
				in, _ := json.Marshal(tool.InputSchema)
				out, _ := json.Marshal(tool.OutputSchema)
				if !strings.Contains(string(in), `"properties"`) {
					t.Errorf("%s: input schema %s", tool.Name, in)
				}
				// request_approval answers with one text content, as a
				// permission prompt tool must; the others with structured
				// content too.
				if wantOut := tool.Name != "request_approval"; wantOut != (tool.OutputSchema != nil) || wantOut && !strings.Contains(string(out), `"status"`) {
					t.Errorf("%s: output schema %s", tool.Name, out)
				}
				if tool.Description == "" {
					t.Errorf("%s has no description", tool.Name)
				}
			}
			slices.Sort(names)
			if !slices.Equal(names, modelTools) {
				t.Fatalf("tools = %v, want %v", names, modelTools)
			}
		})
	}
}

func TestMCPEachToolOverEachTransport(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	ctx := context.Background()
	for _, tc := range transports {
		t.Run(tc.name, func(t *testing.T) {
			c := connect(t, tc, e.url, newKeyTransport(keyA))
			created := structured(t, c.call(t, ctx, "interactive_feedback", map[string]any{
				"message":           "Ship **v2** today?",
				"predefinedOptions": []string{"Yes", "No"},
				"timeout":           120,
				"metadata":          map[string]any{"pr": 42},
				"waitSeconds":       0,
			}))
			if created.Status != "pending" || created.FeedbackURL != e.url+"/feedback/"+created.SessionID {
				t.Fatalf("created = %+v", created)
			}
			if !strings.Contains(created.Instruction, "get_feedback_result") || !strings.Contains(created.Instruction, created.SessionID) {
				t.Errorf("instruction = %q", created.Instruction)
			}

			status := structured(t, c.call(t, ctx, "check_feedback_status", map[string]any{"sessionId": created.SessionID}))
			if status.Status != "pending" || status.ExpiresAt == "" || status.CreatedAt == "" {
				t.Errorf("status = %+v", status)
			}

			res := c.call(t, ctx, "get_feedback_result", map[string]any{"sessionId": created.SessionID, "waitSeconds": 0})
			if out := structured(t, res); out.Status != "pending" || !strings.Contains(text(res), "get_feedback_result") {
				t.Errorf("result before answer = %+v, text %q", out, text(res))
			}

			submit(t, e.url, created.SessionID, map[string]any{"selectedOptions": []string{"Yes"}, "freeText": " after lunch "})
			res = c.call(t, ctx, "get_feedback_result", map[string]any{"sessionId": created.SessionID})
			got := structured(t, res)
			if got.Status != "completed" || got.Feedback == nil || got.Feedback.CombinedFeedback != "Yes\n\nafter lunch" || got.SubmittedAt == "" {
				t.Fatalf("result = %+v", got)
			}
			if !strings.Contains(text(res), "Yes\n\nafter lunch") {
				t.Errorf("text = %q", text(res))
			}
			if status := structured(t, c.call(t, ctx, "check_feedback_status", map[string]any{"sessionId": created.SessionID})); status.Status != "completed" || status.SubmittedAt != got.SubmittedAt {
				t.Errorf("status after answer = %+v", status)
			}
		})
	}
}

func TestMCPWaitingCallReturnsTheAnswerSubmittedOverREST(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	for _, tc := range transports {
		t.Run(tc.name, func(t *testing.T) {
			c := connect(t, tc, e.url, newKeyTransport(keyA))
			type outcome struct {
				res *sdk.CallToolResult
				err error
			}
			done := make(chan outcome, 1)
			start := time.Now()
			go func() {
				res, err := c.CallTool(context.Background(), &sdk.CallToolParams{Name: "interactive_feedback", Arguments: map[string]any{
					"message": "Which colour?", "predefinedOptions": []string{"Red", "Blue"}, "waitSeconds": 30,
				}})
				done <- outcome{res, err}
			}()
			id := pendingSession(t, e, keyA)
			programtest.WaitFor(t, 5*time.Second, programtest.Until("the call to wait", func() bool { return e.hub.Subscribers() == 1 }))
			submit(t, e.url, id, map[string]any{"selectedOptions": []string{"Blue"}, "freeText": "navy if possible"})
			var o outcome
			select {
			case o = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the waiting call did not return after the answer")
			}
			if o.err != nil {
				t.Fatal(o.err)
			}
			got := structured(t, o.res)
			if got.Status != "completed" || got.SessionID != id || !slices.Equal(got.Feedback.SelectedOptions, []string{"Blue"}) ||
				got.Feedback.FreeText != "navy if possible" || got.Feedback.CombinedFeedback != "Blue\n\nnavy if possible" || got.SubmittedAt == "" {
				t.Fatalf("answer = %+v", got)
			}
			if time.Since(start) > 10*time.Second {
				t.Errorf("took %s", time.Since(start))
			}
			programtest.WaitFor(t, 2*time.Second, programtest.Until("the wait to unsubscribe", func() bool { return e.hub.Subscribers() == 0 }))
		})
	}
}

func TestMCPProgressNotificationsWhileWaiting(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	for _, tc := range transports {
		t.Run(tc.name, func(t *testing.T) {
			c := connect(t, tc, e.url, newKeyTransport(keyA))
			params := &sdk.CallToolParams{Name: "interactive_feedback", Arguments: map[string]any{"message": "Still there?", "waitSeconds": 1}}
			params.SetProgressToken("tok-" + tc.name)
			res, err := c.CallTool(context.Background(), params)
			if err != nil {
				t.Fatal(err)
			}
			if out := structured(t, res); out.Status != "pending" || out.Instruction == "" {
				t.Fatalf("after the wait = %+v", out)
			}
			got := c.progressFor("tok-" + tc.name)
			if len(got) < 5 {
				t.Fatalf("got %d progress notifications in 1s at 50ms, want several", len(got))
			}
			// Sent in increasing order; a Streamable HTTP client with its
			// GET stream open may receive them over two streams (mcp-go
			// forwards a session's notifications to whichever stream reads
			// first), so the order of arrival is not the order sent, but no
			// value may repeat.
			slices.SortFunc(got, func(a, b *sdk.ProgressNotificationParams) int { return cmp.Compare(a.Progress, b.Progress) })
			for i, p := range got {
				if p.Total != 1 || p.Message == "" || (i > 0 && p.Progress <= got[i-1].Progress) {
					t.Fatalf("notification %d = %+v (previous %+v)", i, p, got[max(i-1, 0)])
				}
			}
		})
	}
}

func TestMCPNoProgressWithoutToken(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	c := connect(t, transports[0], e.url, newKeyTransport(keyA))
	structured(t, c.call(t, context.Background(), "interactive_feedback", map[string]any{"message": "Quiet?", "waitSeconds": 1}))
	if n := len(c.progress); n != 0 {
		t.Fatalf("got %d progress notifications without a progress token", n)
	}
}

func TestMCPEndpointsRefuseMissingOrWrongCredentials(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	cases := []struct{ method, path, body string }{
		{http.MethodPost, "/mcp", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`},
		{http.MethodGet, "/mcp", ""},
		{http.MethodDelete, "/mcp", ""},
		{http.MethodGet, "/sse", ""},
		{http.MethodPost, "/sse/message?sessionId=x", `{}`},
	}
	for _, key := range []string{"", "wrong-key"} {
		for _, tc := range cases {
			req, _ := http.NewRequest(tc.method, e.url+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			if key != "" {
				req.Header.Set("X-API-Key", key)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var env struct {
				Success bool
				Error   struct{ Code string }
			}
			_ = json.NewDecoder(resp.Body).Decode(&env)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || env.Error.Code != "UNAUTHORIZED" {
				t.Errorf("%s %s key %q: %d %+v", tc.method, tc.path, key, resp.StatusCode, env)
			}
			// RFC 6750: error="invalid_token" joins the challenge when a
			// credential was sent.
			if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer realm="feedbackd"`) {
				t.Errorf("%s %s: WWW-Authenticate = %q", tc.method, tc.path, got)
			}
		}
	}
}

func TestMCPSSEStreamsThroughFiber(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	req, _ := http.NewRequest(http.MethodGet, e.url+"/sse", nil)
	req.Header.Set("X-API-Key", keyA)
	req.Header.Set("Accept", "text/event-stream")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("GET /sse: %d %q", resp.StatusCode, ct)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("mcp-go's wildcard CORS header leaked: %q", resp.Header.Get("Access-Control-Allow-Origin"))
	}
	// The response never ends on its own: reading the first event proves it
	// is streamed, not buffered.
	br := bufio.NewReader(resp.Body)
	event, _ := br.ReadString('\n')
	data, _ := br.ReadString('\n')
	if strings.TrimSpace(event) != "event: endpoint" || !strings.HasPrefix(strings.TrimSpace(data), "data: /sse/message?sessionId=") {
		t.Fatalf("first event = %q %q", event, data)
	}
}

func TestMCPEndpointEventUsesPublicURL(t *testing.T) {
	t.Parallel()
	e := newEdge(t, programtest.Env("PUBLIC_URL", "https://feedback.example.com/base/"))
	req, _ := http.NewRequest(http.MethodGet, e.url+"/sse", nil)
	req.Header.Set("X-API-Key", keyA)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	_, _ = br.ReadString('\n')
	data, _ := br.ReadString('\n')
	if !strings.HasPrefix(strings.TrimSpace(data), "data: https://feedback.example.com/base/sse/message?sessionId=") {
		t.Fatalf("endpoint = %q", data)
	}
}

func TestMCPClientThatLeavesMidWaitLeavesNothingBehind(t *testing.T) {
	e := newEdge(t)
	for _, tc := range transports {
		// ClientSession.Close is graceful: it waits for calls in flight, so it
		// is not a way of leaving.
		for _, how := range []string{"cancel", "cut"} {
			t.Run(tc.name+"/"+how, func(t *testing.T) {
				before := goleak.IgnoreCurrent()
				kt := newKeyTransport(keyA)
				leaveMidWait(t, e, connect(t, tc, e.url, kt), how, before)
			})
		}
	}
}

func TestMCPCancelledNotificationIsScopedToItsPrincipal(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	sa, sb := rawInitialize(t, e.url, keyA), rawInitialize(t, e.url, keyB)
	go func() {
		resp := rawMCP(t, e.url, keyA, sa, `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"interactive_feedback","arguments":{"message":"Wait for me","waitSeconds":30}}}`)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}()
	programtest.WaitFor(t, 5*time.Second, programtest.Until("the call to wait", func() bool { return e.hub.Subscribers() == 1 }))

	cancel := `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7}}`
	resp := rawMCP(t, e.url, keyB, sb, cancel)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("B's cancel: %d", resp.StatusCode)
	}
	resp = rawMCP(t, e.url, keyB, sa, cancel)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("B presenting A's session: %d, want 404", resp.StatusCode)
	}
	// Nothing may happen now: the sleep is the behaviour under test (B's
	// cancel was handled before its 202; a wrongly ended wait would let go
	// of its subscription within this time).
	time.Sleep(200 * time.Millisecond)
	if n := e.hub.Subscribers(); n != 1 {
		t.Fatalf("another principal's cancel ended A's wait (%d waiting)", n)
	}
	resp = rawMCP(t, e.url, keyA, sa, cancel)
	resp.Body.Close()
	programtest.WaitFor(t, 2*time.Second, programtest.Until("A's cancel to end the wait", func() bool { return e.hub.Subscribers() == 0 }))
}

func TestMCPSessionIDsAreBoundToTheirPrincipal(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	sa := rawInitialize(t, e.url, keyA)
	list := `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`
	resp := rawMCP(t, e.url, keyA, sa, list)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("owner: %d", resp.StatusCode)
	}
	for _, session := range []string{sa, "fbm-00000000000000000000000000000000-00", "mcp-session-" + sessions.NewID()} {
		resp = rawMCP(t, e.url, keyB, session, list)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("B with session %q: %d, want 404", session, resp.StatusCode)
		}
	}
	// Nor may B listen on A's session.
	req, _ := http.NewRequest(http.MethodGet, e.url+"/mcp", nil)
	req.Header.Set("X-API-Key", keyB)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Session-Id", sa)
	req.Header.Set("MCP-Protocol-Version", protoLegacy)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("B's GET on A's session: %d, want 404", resp.StatusCode)
	}
}

func TestMCPQuietPostBecomesAnEventStreamWithKeepAlives(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	sa := rawInitialize(t, e.url, keyA)
	resp := rawMCP(t, e.url, keyA, sa, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"interactive_feedback","arguments":{"message":"Quiet for a second","waitSeconds":1}}}`)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q; body %s", ct, body)
	}
	s := string(body)
	if !strings.Contains(s, ": keep-alive\n\n") {
		t.Errorf("no keep-alive comment in %q", s)
	}
	i := strings.Index(s, "event: message\ndata: ")
	if i < 0 {
		t.Fatalf("no message event in %q", s)
	}
	data, _, _ := strings.Cut(s[i+len("event: message\ndata: "):], "\n\n")
	var msg struct {
		ID     int
		Result struct {
			StructuredContent struct{ Status string }
			IsError           bool
		}
	}
	if err := json.Unmarshal([]byte(data), &msg); err != nil || msg.ID != 3 || msg.Result.StructuredContent.Status != "pending" {
		t.Fatalf("event data %q: %+v %v", data, msg, err)
	}
}

func TestMCPBadArgumentsAndForeignSessionsAreToolErrors(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	ctx := context.Background()
	other := connect(t, transports[0], e.url, newKeyTransport(keyB))
	foreign := structured(t, other.call(t, ctx, "interactive_feedback", map[string]any{"message": "B's question", "waitSeconds": 0})).SessionID
	options := func(n int) []string {
		var o []string
		for i := range n {
			o = append(o, "option "+strconv.Itoa(i))
		}
		return o
	}
	cases := []struct {
		tool string
		args map[string]any
		want string
	}{
		{"interactive_feedback", map[string]any{}, "message"},
		{"interactive_feedback", map[string]any{"message": strings.Repeat("é", 1001)}, "at most 1000 characters"},
		{"interactive_feedback", map[string]any{"message": "ok", "predefinedOptions": options(11)}, "at most 10 options"},
		{"interactive_feedback", map[string]any{"message": "ok", "predefinedOptions": []string{"a", "a"}}, "duplicate"},
		{"interactive_feedback", map[string]any{"message": "ok", "predefinedOptions": "a"}, "predefinedOptions: must be an array"},
		{"interactive_feedback", map[string]any{"message": "ok", "timeout": 29}, "timeout"},
		{"interactive_feedback", map[string]any{"message": "ok", "metadata": []int{1}}, "metadata"},
		{"interactive_feedback", map[string]any{"message": "ok", "waitSeconds": -1}, "waitSeconds"},
		{"interactive_feedback", map[string]any{"message": "ok", "waitSeconds": 3601}, "waitSeconds"},
		{"interactive_feedback", map[string]any{"message": "ok", "waitSeconds": 1.5}, "waitSeconds"},
		{"interactive_feedback", map[string]any{"message": "ok", "timeout": "60"}, "timeout: must be a number, not a string"},
		{"interactive_feedback", map[string]any{"message": "ok", "waitSeconds": "0"}, "waitSeconds: must be a number, not a string"},
		{"get_feedback_result", map[string]any{"sessionId": foreign, "waitSeconds": "0"}, "waitSeconds: must be a number, not a string"},
		{"get_feedback_result", map[string]any{"sessionId": "not-a-uuid"}, "UUID"},
		{"get_feedback_result", map[string]any{"sessionId": sessions.NewID(), "waitSeconds": 0}, "SESSION_NOT_FOUND"},
		{"get_feedback_result", map[string]any{"sessionId": foreign, "waitSeconds": 0}, "SESSION_NOT_FOUND"},
		{"check_feedback_status", map[string]any{}, "UUID"},
		{"check_feedback_status", map[string]any{"sessionId": strings.ToUpper(foreign)}, "UUID"},
		{"check_feedback_status", map[string]any{"sessionId": sessions.NewID()}, "SESSION_NOT_FOUND"},
		{"check_feedback_status", map[string]any{"sessionId": foreign}, "SESSION_NOT_FOUND"},
	}
	for _, tc := range transports {
		t.Run(tc.name, func(t *testing.T) {
			c := connect(t, tc, e.url, newKeyTransport(keyA))
			for _, bad := range cases {
				res := c.call(t, ctx, bad.tool, bad.args)
				if !res.IsError || !strings.Contains(text(res), bad.want) {
					t.Errorf("%s %v: isError=%v text %q, want it to mention %q", bad.tool, bad.args, res.IsError, text(res), bad.want)
				}
			}
			// The session is still fine after all that.
			structured(t, c.call(t, ctx, "check_feedback_status", map[string]any{"sessionId": structured(t, c.call(t, ctx, "interactive_feedback", map[string]any{"message": "still there?", "waitSeconds": 0})).SessionID}))
		})
	}
}

func TestMCPReportsCancelledAndExpiredSessionsPlainly(t *testing.T) {
	t.Parallel()
	e := newEdge(t, programtest.Sessions(sessions.WithLimits(sessions.Limits{
		MaxMessage: 1000, MaxOptions: 10, MaxOption: 100, MaxFreeText: 1000, MaxMetadata: 4096,
		MinTimeout: time.Second, DefaultTimeout: time.Minute, MaxTimeout: time.Hour,
	})))
	ctx := context.Background()
	c := connect(t, transports[0], e.url, newKeyTransport(keyA))

	start := time.Now()
	res := c.call(t, ctx, "interactive_feedback", map[string]any{"message": "Quick!", "timeout": 1, "waitSeconds": 30})
	if out := structured(t, res); out.Status != "expired" || !strings.Contains(text(res), "expired") {
		t.Fatalf("expired = %+v %q", out, text(res))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the wait outlived the session's deadline by %s", d-time.Second)
	}

	id := structured(t, c.call(t, ctx, "interactive_feedback", map[string]any{"message": "Never mind", "waitSeconds": 0})).SessionID
	if code, env := rest(t, http.MethodPost, e.url+"/api/feedback/"+id+"/cancel", keyA, nil); code != http.StatusOK {
		t.Fatalf("cancel: %d %v", code, env)
	}
	res = c.call(t, ctx, "get_feedback_result", map[string]any{"sessionId": id, "waitSeconds": 30})
	if out := structured(t, res); out.Status != "cancelled" || !strings.Contains(text(res), "cancelled") || out.Instruction != "" {
		t.Fatalf("cancelled = %+v %q", out, text(res))
	}
}

func TestMCPStreamableSessionSpreadOverTwoEdges(t *testing.T) {
	t.Parallel()
	ns := programtest.StartNATS(t)
	a, b := startEdge(t, ns.URL), startEdge(t, ns.URL)
	for _, tc := range transports[:2] {
		t.Run(tc.name, func(t *testing.T) {
			kt := newKeyTransport(keyA, hostOf(a.url), hostOf(b.url))
			c := connect(t, tc, a.url, kt)
			ctx := context.Background()
			if _, err := c.ListTools(ctx, nil); err != nil {
				t.Fatal(err)
			}
			for range 3 { // calls alternate between the replicas
				id := structured(t, c.call(t, ctx, "interactive_feedback", map[string]any{"message": "Spread?", "waitSeconds": 0})).SessionID
				structured(t, c.call(t, ctx, "check_feedback_status", map[string]any{"sessionId": id}))
			}
			done := make(chan *sdk.CallToolResult, 1)
			go func() {
				done <- c.call(t, ctx, "interactive_feedback", map[string]any{"message": "Answer me on the other edge", "predefinedOptions": []string{"A", "B"}, "waitSeconds": 30})
			}()
			programtest.WaitFor(t, 5*time.Second, programtest.Until("the call to wait on one replica", func() bool { return a.hub.Subscribers()+b.hub.Subscribers() == 1 }))
			waiting, other := a, b
			if b.hub.Subscribers() == 1 {
				waiting, other = b, a
			}
			id := pendingSession(t, other, keyA)
			submit(t, other.url, id, map[string]any{"selectedOptions": []string{"B"}})
			select {
			case res := <-done:
				if out := structured(t, res); out.Status != "completed" || out.Feedback.CombinedFeedback != "B" {
					t.Fatalf("answer = %+v", out)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("the wait on %s never saw the answer submitted on %s", waiting.url, other.url)
			}
			seen := kt.hostsSeen()
			if seen[hostOf(a.url)] < 3 || seen[hostOf(b.url)] < 3 {
				t.Fatalf("requests per replica = %v", seen)
			}
		})
	}
}

func TestMCPStreamsAnswerAtOnceWhenQuiet(t *testing.T) {
	t.Parallel()
	// Nothing but the handshake of the stream itself: no keep-alive comes.
	e := newEdge(t, programtest.Edge(func(c *edge.Config) { fast(c); c.MCP.KeepAlive = time.Minute }))
	for _, path := range []string{"/mcp", "/sse"} {
		req, _ := http.NewRequest(http.MethodGet, e.url+path, nil)
		req.Header.Set("X-API-Key", keyA)
		req.Header.Set("Accept", "application/json, text/event-stream")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		start := time.Now()
		resp, err := http.DefaultClient.Do(req.WithContext(ctx))
		if err != nil {
			cancel()
			t.Fatalf("GET %s: no response headers within 2s: %v", path, err)
		}
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Errorf("GET %s: %d %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("GET %s answered after %s", path, d)
		}
		resp.Body.Close()
		cancel()
	}
}

// interactive_feedback's notify argument, which its schema offers, reaches
// the session as REST's does: false keeps the question off the owner's
// channels; left out, the session records nothing.
func TestMCPNotifyFalseKeepsTheQuestionOffTheChannels(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	ctx := context.Background()
	c := connect(t, transports[1], e.url, newKeyTransport(keyA))
	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"message": "Quiet?", "notify": false, "waitSeconds": 0}, "false"},
		{map[string]any{"message": "Loud?", "notify": true, "waitSeconds": 0}, "<nil>"},
		{map[string]any{"message": "Default?", "waitSeconds": 0}, "<nil>"},
	} {
		out := structured(t, c.call(t, ctx, "interactive_feedback", tc.args))
		sess, err := e.svc.GetOwned(ctx, programtest.PrincipalA, out.SessionID)
		if err != nil {
			t.Fatal(err)
		}
		got := "<nil>"
		if sess.Notify != nil {
			got = fmt.Sprint(*sess.Notify)
		}
		if got != tc.want {
			t.Errorf("%v: the session's notify is %s, want %s", tc.args, got, tc.want)
		}
	}
	if res := c.call(t, ctx, "interactive_feedback", map[string]any{"message": "Wrong type?", "notify": "no"}); !res.IsError ||
		!strings.HasPrefix(text(res), "INVALID_REQUEST") || !strings.Contains(text(res), "notify") {
		t.Errorf("notify as a string: %q", text(res))
	}
}
