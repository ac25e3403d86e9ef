package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// mcpStat counts one transport's calls.
type mcpStat struct {
	mu        sync.Mutex
	completed int // calls that returned a result
	retried   int // calls that had to be sent again after a dropped connection
	gaveUp    int // calls that never completed
	lastErr   string
}

func (s *mcpStat) add(completed, retried, gaveUp int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.completed += completed
	s.retried += retried
	s.gaveUp += gaveUp
	if err != nil {
		s.lastErr = err.Error()
	}
}

type headerTransport struct {
	key  string
	base http.RoundTripper
}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-API-Key", h.key)
	return h.base.RoundTrip(r)
}

// mcpWorker keeps calling tools over one transport until ctx ends,
// reconnecting when a replica dies under it. It returns the sessions its
// interactive_feedback calls created, so they are verified too.
func mcpWorker(ctx context.Context, o options, transport string, st *mcpStat, log *slog.Logger) []string {
	hc := &http.Client{Transport: headerTransport{key: o.key, base: http.DefaultTransport}}
	var ids []string
	var sess *mcp.ClientSession
	stopStream := func() {}
	connect := func() error {
		if sess != nil {
			_ = sess.Close()
			sess = nil
		}
		stopStream()
		var t mcp.Transport
		if transport == "sse" {
			t = &mcp.SSEClientTransport{Endpoint: o.url + "/sse", HTTPClient: hc}
		} else {
			t = &mcp.StreamableClientTransport{Endpoint: o.url + "/mcp", HTTPClient: hc, MaxRetries: -1}
		}
		// The SDK keeps the SSE stream on Connect's context, so that context
		// must outlive Connect; only a connect that hangs is cut short.
		sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		connected := make(chan struct{})
		timer := time.AfterFunc(10*time.Second, func() {
			select {
			case <-connected:
			default:
				cancel()
			}
		})
		c := mcp.NewClient(&mcp.Implementation{Name: "feedbackd-chaos", Version: "1"}, nil)
		s, err := c.Connect(sctx, t, nil)
		close(connected)
		timer.Stop()
		if err != nil {
			cancel()
			return err
		}
		sess, stopStream = s, cancel
		return nil
	}
	// call sends one tool call, reconnecting and resending after failures.
	call := func(name string, args map[string]any) (*mcp.CallToolResult, error) {
		var lastErr error
		for attempt := range 20 {
			// Once the load is over, a call still failing gets a few more
			// tries, as an agent's would, but the run does not wait on it
			// for long.
			if ctx.Err() != nil && attempt >= 5 {
				break
			}
			if sess == nil {
				if err := connect(); err != nil {
					lastErr = err
					time.Sleep(300 * time.Millisecond)
					continue
				}
			}
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
			res, err := sess.CallTool(cctx, &mcp.CallToolParams{Name: name, Arguments: args})
			cancel()
			if err == nil && res.IsError && strings.Contains(toolText(res), "SERVICE_UNAVAILABLE") {
				// The tool says to try again shortly, as an agent would.
				lastErr = fmt.Errorf("%s: %s", name, toolText(res))
				time.Sleep(500 * time.Millisecond)
				continue
			}
			if err == nil {
				st.add(1, min(attempt, 1), 0, nil)
				return res, nil
			}
			lastErr = err
			_ = sess.Close()
			sess = nil
			time.Sleep(300 * time.Millisecond)
		}
		st.add(0, 0, 1, lastErr)
		log.Warn("MCP call gave up", "transport", transport, "tool", name, "err", lastErr)
		return nil, lastErr
	}
	for i := 0; ctx.Err() == nil; i++ {
		res, err := call("interactive_feedback", map[string]any{
			"message": fmt.Sprintf("chaos MCP question %s %d", transport, i), "timeout": o.timeout, "waitSeconds": 0,
		})
		if err != nil {
			continue
		}
		id := sessionIDOf(res)
		if id == "" {
			st.add(0, 0, 1, fmt.Errorf("interactive_feedback returned no sessionId (isError=%v): %s", res.IsError, toolText(res)))
			continue
		}
		ids = append(ids, id)
		_, _ = call("check_feedback_status", map[string]any{"sessionId": id})
		time.Sleep(500 * time.Millisecond)
	}
	if sess != nil {
		_ = sess.Close()
	}
	stopStream()
	return ids
}

func toolText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if t, ok := c.(*mcp.TextContent); ok {
			b.WriteString(t.Text)
		}
	}
	return b.String()
}

func sessionIDOf(res *mcp.CallToolResult) string {
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		return ""
	}
	var v struct {
		SessionID string `json:"sessionId"`
	}
	_ = json.Unmarshal(b, &v)
	return v.SessionID
}
