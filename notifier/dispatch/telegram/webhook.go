package telegram

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// SecretHeader is the header in which Telegram sends the secret given to
// setWebhook with every webhook request.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// WebhookSecret derives the webhook secret from the bot token. Every replica
// derives the same secret without storing or exchanging anything, and the
// secret reveals nothing of the token. It is 43 characters of the alphabet
// setWebhook allows.
func WebhookSecret(t Token) string {
	mac := hmac.New(sha256.New, []byte(t))
	mac.Write([]byte("feedbackd telegram webhook secret v1"))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// VerifySecret reports whether got, the value of SecretHeader on a webhook
// request, equals want, in time that does not depend on where they differ.
// An empty want verifies nothing: a webhook without a secret is refused.
func VerifySecret(got, want string) bool {
	if want == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// validSecret reports whether s is a secret setWebhook accepts.
func validSecret(s string) bool {
	if len(s) < 1 || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
