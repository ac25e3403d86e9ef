package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// The scheme page tokens and link tokens share: base64url(expiry in Unix
// milliseconds, 8 bytes big-endian ‖ ref) "." base64url(HMAC-SHA256 of that
// payload under a key and a domain of the token kind's own).

// sealRef returns the payload and MAC of a token naming ref until expires,
// signed by mac.
func sealRef(ref string, expires time.Time, mac func(payload []byte) []byte) string {
	payload := make([]byte, 8, 8+len(ref))
	binary.BigEndian.PutUint64(payload, uint64(expires.UnixMilli()))
	payload = append(payload, ref...)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(mac(payload))
}

// openRef checks body (payload "." MAC) as sealRef made it: spelled in enc,
// naming a ref of at most maxRef bytes (0: no bound beyond the token's),
// signed by mac, not expired at now, and valid UTF-8. Errors wrap
// ErrUnauthorized and name the token as noun.
func openRef(body string, enc *base64.Encoding, maxRef int, mac func(payload []byte) []byte, now time.Time, noun string) (string, time.Time, error) {
	b64Payload, b64MAC, ok := strings.Cut(body, ".")
	payload, err1 := enc.DecodeString(b64Payload)
	sum, err2 := enc.DecodeString(b64MAC)
	if !ok || err1 != nil || err2 != nil || len(payload) <= 8 || (maxRef > 0 && len(payload) > 8+maxRef) || len(sum) != sha256.Size {
		return "", time.Time{}, fmt.Errorf("%w: malformed %s", ErrUnauthorized, noun)
	}
	if !hmac.Equal(sum, mac(payload)) {
		return "", time.Time{}, fmt.Errorf("%w: %s signature does not match", ErrUnauthorized, noun)
	}
	exp := int64(binary.BigEndian.Uint64(payload))
	if now.UnixMilli() >= exp {
		return "", time.Time{}, fmt.Errorf("%w: %s expired", ErrUnauthorized, noun)
	}
	ref := string(payload[8:])
	if !utf8.ValidString(ref) {
		return "", time.Time{}, fmt.Errorf("%w: malformed %s", ErrUnauthorized, noun)
	}
	return ref, time.UnixMilli(exp), nil
}
