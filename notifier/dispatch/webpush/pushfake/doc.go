// Package pushfake is a fake Web Push service for tests: an HTTPS server on
// 127.0.0.1 that plays both the push service and the browser behind it.
//
// Subscribe hands out a subscription as PushManager.subscribe would — a fresh
// P-256 key pair and 16-byte auth secret, bound to an applicationServerKey —
// keeping the private half. A push to its endpoint is checked as a push
// service checks it (RFC 8030 and RFC 8292): the Authorization header
// "vapid t=<JWT>, k=<key>" with an ES256 JWT signed by k, aud the endpoint's
// origin, exp present and at most 24 hours ahead, sub mailto: or https:, and k
// the subscription's applicationServerKey (401, or 403 for a key mismatch); a
// TTL header; a valid Urgency and Topic; Content-Encoding aes128gcm (415);
// at most 4096 bytes (413). Then the body is decrypted per RFC 8291 as the
// browser would (400 if it cannot be), and the plaintext is recorded.
//
// Tests tell an endpoint to fail with FailWith (404, 410, 429 with
// Retry-After, 500, …) or end it with Unsubscribe (410), and read Messages
// and Rejections.
//
// Usage:
//
//	fake := pushfake.Start(t, pushfake.Config{})
//	keys, _ := webpush.GenerateVAPIDKeys()
//	sub, _ := fake.Subscribe(keys.PublicKey())
//	sender, _ := webpush.NewSender(webpush.Config{Keys: keys,
//		Subject: "mailto:ops@example.com", HTTPClient: fake.Client()})
//	res, err := sender.Send(ctx, sub, payload, webpush.Options{TTL: time.Minute})
//	got := fake.Messages(sub.Endpoint)[0].Payload // == payload
//
// The package must not know feedbackd's sessions: it fakes a push service.
package pushfake
