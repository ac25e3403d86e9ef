package mcp_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/notifier/dispatch/telegram"
	"github.com/feedbackd/feedbackd/notifier/dispatch/telegram/telegramfake"
)

const botToken telegram.Token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"

// TestTelegramWholeLoop is the loop a person with Telegram lives in: an
// agent asks through MCP (the official Go SDK, waiting for the answer), the
// question reaches the chat, the person presses a button or replies, and
// the agent's call returns that answer. When the question is answered
// elsewhere the chat's message is edited, never sent again. The edge and
// the dispatcher run as the separate roles they are in production, on one
// NATS.
func TestTelegramWholeLoop(t *testing.T) {
	fake := telegramfake.Start(t, telegramfake.Config{Token: botToken})
	chat := telegramfake.DefaultChatID
	ns := programtest.StartNATS(t)
	e := startEdge(t, ns.URL)
	programtest.MustRunMain(t, programtest.Role("dispatcher"), programtest.NATS(ns.URL),
		programtest.Env("PUBLIC_URL", e.url),
		programtest.Env("TELEGRAM_BOT_TOKEN", string(botToken)),
		programtest.Env("TELEGRAM_API_URL", fake.URL),
		programtest.Env("TELEGRAM_CHAT_ID", fmt.Sprint(chat)))
	programtest.WaitFor(t, 10*time.Second, programtest.Until("the dispatcher to poll Telegram", func() bool { return fake.Polling() == 1 }))
	c := connect(t, transports[0], e.url, newKeyTransport(keyA))

	// ask calls interactive_feedback in the background, as an agent that
	// waits for the person does (30 s unless args say otherwise).
	type result struct {
		res *sdk.CallToolResult
		err error
	}
	ask := func(args map[string]any) (<-chan result, time.Time) {
		if _, ok := args["waitSeconds"]; !ok {
			args["waitSeconds"] = 30
		}
		done := make(chan result, 1)
		go func() {
			res, err := c.CallTool(context.Background(), &sdk.CallToolParams{Name: "interactive_feedback", Arguments: args})
			done <- result{res, err}
		}()
		return done, time.Now()
	}
	await := func(done <-chan result) toolOutput {
		t.Helper()
		select {
		case r := <-done:
			if r.err != nil {
				t.Fatal(r.err)
			}
			return structured(t, r.res)
		case <-time.After(40 * time.Second):
			t.Fatal("the agent's call did not return")
		}
		return toolOutput{}
	}
	// message waits for the bot's message that starts with prefix.
	message := func(prefix string, asked time.Time) telegramfake.Message {
		t.Helper()
		var m telegramfake.Message
		programtest.WaitFor(t, 10*time.Second, func() error {
			for _, got := range fake.Messages(chat) {
				if strings.HasPrefix(got.Plain, prefix) {
					m = got
					return nil
				}
			}
			return fmt.Errorf("no message %q in the chat", prefix)
		})
		t.Logf("%q reached the chat %s after the agent asked", prefix, m.Date.Sub(asked).Round(time.Millisecond))
		return m
	}
	closedAs := func(id int, want string) {
		t.Helper()
		programtest.WaitFor(t, 10*time.Second, func() error {
			m, _ := fake.Message(chat, id)
			if m.Keyboard != nil || !strings.Contains(m.Plain, want) {
				return fmt.Errorf("message %d: %q", id, m.Plain)
			}
			return nil
		})
	}

	// A button answers.
	done, asked := ask(map[string]any{"message": "Deploy the release to production?", "predefinedOptions": []string{"Ship it", "Hold"},
		"multiSelect": false})
	q := message("Deploy the release to production?", asked)
	if q.Date.Sub(asked) > 5*time.Second {
		t.Errorf("the question took %s to reach the chat", q.Date.Sub(asked))
	}
	if _, err := fake.PressOption(chat, q.MessageID, "Ship it"); err != nil {
		t.Fatal(err)
	}
	out := await(done)
	if out.Status != "completed" || out.Feedback == nil || len(out.Feedback.SelectedOptions) != 1 || out.Feedback.SelectedOptions[0] != "Ship it" {
		t.Fatalf("the agent got %+v", out)
	}
	closedAs(q.MessageID, "Answered: Ship it")

	// A reply answers with free text.
	done, asked = ask(map[string]any{"message": "What should the changelog say?"})
	q = message("What should the changelog say?", asked)
	if _, err := fake.Reply(chat, q.MessageID, "Faster startup, fewer bugs."); err != nil {
		t.Fatal(err)
	}
	out = await(done)
	if out.Feedback == nil || out.Feedback.FreeText != "Faster startup, fewer bugs." {
		t.Fatalf("the agent got %+v", out)
	}
	closedAs(q.MessageID, "Answered: Faster startup, fewer bugs.")

	// Answered on the page instead: the chat's message is edited.
	done, asked = ask(map[string]any{"message": "Rotate the keys tonight?", "predefinedOptions": []string{"Yes", "No"}})
	q = message("Rotate the keys tonight?", asked)
	id := pendingSession(t, e, keyA)
	submit(t, e.url, id, map[string]any{"selectedOptions": []string{"No"}, "freeText": "next week"})
	out = await(done)
	if out.Feedback == nil || out.Feedback.SelectedOptions[0] != "No" {
		t.Fatalf("the agent got %+v", out)
	}
	closedAs(q.MessageID, "Answered: No")
	if n := len(fake.Calls("sendMessage")); n != 3 {
		t.Fatalf("%d messages for three questions: an end must edit, not send", n)
	}
	// And a question asked with notify: false stays off the chat.
	if code, env := rest(t, http.MethodPost, e.url+"/api/feedback/create", keyA, map[string]any{"message": "Quiet one", "notify": false}); code != 201 {
		t.Fatalf("create: %d %v", code, env)
	}
	loud, asked := ask(map[string]any{"message": "Loud one", "waitSeconds": 0})
	message("Loud one", asked)
	await(loud)
	for _, m := range fake.Messages(chat) {
		if strings.Contains(m.Plain, "Quiet one") {
			t.Fatal("a notify: false question reached the chat")
		}
	}
}
