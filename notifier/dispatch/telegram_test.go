package dispatch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/notifier/dispatch"
	"github.com/feedbackd/feedbackd/notifier/dispatch/telegram"
	"github.com/feedbackd/feedbackd/notifier/dispatch/telegram/telegramfake"
	"github.com/feedbackd/feedbackd/pkg/poll"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/channels"
)

const botToken telegram.Token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"

// Two chats the fake bot was started in: alice's private chat and bob's
// team group.
const (
	aliceChat = telegramfake.DefaultChatID
	bobChat   = int64(-1009876543210)
)

// withTelegram turns the Telegram channel on against fake, polling with a
// short lock TTL.
func withTelegram(t testing.TB, fake *telegramfake.Server) func(*dispatch.Config) {
	return func(cfg *dispatch.Config) {
		client, err := telegram.New(telegram.Config{Token: botToken, APIURL: fake.URL})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Telegram = &dispatch.TelegramConfig{Client: client, PollTimeout: time.Second, LockTTL: 2 * time.Second}
	}
}

func startTelegramFake(t testing.TB) *telegramfake.Server {
	return telegramfake.Start(t, telegramfake.Config{Token: botToken, Chats: []int64{aliceChat, bobChat}})
}

// question waits for the bot's n-th message in chat and returns it.
func question(t testing.TB, fake *telegramfake.Server, chat int64, n int) telegramfake.Message {
	t.Helper()
	poll.Until(t, 15*time.Second, func() error {
		if got := len(fake.Messages(chat)); got < n {
			return fmt.Errorf("%d of %d messages in chat %d; calls %v", got, n, chat, methods(fake))
		}
		return nil
	})
	return fake.Messages(chat)[n-1]
}

func methods(fake *telegramfake.Server) []string {
	var out []string
	for _, c := range fake.Calls() {
		out = append(out, fmt.Sprintf("%s=%d %s", c.Method, c.Status, c.Description))
	}
	return out
}

// answered waits until the session is completed and returns it.
func (h *harness) answered(id string) *sessions.Session {
	h.t.Helper()
	var s *sessions.Session
	poll.Until(h.t, 15*time.Second, func() error {
		var err error
		if s, err = h.svc.Get(context.Background(), id); err != nil {
			return err
		}
		if s.Status != sessions.StatusCompleted {
			return fmt.Errorf("session %s is %s", id, s.Status)
		}
		return nil
	})
	return s
}

// closed waits until the bot's message says the session ended, with no
// buttons left.
func closed(t testing.TB, fake *telegramfake.Server, chat int64, id int, word string) telegramfake.Message {
	t.Helper()
	var m telegramfake.Message
	poll.Until(t, 15*time.Second, func() error {
		m, _ = fake.Message(chat, id)
		if m.Keyboard != nil || !strings.Contains(m.Plain, word) {
			return fmt.Errorf("message %d: %q, keyboard %v", id, m.Plain, m.Keyboard)
		}
		return nil
	})
	return m
}

// answerSent waits for the bot's answer to press id as it was sent (for a
// press the test injected, which the fake does not track) and returns its
// text.
func answerSent(t testing.TB, fake *telegramfake.Server, id string) string {
	t.Helper()
	var text string
	poll.Until(t, 15*time.Second, func() error {
		for _, c := range fake.Calls("answerCallbackQuery") {
			var p struct {
				ID   string `json:"callback_query_id"`
				Text string `json:"text"`
			}
			if json.Unmarshal(c.Params, &p) == nil && p.ID == id {
				text = p.Text
				return nil
			}
		}
		return fmt.Errorf("press %s not answered", id)
	})
	return text
}

func callbackAnswer(t testing.TB, fake *telegramfake.Server, id string) string {
	t.Helper()
	var a telegramfake.CallbackAnswer
	poll.Until(t, 15*time.Second, func() error {
		a, _ = fake.CallbackAnswer(id)
		if !a.Answered {
			return fmt.Errorf("press %s not answered", id)
		}
		return nil
	})
	return a.Text
}

func TestTelegramButtonAnswersTheQuestionAndTheMessageIsEditedNotResent(t *testing.T) {
	h := newHarness(t, channels.Defaults{})
	fake := startTelegramFake(t)
	h.settings("alice", channels.Update{Telegram: &channels.Telegram{ChatID: strconv.FormatInt(aliceChat, 10)}})
	h.start(withTelegram(t, fake))

	s := h.create("alice", sessions.CreateRequest{Title: "Release", Message: "Ship <b>v2</b> today?",
		PredefinedOptions: []string{"Yes", "No"}, MultiSelect: ptr(false), Timeout: ptrNum("600")})
	m := question(t, fake, aliceChat, 1)
	if !strings.HasPrefix(m.Plain, "Release\nShip <b>v2</b> today?") || !strings.Contains(m.Plain, publicURL+"/feedback/"+s.ID) {
		t.Fatalf("question text %q", m.Plain)
	}
	if rows := m.Keyboard.InlineKeyboard; len(rows) != 3 || rows[0][0].Text != "Yes" || rows[1][0].Text != "No" || rows[2][0].URL == "" {
		t.Fatalf("keyboard %+v", m.Keyboard)
	}
	press, err := fake.PressOption(aliceChat, m.MessageID, "No")
	if err != nil {
		t.Fatal(err)
	}
	if got := callbackAnswer(t, fake, press); got != "Answered ✅" {
		t.Errorf("press answered %q", got)
	}
	done := h.answered(s.ID)
	if got := done.Feedback.SelectedOptions; len(got) != 1 || got[0] != "No" {
		t.Fatalf("answer %v", got)
	}
	closed(t, fake, aliceChat, m.MessageID, "Answered: No")

	// A second press on the same (now closed) message cannot happen in a
	// client; an update replayed by Telegram finds the session answered.
	again := fake.Inject(telegram.Update{CallbackQuery: &telegram.CallbackQuery{ID: "replayed", From: telegram.User{ID: aliceChat},
		Message: &telegram.Message{MessageID: m.MessageID, Chat: telegram.Chat{ID: aliceChat}, Date: time.Now().Unix()},
		Data:    "c:" + s.ID + ":0"}})
	poll.Until(t, 10*time.Second, func() error {
		if fake.Pending() != 0 {
			return fmt.Errorf("update %d not handled", again)
		}
		return nil
	})
	if got := answerSent(t, fake, "replayed"); got != "Already answered" {
		t.Errorf("replayed press answered %q", got)
	}
	h.idle()
	if n := len(fake.Calls("sendMessage")); n != 1 {
		t.Fatalf("%d messages sent for one question, want 1 (the end edits it)", n)
	}
	if got := h.answered(s.ID).Feedback.SelectedOptions; got[0] != "No" {
		t.Fatalf("the replayed press changed the answer to %v", got)
	}
}

func TestTelegramMultiSelectTogglesThenSends(t *testing.T) {
	h := newHarness(t, channels.Defaults{})
	fake := startTelegramFake(t)
	h.settings("alice", channels.Update{Telegram: &channels.Telegram{ChatID: strconv.FormatInt(aliceChat, 10)}})
	h.start(withTelegram(t, fake))

	s := h.create("alice", sessions.CreateRequest{Message: "Which regions?", PredefinedOptions: []string{"eu", "us", "ap"}})
	m := question(t, fake, aliceChat, 1)
	send, err := fake.PressOption(aliceChat, m.MessageID, "Send")
	if err != nil {
		t.Fatal(err)
	}
	if got := callbackAnswer(t, fake, send); !strings.Contains(got, "Tick at least one option") {
		t.Fatalf("Send with nothing ticked answered %q", got)
	}
	for _, label := range []string{"eu", "ap"} {
		id, err := fake.PressOption(aliceChat, m.MessageID, label)
		if err != nil {
			t.Fatal(err)
		}
		callbackAnswer(t, fake, id)
		poll.Until(t, 10*time.Second, func() error {
			cur, _ := fake.Message(aliceChat, m.MessageID)
			for _, row := range cur.Keyboard.InlineKeyboard {
				if row[0].Text == "☑ "+label {
					return nil
				}
			}
			return fmt.Errorf("%s not ticked: %+v", label, cur.Keyboard)
		})
	}
	if _, err := fake.PressOption(aliceChat, m.MessageID, "Send"); err != nil {
		t.Fatal(err)
	}
	got := h.answered(s.ID).Feedback.SelectedOptions
	if len(got) != 2 || got[0] != "eu" || got[1] != "ap" {
		t.Fatalf("answer %v, want [eu ap]", got)
	}
	closed(t, fake, aliceChat, m.MessageID, "Answered")
}

func TestTelegramReplyAnswersWithFreeTextAndFormsNeedThePage(t *testing.T) {
	h := newHarness(t, channels.Defaults{})
	fake := startTelegramFake(t)
	h.settings("alice", channels.Update{Telegram: &channels.Telegram{ChatID: strconv.FormatInt(aliceChat, 10)}})
	h.start(withTelegram(t, fake))

	free := h.create("alice", sessions.CreateRequest{Message: "What should the release be called?"})
	m := question(t, fake, aliceChat, 1)
	if m.Keyboard != nil && len(m.Keyboard.InlineKeyboard) > 0 && m.Keyboard.InlineKeyboard[0][0].CallbackData != "" {
		t.Fatalf("a free-text question has option buttons: %+v", m.Keyboard)
	}
	if _, err := fake.Say(aliceChat, "Nebula"); err != nil { // replies to nothing: ignored
		t.Fatal(err)
	}
	if _, err := fake.Reply(aliceChat, m.MessageID, "Call it Nebula"); err != nil {
		t.Fatal(err)
	}
	if got := h.answered(free.ID).Feedback.FreeText; got != "Call it Nebula" {
		t.Fatalf("free text %q", got)
	}
	closed(t, fake, aliceChat, m.MessageID, "Answered: Call it Nebula")

	form := h.create("alice", sessions.CreateRequest{Message: "Details, please",
		Fields: json.RawMessage(`{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}`)})
	fm := question(t, fake, aliceChat, 2)
	if !strings.Contains(fm.Plain, "This question is a form") {
		t.Fatalf("form question %q", fm.Plain)
	}
	if _, err := fake.Reply(aliceChat, fm.MessageID, "Pat"); err != nil {
		t.Fatal(err)
	}
	reply := question(t, fake, aliceChat, 3)
	if !strings.Contains(reply.Plain, "form") || !strings.Contains(reply.Plain, publicURL+"/feedback/"+form.ID) {
		t.Fatalf("the bot's answer to a reply on a form: %q", reply.Plain)
	}
	if s, _ := h.svc.Get(context.Background(), form.ID); s.Status != sessions.StatusPending {
		t.Fatalf("a reply answered a form: %s", s.Status)
	}
}

func TestTelegramApprovalButtonsDecide(t *testing.T) {
	h := newHarness(t, channels.Defaults{})
	fake := startTelegramFake(t)
	h.settings("alice", channels.Update{Telegram: &channels.Telegram{ChatID: strconv.FormatInt(aliceChat, 10)}})
	h.start(withTelegram(t, fake))

	s := h.create("alice", sessions.CreateRequest{Kind: sessions.KindApproval, Action: "Run rm -rf build/",
		Details: json.RawMessage(`{"cwd":"/srv"}`)})
	m := question(t, fake, aliceChat, 1)
	if !strings.HasPrefix(m.Plain, "Approve: Run rm -rf build/?") || !strings.Contains(m.Plain, `{"cwd":"/srv"}`) {
		t.Fatalf("approval text %q", m.Plain)
	}
	if _, err := fake.PressOption(aliceChat, m.MessageID, "Deny"); err != nil {
		t.Fatal(err)
	}
	if got := h.answered(s.ID).Feedback.Decision; got != sessions.DecisionDeny {
		t.Fatalf("decision %q", got)
	}
	closed(t, fake, aliceChat, m.MessageID, "Denied")
}

// A chat can only answer the question the bot sent there: a press that
// names another principal's session, on a message of this chat, is refused.
func TestTelegramPressCannotAnswerAnotherPrincipalsQuestion(t *testing.T) {
	h := newHarness(t, channels.Defaults{})
	fake := startTelegramFake(t)
	h.settings("alice", channels.Update{Telegram: &channels.Telegram{ChatID: strconv.FormatInt(aliceChat, 10)}})
	h.settings("bob", channels.Update{Telegram: &channels.Telegram{ChatID: strconv.FormatInt(bobChat, 10)}})
	h.start(withTelegram(t, fake))

	h.create("alice", sessions.CreateRequest{Message: "Alice's?", PredefinedOptions: []string{"a"}})
	bobs := h.create("bob", sessions.CreateRequest{Message: "Bob's?", PredefinedOptions: []string{"b"}})
	am := question(t, fake, aliceChat, 1)
	question(t, fake, bobChat, 1)
	forged := "c:" + bobs.ID + ":0"
	fake.Inject(telegram.Update{CallbackQuery: &telegram.CallbackQuery{ID: "forged", From: telegram.User{ID: aliceChat},
		Message: &telegram.Message{MessageID: am.MessageID, Chat: telegram.Chat{ID: aliceChat, Type: "private"}, Date: time.Now().Unix(),
			ReplyMarkup: &telegram.InlineKeyboardMarkup{InlineKeyboard: [][]telegram.InlineKeyboardButton{{{Text: "b", CallbackData: forged}}}}},
		Data: forged}})
	// And a reply naming bob's message id in alice's chat finds nothing.
	if _, err := fake.Reply(aliceChat, am.MessageID+100, "hijack"); err == nil {
		t.Fatal("the fake let a reply to a message that does not exist through")
	}
	if got := answerSent(t, fake, "forged"); got != "This is not a question feedbackd can find" {
		t.Fatalf("forged press answered %q", got)
	}
	if s, _ := h.svc.Get(context.Background(), bobs.ID); s.Status != sessions.StatusPending {
		t.Fatalf("bob's question was answered from alice's chat: %s", s.Status)
	}
}

func TestTelegramMessageIsEditedWhenTheQuestionExpiresOrIsCancelled(t *testing.T) {
	h := newHarness(t, channels.Defaults{})
	fake := startTelegramFake(t)
	h.settings("alice", channels.Update{Telegram: &channels.Telegram{ChatID: strconv.FormatInt(aliceChat, 10)}})
	h.start(withTelegram(t, fake))

	c := h.create("alice", sessions.CreateRequest{Message: "Withdraw me", PredefinedOptions: []string{"x"}})
	cm := question(t, fake, aliceChat, 1)
	if _, err := h.svc.Cancel(context.Background(), "alice", c.ID); err != nil {
		t.Fatal(err)
	}
	closed(t, fake, aliceChat, cm.MessageID, "Cancelled")
	h.idle()
	if n := len(fake.Calls("sendMessage")); n != 1 {
		t.Fatalf("%d messages, want the one question", n)
	}
}

// In webhook mode every replica registers the edge's URL with Telegram and
// handles the updates the edge publishes to the stream.
func TestTelegramWebhookModeHandlesPublishedUpdates(t *testing.T) {
	h := newHarness(t, channels.Defaults{})
	fake := startTelegramFake(t)
	h.settings("alice", channels.Update{Telegram: &channels.Telegram{ChatID: strconv.FormatInt(aliceChat, 10)}})
	const hook = "https://feedback.example.com/telegram/webhook"
	h.start(withTelegram(t, fake), func(cfg *dispatch.Config) {
		cfg.Telegram.WebhookURL, cfg.Telegram.WebhookSecret = hook, telegram.WebhookSecret(botToken)
	})
	poll.Until(t, 10*time.Second, func() error {
		if url, secret := fake.Webhook(); url != hook || secret != telegram.WebhookSecret(botToken) {
			return fmt.Errorf("webhook %q", url)
		}
		return nil
	})
	s := h.create("alice", sessions.CreateRequest{Message: "Via webhook?", PredefinedOptions: []string{"yes"}, MultiSelect: ptr(false)})
	m := question(t, fake, aliceChat, 1)
	// What Telegram would post: the press, with the message and keyboard.
	u := telegram.Update{UpdateID: 77, CallbackQuery: &telegram.CallbackQuery{ID: "via-hook", From: telegram.User{ID: aliceChat},
		Message: &telegram.Message{MessageID: m.MessageID, Chat: telegram.Chat{ID: aliceChat, Type: "private"}, Date: time.Now().Unix(),
			ReplyMarkup: m.Keyboard}, Data: m.Keyboard.InlineKeyboard[0][0].CallbackData}}
	raw, _ := json.Marshal(u)
	for range 2 { // Telegram retrying: stored once
		if err := dispatch.PublishTelegramUpdate(context.Background(), h.ns.JS, u.UpdateID, raw); err != nil {
			t.Fatal(err)
		}
	}
	if got := h.answered(s.ID).Feedback.SelectedOptions; got[0] != "yes" {
		t.Fatalf("answer %v", got)
	}
	closed(t, fake, aliceChat, m.MessageID, "Answered")
	if n := len(fake.Calls("getUpdates")); n != 0 {
		t.Fatalf("%d getUpdates in webhook mode", n)
	}
	if n := len(fake.Calls("answerCallbackQuery")); n != 1 {
		t.Fatalf("the update posted twice was handled %d times", n)
	}
}

// Two replicas share one bot: one polls at a time, and when it dies the
// other takes over within the lock's TTL, so presses keep being answered.
func TestTelegramPollLockFailsOverToAnotherReplica(t *testing.T) {
	h := newHarness(t, channels.Defaults{})
	fake := startTelegramFake(t)
	h.settings("alice", channels.Update{Telegram: &channels.Telegram{ChatID: strconv.FormatInt(aliceChat, 10)}})
	polling := func() error {
		if fake.Polling() != 1 {
			return fmt.Errorf("%d polls waiting", fake.Polling())
		}
		return nil
	}
	// The first replica polls before the second exists: it holds the lock.
	holder := h.start(withTelegram(t, fake))
	poll.Until(t, 10*time.Second, polling)
	h.start(withTelegram(t, fake))
	first := h.create("alice", sessions.CreateRequest{Message: "One?", PredefinedOptions: []string{"ok"}})
	m1 := question(t, fake, aliceChat, 1)
	if _, err := fake.PressOption(aliceChat, m1.MessageID, "ok"); err != nil {
		t.Fatal(err)
	}
	h.answered(first.ID)

	for _, c := range fake.Calls("getUpdates") {
		if c.Status == 409 {
			t.Fatalf("two replicas polled at once: %s", c.Description)
		}
	}

	// The holder dies with its NATS connection: it cannot release the
	// lock, which runs out after its TTL; then the other replica polls.
	holder.kill()
	second := h.create("alice", sessions.CreateRequest{Message: "Two?", PredefinedOptions: []string{"ok"}})
	m2 := question(t, fake, aliceChat, 2)
	if _, err := fake.PressOption(aliceChat, m2.MessageID, "ok"); err != nil {
		t.Fatal(err)
	}
	h.answered(second.ID)
	poll.Until(t, 10*time.Second, polling)
}
