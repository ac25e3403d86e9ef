package edge

import (
	"mime"

	"github.com/gofiber/fiber/v2"

	"github.com/feedbackd/feedbackd/pkg/envelope"
	"github.com/feedbackd/feedbackd/sessions"
)

// decodeJSON reads a JSON request body into v: the right content type, then
// the rules of envelope.Decode. Every failure is INVALID_REQUEST with the
// field at fault.
func decodeJSON(c *fiber.Ctx, v any) error {
	mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || mt != fiber.MIMEApplicationJSON {
		return sessions.Invalid("Content-Type", "must be application/json")
	}
	return envelope.Decode(c.Body(), v)
}
