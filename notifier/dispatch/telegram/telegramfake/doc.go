// Package telegramfake is a fake Telegram Bot API for tests: an HTTP server on
// 127.0.0.1 that speaks the routes feedbackd uses — /bot<token>/getMe,
// sendMessage, editMessageText, editMessageReplyMarkup, answerCallbackQuery,
// getUpdates, setWebhook, deleteWebhook, getWebhookInfo — with the Bot API's
// envelope ({"ok":…,"result":…} or {"ok":false,"error_code":…,"description":…})
// and its parameter encodings (query string, form, JSON).
//
// It checks what Telegram checks and answers as Telegram does: the token
// (401 Unauthorized), the chat (400 chat not found), HTML parse mode (400
// "can't parse entities: Unsupported start tag …" for an unknown, unbalanced
// or unclosed tag, following Telegram's own parser), text of 1–4096
// characters after parsing, callback data of 1–64 bytes (BUTTON_DATA_INVALID),
// button URLs (http, https or tg, and a host with a dot — no localhost), edits
// that change nothing ("message is not modified"), a callback answered twice,
// getUpdates while a webhook is set or while another getUpdates runs (409
// Conflict), and webhooks that are not https on ports 443, 80, 88 or 8443 of
// a public address (Config.AllowLocalWebhook lifts the port and address rule
// for tests).
//
// getUpdates has Telegram's semantics: updates stay until a later call's
// offset confirms them, and a call waits up to its timeout for one to arrive.
// With a webhook set, updates are posted to it in order with the
// X-Telegram-Bot-Api-Secret-Token header and retried until it answers 2xx.
//
// A test acts as the person with Press (a button press: a callback_query
// carrying the message and its current keyboard; only buttons on the message
// can be pressed), PressOption, Reply (a text reply to a message) and Say, or
// injects any update with Inject; it inspects Messages, Calls, CallbackAnswer,
// Pending and Deliveries.
//
// Usage:
//
//	fake := telegramfake.Start(t, telegramfake.Config{Token: token})
//	c, _ := telegram.New(telegram.Config{Token: token, APIURL: fake.URL})
//	id, _ := c.SendQuestion(ctx, telegramfake.DefaultChatID, q)
//	fake.PressOption(telegramfake.DefaultChatID, id, "Yes")
//	ups, _ := c.GetUpdates(ctx, 0, time.Second)
//
// Only HTML parse mode is spoken; MarkdownV2 is refused with a 400 that says
// so. The package must not know feedbackd's sessions: it fakes Telegram.
package telegramfake
