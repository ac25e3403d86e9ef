package edge

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/gofiber/fiber/v2"

	"github.com/feedbackd/feedbackd/web"
)

// openAPIPath is where the OpenAPI document of the HTTP API is served (see
// docs/api.md). It is public and readable from any origin: it describes the
// API, nothing more.
const openAPIPath = "/openapi.json"

// openAPIRoutes serves the document embedded in package web. It changes only
// with the binary, so it may be cached, and revalidated by its ETag.
func (s *Server) openAPIRoutes() {
	doc := web.OpenAPI()
	sum := sha256.Sum256(doc)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	s.app.Get(openAPIPath, func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "public, max-age=300")
		c.Set(fiber.HeaderETag, etag)
		if c.Fresh() {
			return c.SendStatus(fiber.StatusNotModified)
		}
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(doc)
	})
	s.app.All(openAPIPath, methodNotAllowed("GET, HEAD"))
}
