package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	mcpgo "github.com/mark3labs/mcp-go/mcp"

	"github.com/feedbackd/feedbackd/pkg/auth"
	"github.com/feedbackd/feedbackd/pkg/relay"
)

// Relay carries the messages of an MCP SSE stream to the replica that holds
// the stream, so /sse/message needs no sticky sessions: any edge takes the
// POST and, if the stream lives elsewhere, forwards it (pkg/relay does this
// over NATS).
type Relay interface {
	// Handle serves messages for key until stop is called.
	Handle(key string, h relay.Handler) (stop func(), err error)
	// Send delivers a message to key's holder; relay.ErrNoHolder when none.
	Send(ctx context.Context, key string, req []byte) ([]byte, error)
}

// RelaySubjectPrefix starts the NATS subjects SSE messages are relayed on:
// RelaySubjectPrefix + "." + the stream's session id.
const RelaySubjectPrefix = "feedbackd.mcpgo.sse"

// relayTimeout bounds one forwarded message. The holder only queues the
// message (the answer travels on the stream), so this is generous.
const relayTimeout = 10 * time.Second

// relayedMessage is a POST to /sse/message, as one edge forwards it to the
// edge holding the stream. The sender has authenticated the request.
type relayedMessage struct {
	Principal auth.Principal `json:"principal"`
	BaseURL   string         `json:"baseUrl"`
	CreateKey string         `json:"createKey"`
	Query     string         `json:"query"`
	Body      []byte         `json:"body"`
}

// relayedReply is the HTTP answer the holder gave.
type relayedReply struct {
	Status      int    `json:"status"`
	ContentType string `json:"contentType,omitempty"`
	Body        []byte `json:"body,omitempty"`
}

// holdStream makes the edge reachable for the messages of a stream it has
// just opened; the returned stop is called when the stream ends.
func (m *Server) holdStream(sessionID string) func() {
	if m.relay == nil {
		return func() {}
	}
	stop, err := m.relay.Handle(sessionID, func(_ context.Context, req []byte) []byte {
		return m.serveRelayed(sessionID, req)
	})
	if err != nil {
		m.log.Warn("SSE stream reachable from this edge only", "err", err)
		return func() {}
	}
	return stop
}

// serveRelayed runs a forwarded message through the local SSE message
// handler, as if it had been posted here.
func (m *Server) serveRelayed(sessionID string, req []byte) []byte {
	var msg relayedMessage
	rec := &replyRecorder{header: http.Header{}}
	st, ok := m.streams.get(sessionID)
	switch {
	case json.Unmarshal(req, &msg) != nil:
		writeJSONRPCError(rec, http.StatusBadRequest, mcpgo.PARSE_ERROR, "malformed relayed message")
	case !ok || st.principal.ID != msg.Principal.ID:
		// A stream's messages come from its owner only.
		writeJSONRPCError(rec, http.StatusBadRequest, mcpgo.INVALID_PARAMS, "Invalid session ID")
	default:
		info := requestInfo{principal: msg.Principal, baseURL: msg.BaseURL, transport: SSEMessage, createKey: msg.CreateKey,
			allowCreate: m.budget(msg.CreateKey), out: m.out}
		ctx := context.WithValue(m.bridge.Context(), infoKey{}, info)
		r, err := http.NewRequestWithContext(ctx, http.MethodPost, "/sse/message?"+msg.Query, bytes.NewReader(msg.Body))
		if err != nil {
			writeJSONRPCError(rec, http.StatusBadRequest, mcpgo.INVALID_REQUEST, "malformed relayed message")
			break
		}
		r.Header.Set("Content-Type", "application/json")
		rpc := parseRPC(msg.Body)
		owed := st.answers != nil && rpc != nil && rpc.isRequest()
		if owed {
			st.answers.owe()
		}
		if r = m.onStream(r, msg.Body, rpc, info, sessionID, st); r == nil {
			rec.WriteHeader(http.StatusAccepted)
			break
		}
		m.sseMessage.ServeHTTP(rec, r)
		if owed && rec.status != http.StatusAccepted {
			st.answers.paid()
		}
	}
	out, _ := json.Marshal(relayedReply{Status: rec.status, ContentType: rec.header.Get("Content-Type"), Body: rec.body.Bytes()})
	return out
}

// forward sends a message for a stream this edge does not hold to the edge
// that does, and writes that edge's answer.
func (m *Server) forward(w http.ResponseWriter, r *http.Request, body []byte, info requestInfo, sessionID string) {
	req, _ := json.Marshal(relayedMessage{
		Principal: info.principal, BaseURL: info.baseURL, CreateKey: info.createKey,
		Query: r.URL.RawQuery, Body: body,
	})
	ctx, cancel := context.WithTimeout(r.Context(), relayTimeout)
	defer cancel()
	out, err := m.relay.Send(ctx, sessionID, req)
	if errors.Is(err, relay.ErrNoHolder) {
		writeJSONRPCError(w, http.StatusBadRequest, mcpgo.INVALID_PARAMS, "Invalid session ID")
		return
	}
	var reply relayedReply
	if err == nil {
		err = json.Unmarshal(out, &reply)
	}
	if err != nil {
		m.log.Warn("forwarding an SSE message failed", "err", err)
		writeJSONRPCError(w, http.StatusServiceUnavailable, mcpgo.INTERNAL_ERROR, "the edge holding this stream did not answer; retry")
		return
	}
	if reply.ContentType != "" {
		w.Header().Set("Content-Type", reply.ContentType)
	}
	w.WriteHeader(reply.Status)
	_, _ = w.Write(reply.Body)
}

// replyRecorder keeps what a handler writes, to send it back over the relay.
type replyRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *replyRecorder) Header() http.Header { return r.header }

func (r *replyRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *replyRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
