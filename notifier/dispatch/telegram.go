package dispatch

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/feedbackd/feedbackd/notifier/dispatch/telegram"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/channels"
)

// TelegramConfig turns the Telegram channel on: one bot (the operator's)
// writes to every principal's chat.
type TelegramConfig struct {
	// Client calls the Bot API as the bot. Required.
	Client *telegram.Client
	// WebhookURL, when set, is where Telegram posts the bot's updates: the
	// edge's /telegram/webhook, which publishes each to TelegramSubject.
	// Every replica registers it with setWebhook as it starts and follows
	// TelegramStream. Empty means long polling: one replica at a time polls
	// getUpdates, under the lock TelegramPollLock.
	WebhookURL string
	// WebhookSecret is what Telegram sends with every update, for the edge
	// to check; required with WebhookURL (telegram.WebhookSecret).
	WebhookSecret string
	// PollTimeout is how long one getUpdates waits for an update [30s].
	PollTimeout time.Duration
	// LockTTL is how long a poller that died keeps the poll lock before
	// another replica takes over; whole seconds [15s].
	LockTTL time.Duration
}

func (c *TelegramConfig) check() error {
	if c.Client == nil {
		return errors.New("dispatch: Telegram.Client is required")
	}
	if c.WebhookURL != "" && c.WebhookSecret == "" {
		return errors.New("dispatch: Telegram.WebhookSecret is required with a WebhookURL")
	}
	if c.PollTimeout <= 0 {
		c.PollTimeout = 30 * time.Second
	}
	if c.LockTTL <= 0 {
		c.LockTTL = 15 * time.Second
	}
	if c.LockTTL < time.Second || c.LockTTL%time.Second != 0 {
		return fmt.Errorf("dispatch: Telegram.LockTTL %v must be a whole number of seconds", c.LockTTL)
	}
	return nil
}

// telegramChannel sends questions to a chat as one message with the options
// as buttons (telegram.Client.SendQuestion), remembers which session each
// message asks, and edits the message when the session ends
// (EditClosed), never sending a second one. The message id is the
// announcement's Receipt.Ref ("<chat>:<message>"), which the end notice
// receives as Notification.Announcement.
type telegramChannel struct {
	d   *Dispatcher
	api *telegram.Client
}

// Deliver implements Channel.
func (c *telegramChannel) Deliver(ctx context.Context, n *Notification) (Receipt, error) {
	dest := n.Destination.Telegram
	if dest == nil {
		return Receipt{}, PermanentError(0, errors.New("not a Telegram destination"))
	}
	chat, err := strconv.ParseInt(dest.ChatID, 10, 64)
	if err != nil || chat == 0 {
		return Receipt{}, PermanentError(0, errors.New("the Telegram chat id must be a number"))
	}
	switch {
	case n.Event == channels.EventTest:
		id, err := c.api.SendText(ctx, chat, "🔔 "+TestMessage)
		if err != nil {
			return Receipt{}, telegramError(err)
		}
		return Receipt{Ref: messageRef(chat, id)}, nil
	case n.Event.Final():
		if n.Announcement == "" {
			return Receipt{}, nil // nothing was announced, nothing to close
		}
		chat, msg, err := parseMessageRef(n.Announcement)
		if err != nil {
			return Receipt{}, PermanentError(0, err)
		}
		if err := c.api.EditClosed(ctx, chat, msg, telegramQuestion(n.Session, n.Link), telegramOutcome(n)); err != nil {
			return Receipt{}, telegramError(err)
		}
		return Receipt{Ref: n.Announcement}, nil
	}
	id, err := c.api.SendQuestion(ctx, chat, telegramQuestion(n.Session, n.Link))
	if err != nil {
		return Receipt{}, telegramError(err)
	}
	// Sent: from here on the delivery counts as made, whatever happens to
	// the bookkeeping, or a retry would send a second message.
	if err := c.d.rememberMessage(ctx, chat, id, n.Session.ID); err != nil {
		c.d.log.Error("remembering a Telegram question failed: presses and replies on it will be refused",
			"session", n.Session.ID, "chat", chat, "message", id, "err", err)
	}
	return Receipt{Ref: messageRef(chat, id)}, nil
}

// rememberMessage records the session a bot's message asks, riding out a
// short storage hiccup. It does not give up when the delivery's own
// context ends: the message is out, and only the record lets the person
// answer it.
func (d *Dispatcher) rememberMessage(ctx context.Context, chat int64, message int, session string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var err error
	for wait := 50 * time.Millisecond; ; wait *= 2 {
		if err = d.records.putChatMessage(ctx, chat, message, session); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// messageRef and parseMessageRef are a Telegram message's Receipt.Ref.
func messageRef(chat int64, message int) string {
	return strconv.FormatInt(chat, 10) + ":" + strconv.Itoa(message)
}

func parseMessageRef(ref string) (int64, int, error) {
	c, m, ok := strings.Cut(ref, ":")
	chat, err1 := strconv.ParseInt(c, 10, 64)
	msg, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || msg <= 0 || messageRef(chat, msg) != ref {
		return 0, 0, fmt.Errorf("the announcement %q is not a Telegram message reference", ref)
	}
	return chat, msg, nil
}

// The buttons of an approval, in this order: option 0 approves.
var approvalButtons = []string{"✅ Approve", "❌ Deny"}

// telegramQuestion is how session s is shown in a chat: its title (for an
// approval without one, "Approve: <action>?"), its message, and buttons
// that answer it — its options, approve and deny, or none for a form,
// which needs the page.
func telegramQuestion(s *sessions.Session, link string) telegram.Question {
	q := telegram.Question{SessionID: s.ID, Title: s.Title, Message: s.Message, ExpiresAt: s.ExpiresAt, URL: link}
	switch {
	case s.Approval != nil:
		line := approvalLine(s.Approval)
		if strings.TrimSpace(s.Title) == "" {
			q.Title = line
		} else {
			q.Message = strings.TrimSpace(line + "\n\n" + s.Message)
		}
		if len(s.Approval.Details) > 0 {
			q.Message = strings.TrimSpace(q.Message + "\n\n" + cut(string(s.Approval.Details), 1000))
		}
		q.Options = approvalButtons
		q.Hint = "Press Approve or Deny, or open the link."
	case s.Fields != nil:
		q.Hint = "This question is a form: open the link to answer it."
	default:
		q.Options = s.PredefinedOptions
		q.MultiSelect = s.MultiSelect() && len(s.PredefinedOptions) > 1
	}
	return q
}

// telegramOutcome is what the closed message says: how the session ended,
// with the answer when there is one.
func telegramOutcome(n *Notification) telegram.Outcome {
	switch n.Event {
	case channels.EventCompleted:
		o := telegram.Outcome{Status: telegram.StatusAnswered}
		if f := n.Session.Feedback; f != nil {
			o.Answer = f.CombinedFeedback
		}
		return o
	case channels.EventExpired:
		return telegram.Outcome{Status: telegram.StatusExpired}
	}
	return telegram.Outcome{Status: telegram.StatusCancelled}
}

// telegramError classifies a Bot API failure: flood control and
// Telegram's own errors may pass (honouring retry_after), a refused request
// (chat not found, bot blocked, token revoked) will not, and a request that
// got no answer may.
func telegramError(err error) error {
	var apiErr *telegram.Error
	switch {
	case errors.As(err, &apiErr):
		if apiErr.Temporary() {
			return TransientError(apiErr.Code, apiErr.RetryAfter, err)
		}
		return PermanentError(apiErr.Code, err)
	case errors.Is(err, telegram.ErrInvalid):
		return PermanentError(0, err)
	}
	return TransientError(0, 0, err)
}
