// Package webpush sends feedbackd's notifications to browsers through their
// push services: RFC 8030 (the protocol), RFC 8291 (payload encryption,
// aes128gcm) and RFC 8292 (VAPID), using github.com/SherClockHolmes/webpush-go
// for encryption and signing.
//
// # Keys
//
// A cluster keeps one VAPID key pair for good, because every subscription is
// bound to the public key it was made with. GenerateVAPIDKeys makes a pair;
// MarshalBinary/ParseVAPIDKeys store and load it (the 32-byte private scalar,
// for the config bucket); ParseVAPIDPrivateKey reads the base64url private key
// other tools print. PublicKey is what the browser's
// PushManager.subscribe({applicationServerKey}) takes.
//
// # Sending
//
// Sender.Send encrypts a payload for a Subscription (the PushSubscription
// JSON a browser gives) and posts it with the TTL, Urgency and Topic headers,
// and returns a typed Result: Delivered; Gone (404/410: delete the
// subscription); Transient (429, 5xx, no answer: retry, after RetryAfter if
// given); Rejected (anything else: retrying will not help).
//
// # The payload: the contract with the service worker
//
// Every push carries one JSON object of at most MaxPayload (3072) bytes:
//
//	{"type":"question","sessionId":"<id>","tag":"feedbackd-<id>",
//	 "title":"<question title, or a generic one>",
//	 "body":"<first line of the message>\n⏳ <time left>",
//	 "url":"<the question's page>","expiresAt":"<RFC 3339>"}
//
//	{"type":"close","sessionId":"<id>","tag":"feedbackd-<id>",
//	 "status":"completed|expired|cancelled"}
//
// On "question" the service worker shows a notification with title, body and
// tag, keeping url in its data; a click opens (or focuses) url. On "close" it
// closes the notifications with that tag. Unknown types are ignored, so the
// format can grow. Message.Encode builds and checks it (shortening body, then
// title, to fit), DecodeMessage reads it back; Message.Options gives the push
// options that suit it (a question: TTL until it expires, urgency high; a
// close: TTL one day, urgency normal; both with the session's Topic, so a
// close replaces a question still waiting for an offline device).
//
// This package must not know sessions, NATS, or where subscriptions are
// stored; the dispatcher maps sessions to messages and deletes what is Gone.
package webpush
