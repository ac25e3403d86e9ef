package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"
)

// Shutting down without losing an answer (docs/api.md, "Shutdown"): every
// waiting tool call is told to stop waiting (httpbridge.Drain) and answers
// with the session's state, which names the session and says how to keep
// waiting; only once those answers are written are the streams closed. A
// Streamable HTTP call answers on its own POST, so it is owed until its
// handler returns; an SSE call answers on the stream, so it is owed until
// the stream has written a response (answers).

// answerGrace bounds how long Shutdown waits for owed answers before it
// closes the streams anyway.
const answerGrace = 3 * time.Second

// answeredBeforeClose is how long the streams stay open after the last
// owed answer was written, when there were any.
const answeredBeforeClose = 200 * time.Millisecond

// answers counts the responses an SSE stream owes: one per request posted
// for it (a message with a method and an id), one less per response the
// stream writes.
type answers struct{ owed atomic.Int64 }

func (a *answers) owe()  { a.owed.Add(1) }
func (a *answers) paid() { a.owed.Add(-1) }

// wrote notes a write on the stream: an SSE message event carrying a
// JSON-RPC response (an id and no method) pays one answer.
func (a *answers) wrote(p []byte) {
	rest, ok := bytes.CutPrefix(p, []byte("event: message\ndata: "))
	if !ok {
		return
	}
	var msg struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
	}
	if json.Unmarshal(bytes.TrimSpace(rest), &msg) != nil || msg.Method != "" || len(msg.ID) == 0 || string(msg.ID) == "null" {
		return
	}
	a.paid()
}

// parseRPC decodes body as one JSON-RPC message, or returns nil if it is
// not one (a batch, or not JSON).
func parseRPC(body []byte) *rpcMessage {
	var msg rpcMessage
	if json.Unmarshal(body, &msg) != nil {
		return nil
	}
	return &msg
}

type answersKey struct{}

// unanswered is how many answers are owed now: Streamable HTTP requests in
// flight and responses the SSE streams of this edge owe.
func (m *Server) unanswered() int64 {
	n := m.posts.Load()
	m.streams.mu.Lock()
	for _, st := range m.streams.m {
		if st.answers != nil {
			n += max(st.answers.owed.Load(), 0)
		}
	}
	m.streams.mu.Unlock()
	return n
}

// Shutdown ends every wait, lets each waiting call answer (for up to 3 s,
// or until ctx ends), then closes every request and stream (Close).
func (m *Server) Shutdown(ctx context.Context) error {
	m.bridge.Drain()
	grace, cancel := context.WithTimeout(ctx, answerGrace)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	owed := m.unanswered() > 0
	for m.unanswered() > 0 {
		select {
		case <-grace.Done():
			m.log.Warn("closing MCP streams with answers still owed", "owed", m.unanswered())
			return m.Close(ctx)
		case <-tick.C:
		}
	}
	if owed {
		// An answer written on one connection and the end of the
		// client's stream on another reach the client in no set order; a
		// client that gives its session up when a stream ends (the Go
		// SDK with reconnection off) must have read its answer first.
		t := time.NewTimer(answeredBeforeClose)
		select {
		case <-t.C:
		case <-grace.Done():
			t.Stop()
		}
	}
	if err := m.Close(ctx); err != nil {
		return fmt.Errorf("close MCP: %w", err)
	}
	return nil
}
