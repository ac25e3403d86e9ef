package channels

import (
	"context"
	"testing"

	"github.com/feedbackd/feedbackd/sessions"
)

// FuzzDecodeUpdate feeds arbitrary bodies through the decoder and the rules
// an update must meet: neither may panic, every refusal is INVALID_REQUEST,
// and whatever is accepted holds only valid settings.
func FuzzDecodeUpdate(f *testing.F) {
	for _, s := range []string{`{}`,
		`{"webhooks":[{"url":"https://h.example.com","secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw","events":["session.created"]}]}`,
		`{"webhooks":[{"id":"wh_0123456789abcdef","url":"https://h.example.com"}]}`,
		`{"telegram":{"chatId":"@chan_1"},"slack":{"webhookUrl":"https://x.example.com"},"ntfy":{"url":"https://ntfy.sh/t","token":""},"disabled":["slack"]}`,
		`{"webhooks":null}`, `{"a":`, `{"ntfy":{"url":"https://ntfy.sh/a/b/"}}`} {
		f.Add([]byte(s))
	}
	prev := &Settings{Owner: "fuzz", Webhooks: []Webhook{{ID: "wh_0123456789abcdef", URL: "https://old.example.com", Secret: NewWebhookSecret()}}}
	f.Fuzz(func(t *testing.T, data []byte) {
		u, err := DecodeUpdate(data)
		if err != nil {
			if sessions.ErrorCode(err) != sessions.CodeInvalidRequest {
				t.Fatalf("decode error %v is not INVALID_REQUEST", err)
			}
			return
		}
		next, err := apply(context.Background(), prev, u, nil)
		if err != nil {
			if sessions.ErrorCode(err) != sessions.CodeInvalidRequest {
				t.Fatalf("validation error %v is not INVALID_REQUEST", err)
			}
			return
		}
		if len(next.Webhooks) > MaxWebhooks {
			t.Fatalf("%d webhooks accepted", len(next.Webhooks))
		}
		for _, w := range next.Webhooks {
			if _, err := SecretKey(w.Secret); err != nil || !webhookIDRe.MatchString(w.ID) {
				t.Fatalf("accepted webhook %+v", w)
			}
		}
		for _, k := range next.Disabled {
			if !k.Valid() {
				t.Fatalf("accepted disabled %q", k)
			}
		}
		if next.Telegram != nil && !chatIDRe.MatchString(next.Telegram.ChatID) {
			t.Fatalf("accepted chat id %q", next.Telegram.ChatID)
		}
	})
}
