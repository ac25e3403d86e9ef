package edge

import (
	"github.com/gofiber/fiber/v2"

	"github.com/feedbackd/feedbackd/edge/mcp"
)

// RelaySubjectPrefix starts the NATS subjects MCP SSE messages are relayed
// on between edges (see edge/mcp).
const RelaySubjectPrefix = mcp.RelaySubjectPrefix

// mcpRoutes mounts both MCP transports (package edge/mcp) behind the same
// authentication as the REST API; a 401 there carries the MCP challenge
// (see unauthorized).
func (s *Server) mcpRoutes() {
	h := func(t mcp.Transport) fiber.Handler { return s.mcp.Handler(t, s.mcpCaller) }
	s.app.Post("/mcp", s.requireAuth, h(mcp.Streamable))
	s.app.Get("/mcp", s.requireAuth, h(mcp.Streamable))
	s.app.Delete("/mcp", s.requireAuth, h(mcp.Streamable))
	s.app.All("/mcp", methodNotAllowed("GET, POST, DELETE"))
	s.app.Get("/sse", s.requireAuth, h(mcp.SSE))
	s.app.All("/sse", methodNotAllowed("GET"))
	s.app.Post("/sse/message", s.requireAuth, h(mcp.SSEMessage))
	s.app.All("/sse/message", methodNotAllowed("POST"))
}

// mcpCaller is what MCP learns of an authenticated request.
func (s *Server) mcpCaller(c *fiber.Ctx) mcp.Caller {
	return mcp.Caller{Principal: principal(c), BaseURL: s.publicURL(c), CreateKey: s.createKey(c)}
}
