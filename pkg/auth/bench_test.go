package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/feedbackd/feedbackd/pkg/auth"
)

func BenchmarkAuthenticate(b *testing.B) {
	srv := newJWKSServer(b, rsaJWK("rsa1", &rsaKey1().PublicKey), ecJWK(b, "ec1", &ecKey1().PublicKey))
	keys := make([]string, 10)
	for i := range keys {
		keys[i] = auth.NewAPIKey()
	}
	a := newAuth(b, auth.Config{APIKeys: keys, JWTSecret: testSecret, JWKSURL: srv.URL})
	for _, bb := range []struct {
		name  string
		creds auth.Credentials
	}{
		{"APIKey", auth.Credentials{APIKey: keys[9]}},
		{"HS256", auth.Credentials{Authorization: "Bearer " + sign(b, jwt.SigningMethodHS256, []byte(testSecret), "", claims("alice"))}},
		{"RS256", auth.Credentials{Authorization: "Bearer " + sign(b, jwt.SigningMethodRS256, rsaKey1(), "rsa1", claims("alice"))}},
		{"ES256", auth.Credentials{Authorization: "Bearer " + sign(b, jwt.SigningMethodES256, ecKey1(), "ec1", claims("alice"))}},
		{"Refused10KB", auth.Credentials{Authorization: "Bearer " + string(make([]byte, 10<<10))}},
	} {
		b.Run(bb.name, func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				_, _ = a.Authenticate(ctx, bb.creds)
			}
		})
	}
}

func BenchmarkPageTokenVerify(b *testing.B) {
	p, err := auth.NewPageTokens([]byte(testSecret))
	if err != nil {
		b.Fatal(err)
	}
	tok := p.Mint(sessA, time.Minute)
	for b.Loop() {
		if err := p.VerifySession(tok, sessA); err != nil {
			b.Fatal(err)
		}
	}
}
