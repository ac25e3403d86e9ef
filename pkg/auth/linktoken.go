package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// The purposes of inbox credentials (docs/inbox.md). Each is the visible
// prefix of its tokens and is mixed into their MAC, so a token minted for
// one purpose never verifies for another: a session cookie is not an inbox
// link, and neither opens a WebSocket.
const (
	// PurposeInboxLink is the token an inbox link carries in its URL
	// fragment, exchanged for a session cookie.
	PurposeInboxLink = "fbl_"
	// PurposeInboxCookie is the value of the inbox's session cookie.
	PurposeInboxCookie = "fbc_"
	// PurposeInboxSocket is the short-lived credential the inbox opens the
	// notifier's WebSocket with (its cookie is not readable by script).
	PurposeInboxSocket = "fbs_"
)

// linkTokenDomain is mixed into every MAC, so a link token can never be
// confused with anything else signed by the same secret.
const linkTokenDomain = "feedbackd link token v1\x00"

// MaxLinkTokenLen bounds what LinkTokens.Verify decodes; a token names a
// short reference and is about 110 characters.
const MaxLinkTokenLen = 512

// maxLinkRef bounds the reference a token names.
const maxLinkRef = 256

// LinkTokens mints and checks purpose-bound, expiring tokens that name a
// reference (an inbox link's id), authenticated with HMAC-SHA256 over the
// purpose and the payload. A token is `<purpose><payload>.<mac>` in
// base64url, safe in a URL fragment, a cookie or a query string. It proves
// only that this cluster minted it for that reference and that it has not
// expired: whether the reference still stands (not revoked) is the caller's
// to check. Every replica must share the secret. LinkTokens is safe for
// concurrent use.
type LinkTokens struct {
	secret []byte
	now    func() time.Time
}

// NewLinkTokens returns LinkTokens keyed by secret, which must be at least
// MinSecretLen bytes of random data. The secret is copied.
func NewLinkTokens(secret []byte) (*LinkTokens, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("auth: link token secret is %d bytes, need at least %d", len(secret), MinSecretLen)
	}
	return &LinkTokens{secret: append([]byte(nil), secret...), now: time.Now}, nil
}

// WithClock returns a copy of l that reads the time from now, for tests.
func (l *LinkTokens) WithClock(now func() time.Time) *LinkTokens {
	return &LinkTokens{secret: l.secret, now: now}
}

// Mint returns a token for purpose naming ref that expires at expires
// (millisecond precision). ref must be valid UTF-8 of at most 256 bytes;
// purpose one of the Purpose constants.
func (l *LinkTokens) Mint(purpose, ref string, expires time.Time) string {
	return purpose + sealRef(ref, expires, func(payload []byte) []byte { return l.mac(purpose, payload) })
}

// Verify returns the reference token names and when it expires, or an
// error wrapping ErrUnauthorized when the token is not one of purpose, is
// malformed, forged, altered or expired. The MAC is compared in constant
// time.
func (l *LinkTokens) Verify(purpose, token string) (ref string, expires time.Time, err error) {
	if len(token) > MaxLinkTokenLen {
		return "", time.Time{}, fmt.Errorf("%w: token too long", ErrUnauthorized)
	}
	body, ok := strings.CutPrefix(token, purpose)
	if !ok || purpose == "" {
		return "", time.Time{}, fmt.Errorf("%w: not a %s token", ErrUnauthorized, strings.TrimSuffix(purpose, "_"))
	}
	// Strict: one spelling per token, so what verifies is what was minted.
	return openRef(body, base64.RawURLEncoding.Strict(), maxLinkRef, func(payload []byte) []byte { return l.mac(purpose, payload) }, l.now(), "token")
}

func (l *LinkTokens) mac(purpose string, payload []byte) []byte {
	m := hmac.New(sha256.New, l.secret)
	m.Write([]byte(linkTokenDomain))
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write(payload)
	return m.Sum(nil)
}
