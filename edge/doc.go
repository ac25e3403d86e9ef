// Package edge is the HTTP face of feedbackd: the host check,
// authentication, rate limits and CORS, the REST API, the feedback page and
// the landing page, and the mounts of MCP (package edge/mcp) and of the
// operations API (pkg/opsapi) on one fiber app. See docs/api.md. It consumes
// sessions.Service and must not know how sessions are stored, nor anything
// of the other roles: the notification settings API serves what ChannelsAPI
// hands it (test notifications included), and the Telegram webhook route
// checks Telegram's secret and gives the update to TelegramWebhook.Publish,
// without decoding it or knowing who acts on it.
package edge
