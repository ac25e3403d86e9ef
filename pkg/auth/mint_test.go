package auth_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/feedbackd/feedbackd/pkg/auth"
)

func TestMintHS256IsAcceptedByTheAuthenticator(t *testing.T) {
	a := newAuth(t, auth.Config{JWTSecret: testSecret, JWTIssuer: testIssuer})
	tok, err := auth.MintHS256([]byte(testSecret), "alice", time.Hour, map[string]any{"iss": testIssuer, "role": "admin"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := a.Authenticate(context.Background(), auth.Credentials{Authorization: "Bearer " + tok})
	if err != nil || p.ID != "jwt:alice" {
		t.Fatalf("minted token: %+v, %v", p, err)
	}

	var c jwt.MapClaims
	if _, err := jwt.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return []byte(testSecret), nil }); err != nil {
		t.Fatal(err)
	}
	iat, _ := c.GetIssuedAt()
	exp, _ := c.GetExpirationTime()
	if d := exp.Sub(iat.Time); d != time.Hour {
		t.Errorf("exp - iat = %v, want 1h", d)
	}
	if time.Since(iat.Time) > time.Minute || c["role"] != "admin" {
		t.Errorf("claims %v", c)
	}

	byUserID, err := auth.MintHS256([]byte(testSecret), "", time.Minute, map[string]any{"iss": testIssuer, "userId": "user123"})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := a.Authenticate(context.Background(), auth.Credentials{Token: byUserID}); err != nil || p.ID != "jwt:user123" {
		t.Fatalf("token with userId only: %+v, %v", p, err)
	}
}

func TestMintHS256RefusesWhatCouldNotAuthenticate(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		sub    string
		ttl    time.Duration
		claims map[string]any
	}{
		{"empty secret", "", "alice", time.Hour, nil},
		{"zero ttl", testSecret, "alice", 0, nil},
		{"negative ttl", testSecret, "alice", -time.Hour, nil},
		{"no subject", testSecret, "", time.Hour, map[string]any{"role": "x"}},
		{"exp in claims", testSecret, "alice", time.Hour, map[string]any{"exp": 1}},
		{"sub in claims", testSecret, "alice", time.Hour, map[string]any{"sub": "bob"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := auth.MintHS256([]byte(tt.secret), tt.sub, tt.ttl, tt.claims)
			if err == nil {
				t.Fatalf("minted %q", tok)
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error %q contains the secret", err)
			}
		})
	}
}

func TestParseClaim(t *testing.T) {
	tests := []struct {
		in    string
		key   string
		value any
	}{
		{"role=admin", "role", "admin"},
		{"level=3", "level", json.Number("3")},
		{"ratio=-1.5e3", "ratio", json.Number("-1.5e3")},
		{"big=12345678901234567890", "big", json.Number("12345678901234567890")},
		{"ok=true", "ok", true},
		{"ok=false", "ok", false},
		{`id="3"`, "id", "3"},
		{`aud=["a","b"]`, "aud", []any{"a", "b"}},
		{`meta={"a":1}`, "meta", map[string]any{"a": json.Number("1")}},
		{"v=null", "v", "null"},
		{"v=", "v", ""},
		{"v=a=b", "v", "a=b"},
		{"v=3 apples", "v", "3 apples"},
		{"v=[1,", "v", "[1,"},
		{" k =x", "k", "x"},
	}
	for _, tt := range tests {
		k, v, err := auth.ParseClaim(tt.in)
		if err != nil || k != tt.key || !reflect.DeepEqual(v, tt.value) {
			t.Errorf("ParseClaim(%q) = %q, %#v, %v; want %q, %#v", tt.in, k, v, err, tt.key, tt.value)
		}
	}
	for _, bad := range []string{"", "novalue", "=x", " =x"} {
		if k, v, err := auth.ParseClaim(bad); err == nil {
			t.Errorf("ParseClaim(%q) = %q, %#v; want an error", bad, k, v)
		}
	}
}

func TestNewAPIKeyIsLongRandomAndUsable(t *testing.T) {
	seen := map[string]bool{}
	var chars [256]int
	for range 200 {
		k := auth.NewAPIKey()
		if len(k) != auth.APIKeyLen || len(k) < 32 {
			t.Fatalf("key of %d characters", len(k))
		}
		if seen[k] {
			t.Fatal("repeated key")
		}
		seen[k] = true
		for i := 0; i < len(k); i++ {
			c := k[i]
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
				t.Fatalf("key has %q, not base62", c)
			}
			chars[c]++
		}
	}
	used := 0
	for _, n := range chars {
		if n > 0 {
			used++
		}
	}
	if used < 60 {
		t.Errorf("only %d of 62 characters appear in 200 keys", used)
	}

	k := auth.NewAPIKey()
	a := newAuth(t, auth.Config{APIKeys: []string{k}})
	if _, err := a.Authenticate(context.Background(), auth.Credentials{Authorization: "ApiKey " + k}); err != nil {
		t.Fatalf("new key refused: %v", err)
	}
}
