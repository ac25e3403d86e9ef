package edge_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/edge"
	"github.com/feedbackd/feedbackd/pkg/auth"
)

const (
	testSecret   = "edge-test-secret-0123456789-abcdefghij"
	testIssuer   = "https://issuer.test"
	testAudience = "feedbackd"
	testCSP      = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

// RSA keys are slow to make; each is made once per test binary.
var (
	rsaKey1 = sync.OnceValue(mustRSA)
	rsaKey2 = sync.OnceValue(mustRSA)
	rsaKey3 = sync.OnceValue(mustRSA)
)

func mustRSA() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

func tokenClaims(sub string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"sub": sub, "iss": testIssuer, "aud": testAudience, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

// withClaim returns a copy of c with k set to v.
func withClaim(c jwt.MapClaims, k string, v any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for key, val := range c {
		out[key] = val
	}
	out[k] = v
	return out
}

func signToken(t testing.TB, m jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

// jwksServer serves a key set that a test can swap, on 127.0.0.1.
type jwksServer struct {
	*httptest.Server
	mu   sync.Mutex
	body []byte
}

func newJWKSServer(t testing.TB, kid string, k *rsa.PublicKey) *jwksServer {
	s := &jwksServer{}
	s.set(kid, k)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		body := s.body
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(kid string, k *rsa.PublicKey) {
	b64 := base64.RawURLEncoding.EncodeToString
	body, _ := json.Marshal(map[string]any{"keys": []any{map[string]any{
		"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes()),
	}}})
	s.mu.Lock()
	s.body = body
	s.mu.Unlock()
}

// send makes one request with the given headers (several values of a
// header are sent as several header lines).
func send(t testing.TB, method, url string, hdr http.Header, body string) *reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	r := &reply{Status: res.StatusCode, Header: res.Header}
	r.Raw, _ = io.ReadAll(res.Body)
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") && len(r.Raw) > 0 {
		if err := json.Unmarshal(r.Raw, &r.Body); err != nil {
			t.Fatalf("%s %s: body is not JSON: %s", method, url, r.Raw)
		}
	}
	return r
}

func h(kv ...string) http.Header {
	hdr := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		hdr[kv[i]] = append(hdr[kv[i]], kv[i+1])
	}
	return hdr
}

// jwtAuth accepts keyA and keyB, HS256 with testSecret and RS256 from jwksURL,
// with the test issuer and audience.
func jwtAuth(jwksURL string, keys ...string) programtest.Option {
	if keys == nil {
		keys = []string{keyA, keyB}
	}
	return withAuth(auth.Config{
		APIKeys: keys, JWTSecret: testSecret, JWTIssuer: testIssuer, JWTAudience: testAudience,
		JWKSURL: jwksURL, JWKSRefreshInterval: time.Hour,
	})
}

// withAuth replaces the authenticator's configuration with c (keeping the
// program's logger).
func withAuth(c auth.Config) programtest.Option {
	return programtest.Auth(func(ac *auth.Config) {
		log := ac.Logger
		*ac = c
		ac.Logger = log
	})
}

// withEdge adjusts the edge's configuration.
func withEdge(f func(c *edge.Config)) programtest.Option { return programtest.Edge(f) }

func TestAuthEveryCredentialFormThroughTheHTTPStack(t *testing.T) {
	t.Parallel()
	jwks := newJWKSServer(t, "k1", &rsaKey1().PublicKey)
	ns := programtest.StartNATS(t)
	e := runEdge(t, ns.URL, jwtAuth(jwks.URL))
	// The same cluster after API_KEYS was changed to drop keyA and the edge
	// restarted.
	revoked := runEdge(t, ns.URL, jwtAuth(jwks.URL, keyB))

	good := tokenClaims("alice")
	hs := signToken(t, jwt.SigningMethodHS256, []byte(testSecret), "", good)
	rs := signToken(t, jwt.SigningMethodRS256, rsaKey1(), "k1", good)
	none := signToken(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", good)
	pubDER, err := x509.MarshalPKIXPublicKey(&rsaKey1().PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	confused := signToken(t, jwt.SigningMethodHS256, pubPEM, "k1", good)
	parts := strings.Split(hs, ".")
	forged, _ := json.Marshal(withClaim(good, "sub", "mallory"))
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2]

	cases := []struct {
		name   string
		edge   *restEdge
		hdr    http.Header
		query  string
		status int
	}{
		{"no header", e, nil, "", 401},
		{"wrong scheme", e, h("Authorization", "Basic YWxpY2U6c2VjcmV0"), "", 401},
		{"empty X-API-Key", e, h("X-API-Key", ""), "", 401},
		{"empty ApiKey", e, h("Authorization", "ApiKey "), "", 401},
		{"empty Bearer", e, h("Authorization", "Bearer"), "", 401},
		{"key with spaces", e, h("X-API-Key", keyA[:10]+" "+keyA[10:]), "", 401},
		{"key with trailing word", e, h("Authorization", "ApiKey "+keyA+" extra"), "", 401},
		{"revoked key", revoked, h("X-API-Key", keyA), "", 401},
		{"alg none", e, h("Authorization", "Bearer "+none), "", 401},
		{"alg none without signature dot", e, h("Authorization", "Bearer "+strings.TrimSuffix(none, ".")), "", 401},
		{"HS256 signed with the RSA public key", e, h("Authorization", "Bearer "+confused), "", 401},
		{"RS256 by a key not in the JWKS", e, h("Authorization", "Bearer "+signToken(t, jwt.SigningMethodRS256, rsaKey2(), "k1", good)), "", 401},
		{"expired", e, h("Authorization", "Bearer "+signToken(t, jwt.SigningMethodHS256, []byte(testSecret), "", withClaim(good, "exp", time.Now().Add(-time.Hour).Unix()))), "", 401},
		{"no exp", e, h("Authorization", "Bearer "+signToken(t, jwt.SigningMethodHS256, []byte(testSecret), "", jwt.MapClaims{"sub": "alice", "iss": testIssuer, "aud": testAudience})), "", 401},
		{"nbf in the future", e, h("Authorization", "Bearer "+signToken(t, jwt.SigningMethodHS256, []byte(testSecret), "", withClaim(good, "nbf", time.Now().Add(time.Hour).Unix()))), "", 401},
		{"wrong iss", e, h("Authorization", "Bearer "+signToken(t, jwt.SigningMethodHS256, []byte(testSecret), "", withClaim(good, "iss", "https://evil.test"))), "", 401},
		{"wrong aud", e, h("Authorization", "Bearer "+signToken(t, jwt.SigningMethodHS256, []byte(testSecret), "", withClaim(good, "aud", "other"))), "", 401},
		{"tampered payload", e, h("Authorization", "Bearer "+tampered), "", 401},
		{"10 KB header", e, h("Authorization", "Bearer "+strings.Repeat("a", 10<<10)), "", 401},
		{"10 KB X-API-Key", e, h("X-API-Key", strings.Repeat("k", 10<<10)), "", 401},
		{"token in the query string", e, nil, "?token=" + hs, 401},
		{"apiKey in the query string", e, nil, "?apiKey=" + keyA, 401},
		{"access_token in the query string", e, nil, "?access_token=" + hs, 401},
		{"query credential beside a valid header", e, h("X-API-Key", keyA), "?APIKEY=" + keyA, 401},
		{"two Authorization headers", e, h("Authorization", "ApiKey "+keyA, "Authorization", "Bearer "+hs), "", 401},
		{"two X-API-Key headers", e, h("X-API-Key", keyA, "X-API-Key", keyA), "", 401},
		{"X-API-Key beside a wrong Bearer", e, h("X-API-Key", keyA, "Authorization", "Bearer wrong"), "", 401},
		{"X-API-Key beside a valid Bearer", e, h("X-API-Key", keyA, "Authorization", "Bearer "+hs), "", 401},
		{"X-API-Key beside the same key as ApiKey", e, h("X-API-Key", keyA, "Authorization", "ApiKey "+keyA), "", 401},
		{"wrong X-API-Key beside a valid Bearer", e, h("X-API-Key", "wrong", "Authorization", "Bearer "+hs), "", 401},

		{"X-API-Key", e, h("X-API-Key", keyA), "", 200},
		{"Authorization: ApiKey", e, h("Authorization", "ApiKey "+keyA), "", 200},
		{"Bearer HS256", e, h("Authorization", "Bearer "+hs), "", 200},
		{"bearer in lower case", e, h("Authorization", "bearer "+hs), "", 200},
		{"Bearer RS256 via JWKS", e, h("Authorization", "Bearer "+rs), "", 200},
		{"other query parameters are fine", e, h("X-API-Key", keyA), "?limit=5", 200},
		{"kept key after the restart", revoked, h("X-API-Key", keyB), "", 200},
		{"JWT after the restart", revoked, h("Authorization", "Bearer "+hs), "", 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, rt := range []struct{ method, path, body string }{
				{"GET", "/api/feedback", ""},
				{"POST", "/api/feedback/create", `{"message":"q"}`},
			} {
				hdr := tc.hdr.Clone()
				if hdr == nil {
					hdr = http.Header{}
				}
				if rt.body != "" {
					hdr.Set("Content-Type", ctJSON)
				}
				r := send(t, rt.method, tc.edge.URL+rt.path+tc.query, hdr, rt.body)
				want := tc.status
				if want == 200 && rt.method == "POST" {
					want = 201
				}
				if r.Status != want {
					t.Fatalf("%s %s: %d %s, want %d", rt.method, rt.path, r.Status, r.Raw, want)
				}
				if want != 401 {
					continue
				}
				if r.Body.Success || r.code() != "UNAUTHORIZED" || r.Body.Timestamp == "" {
					t.Fatalf("%s %s: not the UNAUTHORIZED envelope: %s", rt.method, rt.path, r.Raw)
				}
				if r.Header.Get("WWW-Authenticate") != "" {
					t.Fatalf("REST 401 carries a challenge: %q", r.Header.Get("WWW-Authenticate"))
				}
				for _, secret := range []string{keyA, hs, testSecret} {
					if strings.Contains(string(r.Raw), secret) {
						t.Fatalf("401 body echoes a credential: %s", r.Raw)
					}
				}
			}
		})
	}
}

// A JWT's subject owns what it creates, whichever signer vouched for it.
func TestAuthHS256AndRS256ShareTheSubjectsSessions(t *testing.T) {
	t.Parallel()
	jwks := newJWKSServer(t, "k1", &rsaKey1().PublicKey)
	j, _ := newREST(t, jwtAuth(jwks.URL))
	hs := "Bearer " + signToken(t, jwt.SigningMethodHS256, []byte(testSecret), "", tokenClaims("carol"))
	rs := "Bearer " + signToken(t, jwt.SigningMethodRS256, rsaKey1(), "k1", tokenClaims("carol"))
	r := send(t, "POST", j.URL+"/api/feedback/create", h("Authorization", hs, "Content-Type", ctJSON), `{"message":"q"}`)
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	var d struct{ SessionID string }
	r.data(t, &d)
	if r := send(t, "GET", j.URL+"/api/feedback/"+d.SessionID+"/status", h("Authorization", rs), ""); r.Status != 200 {
		t.Fatalf("status with the RS256 token of the same subject: %d %s", r.Status, r.Raw)
	}
	if r := send(t, "GET", j.URL+"/api/feedback/"+d.SessionID+"/status", h("X-API-Key", keyA), ""); r.Status != 404 {
		t.Fatalf("status with another principal: %d %s", r.Status, r.Raw)
	}
}

// The identity provider rotates its key: a token by the new key works once
// the edge has refetched the set (an unknown kid triggers that), tokens by
// the retired key stop working, and a kid nobody published is refused.
func TestAuthJWKSKeyRotationThroughTheHTTPStack(t *testing.T) {
	t.Parallel()
	jwks := newJWKSServer(t, "k1", &rsaKey1().PublicKey)
	e, _ := newREST(t, withAuth(auth.Config{JWKSURL: jwks.URL, JWKSRefreshInterval: time.Hour}))
	list := func(tok string) int {
		return send(t, "GET", e.URL+"/api/feedback", h("Authorization", "Bearer "+tok), "").Status
	}
	oldTok := signToken(t, jwt.SigningMethodRS256, rsaKey1(), "k1", tokenClaims("alice"))
	newTok := signToken(t, jwt.SigningMethodRS256, rsaKey2(), "k2", tokenClaims("alice"))
	strayTok := signToken(t, jwt.SigningMethodRS256, rsaKey3(), "k3", tokenClaims("alice"))

	if s := list(oldTok); s != 200 {
		t.Fatalf("token by the published key: %d", s)
	}
	jwks.set("k2", &rsaKey2().PublicKey)
	if s := list(newTok); s != 200 {
		t.Fatalf("token by the rotated-in key after refresh: %d", s)
	}
	if s := list(oldTok); s != 401 {
		t.Fatalf("token by the retired key: %d", s)
	}
	if s := list(strayTok); s != 401 {
		t.Fatalf("token by an unknown key: %d", s)
	}
	if s := list(newTok); s != 200 {
		t.Fatalf("token by the current key after an unknown one: %d", s)
	}
}

func TestAuthMCPUnauthorizedCarriesABearerChallenge(t *testing.T) {
	t.Parallel()
	e, _ := newREST(t)
	cases := []struct {
		name, method, path string
		hdr                http.Header
		want               string
	}{
		{"no credentials", "POST", "/mcp", nil, `Bearer realm="feedbackd"`},
		{"bad key", "POST", "/mcp", h("X-API-Key", "nope"), `Bearer realm="feedbackd", error="invalid_token"`},
		{"bad token on SSE", "GET", "/sse", h("Authorization", "Bearer x.y.z"), `Bearer realm="feedbackd", error="invalid_token"`},
		{"query key on the SSE message endpoint", "POST", "/sse/message?sessionId=1&apiKey=" + keyA, nil, `Bearer realm="feedbackd", error="invalid_token"`},
		{"path in other case", "POST", "/MCP", nil, `Bearer realm="feedbackd"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, tc.method, e.URL+tc.path, tc.hdr, "")
			if r.Status != 401 || r.code() != "UNAUTHORIZED" {
				t.Fatalf("%d %s", r.Status, r.Raw)
			}
			if got := r.Header.Get("WWW-Authenticate"); got != tc.want {
				t.Fatalf("WWW-Authenticate %q, want %q", got, tc.want)
			}
		})
	}
	if r := send(t, "POST", e.URL+"/mcp", h("X-API-Key", keyA), ""); r.Status == 401 {
		t.Fatalf("MCP with a key: %d %s", r.Status, r.Raw)
	}
	if r := send(t, "GET", e.URL+"/.well-known/oauth-protected-resource", nil, ""); r.Status != 404 {
		t.Fatalf("resource metadata without an external issuer: %d %s", r.Status, r.Raw)
	}
}

func TestWellKnownResourceMetadataWithAnExternalIssuer(t *testing.T) {
	t.Parallel()
	jwks := newJWKSServer(t, "k1", &rsaKey1().PublicKey)
	e, _ := newREST(t, withAuth(auth.Config{JWKSURL: jwks.URL, JWTIssuer: testIssuer, JWKSRefreshInterval: time.Hour}),
		withEdge(func(c *edge.Config) { c.AuthorizationServers, c.Scopes = []string{testIssuer}, []string{"feedback"} }))
	for path, resource := range map[string]string{
		"/.well-known/oauth-protected-resource":     e.URL,
		"/.well-known/oauth-protected-resource/mcp": e.URL + "/mcp",
		"/.well-known/oauth-protected-resource/sse": e.URL + "/sse",
	} {
		r := send(t, "GET", e.URL+path, h("Origin", "https://anywhere.example"), "")
		var md struct {
			Resource               string   `json:"resource"`
			AuthorizationServers   []string `json:"authorization_servers"`
			BearerMethodsSupported []string `json:"bearer_methods_supported"`
			ScopesSupported        []string `json:"scopes_supported"`
		}
		if err := json.Unmarshal(r.Raw, &md); err != nil || r.Status != 200 {
			t.Fatalf("%s: %d %s", path, r.Status, r.Raw)
		}
		if md.Resource != resource || strings.Join(md.AuthorizationServers, ",") != testIssuer ||
			strings.Join(md.BearerMethodsSupported, ",") != "header" || strings.Join(md.ScopesSupported, ",") != "feedback" {
			t.Fatalf("%s: %s", path, r.Raw)
		}
		if got := r.Header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Fatalf("%s: public metadata not readable cross-origin: %q", path, got)
		}
	}
	for path, md := range map[string]string{"/mcp": "/mcp", "/sse/message": "/sse"} {
		r := send(t, "POST", e.URL+path, nil, "")
		want := `Bearer realm="feedbackd", resource_metadata="` + e.URL + `/.well-known/oauth-protected-resource` + md + `"`
		if r.Status != 401 || r.Header.Get("WWW-Authenticate") != want {
			t.Fatalf("%s: %d %q, want %q", path, r.Status, r.Header.Get("WWW-Authenticate"), want)
		}
	}
	if r := send(t, "POST", e.URL+"/.well-known/oauth-protected-resource", nil, ""); r.Status != 405 {
		t.Fatalf("POST to the metadata: %d", r.Status)
	}
}

func TestCORSAllowsOnlyConfiguredOrigins(t *testing.T) {
	t.Parallel()
	const app = "https://app.example.com"
	ns := programtest.StartNATS(t)
	e := runEdge(t, ns.URL, withEdge(func(c *edge.Config) { c.AllowedOrigins = []string{"https://App.example.com/"} }))
	same := runEdge(t, ns.URL)

	t.Run("allowed origin reads the response", func(t *testing.T) {
		r := send(t, "GET", e.URL+"/api/feedback", h("Origin", app, "X-API-Key", keyA), "")
		if r.Status != 200 || r.Header.Get("Access-Control-Allow-Origin") != app || r.Header.Get("Access-Control-Allow-Credentials") != "true" {
			t.Fatalf("%d %v", r.Status, r.Header)
		}
		expose := r.Header.Get("Access-Control-Expose-Headers")
		for _, name := range []string{"Mcp-Session-Id", "WWW-Authenticate", "Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
			if !strings.Contains(expose, name) {
				t.Fatalf("%s not exposed: %q", name, expose)
			}
		}
		if !strings.Contains(strings.Join(r.Header.Values("Vary"), ","), "Origin") {
			t.Fatalf("no Vary: Origin: %v", r.Header)
		}
	})
	t.Run("a 401 is readable too, with its challenge", func(t *testing.T) {
		r := send(t, "POST", e.URL+"/mcp", h("Origin", app), "")
		if r.Status != 401 || r.Header.Get("Access-Control-Allow-Origin") != app {
			t.Fatalf("%d %v", r.Status, r.Header)
		}
	})
	for _, origin := range []string{"https://evil.example", "null", "https://app.example.com.evil.example", "http://app.example.com", "https://app.example.com:8443"} {
		t.Run("denied origin "+origin, func(t *testing.T) {
			r := send(t, "GET", e.URL+"/api/feedback", h("Origin", origin, "X-API-Key", keyA), "")
			if r.Status != 200 || r.Header.Get("Access-Control-Allow-Origin") != "" || r.Header.Get("Access-Control-Allow-Credentials") != "" {
				t.Fatalf("%d %v", r.Status, r.Header)
			}
			if !strings.Contains(strings.Join(r.Header.Values("Vary"), ","), "Origin") {
				t.Fatalf("no Vary: Origin: %v", r.Header)
			}
			p := send(t, "OPTIONS", e.URL+"/api/feedback/create", h("Origin", origin, "Access-Control-Request-Method", "POST"), "")
			for k := range p.Header {
				if strings.HasPrefix(k, "Access-Control-") {
					t.Fatalf("preflight from a denied origin got %s: %v", k, p.Header)
				}
			}
			if p.Status < 400 {
				t.Fatalf("preflight from a denied origin: %d", p.Status)
			}
		})
	}
	for _, path := range []string{"/api/feedback/create", "/mcp", "/sse/message", "/api/feedback/00000000-0000-4000-8000-000000000000/submit"} {
		t.Run("preflight without credentials "+path, func(t *testing.T) {
			r := send(t, "OPTIONS", e.URL+path, h("Origin", app, "Access-Control-Request-Method", "POST",
				"Access-Control-Request-Headers", "authorization, x-api-key, content-type, mcp-session-id, mcp-protocol-version, last-event-id, x-request-id"), "")
			if r.Status != 204 || r.Header.Get("Access-Control-Allow-Origin") != app {
				t.Fatalf("%d %v %s", r.Status, r.Header, r.Raw)
			}
			if m := r.Header.Get("Access-Control-Allow-Methods"); !strings.Contains(m, "POST") || !strings.Contains(m, "DELETE") || !strings.Contains(m, "GET") {
				t.Fatalf("Allow-Methods %q", m)
			}
			allowed := strings.ToLower(r.Header.Get("Access-Control-Allow-Headers"))
			for _, name := range []string{"authorization", "x-api-key", "content-type", "mcp-session-id", "mcp-protocol-version", "last-event-id", "x-request-id"} {
				if !strings.Contains(allowed, name) {
					t.Fatalf("%s not allowed: %q", name, allowed)
				}
			}
			if r.Header.Get("Access-Control-Max-Age") == "" {
				t.Fatalf("no Max-Age: %v", r.Header)
			}
		})
	}
	t.Run("OPTIONS that is no preflight is not a back door", func(t *testing.T) {
		r := send(t, "OPTIONS", e.URL+"/api/feedback/create", h("Origin", app), "")
		if r.Status != 405 {
			t.Fatalf("%d %s", r.Status, r.Raw)
		}
	})
	t.Run("metrics get no CORS headers", func(t *testing.T) {
		r := send(t, "GET", e.URL+"/metrics", h("Origin", app), "")
		if r.Status != 200 {
			t.Fatalf("%d", r.Status)
		}
		for k := range r.Header {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Fatalf("/metrics has %s", k)
			}
		}
		if strings.Contains(strings.Join(r.Header.Values("Vary"), ","), "Origin") {
			t.Fatalf("/metrics varies on Origin")
		}
		p := send(t, "OPTIONS", e.URL+"/metrics", h("Origin", app, "Access-Control-Request-Method", "GET"), "")
		if p.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("/metrics preflight answered: %v", p.Header)
		}
	})
	t.Run("no list means same origin only", func(t *testing.T) {
		r := send(t, "GET", same.URL+"/api/feedback", h("Origin", same.URL, "X-API-Key", keyA), "")
		if r.Header.Get("Access-Control-Allow-Origin") != same.URL {
			t.Fatalf("own origin: %v", r.Header)
		}
		r = send(t, "GET", same.URL+"/api/feedback", h("Origin", app, "X-API-Key", keyA), "")
		if r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("foreign origin with no list: %v", r.Header)
		}
	})
}

// clock is a settable time for the rate limiters.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{t: time.Now()} }

// limited asserts a 429 with the rate-limit headers.
func limited(t *testing.T, r *reply, retryAfter string) {
	t.Helper()
	if r.Status != 429 {
		t.Fatalf("want 429, got %d %s", r.Status, r.Raw)
	}
	if got := r.Header.Get("Retry-After"); got != retryAfter {
		t.Fatalf("Retry-After %q, want %q", got, retryAfter)
	}
	if r.Header.Get("X-RateLimit-Limit") == "" || r.Header.Get("X-RateLimit-Remaining") != "0" || r.Header.Get("X-RateLimit-Reset") == "" {
		t.Fatalf("rate-limit headers: %v", r.Header)
	}
}

func TestRateLimitsTripAndRecover(t *testing.T) {
	t.Parallel()
	clk := newClock()
	limit := edge.RateLimit{Requests: 2, Per: time.Minute, Burst: 2} // one every 30 s
	e, _ := newREST(t, withEdge(func(c *edge.Config) {
		c.CreateLimit, c.SubmitLimit, c.PageLimit, c.Clock = limit, limit, limit, clk.Now
	}))
	create := func(key string) *reply {
		return send(t, "POST", e.URL+"/api/feedback/create", h("X-API-Key", key, "Content-Type", ctJSON), `{"message":"q"}`)
	}

	t.Run("create, per principal", func(t *testing.T) {
		for i, remaining := range []string{"1", "0"} {
			r := create(keyA)
			if r.Status != 201 || r.Header.Get("X-RateLimit-Limit") != "2" || r.Header.Get("X-RateLimit-Remaining") != remaining {
				t.Fatalf("create %d: %d %v", i, r.Status, r.Header)
			}
			reset, err := strconv.ParseInt(r.Header.Get("X-RateLimit-Reset"), 10, 64)
			if err != nil || reset < time.Now().Unix() {
				t.Fatalf("X-RateLimit-Reset %q is not a future Unix time", r.Header.Get("X-RateLimit-Reset"))
			}
		}
		r := create(keyA)
		limited(t, r, "30")
		if r.code() != "RATE_LIMITED" || r.Body.Success {
			t.Fatalf("not the RATE_LIMITED envelope: %s", r.Raw)
		}
		if r := create(keyB); r.Status != 201 {
			t.Fatalf("another principal is limited too: %d", r.Status)
		}
		if r := send(t, "POST", e.URL+"/api/feedback/create", h("Content-Type", ctJSON), `{"message":"q"}`); r.Status != 401 {
			t.Fatalf("without credentials: %d", r.Status)
		}
		clk.Add(30 * time.Second)
		if r := create(keyA); r.Status != 201 {
			t.Fatalf("after 30 s: %d %s", r.Status, r.Raw)
		}
		limited(t, create(keyA), "30")
		clk.Add(time.Minute)
	})

	t.Run("submit, per client address", func(t *testing.T) {
		id := e.create(t, keyB, map[string]any{"message": "q"})
		submit := func(id string) *reply {
			return send(t, "POST", e.URL+"/api/feedback/"+id+"/submit", h("Content-Type", ctJSON), `{"freeText":"x"}`)
		}
		if r := submit("00000000-0000-4000-8000-000000000001"); r.Status != 404 {
			t.Fatalf("unknown id: %d", r.Status)
		}
		if r := submit("00000000-0000-4000-8000-000000000002"); r.Status != 404 || r.Header.Get("X-RateLimit-Remaining") != "0" {
			t.Fatalf("second unknown id: %d %v", r.Status, r.Header)
		}
		r := submit(id)
		limited(t, r, "30")
		if r.code() != "RATE_LIMITED" {
			t.Fatalf("not the RATE_LIMITED envelope: %s", r.Raw)
		}
		clk.Add(30 * time.Second)
		if r := submit(id); r.Status != 200 {
			t.Fatalf("after 30 s: %d %s", r.Status, r.Raw)
		}
		clk.Add(time.Minute)
	})

	t.Run("feedback pages, per client address", func(t *testing.T) {
		page := "/feedback/" + e.create(t, keyB, map[string]any{"message": "q"})
		for i := range 2 {
			if r := send(t, "GET", e.URL+page, nil, ""); r.Status != 200 {
				t.Fatalf("page %d: %d", i, r.Status)
			}
		}
		r := send(t, "GET", e.URL+strings.ToUpper(page[:9])+page[9:]+"?lang=en", nil, "")
		limited(t, r, "30")
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || strings.Contains(string(r.Raw), `"success"`) {
			t.Fatalf("page 429 is not the error page: %q %s", r.Header.Get("Content-Type"), r.Raw)
		}
		if r := send(t, "GET", e.URL+"/health", nil, ""); r.Status != 200 {
			t.Fatalf("health is not a page: %d", r.Status)
		}
		clk.Add(30 * time.Second)
		if r := send(t, "GET", e.URL+page, nil, ""); r.Status != 200 {
			t.Fatalf("after 30 s: %d", r.Status)
		}
	})
}

func TestRateLimitClientAddressBehindTrustedProxies(t *testing.T) {
	t.Parallel()
	limit := edge.RateLimit{Requests: 1, Per: time.Hour, Burst: 1}
	ns := programtest.StartNATS(t)
	proxied := runEdge(t, ns.URL, withEdge(func(c *edge.Config) {
		c.SubmitLimit, c.Clock = limit, newClock().Now
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
	}))
	direct := runEdge(t, ns.URL, withEdge(func(c *edge.Config) { c.SubmitLimit, c.Clock = limit, newClock().Now }))
	submit := func(e *restEdge, xff ...string) int {
		hdr := h("Content-Type", ctJSON)
		for _, v := range xff {
			hdr.Add("X-Forwarded-For", v)
		}
		return send(t, "POST", e.URL+"/api/feedback/00000000-0000-4000-8000-000000000009/submit", hdr, `{"freeText":"x"}`).Status
	}
	steps := []struct {
		name string
		e    *restEdge
		xff  []string
		want int
	}{
		{"first client behind the proxy", proxied, []string{"203.0.113.7"}, 404},
		{"same client again", proxied, []string{"203.0.113.7"}, 429},
		{"another client", proxied, []string{"203.0.113.8"}, 404},
		{"a forged left entry does not make a new client", proxied, []string{"198.51.100.1, 203.0.113.7"}, 429},
		{"inner trusted proxies are skipped", proxied, []string{"203.0.113.7, 10.1.2.3"}, 429},
		{"several header lines are one list", proxied, []string{"198.51.100.2", "203.0.113.7"}, 429},
		{"IPv6 client", proxied, []string{"2001:db8::1"}, 404},
		{"IPv6 client in the same /64", proxied, []string{"2001:db8::ffff"}, 429},
		{"IPv6 client in another /64", proxied, []string{"[2001:db8:0:1::1]:443"}, 404},
		{"garbage stops at the proxy", proxied, []string{"not-an-address"}, 404},
		{"garbage again is the same proxy", proxied, []string{"unknown"}, 429},
		{"untrusted peer: X-Forwarded-For ignored", direct, []string{"203.0.113.50"}, 404},
		{"untrusted peer cannot pick a new key", direct, []string{"203.0.113.51"}, 429},
	}
	for _, s := range steps {
		if got := submit(s.e, s.xff...); got != s.want {
			t.Fatalf("%s: %d, want %d", s.name, got, s.want)
		}
	}
}

func TestRateLimitParsing(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]edge.RateLimit{
		"60/min,burst=20":  {Requests: 60, Per: time.Minute, Burst: 20},
		"60/1m,burst=20":   {Requests: 60, Per: time.Minute, Burst: 20},
		" 30 / m ":         {Requests: 30, Per: time.Minute, Burst: 30},
		"5/10s":            {Requests: 5, Per: 10 * time.Second, Burst: 5},
		"100/hour,BURST=1": {Requests: 100, Per: time.Hour, Burst: 1},
		"off":              {},
		"":                 {},
	} {
		got, err := edge.ParseRateLimit(in)
		if err != nil || got != want {
			t.Errorf("ParseRateLimit(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if err == nil {
			back, err := edge.ParseRateLimit(got.String())
			if err != nil || back != got {
				t.Errorf("%q: String %q does not parse back: %+v %v", in, got.String(), back, err)
			}
		}
	}
	for _, in := range []string{"60", "60/", "/min", "x/min", "60/fortnight", "0/min", "-1/min", "60/min,20", "60/min,burst=0", "60/min,burst=x", "60/500ms", "60/48h", "60/min,burst=1000000"} {
		if got, err := edge.ParseRateLimit(in); err == nil {
			t.Errorf("ParseRateLimit(%q) = %+v, want an error", in, got)
		}
	}
}

func TestSecurityHeadersOnPagesAndAPI(t *testing.T) {
	t.Parallel()
	e, _ := newREST(t)
	id := e.create(t, keyA, map[string]any{"message": "q"})
	cases := []struct {
		name, method, path string
		hdr                http.Header
		body               string
		status             int
		noStore            bool
	}{
		{"HTML page", "GET", "/feedback/" + id, nil, "", 200, true},
		{"API success", "GET", "/api/feedback/" + id + "/status", h("X-API-Key", keyA), "", 200, true},
		{"API create", "POST", "/api/feedback/create", h("X-API-Key", keyA, "Content-Type", ctJSON), `{"message":"q"}`, 201, true},
		{"API 401", "GET", "/api/feedback", nil, "", 401, true},
		{"API unknown route", "GET", "/api/nope", nil, "", 404, true},
		{"health", "GET", "/health", nil, "", 200, true},
		{"metrics", "GET", "/metrics", nil, "", 200, false},
		{"unknown path", "GET", "/nope", nil, "", 404, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, tc.method, e.URL+tc.path, tc.hdr, tc.body)
			if r.Status != tc.status {
				t.Fatalf("%d %s", r.Status, r.Raw)
			}
			for k, want := range map[string]string{
				"Content-Security-Policy": testCSP,
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "no-referrer",
				"X-Frame-Options":         "DENY",
			} {
				if got := r.Header.Get(k); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
			if cc := r.Header.Get("Cache-Control"); tc.noStore && cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
		})
	}
}

// Links built from the request (PUBLIC_URL unset) follow X-Forwarded-Host
// and -Proto only when a trusted proxy sent them.
func TestSecurityForwardedHostOnlyFromTrustedProxies(t *testing.T) {
	t.Parallel()
	ns := programtest.StartNATS(t)
	direct := runEdge(t, ns.URL)
	// The host a trusted proxy forwards is the one the host check looks at,
	// so it must be one this edge answers (docs/api.md, "Host check").
	proxied := runEdge(t, ns.URL, programtest.Env("ALLOWED_HOSTS", "public.example"),
		withEdge(func(c *edge.Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} }))
	link := func(e *restEdge) string {
		r := send(t, "POST", e.URL+"/api/feedback/create", h("X-API-Key", keyA, "Content-Type", ctJSON,
			"X-Forwarded-Host", "public.example", "X-Forwarded-Proto", "https"), `{"message":"q"}`)
		var d struct{ FeedbackURL string }
		r.data(t, &d)
		return d.FeedbackURL
	}
	if got := link(direct); !strings.HasPrefix(got, direct.URL+"/feedback/") {
		t.Fatalf("an untrusted peer moved the link to %s", got)
	}
	if got := link(proxied); !strings.HasPrefix(got, "https://public.example/feedback/") {
		t.Fatalf("a trusted proxy's forwarded host was ignored: %s", got)
	}
}

// With auth disabled every caller is the same Anonymous principal, so
// creations are counted per client address instead of for everyone at once.
func TestRateLimitCreateWithAuthDisabledCountsPerAddress(t *testing.T) {
	t.Parallel()
	e, _ := newREST(t, programtest.Env("AUTH_DISABLED", "true"), programtest.Env("API_KEYS", ""), withEdge(func(c *edge.Config) {
		c.CreateLimit, c.Clock = edge.RateLimit{Requests: 1, Per: time.Hour}, newClock().Now
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	}))
	create := func(client string) int {
		return send(t, "POST", e.URL+"/api/feedback/create", h("Content-Type", ctJSON, "X-Forwarded-For", client), `{"message":"q"}`).Status
	}
	for _, s := range []struct {
		client string
		want   int
	}{{"203.0.113.1", 201}, {"203.0.113.1", 429}, {"203.0.113.2", 201}} {
		if got := create(s.client); got != s.want {
			t.Fatalf("create from %s: %d, want %d", s.client, got, s.want)
		}
	}
}
