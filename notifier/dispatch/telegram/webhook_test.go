package telegram_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/notifier/dispatch/telegram"
	"github.com/feedbackd/feedbackd/notifier/dispatch/telegram/telegramfake"
	"github.com/feedbackd/feedbackd/pkg/poll"
)

// webhookRoute is what the edge's webhook route does with the helpers: check
// the secret, decode, parse; refuse everything else.
type webhookRoute struct {
	secret string
	mu     sync.Mutex
	got    []telegram.Action
	fails  int // answer 500 to this many valid requests first
}

func (h *webhookRoute) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !telegram.VerifySecret(r.Header.Get(telegram.SecretHeader), h.secret) {
		http.Error(w, "bad secret", http.StatusUnauthorized)
		return
	}
	u, err := telegram.DecodeUpdate(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fails > 0 {
		h.fails--
		http.Error(w, "try later", http.StatusInternalServerError)
		return
	}
	a, err := telegram.ParseUpdate(u, chat)
	if err == nil {
		h.got = append(h.got, a)
	}
	w.WriteHeader(http.StatusOK)
}

func (h *webhookRoute) actions() []telegram.Action {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]telegram.Action(nil), h.got...)
}

func TestWebhookDeliversPressesWithTheSecretAndRetriesFailures(t *testing.T) {
	route := &webhookRoute{secret: telegram.WebhookSecret(token), fails: 2}
	hook := httptest.NewTLSServer(route)
	defer hook.Close()
	fake, c := setup(t, telegramfake.Config{WebhookClient: hook.Client(), AllowLocalWebhook: true})

	if err := c.SetWebhook(context.Background(), "http"+strings.TrimPrefix(hook.URL, "https")+"/tg", route.secret); err == nil {
		t.Fatal("an http webhook was accepted")
	}
	if err := c.SetWebhook(context.Background(), hook.URL+"/tg", route.secret); err != nil {
		t.Fatal(err)
	}
	if info, err := c.GetWebhookInfo(context.Background()); err != nil || info.URL != hook.URL+"/tg" {
		t.Fatalf("webhook info %+v, %v", info, err)
	}
	if _, err := c.GetUpdates(context.Background(), 0, 0); !telegram.IsConflict(err) {
		t.Fatalf("getUpdates with a webhook set: %v, want 409", err)
	}

	id, err := c.SendQuestion(context.Background(), chat, question("Yes", "No"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fake.PressOption(chat, id, "Yes"); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 5*time.Second, func() error {
		if n := len(route.actions()); n != 1 {
			return fmt.Errorf("%d actions at the webhook", n)
		}
		// The fake records a delivery once it has read the answer, just
		// after the route has taken the action.
		if n := len(fake.Deliveries()); n != 3 {
			return fmt.Errorf("%d deliveries recorded", n)
		}
		return nil
	})
	if ch, ok := route.actions()[0].(telegram.Choose); !ok || ch.Option != 0 || ch.Session != session {
		t.Fatalf("action = %#v", route.actions()[0])
	}
	var statuses []int
	for _, d := range fake.Deliveries() {
		statuses = append(statuses, d.Status)
	}
	if fmt.Sprint(statuses) != "[500 500 200]" {
		t.Fatalf("deliveries %v, want two failures then success", statuses)
	}

	if err := c.DeleteWebhook(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetUpdates(context.Background(), 0, 0); err != nil {
		t.Fatalf("getUpdates after deleteWebhook: %v", err)
	}
}

func TestWebhookRouteRefusesAWrongSecret(t *testing.T) {
	route := &webhookRoute{secret: telegram.WebhookSecret(token)}
	srv := httptest.NewServer(route)
	defer srv.Close()
	body := `{"update_id":1,"callback_query":{"id":"x","data":"c:` + session + `:0","message":{"message_id":1,"date":1,"chat":{"id":4242}}}}`
	for name, secret := range map[string]string{
		"none":        "",
		"wrong":       "not-the-secret",
		"prefix":      route.secret[:10],
		"other token": telegram.WebhookSecret("999:AAAnotherBotsTokenAnotherBots_xyz"),
	} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
		if secret != "" {
			req.Header.Set(telegram.SecretHeader, secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("secret %s: %d", name, resp.StatusCode)
		}
	}
	if len(route.actions()) != 0 {
		t.Fatal("an update with a wrong secret was acted on")
	}
}

func TestWebhookSecretIsStablePerTokenAndAcceptedByTelegram(t *testing.T) {
	a, b := telegram.WebhookSecret(token), telegram.WebhookSecret(token)
	other := telegram.WebhookSecret("999:AAAnotherBotsTokenAnotherBots_xyz")
	if a != b || a == other || strings.Contains(a, string(token)) || len(a) != 43 {
		t.Fatalf("secrets %q %q %q", a, b, other)
	}
	if !telegram.VerifySecret(a, a) || telegram.VerifySecret("", "") || telegram.VerifySecret(a, "") {
		t.Fatal("VerifySecret")
	}
	_, c := setup(t, telegramfake.Config{AllowLocalWebhook: true})
	if err := c.SetWebhook(context.Background(), "https://bot.example.com/tg", a); err != nil {
		t.Fatalf("the fake refused the derived secret: %v", err)
	}
	if err := c.SetWebhook(context.Background(), "https://bot.example.com/tg", "has space"); !errors.Is(err, telegram.ErrInvalid) {
		t.Fatalf("bad secret: %v", err)
	}
}

func TestDecodeUpdateRefusesWhatIsNotOneUpdate(t *testing.T) {
	for name, body := range map[string]string{
		"empty":         "",
		"not json":      "hello",
		"array":         "[]",
		"two objects":   `{"update_id":1}{"update_id":2}`,
		"no update_id":  `{"message":{"text":"x"}}`,
		"wrong type":    `{"update_id":"1"}`,
		"too large":     `{"update_id":1,"message":{"text":"` + strings.Repeat("x", telegram.MaxUpdateSize) + `"}}`,
		"truncated":     `{"update_id":1,"message":{`,
		"negative id":   `{"update_id":-5}`,
		"text not text": `{"update_id":1,"message":{"text":5}}`,
	} {
		if _, err := telegram.DecodeUpdate(strings.NewReader(body)); !errors.Is(err, telegram.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzDecodeAndParseUpdate(f *testing.F) {
	f.Add(`{"update_id":1,"callback_query":{"id":"q","data":"t:` + session + `:0:0","message":{"message_id":1,"date":1,"chat":{"id":4242},"reply_markup":{"inline_keyboard":[[{"text":"☐ A","callback_data":"t:` + session + `:0:0"}]]}}}}`)
	f.Add(`{"update_id":2,"message":{"message_id":2,"chat":{"id":4242},"text":"x","reply_to_message":{"message_id":1,"chat":{"id":4242},"reply_markup":{"inline_keyboard":[[{"text":"s","callback_data":"s:abc"}]]}}}}`)
	f.Add(`{"update_id":3,"callback_query":{"id":"q","data":"s:abc","message":{"message_id":1,"date":1,"chat":{"id":4242},"reply_markup":{"inline_keyboard":[]}}}}`)
	f.Fuzz(func(t *testing.T, body string) {
		u, err := telegram.DecodeUpdate(strings.NewReader(body))
		if err != nil {
			return
		}
		a, err := telegram.ParseUpdate(u, chat)
		if err != nil {
			return
		}
		switch a := a.(type) {
		case telegram.Toggle:
			if a.Keyboard == nil {
				t.Fatal("toggle without a keyboard")
			}
			// Pressing the new button again must restore the old state.
			again := u
			cq := *u.CallbackQuery
			m := *cq.Message
			m.ReplyMarkup = a.Keyboard
			cq.Message = &m
			for _, row := range a.Keyboard.InlineKeyboard {
				for _, b := range row {
					if strings.HasPrefix(b.CallbackData, fmt.Sprintf("t:%s:%d:", a.Session, a.Option)) {
						cq.Data = b.CallbackData
					}
				}
			}
			again.CallbackQuery = &cq
			b, err := telegram.ParseUpdate(again, chat)
			if err != nil || b.(telegram.Toggle).On == a.On {
				t.Fatalf("toggle does not flip back: %v %#v", err, b)
			}
		case telegram.Send:
			for i := 1; i < len(a.Selected); i++ {
				if a.Selected[i] <= a.Selected[i-1] {
					t.Fatalf("selection not ascending and unique: %v", a.Selected)
				}
			}
		}
	})
}
