package auth_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/feedbackd/feedbackd/pkg/auth"
)

func TestAuthenticateAPIKeysAndHS256(t *testing.T) {
	a := newAuth(t, auth.Config{
		APIKeys:     []string{" " + testAPIKey + " ", ""},
		JWTSecret:   testSecret,
		JWTIssuer:   testIssuer,
		JWTAudience: testAudience,
	})
	hs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", c) }
	valid := hs(claims("alice"))
	now := time.Now()

	// alg "none": a header that names no algorithm and an empty signature.
	noneToken, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims("alice")).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	// Same payload, another header: only the signature could tell.
	parts := strings.Split(valid, ".")
	forged := hs(claims("mallory"))
	tampered := parts[0] + "." + strings.Split(forged, ".")[1] + "." + parts[2]

	keyID := "key:" + auth.Fingerprint(testAPIKey)
	tests := []struct {
		name   string
		creds  auth.Credentials
		wantID string // empty: refused
		noCred bool   // refused as "no credentials"
		// refused as more than one credential
		ambiguous bool
	}{
		{name: "no credentials", creds: auth.Credentials{}, noCred: true},
		{name: "X-API-Key", creds: auth.Credentials{APIKey: testAPIKey}, wantID: keyID},
		{name: "ApiKey scheme", creds: auth.Credentials{Authorization: "ApiKey " + testAPIKey}, wantID: keyID},
		{name: "scheme is case-insensitive", creds: auth.Credentials{Authorization: "APIKEY " + testAPIKey}, wantID: keyID},
		{name: "apiKey query", creds: auth.Credentials{QueryAPIKey: testAPIKey}, wantID: keyID},
		{name: "X-API-Key beside a bad Authorization", creds: auth.Credentials{APIKey: testAPIKey, Authorization: "Basic dXNlcjpwYXNz"}, ambiguous: true},
		{name: "X-API-Key beside the same key as ApiKey", creds: auth.Credentials{APIKey: testAPIKey, Authorization: "ApiKey " + testAPIKey}, ambiguous: true},
		{name: "X-API-Key beside a valid token", creds: auth.Credentials{APIKey: testAPIKey, Authorization: "Bearer " + valid}, ambiguous: true},
		{name: "apiKey query beside token query", creds: auth.Credentials{QueryAPIKey: testAPIKey, Token: valid}, ambiguous: true},
		{name: "token query beside Authorization", creds: auth.Credentials{Authorization: "Bearer " + valid, Token: valid}, ambiguous: true},
		{name: "apiKey query beside X-API-Key", creds: auth.Credentials{APIKey: testAPIKey, QueryAPIKey: testAPIKey}, ambiguous: true},
		{name: "wrong scheme", creds: auth.Credentials{Authorization: "Basic dXNlcjpwYXNz"}},
		{name: "scheme alone", creds: auth.Credentials{Authorization: "ApiKey"}},
		{name: "empty key", creds: auth.Credentials{Authorization: "ApiKey "}},
		{name: "key with spaces", creds: auth.Credentials{Authorization: "ApiKey " + testAPIKey[:10] + " " + testAPIKey[10:]}},
		{name: "X-API-Key with spaces", creds: auth.Credentials{APIKey: testAPIKey[:10] + " " + testAPIKey[10:]}},
		{name: "key with control character", creds: auth.Credentials{APIKey: testAPIKey + "\x00"}},
		{name: "revoked key", creds: auth.Credentials{APIKey: testRevoked}},
		{name: "revoked key as query", creds: auth.Credentials{QueryAPIKey: testRevoked}},
		{name: "10 KB header", creds: auth.Credentials{Authorization: "Bearer " + strings.Repeat("a", 10<<10)}},
		{name: "10 KB X-API-Key", creds: auth.Credentials{APIKey: strings.Repeat("a", 10<<10)}},

		{name: "bearer HS256", creds: auth.Credentials{Authorization: "Bearer " + valid}, wantID: "jwt:alice"},
		{name: "bearer lower-case", creds: auth.Credentials{Authorization: "bearer " + valid}, wantID: "jwt:alice"},
		{name: "token query", creds: auth.Credentials{Token: valid}, wantID: "jwt:alice"},
		{name: "userId when no sub", creds: auth.Credentials{Token: hs(with(claims(""), "sub", nil, "userId", "user123"))}, wantID: "jwt:user123"},
		{name: "numeric userId", creds: auth.Credentials{Token: hs(with(claims(""), "sub", nil, "userId", 42))}, wantID: "jwt:42"},
		{name: "sub wins over userId", creds: auth.Credentials{Token: hs(with(claims("alice"), "userId", "user123"))}, wantID: "jwt:alice"},
		{name: "neither sub nor userId", creds: auth.Credentials{Token: hs(with(claims(""), "sub", nil))}},
		{name: "subject with a newline", creds: auth.Credentials{Token: hs(claims("alice\nadmin"))}},
		{name: "subject too long", creds: auth.Credentials{Token: hs(claims(strings.Repeat("a", 300)))}},
		{name: "alg none", creds: auth.Credentials{Authorization: "Bearer " + noneToken}},
		{name: "alg none, hand made", creds: auth.Credentials{Authorization: "Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + parts[1] + "."}},
		{name: "HS512 with the right secret", creds: auth.Credentials{Token: sign(t, jwt.SigningMethodHS512, []byte(testSecret), "", claims("alice"))}},
		{name: "RS256 with no JWKS configured", creds: auth.Credentials{Token: sign(t, jwt.SigningMethodRS256, rsaKey1(), "k1", claims("alice"))}},
		{name: "wrong secret", creds: auth.Credentials{Token: sign(t, jwt.SigningMethodHS256, []byte(testSecret+"x"), "", claims("alice"))}},
		{name: "tampered payload", creds: auth.Credentials{Authorization: "Bearer " + tampered}},
		{name: "truncated signature", creds: auth.Credentials{Token: valid[:len(valid)-4]}},
		{name: "not a JWT", creds: auth.Credentials{Authorization: "Bearer " + testAPIKey}},
		{name: "expired", creds: auth.Credentials{Token: hs(with(claims("alice"), "exp", now.Add(-2*time.Minute).Unix()))}},
		{name: "expired within leeway", creds: auth.Credentials{Token: hs(with(claims("alice"), "exp", now.Add(-10*time.Second).Unix()))}, wantID: "jwt:alice"},
		{name: "no exp", creds: auth.Credentials{Token: hs(with(claims("alice"), "exp", nil))}},
		{name: "nbf in the future", creds: auth.Credentials{Token: hs(with(claims("alice"), "nbf", now.Add(2*time.Minute).Unix()))}},
		{name: "nbf within leeway", creds: auth.Credentials{Token: hs(with(claims("alice"), "nbf", now.Add(10*time.Second).Unix()))}, wantID: "jwt:alice"},
		{name: "iat in the future", creds: auth.Credentials{Token: hs(with(claims("alice"), "iat", now.Add(2*time.Minute).Unix()))}},
		{name: "wrong iss", creds: auth.Credentials{Token: hs(with(claims("alice"), "iss", "https://evil.test"))}},
		{name: "no iss", creds: auth.Credentials{Token: hs(with(claims("alice"), "iss", nil))}},
		{name: "wrong aud", creds: auth.Credentials{Token: hs(with(claims("alice"), "aud", "other-service"))}},
		{name: "aud list with ours", creds: auth.Credentials{Token: hs(with(claims("alice"), "aud", []string{"x", testAudience}))}, wantID: "jwt:alice"},
		{name: "no aud", creds: auth.Credentials{Token: hs(with(claims("alice"), "aud", nil))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			p, err := a.Authenticate(context.Background(), tt.creds)
			if elapsed := time.Since(start); elapsed > time.Second {
				t.Errorf("took %v", elapsed)
			}
			if tt.wantID != "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if p.ID != tt.wantID {
					t.Fatalf("principal %q, want %q", p.ID, tt.wantID)
				}
				// A token's principal ends with the token; a key's never does.
				if jwtPrincipal := strings.HasPrefix(p.ID, "jwt:"); jwtPrincipal == p.Expires.IsZero() {
					t.Fatalf("principal %+v: Expires must be set exactly for tokens", p)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted as %+v", p)
			}
			t.Logf("refused: %v", err)
			if !errors.Is(err, auth.ErrUnauthorized) {
				t.Errorf("error %v does not wrap ErrUnauthorized", err)
			}
			if got := errors.Is(err, auth.ErrNoCredentials); got != tt.noCred {
				t.Errorf("errors.Is(ErrNoCredentials) = %v, want %v (%v)", got, tt.noCred, err)
			}
			if got := errors.Is(err, auth.ErrAmbiguousCredentials); got != tt.ambiguous {
				t.Errorf("errors.Is(ErrAmbiguousCredentials) = %v, want %v (%v)", got, tt.ambiguous, err)
			}
			if p != (auth.Principal{}) {
				t.Errorf("principal %+v returned with an error", p)
			}
			assertNoSecret(t, err, testSecret, testAPIKey, testRevoked, tt.creds.APIKey, tt.creds.Token,
				tt.creds.QueryAPIKey, tt.creds.Authorization)
		})
	}
}

// assertNoSecret fails when err's text contains any of secrets, or a long
// piece of one (the part after a scheme, a JWT's payload).
func assertNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	msg := err.Error()
	for _, s := range secrets {
		for _, piece := range append(strings.Fields(s), strings.Split(s, ".")...) {
			if len(piece) >= 12 && strings.Contains(msg, piece) {
				t.Errorf("error %q contains a credential", msg)
			}
		}
	}
}

func TestAuthenticateRefusesAnAlgorithmConfusedToken(t *testing.T) {
	pub := &rsaKey1().PublicKey
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	srv := newJWKSServer(t, rsaJWK("k1", pub))

	for _, cfg := range []struct {
		name string
		cfg  auth.Config
	}{
		{"JWKS only", auth.Config{JWKSURL: srv.URL}},
		{"JWKS and a secret", auth.Config{JWKSURL: srv.URL, JWTSecret: testSecret}},
	} {
		t.Run(cfg.name, func(t *testing.T) {
			a := newAuth(t, cfg.cfg)
			if _, err := a.Authenticate(context.Background(), auth.Credentials{
				Token: sign(t, jwt.SigningMethodRS256, rsaKey1(), "k1", claims("alice")),
			}); err != nil {
				t.Fatalf("genuine RS256 token refused: %v", err)
			}
			for _, key := range [][]byte{pemBytes, der, pub.N.Bytes()} {
				for _, kid := range []string{"", "k1"} {
					tok := sign(t, jwt.SigningMethodHS256, key, kid, claims("alice"))
					p, err := a.Authenticate(context.Background(), auth.Credentials{Authorization: "Bearer " + tok})
					if err == nil {
						t.Fatalf("HS256 token keyed with RSA public key (kid %q) accepted as %+v", kid, p)
					}
					if !errors.Is(err, auth.ErrUnauthorized) {
						t.Fatalf("error %v does not wrap ErrUnauthorized", err)
					}
				}
			}
		})
	}
}

func TestAuthenticateDisabledActsAsAnonymous(t *testing.T) {
	a := newAuth(t, auth.Config{Disabled: true})
	for _, c := range []auth.Credentials{{}, {APIKey: "whatever"}, {Authorization: "Bearer junk"}} {
		p, err := a.Authenticate(context.Background(), c)
		if err != nil || p != auth.Anonymous {
			t.Fatalf("Authenticate(%+v) = %+v, %v; want Anonymous", c, p, err)
		}
	}
}

func TestAuthenticateRefusesSchemesThatAreNotConfigured(t *testing.T) {
	keysOnly := newAuth(t, auth.Config{APIKeys: []string{testAPIKey}})
	tok := sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", claims("alice"))
	if _, err := keysOnly.Authenticate(context.Background(), auth.Credentials{Authorization: "Bearer " + tok}); err == nil {
		t.Fatal("bearer token accepted with only API keys configured")
	}
	jwtOnly := newAuth(t, auth.Config{JWTSecret: testSecret})
	if _, err := jwtOnly.Authenticate(context.Background(), auth.Credentials{APIKey: testAPIKey}); err == nil {
		t.Fatal("API key accepted with only a JWT secret configured")
	}
	if p, err := jwtOnly.Authenticate(context.Background(), auth.Credentials{Token: tok}); err != nil || p.Method != "jwt" {
		t.Fatalf("HS256 token without iss/aud configured: %+v, %v", p, err)
	}
}

func TestNewRefusesNoCredentials(t *testing.T) {
	if _, err := auth.New(auth.Config{APIKeys: []string{"", "  "}}); err == nil {
		t.Fatal("New accepted a configuration with no credentials")
	}
}

func TestNewRefusesAnAPIKeyAHeaderCannotCarry(t *testing.T) {
	bad := "has a space-0123456789"
	_, err := auth.New(auth.Config{APIKeys: []string{testAPIKey, bad}})
	if err == nil {
		t.Fatal("New accepted an API key with a space")
	}
	if !strings.Contains(err.Error(), auth.Fingerprint(bad)) || !strings.Contains(err.Error(), "#2") {
		t.Errorf("error %q should name the key by position and fingerprint", err)
	}
	assertNoSecret(t, err, bad, testAPIKey)
}

func TestNewWarnsAboutAWeakSecretWithoutNamingIt(t *testing.T) {
	weak := "short-secret-123"
	a := newAuth(t, auth.Config{JWTSecret: weak})
	w := a.Warnings()
	if len(w) != 1 || !errors.Is(w[0], auth.ErrWeakJWTSecret) {
		t.Fatalf("Warnings() = %v, want ErrWeakJWTSecret", w)
	}
	if strings.Contains(w[0].Error(), weak) {
		t.Errorf("warning %q contains the secret", w[0])
	}
	strong := newAuth(t, auth.Config{JWTSecret: testSecret})
	if w := strong.Warnings(); len(w) != 0 {
		t.Fatalf("Warnings() = %v for a 39-byte secret", w)
	}
}

func TestNewWarnsAboutShortAPIKeysWithoutNamingThem(t *testing.T) {
	short := "short-key-0123456789"
	a := newAuth(t, auth.Config{APIKeys: []string{testAPIKey, short}})
	w := a.Warnings()
	if len(w) != 1 || !errors.Is(w[0], auth.ErrShortAPIKey) || !strings.Contains(w[0].Error(), "#2") {
		t.Fatalf("Warnings() = %v, want one ErrShortAPIKey naming key #2", w)
	}
	assertNoSecret(t, w[0], short)
	if w := newAuth(t, auth.Config{APIKeys: []string{auth.NewAPIKey()}}).Warnings(); len(w) != 0 {
		t.Fatalf("Warnings() = %v for a generated key", w)
	}
}

func TestNewWarnsAboutPlainHTTPJWKS(t *testing.T) {
	refuse := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		return nil, errors.New("no network in tests")
	})}
	a := newAuth(t, auth.Config{JWKSURL: "http://idp.example/jwks.json", HTTPClient: refuse})
	if w := a.Warnings(); len(w) != 1 || !errors.Is(w[0], auth.ErrInsecureJWKSURL) {
		t.Fatalf("Warnings() = %v, want ErrInsecureJWKSURL", w)
	}
	if _, err := auth.New(auth.Config{JWKSURL: "ftp://idp.example/jwks.json"}); err == nil {
		t.Fatal("New accepted an ftp JWKS URL")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestChallenge(t *testing.T) {
	const meta = "https://fb.example/.well-known/oauth-protected-resource"
	_, noCreds := newAuth(t, auth.Config{APIKeys: []string{testAPIKey}}).Authenticate(context.Background(), auth.Credentials{})
	_, badKey := newAuth(t, auth.Config{APIKeys: []string{testAPIKey}}).Authenticate(context.Background(), auth.Credentials{APIKey: "nope"})
	tests := []struct {
		err  error
		meta string
		want string
	}{
		{noCreds, "", `Bearer realm="feedbackd"`},
		{noCreds, meta, `Bearer realm="feedbackd", resource_metadata="` + meta + `"`},
		{badKey, meta, `Bearer realm="feedbackd", resource_metadata="` + meta + `", error="invalid_token"`},
		{badKey, `a"b`, `Bearer realm="feedbackd", resource_metadata="a\"b", error="invalid_token"`},
	}
	for _, tt := range tests {
		if got := auth.Challenge(tt.err, tt.meta); got != tt.want {
			t.Errorf("Challenge(%v, %q) = %s, want %s", tt.err, tt.meta, got, tt.want)
		}
	}
}

// A token's principal carries the token's exp, so that a WebSocket it opened
// can be closed when it runs out.
func TestTokenPrincipalExpiresWithTheToken(t *testing.T) {
	a := newAuth(t, auth.Config{JWTSecret: testSecret, JWTIssuer: testIssuer, JWTAudience: testAudience})
	exp := time.Now().Add(90 * time.Second).Truncate(time.Second)
	token := sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", with(claims("alice"), "exp", exp.Unix()))
	p, err := a.Authenticate(context.Background(), auth.Credentials{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Expires.Equal(exp) {
		t.Fatalf("Expires = %v, want %v", p.Expires, exp)
	}
}
