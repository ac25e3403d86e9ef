package edge

import (
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/feedbackd/feedbackd/web"
)

// What cross-origin callers may send and read. MCP clients in a browser send
// the MCP session and protocol headers and resume streams with
// Last-Event-ID; they read Mcp-Session-Id to continue a session and
// WWW-Authenticate to find the authorization server.
const (
	corsAllowMethods  = "GET, POST, PUT, DELETE, OPTIONS"
	corsAllowHeaders  = "Authorization, X-API-Key, Content-Type, Accept, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID, X-Request-ID"
	corsExposeHeaders = "Mcp-Session-Id, WWW-Authenticate, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, X-Request-ID"
	corsMaxAge        = "600"
)

// cors answers preflights, without authentication, and marks responses
// readable by the allowed origins: ALLOWED_ORIGINS exactly, and the edge's
// own origin. The allowed origin is reflected, never "*", because the
// response may carry a caller's data. The OAuth resource metadata and the
// OpenAPI document are public and readable from anywhere. /metrics is for
// scrapers, not browsers, and gets no CORS headers at all.
func (s *Server) cors(c *fiber.Ctx) error {
	path := c.Path()
	if hasPathPrefix(path, "/metrics") {
		return c.Next()
	}
	c.Vary(fiber.HeaderOrigin)
	origin := c.Get(fiber.HeaderOrigin)
	if origin == "" {
		return c.Next()
	}
	public := hasPathPrefix(path, resourceMetadataPath) || hasPathPrefix(path, openAPIPath)
	// The inbox answers its own origin only (its cookie is for its own
	// pages): no other site may read it, ALLOWED_ORIGINS included.
	allowed := public || (s.originAllowed(c, origin) && !hasPathPrefix(path, web.InboxPath))
	preflight := c.Method() == fiber.MethodOptions && c.Get(fiber.HeaderAccessControlRequestMethod) != ""
	if preflight {
		c.Vary(fiber.HeaderAccessControlRequestMethod, fiber.HeaderAccessControlRequestHeaders)
		if !allowed {
			return c.SendStatus(fiber.StatusForbidden)
		}
		s.allowOrigin(c, origin, public)
		c.Set(fiber.HeaderAccessControlAllowMethods, corsAllowMethods)
		c.Set(fiber.HeaderAccessControlAllowHeaders, corsAllowHeaders)
		c.Set(fiber.HeaderAccessControlMaxAge, corsMaxAge)
		return c.SendStatus(fiber.StatusNoContent)
	}
	if allowed {
		s.allowOrigin(c, origin, public)
		c.Set(fiber.HeaderAccessControlExposeHeaders, corsExposeHeaders)
	}
	return c.Next()
}

func (s *Server) allowOrigin(c *fiber.Ctx, origin string, public bool) {
	if public {
		c.Set(fiber.HeaderAccessControlAllowOrigin, "*")
		return
	}
	c.Set(fiber.HeaderAccessControlAllowOrigin, origin)
	c.Set(fiber.HeaderAccessControlAllowCredentials, "true")
}

// originAllowed reports whether origin is in ALLOWED_ORIGINS (PUBLIC_URL's
// origin is added there) or is the origin the request came to: a browser
// sets both Origin and Host, so a page cannot claim another site's origin.
func (s *Server) originAllowed(c *fiber.Ctx, origin string) bool {
	o := normalizeOrigin(origin)
	if o == "" {
		return false
	}
	return s.origins[o] || o == normalizeOrigin(c.Protocol()+"://"+string(c.Request().Host()))
}

// normalizeOrigin lowercases an origin and drops a trailing slash, so the
// configuration may say https://App.example.com/ and still match what a
// browser sends. Anything with a path, and the opaque origin "null" (sandboxed
// frames, file: pages), is no origin at all: it returns "".
func normalizeOrigin(o string) string {
	o = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(o), "/"))
	scheme, rest, ok := strings.Cut(o, "://")
	if !ok || scheme == "" || rest == "" || strings.ContainsAny(rest, "/?#@ ") {
		return ""
	}
	return o
}

// originOf is the origin (scheme://host[:port]) of a URL such as PUBLIC_URL,
// or "" when it has none.
func originOf(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return normalizeOrigin(u.Scheme + "://" + u.Host)
}
