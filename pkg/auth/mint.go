package auth

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MintHS256 signs a token that an Authenticator with JWTSecret = secret
// accepts: claims plus sub (when not empty), iat = now and exp = now + ttl.
// claims may not set sub, iat or exp themselves; a token with neither sub
// nor a userId claim is refused, since no principal could be made of it.
func MintHS256(secret []byte, sub string, ttl time.Duration, claims map[string]any) (string, error) {
	if len(secret) == 0 {
		return "", errors.New("auth: mint token: empty secret")
	}
	if ttl <= 0 {
		return "", fmt.Errorf("auth: mint token: ttl %s is not positive", ttl)
	}
	mc := jwt.MapClaims{}
	for k, v := range claims {
		switch k {
		case "sub", "iat", "exp":
			return "", fmt.Errorf("auth: mint token: claim %q is set from the arguments, not from claims", k)
		}
		mc[k] = v
	}
	if sub != "" {
		mc["sub"] = sub
	} else if _, ok := mc["userId"]; !ok {
		return "", errors.New("auth: mint token: needs a subject or a userId claim")
	}
	now := time.Now()
	mc["iat"] = now.Unix()
	mc["exp"] = now.Add(ttl).Unix()
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, mc).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("auth: mint token: sign: %w", err)
	}
	return signed, nil
}

// ParseClaim reads one "key=value" claim as given on a command line. A value
// that is a JSON number, true, false, array, object or quoted string becomes
// that JSON value (so `--claim level=3` gives a number and
// `--claim 'id="3"'` the string "3"); anything else is taken as a plain
// string.
func ParseClaim(kv string) (key string, value any, err error) {
	key, raw, ok := strings.Cut(kv, "=")
	key = strings.TrimSpace(key)
	if !ok || key == "" {
		return "", nil, fmt.Errorf("auth: claim %q: want key=value", key)
	}
	if raw == "" || raw == "null" {
		return key, raw, nil
	}
	if !json.Valid([]byte(raw)) {
		return key, raw, nil
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", nil, fmt.Errorf("auth: claim %q: decode value: %w", key, err)
	}
	return key, v, nil
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// APIKeyLen is the length of a key NewAPIKey makes: 43 base62 characters,
// about 256 bits.
const APIKeyLen = 43

// NewAPIKey returns a fresh random API key of APIKeyLen base62 characters,
// drawn from crypto/rand without modulo bias.
func NewAPIKey() string {
	out := make([]byte, 0, APIKeyLen)
	var buf [64]byte
	for len(out) < APIKeyLen {
		// crypto/rand.Read never fails; it crashes the program instead.
		_, _ = rand.Read(buf[:])
		for _, b := range buf {
			// 248 = 4*62: values at or above it would favour the first
			// characters of the alphabet.
			if b < 248 && len(out) < APIKeyLen {
				out = append(out, base62[b%62])
			}
		}
	}
	return string(out)
}
