package webpush_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	webpushgo "github.com/SherClockHolmes/webpush-go"

	"github.com/feedbackd/feedbackd/notifier/dispatch/webpush"
)

func TestVAPIDKeysSurviveStorageAndKeepTheirPublicKey(t *testing.T) {
	keys, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := keys.MarshalBinary()
	if err != nil || len(raw) != 32 {
		t.Fatalf("MarshalBinary: %d bytes, %v", len(raw), err)
	}
	again, err := webpush.ParseVAPIDKeys(raw)
	if err != nil || again.PublicKey() != keys.PublicKey() {
		t.Fatalf("reloaded pair differs: %v", err)
	}
	pub, err := base64.RawURLEncoding.DecodeString(keys.PublicKey())
	if err != nil || len(pub) != 65 || pub[0] != 4 {
		t.Fatalf("applicationServerKey %q is not a base64url uncompressed point", keys.PublicKey())
	}

	// A pair made by another tool (webpush-go's generator prints what
	// web-push's does) loads and signs pushes a subscription to its public
	// key accepts.
	priv, pubText, err := webpushgo.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	imported, err := webpush.ParseVAPIDPrivateKey(priv)
	if err != nil || imported.PublicKey() != pubText {
		t.Fatalf("imported pair: %v, public %s want %s", err, imported.PublicKey(), pubText)
	}
	fake, _, _ := setup(t)
	sub, _ := fake.Subscribe(pubText)
	sender, _ := webpush.NewSender(webpush.Config{Keys: imported, Subject: subject, HTTPClient: fake.Client()})
	if res, err := sender.Send(context.Background(), sub, []byte(`{}`), webpush.Options{}); res.Outcome != webpush.Delivered {
		t.Fatalf("push with an imported pair: %+v %v", res, err)
	}

	for name, bad := range map[string][]byte{
		"short":          raw[:31],
		"long":           append(append([]byte(nil), raw...), 0),
		"zero":           make([]byte, 32),
		"over the order": bytes.Repeat([]byte{0xff}, 32),
	} {
		if _, err := webpush.ParseVAPIDKeys(bad); !errors.Is(err, webpush.ErrInvalid) {
			t.Errorf("%s key accepted: %v", name, err)
		}
	}
	if _, err := webpush.ParseVAPIDPrivateKey("not base64!"); !errors.Is(err, webpush.ErrInvalid) {
		t.Errorf("garbage private key: %v", err)
	}
}

func TestThePrivateKeyNeverPrints(t *testing.T) {
	keys, _ := webpush.GenerateVAPIDKeys()
	raw, _ := keys.MarshalBinary()
	secret := base64.RawURLEncoding.EncodeToString(raw)
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("keys", "keys", keys)
	cfg := webpush.Config{Keys: keys, Subject: subject}
	for _, s := range []string{fmt.Sprintf("%v %+v %s", keys, cfg, keys), logs.String()} {
		if strings.Contains(s, secret) || !strings.Contains(s, keys.PublicKey()) {
			t.Fatalf("printed: %s", s)
		}
	}
}

func TestNewSenderRefusesABadSubject(t *testing.T) {
	keys, _ := webpush.GenerateVAPIDKeys()
	for _, s := range []string{"", "ops@example.com", "mailto:", "mailto:not an address", "http://example.com", "https://"} {
		if _, err := webpush.NewSender(webpush.Config{Keys: keys, Subject: s}); !errors.Is(err, webpush.ErrInvalid) {
			t.Errorf("subject %q accepted", s)
		}
	}
	if _, err := webpush.NewSender(webpush.Config{Subject: subject}); !errors.Is(err, webpush.ErrInvalid) {
		t.Error("no keys accepted")
	}
}

func TestSubscriptionJSONIsTheBrowsersAndValidateChecksIt(t *testing.T) {
	fake, keys, _ := setup(t)
	sub := subscribe(t, fake, keys)
	// What PushSubscription.toJSON() gives, expirationTime included.
	browser := fmt.Sprintf(`{"endpoint":%q,"expirationTime":null,"keys":{"p256dh":%q,"auth":%q}}`, sub.Endpoint, sub.P256dh, sub.Auth)
	var got webpush.Subscription
	if err := json.Unmarshal([]byte(browser), &got); err != nil || got != sub {
		t.Fatalf("decoded %+v, %v", got, err)
	}
	out, _ := json.Marshal(sub)
	if want := fmt.Sprintf(`{"endpoint":%q,"keys":{"p256dh":%q,"auth":%q}}`, sub.Endpoint, sub.P256dh, sub.Auth); string(out) != want {
		t.Fatalf("encoded %s", out)
	}
	if err := sub.Validate(); err != nil {
		t.Fatal(err)
	}
	dh, _ := base64.RawURLEncoding.DecodeString(sub.P256dh)
	padded := sub
	padded.P256dh = base64.StdEncoding.EncodeToString(dh) // some browsers' polyfills
	if err := padded.Validate(); err != nil {
		t.Fatalf("standard base64 with padding refused: %v", err)
	}
	offCurve := append([]byte(nil), dh...)
	offCurve[64] ^= 1
	for name, mut := range map[string]func(*webpush.Subscription){
		"http endpoint":      func(s *webpush.Subscription) { s.Endpoint = "http://push.example.com/x" },
		"relative endpoint":  func(s *webpush.Subscription) { s.Endpoint = "/push/x" },
		"endpoint with user": func(s *webpush.Subscription) { s.Endpoint = "https://a:b@push.example.com/x" },
		"huge endpoint":      func(s *webpush.Subscription) { s.Endpoint = "https://push.example.com/" + strings.Repeat("x", 3000) },
		"p256dh not a point": func(s *webpush.Subscription) { s.P256dh = base64.RawURLEncoding.EncodeToString(offCurve) },
		"p256dh compressed":  func(s *webpush.Subscription) { s.P256dh = base64.RawURLEncoding.EncodeToString(dh[:33]) },
		"p256dh garbage":     func(s *webpush.Subscription) { s.P256dh = "!!!" },
		"auth short":         func(s *webpush.Subscription) { s.Auth = base64.RawURLEncoding.EncodeToString(make([]byte, 15)) },
		"auth missing":       func(s *webpush.Subscription) { s.Auth = "" },
	} {
		s := sub
		mut(&s)
		if err := s.Validate(); !errors.Is(err, webpush.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestMessageFitsThePayloadLimitWhateverTheAgentWrote(t *testing.T) {
	now := time.Now()
	q := webpush.Question{
		SessionID: "s1", Title: strings.Repeat("T<", 2000), Message: strings.Repeat("é\"<>&", 2000),
		URL: "https://feedback.example.com/f/s1", ExpiresAt: now.Add(time.Hour),
	}
	b, err := webpush.QuestionMessage(q, now).Encode()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > webpush.MaxPayload {
		t.Fatalf("%d bytes", len(b))
	}
	m, err := webpush.DecodeMessage(b)
	if err != nil || !utf8.ValidString(m.Body) || !utf8.ValidString(m.Title) || m.Title == "" {
		t.Fatalf("decoded %+v, %v", m, err)
	}

	// Without a title, a generic one; a question already over is not sent.
	m = webpush.QuestionMessage(webpush.Question{SessionID: "s", Message: "Why?", URL: "https://x.example/f", ExpiresAt: now.Add(-time.Second)}, now)
	if m.Title == "" {
		t.Fatal("no title")
	}
	if _, ok := m.Options(now); ok {
		t.Fatal("an expired question would be pushed")
	}
	if tp := webpush.Topic(strings.Repeat("x", 200)); len(tp) != 32 {
		t.Fatalf("topic %q", tp)
	}
}

func TestDecodeMessageRefusesWhatTheServiceWorkerWouldNotUnderstand(t *testing.T) {
	for name, body := range map[string]string{
		"not json":        "hello",
		"unknown type":    `{"type":"sms","sessionId":"s","tag":"feedbackd-s"}`,
		"no session":      `{"type":"close","tag":"feedbackd-","status":"expired"}`,
		"wrong tag":       `{"type":"close","sessionId":"s","tag":"other","status":"expired"}`,
		"bad status":      `{"type":"close","sessionId":"s","tag":"feedbackd-s","status":"maybe"}`,
		"question no url": `{"type":"question","sessionId":"s","tag":"feedbackd-s","title":"t"}`,
		"unknown field":   `{"type":"close","sessionId":"s","tag":"feedbackd-s","status":"expired","x":1}`,
		"trailing data":   `{"type":"close","sessionId":"s","tag":"feedbackd-s","status":"expired"} {}`,
	} {
		if _, err := webpush.DecodeMessage([]byte(body)); !errors.Is(err, webpush.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzMessageEncodeDecode(f *testing.F) {
	f.Add("s1", "Title", "Body\nsecond line", "https://x.example/f")
	f.Add("s", "\xff", strings.Repeat("<", 3000), "https://x.example/f")
	f.Fuzz(func(t *testing.T, id, title, body, link string) {
		now := time.Unix(1_800_000_000, 0)
		m := webpush.QuestionMessage(webpush.Question{SessionID: id, Title: title, Message: body, URL: link, ExpiresAt: now.Add(time.Hour)}, now)
		b, err := m.Encode()
		if err != nil {
			return
		}
		if len(b) > webpush.MaxPayload {
			t.Fatalf("%d bytes", len(b))
		}
		back, err := webpush.DecodeMessage(b)
		if err != nil {
			t.Fatalf("encoded message does not decode: %v\n%s", err, b)
		}
		again, _ := back.Encode()
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding changed the message:\n%s\n%s", b, again)
		}
	})
}
