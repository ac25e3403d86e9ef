package edge

import (
	"context"
	"mime"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/channels"
)

// ChannelsAPI is what the edge needs to serve a principal's notification
// settings (docs/api.md, "Notification channels"): the settings themselves,
// a way to have a dispatcher send a test notification, and the key
// browsers subscribe to Web Push with.
type ChannelsAPI struct {
	// Service keeps the settings and the recent delivery outcomes.
	Service *channels.Service
	// Test sends a test notification to the owner's destinations of a
	// channel and reports how each fared; it runs on whichever dispatcher
	// replica answers (dispatch.RequestTest), SERVICE_UNAVAILABLE when none
	// does.
	Test func(ctx context.Context, owner string, kind channels.Kind) ([]channels.Outcome, error)
	// VAPIDPublicKey is the applicationServerKey for
	// PushManager.subscribe: the cluster's VAPID public key, base64url.
	VAPIDPublicKey string
	// Available lists the channels this deployment can deliver to.
	Available []channels.Kind
}

// testTimeout bounds a test notification: a dispatcher sends to each
// destination of the channel, each within its send timeout.
const testTimeout = 45 * time.Second

// channelsData is the body of GET and PUT /api/channels: the settings
// without their secrets (channels.View), the last deliveries per channel,
// and the channels the deployment offers. Times are formatted as in every
// API body.
type channelsData struct {
	Webhooks  []channels.WebhookView            `json:"webhooks"`
	Telegram  *channels.Telegram                `json:"telegram"`
	Slack     *channels.SlackView               `json:"slack"`
	Ntfy      *channels.NtfyView                `json:"ntfy"`
	WebPush   []pushView                        `json:"webPush"`
	Disabled  []channels.Kind                   `json:"disabled"`
	Sources   map[channels.Kind]channels.Source `json:"sources"`
	UpdatedAt *string                           `json:"updatedAt"`
	Recent    map[channels.Kind][]outcome       `json:"recent"`
	Available []channels.Kind                   `json:"available"`
}

// pushView is a browser's subscription, without its keys.
type pushView struct {
	ID        string `json:"id"`
	Host      string `json:"host"`
	CreatedAt string `json:"createdAt"`
}

func pushViewOf(p channels.PushView) pushView {
	return pushView{ID: p.ID, Host: p.Host, CreatedAt: formatTime(p.CreatedAt)}
}

// outcome is how one notification fared (channels.Outcome).
type outcome struct {
	ID          string                `json:"id"`
	Event       channels.Event        `json:"event"`
	SessionID   string                `json:"sessionId,omitempty"`
	Destination string                `json:"destination"`
	Default     bool                  `json:"default,omitempty"`
	State       channels.OutcomeState `json:"state"`
	Attempts    int                   `json:"attempts"`
	StatusCode  int                   `json:"statusCode,omitempty"`
	Error       string                `json:"error,omitempty"`
	At          string                `json:"at"`
}

func outcomesOf(in []channels.Outcome) []outcome {
	out := make([]outcome, 0, len(in))
	for _, o := range in {
		out = append(out, outcome{ID: o.ID, Event: o.Event, SessionID: o.SessionID, Destination: o.Destination, Default: o.Default,
			State: o.State, Attempts: o.Attempts, StatusCode: o.StatusCode, Error: o.Error, At: formatTime(o.At)})
	}
	return out
}

type testRequest struct {
	Channel channels.Kind `json:"channel"`
}

type testData struct {
	Channel  channels.Kind `json:"channel"`
	Outcomes []outcome     `json:"outcomes"`
}

type vapidData struct {
	PublicKey string `json:"publicKey"`
}

type unsubscribeData struct {
	ID      string `json:"id"`
	Removed bool   `json:"removed"`
}

// channelRoutes registers the settings API on r, when the edge has one,
// behind require, which puts the principal where the handlers find it: under
// /api with requireAuth, under the inbox's own routes with requireInbox.
func (s *Server) channelRoutes(r fiber.Router, require fiber.Handler) {
	if s.cfg.Channels == nil {
		return
	}
	r.Get("/channels", require, s.handleGetChannels)
	r.Put("/channels", require, s.handlePutChannels)
	r.All("/channels", methodNotAllowed("GET, HEAD, PUT"))
	r.Post("/channels/test", require, s.handleTestChannel)
	r.All("/channels/test", methodNotAllowed("POST"))
	r.Post("/push/subscriptions", require, s.handleSubscribe)
	r.Delete("/push/subscriptions", require, s.handleUnsubscribe)
	r.All("/push/subscriptions", methodNotAllowed("DELETE, POST"))
	r.Get("/push/vapid-public-key", require, s.handleVAPIDKey)
	r.All("/push/vapid-public-key", methodNotAllowed("GET, HEAD"))
}

// jsonBody checks that the request carries JSON and returns its body.
func jsonBody(c *fiber.Ctx) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || mt != fiber.MIMEApplicationJSON {
		return nil, sessions.Invalid("Content-Type", "must be application/json")
	}
	return c.Body(), nil
}

func (s *Server) channelsData(ctx context.Context, owner string, v *channels.View) (*channelsData, error) {
	recent, err := s.cfg.Channels.Service.Recent(ctx, owner)
	if err != nil {
		return nil, err
	}
	d := &channelsData{
		Webhooks: v.Webhooks, Telegram: v.Telegram, Slack: v.Slack, Ntfy: v.Ntfy, WebPush: []pushView{},
		Disabled: v.Disabled, Sources: v.Sources, Recent: map[channels.Kind][]outcome{},
		Available: slices.Clone(s.cfg.Channels.Available),
	}
	for _, p := range v.WebPush {
		d.WebPush = append(d.WebPush, pushViewOf(p))
	}
	if v.UpdatedAt != nil {
		t := formatTime(*v.UpdatedAt)
		d.UpdatedAt = &t
	}
	for k, outs := range recent {
		d.Recent[k] = outcomesOf(outs)
	}
	return d, nil
}

func (s *Server) handleGetChannels(c *fiber.Ctx) error {
	ctx, owner := c.UserContext(), principal(c).ID
	v, err := s.cfg.Channels.Service.View(ctx, owner)
	if err != nil {
		return s.fail(c, err)
	}
	data, err := s.channelsData(ctx, owner, v)
	if err != nil {
		return s.fail(c, err)
	}
	return ok(c, fiber.StatusOK, data)
}

func (s *Server) handlePutChannels(c *fiber.Ctx) error {
	body, err := jsonBody(c)
	if err != nil {
		return s.fail(c, err)
	}
	u, err := channels.DecodeUpdate(body)
	if err != nil {
		return s.fail(c, err)
	}
	ctx, owner := c.UserContext(), principal(c).ID
	v, err := s.cfg.Channels.Service.Update(ctx, owner, u)
	if err != nil {
		return s.fail(c, err)
	}
	data, err := s.channelsData(ctx, owner, v)
	if err != nil {
		return s.fail(c, err)
	}
	return ok(c, fiber.StatusOK, data)
}

func (s *Server) handleTestChannel(c *fiber.Ctx) error {
	var req testRequest
	if err := decodeJSON(c, &req); err != nil {
		return s.fail(c, err)
	}
	if !req.Channel.Valid() {
		return s.fail(c, sessions.Invalid("channel", "must be one of webhook, telegram, slack, ntfy, webpush"))
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), testTimeout)
	defer cancel()
	outs, err := s.cfg.Channels.Test(ctx, principal(c).ID, req.Channel)
	if err != nil {
		return s.fail(c, err)
	}
	return ok(c, fiber.StatusOK, testData{Channel: req.Channel, Outcomes: outcomesOf(outs)})
}

func (s *Server) handleSubscribe(c *fiber.Ctx) error {
	body, err := jsonBody(c)
	if err != nil {
		return s.fail(c, err)
	}
	in, err := channels.DecodePushSubscription(body)
	if err != nil {
		return s.fail(c, err)
	}
	v, err := s.cfg.Channels.Service.AddPushSubscription(c.UserContext(), principal(c).ID, in)
	if err != nil {
		return s.fail(c, err)
	}
	return ok(c, fiber.StatusCreated, pushViewOf(*v))
}

func (s *Server) handleUnsubscribe(c *fiber.Ctx) error {
	body, err := jsonBody(c)
	if err != nil {
		return s.fail(c, err)
	}
	// The browser's whole PushSubscription JSON is accepted as well as
	// {"endpoint":…}: only the endpoint names it.
	in, err := channels.DecodePushSubscription(body)
	if err != nil {
		return s.fail(c, err)
	}
	removed, err := s.cfg.Channels.Service.RemovePushEndpoint(c.UserContext(), principal(c).ID, in.Endpoint)
	if err != nil {
		return s.fail(c, err)
	}
	return ok(c, fiber.StatusOK, unsubscribeData{ID: channels.PushSubscriptionID(in.Endpoint), Removed: removed})
}

func (s *Server) handleVAPIDKey(c *fiber.Ctx) error {
	return ok(c, fiber.StatusOK, vapidData{PublicKey: s.cfg.Channels.VAPIDPublicKey})
}
