package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/feedbackd/feedbackd/pkg/auth"
	"github.com/feedbackd/feedbackd/pkg/envelope"
	"github.com/feedbackd/feedbackd/pkg/httpbridge"
	"github.com/feedbackd/feedbackd/sessions"
)

// MCP is served by mcp-go's net/http handlers, mounted by the edge on its
// one address through pkg/httpbridge:
//
//	/mcp                  Streamable HTTP (POST, GET, DELETE)
//	/sse                  the older HTTP+SSE transport's stream (GET)
//	/sse/message          its message endpoint (POST ?sessionId=...)
//
// The edge authenticates every request first, as it does the REST API, and
// hands over a Caller; the principal, the base of feedback links and the
// transport travel to the tools in the request context (requestInfo). The
// bridge ends a request's context when a write to the client fails or the
// server shuts down; streamWriter makes sure a write happens while a tool
// waits.

// Defaults of the settings in Config.
const (
	DefaultKeepAlive        = 10 * time.Second
	DefaultProgressInterval = 10 * time.Second
	// sessionIdleTTL is how long a replica keeps the state mcp-go holds
	// for a Streamable HTTP session that sends nothing. Dropping it is
	// harmless: ids stay valid and a later request starts afresh.
	sessionIdleTTL = 10 * time.Minute
)

// Config is what the MCP server needs to know.
type Config struct {
	// Version is reported in the handshake.
	Version string
	// PublicURL, when set, is the base of the SSE transport's endpoint
	// event; otherwise the client resolves it against the stream's URL.
	PublicURL string
	// Wait is how long interactive_feedback and get_feedback_result wait
	// for an answer when the call gives no waitSeconds; zero returns at once.
	Wait time.Duration
	// KeepAlive is how often an idle stream gets a keep-alive (and so how
	// soon a departed client is noticed); default DefaultKeepAlive.
	KeepAlive time.Duration
	// ProgressInterval is how often a waiting tool call sends progress
	// notifications to a client that asked for them; default
	// DefaultProgressInterval.
	ProgressInterval time.Duration
	// Relay forwards SSE messages to the edge holding their stream; nil
	// means clients must post to the edge they stream from.
	Relay Relay
	// AllowCreate charges one session creation to the create budget named
	// by a Caller's CreateKey, the budget REST's create route charges too;
	// nil allows every creation.
	AllowCreate func(key string) error
	// AcquireWait takes one of the principal's wait slots, the ones REST
	// long polls take too, before a tool call waits for an answer; its
	// error (RATE_LIMITED) becomes the call's tool error. nil caps nothing.
	AcquireWait func(principal string) (release func(), err error)
}

// Transport names one of the endpoints Handler serves.
type Transport int

// The transports.
const (
	// Streamable is Streamable HTTP, on /mcp.
	Streamable Transport = iota + 1
	// SSE is the HTTP+SSE transport's stream, on /sse.
	SSE
	// SSEMessage is the HTTP+SSE transport's message endpoint, on
	// /sse/message.
	SSEMessage
)

// Caller is what the edge established about a request before MCP sees it.
type Caller struct {
	// Principal is who calls; the edge has authenticated it.
	Principal auth.Principal
	// BaseURL is the base of the feedback links handed to this caller.
	BaseURL string
	// CreateKey names the create budget the caller's sessions are charged
	// to (see Config.AllowCreate).
	CreateKey string
}

// requestInfo is what the tools learn about the request that called them.
type requestInfo struct {
	principal auth.Principal
	baseURL   string
	transport Transport
	// allowCreate charges a session creation to the caller's create budget;
	// createKey names the budget.
	allowCreate func() error
	createKey   string
	// features are what the client of a Streamable HTTP session declared
	// in initialize, read from its session id, or what an initialize
	// request declares, which go into the id it mints (features.go).
	features clientFeatures

	// mcpSession is the MCP session the request belongs to: the
	// Mcp-Session-Id of a Streamable HTTP request (checked), or the SSE
	// transport's sessionId; empty for 2026-07-28 requests.
	mcpSession string
	// protocol is the MCP-Protocol-Version header of a Streamable HTTP
	// request, empty if none.
	protocol string
	// link carries server-to-client messages during a tool call, nil when
	// the request has no way back but its result (see outbound.go).
	link *clientLink
	// out tracks the requests sent to clients.
	out *outbound
}

type infoKey struct{}

func infoFrom(ctx context.Context) requestInfo {
	info, _ := ctx.Value(infoKey{}).(requestInfo)
	return info
}

// Server serves the MCP server over both transports.
type Server struct {
	srv        *server.MCPServer
	streamable *server.StreamableHTTPServer
	sse        *server.SSEServer
	sseStream  http.Handler
	sseMessage http.Handler
	keepAlive  time.Duration
	log        *slog.Logger

	// bridge runs mcp-go's handlers behind fiber; its context is the parent
	// of every MCP request and of relayed messages, and Close ends it.
	bridge *httpbridge.Bridge

	streams sseStreams
	calls   inflightCalls
	// posts counts the Streamable HTTP requests in flight that owe a
	// response (drain.go).
	posts atomic.Int64
	out   *outbound
	tools *tools
	subs  subscriptions
	// bg owns the work started for SSE requests that feedbackd answers
	// itself (answerOnStream); Close waits for it.
	bg     sync.WaitGroup
	bgMu   sync.Mutex
	closed bool

	// relay reaches the edge holding an SSE stream; nil keeps every stream's
	// messages on the edge that holds it.
	relay Relay
	// allowCreate charges a creation to a budget key.
	allowCreate func(key string) error
}

// New builds the MCP server and both transports over svc. Close stops its
// background work (session housekeeping) and ends every request.
func New(cfg Config, svc *sessions.Service, log *slog.Logger) *Server {
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = DefaultKeepAlive
	}
	if cfg.ProgressInterval <= 0 {
		cfg.ProgressInterval = DefaultProgressInterval
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	m := &Server{keepAlive: cfg.KeepAlive, log: log, relay: cfg.Relay, allowCreate: cfg.AllowCreate, bridge: httpbridge.New(),
		out: newOutbound(cfg.Relay, log)}
	m.streams.hold = m.holdStream
	hooks := &server.Hooks{}
	hooks.AddOnRegisterSession(m.streams.register)
	hooks.AddOnUnregisterSession(m.streams.unregister)
	hooks.AddOnUnregisterSession(m.subs.dropSession)
	addAppsHooks(hooks)
	m.srv, m.tools = newMCPServer(cfg, svc, log, m.bridge.WaitContext, server.WithHooks(hooks), server.WithToolHandlerMiddleware(m.bindToClient),
		server.WithToolFilter(appToolFilter), server.WithResourceCapabilities(true, false))
	m.subs.hub = svc.Hub()
	m.subs.log = log
	m.declareCapabilities(hooks)
	m.tools.registerResources(hooks, &m.subs)

	// Host-header (DNS rebinding) checks are off: every MCP request must
	// authenticate, and a reverse proxy on the same host legitimately sends
	// its public Host to a loopback listener. Origins are the edge's CORS
	// middleware's business.
	m.streamable = server.NewStreamableHTTPServer(m.srv,
		server.WithSessionIdManagerResolver(sessionIDResolver{}),
		server.WithHeartbeatInterval(cfg.KeepAlive),
		server.WithSessionIdleTTL(sessionIdleTTL),
		server.WithDisableLocalhostProtection(true),
		server.WithStreamableHTTPLogger(log),
	)
	sseOpts := []server.SSEOption{
		server.WithSSEEndpoint("/sse"),
		server.WithMessageEndpoint("/sse/message"),
		server.WithKeepAliveInterval(cfg.KeepAlive),
		server.WithSSEDisableLocalhostProtection(true),
	}
	if cfg.PublicURL != "" {
		sseOpts = append(sseOpts, server.WithBaseURL(cfg.PublicURL))
	}
	m.sse = server.NewSSEServer(m.srv, sseOpts...)
	m.sseStream, m.sseMessage = m.sse.SSEHandler(), m.sse.MessageHandler()
	return m
}

// Handler serves transport t. It runs after the edge's authentication;
// caller reads what that established from the fiber context.
func (m *Server) Handler(t Transport, caller func(*fiber.Ctx) Caller) fiber.Handler {
	return m.bridge.Handler(http.HandlerFunc(m.serve), func(c *fiber.Ctx, ctx context.Context) context.Context {
		who := caller(c)
		info := requestInfo{principal: who.Principal, baseURL: who.BaseURL, transport: t, createKey: who.CreateKey, out: m.out}
		info.allowCreate = m.budget(who.CreateKey)
		return context.WithValue(ctx, infoKey{}, info)
	})
}

// budget charges creations to key, or returns nil when nothing is limited.
func (m *Server) budget(key string) func() error {
	if m.allowCreate == nil {
		return nil
	}
	return func() error { return m.allowCreate(key) }
}

// serve runs one MCP request on a context that ends when the client is
// found gone, when the edge shuts down, or when the request is done.
func (m *Server) serve(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	r = r.WithContext(ctx)
	info := infoFrom(ctx)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "malformed request", http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	sw := newStreamWriter(w)
	defer sw.finish()
	switch info.transport {
	case Streamable:
		m.serveStreamable(sw, r, body, info, cancel)
	case SSE:
		// The stream's writes pay the answers its messages are owed
		// (drain.go); register finds the count in the context.
		ans := &answers{}
		sw.onWrite = ans.wrote
		m.sseStream.ServeHTTP(sw, r.WithContext(context.WithValue(ctx, answersKey{}, ans)))
	case SSEMessage:
		sid := r.URL.Query().Get("sessionId")
		st, ok := m.streams.get(sid)
		if !ok && m.relay != nil {
			m.forward(sw, r, body, info, sid)
			return
		}
		// A stream's messages come from its owner only.
		if ok && st.principal.ID != info.principal.ID {
			writeJSONRPCError(sw, http.StatusBadRequest, mcpgo.INVALID_PARAMS, "Invalid session ID")
			return
		}
		var msg *rpcMessage
		if ok {
			msg = parseRPC(body)
		}
		owed := ok && st.answers != nil && msg != nil && msg.isRequest()
		if owed {
			st.answers.owe()
		}
		if ok {
			if r = m.onStream(r, body, msg, info, sid, st); r == nil {
				// Taken here: a request is answered on the stream, which
				// pays what it owes; anything else needs no answer.
				sw.WriteHeader(http.StatusAccepted)
				return
			}
		}
		m.sseMessage.ServeHTTP(sw, r)
		if owed && sw.status() != http.StatusAccepted {
			st.answers.paid() // refused here: the answer went on the POST
		}
	default:
		http.Error(sw, "unknown MCP transport", http.StatusInternalServerError)
	}
}

func (m *Server) serveStreamable(sw *streamWriter, r *http.Request, body []byte, info requestInfo, cancel context.CancelFunc) {
	session := r.Header.Get(server.HeaderKeySessionID)
	if session != "" {
		features, ok := (boundSessionIDs{principal: info.principal.ID}).check(session)
		if !ok {
			http.Error(sw, "Invalid session ID", http.StatusNotFound)
			return
		}
		info.features, info.mcpSession = features, session
	}
	info.protocol = r.Header.Get(mcpgo.HeaderProtocolVersion)
	if r.Method == http.MethodPost {
		var msg rpcMessage
		if json.Unmarshal(body, &msg) == nil {
			modern := isModern(r, msg)
			if msg.Method == string(mcpgo.MethodInitialize) && session == "" {
				// The id mcp-go mints for this session carries them.
				info.features = declaredFeatures(msg.Params)
			}
			if msg.Method == string(mcpgo.MethodToolsCall) && !modern && acceptsEventStream(r) {
				info.link = &clientLink{principal: info.principal.ID, send: func(v any) error {
					b, err := json.Marshal(v)
					if err != nil {
						return err
					}
					return sw.event(b)
				}}
			}
			switch {
			case msg.Method == string(mcpgo.MethodNotificationCancelled):
				var p struct {
					RequestID json.RawMessage `json:"requestId"`
				}
				_ = json.Unmarshal(msg.Params, &p)
				m.calls.cancel(callKey(info.principal.ID, session, p.RequestID))
				sw.WriteHeader(http.StatusAccepted)
				return
			case msg.isRequest():
				defer m.calls.track(callKey(info.principal.ID, session, msg.ID), cancel)()
				// A listen stream answers nothing until it is closed; every
				// other request, whoever answers it (intercept.go or
				// mcp-go), owes its response (drain.go).
				if msg.Method != string(mcpgo.MethodSubscriptionsListen) {
					m.posts.Add(1)
					defer m.posts.Add(-1)
					// Owed until the answer is written, not just produced:
					// under keep-alives finish writes it.
					defer sw.finish()
				}
				if acceptsEventStream(r) {
					sw.keepAlive(m.keepAlive)
				}
			}
			r = r.WithContext(context.WithValue(r.Context(), infoKey{}, info))
			if modern {
				body = stripTask(body, msg)
				r.Body = io.NopCloser(bytes.NewReader(body))
			} else if m.answerStreamable(sw, r, info, msg) {
				return
			}
		}
	}
	m.streamable.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), infoKey{}, info)))
}

// bindToClient is tool middleware: a call posted to the SSE transport runs
// on a context detached from its short POST, so it is tied to the stream
// it answers on instead. Streamable HTTP calls already run on their
// request's context.
func (m *Server) bindToClient(next server.ToolHandlerFunc) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcpgo.CallToolRequest) (*mcpgo.CallToolResult, error) {
		info := infoFrom(ctx)
		if info.principal.ID == "" {
			return mcpgo.NewToolResultError(string(envelope.CodeUnauthorized) + ": no authenticated principal"), nil
		}
		if info.transport == SSEMessage {
			cs := server.ClientSessionFromContext(ctx)
			if cs == nil {
				return mcpgo.NewToolResultError("the SSE stream of this session has closed; reconnect"), nil
			}
			st, ok := m.streams.get(cs.SessionID())
			if !ok {
				return mcpgo.NewToolResultError("the SSE stream of this session has closed; reconnect"), nil
			}
			var cancel context.CancelFunc
			ctx, cancel = context.WithCancel(ctx)
			defer cancel()
			defer context.AfterFunc(st.ctx, cancel)()
		}
		return next(ctx, req)
	}
}

// Close ends every MCP request and stream at once, so that the HTTP server
// can drain, and stops mcp-go's session housekeeping. Shutdown lets waiting
// calls answer first.
func (m *Server) Close(ctx context.Context) error {
	m.bridge.Close()
	m.sse.CloseSessions()
	m.bgMu.Lock()
	m.closed = true
	m.bgMu.Unlock()
	m.bg.Wait()
	m.subs.close()
	if err := m.streamable.Shutdown(ctx); err != nil {
		return fmt.Errorf("close MCP sessions: %w", err)
	}
	return nil
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
	_ = json.NewEncoder(w).Encode(mcpgo.JSONRPCError{
		JSONRPC: mcpgo.JSONRPC_VERSION,
		Error:   mcpgo.NewJSONRPCErrorDetails(code, message, nil),
	})
}
