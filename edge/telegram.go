package edge

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/feedbackd/feedbackd/pkg/envelope"
	"github.com/feedbackd/feedbackd/sessions"
)

// TelegramWebhook is the route Telegram posts the bot's updates to, in
// webhook mode (docs/api.md, "Telegram webhook"). The edge only checks and
// forwards: the dispatcher reads the updates and acts on them.
type TelegramWebhook struct {
	// Secret is what setWebhook was given; Telegram sends it in
	// TelegramSecretHeader with every update. Empty refuses every request.
	Secret string
	// Publish hands one update, as posted, to the dispatchers; an error
	// makes Telegram try again later.
	Publish func(ctx context.Context, updateID int64, raw []byte) error
}

// TelegramWebhookPath is where Telegram posts updates.
const TelegramWebhookPath = "/telegram/webhook"

// TelegramSecretHeader carries the webhook's secret (Bot API, setWebhook's
// secret_token).
const TelegramSecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// publishTimeout bounds handing an update on; Telegram waits longer.
const publishTimeout = 10 * time.Second

func (s *Server) telegramRoutes() {
	if s.cfg.TelegramWebhook == nil {
		return
	}
	s.app.Post(TelegramWebhookPath, s.handleTelegramUpdate)
	s.app.All(TelegramWebhookPath, methodNotAllowed("POST"))
}

// handleTelegramUpdate takes an update from Telegram: the secret header must
// match (compared in constant time), the body must be one update; then it is
// published and answered 200, which tells Telegram it was received. Any
// other answer makes Telegram send it again.
func (s *Server) handleTelegramUpdate(c *fiber.Ctx) error {
	tw := s.cfg.TelegramWebhook
	got := c.Get(TelegramSecretHeader)
	if tw.Secret == "" || subtle.ConstantTimeCompare([]byte(got), []byte(tw.Secret)) != 1 {
		return s.fail(c, &sessions.Error{Code: envelope.CodeUnauthorized, Message: "the webhook secret is missing or wrong"})
	}
	body, err := jsonBody(c)
	if err != nil {
		return s.fail(c, err)
	}
	// Only the id is read here, to store each update once; the dispatcher
	// decodes the rest.
	var u struct {
		UpdateID int64 `json:"update_id"`
	}
	if err := envelope.Decode(body, &u); err != nil || u.UpdateID <= 0 || !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
		return s.fail(c, sessions.Invalid("body", "must be one Telegram update with an update_id"))
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), publishTimeout)
	defer cancel()
	if err := tw.Publish(ctx, u.UpdateID, bytes.Clone(body)); err != nil {
		var e *sessions.Error
		if !errors.As(err, &e) {
			e = &sessions.Error{Code: sessions.CodeServiceUnavailable, Message: "the update could not be stored; send it again", Err: err}
		}
		return s.fail(c, e)
	}
	return c.SendStatus(fiber.StatusOK)
}
