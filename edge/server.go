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

	"github.com/feedbackd/feedbackd/pkg/auth"
	"github.com/feedbackd/feedbackd/sessions"
)

// BodyLimit is the largest request body accepted anywhere (SPEC §4).
const BodyLimit = 64 * 1024

// Authenticator turns request credentials into a principal.
type Authenticator interface {
	Authenticate(ctx context.Context, c auth.Credentials) (auth.Principal, error)
}

// HealthCheck reports whether the storage behind the edge is reachable.
type HealthCheck func(ctx context.Context) error

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

	// Version is reported by /health.
	Version string
	// Service names the service in /health.
	Service string
	// MaxWait caps ?wait= on the result endpoint.
	MaxWait time.Duration
	// DisableMetrics leaves /metrics off this app, for when it is served on
	// a separate address (METRICS_ADDR).
	DisableMetrics bool
	// PageTokens mints the credential the feedback page watches its session
	// with over WebSocket; nil leaves the page to polling.
	PageTokens *auth.PageTokens
	// WSPath is where the notifier's WebSocket is reached (SPEC §7), as a
	// path on this host or an absolute URL; empty means DefaultWSPath.
	WSPath string
	// MCPWait is how long interactive_feedback and get_feedback_result wait
	// for an answer when the call gives no waitSeconds; zero returns at once.
	MCPWait time.Duration
	// MCPKeepAlive is how often an idle MCP stream gets a keep-alive (and
	// so how soon a departed client is noticed); default 10s.
	MCPKeepAlive time.Duration
	// MCPProgressInterval is how often a waiting tool call sends progress
	// notifications to a client that asked for them; default 10s.
	MCPProgressInterval time.Duration
	// Relay forwards MCP SSE messages to the edge holding their stream; nil
	// means clients must post to the edge they stream from.
	Relay Relay
}

// Server is the edge's HTTP application.
type Server struct {
	cfg    Config
	svc    *sessions.Service
	authn  Authenticator
	health HealthCheck
	log    *slog.Logger
	app    *fiber.App
	pages  *pages // the feedback page, for errors answered before its handlers

	origins map[string]bool // normalized allowed origins
	proxies []netip.Prefix
	limits  rateLimits
	mcp     *mcpTransport
}

// New builds the edge application and its routes. It starts background work
// (MCP session housekeeping) that Shutdown ends.
func New(cfg Config, svc *sessions.Service, authn Authenticator, health HealthCheck, log *slog.Logger) *Server {
	if cfg.MaxWait == 0 {
		cfg.MaxWait = 60 * time.Second
	}
	if cfg.Service == "" {
		cfg.Service = "feedbackd"
	}
	if cfg.MCPKeepAlive <= 0 {
		cfg.MCPKeepAlive = defaultMCPKeepAlive
	}
	if cfg.MCPProgressInterval <= 0 {
		cfg.MCPProgressInterval = defaultMCPProgressInterval
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	log = withRequestIDs(log)
	s := &Server{cfg: cfg, svc: svc, authn: authn, health: health, log: log}
	s.mcp = newMCPTransport(cfg, svc, log)
	s.mcp.allowCreate = func(key string) error { _, err := s.allowCreate(key); return err }
	s.app = fiber.New(fiber.Config{
		AppName:               "feedbackd",
		DisableStartupMessage: true,
		BodyLimit:             BodyLimit,
		ReadTimeout:           30 * time.Second,
		IdleTimeout:           2 * time.Minute,
		ReadBufferSize:        16 * 1024,
		ErrorHandler:          s.errorHandler,
		Network:               "tcp",
		// X-Forwarded-Proto and -Host (links, when PUBLIC_URL is unset) are
		// believed only from trusted proxies, as X-Forwarded-For is.
		EnableTrustedProxyCheck: true,
		TrustedProxies:          prefixStrings(cfg.TrustedProxies),
	})
	// Tell keep-alive clients to go away when shutting down, instead of
	// waiting for them to fall idle.
	s.app.Server().CloseOnShutdown = true
	s.app.Use(s.observe) // outermost: request id, access log, metrics
	s.app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: func(c *fiber.Ctx, e any) {
		log.ErrorContext(c.UserContext(), "handler panicked", "path", c.Path(), "panic", e)
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
// until ctx ends. MCP streams and waiting tool calls are ended first: they
// would otherwise keep their connections busy until ctx runs out.
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.mcp.close(ctx); err != nil {
		s.log.Warn("MCP shutdown", "err", err)
	}
	defer s.limits.close()
	if err := s.app.ShutdownWithContext(ctx); err != nil {
		return fmt.Errorf("shut down HTTP: %w", err)
	}
	return nil
}

func (s *Server) routes() {
	s.app.Get("/health", s.handleHealth)
	s.app.All("/health", methodNotAllowed("GET, HEAD"))
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
	api.Use(func(c *fiber.Ctx) error {
		return fiber.NewError(fiber.StatusNotFound)
	})
	s.pageRoutes()
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
