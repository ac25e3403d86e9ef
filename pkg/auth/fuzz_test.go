package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/feedbackd/feedbackd/pkg/auth"
)

func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{
		"Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", "ApiKey k", "apikey  k ", "Basic dXNlcjpwYXNz",
		"Bearer", "Bearer ", "Bearer a b", "Bearer a\x00", "\tBearer\ta", "Bearer caf\u00e9", "",
		"Digest a=1, b=2", "Bearer " + strings.Repeat("a", 9000),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		scheme, cred, err := auth.ParseAuthorization(header)
		if err != nil {
			if !errors.Is(err, auth.ErrUnauthorized) {
				t.Fatalf("error %v does not wrap ErrUnauthorized", err)
			}
			if scheme != "" || cred != "" {
				t.Fatalf("returned %q, %q with an error", scheme, cred)
			}
			return
		}
		if len(header) > auth.MaxCredentialLen {
			t.Fatalf("accepted a %d-byte header", len(header))
		}
		if scheme == "" || cred == "" || strings.ContainsAny(scheme+cred, " \t\r\n\x00") {
			t.Fatalf("accepted scheme %q, credential %q", scheme, cred)
		}
		for i := 0; i < len(cred); i++ {
			if cred[i] <= ' ' || cred[i] >= 0x7f {
				t.Fatalf("credential %q has byte %#x", cred, cred[i])
			}
		}
		// What was accepted reads back the same in its plainest form.
		s2, c2, err := auth.ParseAuthorization(scheme + " " + cred)
		if err != nil || s2 != scheme || c2 != cred {
			t.Fatalf("round trip of %q, %q = %q, %q, %v", scheme, cred, s2, c2, err)
		}
	})
}

func FuzzAuthenticateToken(f *testing.F) {
	srv := newJWKSServer(f, rsaJWK("rsa1", &rsaKey1().PublicKey), ecJWK(f, "ec1", &ecKey1().PublicKey))
	a := newAuth(f, auth.Config{
		JWTSecret:   testSecret,
		JWKSURL:     srv.URL,
		JWTIssuer:   testIssuer,
		JWTAudience: testAudience,
	})
	good := claims("alice")
	noneTok, _ := jwt.NewWithClaims(jwt.SigningMethodNone, good).SignedString(jwt.UnsafeAllowNoneSignatureType)
	for _, s := range []string{
		sign(f, jwt.SigningMethodHS256, []byte(testSecret), "", good),
		sign(f, jwt.SigningMethodHS256, []byte(testSecret), "", with(good, "sub", nil, "userId", 7)),
		sign(f, jwt.SigningMethodHS256, []byte(testSecret), "", with(good, "exp", time.Now().Add(-time.Hour).Unix())),
		sign(f, jwt.SigningMethodRS256, rsaKey1(), "rsa1", good),
		sign(f, jwt.SigningMethodRS256, rsaKey1(), "", good),
		sign(f, jwt.SigningMethodES256, ecKey1(), "ec1", good),
		sign(f, jwt.SigningMethodES256, ecKey1(), "rsa1", good),
		sign(f, jwt.SigningMethodHS256, rsaKey1().N.Bytes(), "rsa1", good),
		noneTok,
		"eyJhbGciOiJub25lIn0.e30.", "a.b.c", "..", "", "x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		for _, c := range []auth.Credentials{{Authorization: "Bearer " + token}, {Token: token}} {
			p, err := a.Authenticate(context.Background(), c)
			if err != nil {
				if !errors.Is(err, auth.ErrUnauthorized) {
					t.Fatalf("error %v does not wrap ErrUnauthorized", err)
				}
				if p != (auth.Principal{}) {
					t.Fatalf("principal %+v returned with an error", p)
				}
				// Fixed messages hold no dots: an input with one that shows
				// up in the error was echoed.
				if len(token) >= 16 && strings.Contains(token, ".") && strings.Contains(err.Error(), token) {
					t.Fatalf("error %q echoes the token", err)
				}
				continue
			}
			if p.Method != "jwt" || !strings.HasPrefix(p.ID, "jwt:") || len(p.ID) > len("jwt:")+256 {
				t.Fatalf("accepted as %+v", p)
			}
		}
	})
}
