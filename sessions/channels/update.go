package channels

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/feedbackd/feedbackd/pkg/egress"
	"github.com/feedbackd/feedbackd/sessions"
)

// Limits of a principal's settings.
const (
	MaxWebhooks          = 5
	MaxPushSubscriptions = 10
	// MaxUpdateBytes bounds the JSON of an Update and of a push
	// subscription.
	MaxUpdateBytes = 64 << 10
	// SecretPrefix starts every webhook signing secret.
	SecretPrefix = "whsec_"
	// MinSecretBytes and MaxSecretBytes bound a decoded signing key.
	MinSecretBytes = 24
	MaxSecretBytes = 64
	maxTokenLen    = 256
)

// Update is what a principal sends to replace its settings (PUT
// /api/channels). What it leaves out is cleared, except secrets: a webhook
// given with its id and without a secret keeps its secret, a Slack setting
// without a URL keeps its URL, an ntfy setting without a token keeps its
// token (an empty token clears it). Web Push subscriptions are not part of
// an update; browsers add and remove their own.
type Update struct {
	Webhooks []WebhookUpdate `json:"webhooks"`
	Telegram *Telegram       `json:"telegram"`
	Slack    *SlackUpdate    `json:"slack"`
	Ntfy     *NtfyUpdate     `json:"ntfy"`
	Disabled []Kind          `json:"disabled"`
}

// WebhookUpdate is one webhook of an Update.
type WebhookUpdate struct {
	// ID names an existing webhook to keep (and its secret); leave it out
	// to add one.
	ID            string  `json:"id,omitempty"`
	URL           string  `json:"url"`
	Secret        *string `json:"secret,omitempty"`
	Events        []Event `json:"events,omitempty"`
	IncludeAnswer bool    `json:"includeAnswer,omitempty"`
}

// SlackUpdate sets the Slack incoming webhook; a nil WebhookURL keeps the
// stored one.
type SlackUpdate struct {
	WebhookURL *string `json:"webhookUrl,omitempty"`
}

// NtfyUpdate sets the ntfy topic; a nil Token keeps the stored one, an
// empty one clears it.
type NtfyUpdate struct {
	URL   string  `json:"url"`
	Token *string `json:"token,omitempty"`
}

// PushSubscriptionInput is what a browser's PushSubscription.toJSON()
// gives: the endpoint and its two keys, base64url.
type PushSubscriptionInput struct {
	Endpoint string `json:"endpoint"`
	Keys     struct {
		P256dh string `json:"p256dh"`
		Auth   string `json:"auth"`
	} `json:"keys"`
	// ExpirationTime is accepted because browsers send it, and ignored: a
	// push service that drops the subscription answers 404 or 410, and the
	// subscription is removed then.
	ExpirationTime *float64 `json:"expirationTime,omitempty"`
}

// DecodeUpdate parses the JSON of an Update strictly: one object, known
// fields only, at most MaxUpdateBytes. Errors are INVALID_REQUEST naming the
// field when there is one.
func DecodeUpdate(data []byte) (*Update, error) {
	var u Update
	if err := decodeStrict(data, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// DecodePushSubscription parses the JSON of a PushSubscriptionInput as
// DecodeUpdate does.
func DecodePushSubscription(data []byte) (*PushSubscriptionInput, error) {
	var p PushSubscriptionInput
	if err := decodeStrict(data, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

func decodeStrict(data []byte, v any) error {
	if len(data) > MaxUpdateBytes {
		return sessions.Invalid("body", fmt.Sprintf("must be at most %d bytes", MaxUpdateBytes))
	}
	if t := bytes.TrimSpace(data); len(t) == 0 || t[0] != '{' {
		return sessions.Invalid("body", "must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typeErr) && typeErr.Field != "":
			return sessions.Invalid(typeErr.Field, "must be a JSON "+jsonType(typeErr.Type.Kind().String()))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return sessions.Invalid(name, "is not a known field")
		}
		return sessions.Invalid("body", "is not valid JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return sessions.Invalid("body", "must hold one JSON object and nothing after it")
	}
	return nil
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "struct", "map", "ptr":
		return "object"
	}
	return "number"
}

// NewWebhookSecret returns a fresh signing secret: "whsec_" and the base64
// of 32 random bytes.
func NewWebhookSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// SecretKey returns the signing key a "whsec_" secret carries.
func SecretKey(secret string) ([]byte, error) {
	if !strings.HasPrefix(secret, SecretPrefix) {
		return nil, errors.New(`must start with "whsec_"`)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil {
		return nil, errors.New(`must be "whsec_" followed by standard base64`)
	}
	if len(key) < MinSecretBytes || len(key) > MaxSecretBytes {
		return nil, fmt.Errorf("must encode between %d and %d bytes, got %d", MinSecretBytes, MaxSecretBytes, len(key))
	}
	return key, nil
}

// URLChecker checks a destination URL typed by a user: its form and that it
// leads to an address the server may reach. *egress.Client implements it.
type URLChecker interface {
	CheckURL(ctx context.Context, raw string) error
}

var (
	// A numeric chat id: the bot answers presses and replies by chat id,
	// and a private chat, group or channel has one (a person learns theirs
	// by sending /start to the bot).
	chatIDRe    = regexp.MustCompile(`^-?[1-9][0-9]{0,15}$`)
	ntfyTopicRe = regexp.MustCompile(`^[-_A-Za-z0-9]{1,64}$`)
	webhookIDRe = regexp.MustCompile(`^wh_[0-9a-f]{16}$`)
)

// apply validates u against the stored settings prev and returns the new
// settings. check judges every URL; nil accepts any well-formed one.
func apply(ctx context.Context, prev *Settings, u *Update, check URLChecker) (*Settings, error) {
	next := &Settings{Owner: prev.Owner, WebPush: prev.WebPush, Revision: prev.Revision}
	if len(u.Webhooks) > MaxWebhooks {
		return nil, sessions.Invalid("webhooks", fmt.Sprintf("at most %d webhooks are allowed, got %d", MaxWebhooks, len(u.Webhooks)))
	}
	seen := map[string]bool{}
	for i, w := range u.Webhooks {
		field := fmt.Sprintf("webhooks[%d]", i)
		hook := Webhook{ID: w.ID, URL: w.URL, IncludeAnswer: w.IncludeAnswer}
		var old *Webhook
		if w.ID != "" {
			idx := slices.IndexFunc(prev.Webhooks, func(p Webhook) bool { return p.ID == w.ID })
			if !webhookIDRe.MatchString(w.ID) || idx < 0 {
				return nil, sessions.Invalid(field+".id", "is not one of your webhooks; leave it out to add a webhook")
			}
			if seen[w.ID] {
				return nil, sessions.Invalid(field+".id", "appears twice")
			}
			seen[w.ID] = true
			old = &prev.Webhooks[idx]
		} else {
			hook.ID = newWebhookID()
		}
		if err := checkURL(ctx, check, field+".url", w.URL); err != nil {
			return nil, err
		}
		switch {
		case w.Secret != nil:
			if _, err := SecretKey(*w.Secret); err != nil {
				return nil, sessions.Invalid(field+".secret", err.Error())
			}
			hook.Secret = *w.Secret
		case old != nil:
			hook.Secret = old.Secret
		default:
			return nil, sessions.Invalid(field+".secret", `is required for a new webhook: "whsec_" followed by the base64 of 24 to 64 random bytes`)
		}
		for j, e := range w.Events {
			if !slices.Contains(Events, e) {
				return nil, sessions.Invalid(fmt.Sprintf("%s.events[%d]", field, j),
					"must be one of session.created, session.completed, session.expired, session.cancelled")
			}
			if !slices.Contains(hook.Events, e) {
				hook.Events = append(hook.Events, e)
			}
		}
		next.Webhooks = append(next.Webhooks, hook)
	}
	if u.Telegram != nil {
		if !chatIDRe.MatchString(u.Telegram.ChatID) {
			return nil, sessions.Invalid("telegram.chatId", "must be a numeric chat id, such as 123456789 or -1001234567890 (send /start to the bot to learn yours)")
		}
		next.Telegram = &Telegram{ChatID: u.Telegram.ChatID}
	}
	if u.Slack != nil {
		switch {
		case u.Slack.WebhookURL != nil:
			if err := checkURL(ctx, check, "slack.webhookUrl", *u.Slack.WebhookURL); err != nil {
				return nil, err
			}
			next.Slack = &Slack{WebhookURL: *u.Slack.WebhookURL}
		case prev.Slack != nil:
			next.Slack = &Slack{WebhookURL: prev.Slack.WebhookURL}
		default:
			return nil, sessions.Invalid("slack.webhookUrl", "is required")
		}
	}
	if u.Ntfy != nil {
		if err := checkNtfyURL(ctx, check, u.Ntfy.URL); err != nil {
			return nil, err
		}
		n := &Ntfy{URL: u.Ntfy.URL}
		switch {
		case u.Ntfy.Token != nil:
			if err := checkToken(*u.Ntfy.Token); err != nil {
				return nil, sessions.Invalid("ntfy.token", err.Error())
			}
			n.Token = *u.Ntfy.Token
		case prev.Ntfy != nil:
			n.Token = prev.Ntfy.Token
		}
		next.Ntfy = n
	}
	for i, k := range u.Disabled {
		if !k.Valid() {
			return nil, sessions.Invalid(fmt.Sprintf("disabled[%d]", i), "must be one of webhook, telegram, slack, ntfy, webpush")
		}
		if !slices.Contains(next.Disabled, k) {
			next.Disabled = append(next.Disabled, k)
		}
	}
	return next, nil
}

func checkURL(ctx context.Context, check URLChecker, field, raw string) error {
	if _, err := egress.ParseURL(raw); err != nil {
		return sessions.Invalid(field, err.Error())
	}
	if check == nil {
		return nil
	}
	if err := check.CheckURL(ctx, raw); err != nil {
		return sessions.Invalid(field, err.Error())
	}
	return nil
}

func checkNtfyURL(ctx context.Context, check URLChecker, raw string) error {
	u, err := egress.ParseURL(raw)
	if err != nil {
		return sessions.Invalid("ntfy.url", err.Error())
	}
	path := strings.TrimSuffix(u.Path, "/")
	topic := path[strings.LastIndex(path, "/")+1:]
	if !ntfyTopicRe.MatchString(topic) || u.RawQuery != "" || u.Fragment != "" {
		return sessions.Invalid("ntfy.url", "must be a topic URL such as https://ntfy.sh/my-topic (letters, digits, - and _)")
	}
	return checkURL(ctx, check, "ntfy.url", raw)
}

func checkToken(tok string) error {
	if len(tok) > maxTokenLen {
		return fmt.Errorf("must be at most %d characters", maxTokenLen)
	}
	for _, r := range tok {
		if r > unicode.MaxASCII || !unicode.IsPrint(r) || r == ' ' {
			return errors.New("must be printable ASCII without spaces")
		}
	}
	return nil
}

// pushSubscription validates a browser's subscription.
func pushSubscription(ctx context.Context, in *PushSubscriptionInput, check URLChecker) (*PushSubscription, error) {
	u, err := egress.ParseURL(in.Endpoint)
	if err != nil {
		return nil, sessions.Invalid("endpoint", err.Error())
	}
	if u.Scheme != "https" {
		return nil, sessions.Invalid("endpoint", "must be an https URL")
	}
	if check != nil {
		if err := check.CheckURL(ctx, in.Endpoint); err != nil {
			return nil, sessions.Invalid("endpoint", err.Error())
		}
	}
	key, err := decodeB64URL(in.Keys.P256dh)
	if err != nil || len(key) != 65 {
		return nil, sessions.Invalid("keys.p256dh", "must be the base64url of an uncompressed P-256 public key (65 bytes)")
	}
	if _, err := ecdh.P256().NewPublicKey(key); err != nil {
		return nil, sessions.Invalid("keys.p256dh", "is not a point on the P-256 curve")
	}
	auth, err := decodeB64URL(in.Keys.Auth)
	if err != nil || len(auth) != 16 {
		return nil, sessions.Invalid("keys.auth", "must be the base64url of 16 bytes")
	}
	return &PushSubscription{
		ID:       PushSubscriptionID(in.Endpoint),
		Endpoint: in.Endpoint,
		P256dh:   in.Keys.P256dh,
		Auth:     in.Keys.Auth,
	}, nil
}

// PushSubscriptionID is the id of the subscription with endpoint: the same
// browser subscribing again gets the same id, and a browser unsubscribing
// names its subscription by the endpoint alone.
func PushSubscriptionID(endpoint string) string {
	sum := sha256.Sum256([]byte(endpoint))
	return "wp_" + hex.EncodeToString(sum[:8])
}

// decodeB64URL accepts base64url with or without padding, as browsers and
// libraries differ.
func decodeB64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

func newWebhookID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "wh_" + hex.EncodeToString(b)
}

// Validate checks the operator's defaults: the same form rules as a
// principal's settings, without the private-address rule. Errors name the
// environment variable.
func (d Defaults) Validate() error {
	if w := d.Webhook; w != nil {
		if _, err := egress.ParseURL(w.URL); err != nil {
			return fmt.Errorf("NOTIFY_WEBHOOK_URL %q: %v", w.URL, err)
		}
		if _, err := SecretKey(w.Secret); err != nil {
			return fmt.Errorf("NOTIFY_WEBHOOK_SECRET: %v", err)
		}
		for _, e := range w.Events {
			if !slices.Contains(Events, e) {
				return fmt.Errorf("NOTIFY_WEBHOOK_EVENTS: %q is not one of session.created, session.completed, session.expired, session.cancelled", e)
			}
		}
	}
	if t := d.Telegram; t != nil && !chatIDRe.MatchString(t.ChatID) {
		return fmt.Errorf("TELEGRAM_CHAT_ID=%q: must be a numeric chat id, such as 123456789 or -1001234567890", t.ChatID)
	}
	if s := d.Slack; s != nil {
		if _, err := egress.ParseURL(s.WebhookURL); err != nil {
			return fmt.Errorf("SLACK_WEBHOOK_URL: %v", err)
		}
	}
	if n := d.Ntfy; n != nil {
		if err := checkNtfyURL(context.Background(), nil, n.URL); err != nil {
			return fmt.Errorf("NTFY_URL %q: %s", n.URL, err.(*sessions.Error).Reason)
		}
		if err := checkToken(n.Token); err != nil {
			return fmt.Errorf("NTFY_TOKEN: %v", err)
		}
	}
	return nil
}
