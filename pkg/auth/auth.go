package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"strings"
)

// ErrUnauthorized is returned, wrapped with a reason, for any credential that
// is missing, malformed or wrong. Callers answer 401 and never echo the reason
// with the credential in it.
var ErrUnauthorized = errors.New("unauthorized")

// Principal is who a request acts for. Sessions are owned by ID.
type Principal struct {
	ID     string // stable owner id, e.g. "key:3f2a…" or a JWT subject
	Method string // "apikey", "jwt" or "none"
}

// Credentials are the raw inputs an Authenticator looks at.
type Credentials struct {
	Authorization string // the Authorization header
	APIKey        string // the X-API-Key header
}

// Config says which credentials are valid.
type Config struct {
	APIKeys  []string
	Disabled bool // AUTH_DISABLED: every request acts as the anonymous principal
}

// Authenticator checks credentials. It is safe for concurrent use.
type Authenticator struct {
	keys     [][sha256.Size]byte
	disabled bool
}

// Anonymous is the principal of every request when auth is disabled.
var Anonymous = Principal{ID: "anonymous", Method: "none"}

// New returns an Authenticator for cfg.
func New(cfg Config) (*Authenticator, error) {
	a := &Authenticator{disabled: cfg.Disabled}
	for _, k := range cfg.APIKeys {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		a.keys = append(a.keys, sha256.Sum256([]byte(k)))
	}
	if !a.disabled && len(a.keys) == 0 {
		return nil, errors.New("auth: no credentials configured and auth not disabled")
	}
	return a, nil
}

// Authenticate returns the principal for c, or an error wrapping
// ErrUnauthorized.
func (a *Authenticator) Authenticate(_ context.Context, c Credentials) (Principal, error) {
	if a.disabled {
		return Anonymous, nil
	}
	key := c.APIKey
	if key == "" && c.Authorization != "" {
		scheme, rest, ok := strings.Cut(c.Authorization, " ")
		if !ok || !strings.EqualFold(scheme, "ApiKey") {
			return Principal{}, errors.Join(ErrUnauthorized, errors.New("unsupported authorization scheme"))
		}
		key = rest
	}
	if key == "" {
		return Principal{}, errors.Join(ErrUnauthorized, errors.New("no credentials"))
	}
	return a.checkKey(key)
}

func (a *Authenticator) checkKey(key string) (Principal, error) {
	sum := sha256.Sum256([]byte(key))
	match := 0
	// Compare against every key so the time taken says nothing about which
	// key, if any, matched.
	for i := range a.keys {
		match |= subtle.ConstantTimeCompare(sum[:], a.keys[i][:])
	}
	if match != 1 {
		return Principal{}, errors.Join(ErrUnauthorized, errors.New("unknown API key"))
	}
	return Principal{ID: "key:" + Fingerprint(key), Method: "apikey"}, nil
}

// Fingerprint is a short, non-reversible name for a secret, safe to log.
func Fingerprint(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:8])
}
