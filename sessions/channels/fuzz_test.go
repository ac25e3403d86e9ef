package channels

import (
	"context"
	"strings"
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
		`{"telegram":{"chatId":"-1001234567890"},"slack":{"webhookUrl":"https://x.example.com"},"ntfy":{"url":"https://ntfy.sh/t","token":""},"disabled":["slack"]}`,
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

// FuzzDecodePushSubscription feeds arbitrary bodies through the decoder and
// the rules of a browser's subscription: neither may panic, every refusal is
// INVALID_REQUEST, and an accepted subscription is https with keys of the
// right size and an id derived from its endpoint.
func FuzzDecodePushSubscription(f *testing.F) {
	for _, s := range []string{
		`{"endpoint":"https://push.example.com/x","keys":{"p256dh":"BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM","auth":"tBHItJI5svbpez7KI4CCXg"}}`,
		`{"endpoint":"http://push.example.com/x","expirationTime":null,"keys":{}}`, `{"endpoint":""}`, `[]`, `{"keys":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := DecodePushSubscription(data)
		if err != nil {
			if sessions.ErrorCode(err) != sessions.CodeInvalidRequest {
				t.Fatalf("decode error %v is not INVALID_REQUEST", err)
			}
			return
		}
		sub, err := pushSubscription(context.Background(), in, nil)
		if err != nil {
			if sessions.ErrorCode(err) != sessions.CodeInvalidRequest {
				t.Fatalf("validation error %v is not INVALID_REQUEST", err)
			}
			return
		}
		key, kerr := decodeB64URL(sub.P256dh)
		auth, aerr := decodeB64URL(sub.Auth)
		if !strings.HasPrefix(sub.Endpoint, "https://") || kerr != nil || len(key) != 65 || aerr != nil || len(auth) != 16 ||
			sub.ID != PushSubscriptionID(sub.Endpoint) {
			t.Fatalf("accepted %+v", sub)
		}
	})
}
