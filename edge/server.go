package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"

	"github.com/feedbackd/feedbackd/edge/mcp"
	"github.com/feedbackd/feedbackd/pkg/auth"
	"github.com/feedbackd/feedbackd/pkg/hostcheck"
	"github.com/feedbackd/feedbackd/pkg/httpbridge"
	"github.com/feedbackd/feedbackd/pkg/opsapi"
	"github.com/feedbackd/feedbackd/pkg/ratelimit"
	"github.com/feedbackd/feedbackd/pkg/redact"
	"github.com/feedbackd/feedbackd/sessions"
)

// BodyLimit is the largest request body accepted on every route but those
// that carry images (bodylimit.go). See docs/api.md, "Limits".
const BodyLimit = 64 * 1024

// Authenticator turns request credentials into a principal.
type Authenticator interface {
	Authenticate(ctx context.Context, c auth.Credentials) (auth.Principal, error)
}

// Config is what the edge needs to know.
type Config struct {
	// PublicURL is the base of links handed out; empty means derive it from
	// the request's scheme and Host.
	PublicURL string

	// AllowedOrigins are the browser origins (scheme://host[:port]) that may
	// call the edge cross-origin, besides its own; empty means same origin
	// only.
	AllowedOrigins []string
	// CreateLimit bounds sessions created per principal; SubmitLimit answers
	// and PageLimit feedback page requests per client address. The zero
	// value turns a limit off. Each replica counts on its own.
	CreateLimit, SubmitLimit, PageLimit RateLimit
	// TrustedProxies are the peers whose X-Forwarded-For is believed when
	// finding a client's address; empty means the TCP peer is the client.
	TrustedProxies []netip.Prefix
	// AuthorizationServers, when set, are the OAuth authorization servers
	// (issuers) advertised at /.well-known/oauth-protected-resource and
	// pointed to from the 401s of /mcp and /sse. Scopes are advertised there
	// as scopes_supported.
	AuthorizationServers, Scopes []string
	// Clock is the rate limiters' time; nil means time.Now.
	Clock func() time.Time

	// Version is reported by MCP's handshake.
	Version string
	// Service names the service in the protected resource metadata.
	Service string
	// MaxWait caps ?wait= on the result endpoint.
	MaxWait time.Duration
	// MaxWaitsPerPrincipal caps the waits one principal has in flight on
	// this replica at once, REST long polls and MCP tool calls together;
	// more are refused with RATE_LIMITED. Zero caps nothing.
	MaxWaitsPerPrincipal int
	// ReadTimeout bounds reading a request, and how long a new connection
	// may stay silent before it is closed (quietly); default 30 s.
	ReadTimeout time.Duration
	// Ops answers /health, /ready and (when it serves them) /metrics on this
	// app; nil leaves them off.
	Ops *opsapi.Handler
	// PageTokens mints the credential the feedback page watches its session
	// with over WebSocket; nil leaves the page to polling.
	PageTokens PageTokenMinter
	// WSPath is where the notifier's WebSocket is reached (docs/api.md,
	// "WebSocket"), as a path on this host or an absolute URL; empty means
	// DefaultWSPath.
	WSPath string
	// UploadMemory bounds the bytes of request bodies over BodyLimit (those
	// carrying images) that this replica reads at once; zero means
	// DefaultUploadMemory. See bodylimit.go.
	UploadMemory int64
	// MCP configures the MCP server the edge mounts; its Version,
	// PublicURL and AllowCreate are the edge's own.
	MCP mcp.Config
	// Hosts are the Host header values the edge answers (docs/api.md,
	// "Host check"); others get 421 on every route but the operations
	// API. nil answers every host.
	Hosts *hostcheck.Policy
	// Channels serves the principals' notification settings under
	// /api/channels and /api/push/; nil leaves them off.
	Channels *ChannelsAPI
	// TelegramWebhook serves /telegram/webhook, when Telegram posts updates
	// there; nil leaves it off.
	TelegramWebhook *TelegramWebhook
	// Inbox serves inbox links under /api/inbox and the inbox at /inbox
	// (docs/inbox.md); nil leaves them off.
	Inbox *InboxAPI
}

// PageTokenMinter mints the feedback page's credential for the WebSocket of
// one session. *auth.PageTokens implements it.
type PageTokenMinter interface {
	Mint(sessionID string, ttl time.Duration) string
}

// Server is the edge's HTTP application.
type Server struct {
	cfg    Config
	svc    *sessions.Service
	authn  Authenticator
	log    *slog.Logger
	app    *fiber.App
	pages  *pages // the feedback page, for errors answered before its handlers
	bridge *httpbridge.Bridge

	origins map[string]bool // normalized allowed origins
	proxies []netip.Prefix
	limits  rateLimits
	bodies  *bodyGate
	waits   *ratelimit.Slots
	mcp     *mcp.Server
	conns   *connTracker
}

// New builds the edge application and its routes. It starts background work
// (MCP session housekeeping) that Shutdown ends.
func New(cfg Config, svc *sessions.Service, authn Authenticator, log *slog.Logger) *Server {
	if cfg.MaxWait == 0 {
		cfg.MaxWait = 60 * time.Second
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 30 * time.Second
	}
	if cfg.Service == "" {
		cfg.Service = "feedbackd"
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	log = withRequestIDs(log)
	s := &Server{cfg: cfg, svc: svc, authn: authn, log: log, bridge: httpbridge.New(), waits: ratelimit.NewSlots(cfg.MaxWaitsPerPrincipal)}
	mcfg := cfg.MCP
	mcfg.Version, mcfg.PublicURL = cfg.Version, cfg.PublicURL
	mcfg.AllowCreate = func(key string) error { _, err := s.allowCreate(key); return err }
	mcfg.AcquireWait = s.acquireWait
	s.mcp = mcp.New(mcfg, svc, log)
	s.app = fiber.New(fiber.Config{
		AppName:               "feedbackd",
		DisableStartupMessage: true,
		BodyLimit:             BodyLimit,
		ReadTimeout:           cfg.ReadTimeout,
		IdleTimeout:           2 * time.Minute,
		ReadBufferSize:        16 * 1024,
		// Give the read buffer back between requests: an idle keep-alive
		// connection then holds none, and a WebSocket (hijacked after an
		// upgrade request that left nothing unread) never keeps it for its
		// life. It costs one extra read system call per request.
		ReduceMemoryUsage: true,
		ErrorHandler:      s.errorHandler,
		Network:           "tcp",
		// X-Forwarded-Proto and -Host (links, when PUBLIC_URL is unset) are
		// believed only from trusted proxies, as X-Forwarded-For is.
		EnableTrustedProxyCheck: true,
		TrustedProxies:          prefixStrings(cfg.TrustedProxies),
	})
	// Tell keep-alive clients to go away when shutting down, instead of
	// waiting for them to fall idle.
	s.app.Server().CloseOnShutdown = true
	s.conns = newConnTracker()
	s.app.Server().ConnState = s.conns.track
	// Body limits per route, decided before a body is read (bodylimit.go).
	s.bodies = newBodyGate(largeBodyLimitOf(svc.Limits()), cfg.UploadMemory, authn, 30*time.Second)
	s.bodies.install(s.app.Server())
	s.app.Use(s.bodies.track)
	s.app.Use(s.observe) // request id, access log, metrics
	s.app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: func(c *fiber.Ctx, e any) {
		log.ErrorContext(c.UserContext(), "handler panicked", "path", redact.IDs(c.Path()), "panic", e)
	}}))
	s.useSecurity()
	s.opsRoutes()
	s.routes()
	return s
}

// App returns the fiber application, for tests and for mounting other roles
// (the notifier in serve) on the same address.
func (s *Server) App() *fiber.App { return s.app }

// Serve serves HTTP on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.app.Listener(ln); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("serve HTTP: %w", err)
	}
	return nil
}

// Shutdown stops accepting connections and waits for in-flight requests
// until ctx ends. Waiters answer first, at once: every REST long poll and
// every waiting MCP tool call is told to stop waiting and answers its client
// with the session's state (docs/api.md, "Shutdown"); then MCP streams are
// closed, and the server drains what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.bridge.Drain()
	if err := s.mcp.Shutdown(ctx); err != nil {
		s.log.Warn("MCP shutdown", "err", err)
	}
	s.bridge.Close()
	defer s.limits.close()
	if err := s.app.ShutdownWithContext(ctx); err != nil {
		if ferr := s.forceClose(); ferr != nil {
			return fmt.Errorf("shut down HTTP: %w", errors.Join(err, ferr))
		}
	}
	return nil
}

func (s *Server) routes() {
	s.openAPIRoutes()
	s.resourceMetadataRoutes()

	api := s.app.Group("/api")
	api.Post("/feedback/create", s.requireAuth, s.limitCreate, s.handleCreate)
	api.All("/feedback/create", methodNotAllowed("POST"))
	api.Get("/feedback", s.requireAuth, s.handleList)
	api.All("/feedback", methodNotAllowed("GET, HEAD"))
	api.Get("/feedback/:id/status", s.requireAuth, s.handleStatus)
	api.All("/feedback/:id/status", methodNotAllowed("GET, HEAD"))
	api.Post("/feedback/:id/submit", s.limitSubmit, s.handleSubmit)
	api.All("/feedback/:id/submit", methodNotAllowed("POST"))
	api.Get("/feedback/:id/result", s.requireAuth, s.handleResult)
	api.All("/feedback/:id/result", methodNotAllowed("GET, HEAD"))
	api.Post("/feedback/:id/cancel", s.requireAuth, s.handleCancel)
	api.All("/feedback/:id/cancel", methodNotAllowed("POST"))
	api.Get("/feedback/:id/images/:imageId", s.requireAuth, s.handleOwnerImage)
	api.All("/feedback/:id/images/:imageId", methodNotAllowed("GET, HEAD"))
	s.channelRoutes(api, s.requireAuth)
	s.inboxLinkRoutes(api)
	api.Use(func(c *fiber.Ctx) error {
		return fiber.NewError(fiber.StatusNotFound)
	})
	s.telegramRoutes()
	s.pageRoutes()
	s.inboxRoutes()
	s.mcpRoutes()
}

func methodNotAllowed(allow string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderAllow, allow)
		return fiber.NewError(fiber.StatusMethodNotAllowed, "method "+c.Method()+" is not allowed here; allowed: "+allow)
	}
}

// publicURL is the base of the links in responses.
func (s *Server) publicURL(c *fiber.Ctx) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	return c.Protocol() + "://" + c.Hostname()
}
