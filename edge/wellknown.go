package edge

import (
	"github.com/gofiber/fiber/v2"
)

// resourceMetadataPath is where OAuth protected resource metadata is served
// (RFC 9728). MCP clients find it through the resource_metadata parameter
// of a 401's WWW-Authenticate and learn there which authorization server
// issues tokens for this edge.
const resourceMetadataPath = "/.well-known/oauth-protected-resource"

// resourceMetadata is the RFC 9728 document.
type resourceMetadata struct {
	Resource               string   `json:"resource"`
	AuthorizationServers   []string `json:"authorization_servers"`
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
	ScopesSupported        []string `json:"scopes_supported,omitempty"`
	ResourceName           string   `json:"resource_name,omitempty"`
}

// resourceMetadataRoutes serves the metadata when an external authorization
// server is configured: at the root for the whole edge, and in the
// path-aware forms for the MCP endpoints (RFC 9728 §3.1), which clients of
// /mcp and /sse derive from the endpoint's URL.
func (s *Server) resourceMetadataRoutes() {
	if len(s.cfg.AuthorizationServers) == 0 {
		return
	}
	for _, resource := range []string{"", "/mcp", "/sse"} {
		s.app.Get(resourceMetadataPath+resource, s.handleResourceMetadata(resource))
		s.app.All(resourceMetadataPath+resource, methodNotAllowed("GET, HEAD"))
	}
}

func (s *Server) handleResourceMetadata(resource string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "public, max-age=300")
		return c.JSON(resourceMetadata{
			Resource:               s.publicURL(c) + resource,
			AuthorizationServers:   s.cfg.AuthorizationServers,
			BearerMethodsSupported: []string{"header"},
			ScopesSupported:        s.cfg.Scopes,
			ResourceName:           s.cfg.Service,
		})
	}
}

// resourceMetadataURL is the metadata a 401 on this request's path points
// to, or "" when none is served.
func (s *Server) resourceMetadataURL(c *fiber.Ctx) string {
	if len(s.cfg.AuthorizationServers) == 0 {
		return ""
	}
	u := s.publicURL(c) + resourceMetadataPath
	switch p := c.Path(); {
	case hasPathPrefix(p, "/mcp"):
		return u + "/mcp"
	case hasPathPrefix(p, "/sse"):
		return u + "/sse"
	}
	return u
}
