// Package channels is the domain of notification channels: where a
// principal wants to hear about its sessions (signed webhooks, a Telegram
// chat, a Slack incoming webhook, an ntfy topic, Web Push subscriptions),
// the operator's defaults that apply to every principal without settings of
// its own, the rules a setting must meet, and the last delivery outcomes the
// settings view shows.
//
// Settings hold secrets (webhook signing secrets, the Slack webhook URL, the
// ntfy token, push subscription keys). They are write-only: View, the shape
// the API returns, never carries one, only that it is set. An update that
// leaves a secret out keeps the stored one.
//
// Every change is a compare-and-swap on the stored record through Store, so
// two replicas (or two browser tabs) never lose each other's writes
// silently. Destinations that users type are checked when they are saved
// (absolute http(s) URLs, no credentials in them, public addresses only,
// through the URLChecker the caller passes, normally pkg/egress); the
// operator's defaults are trusted.
//
// It must not know NATS, HTTP routing or how a notification is sent; the
// JetStream KV Store lives in sessions/natskv and the sending in
// notifier/dispatch.
package channels
