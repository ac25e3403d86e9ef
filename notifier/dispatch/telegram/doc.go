// Package telegram puts feedbackd's questions into a Telegram chat through the
// Bot API (https://core.telegram.org/bots/api) and turns what the person does
// there back into answers.
//
// # Sending
//
// Client calls the Bot API over plain HTTPS with JSON (base URL configurable,
// TELEGRAM_API_URL, so a local Bot API server or telegramfake stands in).
// SendQuestion posts one message in HTML parse mode: the title in bold, the
// message, the time left, a hint, and the link. Every agent-provided string is
// escaped (&lt; &gt; &amp; &quot;), so no agent text can add markup; invalid
// UTF-8 and control characters are dropped; the message is shortened to
// Telegram's 4096 characters (UTF-16 units, counted after parsing). Options
// become an inline keyboard:
//
//   - single choice: one button per option; pressing it answers;
//   - multi-select: one ☐/☑ toggle per option and a "Send" button;
//   - always, when Telegram accepts the link as a button URL (not
//     "localhost"), an "Open" button to the question's page.
//
// EditClosed rewrites the message when the session ends (answered, expired,
// cancelled) and removes the keyboard; EditKeyboard shows a toggle's new
// state. Both treat Telegram's "message is not modified" as done, so a
// repeated edit is harmless.
//
// # Callback data
//
// Buttons carry compact tokens within Telegram's 64 bytes (see callback.go):
// "c:<session>:<i>" chooses option i, "t:<session>:<i>:<0|1>" is the toggle of
// option i and its current state, "s:<session>" sends. The full session id
// travels in the token, so a press resolves to (session, option) without any
// lookup; the toggles' state lives in the message's own keyboard, which
// Telegram hands back with every press, so any replica handles the next press
// and Send reads the selection from the keyboard.
//
// # Receiving
//
// ParseUpdate turns an Update — from GetUpdates or from a webhook request
// decoded by DecodeUpdate — into a Choose, Toggle, Send or Reply (a text reply
// to the question's message: a free-text answer), and refuses updates from any
// chat but the configured one. It is transport-free so that the long poll and
// the webhook route share it. VerifySecret checks a webhook request's
// X-Telegram-Bot-Api-Secret-Token in constant time; WebhookSecret derives the
// secret from the token, the same on every replica.
//
// Poller runs the long poll. Only one process may poll a bot; run the Poller
// under natsutil.Lock so that one replica polls and another takes over when it
// dies.
//
// # Secrets
//
// The bot token is a Token: it formats and logs as "[redacted]", and no error
// of this package contains it, although the request URL does.
//
// This package must not know sessions, NATS or HTTP routing: it speaks the Bot
// API and nothing else; the dispatcher maps sessions to questions and actions
// to answers.
package telegram
