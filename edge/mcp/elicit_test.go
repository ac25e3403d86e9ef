package mcp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/goleak"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
)

// asker is an MCP client's elicitation side: it records what it was asked
// and answers as the test says, as a person in front of the client would.
type asker struct {
	answer func(ctx context.Context, p *sdk.ElicitParams) (*sdk.ElicitResult, error)

	mu        sync.Mutex
	asked     []*sdk.ElicitParams
	withdrawn int      // questions the server withdrew (notifications/cancelled)
	completed []string // elicitationIds of notifications/elicitation/complete
}

func (a *asker) handle(ctx context.Context, req *sdk.ElicitRequest) (*sdk.ElicitResult, error) {
	a.mu.Lock()
	a.asked = append(a.asked, req.Params)
	a.mu.Unlock()
	res, err := a.answer(ctx, req.Params)
	if ctx.Err() != nil {
		a.mu.Lock()
		a.withdrawn++
		a.mu.Unlock()
	}
	return res, err
}

func (a *asker) snapshot() (asked []*sdk.ElicitParams, withdrawn int, completed []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*sdk.ElicitParams(nil), a.asked...), a.withdrawn, append([]string(nil), a.completed...)
}

// askingTransports are the ways a client may be asked: a 2026-07-28 client
// (multi round-trip) and clients before it, over both transports.
var askingTransports = []transportCase{
	{name: "streamable", protocol: protoModern},
	{name: "streamable-legacy", protocol: protoLegacy},
	{name: "sse", sse: true, protocol: protoModern},
	{name: "sse-legacy", sse: true, protocol: protoLegacy},
}

// legacyAsking are the clients asked by a request in the middle of the
// call, which the server can withdraw and close.
var legacyAsking = []transportCase{askingTransports[1], askingTransports[3]}

// accept answers every question with content.
func accept(content map[string]any) func(context.Context, *sdk.ElicitParams) (*sdk.ElicitResult, error) {
	return func(context.Context, *sdk.ElicitParams) (*sdk.ElicitResult, error) {
		return &sdk.ElicitResult{Action: "accept", Content: content}, nil
	}
}

// respond answers every question with action and no content.
func respond(action string) func(context.Context, *sdk.ElicitParams) (*sdk.ElicitResult, error) {
	return func(context.Context, *sdk.ElicitParams) (*sdk.ElicitResult, error) {
		return &sdk.ElicitResult{Action: action}, nil
	}
}

// neverAnswer leaves the question open until the server withdraws it.
func neverAnswer(ctx context.Context, _ *sdk.ElicitParams) (*sdk.ElicitResult, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// connectAsking connects a Go SDK client that declared elicitation in the
// given modes ("form", "url"), and, with "apps", the MCP Apps extension too.
func connectAsking(t testing.TB, tc transportCase, baseURL string, kt *keyTransport, a *asker, modes ...string) *client {
	t.Helper()
	caps := &sdk.ClientCapabilities{}
	elicit := &sdk.ElicitationCapabilities{}
	for _, m := range modes {
		switch m {
		case "form":
			elicit.Form = &sdk.FormElicitationCapabilities{}
		case "url":
			elicit.URL = &sdk.URLElicitationCapabilities{}
		case "apps":
			caps.AddExtension(appsExtension, map[string]any{"mimeTypes": []string{appMIME}})
		}
	}
	caps.Elicitation = elicit
	return connectOpts(t, tc, baseURL, kt, &sdk.ClientOptions{
		Capabilities:       caps,
		ElicitationHandler: a.handle,
		ElicitationCompleteHandler: func(_ context.Context, req *sdk.ElicitationCompleteNotificationRequest) {
			a.mu.Lock()
			a.completed = append(a.completed, req.Params.ElicitationID)
			a.mu.Unlock()
		},
	})
}

// restResult reads a session's result over REST.
func restResult(t testing.TB, baseURL, key, id string) (int, map[string]any) {
	t.Helper()
	code, env := rest(t, http.MethodGet, baseURL+"/api/feedback/"+id+"/result", key, nil)
	data, _ := env["data"].(map[string]any)
	if code != http.StatusOK {
		data = env
	}
	return code, data
}

// restStatus reads a session's status over REST.
func restStatus(t testing.TB, baseURL, key, id string) map[string]any {
	t.Helper()
	code, env := rest(t, http.MethodGet, baseURL+"/api/feedback/"+id+"/status", key, nil)
	if code != http.StatusOK {
		t.Fatalf("status: %d %v", code, env)
	}
	return env["data"].(map[string]any)
}

func TestMCPElicitationAcceptAnswersWithoutABrowser(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	ctx := context.Background()
	for _, tc := range askingTransports {
		t.Run(tc.name, func(t *testing.T) {
			a := &asker{answer: accept(map[string]any{"selectedOption": "Yes", "freeText": "ship it"})}
			c := connectAsking(t, tc, e.url, newKeyTransport(keyA), a, "form")
			out := structured(t, c.call(t, ctx, "interactive_feedback", map[string]any{
				"message": "Ship v2?", "title": "Release", "predefinedOptions": []string{"Yes", "No"}, "multiSelect": false, "waitSeconds": 20,
			}))
			if out.Status != "completed" || out.Feedback.CombinedFeedback != "Yes\n\nship it" {
				t.Fatalf("answer = %+v", out)
			}
			asked, _, _ := a.snapshot()
			if len(asked) != 1 {
				t.Fatalf("asked %d times", len(asked))
			}
			p := asked[0]
			schema, _ := json.Marshal(p.RequestedSchema)
			if !strings.Contains(p.Message, "Ship v2?") || !strings.Contains(p.Message, "/feedback/"+out.SessionID) ||
				!strings.Contains(string(schema), `"enum":["Yes","No"]`) {
				t.Fatalf("asked %q with %s", p.Message, schema)
			}
			code, res := restResult(t, e.url, keyA, out.SessionID)
			fb, _ := res["feedback"].(map[string]any)
			if code != http.StatusOK || fmt.Sprint(fb["selectedOptions"]) != "[Yes]" || fb["freeText"] != "ship it" {
				t.Fatalf("REST result = %d %v", code, res)
			}
		})
	}
}

func TestMCPElicitationSendsTheFormOneToOneAndApprovals(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	ctx := context.Background()
	fields := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"day":    map[string]any{"type": "string", "format": "date", "title": "Release day"},
			"copies": map[string]any{"type": "integer", "minimum": 1, "maximum": 10},
			"where":  map[string]any{"type": "array", "items": map[string]any{"type": "string", "enum": []string{"eu", "us"}}},
		},
		"required": []string{"day"},
	}
	for _, tc := range askingTransports {
		t.Run(tc.name, func(t *testing.T) {
			a := &asker{}
			a.answer = func(_ context.Context, p *sdk.ElicitParams) (*sdk.ElicitResult, error) {
				if strings.Contains(p.Message, "Approve or deny") {
					return &sdk.ElicitResult{Action: "accept", Content: map[string]any{"decision": "approve"}}, nil
				}
				return &sdk.ElicitResult{Action: "accept", Content: map[string]any{"day": "2026-12-01", "copies": 2, "where": []any{"eu"}}}, nil
			}
			c := connectAsking(t, tc, e.url, newKeyTransport(keyA), a, "form", "url")
			res := c.call(t, ctx, "interactive_feedback", map[string]any{"message": "When?", "fields": fields, "waitSeconds": 20})
			var out struct {
				Status   string `json:"status"`
				Feedback struct {
					Values map[string]any `json:"values"`
				} `json:"feedback"`
			}
			b, _ := json.Marshal(res.StructuredContent)
			_ = json.Unmarshal(b, &out)
			if out.Status != "completed" || out.Feedback.Values["day"] != "2026-12-01" || out.Feedback.Values["copies"] != float64(2) {
				t.Fatalf("answer = %s (%s)", b, text(res))
			}
			asked, _, _ := a.snapshot()
			sent, _ := json.Marshal(asked[0].RequestedSchema)
			var got, want any
			_ = json.Unmarshal(sent, &got)
			wb, _ := json.Marshal(fields)
			_ = json.Unmarshal(wb, &want)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("requestedSchema = %s, want the fields 1:1", sent)
			}
			// An approval is approve or deny, with a reason.
			res = c.call(t, ctx, "request_approval", map[string]any{"tool_name": "Bash", "input": map[string]any{"command": "make"}})
			if text(res) != `{"behavior":"allow","updatedInput":{"command":"make"}}` {
				t.Fatalf("approval = %s", text(res))
			}
		})
	}
}

func TestMCPElicitationDeclineEndsTheSessionDismissLeavesItOpen(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	ctx := context.Background()
	for _, tc := range askingTransports {
		t.Run(tc.name, func(t *testing.T) {
			a := &asker{answer: respond("decline")}
			c := connectAsking(t, tc, e.url, newKeyTransport(keyA), a, "form")
			res := c.call(t, ctx, "interactive_feedback", map[string]any{"message": "Tell me a secret", "waitSeconds": 20})
			out := structured(t, res)
			if out.Status != "cancelled" || !strings.Contains(text(res), "declined") {
				t.Fatalf("declined = %+v %q", out, text(res))
			}
			if st := restStatus(t, e.url, keyA, out.SessionID); st["status"] != "cancelled" || st["cancelReason"] != "declined by the person" {
				t.Fatalf("REST status = %v", st)
			}
			res = c.call(t, ctx, "request_approval", map[string]any{"tool_name": "Bash", "input": map[string]any{"command": "rm -rf /"}})
			if !strings.Contains(text(res), `"behavior":"deny"`) || !strings.Contains(text(res), "declined") {
				t.Fatalf("declined approval = %s", text(res))
			}

			a.answer = respond("cancel")
			res = c.call(t, ctx, "interactive_feedback", map[string]any{"message": "Still there?", "waitSeconds": 20})
			out = structured(t, res)
			if out.Status != "pending" || !strings.Contains(text(res), "dismissed") || !strings.Contains(text(res), "get_feedback_result") {
				t.Fatalf("dismissed = %+v %q", out, text(res))
			}
			// The link is still open, and the answer reaches the agent.
			submit(t, e.url, out.SessionID, map[string]any{"freeText": "yes, on the page"})
			got := structured(t, c.call(t, ctx, "get_feedback_result", map[string]any{"sessionId": out.SessionID, "waitSeconds": 5}))
			if got.Status != "completed" || got.Feedback.FreeText != "yes, on the page" {
				t.Fatalf("after dismiss = %+v", got)
			}
		})
	}
}

// The person answers on the page while the client's form is open: the call
// returns that answer at once and the client is told its form is no longer
// needed. (2026-07-28 clients ask between two calls, so there is nothing
// to withdraw.)
func TestMCPElicitationAnsweredElsewhereWithdrawsTheForm(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	ctx := context.Background()
	for _, tc := range legacyAsking {
		t.Run(tc.name, func(t *testing.T) {
			a := &asker{answer: neverAnswer}
			c := connectAsking(t, tc, e.url, newKeyTransport(keyA), a, "form")
			done := make(chan *sdk.CallToolResult, 1)
			go func() {
				done <- c.call(t, ctx, "interactive_feedback", map[string]any{"message": "Which?", "predefinedOptions": []string{"A", "B"}, "waitSeconds": 30})
			}()
			programtest.WaitFor(t, 5*time.Second, programtest.Until("the form to be shown", func() bool { asked, _, _ := a.snapshot(); return len(asked) == 1 }))
			id := pendingSession(t, e, keyA)
			submit(t, e.url, id, map[string]any{"selectedOptions": []string{"B"}})
			select {
			case res := <-done:
				if out := structured(t, res); out.Status != "completed" || out.Feedback.CombinedFeedback != "B" {
					t.Fatalf("answer = %+v", out)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the call did not return the page's answer")
			}
			programtest.WaitFor(t, 5*time.Second, programtest.Until("the form to be withdrawn", func() bool { _, w, _ := a.snapshot(); return w == 1 }))
		})
	}
}

func TestMCPURLElicitationSendsTheLinkThenComplete(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	ctx := context.Background()
	for _, tc := range askingTransports {
		t.Run(tc.name, func(t *testing.T) {
			a := &asker{answer: respond("accept")}
			c := connectAsking(t, tc, e.url, newKeyTransport(keyA), a, "url")
			done := make(chan *sdk.CallToolResult, 1)
			go func() {
				done <- c.call(t, ctx, "interactive_feedback", map[string]any{"message": "Look at the page", "waitSeconds": 30})
			}()
			programtest.WaitFor(t, 5*time.Second, programtest.Until("the link to be offered", func() bool { asked, _, _ := a.snapshot(); return len(asked) == 1 }))
			asked, _, _ := a.snapshot()
			id := pendingSession(t, e, keyA)
			if p := asked[0]; p.Mode != "url" || p.URL != e.url+"/feedback/"+id || p.ElicitationID != id || p.RequestedSchema != nil {
				t.Fatalf("asked %+v", p)
			}
			submit(t, e.url, id, map[string]any{"freeText": "seen"})
			select {
			case res := <-done:
				if out := structured(t, res); out.Status != "completed" || out.Feedback.FreeText != "seen" {
					t.Fatalf("answer = %+v", out)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the call did not return")
			}
			if tc.protocol == protoModern {
				return // the result itself closes a multi round-trip question
			}
			programtest.WaitFor(t, 5*time.Second, programtest.Until("notifications/elicitation/complete", func() bool {
				_, _, completed := a.snapshot()
				return len(completed) == 1 && completed[0] == id
			}))
		})
	}
}

// Whichever surface answers first wins, and the agent gets that answer,
// never the other.
func TestMCPElicitationRacesThePageExactlyOneWins(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	ctx := context.Background()
	start := make(chan struct{})
	a := &asker{answer: func(context.Context, *sdk.ElicitParams) (*sdk.ElicitResult, error) {
		<-start
		return &sdk.ElicitResult{Action: "accept", Content: map[string]any{"selectedOption": "client"}}, nil
	}}
	c := connectAsking(t, transports[1], e.url, newKeyTransport(keyA), a, "form")
	wins := map[string]int{}
	for i := range 12 {
		done := make(chan *sdk.CallToolResult, 1)
		go func() {
			done <- c.call(t, ctx, "interactive_feedback", map[string]any{"message": fmt.Sprint("Race ", i), "predefinedOptions": []string{"client", "page"}, "multiSelect": false, "waitSeconds": 30})
		}()
		programtest.WaitFor(t, 5*time.Second, programtest.Until("the form", func() bool { asked, _, _ := a.snapshot(); return len(asked) == i+1 }))
		id := pendingSession(t, e, keyA)
		pageErr := make(chan int, 1)
		go func() {
			code, _ := rest(t, http.MethodPost, e.url+"/api/feedback/"+id+"/submit", "", map[string]any{"selectedOptions": []string{"page"}})
			pageErr <- code
		}()
		start <- struct{}{}
		res := <-done
		code := <-pageErr
		out := structured(t, res)
		_, stored := restResult(t, e.url, keyA, id)
		winner := fmt.Sprint(stored["feedback"].(map[string]any)["selectedOptions"])
		if out.Feedback == nil || "["+out.Feedback.CombinedFeedback+"]" != winner {
			t.Fatalf("round %d: the agent got %+v, the record holds %s", i, out.Feedback, winner)
		}
		if (winner == "[page]") != (code == http.StatusOK) {
			t.Fatalf("round %d: the page's submit got %d but %s won", i, code, winner)
		}
		wins[winner]++
	}
	t.Logf("wins: %v", wins)
}

func TestMCPElicitationAnswerReachesTheCallThroughAnotherEdge(t *testing.T) {
	t.Parallel()
	ns := programtest.StartNATS(t)
	x, y := startEdge(t, ns.URL), startEdge(t, ns.URL)
	// Requests alternate between the edges, so the form's answer is posted
	// to the edge that does not hold the call about half the time; three
	// calls make it certain at least once.
	kt := newKeyTransport(keyA, hostOf(x.url), hostOf(y.url))
	a := &asker{answer: accept(map[string]any{"freeText": "through the other edge"})}
	c := connectAsking(t, transports[1], x.url, kt, a, "form")
	for i := range 3 {
		out := structured(t, c.call(t, context.Background(), "interactive_feedback", map[string]any{"message": fmt.Sprint("Relay ", i), "waitSeconds": 20}))
		if out.Status != "completed" || out.Feedback.FreeText != "through the other edge" {
			t.Fatalf("answer = %+v", out)
		}
	}
}

func TestMCPElicitationNotOfferedWhatTheClientCannotShow(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	ctx := context.Background()
	a := &asker{answer: accept(map[string]any{"freeText": "x"})}
	// A 2025-06-18 client has no multiple choice in its forms, and no URL
	// mode: the question stays at the link.
	c := connectAsking(t, transportCase{name: "2025-06-18", protocol: "2025-06-18"}, e.url, newKeyTransport(keyA), a, "form")
	out := structured(t, c.call(t, ctx, "interactive_feedback", map[string]any{"message": "Pick", "predefinedOptions": []string{"a", "b"}, "waitSeconds": 1}))
	if out.Status != "pending" {
		t.Fatalf("out = %+v", out)
	}
	// A question with images needs the page; a form-only client is not
	// asked.
	out = structured(t, c.call(t, ctx, "interactive_feedback", map[string]any{"message": "Look", "images": []map[string]any{{"data": b64(pngBytes(t, 1))}}, "waitSeconds": 1}))
	if out.Status != "pending" {
		t.Fatalf("out = %+v", out)
	}
	if asked, _, _ := a.snapshot(); len(asked) != 0 {
		t.Fatalf("asked %d times", len(asked))
	}
}

// A client that leaves while its form is open leaves no wait, no relay
// subscription for the form's answer and no goroutine behind.
func TestMCPElicitingClientThatLeavesLeavesNothingBehind(t *testing.T) {
	e := newEdge(t)
	for _, tc := range legacyAsking {
		for _, how := range []string{"cancel", "cut"} {
			t.Run(tc.name+"/"+how, func(t *testing.T) {
				before := goleak.IgnoreCurrent()
				kt := newKeyTransport(keyA)
				a := &asker{answer: neverAnswer}
				c := connectAsking(t, tc, e.url, kt, a, "form")
				leaveMidWait(t, e, c, how, before, programtest.Until("the form", func() bool { asked, _, _ := a.snapshot(); return len(asked) == 1 }))
			})
		}
	}
}

// A 2026-07-28 retry names its session in requestState; one that names
// another principal's session, or that this server never issued, is
// refused and changes nothing.
func TestMCPRetryWithAForeignOrForgedRequestStateIsRefused(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	ctx := context.Background()
	foreign := createREST(t, e.url, keyB, map[string]any{"message": "B's"})
	c := connect(t, askingTransports[0], e.url, newKeyTransport(keyA))
	yes := sdk.InputResponseMap{"feedback": &sdk.ElicitResult{Action: "decline"}}
	for state, want := range map[string]string{
		"fbk1.form." + foreign: "SESSION_NOT_FOUND",
		"fbk1.sms." + foreign:  "INVALID_REQUEST",
		"anything":             "INVALID_REQUEST",
	} {
		res, err := c.CallTool(ctx, &sdk.CallToolParams{Name: "interactive_feedback", Arguments: map[string]any{"message": "retry"},
			RequestState: state, InputResponses: yes})
		if err != nil || !res.IsError || !strings.HasPrefix(text(res), want) {
			t.Errorf("requestState %q: %v %q", state, err, text(res))
		}
	}
	if st := restStatus(t, e.url, keyB, foreign); st["status"] != "pending" {
		t.Fatalf("B's session changed: %v", st)
	}
}

// A host that declares MCP Apps and elicitation is asked by the app only:
// the app is the tool's own UI, shown in the conversation while the call
// runs, so a form too would put the same question to the same person twice
// in the same client (docs/mcp.md, "Which client gets which path"). The
// app's answer returns the call; no form is sent, in either protocol era.
func TestMCPAppsHostThatCanElicitIsAskedByTheAppOnly(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	ctx := context.Background()
	for _, tc := range askingTransports {
		t.Run(tc.name, func(t *testing.T) {
			a := &asker{answer: accept(map[string]any{"freeText": "from a form"})}
			host := connectAsking(t, tc, e.url, newKeyTransport(keyA), a, "form", "url", "apps")
			if tools := toolNames(t, host); uiMeta(tools["interactive_feedback"]) == nil || tools["submit_feedback_from_app"] == nil {
				t.Fatalf("the host is not shown the app: %v", tools)
			}
			args := map[string]any{"message": "Ship it from " + tc.name + "?", "waitSeconds": 20}
			done := make(chan *sdk.CallToolResult, 1)
			go func() { done <- host.call(t, ctx, "interactive_feedback", args) }()
			var view appView
			programtest.WaitFor(t, 5*time.Second, func() error {
				res := host.call(t, ctx, "read_feedback_for_app", map[string]any{"arguments": reencoded(t, args), "html": false})
				if res.IsError {
					return errString(text(res))
				}
				view = decodeStructured[appView](t, res)
				return nil
			})
			if res := host.call(t, ctx, "submit_feedback_from_app", map[string]any{"sessionId": view.SessionID, "freeText": "from the app"}); res.IsError {
				t.Fatalf("submit: %s", text(res))
			}
			select {
			case got := <-done:
				if out := structured(t, got); out.Status != "completed" || out.Feedback.FreeText != "from the app" {
					t.Fatalf("the call returned %+v (%s)", out, text(got))
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the call never returned the app's answer")
			}
			// request_approval too: the app, never a form.
			approval := map[string]any{"tool_name": "Bash", "input": map[string]any{"command": "make " + tc.name}, "timeout": 60}
			go func() { done <- host.call(t, ctx, "request_approval", approval) }()
			programtest.WaitFor(t, 5*time.Second, func() error {
				res := host.call(t, ctx, "read_feedback_for_app", map[string]any{"arguments": reencoded(t, approval), "html": false})
				if res.IsError {
					return errString(text(res))
				}
				view = decodeStructured[appView](t, res)
				return nil
			})
			if res := host.call(t, ctx, "submit_feedback_from_app", map[string]any{"sessionId": view.SessionID, "decision": "approve"}); res.IsError {
				t.Fatalf("approve: %s (view %+v)", text(res), view)
			}
			if got := text(<-done); got != `{"behavior":"allow","updatedInput":{"command":"make `+tc.name+`"}}` {
				t.Fatalf("approval = %s", got)
			}
			if asked, _, _ := a.snapshot(); len(asked) != 0 {
				t.Fatalf("an MCP Apps host was also sent %d form(s): %+v", len(asked), asked[0])
			}
		})
	}
}
