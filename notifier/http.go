package notifier

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"

	"github.com/feedbackd/feedbackd/pkg/auth"
	"github.com/feedbackd/feedbackd/pkg/envelope"
	"github.com/feedbackd/feedbackd/pkg/hostcheck"
	"github.com/feedbackd/feedbackd/pkg/httpbridge"
	"github.com/feedbackd/feedbackd/pkg/opsapi"
	"github.com/feedbackd/feedbackd/pkg/redact"
	"github.com/feedbackd/feedbackd/sessions"
)

// Error codes of refused upgrades that only WebSocket routes produce (see
// docs/api.md, "WebSocket").
const (
	// CodeForbiddenOrigin refuses a browser page from an origin that is
	// neither the server's own nor in AllowedOrigins (403).
	CodeForbiddenOrigin sessions.Code = "FORBIDDEN_ORIGIN"
	// CodeUpgradeRequired answers a plain HTTP request to a WebSocket route
	// (426).
	CodeUpgradeRequired sessions.Code = "UPGRADE_REQUIRED"
)

// retryAfter is the Retry-After of refusals over a connection limit, in
// seconds.
const retryAfter = "5"

// Client types of the clientType query parameter.
const (
	ClientTypeWeb = "web"
	ClientTypeApp = "app"
)

// Mount adds GET /ws and GET /ws/:id to r. When r is an app, Mount makes it
// leave hijacked connections to their handlers (fasthttp's
// KeepHijackedConns): the notifier closes its sockets itself and gives the
// request's context back as soon as a connection is established, instead of
// holding it for the connection's life. No other handler of the app may
// hijack connections and count on fasthttp to close them.
func (n *Notifier) Mount(r fiber.Router) {
	if app, ok := r.(*fiber.App); ok {
		app.Server().KeepHijackedConns = true
	}
	r.Get("/ws", n.handleUpgrade)
	r.Get("/ws/:id", n.handleUpgrade)
	r.All("/ws", methodNotAllowed)
	r.All("/ws/:id", methodNotAllowed)
}

// AppConfig is what the notifier's own HTTP app serves besides WebSockets.
type AppConfig struct {
	// Ops, when set, answers /health, /ready and /metrics: the operations
	// API every role shows (pkg/opsapi).
	Ops *opsapi.Handler
	// Hosts are the Host header values the WebSocket routes answer
	// (docs/api.md, "Host check"); others get 421. The operations API is
	// exempt. nil answers every host.
	Hosts *hostcheck.Policy
}

// App is the notifier's own HTTP app, for the notifier run as its own
// process: the WebSocket routes and the operations API.
type App struct {
	*fiber.App
	bridge *httpbridge.Bridge
}

// Shutdown stops the app: it ends the requests of the operations API, then
// shuts the server down within ctx. WebSockets are the Notifier's to close.
func (a *App) Shutdown(ctx context.Context) error {
	a.bridge.Close()
	return a.ShutdownWithContext(ctx)
}

// NewApp returns an HTTP app with the operations API and the WebSocket
// routes, for the notifier running as its own process.
func (n *Notifier) NewApp(cfg AppConfig) *App {
	bridge := httpbridge.New()
	app := fiber.New(fiber.Config{
		AppName:               "feedbackd-notifier",
		DisableStartupMessage: true,
		ReadTimeout:           30 * time.Second,
		IdleTimeout:           2 * time.Minute,
		// Room for a long JWT in the query string and headers.
		ReadBufferSize: 8 * 1024,
		// Give the read buffer back once the upgrade request is read: a
		// hijacked connection would otherwise keep it for its whole life,
		// as the largest part of what an idle WebSocket costs.
		ReduceMemoryUsage: true,
		Network:           "tcp",
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			status, code := http.StatusInternalServerError, sessions.CodeInternal
			var fe *fiber.Error
			if errors.As(err, &fe) {
				status = fe.Code
				switch fe.Code {
				case http.StatusNotFound:
					code = envelope.CodeRouteNotFound
				case http.StatusMethodNotAllowed:
					code = envelope.CodeMethodNotAllowed
				default:
					if fe.Code < 500 {
						code = sessions.CodeInvalidRequest
					}
				}
			}
			if status >= 500 {
				n.log.Error("request failed", "path", redact.IDs(c.Path()), "err", err)
			}
			return fail(c, status, &sessions.Error{Code: code, Message: http.StatusText(status)})
		},
	})
	app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: func(c *fiber.Ctx, e any) {
		n.log.Error("handler panicked", "path", redact.IDs(c.Path()), "panic", e)
	}}))
	if !cfg.Hosts.Any() {
		app.Use("/ws", func(c *fiber.Ctx) error {
			// The Host header itself: this app believes no proxy's
			// X-Forwarded-Host, which a rebinding page could set on its
			// same-origin requests.
			if host := string(c.Request().Host()); !cfg.Hosts.Allows(host) {
				if len(host) > 100 {
					host = host[:100]
				}
				return fail(c, http.StatusMisdirectedRequest, sessions.Errorf(envelope.CodeMisdirected,
					"this server does not answer for host %q: use its own address, or add the name to ALLOWED_HOSTS", host))
			}
			return c.Next()
		})
	}
	if cfg.Ops != nil {
		ops := bridge.Handler(cfg.Ops, nil)
		for _, path := range cfg.Ops.Paths() {
			app.Get(path, ops)
			app.All(path, methodNotAllowed)
		}
	}
	n.Mount(app)
	// Last: anything not routed above is 404.
	app.Use(func(*fiber.Ctx) error { return fiber.ErrNotFound })
	return &App{App: app, bridge: bridge}
}

func methodNotAllowed(c *fiber.Ctx) error {
	c.Set(fiber.HeaderAllow, "GET, HEAD")
	return fail(c, http.StatusMethodNotAllowed, sessions.Errorf(envelope.CodeMethodNotAllowed, "method %s is not allowed here; allowed: GET, HEAD", c.Method()))
}

// handleUpgrade checks everything that can be checked before the upgrade and
// answers with a plain HTTP error when a check fails: origin (403), upgrade
// headers (426/400), query (400), credentials (401), the session and its owner
// (404), limits (503/429). Only then does it upgrade.
func (n *Notifier) handleUpgrade(c *fiber.Ctx) error {
	if !n.originAllowed(c) {
		return fail(c, http.StatusForbidden, sessions.Errorf(CodeForbiddenOrigin, "origin %q may not open WebSockets here; add it to ALLOWED_ORIGINS", c.Get(fiber.HeaderOrigin)))
	}
	if !websocket.IsWebSocketUpgrade(c) {
		c.Set(fiber.HeaderUpgrade, "websocket")
		return fail(c, http.StatusUpgradeRequired, sessions.Errorf(CodeUpgradeRequired, "this route speaks WebSocket: send an upgrade request"))
	}
	if c.Get("Sec-WebSocket-Version") != "13" {
		c.Set("Sec-WebSocket-Version", "13")
		return fail(c, http.StatusBadRequest, sessions.Invalid("Sec-WebSocket-Version", "must be 13"))
	}
	if c.Get("Sec-WebSocket-Key") == "" {
		return fail(c, http.StatusBadRequest, sessions.Invalid("Sec-WebSocket-Key", "is required"))
	}
	// fiber's strings point into buffers it reuses after the handler returns;
	// what outlives the upgrade is copied.
	req := &connRequest{sessionID: strings.Clone(c.Params("id"))}
	var err error
	if req.kind, err = parseClientType(c.Query("clientType")); err != nil {
		return fail(c, http.StatusBadRequest, err)
	}
	if req.resume, req.resuming, err = parseRevision(c.Query("revision")); err != nil {
		return fail(c, http.StatusBadRequest, err)
	}

	ctx, cancel := context.WithTimeout(c.UserContext(), 5*time.Second)
	defer cancel()
	who, err := n.authorize(ctx, c)
	if err != nil {
		n.log.Debug("WebSocket authentication failed", "path", redact.IDs(c.Path()), "reason", err)
		msg := "missing or invalid credentials: pass ?apiKey=, ?token=, X-API-Key or Authorization"
		if errors.Is(err, auth.ErrAmbiguousCredentials) {
			msg = "send one credential: one of ?apiKey=, ?token=, X-API-Key or Authorization, not several"
		}
		return fail(c, http.StatusUnauthorized, sessions.Errorf(envelope.CodeUnauthorized, "%s", msg))
	}
	if who.pageSession != "" && req.sessionID == "" {
		return fail(c, http.StatusUnauthorized, sessions.Errorf(envelope.CodeUnauthorized, "a feedback page credential opens only /ws/{its session id}"))
	}
	if !who.expires.IsZero() && !time.Now().Before(who.expires) {
		// A JWT within its clock-skew leeway still authenticates a request,
		// but a socket it opened would have to close at once.
		return fail(c, http.StatusUnauthorized, sessions.Errorf(envelope.CodeUnauthorized, "the credential has expired: get a fresh one"))
	}
	req.owner, req.page, req.expires, req.grant = who.owner, who.pageSession != "", who.expires, who.credential
	if req.sessionID != "" {
		if err := sessions.CheckID(req.sessionID); err != nil {
			return fail(c, http.StatusBadRequest, err)
		}
	}

	closing, full := n.full()
	if closing || full {
		c.Set(fiber.HeaderRetryAfter, retryAfter)
		return fail(c, http.StatusServiceUnavailable, sessions.Errorf(sessions.CodeServiceUnavailable, "this notifier is not taking more connections: try again later"))
	}
	if req.sessionID != "" && n.hub.sessionConns(req.sessionID, req.page) >= n.perSessionLimit(req.page) {
		c.Set(fiber.HeaderRetryAfter, retryAfter)
		return fail(c, http.StatusTooManyRequests, sessions.Errorf(envelope.CodeRateLimited, "too many connections to this session: try again later"))
	}

	if req.sessionID != "" {
		if who.pageSession != "" && who.pageSession != req.sessionID {
			return fail(c, http.StatusNotFound, sessions.Errorf(sessions.CodeNotFound, "session not found"))
		}
		// The page credential is the capability of its own session; anyone
		// else sees only their own sessions, and any other is not found.
		var err error
		if who.pageSession != "" {
			_, err = n.svc.Get(ctx, req.sessionID)
		} else {
			_, err = n.svc.GetOwned(ctx, who.owner, req.sessionID)
		}
		if err != nil {
			return fail(c, statusOf(err), err)
		}
	}

	req.ownSocket = c.App().Server().KeepHijackedConns
	c.Locals(requestKey, req)
	if err := n.upgrade(c); err != nil {
		return fail(c, http.StatusBadRequest, sessions.Invalid("", "bad WebSocket handshake"))
	}
	return nil
}

// caller is who an upgrade request acts for: a principal, whose sessions it
// may follow, or the feedback page of one session; until expires, when set.
type caller struct {
	owner       string
	pageSession string
	expires     time.Time
	credential  string // auth.Principal.Credential: Revoke closes the socket
}

// authorize reads the request's one credential. A page credential is tried
// first so that it can never be mistaken for a general one.
func (n *Notifier) authorize(ctx context.Context, c *fiber.Ctx) (caller, error) {
	creds, err := upgradeCredentials(c)
	if err != nil {
		return caller{}, err
	}
	if n.pages != nil {
		for _, t := range []string{creds.Token, bearer(creds.Authorization)} {
			if t == "" {
				continue
			}
			if id, exp, err := n.pages.VerifyExpiry(t); err == nil {
				return caller{pageSession: strings.Clone(id), expires: exp}, nil
			}
		}
	}
	p, err := n.authn.Authenticate(ctx, creds)
	if err != nil {
		return caller{}, err
	}
	return caller{owner: strings.Clone(p.ID), expires: p.Expires, credential: strings.Clone(p.Credential)}, nil
}

// upgradeCredentials reads the credentials of an upgrade request: the
// headers of the REST API, or ?apiKey= and ?token= for browsers, which
// cannot set headers on a WebSocket. Exactly one may be given: two (any
// mix, or one of them twice) are refused, as on the REST API, so that no
// order of precedence decides who is calling.
func upgradeCredentials(c *fiber.Ctx) (auth.Credentials, error) {
	h := &c.Request().Header
	q := c.Context().QueryArgs()
	if len(h.PeekAll(fiber.HeaderAuthorization)) > 1 || len(h.PeekAll("X-API-Key")) > 1 ||
		len(q.PeekMulti("token")) > 1 || len(q.PeekMulti("apiKey")) > 1 {
		return auth.Credentials{}, fmt.Errorf("%w: %w", auth.ErrUnauthorized, auth.ErrAmbiguousCredentials)
	}
	creds := auth.Credentials{
		APIKey:        c.Get("X-API-Key"),
		Authorization: c.Get(fiber.HeaderAuthorization),
		Token:         c.Query("token"),
		QueryAPIKey:   c.Query("apiKey"),
	}
	if creds.Count() > 1 {
		return auth.Credentials{}, fmt.Errorf("%w: %w", auth.ErrUnauthorized, auth.ErrAmbiguousCredentials)
	}
	return creds, nil
}

// bearer is the credential of an "Authorization: Bearer T" header, read by
// the one parser of pkg/auth; "" for any other header.
func bearer(header string) string {
	if header == "" {
		return ""
	}
	scheme, credential, err := auth.ParseAuthorization(header)
	if err != nil || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return credential
}

// originAllowed lets through clients that send no Origin (apps, scripts),
// pages from the server's own host, and AllowedOrigins.
func (n *Notifier) originAllowed(c *fiber.Ctx) bool {
	origin := c.Get(fiber.HeaderOrigin)
	if origin == "" || n.anyOrigin || n.origins[normalizeOrigin(origin)] {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, string(c.Request().Host()))
}

func parseClientType(v string) (string, error) {
	switch v {
	case "", ClientTypeApp:
		return ClientTypeApp, nil
	case ClientTypeWeb:
		return ClientTypeWeb, nil
	}
	return "", sessions.Invalid("clientType", "must be web or app")
}

// parseRevision reads ?revision=, the last revision a reconnecting client
// saw.
func parseRevision(v string) (rev uint64, ok bool, err error) {
	if v == "" {
		return 0, false, nil
	}
	rev, err = strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, false, sessions.Invalid("revision", "must be a non-negative whole number")
	}
	return rev, true, nil
}

// statusOf maps a domain error to the HTTP status of a refused upgrade.
func statusOf(err error) int { return envelope.Status(sessions.ErrorCode(err)) }

// fail writes err as the REST API's error envelope with status, so refused
// upgrades read like any other API error. Causes are never sent.
func fail(c *fiber.Ctx, status int, err error) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return envelope.Fail(c, status, err)
}
