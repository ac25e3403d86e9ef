package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/feedbackd/feedbackd/pkg/auth"
	"github.com/feedbackd/feedbackd/sessions"
)

// MCP is served by mcp-go's net/http handlers behind fiber's adaptor, on the
// edge's one address:
//
//	/mcp                  Streamable HTTP (POST, GET, DELETE)
//	/sse                  the older HTTP+SSE transport's stream (GET)
//	/sse/message          its message endpoint (POST ?sessionId=...)
//
// Every request is authenticated like the REST API; the principal, the base
// of feedback links and the transport travel to the tools in the request
// context (requestInfo). Each request gets a context of its own, ended by a
// failed write (see streamWriter) or by Shutdown, because the adaptor's is
// neither.

// Defaults of the MCP settings in Config.
const (
	defaultMCPKeepAlive        = 10 * time.Second
	defaultMCPProgressInterval = 10 * time.Second
	// mcpSessionIdleTTL is how long a replica keeps the state mcp-go holds
	// for a Streamable HTTP session that sends nothing. Dropping it is
	// harmless: ids stay valid and a later request starts afresh.
	mcpSessionIdleTTL = 10 * time.Minute
)

type transportKind int

const (
	transportStreamable transportKind = iota + 1
	transportSSE
	transportSSEMessage
)

// requestInfo is what the tools learn about the request that called them.
type requestInfo struct {
	principal auth.Principal
	baseURL   string
	transport transportKind
	// allowCreate charges a session creation to the caller's create budget,
	// the one REST's create route charges too; createKey names the budget.
	allowCreate func() error
	createKey   string
}

type infoKey struct{}

func infoFrom(ctx context.Context) requestInfo {
	info, _ := ctx.Value(infoKey{}).(requestInfo)
	return info
}

// mcpTransport serves the MCP server over both transports.
type mcpTransport struct {
	srv        *server.MCPServer
	streamable *server.StreamableHTTPServer
	sse        *server.SSEServer
	sseStream  http.Handler
	sseMessage http.Handler
	keepAlive  time.Duration
	log        *slog.Logger

	// ctx is the parent of every MCP request context; Shutdown ends it.
	ctx    context.Context
	cancel context.CancelFunc

	streams sseStreams
	calls   inflightCalls

	// relay reaches the edge holding an SSE stream; nil keeps every stream's
	// messages on the edge that holds it.
	relay Relay
	// allowCreate charges a creation to a budget key (Server.allowCreate).
	allowCreate func(key string) error
}

func newMCPTransport(cfg Config, svc *sessions.Service, log *slog.Logger) *mcpTransport {
	m := &mcpTransport{keepAlive: cfg.MCPKeepAlive, log: log, relay: cfg.Relay}
	m.streams.hold = m.holdStream
	m.ctx, m.cancel = context.WithCancel(context.Background())
	hooks := &server.Hooks{}
	hooks.AddOnRegisterSession(m.streams.register)
	hooks.AddOnUnregisterSession(m.streams.unregister)
	m.srv = newMCPServer(cfg, svc, log, server.WithHooks(hooks), server.WithToolHandlerMiddleware(m.bindToClient))

	// Host-header (DNS rebinding) checks are off: every MCP request must
	// authenticate, and a reverse proxy on the same host legitimately sends
	// its public Host to a loopback listener. Origins are the CORS
	// middleware's business.
	m.streamable = server.NewStreamableHTTPServer(m.srv,
		server.WithSessionIdManagerResolver(sessionIDResolver{}),
		server.WithHeartbeatInterval(cfg.MCPKeepAlive),
		server.WithSessionIdleTTL(mcpSessionIdleTTL),
		server.WithDisableLocalhostProtection(true),
		server.WithStreamableHTTPLogger(log),
	)
	sseOpts := []server.SSEOption{
		server.WithSSEEndpoint("/sse"),
		server.WithMessageEndpoint("/sse/message"),
		server.WithKeepAliveInterval(cfg.MCPKeepAlive),
		server.WithSSEDisableLocalhostProtection(true),
	}
	if cfg.PublicURL != "" {
		sseOpts = append(sseOpts, server.WithBaseURL(cfg.PublicURL))
	}
	m.sse = server.NewSSEServer(m.srv, sseOpts...)
	m.sseStream, m.sseMessage = m.sse.SSEHandler(), m.sse.MessageHandler()
	return m
}

// mcpRoutes mounts both transports behind authentication; a 401 there
// carries the MCP challenge (see unauthorized).
func (s *Server) mcpRoutes() {
	s.app.Post("/mcp", s.requireAuth, s.mcpHandler(transportStreamable))
	s.app.Get("/mcp", s.requireAuth, s.mcpHandler(transportStreamable))
	s.app.Delete("/mcp", s.requireAuth, s.mcpHandler(transportStreamable))
	s.app.All("/mcp", methodNotAllowed("GET, POST, DELETE"))
	s.app.Get("/sse", s.requireAuth, s.mcpHandler(transportSSE))
	s.app.All("/sse", methodNotAllowed("GET"))
	s.app.Post("/sse/message", s.requireAuth, s.mcpHandler(transportSSEMessage))
	s.app.All("/sse/message", methodNotAllowed("POST"))
}

func (s *Server) mcpHandler(kind transportKind) fiber.Handler {
	return func(c *fiber.Ctx) error {
		key := s.createKey(c)
		info := requestInfo{principal: principal(c), baseURL: s.publicURL(c), transport: kind, createKey: key,
			allowCreate: func() error { _, err := s.allowCreate(key); return err }}
		return adaptor.HTTPHandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.mcp.serve(w, r, info)
		})(c)
	}
}

// serve runs one MCP request on a context that ends when the client is
// found gone, when the edge shuts down, or when the request is done.
func (m *mcpTransport) serve(w http.ResponseWriter, r *http.Request, info requestInfo) {
	ctx, cancel := context.WithCancel(context.WithValue(m.ctx, infoKey{}, info))
	defer cancel()
	r, body, err := detach(ctx, r)
	if err != nil {
		http.Error(w, "malformed request", http.StatusBadRequest)
		return
	}
	sw := newStreamWriter(w, cancel)
	defer sw.finish()
	switch info.transport {
	case transportStreamable:
		m.serveStreamable(sw, r, body, info, cancel)
	case transportSSE:
		m.sseStream.ServeHTTP(sw, r)
	case transportSSEMessage:
		sid := r.URL.Query().Get("sessionId")
		st, ok := m.streams.get(sid)
		if !ok && m.relay != nil {
			m.forward(sw, r, body, info, sid)
			return
		}
		// A stream's messages come from its owner only.
		if ok && st.principal.ID != info.principal.ID {
			writeJSONRPCError(sw, http.StatusBadRequest, mcp.INVALID_PARAMS, "Invalid session ID")
			return
		}
		m.sseMessage.ServeHTTP(sw, r)
	}
}

func (m *mcpTransport) serveStreamable(sw *streamWriter, r *http.Request, body []byte, info requestInfo, cancel context.CancelFunc) {
	session := r.Header.Get(server.HeaderKeySessionID)
	if session != "" && !(boundSessionIDs{principal: info.principal.ID}).valid(session) {
		http.Error(sw, "Invalid session ID", http.StatusNotFound)
		return
	}
	if r.Method == http.MethodPost {
		var msg struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
		}
		if json.Unmarshal(body, &msg) == nil {
			switch {
			case msg.Method == string(mcp.MethodNotificationCancelled):
				var p struct {
					RequestID json.RawMessage `json:"requestId"`
				}
				_ = json.Unmarshal(msg.Params, &p)
				m.calls.cancel(callKey(info.principal.ID, session, p.RequestID))
				sw.WriteHeader(http.StatusAccepted)
				return
			case msg.Method != "" && len(msg.ID) > 0 && string(msg.ID) != "null":
				defer m.calls.track(callKey(info.principal.ID, session, msg.ID), cancel)()
				if acceptsEventStream(r) {
					sw.keepAlive(m.keepAlive)
				}
			}
		}
	}
	m.streamable.ServeHTTP(sw, r)
}

// bindToClient is tool middleware: a call posted to the SSE transport runs
// on a context detached from its short POST, so it is tied to the stream
// it answers on instead. Streamable HTTP calls already run on their
// request's context.
func (m *mcpTransport) bindToClient(next server.ToolHandlerFunc) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		info := infoFrom(ctx)
		if info.principal.ID == "" {
			return mcp.NewToolResultError(string(sessions.CodeUnauthorized) + ": no authenticated principal"), nil
		}
		if info.transport == transportSSEMessage {
			cs := server.ClientSessionFromContext(ctx)
			if cs == nil {
				return mcp.NewToolResultError("the SSE stream of this session has closed; reconnect"), nil
			}
			st, ok := m.streams.get(cs.SessionID())
			if !ok {
				return mcp.NewToolResultError("the SSE stream of this session has closed; reconnect"), nil
			}
			var cancel context.CancelFunc
			ctx, cancel = context.WithCancel(ctx)
			defer cancel()
			defer context.AfterFunc(st.ctx, cancel)()
		}
		return next(ctx, req)
	}
}

// close ends every MCP request and stream, so that the HTTP server can
// drain.
func (m *mcpTransport) close(ctx context.Context) error {
	m.cancel()
	m.sse.CloseSessions()
	if err := m.streamable.Shutdown(ctx); err != nil {
		return fmt.Errorf("close MCP sessions: %w", err)
	}
	return nil
}

// detach copies what mcp-go reads from r out of fasthttp's buffers, which
// are reused as soon as the fasthttp handler returns; with a stream, it
// returns long before the net/http handler does.
func detach(ctx context.Context, r *http.Request) (*http.Request, []byte, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("read body: %w", err)
	}
	h := make(http.Header, len(r.Header))
	for k, vs := range r.Header {
		k = strings.Clone(k)
		for _, v := range vs {
			h[k] = append(h[k], strings.Clone(v))
		}
	}
	uri := strings.Clone(r.RequestURI)
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return nil, nil, fmt.Errorf("parse request URI: %w", err)
	}
	out := &http.Request{
		Method:        strings.Clone(r.Method),
		URL:           u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Host:          strings.Clone(r.Host),
		RemoteAddr:    strings.Clone(r.RemoteAddr),
		RequestURI:    uri,
	}
	return out.WithContext(ctx), body, nil
}

func acceptsEventStream(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		if strings.Contains(v, "text/event-stream") {
			return true
		}
	}
	return false
}

// writeJSONRPCError answers like mcp-go does when a request cannot be
// matched to a session.
func writeJSONRPCError(w http.ResponseWriter, status, code int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(mcp.JSONRPCError{
		JSONRPC: mcp.JSONRPC_VERSION,
		Error:   mcp.NewJSONRPCErrorDetails(code, message, nil),
	})
}
