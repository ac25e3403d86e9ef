package mcp_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/sessions"
)

// The Go SDK (v1.8.0) has no client API for Tasks, so these tests speak
// the JSON-RPC of protocol 2025-11-25 over plain HTTP, as a client would.

// rpcClient is a legacy (2025-11-25) Streamable HTTP client session.
type rpcClient struct {
	t       testing.TB
	base    string
	key     string
	session string
	http    *http.Client
	n       int
}

type rpcErr struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// rpcInit opens a session at baseURL with protocol version and client
// capabilities caps (JSON), and returns it with the initialize result.
func rpcInit(t testing.TB, baseURL, key, version, caps string) (*rpcClient, map[string]any) {
	t.Helper()
	c := &rpcClient{t: t, base: baseURL, key: key, http: &http.Client{Timeout: 30 * time.Second}}
	res, e := c.call("initialize", json.RawMessage(`{"protocolVersion":"`+version+`","capabilities":`+caps+`,"clientInfo":{"name":"raw-tasks","version":"1"}}`))
	if e != nil {
		t.Fatalf("initialize: %+v", e)
	}
	var out map[string]any
	_ = json.Unmarshal(res, &out)
	return c, out
}

// on returns the same session, talking to another edge.
func (c *rpcClient) on(baseURL string) *rpcClient {
	d := *c
	d.base = baseURL
	return &d
}

// request is a POST of body to /mcp with c's key, in c's session when
// inSession.
func (c *rpcClient) request(body []byte, inSession bool) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, c.base+"/mcp", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", c.key)
	if inSession {
		req.Header.Set("MCP-Protocol-Version", protoLegacy)
		req.Header.Set("Mcp-Session-Id", c.session)
	}
	return req
}

// call sends one request and returns its result or its error.
func (c *rpcClient) call(method string, params any) (json.RawMessage, *rpcErr) {
	c.t.Helper()
	c.n++
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": c.n, "method": method, "params": params})
	req := c.request(body, method != "initialize")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s: %v", method, err)
	}
	defer resp.Body.Close()
	if id := resp.Header.Get("Mcp-Session-Id"); id != "" {
		c.session = id
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		c.t.Fatalf("%s: HTTP %d %s", method, resp.StatusCode, b)
	}
	var msgs [][]byte
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "text/event-stream" {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<22)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				msgs = append(msgs, []byte(d))
			}
		}
	} else {
		b, _ := io.ReadAll(resp.Body)
		msgs = append(msgs, b)
	}
	for _, m := range msgs {
		var r struct {
			ID     any             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *rpcErr         `json:"error"`
		}
		if json.Unmarshal(m, &r) == nil && fmt.Sprint(r.ID) == fmt.Sprint(c.n) {
			return r.Result, r.Error
		}
	}
	c.t.Fatalf("%s: no response among %q", method, msgs)
	return nil, nil
}

// must is call for a request that must succeed, decoded into v.
func (c *rpcClient) must(method string, params, v any) {
	c.t.Helper()
	res, e := c.call(method, params)
	if e != nil {
		c.t.Fatalf("%s: %+v", method, e)
	}
	if err := json.Unmarshal(res, v); err != nil {
		c.t.Fatalf("%s: %s: %v", method, res, err)
	}
}

type task struct {
	TaskID        string `json:"taskId"`
	Status        string `json:"status"`
	StatusMessage string `json:"statusMessage"`
	CreatedAt     string `json:"createdAt"`
	LastUpdatedAt string `json:"lastUpdatedAt"`
	TTL           *int64 `json:"ttl"`
	PollInterval  *int64 `json:"pollInterval"`
}

type taskToolResult struct {
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
	StructuredContent map[string]any `json:"structuredContent"`
	IsError           bool           `json:"isError"`
	Meta              map[string]any `json:"_meta"`
}

func (c *rpcClient) startTask(tool string, args map[string]any) task {
	c.t.Helper()
	var created struct {
		Task task           `json:"task"`
		Meta map[string]any `json:"_meta"`
	}
	c.must("tools/call", map[string]any{"name": tool, "arguments": args, "task": map[string]any{"ttl": 60000}}, &created)
	if created.Task.TaskID == "" || sessions.CheckID(created.Task.TaskID) != nil || created.Task.Status != "working" ||
		created.Task.PollInterval == nil || created.Task.TTL == nil || created.Meta["io.modelcontextprotocol/model-immediate-response"] == nil {
		c.t.Fatalf("created = %+v", created)
	}
	return created.Task
}

func (c *rpcClient) getTask(id string) task {
	c.t.Helper()
	var got task
	c.must("tasks/get", map[string]any{"taskId": id}, &got)
	return got
}

func TestMCPTasksAreDeclaredFrom20251125(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	_, init := rpcInit(t, e.url, keyA, "2025-11-25", `{}`)
	caps := init["capabilities"].(map[string]any)
	tasks, _ := caps["tasks"].(map[string]any)
	if tasks == nil || tasks["list"] == nil || tasks["cancel"] == nil || fmt.Sprint(tasks["requests"]) != "map[tools:map[call:map[]]]" {
		t.Fatalf("capabilities = %v", caps)
	}
	if res, _ := caps["resources"].(map[string]any); res["subscribe"] != true {
		t.Fatalf("resources = %v", caps["resources"])
	}
	// Every earlier version is still negotiated, without Tasks; an unknown
	// one gets the latest with a handshake.
	for asked, got := range map[string]string{"2024-11-05": "2024-11-05", "2025-03-26": "2025-03-26", "2025-06-18": "2025-06-18", "2099-01-01": "2025-11-25"} {
		_, old := rpcInit(t, e.url, keyA, asked, `{}`)
		hasTasks := old["capabilities"].(map[string]any)["tasks"] != nil
		if old["protocolVersion"] != got || hasTasks != (got == "2025-11-25") {
			t.Fatalf("%s handshake = %v", asked, old)
		}
	}
	// 2026-07-28 (server/discover): Tasks are an extension there, not
	// declared.
	modern := connect(t, transports[0], e.url, newKeyTransport(keyA))
	if caps, _ := json.Marshal(modern.InitializeResult().Capabilities); strings.Contains(string(caps), "tasks") || !strings.Contains(string(caps), `"subscribe":true`) {
		t.Fatalf("2026-07-28 capabilities = %s", caps)
	}
	c, _ := rpcInit(t, e.url, keyA, "2025-11-25", `{}`)
	var list struct {
		Tools []struct {
			Name      string `json:"name"`
			Execution *struct {
				TaskSupport string `json:"taskSupport"`
			} `json:"execution"`
		} `json:"tools"`
	}
	c.must("tools/list", map[string]any{}, &list)
	for _, tool := range list.Tools {
		want := ""
		if tool.Name == "interactive_feedback" || tool.Name == "request_approval" {
			want = "optional"
		}
		got := ""
		if tool.Execution != nil {
			got = tool.Execution.TaskSupport
		}
		if got != want {
			t.Errorf("%s: taskSupport %q, want %q", tool.Name, got, want)
		}
	}
}

// A task is its session: created at once, polled without a long-held call,
// answered on the page, and its result fetched when it is there.
func TestMCPTaskSurvivesALongWaitWithoutALongCall(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	c, _ := rpcInit(t, e.url, keyA, "2025-11-25", `{}`)
	// Every request of this client gives up after 2 s, far less than the
	// person takes: nothing may hold a call open.
	c.http.Timeout = 2 * time.Second
	tk := c.startTask("interactive_feedback", map[string]any{"message": "Take your time", "predefinedOptions": []string{"A", "B"}})
	if st := restStatus(t, e.url, keyA, tk.TaskID); st["status"] != "pending" {
		t.Fatalf("the task is not a session: %v", st)
	}
	// The person takes a while; the client polls now and then.
	for range 3 {
		if got := c.getTask(tk.TaskID); got.Status != "working" || !strings.Contains(got.StatusMessage, "/feedback/"+tk.TaskID) {
			t.Fatalf("polled = %+v", got)
		}
		time.Sleep(500 * time.Millisecond) // the person taking a while is the behaviour under test, not a wait for something
	}
	submit(t, e.url, tk.TaskID, map[string]any{"selectedOptions": []string{"B"}, "freeText": "later"})
	if got := c.getTask(tk.TaskID); got.Status != "completed" || got.LastUpdatedAt == got.CreatedAt {
		t.Fatalf("after the answer = %+v", got)
	}
	var res taskToolResult
	c.must("tasks/result", map[string]any{"taskId": tk.TaskID}, &res)
	fb, _ := res.StructuredContent["feedback"].(map[string]any)
	related, _ := res.Meta["io.modelcontextprotocol/related-task"].(map[string]any)
	if res.IsError || fb["combinedFeedback"] != "B\n\nlater" || related["taskId"] != tk.TaskID {
		t.Fatalf("result = %+v", res)
	}
	var list struct {
		Tasks []task `json:"tasks"`
	}
	c.must("tasks/list", map[string]any{}, &list)
	if len(list.Tasks) != 1 || list.Tasks[0].TaskID != tk.TaskID || list.Tasks[0].Status != "completed" {
		t.Fatalf("list = %+v", list)
	}
}

func TestMCPTaskResultWaitsOnTheChangeFeed(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	c, _ := rpcInit(t, e.url, keyA, "2025-11-25", `{}`)
	tk := c.startTask("request_approval", map[string]any{"tool_name": "Bash", "input": map[string]any{"command": "make deploy"}})
	done := make(chan taskToolResult, 1)
	go func() {
		var res taskToolResult
		c.must("tasks/result", map[string]any{"taskId": tk.TaskID}, &res)
		done <- res
	}()
	programtest.WaitFor(t, 5*time.Second, programtest.Until("tasks/result to wait", func() bool { return e.hub.Subscribers() == 1 }))
	submit(t, e.url, tk.TaskID, map[string]any{"decision": "approve"})
	select {
	case res := <-done:
		if len(res.Content) != 1 || res.Content[0].Text != `{"behavior":"allow","updatedInput":{"command":"make deploy"}}` {
			t.Fatalf("result = %+v", res)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("tasks/result did not return")
	}
}

func TestMCPTaskCancelCancelsTheSession(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	c, _ := rpcInit(t, e.url, keyA, "2025-11-25", `{}`)
	tk := c.startTask("interactive_feedback", map[string]any{"message": "Never mind"})
	var cancelled task
	c.must("tasks/cancel", map[string]any{"taskId": tk.TaskID}, &cancelled)
	if cancelled.Status != "cancelled" || !strings.Contains(cancelled.StatusMessage, "tasks/cancel") {
		t.Fatalf("cancelled = %+v", cancelled)
	}
	if st := restStatus(t, e.url, keyA, tk.TaskID); st["status"] != "cancelled" || st["cancelReason"] != "withdrawn by the agent (tasks/cancel)" {
		t.Fatalf("REST status = %v", st)
	}
	if _, err := c.call("tasks/cancel", map[string]any{"taskId": tk.TaskID}); err == nil || err.Code != -32602 {
		t.Fatalf("second cancel: %+v", err)
	}
	var res taskToolResult
	c.must("tasks/result", map[string]any{"taskId": tk.TaskID}, &res)
	if res.StructuredContent["status"] != "cancelled" {
		t.Fatalf("result = %+v", res)
	}
}

// A task-augmented interactive_feedback creates its session as the plain
// call does, notify included: false keeps it off the owner's channels.
func TestMCPTaskKeepsNotify(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	c, _ := rpcInit(t, e.url, keyA, "2025-11-25", `{}`)
	for _, tc := range []struct {
		args map[string]any
		want bool
	}{
		{map[string]any{"message": "Quiet task", "notify": false}, false},
		{map[string]any{"message": "Loud task"}, true},
	} {
		tk := c.startTask("interactive_feedback", tc.args)
		sess, err := e.svc.GetOwned(context.Background(), programtest.PrincipalA, tk.TaskID)
		if err != nil {
			t.Fatal(err)
		}
		if sess.Notifies() != tc.want {
			t.Errorf("%v: the session notifies = %v, want %v", tc.args, sess.Notifies(), tc.want)
		}
	}
	if _, err := c.call("tools/call", map[string]any{"name": "interactive_feedback",
		"arguments": map[string]any{"message": "Typed wrong", "notify": "no"}, "task": map[string]any{}}); err == nil || err.Code != -32602 ||
		!strings.Contains(err.Message, "notify") {
		t.Fatalf("notify as a string: %+v", err)
	}
}

// Nobody answering fails a question's task, with a result that says so;
// an approval's task completes, its result the deny a permission prompt
// expects.
func TestMCPExpiredTasks(t *testing.T) {
	t.Parallel()
	e := newEdge(t, programtest.ShortTimeouts())
	c, _ := rpcInit(t, e.url, keyA, "2025-11-25", `{}`)
	q := c.startTask("interactive_feedback", map[string]any{"message": "Quick!", "timeout": 1})
	a := c.startTask("request_approval", map[string]any{"tool_name": "Bash", "input": map[string]any{}, "timeout": 1})
	programtest.WaitFor(t, 10*time.Second, programtest.Until("the question's task to fail", func() bool { return c.getTask(q.TaskID).Status == "failed" }))
	// The expirer ends the two sessions one after the other.
	programtest.WaitFor(t, 10*time.Second, programtest.Until("the approval's task to end", func() bool { return c.getTask(a.TaskID).Status != "working" }))
	if got := c.getTask(a.TaskID); got.Status != "completed" || !strings.Contains(got.StatusMessage, "Nobody answered") {
		t.Fatalf("expired approval = %+v", got)
	}
	var res taskToolResult
	c.must("tasks/result", map[string]any{"taskId": q.TaskID}, &res)
	if !res.IsError || res.StructuredContent["status"] != "expired" {
		t.Fatalf("expired question's result = %+v", res)
	}
	res = taskToolResult{}
	c.must("tasks/result", map[string]any{"taskId": a.TaskID}, &res)
	if res.IsError || !strings.Contains(res.Content[0].Text, `"behavior":"deny"`) {
		t.Fatalf("expired approval's result = %+v", res)
	}
}

func TestMCPTasksAreTheOwnersOnly(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	a, _ := rpcInit(t, e.url, keyA, "2025-11-25", `{}`)
	b, _ := rpcInit(t, e.url, keyB, "2025-11-25", `{}`)
	tk := a.startTask("interactive_feedback", map[string]any{"message": "Mine"})
	for _, m := range []string{"tasks/get", "tasks/result", "tasks/cancel"} {
		if _, err := b.call(m, map[string]any{"taskId": tk.TaskID}); err == nil || err.Code != -32602 || !strings.Contains(err.Message, "not found") {
			t.Errorf("%s by another principal: %+v", m, err)
		}
	}
	for _, m := range []string{"resources/read", "resources/subscribe"} {
		if _, err := b.call(m, map[string]any{"uri": "feedback://sessions/" + tk.TaskID}); err == nil || err.Code != -32002 {
			t.Errorf("%s by another principal: %+v", m, err)
		}
	}
	var list struct {
		Tasks []task `json:"tasks"`
	}
	b.must("tasks/list", map[string]any{}, &list)
	if len(list.Tasks) != 0 {
		t.Fatalf("B sees %+v", list.Tasks)
	}
	if a.getTask(tk.TaskID).Status != "working" {
		t.Fatal("B's attempts changed A's task")
	}
	// Bad input gets a clear error.
	for _, tc := range []struct {
		method string
		params any
		code   int
		want   string
	}{
		{"tasks/get", map[string]any{"taskId": "nope"}, -32602, "not found"},
		{"tasks/get", map[string]any{"taskId": 7}, -32602, "malformed"},
		{"tasks/list", map[string]any{"cursor": "!!"}, -32602, "cursor"},
		{"tools/call", map[string]any{"name": "interactive_feedback", "arguments": map[string]any{"message": ""}, "task": map[string]any{}}, -32602, "message"},
		{"tools/call", map[string]any{"name": "request_approval", "arguments": map[string]any{"tool_name": "x", "input": map[string]any{"big": strings.Repeat("x", 40<<10)}}, "task": map[string]any{}}, -32602, "without a task"},
		{"tools/call", map[string]any{"name": "check_feedback_status", "arguments": map[string]any{"sessionId": tk.TaskID}, "task": map[string]any{}}, -32601, "task"},
		{"resources/subscribe", map[string]any{}, -32602, "uri"},
		{"resources/subscribe", map[string]any{"uri": []int{1}}, -32602, "uri"},
		{"resources/subscribe", map[string]any{"uri": "feedback://sessions/../../etc"}, -32002, "not found"},
		{"resources/read", map[string]any{"uri": "feedback://sessions/" + strings.Repeat("f", 36)}, -32002, "not found"},
	} {
		if _, err := a.call(tc.method, tc.params); err == nil || err.Code != tc.code || !strings.Contains(err.Message, tc.want) {
			t.Errorf("%s %v: %+v", tc.method, tc.params, err)
		}
	}
}

// A task lives in the sessions bucket: another edge answers for it, and so
// does an edge started after the one that created it stopped.
func TestMCPTaskFromAnotherEdgeAndAfterARestart(t *testing.T) {
	t.Parallel()
	ns := programtest.StartNATS(t)
	x, y := startEdge(t, ns.URL), startEdge(t, ns.URL)
	c, _ := rpcInit(t, x.url, keyA, "2025-11-25", `{}`)
	tk := c.startTask("interactive_feedback", map[string]any{"message": "Across edges"})
	if got := c.on(y.url).getTask(tk.TaskID); got.Status != "working" {
		t.Fatalf("from the other edge = %+v", got)
	}
	if err := x.m.Close(); err != nil {
		t.Fatal(err)
	}
	z := startEdge(t, ns.URL)
	submit(t, y.url, tk.TaskID, map[string]any{"freeText": "after the restart"})
	var res taskToolResult
	c.on(z.url).must("tasks/result", map[string]any{"taskId": tk.TaskID}, &res)
	if fb, _ := res.StructuredContent["feedback"].(map[string]any); fb["freeText"] != "after the restart" {
		t.Fatalf("result after the restart = %+v", res)
	}
}

// streamCall posts a tools/call and returns the stream of messages on its
// response, one per SSE event, until the response ends.
func (c *rpcClient) streamCall(name string, args map[string]any) <-chan json.RawMessage {
	c.t.Helper()
	c.n++
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": c.n, "method": "tools/call", "params": map[string]any{"name": name, "arguments": args}})
	req := c.request(body, true)
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("tools/call: %v", err)
	}
	out := make(chan json.RawMessage, 16)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<22)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				out <- json.RawMessage(d)
			}
		}
	}()
	return out
}

// post sends one message that expects no response body.
func (c *rpcClient) post(msg any) int {
	c.t.Helper()
	body, _ := json.Marshal(msg)
	resp, err := c.http.Do(c.request(body, true))
	if err != nil {
		c.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func next(t testing.TB, ch <-chan json.RawMessage) map[string]any {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatal("the stream ended")
		}
		var v map[string]any
		if err := json.Unmarshal(m, &v); err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("nothing on the stream")
	}
	return nil
}

// A client that answers a form with content that does not fit it gets the
// refusal as the call's result, and the session stays open for the page.
// Answers to requests nobody sent, or from another principal, change
// nothing.
func TestMCPElicitationRefusesContentThatDoesNotFit(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	c, _ := rpcInit(t, e.url, keyA, "2025-11-25", `{"elicitation":{"form":{}}}`)
	stream := c.streamCall("interactive_feedback", map[string]any{"message": "Pick one", "predefinedOptions": []string{"a", "b"}, "multiSelect": false, "waitSeconds": 20})
	var ask map[string]any
	for ask == nil || ask["method"] != "elicitation/create" {
		ask = next(t, stream)
	}
	id := ask["id"]
	// Noise first: an unknown id, and the right id from another principal
	// (with its own session), are accepted and dropped.
	if code := c.post(map[string]any{"jsonrpc": "2.0", "id": "fbk-00000000000000000000000000000000", "result": map[string]any{"action": "accept"}}); code != http.StatusAccepted {
		t.Fatalf("unknown answer: %d", code)
	}
	other, _ := rpcInit(t, e.url, keyB, "2025-11-25", `{"elicitation":{}}`)
	if code := other.post(map[string]any{"jsonrpc": "2.0", "id": id, "result": map[string]any{"action": "decline"}}); code != http.StatusAccepted {
		t.Fatalf("foreign answer: %d", code)
	}
	if code := c.post(map[string]any{"jsonrpc": "2.0", "id": id, "result": map[string]any{"action": "accept", "content": map[string]any{"selectedOption": "c", "freeText": 7}}}); code != http.StatusAccepted {
		t.Fatalf("answer: %d", code)
	}
	var res map[string]any
	for res == nil || res["result"] == nil {
		res = next(t, stream)
	}
	result := res["result"].(map[string]any)
	txt := result["content"].([]any)[0].(map[string]any)["text"].(string)
	if result["isError"] != true || !strings.Contains(txt, "refused") || !strings.Contains(txt, "freeText") || !strings.Contains(txt, "/feedback/") {
		t.Fatalf("result = %v", result)
	}
	sid := pendingSession(t, e, keyA)
	if st := restStatus(t, e.url, keyA, sid); st["status"] != "pending" {
		t.Fatalf("the session did not stay open: %v", st)
	}
}
