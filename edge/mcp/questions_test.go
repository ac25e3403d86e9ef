package mcp_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
)

// pngBytes is a small PNG whose pixels depend on seed, so two differ.
func pngBytes(t testing.TB, seed uint8) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 4, 3))
	for i := range img.Pix {
		img.Pix[i] = seed + uint8(i)
	}
	img.Set(0, 0, color.NRGBA{R: seed, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// asking runs interactive_feedback in the background and returns the
// session it created once it waits, and a channel with its result.
func asking(t *testing.T, e *testEdge, c *client, tool string, args map[string]any) (string, <-chan *sdk.CallToolResult) {
	t.Helper()
	done := make(chan *sdk.CallToolResult, 1)
	go func() {
		res, err := c.CallTool(context.Background(), &sdk.CallToolParams{Name: tool, Arguments: args})
		if err != nil {
			t.Errorf("call %s: %v", tool, err)
		}
		done <- res
	}()
	id := pendingSession(t, e, keyA)
	programtest.WaitFor(t, 5*time.Second, programtest.Until("the call to wait", func() bool { return e.hub.Subscribers() >= 1 }))
	return id, done
}

func result(t *testing.T, done <-chan *sdk.CallToolResult) *sdk.CallToolResult {
	t.Helper()
	select {
	case res := <-done:
		if res == nil {
			t.FailNow()
		}
		return res
	case <-time.After(15 * time.Second):
		t.Fatal("the call did not return")
	}
	return nil
}

// The agent asks with a title, a form, a single choice and a screenshot;
// the person answers with values and an image; the agent sees the image as
// image content and finds its reference, with a URL that serves the same
// bytes, in structuredContent.
func TestMCPRicherQuestionAndImagesComeBackAsContent(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	c := connect(t, transports[0], e.url, newKeyTransport(keyA))

	shot, answerImg := pngBytes(t, 10), pngBytes(t, 200)
	form := map[string]any{"type": "object", "properties": map[string]any{
		"day":    map[string]any{"type": "string", "format": "date", "title": "Release day"},
		"copies": map[string]any{"type": "integer", "minimum": 1, "maximum": 10},
	}, "required": []string{"day"}}
	id, done := asking(t, e, c, "interactive_feedback", map[string]any{
		"message": "When?", "title": "Release date", "fields": form,
		"images":   []map[string]any{{"data": b64(shot), "mimeType": "image/png", "name": "plan.png"}},
		"metadata": map[string]any{"ticket": "OPS-7"}, "waitSeconds": 30,
	})
	submit(t, e.url, id, map[string]any{
		"values": map[string]any{"day": "2026-03-01", "copies": 3},
		"images": []map[string]any{{"data": b64(answerImg), "mimeType": "image/png", "name": "mine.png"}},
	})
	res := result(t, done)
	if res.IsError {
		t.Fatalf("tool failed: %s", text(res))
	}
	var images []*sdk.ImageContent
	for _, cont := range res.Content {
		if ic, ok := cont.(*sdk.ImageContent); ok {
			images = append(images, ic)
		}
	}
	if len(images) != 1 || images[0].MIMEType != "image/png" || !bytes.Equal(images[0].Data, answerImg) {
		t.Fatalf("image content %+v, want the person's PNG", images)
	}
	// The Go client writes map keys sorted: that is the form's order.
	if got := text(res); !strings.Contains(got, "copies: 3\nRelease day: 2026-03-01\n\n[1 image attached]") {
		t.Errorf("text %q", got)
	}
	b, _ := json.Marshal(res.StructuredContent)
	var out struct {
		Question struct {
			Kind, Title string
			Fields      map[string]any
			Images      []struct{ Name, URL string }
			Metadata    map[string]any
		}
		Feedback struct {
			Values map[string]any
			Images []struct {
				ID, Name, MimeType, SHA256, URL string
				Size                            int
			}
		}
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.Question.Kind != "question" || out.Question.Title != "Release date" || out.Question.Fields == nil ||
		len(out.Question.Images) != 1 || out.Question.Images[0].Name != "plan.png" || out.Question.Metadata["ticket"] != "OPS-7" {
		t.Errorf("question %s", b)
	}
	if out.Feedback.Values["day"] != "2026-03-01" || out.Feedback.Values["copies"] != float64(3) || len(out.Feedback.Images) != 1 {
		t.Fatalf("feedback %s", b)
	}
	ref := out.Feedback.Images[0]
	if ref.Name != "mine.png" || ref.MimeType != "image/png" || ref.Size != len(answerImg) ||
		ref.URL != e.url+"/api/feedback/"+id+"/images/"+ref.ID {
		t.Errorf("image reference %+v", ref)
	}
	for key, want := range map[string]int{keyA: 200, keyB: 404, "": 401} {
		req, _ := http.NewRequest(http.MethodGet, ref.URL, nil)
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || want == 200 && !bytes.Equal(body, answerImg) {
			t.Errorf("GET the image with %q: %d (%d bytes), want %d", key, resp.StatusCode, len(body), want)
		}
	}
}

// The input schema tells an agent how to ask for a date, with an example.
func TestMCPInteractiveFeedbackSchemaTeachesTheForm(t *testing.T) {
	t.Parallel()
	e := newEdge(t)
	c := connect(t, transports[0], e.url, newKeyTransport(keyA))
	res, err := c.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range res.Tools {
		if tool.Name != "interactive_feedback" {
			continue
		}
		var in struct {
			Properties map[string]struct {
				Type        string
				Description string
			}
		}
		b, _ := json.Marshal(tool.InputSchema)
		if err := json.Unmarshal(b, &in); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"message", "title", "predefinedOptions", "multiSelect", "fields", "images", "timeout", "metadata", "waitSeconds"} {
			if _, ok := in.Properties[p]; !ok {
				t.Errorf("no %s in %s", p, b)
			}
		}
		d := in.Properties["fields"].Description
		for _, want := range []string{`"format":"date"`, "date-time", "enum", "oneOf", "minimum", "boolean", "Example"} {
			if !strings.Contains(d, want) {
				t.Errorf("fields description lacks %q: %s", want, d)
			}
		}
		return
	}
	t.Fatal("no interactive_feedback")
}

// request_approval answers exactly as Claude Code's permission prompt tool
// protocol wants: one text content holding the decision's JSON.
func TestMCPRequestApprovalAnswersAsAPermissionPromptTool(t *testing.T) {
	t.Parallel()
	e := newEdge(t, programtest.ShortTimeouts())
	c := connect(t, transports[0], e.url, newKeyTransport(keyA))
	input := map[string]any{"command": "rm -rf build", "description": "Clean the build"}
	inputJSON, _ := json.Marshal(input)

	only := func(t *testing.T, res *sdk.CallToolResult) string {
		t.Helper()
		if res.IsError || len(res.Content) != 1 || res.StructuredContent != nil {
			t.Fatalf("want one text content, got %+v", res)
		}
		tc, ok := res.Content[0].(*sdk.TextContent)
		if !ok {
			t.Fatalf("content %T, want text", res.Content[0])
		}
		return tc.Text
	}
	for _, tc := range []struct {
		name   string
		answer map[string]any // nil: nobody answers
		want   string
	}{
		{"allow", map[string]any{"decision": "approve"}, `{"behavior":"allow","updatedInput":` + string(inputJSON) + `}`},
		{"deny with a reason", map[string]any{"decision": "deny", "reason": "Not the build <dir> & not now"}, `{"behavior":"deny","message":"Not the build <dir> & not now"}`},
		{"deny", map[string]any{"decision": "deny"}, `{"behavior":"deny","message":"The person reviewing this request denied it."}`},
		{"timeout", nil, `{"behavior":"deny","message":"Nobody answered the approval request within 2 seconds, so the action was not approved."}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := map[string]any{"tool_name": "Bash", "input": input, "tool_use_id": "toolu_01"}
			if tc.answer == nil {
				args["timeout"] = 2
			}
			id, done := asking(t, e, c, "request_approval", args)
			code, env := rest(t, http.MethodGet, e.url+"/api/feedback/"+id+"/status", keyA, nil)
			q, _ := env["data"].(map[string]any)["question"].(map[string]any)
			if code != 200 || q["kind"] != "approval" || q["action"] != "Bash" || fmt.Sprint(q["details"]) != fmt.Sprint(input) ||
				fmt.Sprint(q["metadata"]) != "map[tool_name:Bash tool_use_id:toolu_01]" {
				t.Fatalf("the approval session: %d %v", code, env)
			}
			if tc.answer != nil {
				submit(t, e.url, id, tc.answer)
			}
			if got := only(t, result(t, done)); got != tc.want {
				t.Fatalf("text %s\nwant %s", got, tc.want)
			}
			programtest.WaitFor(t, 5*time.Second, programtest.Until("the call to stop waiting", func() bool { return e.hub.Subscribers() == 0 }))
		})
	}

	// An input larger than an approval's details may be is shown in part,
	// never refused, and allowed whole.
	t.Run("large input", func(t *testing.T) {
		big := map[string]any{"content": strings.Repeat("línea\n", 8000)}
		bigJSON, _ := json.Marshal(big)
		id, done := asking(t, e, c, "request_approval", map[string]any{"tool_name": "Write", "input": big})
		_, env := rest(t, http.MethodGet, e.url+"/api/feedback/"+id+"/status", keyA, nil)
		q, _ := env["data"].(map[string]any)["question"].(map[string]any)
		details, _ := q["details"].(map[string]any)
		if details["truncated"] != true || !strings.Contains(fmt.Sprint(q["message"]), "first part") {
			t.Fatalf("details %v, message %v", details, q["message"])
		}
		submit(t, e.url, id, map[string]any{"decision": "approve"})
		if got := only(t, result(t, done)); got != `{"behavior":"allow","updatedInput":`+string(bigJSON)+`}` {
			t.Fatalf("allow of a large input: %.200s", got)
		}
	})

	// A caller that gives up withdraws its question: the page must not ask
	// for a decision nobody will act on.
	t.Run("caller leaves", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			_, _ = c.CallTool(ctx, &sdk.CallToolParams{Name: "request_approval", Arguments: map[string]any{"tool_name": "Bash", "input": input}})
		}()
		id := pendingSession(t, e, keyA)
		programtest.WaitFor(t, 5*time.Second, programtest.Until("the call to wait", func() bool { return e.hub.Subscribers() >= 1 }))
		cancel()
		programtest.WaitFor(t, 10*time.Second, func() error {
			_, env := rest(t, http.MethodGet, e.url+"/api/feedback/"+id+"/status", keyA, nil)
			if st := env["data"].(map[string]any)["status"]; st != "cancelled" {
				return fmt.Errorf("status %v, want cancelled", st)
			}
			return nil
		})
	})

	// Wrong arguments are tool errors, as for every tool.
	for _, args := range []map[string]any{{"input": input}, {"tool_name": "Bash"}, {"tool_name": "Bash", "input": "rm"}} {
		if res := c.call(t, context.Background(), "request_approval", args); !res.IsError || !strings.HasPrefix(text(res), "INVALID_REQUEST") {
			t.Errorf("%v: %+v", args, res)
		}
	}
}
