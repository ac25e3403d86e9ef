package program

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/sessions/channels"
)

const (
	testBotToken = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
	testWHSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

func TestDispatchDefaultsFromTheEnvironment(t *testing.T) {
	cfg, err := loadConfig(vars(
		"NOTIFY_WEBHOOK_URL", "http://10.0.0.5/hooks",
		"NOTIFY_WEBHOOK_SECRET", testWHSecret,
		"NOTIFY_WEBHOOK_EVENTS", "session.completed, session.expired",
		"NOTIFY_WEBHOOK_INCLUDE_ANSWER", "true",
		"TELEGRAM_BOT_TOKEN", testBotToken,
		"TELEGRAM_CHAT_ID", "-1001234567890",
		"SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0/B0/x",
		"NTFY_URL", "https://ntfy.sh/my-questions",
		"NTFY_TOKEN", "tk_abc",
		"DISPATCH_MAX_AGE", "2h",
		"DISPATCH_WORKERS", "8",
	))
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.Dispatch
	w := d.defaults.Webhook
	if w == nil || w.URL != "http://10.0.0.5/hooks" || w.Secret != testWHSecret || !w.IncludeAnswer ||
		!slices.Equal(w.Events, []channels.Event{channels.EventCompleted, channels.EventExpired}) {
		t.Errorf("webhook default %+v", w)
	}
	if d.defaults.Telegram == nil || d.defaults.Telegram.ChatID != "-1001234567890" || d.defaults.Slack == nil ||
		d.defaults.Ntfy == nil || d.defaults.Ntfy.Token != "tk_abc" {
		t.Errorf("defaults %+v", d.defaults)
	}
	if d.MaxAge != 2*time.Hour || d.Workers != 8 || d.TelegramAPIURL != "https://api.telegram.org" {
		t.Errorf("limits %s %d, API %s", d.MaxAge, d.Workers, d.TelegramAPIURL)
	}
	if d.telegramWebhook {
		t.Error("webhook mode without an https PUBLIC_URL")
	}
	if !d.vapidGuessed || d.vapidKeys != nil {
		t.Errorf("VAPID subject %q guessed %v, keys %v", d.vapidSubject, d.vapidGuessed, d.vapidKeys)
	}
	if got := d.availableChannels(); !slices.Contains(got, channels.KindTelegram) || len(got) != 5 {
		t.Errorf("available %v", got)
	}
}

func TestTelegramModeFollowsPublicURL(t *testing.T) {
	for _, tc := range []struct {
		env     []string
		webhook bool
	}{
		{[]string{"PUBLIC_URL", "https://feedback.example.com"}, true},
		{[]string{"PUBLIC_URL", "http://feedback.example.com"}, false},
		{[]string{"PUBLIC_URL", "https://feedback.example.com", "TELEGRAM_MODE", "poll"}, false},
		{[]string{"PUBLIC_URL", "https://feedback.example.com", "TELEGRAM_MODE", "webhook"}, true},
	} {
		cfg, err := loadConfig(vars(append(tc.env, "TELEGRAM_BOT_TOKEN", testBotToken)...))
		if err != nil {
			t.Fatalf("%v: %v", tc.env, err)
		}
		if cfg.Dispatch.telegramWebhook != tc.webhook {
			t.Errorf("%v: webhook mode %v, want %v", tc.env, cfg.Dispatch.telegramWebhook, tc.webhook)
		}
	}
	cfg, err := loadConfig(vars("PUBLIC_URL", "https://feedback.example.com", "VAPID_SUBJECT", "mailto:ops@example.com"))
	if err != nil || cfg.Dispatch.vapidSubject != "mailto:ops@example.com" || cfg.Dispatch.vapidGuessed {
		t.Errorf("VAPID subject %q: %v", cfg.Dispatch.vapidSubject, err)
	}
	cfg, _ = loadConfig(vars("PUBLIC_URL", "https://feedback.example.com"))
	if cfg.Dispatch.vapidSubject != "https://feedback.example.com" {
		t.Errorf("VAPID subject %q, want PUBLIC_URL", cfg.Dispatch.vapidSubject)
	}
	if got := cfg.Dispatch.availableChannels(); slices.Contains(got, channels.KindTelegram) {
		t.Errorf("Telegram offered without a bot: %v", got)
	}
}

// A wrong dispatcher variable is named, with its value unless the value is
// a secret, which never appears in the message.
func TestDispatchConfigErrorsNameTheVariableNotTheSecret(t *testing.T) {
	const badToken = "not-a-token-but-a-secret-all-the-same"
	for _, tc := range []struct {
		env    []string
		want   string
		secret string
	}{
		{[]string{"NOTIFY_WEBHOOK_URL", "https://h.example.com"}, "NOTIFY_WEBHOOK_URL needs NOTIFY_WEBHOOK_SECRET", ""},
		{[]string{"NOTIFY_WEBHOOK_SECRET", testWHSecret}, "NOTIFY_WEBHOOK_SECRET is set without NOTIFY_WEBHOOK_URL", testWHSecret},
		{[]string{"NOTIFY_WEBHOOK_URL", "https://h.example.com", "NOTIFY_WEBHOOK_SECRET", "whsec_short"}, "NOTIFY_WEBHOOK_SECRET", "whsec_short"},
		{[]string{"NOTIFY_WEBHOOK_URL", "https://h.example.com", "NOTIFY_WEBHOOK_SECRET", testWHSecret, "NOTIFY_WEBHOOK_EVENTS", "session.done"}, "NOTIFY_WEBHOOK_EVENTS", testWHSecret},
		{[]string{"NOTIFY_WEBHOOK_INCLUDE_ANSWER", "sure"}, `NOTIFY_WEBHOOK_INCLUDE_ANSWER="sure": must be true or false`, ""},
		{[]string{"TELEGRAM_BOT_TOKEN", badToken}, "TELEGRAM_BOT_TOKEN does not look like a bot token", badToken},
		{[]string{"TELEGRAM_CHAT_ID", "42"}, `TELEGRAM_CHAT_ID="42" needs TELEGRAM_BOT_TOKEN`, ""},
		{[]string{"TELEGRAM_BOT_TOKEN", testBotToken, "TELEGRAM_CHAT_ID", "@news"}, `TELEGRAM_CHAT_ID="@news"`, testBotToken},
		{[]string{"TELEGRAM_API_URL", "api.telegram.org"}, `TELEGRAM_API_URL="api.telegram.org"`, ""},
		{[]string{"TELEGRAM_MODE", "push"}, `TELEGRAM_MODE="push" must be poll, webhook or auto`, ""},
		{[]string{"TELEGRAM_MODE", "webhook", "PUBLIC_URL", "http://x.example.com"}, "TELEGRAM_MODE=webhook needs an https PUBLIC_URL", ""},
		{[]string{"SLACK_WEBHOOK_URL", "hooks.slack.com/services/secret"}, "SLACK_WEBHOOK_URL", "services/secret"},
		{[]string{"NTFY_URL", "https://ntfy.sh/"}, `NTFY_URL "https://ntfy.sh/"`, ""},
		{[]string{"NTFY_TOKEN", "tk_secret"}, "NTFY_TOKEN is set without NTFY_URL", "tk_secret"},
		{[]string{"VAPID_PRIVATE_KEY", "c2VjcmV0LWJ1dC1ub3QtYS1rZXk"}, "VAPID_PRIVATE_KEY must be a base64url P-256 private key", "c2VjcmV0LWJ1dC1ub3QtYS1rZXk"},
		{[]string{"VAPID_SUBJECT", "ops@example.com"}, `VAPID_SUBJECT="ops@example.com" must be a mailto: address or an https: URL`, ""},
		{[]string{"VAPID_SUBJECT", "mailto:not an address"}, `VAPID_SUBJECT="mailto:not an address" must be`, ""},
		{[]string{"VAPID_SUBJECT", "https:"}, `VAPID_SUBJECT="https:" must be`, ""},
		{[]string{"DISPATCH_MAX_AGE", "30s"}, "DISPATCH_MAX_AGE=30s must be at least 1m", ""},
		{[]string{"DISPATCH_MAX_AGE", "a day"}, `DISPATCH_MAX_AGE="a day": must be a duration`, ""},
		{[]string{"DISPATCH_WORKERS", "0"}, "DISPATCH_WORKERS=0 must be between 1 and 1024", ""},
		{[]string{"DISPATCH_SEND_TIMEOUT", "10m"}, "DISPATCH_SEND_TIMEOUT=10m0s must be between 1s and 5m", ""},
		{[]string{"DISPATCH_ACK_WAIT", "10s"}, "DISPATCH_ACK_WAIT=10s must be longer than DISPATCH_SEND_TIMEOUT=15s", ""},
		{[]string{"WEBHOOK_ALLOW_PRIVATE", "1x"}, `WEBHOOK_ALLOW_PRIVATE="1x": must be true or false`, ""},
	} {
		_, err := loadConfig(vars(tc.env...))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one containing %q", tc.env, err, tc.want)
			continue
		}
		if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
			t.Errorf("%v: the error quotes a secret: %v", tc.env, err)
		}
	}
}

// The dispatcher alone must know where its links point.
func TestDispatcherRoleNeedsPublicURL(t *testing.T) {
	m := NewMain()
	m.Getenv = vars("NATS_URL", "nats://127.0.0.1:1", "LOG_LEVEL", "error")
	m.Stderr = io.Discard
	if err := m.ParseFlags(t.Context(), []string{"dispatcher"}); err != nil {
		t.Fatal(err)
	}
	err := m.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "needs PUBLIC_URL") {
		t.Fatalf("Run: %v, want PUBLIC_URL asked for", err)
	}
}
