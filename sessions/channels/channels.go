package channels

import (
	"net/url"
	"slices"
	"time"

	"github.com/feedbackd/feedbackd/sessions"
)

// Kind names a channel.
type Kind string

// The channels.
const (
	KindWebhook  Kind = "webhook"
	KindTelegram Kind = "telegram"
	KindSlack    Kind = "slack"
	KindNtfy     Kind = "ntfy"
	KindWebPush  Kind = "webpush"
)

// Kinds lists every channel, in the order views show them.
var Kinds = []Kind{KindWebhook, KindTelegram, KindSlack, KindNtfy, KindWebPush}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool { return slices.Contains(Kinds, k) }

// Event is a session event, named as webhooks carry it in "type".
type Event string

// The events of a session's life, and the one a test notification carries.
const (
	EventCreated   Event = "session.created"
	EventCompleted Event = "session.completed"
	EventExpired   Event = "session.expired"
	EventCancelled Event = "session.cancelled"
	// EventTest is what "Send a test notification" sends.
	EventTest Event = "test"
)

// Events lists the session events a webhook may subscribe to.
var Events = []Event{EventCreated, EventCompleted, EventExpired, EventCancelled}

// EventOf is the event a session record in status st stands for: created
// while pending, and the event of its way out after that.
func EventOf(st sessions.Status) Event {
	switch st {
	case sessions.StatusCompleted:
		return EventCompleted
	case sessions.StatusExpired:
		return EventExpired
	case sessions.StatusCancelled:
		return EventCancelled
	}
	return EventCreated
}

// Final reports whether e ends a session.
func (e Event) Final() bool { return e == EventCompleted || e == EventExpired || e == EventCancelled }

// Settings are one principal's channels, as stored, secrets included.
type Settings struct {
	Owner    string    `json:"owner"`
	Webhooks []Webhook `json:"webhooks,omitempty"`
	Telegram *Telegram `json:"telegram,omitempty"`
	Slack    *Slack    `json:"slack,omitempty"`
	Ntfy     *Ntfy     `json:"ntfy,omitempty"`
	// WebPush holds the browsers that subscribed, newest last.
	WebPush []PushSubscription `json:"webPush,omitempty"`
	// Disabled lists channels the principal turned off, which also keeps
	// the operator's default for that channel away.
	Disabled  []Kind    `json:"disabled,omitempty"`
	UpdatedAt time.Time `json:"updatedAt"`

	// Revision is the store's revision, the token of the next
	// compare-and-swap; zero for settings never stored.
	Revision uint64 `json:"-"`
}

// Webhook is a signed webhook destination.
type Webhook struct {
	// ID is assigned when the webhook is added and kept across updates.
	ID  string `json:"id"`
	URL string `json:"url"`
	// Secret is "whsec_" and the base64 of the signing key (Standard
	// Webhooks).
	Secret string `json:"secret"`
	// Events are the events wanted; empty means all of them.
	Events []Event `json:"events,omitempty"`
	// IncludeAnswer puts the person's answer into session.completed.
	IncludeAnswer bool `json:"includeAnswer,omitempty"`
}

// Wants reports whether the webhook subscribes to e. Test notifications
// always go.
func (w *Webhook) Wants(e Event) bool {
	return e == EventTest || len(w.Events) == 0 || slices.Contains(w.Events, e)
}

// Telegram is a chat the bot writes to, by its numeric chat id.
type Telegram struct {
	ChatID string `json:"chatId"`
}

// Slack is an incoming webhook. Its URL is a credential: whoever has it can
// post to the channel.
type Slack struct {
	WebhookURL string `json:"webhookUrl"`
}

// Ntfy is a topic URL with an optional access token.
type Ntfy struct {
	URL   string `json:"url"`
	Token string `json:"token,omitempty"`
}

// PushSubscription is a browser's Web Push subscription (the JSON of
// PushSubscription.toJSON(), flattened).
type PushSubscription struct {
	// ID is derived from the endpoint; the same browser subscribing again
	// replaces its earlier entry.
	ID        string    `json:"id"`
	Endpoint  string    `json:"endpoint"`
	P256dh    string    `json:"p256dh"`
	Auth      string    `json:"auth"`
	CreatedAt time.Time `json:"createdAt"`
}

// disabled reports whether the principal turned k off.
func (s *Settings) disabled(k Kind) bool { return slices.Contains(s.Disabled, k) }

// Defaults are the operator's channels (from the environment) for every
// principal that has not set that channel up itself. They are trusted:
// their addresses are not checked against the private-address rule.
type Defaults struct {
	Webhook  *Webhook
	Telegram *Telegram
	Slack    *Slack
	Ntfy     *Ntfy
}

// DefaultID is the destination id of an operator default.
const DefaultID = "default"

// Destination is one place a notification goes, resolved from a principal's
// settings or the defaults. Exactly one of the channel fields is set, the
// one Kind names.
type Destination struct {
	Kind Kind
	// ID tells destinations of one kind apart: the webhook's or push
	// subscription's id, "own" for the principal's single Telegram, Slack
	// or ntfy setting, DefaultID for the operator's.
	ID string
	// Default marks the operator's destination (trusted, see Defaults).
	Default bool

	Webhook  *Webhook
	Telegram *Telegram
	Slack    *Slack
	Ntfy     *Ntfy
	Push     *PushSubscription
}

// OwnID is the destination id of a principal's single Telegram, Slack or
// ntfy setting.
const OwnID = "own"

// Label names the destination without revealing a secret: the host of a
// URL, the chat id.
func (d Destination) Label() string {
	switch {
	case d.Webhook != nil:
		return hostOf(d.Webhook.URL)
	case d.Telegram != nil:
		return "chat " + d.Telegram.ChatID
	case d.Slack != nil:
		return hostOf(d.Slack.WebhookURL)
	case d.Ntfy != nil:
		return hostOf(d.Ntfy.URL)
	case d.Push != nil:
		return hostOf(d.Push.Endpoint)
	}
	return ""
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}

// Wants reports whether the destination takes event e at all (webhooks
// choose their events; the other channels take every event).
func (d Destination) Wants(e Event) bool {
	if d.Webhook != nil {
		return d.Webhook.Wants(e)
	}
	return true
}
