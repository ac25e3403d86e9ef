package edge

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/feedbackd/feedbackd/pkg/envelope"
	"github.com/feedbackd/feedbackd/sessions"
)

// contentSecurityPolicy allows only the edge's own scripts, styles and
// connections (plus WebSockets to the notifier): agent text rendered into a
// page can never run script, load from elsewhere or post a form away. blob:
// images are the previews of images the person attaches, made by the page's
// own script from local files. frame-ancestors and X-Frame-Options stop the page being framed for
// clickjacking.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// useSecurity sets up what guards every request before any route sees it:
// security headers, CORS and the page rate limit. It runs in New, before the
// routes are registered.
func (s *Server) useSecurity() {
	s.origins = make(map[string]bool, len(s.cfg.AllowedOrigins))
	for _, o := range s.cfg.AllowedOrigins {
		if o = normalizeOrigin(o); o != "" {
			s.origins[o] = true
		}
	}
	if o := originOf(s.cfg.PublicURL); o != "" {
		s.origins[o] = true
	}
	s.proxies = s.cfg.TrustedProxies
	s.limits = newRateLimits(s.cfg)
	s.app.Use(s.securityHeaders, s.checkHost, s.cors, s.limitPages)
}

// maxQuotedHost bounds the Host value quoted back in a 421.
const maxQuotedHost = 100

// checkHost answers 421 MISDIRECTED_REQUEST to a request for a host the
// edge does not answer, before any route (REST, MCP, pages, /ws) sees it:
// with a loopback listener, a page on a rebinding domain would otherwise
// reach it as its own origin. The operations API (/health, /ready,
// /metrics) is exempt: probes and scrapers address a replica by its IP, and
// it reveals nothing a rebinding page could use. Behind a trusted proxy the
// host is the one the client asked the proxy for (X-Forwarded-Host).
func (s *Server) checkHost(c *fiber.Ctx) error {
	if s.cfg.Hosts.Any() || opsPaths[strings.ToLower(strings.TrimSuffix(c.Path(), "/"))] {
		return c.Next()
	}
	host := c.Hostname()
	if s.cfg.Hosts.Allows(host) {
		return c.Next()
	}
	if len(host) > maxQuotedHost {
		host = host[:maxQuotedHost]
	}
	return s.fail(c, sessions.Errorf(envelope.CodeMisdirected,
		"this server does not answer for host %q: use its own address, or add the name to ALLOWED_HOSTS", host))
}

// securityHeaders are set before the handler runs, so a handler that needs
// something else (a static asset's caching) can still override them.
func (s *Server) securityHeaders(c *fiber.Ctx) error {
	h := &c.Response().Header
	h.Set(fiber.HeaderContentSecurityPolicy, contentSecurityPolicy)
	h.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	// The page URL is a capability: it must not leak to other sites through
	// Referer when someone follows a link in the rendered message.
	h.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	h.Set(fiber.HeaderXFrameOptions, "DENY")
	if p := c.Path(); hasPathPrefix(p, "/api") || hasPathPrefix(p, "/feedback") || hasPathPrefix(p, inboxAPIPrefix) || hasPathPrefix(p, inboxSessionPath) {
		// Session data and pages change and belong to one person: no shared
		// or browser cache may keep them.
		h.Set(fiber.HeaderCacheControl, "no-store")
	}
	return c.Next()
}

// hasPathPrefix reports whether path is prefix or lies below it. It ignores
// case, as the router does, so /API/... cannot slip past a check that the
// route itself would still match.
func hasPathPrefix(path, prefix string) bool {
	if len(path) < len(prefix) || !strings.EqualFold(path[:len(prefix)], prefix) {
		return false
	}
	return len(path) == len(prefix) || path[len(prefix)] == '/'
}
