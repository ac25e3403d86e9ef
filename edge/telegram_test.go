package edge_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/notifier/dispatch/telegram"
	"github.com/feedbackd/feedbackd/notifier/dispatch/telegram/telegramfake"
	"github.com/feedbackd/feedbackd/sessions"
)

const botToken telegram.Token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"

// postUpdate posts an update to the edge's webhook route as Telegram does.
func postUpdate(t *testing.T, url, secret, ctype string, body []byte) *reply {
	t.Helper()
	req, err := http.NewRequest("POST", url+"/telegram/webhook", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if secret != "" {
		req.Header.Set(telegram.SecretHeader, secret)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	r := &reply{Status: res.StatusCode, Header: res.Header}
	_ = json.NewDecoder(res.Body).Decode(&r.Body)
	return r
}

// In webhook mode (an https PUBLIC_URL) Telegram posts the bot's updates to
// the edge, which checks the secret and hands them to the dispatchers
// through NATS: a button pressed in the chat answers the question.
func TestTelegramWebhookRouteChecksTheSecretAndAnswersThroughTheDispatcher(t *testing.T) {
	t.Parallel()
	fake := telegramfake.Start(t, telegramfake.Config{Token: botToken})
	const public = "https://feedback.example.com"
	ns := programtest.StartNATS(t)
	var logs syncLog
	e := startContractEdge(t, ns.URL, nil, programtest.Logs(&logs), programtest.Env("LOG_LEVEL", "debug"),
		programtest.Env("PUBLIC_URL", public),
		programtest.Env("TELEGRAM_BOT_TOKEN", string(botToken)),
		programtest.Env("TELEGRAM_API_URL", fake.URL),
		programtest.Env("TELEGRAM_CHAT_ID", fmt.Sprint(telegramfake.DefaultChatID)))
	secret := telegram.WebhookSecret(botToken)
	programtest.WaitFor(t, 10*time.Second, func() error {
		if url, s := fake.Webhook(); url != public+"/telegram/webhook" || s != secret {
			return fmt.Errorf("webhook %q", url)
		}
		return nil
	})

	start, _ := json.Marshal(telegram.Update{UpdateID: 1, Message: &telegram.Message{MessageID: 1, Date: time.Now().Unix(),
		Chat: telegram.Chat{ID: telegramfake.DefaultChatID, Type: "private"}, From: &telegram.User{ID: telegramfake.DefaultChatID}, Text: "/start"}})
	for _, tc := range []struct {
		name, secret, ctype, body string
		want                      int
	}{
		{"no secret", "", ctJSON, string(start), 401},
		{"wrong secret", secret[:len(secret)-1] + "x", ctJSON, string(start), 401},
		{"another bot's secret", telegram.WebhookSecret("987654321:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"), ctJSON, string(start), 401},
		{"not JSON", secret, "text/plain", string(start), 400},
		{"malformed", secret, ctJSON, `{"update_id":`, 400},
		{"no update id", secret, ctJSON, `{"message":{}}`, 400},
		{"two updates", secret, ctJSON, string(start) + string(start), 400},
	} {
		if r := postUpdate(t, e.URL, tc.secret, tc.ctype, []byte(tc.body)); r.Status != tc.want {
			t.Errorf("%s: %d %+v, want %d", tc.name, r.Status, r.Body.Error, tc.want)
		}
	}
	if r := do(t, "GET", e.URL+"/telegram/webhook", "", "", nil); r.Status != 405 || r.Header.Get("Allow") != "POST" {
		t.Errorf("GET: %d, Allow %q", r.Status, r.Header.Get("Allow"))
	}
	if n := len(fake.Calls("sendMessage")); n != 0 {
		t.Fatalf("refused updates were acted on: %d messages", n)
	}

	// /start: the bot tells the person the chat id to set up.
	if r := postUpdate(t, e.URL, secret, ctJSON, start); r.Status != 200 {
		t.Fatalf("/start: %d %+v", r.Status, r.Body.Error)
	}
	programtest.WaitFor(t, 10*time.Second, func() error {
		for _, m := range fake.Messages(telegramfake.DefaultChatID) {
			if strings.Contains(m.Plain, fmt.Sprintf("This chat's id is %d", telegramfake.DefaultChatID)) {
				return nil
			}
		}
		return fmt.Errorf("no greeting; calls %d", len(fake.Calls()))
	})

	// A question reaches the chat; the press comes back through the route.
	id := e.create(t, keyA, map[string]any{"message": "Merge?", "predefinedOptions": []string{"Merge", "Wait"}, "multiSelect": false})
	var q telegramfake.Message
	programtest.WaitFor(t, 10*time.Second, func() error {
		for _, m := range fake.Messages(telegramfake.DefaultChatID) {
			if strings.HasPrefix(m.Plain, "Merge?") {
				q = m
				return nil
			}
		}
		return fmt.Errorf("question not sent")
	})
	press, _ := json.Marshal(telegram.Update{UpdateID: 2, CallbackQuery: &telegram.CallbackQuery{ID: "press-1",
		From: telegram.User{ID: telegramfake.DefaultChatID}, Data: q.Keyboard.InlineKeyboard[0][0].CallbackData,
		Message: &telegram.Message{MessageID: q.MessageID, Date: time.Now().Unix(), Chat: telegram.Chat{ID: telegramfake.DefaultChatID, Type: "private"},
			ReplyMarkup: q.Keyboard}}})
	for range 2 { // Telegram sending it again: handled once
		if r := postUpdate(t, e.URL, secret, ctJSON, press); r.Status != 200 {
			t.Fatalf("press: %d %+v", r.Status, r.Body.Error)
		}
	}
	programtest.WaitFor(t, 10*time.Second, func() error {
		s, err := e.Svc.Get(t.Context(), id)
		if err != nil || s.Status != sessions.StatusCompleted || s.Feedback.SelectedOptions[0] != "Merge" {
			return fmt.Errorf("session %+v %v", s, err)
		}
		m, _ := fake.Message(telegramfake.DefaultChatID, q.MessageID)
		if !strings.Contains(m.Plain, "Answered: Merge") {
			return fmt.Errorf("message not closed: %q", m.Plain)
		}
		return nil
	})
	if n := len(fake.Calls("answerCallbackQuery")); n != 1 {
		t.Fatalf("the press posted twice was handled %d times", n)
	}
	if n := len(fake.Calls("getUpdates")); n != 0 {
		t.Fatalf("getUpdates called %d times in webhook mode", n)
	}
	// The token is a secret: not in the log (debug level), not in the API.
	secretPart := string(botToken)[strings.Index(string(botToken), ":")+1:]
	if strings.Contains(logs.String(), secretPart) {
		t.Fatal("the bot token is in the log")
	}
	for _, path := range []string{"/api/channels", "/api/push/vapid-public-key"} {
		if r := do(t, "GET", e.URL+path, keyA, "", nil); r.Status != 200 || strings.Contains(string(r.Raw), secretPart) {
			t.Fatalf("GET %s: %d, or it returns the token", path, r.Status)
		}
	}
	if !strings.Contains(logs.String(), "telegram") {
		t.Fatal("the log says nothing of Telegram: the check above proves nothing")
	}
}

// syncLog collects a program's log.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// In poll mode (or without a bot) there is no webhook route.
func TestTelegramWebhookRouteIsOffWhenPolling(t *testing.T) {
	t.Parallel()
	fake := telegramfake.Start(t, telegramfake.Config{Token: botToken})
	ns := programtest.StartNATS(t)
	e := startContractEdge(t, ns.URL, nil,
		programtest.Env("TELEGRAM_BOT_TOKEN", string(botToken)),
		programtest.Env("TELEGRAM_API_URL", fake.URL))
	secret := telegram.WebhookSecret(botToken)
	if r := postUpdate(t, e.URL, secret, ctJSON, []byte(`{"update_id":1}`)); r.Status != 404 {
		t.Fatalf("webhook route while polling: %d", r.Status)
	}
	programtest.WaitFor(t, 10*time.Second, func() error {
		if fake.Polling() != 1 {
			return fmt.Errorf("%d polls", fake.Polling())
		}
		return nil
	})
}
