package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
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
	// Version is reported by /health.
	Version string
	// Service names the service in /health.
	Service string
	// MaxWait caps ?wait= on the result endpoint.
	MaxWait time.Duration
	// MCPWait is how long interactive_feedback and get_feedback_result wait
	// for an answer when the call gives no waitSeconds; zero returns at once.
	MCPWait time.Duration
	// MCPKeepAlive is how often an idle MCP stream gets a keep-alive (and
	// so how soon a departed client is noticed); default 10s.
	MCPKeepAlive time.Duration
	// MCPProgressInterval is how often a waiting tool call sends progress
	// notifications to a client that asked for them; default 10s.
	MCPProgressInterval time.Duration
}

// Server is the edge's HTTP application.
type Server struct {
	cfg    Config
	svc    *sessions.Service
	authn  Authenticator
	health HealthCheck
	log    *slog.Logger
	app    *fiber.App
	mcp    *mcpTransport
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
	s := &Server{cfg: cfg, svc: svc, authn: authn, health: health, log: log}
	s.mcp = newMCPTransport(cfg, svc, log)
	s.app = fiber.New(fiber.Config{
		AppName:               "feedbackd",
		DisableStartupMessage: true,
		BodyLimit:             BodyLimit,
		ReadTimeout:           30 * time.Second,
		IdleTimeout:           2 * time.Minute,
		ReadBufferSize:        16 * 1024,
		ErrorHandler:          s.errorHandler,
		Network:               "tcp",
	})
	s.app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: func(c *fiber.Ctx, e any) {
		log.Error("handler panicked", "path", c.Path(), "panic", e)
	}}))
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
	if err := s.app.ShutdownWithContext(ctx); err != nil {
		return fmt.Errorf("shut down HTTP: %w", err)
	}
	return nil
}

func (s *Server) routes() {
	s.app.Get("/health", s.handleHealth)
	s.app.All("/health", methodNotAllowed("GET, HEAD"))

	api := s.app.Group("/api")
	api.Post("/feedback/create", s.requireAuth, s.handleCreate)
	api.All("/feedback/create", methodNotAllowed("POST"))
	api.Get("/feedback", s.requireAuth, s.handleList)
	api.All("/feedback", methodNotAllowed("GET, HEAD"))
	api.Get("/feedback/:id/status", s.requireAuth, s.handleStatus)
	api.All("/feedback/:id/status", methodNotAllowed("GET, HEAD"))
	api.Post("/feedback/:id/submit", s.handleSubmit)
	api.All("/feedback/:id/submit", methodNotAllowed("POST"))
	api.Get("/feedback/:id/result", s.requireAuth, s.handleResult)
	api.All("/feedback/:id/result", methodNotAllowed("GET, HEAD"))
	api.Post("/feedback/:id/cancel", s.requireAuth, s.handleCancel)
	api.All("/feedback/:id/cancel", methodNotAllowed("POST"))
	api.Use(func(c *fiber.Ctx) error {
		return fiber.NewError(fiber.StatusNotFound)
	})

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
