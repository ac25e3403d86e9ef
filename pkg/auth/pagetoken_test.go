package auth_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/pkg/auth"
)

const (
	sessA = "8d6f3a52-4c1e-4f0b-9a51-2f7b8e9c1d3a"
	sessB = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"
)

func newPageTokens(t *testing.T, secret string) *auth.PageTokens {
	t.Helper()
	p, err := auth.NewPageTokens([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPageTokenNamesItsSessionUntilItExpires(t *testing.T) {
	p := newPageTokens(t, testSecret)
	tok := p.Mint(sessA, time.Minute)
	if strings.ContainsAny(tok, "+/= ") {
		t.Errorf("token %q is not URL-safe", tok)
	}
	before := time.Now()
	tok = p.Mint(sessA, time.Minute)
	id, err := p.Verify(tok)
	if err != nil || id != sessA {
		t.Fatalf("Verify = %q, %v; want %q", id, err, sessA)
	}
	id, exp, err := p.VerifyExpiry(tok)
	if err != nil || id != sessA || exp.Before(before.Add(time.Minute-time.Millisecond)) || exp.After(time.Now().Add(time.Minute)) {
		t.Fatalf("VerifyExpiry = %q, %v, %v; want %q expiring a minute from minting", id, exp, err, sessA)
	}
	if err := p.VerifySession(tok, sessA); err != nil {
		t.Fatalf("VerifySession for its own session: %v", err)
	}
	if err := p.VerifySession(tok, sessB); err == nil || !errors.Is(err, auth.ErrUnauthorized) {
		t.Fatalf("VerifySession for another session = %v, want refusal", err)
	}
}

func TestPageTokenRefusals(t *testing.T) {
	p := newPageTokens(t, testSecret)
	other := newPageTokens(t, testSecret+"-other")
	good := p.Mint(sessA, time.Minute)
	payload, mac, _ := strings.Cut(good, ".")

	// Swap the session id inside a genuine token, keeping its MAC.
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		t.Fatal(err)
	}
	swapped := base64.RawURLEncoding.EncodeToString(append(raw[:8:8], sessB...)) + "." + mac
	flipped := []byte(mac)
	flipped[3] ^= 1

	tests := []struct {
		name  string
		token string
	}{
		{"expired", p.Mint(sessA, -time.Second)},
		{"zero ttl", p.Mint(sessA, 0)},
		{"other secret", other.Mint(sessA, time.Minute)},
		{"session swapped", swapped},
		{"MAC altered", payload + "." + string(flipped)},
		{"MAC cut short", payload + "." + mac[:20]},
		{"no MAC", payload},
		{"empty", ""},
		{"dot only", "."},
		{"not base64", "!!!.???"},
		{"two dots", good + ".x"},
		{"empty session", p.Mint("", time.Minute)},
		{"too long", p.Mint(strings.Repeat("s", 1000), time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := p.Verify(tt.token)
			if err == nil {
				t.Fatalf("accepted for session %q", id)
			}
			if !errors.Is(err, auth.ErrUnauthorized) {
				t.Errorf("error %v does not wrap ErrUnauthorized", err)
			}
			if len(tt.token) > 8 && strings.Contains(err.Error(), tt.token) {
				t.Errorf("error %q contains the token", err)
			}
		})
	}
}

func TestNewPageTokensNeedsALongSecretAndCopiesIt(t *testing.T) {
	if _, err := auth.NewPageTokens([]byte("short")); err == nil {
		t.Fatal("accepted a 5-byte secret")
	}
	secret := []byte(testSecret)
	p, err := auth.NewPageTokens(secret)
	if err != nil {
		t.Fatal(err)
	}
	tok := p.Mint(sessA, time.Minute)
	secret[0] ^= 0xff
	if _, err := p.Verify(tok); err != nil {
		t.Fatalf("changing the caller's slice changed the key: %v", err)
	}
}
