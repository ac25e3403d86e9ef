package telegram_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/notifier/dispatch/telegram"
	"github.com/feedbackd/feedbackd/notifier/dispatch/telegram/telegramfake"
)

// SendQuestion end to end against the fake: render, escape, one HTTP round
// trip, the fake's checks.
func BenchmarkSendQuestion(b *testing.B) {
	fake := telegramfake.Start(b, telegramfake.Config{Token: token})
	c, _ := telegram.New(telegram.Config{Token: token, APIURL: fake.URL})
	q := question("Yes", "No", "Later")
	q.ExpiresAt = time.Now().Add(time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.SendQuestion(context.Background(), chat, q); err != nil {
			b.Fatal(err)
		}
	}
}

// ParseUpdate of a toggle on a ten-option question: what every press costs
// a replica before it touches NATS.
func BenchmarkParseToggle(b *testing.B) {
	kb := &telegram.InlineKeyboardMarkup{}
	for i := range 10 {
		kb.InlineKeyboard = append(kb.InlineKeyboard, []telegram.InlineKeyboardButton{{Text: fmt.Sprintf("☐ option %d", i), CallbackData: fmt.Sprintf("t:%s:%d:0", session, i)}})
	}
	kb.InlineKeyboard = append(kb.InlineKeyboard, []telegram.InlineKeyboardButton{{Text: "Send", CallbackData: "s:" + session}})
	u := telegram.Update{UpdateID: 1, CallbackQuery: &telegram.CallbackQuery{
		ID: "q", Data: fmt.Sprintf("t:%s:7:0", session),
		Message: &telegram.Message{MessageID: 1, Date: 1, Chat: telegram.Chat{ID: chat}, ReplyMarkup: kb},
	}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := telegram.ParseUpdate(u, chat); err != nil {
			b.Fatal(err)
		}
	}
}
