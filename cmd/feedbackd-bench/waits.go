package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/feedbackd/feedbackd/pkg/stats"
)

// waiterSettle is how long a waiter is given to be waiting before the
// answer is submitted. A pause, not a condition: the waiter's request is in
// flight and nothing outside the server can tell when it has subscribed;
// 20 ms is a hundred times what that takes on an idle server.
const waiterSettle = 20 * time.Millisecond

// waiter is one kind of client waiting for an answer: start begins the
// wait for session id and returns a channel that delivers when the answer
// has reached the client (or the wait failed).
type waiter struct {
	name  string
	start func(ctx context.Context, id string) (<-chan error, error)
}

// runWaits measures, for each kind of waiter, the time from the start of
// the submit that answers a session to the moment the waiting client holds
// the answer: a REST long poll, an MCP get_feedback_result call, a
// WebSocket on /ws/{id}.
func (m *measurer) runWaits(ctx context.Context, fd *child) error {
	fmt.Fprintf(m.out, "\n### waits (submit → the waiting client has the answer, %d answers each, one at a time)\n", m.o.waitIterations)
	hc := newHTTPClient(4)
	defer hc.CloseIdleConnections()

	cs, closeMCP, err := connectMCP(ctx, fd)
	if err != nil {
		return fmt.Errorf("waits: %w", err)
	}
	defer closeMCP()

	waiters := []waiter{
		{name: "long-poll", start: func(ctx context.Context, id string) (<-chan error, error) {
			done := make(chan error, 1)
			go func() {
				b, err := doRequest(ctx, hc, fd, request{method: "GET", path: "/api/feedback/" + id + "/result?wait=30", auth: true, want: http.StatusOK})
				if err == nil && !bytes.Contains(b, []byte("answered by feedbackd-bench")) {
					err = fmt.Errorf("long poll answered without the answer: %.200s", b)
				}
				done <- err
			}()
			return done, nil
		}},
		{name: "MCP wait", start: func(ctx context.Context, id string) (<-chan error, error) {
			done := make(chan error, 1)
			go func() {
				res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "get_feedback_result", Arguments: map[string]any{"sessionId": id, "waitSeconds": 30}})
				if err == nil && (res.IsError || !bytes.Contains(mustJSON(res), []byte("answered by feedbackd-bench"))) {
					err = fmt.Errorf("MCP wait ended without the answer: %.200s", mustJSON(res))
				}
				done <- err
			}()
			return done, nil
		}},
		{name: "WebSocket push", start: func(ctx context.Context, id string) (<-chan error, error) {
			c, err := dialWS(ctx, fd, id)
			if err != nil {
				return nil, err
			}
			done := make(chan error, 1)
			go func() {
				defer c.Close()
				done <- readUntil(ctx, c, "session_status_changed")
			}()
			return done, nil
		}},
	}
	for _, w := range waiters {
		var lat, submits []time.Duration
		var failures int
		var firstErr error
		load0 := loadAvg()
		for i := range m.o.waitIterations {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			d, sd, err := m.oneWait(ctx, hc, fd, w, int64(i))
			if err != nil {
				failures++
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			lat = append(lat, d)
			submits = append(submits, sd)
		}
		slices.Sort(lat)
		slices.Sort(submits)
		load1 := loadAvg()
		fmt.Fprintf(m.out, "%-15s %4d ok %3d failed  p50 %6.2f  p90 %6.2f  p99 %6.2f  max %6.2f ms  (the submit alone: p50 %.2f ms)  load %.2f→%.2f\n",
			w.name, len(lat), failures, ms(stats.Percentile(lat, .5)), ms(stats.Percentile(lat, .9)), ms(stats.Percentile(lat, .99)),
			ms(stats.Percentile(lat, 1)), ms(stats.Percentile(submits, .5)), load0, load1)
		if firstErr != nil {
			fmt.Fprintf(m.out, "                first error: %v\n", firstErr)
		}
		m.row(fmt.Sprintf("submit → waiting %s has the answer, p50 / p99", w.name),
			fmt.Sprintf("%.2f / %.2f ms", ms(stats.Percentile(lat, .5)), ms(stats.Percentile(lat, .99))), "—",
			fmt.Sprintf("load %.2f→%.2f", load0, load1))
	}
	return nil
}

// oneWait creates a session, starts the waiter, submits the answer and
// returns the time from the submit's start to the waiter's answer, and the
// submit's own latency.
func (m *measurer) oneWait(ctx context.Context, hc *http.Client, fd *child, w waiter, i int64) (time.Duration, time.Duration, error) {
	id, err := createOne(ctx, hc, fd, i, 3600)
	if err != nil {
		return 0, 0, err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	done, err := w.start(wctx, id)
	if err != nil {
		return 0, 0, err
	}
	time.Sleep(waiterSettle)
	select {
	case err := <-done:
		return 0, 0, fmt.Errorf("%s ended before the answer: %v", w.name, err)
	default:
	}
	t0 := time.Now()
	if _, err := doRequest(ctx, hc, fd, submitRequest(id)); err != nil {
		return 0, 0, err
	}
	submitted := time.Since(t0)
	if err := <-done; err != nil {
		return 0, 0, err
	}
	return time.Since(t0), submitted, nil
}

// connectMCP opens one MCP session over Streamable HTTP with the official
// Go SDK.
func connectMCP(ctx context.Context, fd *child) (*mcp.ClientSession, func(), error) {
	hc := &http.Client{Transport: &withKey{key: fd.key, next: http.DefaultTransport}}
	t := &mcp.StreamableClientTransport{Endpoint: fd.url + "/mcp", HTTPClient: hc, DisableStandaloneSSE: true, MaxRetries: -1}
	cl := mcp.NewClient(&mcp.Implementation{Name: "feedbackd-bench", Version: "1"}, nil)
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	cctx, ccancel := context.WithTimeout(sctx, 30*time.Second)
	defer ccancel()
	cs, err := cl.Connect(cctx, t, nil)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("MCP connect: %w", err)
	}
	return cs, func() { _ = cs.Close(); cancel() }, nil
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// dialWS opens /ws/{id} on fd as an app and waits for
// connection_established.
func dialWS(ctx context.Context, fd *child, id string) (*websocket.Conn, error) {
	u := "ws" + fd.url[len("http"):] + "/ws/" + id + "?clientType=app&apiKey=" + url.QueryEscape(fd.key)
	d := &websocket.Dialer{HandshakeTimeout: 30 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 1024}
	c, _, err := d.DialContext(ctx, u, nil)
	if err != nil {
		return nil, fmt.Errorf("WebSocket dial: %w", scrubKey(err, fd.key))
	}
	if err := readUntil(ctx, c, "connection_established"); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// readUntil reads messages from c until one of type typ arrives.
func readUntil(ctx context.Context, c *websocket.Conn, typ string) error {
	stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Now()) })
	defer stop()
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", typ, err)
		}
		var msg struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(b, &msg) == nil && msg.Type == typ {
			return nil
		}
	}
}

// scrubKey removes the API key from an error that quotes a URL.
func scrubKey(err error, key string) error {
	if err == nil || key == "" || !bytes.Contains([]byte(err.Error()), []byte(key)) {
		return err
	}
	return errors.New(string(bytes.ReplaceAll([]byte(err.Error()), []byte(key), []byte("REDACTED"))))
}
