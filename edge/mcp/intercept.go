package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/feedbackd/feedbackd/sessions"
)

// The JSON-RPC messages feedbackd answers itself, before mcp-go sees them,
// because mcp-go would answer them from the memory of one replica:
//
//   - a client's answer to a request feedbackd sent it (outbound.go);
//   - Tasks (tasks.go): a task-augmented call of interactive_feedback or
//     request_approval, and tasks/get, tasks/result, tasks/cancel,
//     tasks/list. mcp-go keeps a task table in memory; here a task is its
//     session, readable from any replica and across restarts;
//   - resources/subscribe and resources/unsubscribe, which must check that
//     the session is the caller's (resources.go), and resources/read of a
//     session, so that an unknown one is "resource not found".
//
// This applies to requests before 2026-07-28 on both transports. A
// 2026-07-28 request is left to mcp-go, except that a task-augmented call
// is run as a plain call: that revision's Tasks are an extension feedbackd
// does not declare.

// rpcMessage is what the transport layer reads of a JSON-RPC message.
type rpcMessage struct {
	ID     json.RawMessage `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  json.RawMessage `json:"error,omitempty"`
}

// isRequest reports whether msg expects a response.
func (msg rpcMessage) isRequest() bool {
	id := bytes.TrimSpace(msg.ID)
	return msg.Method != "" && len(id) > 0 && string(id) != "null"
}

// rpcReply is a handler of a request feedbackd answers itself: it returns
// the JSON-RPC response to send.
type rpcReply func(ctx context.Context) any

// rpcResult is a JSON-RPC success response.
func rpcResult(id json.RawMessage, result any) any {
	return map[string]any{"jsonrpc": mcpgo.JSONRPC_VERSION, "id": id, "result": result}
}

// rpcFailure is a JSON-RPC error response.
func rpcFailure(id json.RawMessage, code int, message string, data any) any {
	e := map[string]any{"code": code, "message": message}
	if data != nil {
		e["data"] = data
	}
	return map[string]any{"jsonrpc": mcpgo.JSONRPC_VERSION, "id": id, "error": e}
}

// isModern reports whether a Streamable HTTP message uses the 2026-07-28
// protocol, judged as mcp-go judges it: by the header or by _meta.
func isModern(r *http.Request, msg rpcMessage) bool {
	if mcpgo.IsModernProtocol(r.Header.Get(mcpgo.HeaderProtocolVersion)) {
		return true
	}
	var p struct {
		Meta *mcpgo.Meta `json:"_meta"`
	}
	return json.Unmarshal(msg.Params, &p) == nil && mcpgo.IsModernProtocol(p.Meta.ProtocolVersion())
}

// stripTask removes params.task from a tools/call, so that the call runs
// plainly.
func stripTask(body []byte, msg rpcMessage) []byte {
	if msg.Method != string(mcpgo.MethodToolsCall) || !bytes.Contains(msg.Params, []byte(`"task"`)) {
		return body
	}
	var env, params map[string]json.RawMessage
	if json.Unmarshal(body, &env) != nil || json.Unmarshal(env["params"], &params) != nil {
		return body
	}
	if _, ok := params["task"]; !ok {
		return body
	}
	delete(params, "task")
	p, err1 := json.Marshal(params)
	env["params"] = p
	b, err2 := json.Marshal(env)
	if err1 != nil || err2 != nil {
		return body
	}
	return b
}

// own returns how feedbackd answers msg itself, or nil to leave it to
// mcp-go. info is the request's, with its MCP session.
func (m *Server) own(info requestInfo, msg rpcMessage) rpcReply {
	if !msg.isRequest() {
		return nil
	}
	t := m.tools
	switch mcpgo.MCPMethod(msg.Method) {
	case mcpgo.MethodToolsCall:
		var p struct {
			Name string          `json:"name"`
			Task json.RawMessage `json:"task"`
		}
		if json.Unmarshal(msg.Params, &p) != nil || len(p.Task) == 0 || string(p.Task) == "null" {
			return nil
		}
		if p.Name != toolInteractiveFeedback && p.Name != toolRequestApproval {
			// The other tools declare no task support, so a task may not
			// name them.
			return func(context.Context) any {
				return rpcFailure(msg.ID, mcpgo.METHOD_NOT_FOUND, "the tool "+strconv.Quote(p.Name)+" cannot run as a task", nil)
			}
		}
		return func(ctx context.Context) any { return t.createTask(ctx, msg.ID, msg.Params) }
	case mcpgo.MethodTasksGet, mcpgo.MethodTasksResult, mcpgo.MethodTasksCancel, mcpgo.MethodTasksList:
		return func(ctx context.Context) any {
			return t.taskMethod(ctx, mcpgo.MCPMethod(msg.Method), msg.ID, msg.Params)
		}
	case mcpgo.MethodResourcesSubscribe, mcpgo.MethodResourcesUnsubscribe:
		return func(ctx context.Context) any {
			return m.subscription(ctx, mcpgo.MCPMethod(msg.Method), msg.ID, msg.Params)
		}
	case mcpgo.MethodResourcesRead:
		var p struct {
			URI string `json:"uri"`
		}
		if json.Unmarshal(msg.Params, &p) != nil || !strings.HasPrefix(p.URI, sessionURIPrefix) {
			return nil
		}
		return func(ctx context.Context) any { return t.readResource(ctx, msg.ID, p.URI) }
	}
	return nil
}

// answerStreamable answers a Streamable HTTP message feedbackd handles
// itself, and reports whether it did. r's context carries info;
// serveStreamable has already made a request cancellable, counted it as
// owed (drain.go) and started the keep-alives.
func (m *Server) answerStreamable(sw *streamWriter, r *http.Request, info requestInfo, msg rpcMessage) bool {
	if id, ok := isOutboundID(msg.ID); ok && msg.Method == "" {
		body, _ := json.Marshal(msg)
		m.out.route(r.Context(), info.principal.ID, id, body)
		sw.WriteHeader(http.StatusAccepted)
		return true
	}
	reply := m.own(info, msg)
	if reply == nil {
		return false
	}
	if info.mcpSession == "" {
		// As mcp-go answers a request outside a session.
		http.Error(sw, "Invalid session ID", http.StatusNotFound)
		return true
	}
	b, err := json.Marshal(reply(r.Context()))
	if err != nil || r.Context().Err() != nil {
		return true
	}
	sw.Header().Set("Content-Type", "application/json")
	sw.WriteHeader(http.StatusOK)
	_, _ = sw.Write(b)
	return true
}

// onStream prepares a message posted for the SSE stream sid, held here:
// it gives the request a way to the client, and answers what feedbackd
// handles itself on the stream. It returns nil when the message was
// taken, else the request to hand to mcp-go. body is the message and msg
// its decoding (nil if it is not one JSON-RPC message).
func (m *Server) onStream(r *http.Request, body []byte, msg *rpcMessage, info requestInfo, sid string, st sseStream) *http.Request {
	info.mcpSession = sid
	info.link = &clientLink{principal: info.principal.ID, send: func(v any) error { return m.sse.SendEventToSession(sid, v) }}
	// The stream's session, which holds what the client declared, for
	// the requests answered here (requestFeatures).
	ctx := context.WithValue(m.srv.WithContext(r.Context(), st.session), infoKey{}, info)
	if msg == nil {
		return r.WithContext(ctx)
	}
	if id, ok := isOutboundID(msg.ID); ok && msg.Method == "" {
		m.out.route(ctx, info.principal.ID, id, body)
		return nil
	}
	r = r.WithContext(ctx)
	if isModern(r, *msg) {
		if b := stripTask(body, *msg); len(b) != len(body) {
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		return r
	}
	if reply := m.own(info, *msg); reply != nil {
		m.answerOnStream(st, info, sid, reply)
		return nil
	}
	return r
}

// answerOnStream runs reply for the SSE stream sid and sends its response
// on the stream, as mcp-go answers the stream's requests. The work ends
// with the stream.
func (m *Server) answerOnStream(st sseStream, info requestInfo, sid string, reply rpcReply) {
	m.bgMu.Lock()
	defer m.bgMu.Unlock()
	if m.closed {
		return
	}
	m.bg.Go(func() {
		ctx := context.WithValue(m.srv.WithContext(st.ctx, st.session), infoKey{}, info)
		resp := reply(ctx)
		if ctx.Err() != nil {
			return
		}
		if err := m.sse.SendEventToSession(sid, resp); err != nil {
			m.log.Debug("an answer for an SSE stream that has gone", "session", sid, "err", err)
		}
	})
}

// declareCapabilities adds to the handshake what feedbackd serves beyond
// what mcp-go declares from its configuration: Tasks (list, cancel,
// tools/call) to clients of 2025-11-25 and later, which is when Tasks
// entered the protocol. 2026-07-28 made Tasks an extension, which is not
// declared.
func (m *Server) declareCapabilities(hooks *server.Hooks) {
	hooks.AddAfterInitialize(func(_ context.Context, _ any, _ *mcpgo.InitializeRequest, res *mcpgo.InitializeResult) {
		if res != nil && res.ProtocolVersion >= tasksSince && !mcpgo.IsModernProtocol(res.ProtocolVersion) {
			res.Capabilities.Tasks = mcpgo.NewTasksCapability()
		}
	})
}

// rpcFailureOf is the JSON-RPC error for a domain error.
func rpcFailureOf(id json.RawMessage, err error) any {
	code := mcpgo.INTERNAL_ERROR
	switch sessions.ErrorCode(err) {
	case sessions.CodeInvalidRequest, sessions.CodeNotFound:
		code = mcpgo.INVALID_PARAMS
	}
	msg := "internal error"
	var e *sessions.Error
	if errors.As(err, &e) {
		msg = string(e.Code) + ": " + e.Message
	}
	return rpcFailure(id, code, msg, nil)
}
