package auth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/feedbackd/feedbackd/pkg/auth"
)

const (
	testSecret   = "test-secret-0123456789-abcdefghijklmnop" // 39 bytes
	testAPIKey   = "goodkey-0123456789abcdefghijklmnopqrstu"
	testRevoked  = "revokedkey-0123456789abcdefghijklmnopqr"
	testIssuer   = "https://issuer.test"
	testAudience = "feedbackd"
)

// Key generation is the slow part of these tests; each key is made once.
var (
	rsaKey1 = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA() })
	rsaKey2 = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA() })
	ecKey1  = sync.OnceValue(func() *ecdsa.PrivateKey { return mustEC() })
)

func mustRSA() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

func mustEC() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newAuth(tb testing.TB, cfg auth.Config) *auth.Authenticator {
	tb.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	a, err := auth.New(cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() { _ = a.Close() })
	return a
}

// claims returns valid claims for subject sub, with the test issuer and
// audience, expiring in an hour.
func claims(sub string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"sub": sub,
		"iss": testIssuer,
		"aud": testAudience,
		"iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
}

// with returns a copy of c with the given changes; a nil value deletes.
func with(c jwt.MapClaims, kv ...any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func sign(tb testing.TB, m jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	tb.Helper()
	t := jwt.NewWithClaims(m, c)
	if kid != "" {
		t.Header["kid"] = kid
	}
	s, err := t.SignedString(key)
	if err != nil {
		tb.Fatalf("sign: %v", err)
	}
	return s
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaJWK(kid string, k *rsa.PublicKey) map[string]any {
	return map[string]any{
		"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes()),
	}
}

func ecJWK(tb testing.TB, kid string, k *ecdsa.PublicKey) map[string]any {
	tb.Helper()
	raw, err := k.Bytes()
	if err != nil {
		tb.Fatalf("EC key bytes: %v", err)
	}
	return map[string]any{
		"kty": "EC", "kid": kid, "alg": "ES256", "use": "sig", "crv": "P-256",
		"x": b64(raw[1:33]), "y": b64(raw[33:65]),
	}
}

// jwksServer serves a key set that a test can swap, on 127.0.0.1.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	body    []byte
	fetches atomic.Int64
}

func newJWKSServer(tb testing.TB, keys ...map[string]any) *jwksServer {
	tb.Helper()
	s := &jwksServer{}
	s.set(tb, keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		body := s.body
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	tb.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(tb testing.TB, keys ...map[string]any) {
	tb.Helper()
	body, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		tb.Fatalf("marshal JWKS: %v", err)
	}
	s.setRaw(body)
}

func (s *jwksServer) setRaw(body []byte) {
	s.mu.Lock()
	s.body = body
	s.mu.Unlock()
}
