package program

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/feedbackd/feedbackd/pkg/auth"
)

const keysTestSecret = "keys-test-secret-0123456789abcdefghijkl"

func fakeEnv(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// mint runs `feedbackd token args` and returns stdout, stderr and the error.
func mint(t *testing.T, getenv func(string) string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := runToken(args, &out, &errOut, getenv)
	return out.String(), errOut.String(), err
}

func parseClaims(t *testing.T, token, secret string) jwt.MapClaims {
	t.Helper()
	var c jwt.MapClaims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return []byte(secret), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithJSONNumber())
	if err != nil {
		t.Fatalf("parse minted token: %v", err)
	}
	return c
}

func TestTokenPrintsATokenTheServerAccepts(t *testing.T) {
	out, errOut, err := mint(t, fakeEnv("JWT_SECRET", keysTestSecret, "JWT_ISSUER", "https://fb.example", "JWT_AUDIENCE", "feedbackd"),
		"--sub", "alice", "--ttl", "30m", "--claim", "role=admin", "--claim", "level=3", "--claim", "beta=true")
	if err != nil {
		t.Fatal(err)
	}
	if errOut != "" {
		t.Errorf("stderr: %q", errOut)
	}
	token, ok := strings.CutSuffix(out, "\n")
	if !ok || strings.ContainsAny(token, " \n") || strings.Count(token, ".") != 2 {
		t.Fatalf("stdout %q is not one token and a newline", out)
	}

	a, err := auth.New(auth.Config{JWTSecret: keysTestSecret, JWTIssuer: "https://fb.example", JWTAudience: "feedbackd"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	p, err := a.Authenticate(context.Background(), auth.Credentials{Authorization: "Bearer " + token})
	if err != nil || p.ID != "jwt:alice" {
		t.Fatalf("server refused the minted token: %+v, %v", p, err)
	}

	c := parseClaims(t, token, keysTestSecret)
	iat, _ := c.GetIssuedAt()
	exp, _ := c.GetExpirationTime()
	if exp.Sub(iat.Time) != 30*time.Minute {
		t.Errorf("ttl %v, want 30m", exp.Sub(iat.Time))
	}
	if c["role"] != "admin" || c["level"] != json.Number("3") || c["beta"] != true {
		t.Errorf("claims %#v", c)
	}
}

func TestTokenSecretFlagOverridesTheEnvironment(t *testing.T) {
	flagSecret := "flag-secret-0123456789abcdefghijklmnopq"
	out, _, err := mint(t, fakeEnv("JWT_SECRET", keysTestSecret), "--sub", "bob", "--secret", flagSecret)
	if err != nil {
		t.Fatal(err)
	}
	parseClaims(t, strings.TrimSpace(out), flagSecret)
}

func TestTokenClaimsOverrideIssuerFromTheEnvironment(t *testing.T) {
	out, _, err := mint(t, fakeEnv("JWT_SECRET", keysTestSecret, "JWT_ISSUER", "https://env.example"),
		"--claim", "userId=user123", "--claim", "iss=https://flag.example")
	if err != nil {
		t.Fatal(err)
	}
	c := parseClaims(t, strings.TrimSpace(out), keysTestSecret)
	if c["iss"] != "https://flag.example" || c["userId"] != "user123" || c["sub"] != nil {
		t.Errorf("claims %#v", c)
	}
}

func TestTokenRefusals(t *testing.T) {
	withSecret := fakeEnv("JWT_SECRET", keysTestSecret)
	tests := []struct {
		name   string
		getenv func(string) string
		args   []string
	}{
		{"no secret", fakeEnv(), []string{"--sub", "alice"}},
		{"no subject", withSecret, nil},
		{"zero ttl", withSecret, []string{"--sub", "alice", "--ttl", "0s"}},
		{"bad ttl", withSecret, []string{"--sub", "alice", "--ttl", "an hour"}},
		{"bad claim", withSecret, []string{"--sub", "alice", "--claim", "noequals"}},
		{"sub as claim", withSecret, []string{"--sub", "alice", "--claim", "sub=bob"}},
		{"stray argument", withSecret, []string{"--sub", "alice", keysTestSecret}},
		{"unknown flag", withSecret, []string{"--subject", "alice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, err := mint(t, tt.getenv, tt.args...)
			if err == nil {
				t.Fatalf("printed %q", out)
			}
			if out != "" {
				t.Errorf("stdout %q on failure", out)
			}
			if strings.Contains(err.Error()+errOut, keysTestSecret) {
				t.Errorf("the secret was echoed: %v / %s", err, errOut)
			}
		})
	}
}

func TestTokenWarnsAboutAShortSecretWithoutPrintingIt(t *testing.T) {
	out, errOut, err := mint(t, fakeEnv("JWT_SECRET", "short-one"), "--sub", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, "warning") || strings.Contains(errOut, "short-one") {
		t.Errorf("stderr %q: want a warning without the secret", errOut)
	}
	parseClaims(t, strings.TrimSpace(out), "short-one")
}

func TestTokenHelpGoesToStdout(t *testing.T) {
	for _, arg := range []string{"-h", "--help"} {
		out, errOut, err := mint(t, fakeEnv(), arg)
		if !errors.Is(err, flag.ErrHelp) || errOut != "" || !strings.Contains(out, "--sub") {
			t.Fatalf("%s: err %v, stdout %q, stderr %q", arg, err, out, errOut)
		}
	}
	// A wrong flag is an error on stderr, with the usage.
	out, errOut, err := mint(t, fakeEnv(), "--nope")
	if err == nil || errors.Is(err, flag.ErrHelp) || out != "" || !strings.Contains(errOut, "nope") || !strings.Contains(errOut, "-sub") {
		t.Fatalf("--nope: err %v, stdout %q, stderr %q", err, out, errOut)
	}
}

func TestAPIKeyHelpGoesToStdout(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := runAPIKey([]string{"--help"}, &out, &errOut); !errors.Is(err, flag.ErrHelp) || errOut.Len() != 0 || !strings.Contains(out.String(), "usage: feedbackd apikey") {
		t.Fatalf("--help: err %v, stdout %q, stderr %q", err, out.String(), errOut.String())
	}
}

func TestAPIKeyPrintsAFreshKey(t *testing.T) {
	var a, b bytes.Buffer
	if err := runAPIKey(nil, &a, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := runAPIKey([]string{}, &b, io.Discard); err != nil {
		t.Fatal(err)
	}
	k, ok := strings.CutSuffix(a.String(), "\n")
	if !ok || len(k) < 32 || strings.ContainsAny(k, " \n") {
		t.Fatalf("stdout %q is not one key and a newline", a.String())
	}
	if a.String() == b.String() {
		t.Fatal("two runs printed the same key")
	}
	if _, err := auth.New(auth.Config{APIKeys: []string{k}}); err != nil {
		t.Fatalf("the printed key is not a valid API_KEYS entry: %v", err)
	}
	var c bytes.Buffer
	if err := runAPIKey([]string{"extra"}, &c, io.Discard); err == nil {
		t.Fatalf("extra argument accepted, printed %q", c.String())
	}
}
