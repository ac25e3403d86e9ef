package telegram_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/feedbackd/feedbackd/notifier/dispatch/telegram"
	"github.com/feedbackd/feedbackd/notifier/dispatch/telegram/telegramfake"
	"github.com/feedbackd/feedbackd/pkg/poll"
)

const (
	token   telegram.Token = "123456:AAFakeTokenForTestsOnly_abcdefghijk"
	chat                   = telegramfake.DefaultChatID
	session                = "0b8e4c1a-7f3d-4e2b-9a6c-5d1e2f3a4b5c"
)

var now = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func setup(t *testing.T, cfg telegramfake.Config) (*telegramfake.Server, *telegram.Client) {
	t.Helper()
	if cfg.Token == "" {
		cfg.Token = token
	}
	fake := telegramfake.Start(t, cfg)
	c, err := telegram.New(telegram.Config{Token: token, APIURL: fake.URL, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return fake, c
}

func question(opts ...string) telegram.Question {
	return telegram.Question{
		SessionID: session,
		Title:     "Deploy?",
		Message:   "The build is green. Ship it to production?",
		Options:   opts,
		ExpiresAt: now.Add(90 * time.Minute),
		URL:       "https://feedback.example.com/feedback/" + session + "#t=abc",
	}
}

func buttons(m telegramfake.Message) []telegram.InlineKeyboardButton {
	if m.Keyboard == nil {
		return nil
	}
	var out []telegram.InlineKeyboardButton
	for _, row := range m.Keyboard.InlineKeyboard {
		out = append(out, row...)
	}
	return out
}

func sent(t *testing.T, fake *telegramfake.Server, id int) telegramfake.Message {
	t.Helper()
	m, ok := fake.Message(chat, id)
	if !ok {
		t.Fatalf("message %d not at the fake", id)
	}
	return m
}

// nextAction long-polls the fake for one update and parses it.
func nextAction(t *testing.T, c *telegram.Client, offset *int64) telegram.Action {
	t.Helper()
	ups, err := c.GetUpdates(context.Background(), *offset, 5*time.Second)
	if err != nil || len(ups) == 0 {
		t.Fatalf("getUpdates: %v, %d updates", err, len(ups))
	}
	*offset = ups[0].UpdateID + 1
	a, err := telegram.ParseUpdate(ups[0], chat)
	if err != nil {
		t.Fatalf("parse %+v: %v", ups[0], err)
	}
	return a
}

func TestSendQuestionWithSingleChoiceShowsTheQuestionAndOneButtonPerOption(t *testing.T) {
	fake, c := setup(t, telegramfake.Config{})
	id, err := c.SendQuestion(context.Background(), chat, question("Yes", "No", "Later"))
	if err != nil {
		t.Fatal(err)
	}
	m := sent(t, fake, id)
	if m.ParseMode != "HTML" || !strings.HasPrefix(m.Text, "<b>Deploy?</b>\n") {
		t.Fatalf("text %q in mode %q, want the title in bold", m.Text, m.ParseMode)
	}
	for _, want := range []string{"Ship it to production?", "1 h 30 min left", "Press an option", "https://feedback.example.com/feedback/" + session} {
		if !strings.Contains(m.Plain, want) {
			t.Errorf("text %q lacks %q", m.Plain, want)
		}
	}
	got := buttons(m)
	want := []telegram.InlineKeyboardButton{
		{Text: "Yes", CallbackData: "c:" + session + ":0"},
		{Text: "No", CallbackData: "c:" + session + ":1"},
		{Text: "Later", CallbackData: "c:" + session + ":2"},
		{Text: "Open 🔗", URL: question().URL},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("buttons = %+v\nwant %+v", got, want)
	}

	// Pressing an option is a Choose of that option.
	if _, err := fake.PressOption(chat, id, "No"); err != nil {
		t.Fatal(err)
	}
	var offset int64
	a := nextAction(t, c, &offset)
	ch, ok := a.(telegram.Choose)
	if !ok || ch.Session != session || ch.Option != 1 || ch.MessageID != id || ch.ChatID != chat || ch.CallbackID == "" {
		t.Fatalf("action = %#v", a)
	}
	if err := c.AnswerCallback(context.Background(), ch.CallbackID, "Answer sent"); err != nil {
		t.Fatal(err)
	}
	if ans, _ := fake.CallbackAnswer(ch.CallbackID); !ans.Answered || ans.Text != "Answer sent" {
		t.Fatalf("callback answer = %+v", ans)
	}
}

func TestMultiSelectTogglesLiveInTheKeyboardAndSendReadsThem(t *testing.T) {
	fake, c := setup(t, telegramfake.Config{})
	q := question("Tests", "Docs", "Changelog")
	q.MultiSelect = true
	id, err := c.SendQuestion(context.Background(), chat, q)
	if err != nil {
		t.Fatal(err)
	}
	if b := buttons(sent(t, fake, id)); b[0].Text != "☐ Tests" || b[3].Text != "Send ✉️" || b[3].CallbackData != "s:"+session {
		t.Fatalf("buttons = %+v", b)
	}
	var offset int64
	toggle := func(label string, wantOn bool) {
		t.Helper()
		if _, err := fake.PressOption(chat, id, label); err != nil {
			t.Fatal(err)
		}
		tg, ok := nextAction(t, c, &offset).(telegram.Toggle)
		if !ok || tg.On != wantOn {
			t.Fatalf("toggle %s: %#v", label, tg)
		}
		// Each press is handled on its own, as another replica would.
		if err := c.EditKeyboard(context.Background(), chat, id, tg.Keyboard); err != nil {
			t.Fatal(err)
		}
		if err := c.AnswerCallback(context.Background(), tg.CallbackID, ""); err != nil {
			t.Fatal(err)
		}
	}
	toggle("Changelog", true)
	toggle("Tests", true)
	toggle("Docs", true)
	toggle("Docs", false)

	b := buttons(sent(t, fake, id))
	if b[0].Text != "☑ Tests" || b[1].Text != "☐ Docs" || b[2].Text != "☑ Changelog" {
		t.Fatalf("keyboard after toggles: %+v", b)
	}
	if _, err := fake.PressOption(chat, id, "Send"); err != nil {
		t.Fatal(err)
	}
	s, ok := nextAction(t, c, &offset).(telegram.Send)
	if !ok || s.Session != session || !reflect.DeepEqual(s.Selected, []int{0, 2}) {
		t.Fatalf("send = %#v", s)
	}
}

func TestToggleHandledTwiceGivesTheSameKeyboard(t *testing.T) {
	fake, c := setup(t, telegramfake.Config{})
	q := question("A", "B")
	q.MultiSelect = true
	id, _ := c.SendQuestion(context.Background(), chat, q)
	if _, err := fake.PressOption(chat, id, "B"); err != nil {
		t.Fatal(err)
	}
	ups, err := c.GetUpdates(context.Background(), 0, time.Second)
	if err != nil || len(ups) != 1 {
		t.Fatal(err)
	}
	a1, _ := telegram.ParseUpdate(ups[0], chat)
	a2, _ := telegram.ParseUpdate(ups[0], chat)
	if !reflect.DeepEqual(a1, a2) || !a1.(telegram.Toggle).On {
		t.Fatalf("a redelivered toggle differs: %#v vs %#v", a1, a2)
	}
}

func TestReplyToTheQuestionIsAFreeTextAnswer(t *testing.T) {
	fake, c := setup(t, telegramfake.Config{})
	q := question("A", "B")
	q.MultiSelect = true
	id, _ := c.SendQuestion(context.Background(), chat, q)
	var offset int64
	if _, err := fake.PressOption(chat, id, "B"); err != nil {
		t.Fatal(err)
	}
	tg := nextAction(t, c, &offset).(telegram.Toggle)
	_ = c.EditKeyboard(context.Background(), chat, id, tg.Keyboard)

	reply, err := fake.Reply(chat, id, "B, but only after <lunch> & coffee")
	if err != nil {
		t.Fatal(err)
	}
	r, ok := nextAction(t, c, &offset).(telegram.Reply)
	if !ok || r.Session != session || r.ReplyToMessageID != id || r.MessageID != reply ||
		r.Text != "B, but only after <lunch> & coffee" || !reflect.DeepEqual(r.Selected, []int{1}) {
		t.Fatalf("reply = %#v", r)
	}

	// A free-text question on a link Telegram will not take as a button has
	// no keyboard: the reply names no session, the caller maps the message.
	q2 := question()
	q2.URL = "http://localhost:8080/feedback/" + session
	id2, err := c.SendQuestion(context.Background(), chat, q2)
	if err != nil {
		t.Fatal(err)
	}
	if m := sent(t, fake, id2); m.Keyboard != nil || !strings.Contains(m.Plain, q2.URL) || !strings.Contains(m.Plain, "Reply to this message") {
		t.Fatalf("free-text question on localhost: %+v", m)
	}
	if _, err := fake.Reply(chat, id2, "fine"); err != nil {
		t.Fatal(err)
	}
	r2 := nextAction(t, c, &offset).(telegram.Reply)
	if r2.Session != "" || r2.ReplyToMessageID != id2 {
		t.Fatalf("reply = %#v", r2)
	}
}

func TestAgentTextCannotAddMarkup(t *testing.T) {
	fake, c := setup(t, telegramfake.Config{})
	hostile := []string{
		`</b><a href="https://evil.example">click</a><b>`,
		`<script>alert(1)</script>`,
		`1 < 2 && 3 > 2 "quoted" &amp; &lt;`,
		"<b>unclosed",
		"invalid \xff\xfe utf-8 and a NUL \x00 here",
		`<tg-emoji emoji-id="1">x</tg-emoji>`,
	}
	for _, h := range hostile {
		q := question(h, "plain")
		q.Title, q.Message = h, h
		id, err := c.SendQuestion(context.Background(), chat, q)
		if err != nil {
			t.Fatalf("%q: %v", h, err)
		}
		m := sent(t, fake, id)
		want := strings.ReplaceAll(strings.ToValidUTF8(h, "\uFFFD"), "\x00", "")
		if !strings.HasPrefix(m.Plain, want+"\n"+want) {
			t.Errorf("%q shows as %q", h, m.Plain)
		}
		if b := buttons(m); b[0].Text != want {
			t.Errorf("button %q, want %q", b[0].Text, want)
		}
		if strings.Count(m.Text, "<b>") != 1 || strings.Contains(m.Text, "<a") || strings.Contains(m.Text, "<script") {
			t.Errorf("markup leaked into %q", m.Text)
		}
	}
	id, err := c.SendText(context.Background(), chat, "<b>not bold</b>")
	if err != nil {
		t.Fatal(err)
	}
	if m := sent(t, fake, id); m.Plain != "<b>not bold</b>" {
		t.Fatalf("SendText shows %q", m.Plain)
	}
}

func TestLongQuestionIsShortenedToTelegramsLimitKeepingTheLink(t *testing.T) {
	fake, c := setup(t, telegramfake.Config{})
	q := question("A")
	// Emoji are two UTF-16 units each: counting runes would overflow.
	q.Message = strings.Repeat("😀", 3000)
	id, err := c.SendQuestion(context.Background(), chat, q)
	if err != nil {
		t.Fatal(err)
	}
	m := sent(t, fake, id)
	if n := len(utf16.Encode([]rune(m.Plain))); n > telegram.MaxText || n < telegram.MaxText-2 {
		t.Fatalf("text is %d UTF-16 units, want just under %d", n, telegram.MaxText)
	}
	if !strings.Contains(m.Plain, "😀…\n\n⏳") || !strings.HasSuffix(m.Plain, q.URL) {
		t.Fatalf("shortened text lost its tail: …%q", m.Plain[len(m.Plain)-200:])
	}
}

func TestEditClosedSaysHowItEndedAndRemovesTheKeyboard(t *testing.T) {
	for _, tc := range []struct {
		o    telegram.Outcome
		want string
	}{
		{telegram.Outcome{Status: telegram.StatusAnswered, Answer: "Yes <ship it>"}, "✅ Answered: Yes <ship it>"},
		{telegram.Outcome{Status: telegram.StatusExpired}, "⌛ Expired"},
		{telegram.Outcome{Status: telegram.StatusCancelled}, "🚫 Cancelled"},
	} {
		fake, c := setup(t, telegramfake.Config{})
		q := question("Yes", "No")
		id, _ := c.SendQuestion(context.Background(), chat, q)
		if err := c.EditClosed(context.Background(), chat, id, q, tc.o); err != nil {
			t.Fatal(err)
		}
		m := sent(t, fake, id)
		if m.Keyboard != nil || m.Edits != 1 || !strings.Contains(m.Plain, tc.want) || !strings.Contains(m.Plain, "Ship it to production?") {
			t.Fatalf("%s: %+v", tc.o.Status, m)
		}
		// Another replica closing the same message again changes nothing
		// and is not an error.
		if err := c.EditClosed(context.Background(), chat, id, q, tc.o); err != nil {
			t.Fatalf("second close: %v", err)
		}
		if m := sent(t, fake, id); m.Edits != 1 {
			t.Fatalf("second close edited again: %d edits", m.Edits)
		}
	}
	_, c := setup(t, telegramfake.Config{})
	if err := c.EditClosed(context.Background(), chat, 777, question(), telegram.Outcome{Status: telegram.StatusExpired}); err == nil || telegram.IsTransient(err) {
		t.Fatalf("closing a missing message = %v, want a permanent error", err)
	}
}

func TestUpdatesFromOtherChatsAreRefused(t *testing.T) {
	const other int64 = 777
	fake, c := setup(t, telegramfake.Config{Chats: []int64{chat, other}})
	id, err := c.SendQuestion(context.Background(), other, question("Yes"))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fake.PressOption(other, id, "Yes")
	_, _ = fake.Reply(other, id, "yes")
	_, _ = fake.Say(other, "hello")
	ups, err := c.GetUpdates(context.Background(), 0, time.Second)
	if err != nil || len(ups) != 3 {
		t.Fatalf("%v, %d updates", err, len(ups))
	}
	for _, u := range ups {
		if a, err := telegram.ParseUpdate(u, chat); !errors.Is(err, telegram.ErrForeignChat) {
			t.Errorf("update from chat %d: %#v, %v", other, a, err)
		}
	}
}

func TestParseUpdateIgnoresWhatIsNotAnAnswer(t *testing.T) {
	msg := func(m telegram.Message) telegram.Update { return telegram.Update{UpdateID: 1, Message: &m} }
	here := telegram.Chat{ID: chat}
	kb := &telegram.InlineKeyboardMarkup{InlineKeyboard: [][]telegram.InlineKeyboardButton{{{Text: "☐ A", CallbackData: "t:" + session + ":0:0"}}}}
	press := func(data string, m *telegram.Message) telegram.Update {
		return telegram.Update{UpdateID: 1, CallbackQuery: &telegram.CallbackQuery{ID: "q", Data: data, Message: m}}
	}
	live := &telegram.Message{MessageID: 5, Chat: here, Date: 1, ReplyMarkup: kb}
	for name, tc := range map[string]struct {
		u    telegram.Update
		want error
	}{
		"plain message":          {msg(telegram.Message{Chat: here, Text: "hi"}), telegram.ErrIgnored},
		"reply without text":     {msg(telegram.Message{Chat: here, ReplyToMessage: &telegram.Message{MessageID: 1}}), telegram.ErrIgnored},
		"message from a bot":     {msg(telegram.Message{Chat: here, From: &telegram.User{IsBot: true}, Text: "x", ReplyToMessage: &telegram.Message{MessageID: 1}}), telegram.ErrIgnored},
		"edited message":         {telegram.Update{UpdateID: 1, EditedMessage: &telegram.Message{Chat: here}}, telegram.ErrIgnored},
		"empty update":           {telegram.Update{UpdateID: 1}, telegram.ErrIgnored},
		"inline-mode press":      {press("c:"+session+":0", nil), telegram.ErrIgnored},
		"toggle on old message":  {press("t:"+session+":0:0", &telegram.Message{MessageID: 5, Chat: here}), telegram.ErrIgnored},
		"toggle not on message":  {press("t:"+session+":1:0", live), telegram.ErrInvalid},
		"someone else's data":    {press("vote_up", live), telegram.ErrInvalid},
		"option out of range":    {press("c:"+session+":98", live), telegram.ErrInvalid},
		"leading zero":           {press("c:"+session+":01", live), telegram.ErrInvalid},
		"session with a colon":   {press("c:a:b:1", live), telegram.ErrInvalid},
		"bad toggle state":       {press("t:"+session+":0:2", live), telegram.ErrInvalid},
		"send with extra fields": {press("s:"+session+":1", live), telegram.ErrInvalid},
	} {
		if a, err := telegram.ParseUpdate(tc.u, chat); !errors.Is(err, tc.want) {
			t.Errorf("%s: %#v, %v; want %v", name, a, err, tc.want)
		}
	}
}

func TestSendQuestionRefusesWhatCannotWork(t *testing.T) {
	_, c := setup(t, telegramfake.Config{})
	for name, mut := range map[string]func(*telegram.Question){
		"session id too long":  func(q *telegram.Question) { q.SessionID = strings.Repeat("a", 49) },
		"session id has colon": func(q *telegram.Question) { q.SessionID = "a:b" },
		"no text":              func(q *telegram.Question) { q.Title, q.Message = " ", "" },
		"blank option":         func(q *telegram.Question) { q.Options = []string{"a", " "} },
		"too many options":     func(q *telegram.Question) { q.Options = make([]string, 99) },
		"link not http":        func(q *telegram.Question) { q.URL = "javascript:alert(1)" },
	} {
		q := question("a")
		mut(&q)
		if _, err := c.SendQuestion(context.Background(), chat, q); !errors.Is(err, telegram.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := c.SendQuestion(context.Background(), 0, question()); !errors.Is(err, telegram.ErrInvalid) {
		t.Errorf("chat 0: %v", err)
	}
	if _, err := c.SendQuestion(context.Background(), 31337, question()); err == nil || !strings.Contains(err.Error(), "chat not found") {
		t.Errorf("unknown chat: %v", err)
	}
}

func TestTheTokenNeverShows(t *testing.T) {
	// Nothing listens here: the transport error carries the request URL,
	// which carries the token.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	c, err := telegram.New(telegram.Config{Token: token, APIURL: dead})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetMe(context.Background())
	if err == nil || strings.Contains(err.Error(), string(token)) || strings.Contains(fmt.Sprintf("%+v", err), string(token)) {
		t.Fatalf("error leaks the token: %v", err)
	}
	if !telegram.IsTransient(err) {
		t.Errorf("an unreachable API is transient: %v", err)
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if strings.Contains(e.Error(), string(token)) {
			t.Fatalf("a wrapped error leaks the token: %v", e)
		}
	}

	cfg := telegram.Config{Token: token, APIURL: dead}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "cfg", cfg, "token", cfg.Token)
	for _, s := range []string{
		fmt.Sprintf("%v %+v %#v %s %q %x", cfg, cfg, cfg, cfg.Token, cfg.Token, cfg.Token),
		logs.String(),
	} {
		if strings.Contains(s, string(token)) || strings.Contains(s, "AAFakeToken") {
			t.Fatalf("token printed: %s", s)
		}
	}

	// A token of the wrong shape could change the request path.
	for _, bad := range []telegram.Token{"", "abc", "123:short", "123:AAAAAAAAAAAAAAAAAAAAAAAA/../x", "123:AAAAAAAAAAAAAAAAAAAAAAAA?x=1"} {
		if _, err := telegram.New(telegram.Config{Token: bad}); !errors.Is(err, telegram.ErrInvalid) {
			t.Errorf("token %q accepted", string(bad))
		}
	}
}

func TestWrongTokenIsAPermanentError(t *testing.T) {
	fake := telegramfake.Start(t, telegramfake.Config{Token: token})
	c, _ := telegram.New(telegram.Config{Token: "654321:AAAnotherBotsTokenAnotherBots_xyz", APIURL: fake.URL})
	_, err := c.GetMe(context.Background())
	var apiErr *telegram.Error
	if !errors.As(err, &apiErr) || apiErr.Code != 401 || telegram.IsTransient(err) {
		t.Fatalf("wrong token: %v", err)
	}
}

func TestFloodControlIsTransientWithRetryAfter(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("Content-Type", "application/json")
		if calls == 1 {
			w.WriteHeader(429)
			fmt.Fprint(w, `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}`)
			return
		}
		w.WriteHeader(502)
		fmt.Fprint(w, `<html>Bad Gateway</html>`)
	}))
	defer srv.Close()
	c, _ := telegram.New(telegram.Config{Token: token, APIURL: srv.URL})
	_, err := c.SendText(context.Background(), chat, "hi")
	var apiErr *telegram.Error
	if !errors.As(err, &apiErr) || apiErr.RetryAfter != 7*time.Second || !telegram.IsTransient(err) {
		t.Fatalf("429: %v", err)
	}
	if _, err = c.SendText(context.Background(), chat, "hi"); !telegram.IsTransient(err) {
		t.Fatalf("a proxy's 502 page: %v, want transient", err)
	}
}

func TestGetUpdatesWaitsForAnUpdateAndOffsetConfirmsIt(t *testing.T) {
	fake, c := setup(t, telegramfake.Config{})
	got := make(chan []telegram.Update, 1)
	go func() {
		ups, err := c.GetUpdates(context.Background(), 0, 10*time.Second)
		if err != nil {
			t.Error(err)
		}
		got <- ups
	}()
	// The poll is parked at the fake; an update wakes it long before its
	// 10 s timeout.
	poll.Until(t, 5*time.Second, func() error {
		if fake.Polling() != 1 {
			return errors.New("the poll is not waiting at the fake")
		}
		return nil
	})
	if _, err := fake.Say(chat, "wake up"); err != nil {
		t.Fatal(err)
	}
	var ups []telegram.Update
	select {
	case ups = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("long poll did not return on a new update")
	}
	if len(ups) == 0 || ups[0].Message == nil || ups[0].Message.Text != "wake up" {
		t.Fatalf("updates = %+v", ups)
	}
	if fake.Pending() != 1 {
		t.Fatalf("%d pending before confirmation, want 1", fake.Pending())
	}
	again, err := c.GetUpdates(context.Background(), ups[0].UpdateID+1, 0)
	if err != nil || len(again) != 0 || fake.Pending() != 0 {
		t.Fatalf("after confirming: %v, %d updates, %d pending", err, len(again), fake.Pending())
	}
}

func TestASecondGetUpdatesEndsTheFirstWithConflict(t *testing.T) {
	fake, c := setup(t, telegramfake.Config{})
	first := make(chan error, 1)
	go func() {
		_, err := c.GetUpdates(context.Background(), 0, 20*time.Second)
		first <- err
	}()
	poll.Until(t, 5*time.Second, func() error {
		if fake.Polling() != 1 {
			return errors.New("first poll not waiting")
		}
		return nil
	})
	if _, err := c.GetUpdates(context.Background(), 0, 0); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-first:
		if !telegram.IsConflict(err) {
			t.Fatalf("first poll ended with %v, want 409", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("first poll still running")
	}
}

func TestGetUpdatesEndsWithItsContext(t *testing.T) {
	_, c := setup(t, telegramfake.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.GetUpdates(ctx, 0, 30*time.Second)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || telegram.IsTransient(err) {
			t.Fatalf("cancelled poll: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a cancelled poll kept waiting")
	}
}
