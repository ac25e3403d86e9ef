package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// mcpScenario calls the MCP tools (docs/mcp.md) through the official Go SDK client,
// one MCP session per worker, over Streamable HTTP (/mcp) or, with sse, the
// HTTP+SSE transport (/sse). The answer is submitted over REST, as a person
// on the page would.
type mcpScenario struct {
	c   *client
	sse bool
}

func (s *mcpScenario) newWorker(ctx context.Context, rec *recorder) (worker, func(), error) {
	var t mcp.Transport
	if s.sse {
		t = &mcp.SSEClientTransport{Endpoint: s.c.url("/sse"), HTTPClient: s.c.authed}
	} else {
		t = &mcp.StreamableClientTransport{
			Endpoint:   s.c.url("/mcp"),
			HTTPClient: s.c.authed,
			// Tool calls answer on their own POST; the standalone stream
			// would only add one idle connection per worker.
			DisableStandaloneSSE: true,
			MaxRetries:           -1,
		}
	}
	cl := mcp.NewClient(&mcp.Implementation{Name: "feedbackd-bench", Version: "1"}, nil)
	// The SSE transport's stream lives on the context given to Connect, so
	// that context must outlive the connect (and the run's deadline, so that
	// iterations in flight at the end can finish): it ends when the worker
	// closes, or when connecting takes longer than the timeout.
	sessCtx, endSession := context.WithCancel(context.WithoutCancel(ctx))
	var cs *mcp.ClientSession
	err := rec.time("mcp-connect", func() error {
		tooSlow := time.AfterFunc(s.c.timeout, endSession)
		defer tooSlow.Stop()
		var err error
		cs, err = cl.Connect(sessCtx, t, nil)
		return s.c.scrub(err)
	})
	if err != nil {
		endSession()
		return nil, nil, err
	}
	return func(ctx context.Context, rec *recorder, n int64) error {
			return s.iterate(ctx, rec, cs, n)
		}, func() {
			_ = cs.Close()
			endSession()
		}, nil
}

func (s *mcpScenario) iterate(ctx context.Context, rec *recorder, cs *mcp.ClientSession, n int64) error {
	var id string
	if err := rec.time("interactive_feedback", func() error {
		res, err := s.tool(ctx, cs, "interactive_feedback", map[string]any{
			"message":           fmt.Sprintf("feedbackd-bench question %d: ship it?", n),
			"predefinedOptions": []string{"yes", "no"},
			"waitSeconds":       0,
		})
		if err != nil {
			return err
		}
		if id = sessionIDOf(res); id == "" {
			return errors.New("no sessionId in the result")
		}
		return nil
	}); err != nil {
		return err
	}
	if err := s.c.submit(ctx, rec, id); err != nil {
		return err
	}
	if err := rec.time("get_feedback_result", func() error {
		_, err := s.tool(ctx, cs, "get_feedback_result", map[string]any{"sessionId": id, "waitSeconds": 0})
		return err
	}); err != nil {
		return err
	}
	return rec.time("check_feedback_status", func() error {
		res, err := s.tool(ctx, cs, "check_feedback_status", map[string]any{"sessionId": id})
		if err != nil {
			return err
		}
		if st := fieldOf(res, "status"); st != "" && st != "completed" {
			return fmt.Errorf("status %q after submit", st)
		}
		return nil
	})
}

// tool calls name and turns an isError result into an error.
func (s *mcpScenario) tool(ctx context.Context, cs *mcp.ClientSession, name string, args map[string]any) (*mcp.CallToolResult, error) {
	ctx, cancel := context.WithTimeout(ctx, s.c.timeout)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		return nil, s.c.scrub(err)
	}
	if res.IsError {
		return nil, fmt.Errorf("tool error: %.80s", textOf(res))
	}
	return res, nil
}

// fieldOf reads a string field of the structured content.
func fieldOf(res *mcp.CallToolResult, field string) string {
	if res.StructuredContent == nil {
		return ""
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		return ""
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return ""
	}
	v, _ := m[field].(string)
	return v
}

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// sessionIDOf is the structured sessionId, or the first UUID in the text.
func sessionIDOf(res *mcp.CallToolResult) string {
	if id := fieldOf(res, "sessionId"); id != "" {
		return id
	}
	return uuidRE.FindString(textOf(res))
}

func textOf(res *mcp.CallToolResult) string {
	for _, c := range res.Content {
		if t, ok := c.(*mcp.TextContent); ok {
			return t.Text
		}
	}
	return ""
}
