package edge

import (
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/feedbackd/feedbackd/pkg/metrics"
	"github.com/feedbackd/feedbackd/pkg/opsapi"
	"github.com/feedbackd/feedbackd/pkg/redact"
	"github.com/feedbackd/feedbackd/pkg/requestid"
)

// withRequestIDs makes every record logged with a request's context carry
// its request id, whatever handler the caller configured.
func withRequestIDs(log *slog.Logger) *slog.Logger {
	return slog.New(requestid.NewHandler(log.Handler()))
}

// observe runs outermost around every request: it names the request, lets
// the rest of the chain run, turns an escaped error into its response right
// here (so the status it records is the one the client gets), then records
// the request's metrics and access log line.
func (s *Server) observe(c *fiber.Ctx) error {
	// Copied: fiber's strings point into buffers that are reused after the
	// request, and the id lives on in contexts and log records.
	id := strings.Clone(requestid.Accept(c.Get(requestid.Header)))
	c.Set(requestid.Header, id)
	// Under the context key too, so that net/http handlers mounted through
	// fiber's adaptor (whose request context reads fasthttp user values) find
	// the id with requestid.FromContext.
	c.Locals(requestid.ContextKey{}, id)
	c.SetUserContext(requestid.NewContext(c.UserContext(), id))

	start := time.Now()
	done := metrics.HTTPStarted()
	if err := c.Next(); err != nil {
		if herr := s.errorHandler(c, err); herr != nil {
			s.log.ErrorContext(c.UserContext(), "error handler failed", "err", herr)
			_ = c.SendStatus(fiber.StatusInternalServerError)
		}
	}
	status := c.Response().StatusCode()
	route := routeLabel(c)
	done(route, stableMethod(c.Method()), status)
	s.accessLog(c, route, status, time.Since(start))
	return nil
}

// routeLabel is the pattern of the route that answered, never the raw
// path, so that metric labels stay few. When no endpoint matched, the
// answer came from a prefix middleware (the /api catch-all, or this
// package's outermost one for anything else); such a route is labelled with
// its prefix and "/*".
func routeLabel(c *fiber.Ctx) string {
	p := c.Route().Path
	if strings.ContainsAny(p, ":*+") || samePath(p, c.Path()) {
		return p
	}
	return strings.TrimSuffix(p, "/") + "/*"
}

// samePath compares as fiber's router does by default: case-insensitive,
// ignoring a trailing slash.
func samePath(a, b string) bool {
	if len(a) > 1 {
		a = strings.TrimSuffix(a, "/")
	}
	if len(b) > 1 {
		b = strings.TrimSuffix(b, "/")
	}
	return strings.EqualFold(a, b)
}

// stableMethod returns a string that outlives the request: fiber's
// c.Method() points into a buffer that the next request overwrites, and
// metric labels are kept for ever. Fiber refuses unknown methods before any
// middleware runs, so the set is closed.
func stableMethod(m string) string {
	for _, known := range [...]string{fiber.MethodGet, fiber.MethodHead, fiber.MethodPost, fiber.MethodPut,
		fiber.MethodPatch, fiber.MethodDelete, fiber.MethodOptions, fiber.MethodConnect, fiber.MethodTrace} {
		if m == known {
			return known
		}
	}
	return strings.Clone(m)
}

// opsPaths are probed often by orchestrators and scrapers; their access
// lines are logged at debug so they do not drown the rest.
var opsPaths = map[string]bool{"/health": true, "/ready": true, "/metrics": true}

// accessLog writes one line per request. It never logs headers (they carry
// credentials) and logs the query only with credential-like values
// redacted.
func (s *Server) accessLog(c *fiber.Ctx, route string, status int, d time.Duration) {
	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelWarn
	case opsPaths[route]:
		level = slog.LevelDebug
	}
	ctx := c.UserContext()
	if !s.log.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 9)
	attrs = append(attrs,
		slog.String("method", c.Method()),
		slog.String("route", route),
		slog.String("path", loggedPath(c)),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(d.Microseconds())/1000),
		slog.String("client_ip", c.IP()),
	)
	if c.Response().IsBodyStream() {
		// Reading a stream's length would consume it; a streamed response
		// (SSE) is logged when its handler returns, not when it ends.
		attrs = append(attrs, slog.Bool("stream", true))
	} else {
		attrs = append(attrs, slog.Int("bytes", len(c.Response().Body())))
	}
	s.log.LogAttrs(ctx, level, "http request", attrs...)
}

// maxLoggedPath keeps one hostile request from writing a huge log line.
const maxLoggedPath = 512

// loggedPath is the request path with its query, every value whose name
// looks like a credential replaced by REDACTED (?apiKey=, ?token= of the
// WebSocket and anything alike), and every session id shortened to a
// prefix: an id is the capability to answer, and logs are read by more
// people than may answer (pkg/redact).
func loggedPath(c *fiber.Ctx) string {
	var b strings.Builder
	b.WriteString(c.Path())
	args := c.Request().URI().QueryArgs()
	if args.Len() > 0 {
		sep := byte('?')
		args.VisitAll(func(k, v []byte) {
			b.WriteByte(sep)
			sep = '&'
			b.Write(k)
			b.WriteByte('=')
			if secretParam(string(k)) {
				b.WriteString("REDACTED")
			} else {
				b.Write(v)
			}
		})
	}
	out := redact.IDs(b.String())
	if len(out) > maxLoggedPath {
		out = out[:maxLoggedPath] + "…"
	}
	return out
}

// secretParam reports whether a query parameter's name suggests a secret.
// It errs on the side of redacting.
func secretParam(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"key", "token", "secret", "pass", "auth", "jwt", "sig", "cred", "session"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// opsRoutes mounts the operations API (pkg/opsapi: /health, /ready and,
// unless METRICS_ADDR serves it elsewhere, /metrics). /ready and /metrics
// are for orchestrators and scrapers, never for browsers on other origins:
// whatever the CORS middleware added is taken off again.
func (s *Server) opsRoutes() {
	if s.cfg.Ops == nil {
		return
	}
	serve := s.bridge.Handler(s.cfg.Ops, nil)
	for _, path := range s.cfg.Ops.Paths() {
		h := serve
		if path != opsapi.HealthPath {
			h = func(c *fiber.Ctx) error {
				err := serve(c)
				c.Response().Header.Del(fiber.HeaderAccessControlAllowOrigin)
				c.Response().Header.Del(fiber.HeaderAccessControlAllowCredentials)
				return err
			}
		}
		s.app.Get(path, h)
		s.app.All(path, methodNotAllowed("GET, HEAD"))
	}
}
