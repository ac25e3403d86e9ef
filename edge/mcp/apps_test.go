package mcp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
)

// MCP Apps: the extension, its resource and the app-only tools, as a host
// that declares the extension sees them, and as any other client does not.

const (
	appsExtension = "io.modelcontextprotocol/ui"
	appURI        = "ui://feedbackd/question"
	appMIME       = "text/html;profile=mcp-app"
)

var appOnlyTools = []string{"read_feedback_for_app", "read_feedback_image_for_app", "submit_feedback_from_app"}

// modelTools are the tools every client lists, sorted.
var modelTools = []string{"cancel_feedback", "check_feedback_status", "get_feedback_result", "interactive_feedback", "list_feedback", "request_approval"}

// connectHost is connect for a client that declares the MCP Apps extension.
func connectHost(t testing.TB, tc transportCase, baseURL string, kt *keyTransport) *client {
	t.Helper()
	caps := &sdk.ClientCapabilities{}
	caps.AddExtension(appsExtension, map[string]any{"mimeTypes": []string{appMIME}})
	return connectWith(t, tc, baseURL, kt, caps)
}

// connectWith is connect with the client's capabilities.
func connectWith(t testing.TB, tc transportCase, baseURL string, kt *keyTransport, caps *sdk.ClientCapabilities) *client {
	t.Helper()
	return connectOpts(t, tc, baseURL, kt, &sdk.ClientOptions{Capabilities: caps})
}

func toolNames(t testing.TB, c *client) map[string]*sdk.Tool {
	t.Helper()
	res, err := c.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*sdk.Tool{}
	for _, tool := range res.Tools {
		out[tool.Name] = tool
	}
	return out
}

func uiMeta(tool *sdk.Tool) map[string]any {
	ui, _ := tool.Meta["ui"].(map[string]any)
	return ui
}

// A host that declares the extension is told the server has it, finds the
// app on the two tools that ask, the app-only tools marked for the app
// only, and the app's resource; a client that does not declare it sees none
// of that, and cannot call the app-only tools.
func TestMCPAppsAreShownOnlyToHostsThatDeclareThem(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	for _, tc := range transports {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			plain := connect(t, tc, e.url, newKeyTransport(keyA))
			if ext := plain.InitializeResult().Capabilities.Extensions; ext[appsExtension] != nil {
				t.Errorf("a client without the extension is told of it: %v", ext)
			}
			tools := toolNames(t, plain)
			if len(tools) != len(modelTools) {
				t.Errorf("a client without the extension lists %d tools, want the %d the model sees", len(tools), len(modelTools))
			}
			for name, tool := range tools {
				if tool.Meta != nil {
					t.Errorf("%s has _meta %v for a client without the extension", name, tool.Meta)
				}
			}
			if res, err := plain.ListResources(ctx, nil); err != nil || slices.ContainsFunc(res.Resources, func(r *sdk.Resource) bool { return r.URI == appURI }) {
				t.Errorf("a client without the extension lists the app: %v %v", res, err)
			}
			for _, name := range appOnlyTools {
				if res, err := plain.CallTool(ctx, &sdk.CallToolParams{Name: name, Arguments: map[string]any{"sessionId": "x"}}); err == nil && !res.IsError {
					t.Errorf("a client without the extension called %s", name)
				}
			}

			host := connectHost(t, tc, e.url, newKeyTransport(keyA))
			ext := host.InitializeResult().Capabilities.Extensions
			if settings, _ := ext[appsExtension].(map[string]any); settings == nil {
				t.Errorf("the host is not told of the extension: %v", ext)
			}
			tools = toolNames(t, host)
			for _, name := range []string{"interactive_feedback", "request_approval"} {
				ui := uiMeta(tools[name])
				if ui["resourceUri"] != appURI || tools[name].Meta["ui/resourceUri"] != appURI || ui["visibility"] != nil {
					t.Errorf("%s _meta = %v", name, tools[name].Meta)
				}
			}
			if len(tools) != len(modelTools)+len(appOnlyTools) {
				t.Errorf("the host lists %d tools, want %d for the model and %d for the app", len(tools), len(modelTools), len(appOnlyTools))
			}
			for _, name := range []string{"get_feedback_result", "check_feedback_status", "cancel_feedback", "list_feedback"} {
				if tools[name] == nil || tools[name].Meta != nil {
					t.Errorf("%s = %+v", name, tools[name])
				}
			}
			for _, name := range appOnlyTools {
				ui := uiMeta(tools[name])
				vis, _ := ui["visibility"].([]any)
				if tools[name] == nil || len(vis) != 1 || vis[0] != "app" || ui["resourceUri"] != appURI {
					t.Errorf("%s _meta = %v", name, tools[name])
				}
			}
			res, err := host.ListResources(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(res.Resources, func(r *sdk.Resource) bool { return r.URI == appURI })
			if i < 0 || res.Resources[i].MIMEType != appMIME {
				t.Fatalf("resources = %v", res.Resources)
			}
			read, err := host.ReadResource(ctx, &sdk.ReadResourceParams{URI: appURI})
			if err != nil {
				t.Fatal(err)
			}
			if len(read.Contents) != 1 || read.Contents[0].MIMEType != appMIME || !strings.HasPrefix(read.Contents[0].Text, "<!DOCTYPE html>") ||
				!strings.Contains(read.Contents[0].Text, "ui/initialize") {
				t.Fatalf("app resource: %+v", read.Contents)
			}
		})
	}
}

// appRead calls read_feedback_for_app and decodes its structuredContent.
type appView struct {
	SessionID   string `json:"sessionId"`
	Status      string `json:"status"`
	FeedbackURL string `json:"feedbackUrl"`
	HTML        string `json:"html"`
	Answer      *struct {
		CombinedFeedback string `json:"combinedFeedback"`
	} `json:"answer"`
}

type appErr struct {
	Error struct{ Code, Field string }
}

// appError is the error an app-only tool's result carries in its _meta.
func appError(t testing.TB, res *sdk.CallToolResult) appErr {
	t.Helper()
	var out appErr
	b, _ := json.Marshal(res.Meta["feedbackd/error"])
	if err := json.Unmarshal(b, &out.Error); err != nil {
		t.Fatalf("_meta %s: %v", b, err)
	}
	if res.StructuredContent != nil {
		t.Errorf("an error with structuredContent %v", res.StructuredContent)
	}
	return out
}

func decodeStructured[T any](t testing.TB, res *sdk.CallToolResult) T {
	t.Helper()
	var out T
	b, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("structuredContent %s: %v", b, err)
	}
	return out
}

// reencoded is what a JavaScript host hands the app, and the app sends
// back: the same arguments with keys in another order, numbers spelt
// differently, and each image's data replaced by its length.
func reencoded(t testing.TB, args map[string]any) map[string]any {
	t.Helper()
	b, _ := json.Marshal(args)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if imgs, ok := out["images"].([]any); ok {
		for _, img := range imgs {
			m := img.(map[string]any)
			m["data"] = len(m["data"].(string))
		}
	}
	return out
}

// The person answers inside the app while the agent's call waits: the app
// finds the call's session from the arguments the host gave it (re-encoded
// as JavaScript does), renders its question as the page does, and its
// submit answers the waiting call, on two edges, whichever edge each request
// lands on.
func TestMCPAppAnswersTheWaitingCall(t *testing.T) {
	t.Parallel()
	ns := programtest.StartNATS(t)
	a, b := startEdge(t, ns.URL), startEdge(t, ns.URL)
	for _, tc := range transports[:2] {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			host := connectHost(t, tc, a.url, newKeyTransport(keyA, hostOf(a.url), hostOf(b.url)))
			// The host lists tools once, on whichever replica.
			for range 2 {
				if tools := toolNames(t, host); uiMeta(tools["interactive_feedback"]) == nil || tools["submit_feedback_from_app"] == nil {
					t.Fatalf("the host lost the app between replicas: %v", tools)
				}
			}
			args := map[string]any{
				"message": "Ship **v2** to " + tc.name + "?", "title": "Release", "predefinedOptions": []string{"Ship", "Wait"},
				"multiSelect": false, "timeout": 300.0, "waitSeconds": 30,
				"images": []map[string]any{{"data": b64(pngBytes(t, 7)), "mimeType": "image/png", "name": "plan.png"}},
			}
			done := make(chan *sdk.CallToolResult, 1)
			go func() { done <- host.call(t, ctx, "interactive_feedback", args) }()

			var view appView
			programtest.WaitFor(t, 5*time.Second, func() error {
				res := host.call(t, ctx, "read_feedback_for_app", map[string]any{"arguments": reencoded(t, args), "lang": "zh-CN"})
				if res.IsError {
					return errString(text(res))
				}
				view = decodeStructured[appView](t, res)
				return nil
			})
			if view.Status != "pending" || !strings.Contains(view.HTML, `id="answer-form"`) || !strings.Contains(view.HTML, "<strong>v2</strong>") ||
				!strings.Contains(view.HTML, `type="radio"`) || !strings.Contains(view.HTML, `data-image-id="`) || !strings.Contains(view.HTML, `"lang":"zh"`) ||
				view.FeedbackURL != a.url+"/feedback/"+view.SessionID && view.FeedbackURL != b.url+"/feedback/"+view.SessionID {
				t.Fatalf("view = %+v", view)
			}
			// The agent's image, for the app to show.
			img := strings.SplitN(strings.SplitN(view.HTML, `data-image-id="`, 2)[1], `"`, 2)[0]
			res := host.call(t, ctx, "read_feedback_image_for_app", map[string]any{"sessionId": view.SessionID, "imageId": img})
			if ic, ok := res.Content[0].(*sdk.ImageContent); res.IsError || !ok || ic.MIMEType != "image/png" || string(ic.Data) != string(pngBytes(t, 7)) {
				t.Fatalf("image: %v", res.Content)
			}

			res = host.call(t, ctx, "submit_feedback_from_app", map[string]any{"sessionId": view.SessionID, "selectedOptions": []string{"Ship"}, "freeText": "Go"})
			if res.IsError {
				t.Fatalf("submit: %s", text(res))
			}
			select {
			case got := <-done:
				if out := structured(t, got); out.Status != "completed" || out.SessionID != view.SessionID || out.Feedback.CombinedFeedback != "Ship\n\nGo" {
					t.Fatalf("the waiting call returned %+v", out)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the waiting call never returned the app's answer")
			}
			// The app sees the answer, and a second submit loses.
			view = decodeStructured[appView](t, host.call(t, ctx, "read_feedback_for_app", map[string]any{"sessionId": view.SessionID, "html": false}))
			if view.Status != "completed" || view.HTML != "" || view.Answer == nil || view.Answer.CombinedFeedback != "Ship\n\nGo" {
				t.Fatalf("after the answer: %+v", view)
			}
			res = host.call(t, ctx, "submit_feedback_from_app", map[string]any{"sessionId": view.SessionID, "selectedOptions": []string{"Wait"}})
			if e := appError(t, res); !res.IsError || e.Error.Code != "ALREADY_SUBMITTED" {
				t.Fatalf("second submit: %v %s", res.IsError, text(res))
			}
		})
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// request_approval's app: approving in it answers the permission prompt.
func TestMCPAppAnswersAnApproval(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	ctx := context.Background()
	host := connectHost(t, transports[2], e.url, newKeyTransport(keyA))
	args := map[string]any{"tool_name": "Bash", "input": map[string]any{"command": "make test", "timeout": 60000}, "tool_use_id": "toolu_1"}
	done := make(chan *sdk.CallToolResult, 1)
	go func() { done <- host.call(t, ctx, "request_approval", args) }()
	var view appView
	programtest.WaitFor(t, 5*time.Second, func() error {
		res := host.call(t, ctx, "read_feedback_for_app", map[string]any{"arguments": reencoded(t, args)})
		if res.IsError {
			return errString(text(res))
		}
		view = decodeStructured[appView](t, res)
		return nil
	})
	if !strings.Contains(view.HTML, `id="approve"`) || !strings.Contains(view.HTML, "make test") {
		t.Fatalf("approval view: %s", view.HTML)
	}
	res := host.call(t, ctx, "submit_feedback_from_app", map[string]any{"sessionId": view.SessionID, "decision": "deny", "reason": "Not now"})
	if res.IsError {
		t.Fatal(text(res))
	}
	select {
	case got := <-done:
		if want := `{"behavior":"deny","message":"Not now"}`; text(got) != want {
			t.Fatalf("request_approval = %s, want %s", text(got), want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("request_approval never returned")
	}
}

// The app acts for the principal it is connected as: another principal's
// sessions are unknown to it, by id, by arguments and by image, and it can
// neither answer them nor learn they exist.
func TestMCPAppToolsServeOnlyTheCallersSessions(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	ctx := context.Background()
	alice := connectHost(t, transports[0], e.url, newKeyTransport(keyA))
	bob := connectHost(t, transports[0], e.url, newKeyTransport(keyB))
	args := map[string]any{"message": "Whose?", "waitSeconds": 0, "images": []map[string]any{{"data": b64(pngBytes(t, 3)), "mimeType": "image/png"}}}
	id := structured(t, alice.call(t, ctx, "interactive_feedback", args)).SessionID
	view := decodeStructured[appView](t, alice.call(t, ctx, "read_feedback_for_app", map[string]any{"arguments": reencoded(t, args)}))
	if view.SessionID != id {
		t.Fatalf("alice's app found %q, want %q", view.SessionID, id)
	}
	img := strings.SplitN(strings.SplitN(view.HTML, `data-image-id="`, 2)[1], `"`, 2)[0]
	for name, a := range map[string]map[string]any{
		"read_feedback_for_app":       {"sessionId": id},
		"read_feedback_for_app/args":  {"arguments": reencoded(t, args)},
		"read_feedback_image_for_app": {"sessionId": id, "imageId": img},
		"submit_feedback_from_app":    {"sessionId": id, "freeText": "mine now"},
	} {
		res := bob.call(t, ctx, strings.TrimSuffix(name, "/args"), a)
		if e := appError(t, res); !res.IsError || e.Error.Code != "SESSION_NOT_FOUND" {
			t.Errorf("bob's %s: %v %s", name, res.IsError, text(res))
		}
	}
	if code, env := rest(t, http.MethodGet, e.url+"/api/feedback/"+id+"/status", keyA, nil); code != http.StatusOK || env["data"].(map[string]any)["status"] != "pending" {
		t.Fatalf("after bob: %d %v", code, env)
	}
}

// Bad input to the app-only tools is a clear tool error naming what is
// wrong, the same the page would get, and changes nothing.
func TestMCPAppToolsRefuseBadInput(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	ctx := context.Background()
	host := connectHost(t, transports[0], e.url, newKeyTransport(keyA))
	form := map[string]any{"type": "object", "properties": map[string]any{"copies": map[string]any{"type": "integer", "minimum": 1, "maximum": 10}}, "required": []string{"copies"}}
	id := structured(t, host.call(t, ctx, "interactive_feedback", map[string]any{"message": "How many?", "fields": form, "waitSeconds": 0})).SessionID
	cases := []struct {
		tool  string
		args  map[string]any
		code  string
		field string
	}{
		{"submit_feedback_from_app", map[string]any{"sessionId": id, "values": map[string]any{"copies": 11}}, "INVALID_REQUEST", "values.copies"},
		{"submit_feedback_from_app", map[string]any{"sessionId": id, "values": map[string]any{"copies": "three"}}, "INVALID_REQUEST", "values.copies"},
		{"submit_feedback_from_app", map[string]any{"sessionId": id, "selectedOptions": []string{"x"}}, "INVALID_REQUEST", "values"},
		{"submit_feedback_from_app", map[string]any{"sessionId": id, "decision": "approve"}, "INVALID_REQUEST", "decision"},
		{"submit_feedback_from_app", map[string]any{"sessionId": 7}, "INVALID_REQUEST", "sessionId"},
		{"submit_feedback_from_app", map[string]any{"sessionId": id, "freeText": strings.Repeat("x", 1001), "values": map[string]any{"copies": 2}}, "INVALID_REQUEST", "freeText"},
		{"submit_feedback_from_app", map[string]any{"sessionId": "not-an-id"}, "INVALID_REQUEST", "sessionId"},
		{"submit_feedback_from_app", map[string]any{"sessionId": id, "values": map[string]any{"copies": 2},
			"images": []map[string]any{{"data": b64([]byte("<svg onload=alert(1)>")), "mimeType": "image/png"}}}, "INVALID_REQUEST", "images[0]"},
		{"read_feedback_for_app", map[string]any{}, "INVALID_REQUEST", "sessionId"},
		{"read_feedback_for_app", map[string]any{"sessionId": id, "arguments": map[string]any{"message": "x"}}, "INVALID_REQUEST", "sessionId"},
		{"read_feedback_for_app", map[string]any{"sessionId": id, "waitSeconds": 51}, "INVALID_REQUEST", "waitSeconds"},
		{"read_feedback_for_app", map[string]any{"sessionId": id, "waitSeconds": -1}, "INVALID_REQUEST", "waitSeconds"},
		{"read_feedback_for_app", map[string]any{"sessionId": id, "lang": strings.Repeat("x", 65)}, "INVALID_REQUEST", "lang"},
		{"read_feedback_for_app", map[string]any{"arguments": map[string]any{"message": "never asked"}}, "SESSION_NOT_FOUND", ""},
		{"read_feedback_image_for_app", map[string]any{"sessionId": id, "imageId": "nope"}, "SESSION_NOT_FOUND", ""},
	}
	for _, c := range cases {
		res := host.call(t, ctx, c.tool, c.args)
		got := appError(t, res)
		if !res.IsError || got.Error.Code != c.code || got.Error.Field != c.field {
			t.Errorf("%s %v: isError %v, error %+v (%s), want %s %q", c.tool, c.args, res.IsError, got.Error, text(res), c.code, c.field)
		}
	}
	if code, env := rest(t, http.MethodGet, e.url+"/api/feedback/"+id+"/status", keyA, nil); code != http.StatusOK || env["data"].(map[string]any)["status"] != "pending" {
		t.Fatalf("after the refusals: %d %v", code, env)
	}
	// The good answer still goes through.
	if res := host.call(t, ctx, "submit_feedback_from_app", map[string]any{"sessionId": id, "values": map[string]any{"copies": 2}}); res.IsError {
		t.Fatal(text(res))
	}
}

// The app follows a session it shows by waiting on the server, which the
// change feed wakes: an answer given at the link reaches it at once, with the
// answer for its owner to read.
func TestMCPAppWaitEndsWhenTheQuestionIsAnsweredElsewhere(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	ctx := context.Background()
	host := connectHost(t, transports[1], e.url, newKeyTransport(keyA))
	id := structured(t, host.call(t, ctx, "interactive_feedback", map[string]any{"message": "Where?", "waitSeconds": 0})).SessionID
	done := make(chan *sdk.CallToolResult, 1)
	go func() {
		done <- host.call(t, ctx, "read_feedback_for_app", map[string]any{"sessionId": id, "waitSeconds": 30, "html": false})
	}()
	programtest.WaitFor(t, 5*time.Second, programtest.Until("the app's wait", func() bool { return e.hub.Subscribers() >= 1 }))
	submit(t, e.url, id, map[string]any{"freeText": "At the link"})
	select {
	case res := <-done:
		v := decodeStructured[appView](t, res)
		if v.Status != "completed" || v.Answer == nil || v.Answer.CombinedFeedback != "At the link" {
			t.Fatalf("the app's wait returned %+v", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the app's wait never returned")
	}
}
