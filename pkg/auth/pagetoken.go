package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
)

// pageTokenDomain is mixed into every MAC so a page token can never be
// confused with anything else signed by the same secret (a JWT, say).
const pageTokenDomain = "feedbackd page token v1\x00"

// maxPageTokenLen bounds what Verify decodes. A UUID session id makes a token
// of about 70 bytes.
const maxPageTokenLen = 512

var errPageTokenSession = errors.New("page token is for another session")

// PageTokens mints and checks page tokens: the narrow, short-lived
// credential the feedback page is handed to watch its own session over
// WebSocket (docs/api.md, "WebSocket"). A page token names one session and
// an expiry, authenticated with HMAC-SHA256; it grants nothing else, and is
// not a Principal. Every replica that mints or verifies must share the secret.
// PageTokens is safe for concurrent use.
type PageTokens struct {
	secret []byte
	now    func() time.Time
}

// NewPageTokens returns PageTokens keyed by secret, which must be at least
// MinSecretLen bytes of random data. The secret is copied.
func NewPageTokens(secret []byte) (*PageTokens, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("auth: page token secret is %d bytes, need at least %d", len(secret), MinSecretLen)
	}
	return &PageTokens{secret: append([]byte(nil), secret...), now: time.Now}, nil
}

// Mint returns a token for sessionID that expires ttl from now (a ttl of
// zero or less makes a token that is already expired). The token is URL-safe
// and may go in a query string.
func (p *PageTokens) Mint(sessionID string, ttl time.Duration) string {
	return sealRef(sessionID, p.now().Add(ttl), p.mac)
}

// Verify returns the session id token was minted for, or an error wrapping
// ErrUnauthorized when the token is malformed, forged, altered or expired.
// The MAC is compared in constant time. The caller must still check that the
// id is the session being asked for; VerifySession does both.
func (p *PageTokens) Verify(token string) (sessionID string, err error) {
	id, _, err := p.VerifyExpiry(token)
	return id, err
}

// VerifyExpiry checks token as Verify does, and also returns when it
// expires, for a connection it opened that must end then.
func (p *PageTokens) VerifyExpiry(token string) (sessionID string, expires time.Time, err error) {
	if len(token) > maxPageTokenLen {
		return "", time.Time{}, fmt.Errorf("%w: page token too long", ErrUnauthorized)
	}
	return openRef(token, base64.RawURLEncoding, 0, p.mac, p.now(), "page token")
}

// VerifySession checks token as Verify does and that it was minted for
// sessionID.
func (p *PageTokens) VerifySession(token, sessionID string) error {
	id, err := p.Verify(token)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(id), []byte(sessionID)) != 1 {
		return fmt.Errorf("%w: %w", ErrUnauthorized, errPageTokenSession)
	}
	return nil
}

func (p *PageTokens) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, p.secret)
	m.Write([]byte(pageTokenDomain))
	m.Write(payload)
	return m.Sum(nil)
}
