package auth_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/feedbackd/feedbackd/pkg/auth"
	"github.com/feedbackd/feedbackd/pkg/poll"
	"github.com/feedbackd/feedbackd/pkg/syncbuf"
)

func TestJWKSAcceptsRS256AndES256(t *testing.T) {
	srv := newJWKSServer(t, rsaJWK("rsa1", &rsaKey1().PublicKey), ecJWK(t, "ec1", &ecKey1().PublicKey))
	a := newAuth(t, auth.Config{JWKSURL: srv.URL, JWTIssuer: testIssuer, JWTAudience: testAudience})

	tests := []struct {
		name  string
		token string
		ok    bool
	}{
		{"RS256", sign(t, jwt.SigningMethodRS256, rsaKey1(), "rsa1", claims("alice")), true},
		{"ES256", sign(t, jwt.SigningMethodES256, ecKey1(), "ec1", claims("bob")), true},
		{"RS256 without kid tries every RSA key", sign(t, jwt.SigningMethodRS256, rsaKey1(), "", claims("alice")), true},
		{"ES256 without kid tries every EC key", sign(t, jwt.SigningMethodES256, ecKey1(), "", claims("bob")), true},
		{"RS256 naming the EC key", sign(t, jwt.SigningMethodRS256, rsaKey1(), "ec1", claims("alice")), false},
		{"ES256 naming the RSA key", sign(t, jwt.SigningMethodES256, ecKey1(), "rsa1", claims("bob")), false},
		{"RS256 by a key not in the set", sign(t, jwt.SigningMethodRS256, rsaKey2(), "rsa1", claims("alice")), false},
		{"RS384 by a key in the set", sign(t, jwt.SigningMethodRS384, rsaKey1(), "rsa1", claims("alice")), false},
		{"PS256 by a key in the set", sign(t, jwt.SigningMethodPS256, rsaKey1(), "rsa1", claims("alice")), false},
		{"HS256 with JWKS only", sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", claims("alice")), false},
		{"expired RS256", sign(t, jwt.SigningMethodRS256, rsaKey1(), "rsa1", with(claims("alice"), "exp", time.Now().Add(-time.Hour).Unix())), false},
		{"RS256 wrong aud", sign(t, jwt.SigningMethodRS256, rsaKey1(), "rsa1", with(claims("alice"), "aud", "x")), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := a.Authenticate(context.Background(), auth.Credentials{Authorization: "Bearer " + tt.token})
			if tt.ok {
				if err != nil || p.Method != "jwt" || !strings.HasPrefix(p.ID, "jwt:") {
					t.Fatalf("refused: %+v, %v", p, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted as %+v", p)
			}
			if !errors.Is(err, auth.ErrUnauthorized) {
				t.Errorf("error %v does not wrap ErrUnauthorized", err)
			}
			assertNoSecret(t, err, tt.token)
		})
	}
}

// A provider rotates its key: tokens by the new key work as soon as one of
// them is seen (the unknown kid triggers a fetch), tokens by the retired key
// stop working, and a token naming a kid nobody has is refused without
// waiting for another fetch.
func TestJWKSRotationOnUnknownKID(t *testing.T) {
	srv := newJWKSServer(t, rsaJWK("old", &rsaKey1().PublicKey))
	a := newAuth(t, auth.Config{JWKSURL: srv.URL})
	ctx := context.Background()
	oldTok := sign(t, jwt.SigningMethodRS256, rsaKey1(), "old", claims("alice"))
	newTok := sign(t, jwt.SigningMethodRS256, rsaKey2(), "new", claims("alice"))

	if _, err := a.Authenticate(ctx, auth.Credentials{Token: oldTok}); err != nil {
		t.Fatalf("token by the current key refused: %v", err)
	}
	before := srv.fetches.Load()
	srv.set(t, rsaJWK("new", &rsaKey2().PublicKey))
	if p, err := a.Authenticate(ctx, auth.Credentials{Token: newTok}); err != nil || p.ID != "jwt:alice" {
		t.Fatalf("token by the rotated-in key refused after refresh: %+v, %v", p, err)
	}
	if srv.fetches.Load() != before+1 {
		t.Fatalf("fetches went from %d to %d, want one refresh", before, srv.fetches.Load())
	}
	if _, err := a.Authenticate(ctx, auth.Credentials{Token: oldTok}); err == nil {
		t.Fatal("token by the retired key still accepted after refresh")
	}

	start := time.Now()
	unknown := sign(t, jwt.SigningMethodRS256, rsaKey2(), "nobody", claims("alice"))
	_, err := a.Authenticate(ctx, auth.Credentials{Token: unknown})
	if err == nil {
		t.Fatal("token with an unknown kid accepted")
	}
	if !errors.Is(err, auth.ErrUnauthorized) || !strings.Contains(err.Error(), "unknown key") {
		t.Errorf("error %q, want an unknown-key refusal", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("unknown kid took %v: it must not wait for the refresh allowance", d)
	}
	if srv.fetches.Load() != before+1 {
		t.Errorf("an unknown kid within the allowance fetched the JWKS again")
	}
}

func TestJWKSPeriodicRefreshPicksUpANewKey(t *testing.T) {
	srv := newJWKSServer(t, rsaJWK("old", &rsaKey1().PublicKey))
	a := newAuth(t, auth.Config{
		JWKSURL:               srv.URL,
		JWKSRefreshInterval:   50 * time.Millisecond,
		JWKSUnknownKIDRefresh: -1,
	})
	ctx := context.Background()
	newTok := sign(t, jwt.SigningMethodRS256, rsaKey2(), "new", claims("alice"))
	if _, err := a.Authenticate(ctx, auth.Credentials{Token: newTok}); err == nil {
		t.Fatal("token by an unpublished key accepted")
	}

	srv.set(t, rsaJWK("new", &rsaKey2().PublicKey))
	poll.Until(t, 5*time.Second, func() error {
		_, err := a.Authenticate(ctx, auth.Credentials{Token: newTok})
		return err
	})
	unknown := sign(t, jwt.SigningMethodRS256, rsaKey2(), "nobody", claims("alice"))
	if _, err := a.Authenticate(ctx, auth.Credentials{Token: unknown}); err == nil {
		t.Fatal("token with an unknown kid accepted")
	}
}

func TestJWKSCloseStopsTheRefresh(t *testing.T) {
	srv := newJWKSServer(t, rsaJWK("k", &rsaKey1().PublicKey))
	a, err := auth.New(auth.Config{JWKSURL: srv.URL, JWKSRefreshInterval: 20 * time.Millisecond, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 5*time.Second, poll.True("two fetches with a 20ms refresh", func() bool { return srv.fetches.Load() >= 2 }))
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	_ = a.Close() // twice is fine
	// A fetch in flight at Close may still land; after that, nothing may
	// happen for many refresh intervals: these sleeps are the behaviour
	// under test.
	time.Sleep(50 * time.Millisecond)
	after := srv.fetches.Load()
	time.Sleep(150 * time.Millisecond)
	if n := srv.fetches.Load(); n != after {
		t.Fatalf("%d fetches after Close", n-after)
	}
}

// A key set over 1 MiB is not loaded: tokens are refused and the failure is
// logged, without the server being made to buffer it all.
func TestJWKSRefusesAnOversizedKeySet(t *testing.T) {
	srv := newJWKSServer(t)
	srv.setRaw(append(bytes.Repeat([]byte(" "), 2<<20), `{"keys":[]}`...))
	var logs syncbuf.Buffer
	a := newAuth(t, auth.Config{JWKSURL: srv.URL, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	tok := sign(t, jwt.SigningMethodRS256, rsaKey1(), "k", claims("alice"))
	if _, err := a.Authenticate(context.Background(), auth.Credentials{Token: tok}); err == nil {
		t.Fatal("token accepted")
	}
	if !strings.Contains(logs.String(), "larger than 1 MiB") {
		t.Fatalf("log does not say the key set was too large:\n%s", logs.String())
	}
}
