package edge

import "github.com/gofiber/fiber/v2"

// RequireAuth exposes requireAuth to package edge_test, whose tests mount
// stand-ins for routes that live elsewhere (the MCP transports) behind the
// same authentication.
func (s *Server) RequireAuth(c *fiber.Ctx) error { return s.requireAuth(c) }
