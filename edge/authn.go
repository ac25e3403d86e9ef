package edge

import (
	"github.com/gofiber/fiber/v2"

	"github.com/feedbackd/feedbackd/pkg/auth"
	"github.com/feedbackd/feedbackd/sessions"
)

const principalKey = "feedbackd.principal"

// credentials reads what a request offers to prove who it is.
func credentials(c *fiber.Ctx) auth.Credentials {
	return auth.Credentials{
		Authorization: c.Get(fiber.HeaderAuthorization),
		APIKey:        c.Get("X-API-Key"),
	}
}

// requireAuth lets the request through only with valid credentials and puts
// the principal where handlers find it.
func (s *Server) requireAuth(c *fiber.Ctx) error {
	p, err := s.authn.Authenticate(c.UserContext(), credentials(c))
	if err != nil {
		s.log.DebugContext(c.UserContext(), "authentication failed", "path", c.Path(), "reason", err)
		return s.fail(c, sessions.Errorf(sessions.CodeUnauthorized, "missing or invalid credentials: send X-API-Key, Authorization: ApiKey <key>, or Authorization: Bearer <jwt>"))
	}
	c.Locals(principalKey, p)
	return c.Next()
}

// principal returns the principal requireAuth established.
func principal(c *fiber.Ctx) auth.Principal {
	p, _ := c.Locals(principalKey).(auth.Principal)
	return p
}
