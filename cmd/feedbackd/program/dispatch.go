package program

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/feedbackd/feedbackd/edge"
	"github.com/feedbackd/feedbackd/notifier/dispatch"
	"github.com/feedbackd/feedbackd/notifier/dispatch/telegram"
	"github.com/feedbackd/feedbackd/notifier/dispatch/webpush"
	"github.com/feedbackd/feedbackd/pkg/egress"
	"github.com/feedbackd/feedbackd/sessions/channels"
)

// DispatchConfig is the dispatcher's share of the configuration
// (docs/api.md, "Configuration"; docs/dispatcher.md): the operator's default
// channels, the Telegram bot, Web Push and the dispatcher's limits. The edge
// reads some of it too: whether Telegram posts to its webhook route, and
// which channels exist.
type DispatchConfig struct {
	// Addr is where `feedbackd dispatcher` serves /health, /ready and
	// /metrics.
	Addr string `env:"DISPATCHER_ADDR"`

	WebhookURL           string   `env:"NOTIFY_WEBHOOK_URL"`
	WebhookSecret        string   `env:"NOTIFY_WEBHOOK_SECRET"`
	WebhookEvents        []string `env:"NOTIFY_WEBHOOK_EVENTS" envSeparator:","`
	WebhookIncludeAnswer bool     `env:"NOTIFY_WEBHOOK_INCLUDE_ANSWER" envDefault:"false"`

	TelegramBotToken string `env:"TELEGRAM_BOT_TOKEN"`
	TelegramChatID   string `env:"TELEGRAM_CHAT_ID"`
	TelegramAPIURL   string `env:"TELEGRAM_API_URL" envDefault:"https://api.telegram.org"`
	// TelegramMode is poll, webhook, or auto: webhook when PUBLIC_URL is
	// https, else poll.
	TelegramMode string `env:"TELEGRAM_MODE" envDefault:"auto"`

	SlackWebhookURL string `env:"SLACK_WEBHOOK_URL"`
	NtfyURL         string `env:"NTFY_URL"`
	NtfyToken       string `env:"NTFY_TOKEN"`

	// WebhookAllowPrivate lets principals' destinations be private
	// addresses (SSRF protection off).
	WebhookAllowPrivate bool `env:"WEBHOOK_ALLOW_PRIVATE" envDefault:"false"`

	VAPIDSubject    string `env:"VAPID_SUBJECT"`
	VAPIDPrivateKey string `env:"VAPID_PRIVATE_KEY"`

	MaxAge  time.Duration `env:"DISPATCH_MAX_AGE" envDefault:"24h"`
	Workers int           `env:"DISPATCH_WORKERS" envDefault:"32"`
	// SendTimeout bounds one delivery attempt; AckWait is how long a job
	// held by a dispatcher that died waits before another replica takes it
	// (0: SendTimeout + 30s).
	SendTimeout time.Duration `env:"DISPATCH_SEND_TIMEOUT" envDefault:"15s"`
	AckWait     time.Duration `env:"DISPATCH_ACK_WAIT"`

	// Parsed by check from the fields above.
	defaults        channels.Defaults
	telegramWebhook bool
	vapidKeys       *webpush.VAPIDKeys // VAPID_PRIVATE_KEY; nil: the cluster's, kept in NATS
	vapidSubject    string
	vapidGuessed    bool // no VAPID_SUBJECT and no https PUBLIC_URL to use instead
}

// check parses and checks the dispatcher's variables. No error quotes a
// secret (the bot token, a webhook secret, the Slack URL, a token, the
// VAPID key), only its variable.
func (d *DispatchConfig) check(publicURL string) []error {
	var errs []error
	d.defaults = channels.Defaults{}
	d.WebhookEvents = compact(d.WebhookEvents)
	switch {
	case d.WebhookURL != "" && d.WebhookSecret != "":
		w := &channels.Webhook{ID: channels.DefaultID, URL: d.WebhookURL, Secret: d.WebhookSecret, IncludeAnswer: d.WebhookIncludeAnswer}
		for _, e := range d.WebhookEvents {
			w.Events = append(w.Events, channels.Event(e))
		}
		d.defaults.Webhook = w
	case d.WebhookURL != "":
		errs = append(errs, errors.New("NOTIFY_WEBHOOK_URL needs NOTIFY_WEBHOOK_SECRET (a whsec_… secret; `openssl rand -base64 32` after whsec_ makes one)"))
	case d.WebhookSecret != "":
		errs = append(errs, errors.New("NOTIFY_WEBHOOK_SECRET is set without NOTIFY_WEBHOOK_URL"))
	}
	if d.TelegramBotToken != "" && !telegram.Token(d.TelegramBotToken).Valid() {
		errs = append(errs, errors.New("TELEGRAM_BOT_TOKEN does not look like a bot token (<bot id>:<secret>, as @BotFather gives it)"))
	}
	if d.TelegramChatID != "" {
		if d.TelegramBotToken == "" {
			errs = append(errs, fmt.Errorf("TELEGRAM_CHAT_ID=%q needs TELEGRAM_BOT_TOKEN: the bot writes to the chat", d.TelegramChatID))
		}
		d.defaults.Telegram = &channels.Telegram{ChatID: d.TelegramChatID}
	}
	if u, err := url.Parse(d.TelegramAPIURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
		errs = append(errs, fmt.Errorf("TELEGRAM_API_URL=%q must be an absolute http(s) URL", d.TelegramAPIURL))
	}
	switch strings.ToLower(d.TelegramMode) {
	case "auto", "":
		d.telegramWebhook = strings.HasPrefix(publicURL, "https://")
	case "poll":
		d.telegramWebhook = false
	case "webhook":
		d.telegramWebhook = true
		if !strings.HasPrefix(publicURL, "https://") {
			errs = append(errs, fmt.Errorf("TELEGRAM_MODE=webhook needs an https PUBLIC_URL (got %q): Telegram posts updates to https only", publicURL))
		}
	default:
		errs = append(errs, fmt.Errorf("TELEGRAM_MODE=%q must be poll, webhook or auto", d.TelegramMode))
	}
	if d.SlackWebhookURL != "" {
		d.defaults.Slack = &channels.Slack{WebhookURL: d.SlackWebhookURL}
	}
	if d.NtfyURL != "" {
		d.defaults.Ntfy = &channels.Ntfy{URL: d.NtfyURL, Token: d.NtfyToken}
	} else if d.NtfyToken != "" {
		errs = append(errs, errors.New("NTFY_TOKEN is set without NTFY_URL"))
	}
	if err := d.defaults.Validate(); err != nil {
		errs = append(errs, err)
	}
	d.vapidKeys = nil
	if d.VAPIDPrivateKey != "" {
		k, err := webpush.ParseVAPIDPrivateKey(d.VAPIDPrivateKey)
		if err != nil {
			errs = append(errs, errors.New("VAPID_PRIVATE_KEY must be a base64url P-256 private key, as `npx web-push generate-vapid-keys` prints it"))
		}
		d.vapidKeys = k
	}
	d.vapidSubject, d.vapidGuessed = d.VAPIDSubject, false
	switch {
	case d.VAPIDSubject != "":
		addr, isMail := strings.CutPrefix(d.VAPIDSubject, "mailto:")
		u, uerr := url.Parse(d.VAPIDSubject)
		_, merr := mail.ParseAddress(addr)
		if (isMail && merr != nil) || (!isMail && (uerr != nil || u.Scheme != "https" || u.Host == "")) {
			errs = append(errs, fmt.Errorf("VAPID_SUBJECT=%q must be a mailto: address or an https: URL", d.VAPIDSubject))
		}
	case strings.HasPrefix(publicURL, "https://"):
		d.vapidSubject = publicURL
	default:
		d.vapidSubject, d.vapidGuessed = "mailto:feedbackd@localhost", true
	}
	if d.MaxAge < time.Minute {
		errs = append(errs, fmt.Errorf("DISPATCH_MAX_AGE=%s must be at least 1m", d.MaxAge))
	}
	if d.SendTimeout < time.Second || d.SendTimeout > 5*time.Minute {
		errs = append(errs, fmt.Errorf("DISPATCH_SEND_TIMEOUT=%s must be between 1s and 5m", d.SendTimeout))
	}
	if d.AckWait != 0 && d.AckWait <= d.SendTimeout {
		errs = append(errs, fmt.Errorf("DISPATCH_ACK_WAIT=%s must be longer than DISPATCH_SEND_TIMEOUT=%s, or a slow send is taken over by another replica", d.AckWait, d.SendTimeout))
	}
	if d.Workers < 1 || d.Workers > 1024 {
		errs = append(errs, fmt.Errorf("DISPATCH_WORKERS=%d must be between 1 and 1024", d.Workers))
	}
	return errs
}

// telegramToken is the bot token, or "" when Telegram is off.
func (d *DispatchConfig) telegramToken() telegram.Token { return telegram.Token(d.TelegramBotToken) }

// availableChannels are the channels this deployment delivers to: Telegram
// only with a bot.
func (d *DispatchConfig) availableChannels() []channels.Kind {
	var out []channels.Kind
	for _, k := range channels.Kinds {
		if k != channels.KindTelegram || d.TelegramBotToken != "" {
			out = append(out, k)
		}
	}
	return out
}

// urlChecker judges the URLs principals save: public addresses only,
// unless WEBHOOK_ALLOW_PRIVATE.
func (d *DispatchConfig) urlChecker() *egress.Client {
	return egress.New(egress.Options{AllowPrivate: d.WebhookAllowPrivate})
}

// publicBase is the base of the links the dispatcher and the edge hand
// out: PUBLIC_URL, else the role's own listener.
func (m *Main) publicBase() string {
	if m.Config.PublicURL != "" {
		return strings.TrimRight(m.Config.PublicURL, "/")
	}
	return m.url
}

// startDispatcher runs the dispatcher (docs/dispatcher.md) until Close.
func startDispatcher(m *Main, be *Backend) error {
	cfg := m.Config
	dc := cfg.Dispatch
	log := m.log.With("component", "dispatcher")
	base := m.publicBase()
	c := dispatch.Config{
		JetStream:     be.JetStream(),
		Store:         be.Store(),
		Service:       be.Service(),
		Channels:      be.Channels(),
		PublicURL:     base,
		Client:        dc.urlChecker(),
		TrustedClient: egress.New(egress.Options{AllowPrivate: true}),
		Log:           log,
		Replicas:      cfg.KVReplicas,
		Workers:       dc.Workers,
		MaxAge:        dc.MaxAge,
		SendTimeout:   dc.SendTimeout,
		AckWait:       dc.AckWait,
		WebPush:       &dispatch.WebPushConfig{Keys: be.VAPIDKeys(), Subject: dc.vapidSubject},
	}
	if dc.vapidGuessed {
		log.Warn("VAPID_SUBJECT is not set and PUBLIC_URL is not https: Web Push names the operator as mailto:feedbackd@localhost, which some push services refuse; set VAPID_SUBJECT")
	}
	if tok := dc.telegramToken(); tok != "" {
		client, err := telegram.New(telegram.Config{Token: tok, APIURL: dc.TelegramAPIURL})
		if err != nil {
			return fmt.Errorf("telegram: %w", err)
		}
		c.Telegram = &dispatch.TelegramConfig{Client: client}
		if dc.telegramWebhook {
			c.Telegram.WebhookURL = base + edge.TelegramWebhookPath
			c.Telegram.WebhookSecret = telegram.WebhookSecret(tok)
		}
	}
	if m.Hooks.Dispatch != nil {
		m.Hooks.Dispatch(&c)
	}
	d, err := dispatch.New(c)
	if err != nil {
		return err
	}
	m.goRun("dispatcher", d.Run)
	return nil
}

// channelsAPI is what the edge serves of channels: settings, push
// subscriptions, the VAPID public key, and test notifications sent by
// whichever dispatcher replica answers.
func channelsAPI(cfg Config, be *Backend) *edge.ChannelsAPI {
	nc := be.Conn()
	return &edge.ChannelsAPI{
		Service:        be.Channels(),
		VAPIDPublicKey: be.VAPIDKeys().PublicKey(),
		Available:      cfg.Dispatch.availableChannels(),
		Test: func(ctx context.Context, owner string, kind channels.Kind) ([]channels.Outcome, error) {
			return dispatch.RequestTest(ctx, nc, owner, kind)
		},
	}
}

// telegramWebhook is the edge's route for Telegram's updates, in webhook
// mode: it checks the secret and hands each update to the dispatchers
// through NATS. nil when updates are polled.
func telegramWebhook(cfg Config, be *Backend) *edge.TelegramWebhook {
	dc := cfg.Dispatch
	if dc.TelegramBotToken == "" || !dc.telegramWebhook {
		return nil
	}
	js := be.JetStream()
	return &edge.TelegramWebhook{
		Secret: telegram.WebhookSecret(dc.telegramToken()),
		Publish: func(ctx context.Context, updateID int64, raw []byte) error {
			return dispatch.PublishTelegramUpdate(ctx, js, updateID, raw)
		},
	}
}
