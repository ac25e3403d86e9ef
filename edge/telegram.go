package edge

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/feedbackd/feedbackd/notifier/dispatch/telegram"
	"github.com/feedbackd/feedbackd/pkg/envelope"
	"github.com/feedbackd/feedbackd/sessions"
)

// TelegramWebhook is the route Telegram posts the bot's updates to, in
// webhook mode (docs/api.md, "Telegram webhook"). The edge only checks and
// forwards: the dispatcher acts on the updates.
type TelegramWebhook struct {
	// Secret is what setWebhook was given; Telegram sends it in
	// X-Telegram-Bot-Api-Secret-Token with every update.
	Secret string
	// Publish hands one update (decoded, and as posted) to the dispatchers;
	// an error makes Telegram try again later.
	Publish func(ctx context.Context, u telegram.Update, raw []byte) error
}

// TelegramWebhookPath is where Telegram posts updates.
const TelegramWebhookPath = "/telegram/webhook"

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
	if !telegram.VerifySecret(c.Get(telegram.SecretHeader), tw.Secret) {
		return s.fail(c, &sessions.Error{Code: envelope.CodeUnauthorized, Message: "the webhook secret is missing or wrong"})
	}
	body, err := jsonBody(c)
	if err != nil {
		return s.fail(c, err)
	}
	u, err := telegram.DecodeUpdate(bytes.NewReader(body))
	if err != nil {
		return s.fail(c, sessions.Invalid("body", "must be one Telegram update"))
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), publishTimeout)
	defer cancel()
	if err := tw.Publish(ctx, u, bytes.Clone(body)); err != nil {
		var e *sessions.Error
		if !errors.As(err, &e) {
			e = &sessions.Error{Code: sessions.CodeServiceUnavailable, Message: "the update could not be stored; send it again", Err: err}
		}
		return s.fail(c, e)
	}
	return c.SendStatus(fiber.StatusOK)
}
