package edge_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/pkg/auth"
	"github.com/feedbackd/feedbackd/pkg/natsutil"
	"github.com/feedbackd/feedbackd/sessions/inbox"
)

// The inbox's links and cookie through the real program (docs/inbox.md):
// who may mint, list and revoke links; what the cookie is and where it
// counts; that a revoked link stops working at once, on every replica and
// on open sockets; the refusals of forged, altered and expired credentials;
// CSRF; and the inbox's view of its owner's sessions.

// link is a minted inbox link.
type link struct {
	ID, URL, Token string
	ExpiresAt      time.Time
}

func mintLink(t testing.TB, e *restEdge, key, body string) link {
	t.Helper()
	r := do(t, "POST", e.URL+"/api/inbox/links", key, ctJSON, []byte(body))
	if r.Status != 201 {
		t.Fatalf("mint: %d %s", r.Status, r.Raw)
	}
	var l link
	r.data(t, &l)
	_, tok, ok := strings.Cut(l.URL, "#t=")
	if !ok || !strings.HasPrefix(l.URL, e.URL+"/inbox#t=") || !strings.HasPrefix(tok, auth.PurposeInboxLink) {
		t.Fatalf("link URL %q does not carry the token in its fragment", l.URL)
	}
	l.Token = tok
	return l
}

// inboxReq sends a request the way the inbox page does: with the cookie and,
// unless origin is "-", the Origin the browser would send.
func inboxReq(t testing.TB, e *restEdge, method, path, cookie, origin, body string) *reply {
	t.Helper()
	hdr := http.Header{}
	if cookie != "" {
		hdr.Set("Cookie", cookie)
	}
	switch origin {
	case "":
		hdr.Set("Origin", e.URL)
	case "-":
	default:
		hdr.Set("Origin", origin)
	}
	if body != "" {
		hdr.Set("Content-Type", ctJSON)
	}
	return send(t, method, e.URL+path, hdr, body)
}

// signIn trades a link's token for the session cookie and returns it as a
// Cookie header value, with the cookie as the server set it.
func signIn(t testing.TB, e *restEdge, token string) (string, *http.Cookie) {
	t.Helper()
	r := inboxReq(t, e, "POST", "/inbox/session", "", "", mustJSON(map[string]string{"token": token}))
	if r.Status != 200 {
		t.Fatalf("sign in: %d %s", r.Status, r.Raw)
	}
	lines := r.Header.Values("Set-Cookie")
	if len(lines) != 1 {
		t.Fatalf("sign in set %d cookies: %q", len(lines), lines)
	}
	c, err := http.ParseSetCookie(lines[0])
	if err != nil {
		t.Fatalf("Set-Cookie %q: %v", lines[0], err)
	}
	return c.Name + "=" + c.Value, c
}

func TestInboxLinksAreMintedListedAndRevokedByTheirOwnerOnly(t *testing.T) {
	t.Parallel()
	e := serveStack(t)
	before := time.Now()
	a := mintLink(t, e, keyA, `{"name":"phone"}`)
	if d := a.ExpiresAt.Sub(before); d < inbox.DefaultTTL-time.Minute || d > inbox.DefaultTTL+time.Minute {
		t.Fatalf("a link without ttl lives %s, want the default %s", d, inbox.DefaultTTL)
	}
	short := mintLink(t, e, keyA, `{"ttl":600}`)
	if d := short.ExpiresAt.Sub(before); d < 9*time.Minute || d > 11*time.Minute {
		t.Fatalf("ttl 600 gave a link living %s", d)
	}
	// No body at all is a link with the defaults (the CLI without flags).
	if r := do(t, "POST", e.URL+"/api/inbox/links", keyA, "", nil); r.Status != 201 {
		t.Fatalf("mint without a body: %d %s", r.Status, r.Raw)
	}
	b := mintLink(t, e, keyB, `{"name":"B's"}`)

	list := func(key string) (ids []string, raw string) {
		r := do(t, "GET", e.URL+"/api/inbox/links", key, "", nil)
		if r.Status != 200 {
			t.Fatalf("list: %d %s", r.Status, r.Raw)
		}
		var d struct{ Items []struct{ ID, Name string } }
		r.data(t, &d)
		for _, it := range d.Items {
			ids = append(ids, it.ID)
		}
		return ids, string(r.Raw)
	}
	ids, raw := list(keyA)
	if len(ids) != 3 || !slices.Contains(ids, a.ID) || !slices.Contains(ids, short.ID) || slices.Contains(ids, b.ID) {
		t.Fatalf("A lists %v: want its three links, not B's %s", ids, b.ID)
	}
	if strings.Contains(raw, auth.PurposeInboxLink) || strings.Contains(raw, "url") {
		t.Fatalf("the list shows a token: %s", raw)
	}

	for _, tc := range []struct {
		name, key, body string
		status          int
		code, field     string
	}{
		{"ttl under five minutes", keyA, `{"ttl":60}`, 400, "INVALID_REQUEST", "ttl"},
		{"ttl over the maximum", keyA, `{"ttl":40000000}`, 400, "INVALID_REQUEST", "ttl"},
		{"ttl not a number", keyA, `{"ttl":"30d"}`, 400, "INVALID_REQUEST", ""},
		{"name too long", keyA, mustJSON(map[string]string{"name": strings.Repeat("n", 101)}), 400, "INVALID_REQUEST", "name"},
		{"name with a control character", keyA, `{"name":"a\u0007b"}`, 400, "INVALID_REQUEST", "name"},
		{"unknown field", keyA, `{"owner":"key:x"}`, 400, "INVALID_REQUEST", ""},
		{"no credentials", "", `{}`, 401, "UNAUTHORIZED", ""},
	} {
		r := do(t, "POST", e.URL+"/api/inbox/links", tc.key, ctJSON, []byte(tc.body))
		if r.Status != tc.status || r.code() != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, r.Status, r.Raw, tc.status, tc.code)
		}
		if tc.field != "" && !strings.Contains(string(r.Raw), `"field":"`+tc.field+`"`) {
			t.Errorf("%s: %s does not name the field %s", tc.name, r.Raw, tc.field)
		}
	}

	// B cannot revoke A's link, nor learn that it exists.
	if r := do(t, "DELETE", e.URL+"/api/inbox/links/"+a.ID, keyB, "", nil); r.Status != 404 || r.code() != "LINK_NOT_FOUND" {
		t.Fatalf("B revoking A's link: %d %s", r.Status, r.Raw)
	}
	cookie, _ := signIn(t, e, a.Token)
	if r := do(t, "DELETE", e.URL+"/api/inbox/links/"+a.ID, keyA, "", nil); r.Status != 200 || !strings.Contains(string(r.Raw), `"revoked":true`) {
		t.Fatalf("revoke: %d %s", r.Status, r.Raw)
	}
	for _, id := range []string{a.ID, "lnk_nope", "../../api/feedback", sessionsNewLinkID()} {
		if r := do(t, "DELETE", e.URL+"/api/inbox/links/"+url.PathEscape(id), keyA, "", nil); r.Status != 404 {
			t.Errorf("revoke %q again: %d %s", id, r.Status, r.Raw)
		}
	}
	if ids, _ := list(keyA); slices.Contains(ids, a.ID) {
		t.Fatalf("a revoked link is still listed: %v", ids)
	}
	// The revoked link's cookie and token stop working at once.
	if r := inboxReq(t, e, "GET", "/inbox/api/me", cookie, "", ""); r.Status != 401 {
		t.Fatalf("the revoked link's cookie: %d %s", r.Status, r.Raw)
	}
	if r := inboxReq(t, e, "POST", "/inbox/session", "", "", mustJSON(map[string]string{"token": a.Token})); r.Status != 401 {
		t.Fatalf("the revoked link's token: %d %s", r.Status, r.Raw)
	}
	if r := do(t, "GET", e.URL+"/api/inbox/links", "", "", nil); r.Status != 401 {
		t.Fatalf("list without credentials: %d", r.Status)
	}
}

// sessionsNewLinkID is a well-formed id no link has.
func sessionsNewLinkID() string { return "lnk_" + strings.Repeat("a", 26) }

func TestInboxLinksAreCappedPerOwner(t *testing.T) {
	t.Parallel()
	e := serveStack(t)
	for range inbox.MaxLinks {
		mintLink(t, e, keyA, `{}`)
	}
	if r := do(t, "POST", e.URL+"/api/inbox/links", keyA, ctJSON, []byte(`{}`)); r.Status != 409 || r.code() != "TOO_MANY_LINKS" {
		t.Fatalf("link %d: %d %s", inbox.MaxLinks+1, r.Status, r.Raw)
	}
	// Another owner is not affected.
	mintLink(t, e, keyB, `{}`)
}

func TestInboxCookieIsHttpOnlyStrictAndOnlyTheInboxTakesIt(t *testing.T) {
	t.Parallel()
	e := serveStack(t, programtest.Env("TRUSTED_PROXIES", "127.0.0.1/32"), programtest.Env("ALLOWED_ORIGINS", "https://app.example.com"),
		programtest.Env("ALLOWED_HOSTS", "feedback.example.com"))
	l := mintLink(t, e, keyA, `{"name":"laptop"}`)
	cookie, c := signIn(t, e, l.Token)
	// Plain http on loopback: not Secure (a browser would drop it), so not
	// __Host- either.
	if c.Name != "feedbackd_inbox" || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure || c.Domain != "" {
		t.Fatalf("cookie %+v: want feedbackd_inbox, HttpOnly, SameSite=Strict, Path=/, host-only", c)
	}
	if c.MaxAge < int((inbox.DefaultTTL - time.Hour).Seconds()) {
		t.Fatalf("cookie lives %d s, want as long as its link", c.MaxAge)
	}
	if strings.Contains(c.Value, l.Token) || !strings.HasPrefix(c.Value, auth.PurposeInboxCookie) {
		t.Fatalf("the cookie %q is not a credential of its own", c.Value)
	}
	// Behind a TLS proxy: Secure, and __Host-.
	r := send(t, "POST", e.URL+"/inbox/session", h("Origin", "https://feedback.example.com", "X-Forwarded-Proto", "https",
		"X-Forwarded-Host", "feedback.example.com", "Content-Type", ctJSON), mustJSON(map[string]string{"token": l.Token}))
	if r.Status != 200 {
		t.Fatalf("sign in over https: %d %s", r.Status, r.Raw)
	}
	sc, err := http.ParseSetCookie(r.Header.Get("Set-Cookie"))
	if err != nil || sc.Name != "__Host-feedbackd_inbox" || !sc.Secure || !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie over https: %+v, %v", sc, err)
	}

	if r := inboxReq(t, e, "GET", "/inbox/api/me", cookie, "-", ""); r.Status != 200 || !strings.Contains(string(r.Raw), programtest.PrincipalA) {
		t.Fatalf("me: %d %s", r.Status, r.Raw)
	}
	// The cookie is not a credential of the agent's API, of MCP or of the
	// WebSocket.
	id := e.create(t, keyA, map[string]any{"message": "mine"})
	for _, path := range []string{"/api/feedback", "/api/feedback/" + id + "/status", "/api/channels", "/api/inbox/links"} {
		if r := inboxReq(t, e, "GET", path, cookie, "-", ""); r.Status != 401 {
			t.Errorf("GET %s with the cookie: %d %s", path, r.Status, r.Raw)
		}
	}
	if r := inboxReq(t, e, "POST", "/api/inbox/links", cookie, "", "{}"); r.Status != 401 {
		t.Errorf("minting a link with the cookie: %d %s", r.Status, r.Raw)
	}
	mcp := send(t, "POST", e.URL+"/mcp", h("Cookie", cookie, "Content-Type", ctJSON, "Accept", "application/json, text/event-stream"),
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	if mcp.Status != 401 {
		t.Errorf("MCP with the cookie: %d", mcp.Status)
	}
	if st, _ := wsDial(t, e.URL+"/ws", h("Cookie", cookie)); st != 401 {
		t.Errorf("/ws with the cookie: %d", st)
	}

	// CSRF: a change must come from the inbox's own origin.
	for _, tc := range []struct {
		name string
		hdr  http.Header
		want int
	}{
		{"another site's Origin", h("Origin", "https://evil.example"), 403},
		{"an allowed API origin", h("Origin", "https://app.example.com"), 403},
		{"the null origin", h("Origin", "null"), 403},
		{"no Origin and a cross-site fetch", h("Sec-Fetch-Site", "cross-site"), 403},
		{"no Origin and a same-site fetch", h("Sec-Fetch-Site", "same-site"), 403},
		{"neither header", h(), 403},
		{"no Origin, same-origin fetch", h("Sec-Fetch-Site", "same-origin"), 200},
		{"its own Origin", h("Origin", e.URL), 200},
	} {
		tc.hdr.Set("Cookie", cookie)
		r := send(t, "POST", e.URL+"/inbox/api/socket", tc.hdr, "")
		if r.Status != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, r.Status, r.Raw, tc.want)
		}
		if tc.want == 403 && r.code() != "FORBIDDEN_ORIGIN" {
			t.Errorf("%s: code %s", tc.name, r.code())
		}
	}
	// The sign-in itself is held to the same rule (no login CSRF).
	if r := send(t, "POST", e.URL+"/inbox/session", h("Origin", "https://evil.example", "Content-Type", ctJSON), mustJSON(map[string]string{"token": l.Token})); r.Status != 403 {
		t.Errorf("sign in from another site: %d", r.Status)
	}
	// No other site may read the inbox, not even one the API allows.
	r = inboxReq(t, e, "GET", "/inbox/api/me", cookie, "https://app.example.com", "")
	if got := r.Header.Get("Access-Control-Allow-Origin"); got != "" || r.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("the inbox answered an allowed API origin with CORS headers %q", got)
	}
	if r := send(t, "OPTIONS", e.URL+"/inbox/api/socket", h("Origin", "https://app.example.com", "Access-Control-Request-Method", "POST"), ""); r.Status != 403 {
		t.Errorf("preflight to the inbox from an allowed API origin: %d", r.Status)
	}
	if r := inboxReq(t, e, "GET", "/inbox/api/me", cookie, "", ""); r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("the inbox's API answers may be cached: %q", r.Header.Get("Cache-Control"))
	}

	// / leads a signed-in person to the inbox, and shows others the landing
	// page.
	if r := sendNoRedirect(t, "GET", e.URL+"/?lang=zh", h("Cookie", cookie)); r.StatusCode != 303 || r.Header.Get("Location") != "/inbox?lang=zh" {
		t.Errorf("/ signed in: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if r := sendNoRedirect(t, "GET", e.URL+"/", h("Cookie", "feedbackd_inbox=fbc_forged.x")); r.StatusCode != 200 {
		t.Errorf("/ with a forged cookie: %d", r.StatusCode)
	}

	// Signing out forgets the cookie in this browser; the link stays.
	out := inboxReq(t, e, "DELETE", "/inbox/session", cookie, "", "")
	if out.Status != 200 || !strings.Contains(out.Header.Get("Set-Cookie"), "feedbackd_inbox=;") {
		t.Fatalf("sign out: %d %q", out.Status, out.Header.Get("Set-Cookie"))
	}
	if r := do(t, "GET", e.URL+"/api/inbox/links", keyA, "", nil); !strings.Contains(string(r.Raw), l.ID) || !strings.Contains(string(r.Raw), `"lastUsedAt"`) {
		t.Fatalf("after signing out the link should stay, used: %s", r.Raw)
	}
}

func sendNoRedirect(t testing.TB, method, u string, hdr http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = hdr
	res, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

// Forged, altered, swapped and expired credentials are refused, and no
// refusal says more than 401.
func TestInboxRefusesForgedAlteredAndExpiredCredentials(t *testing.T) {
	t.Parallel()
	ns := programtest.StartNATS(t)
	e := startContractEdge(t, ns.URL, nil)
	l := mintLink(t, e, keyA, `{}`)
	cookie, c := signIn(t, e, l.Token)

	// The cluster's own secret, as a second replica reads it, to mint
	// credentials the server must refuse for what they say, not for their
	// signature.
	secret, err := natsutil.SharedSecret(context.Background(), e.m.Backend().JetStream(), "inbox-link", 1)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.NewLinkTokens(secret)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := auth.NewLinkTokens([]byte(strings.Repeat("s", 32)))
	past := time.Now().Add(-time.Minute)
	future := time.Now().Add(time.Hour)
	flip := func(s string) string {
		b := []byte(s)
		i := len(b) - 5
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}

	for name, tok := range map[string]string{
		"expired link token":               tokens.Mint(auth.PurposeInboxLink, l.ID, past),
		"another cluster's token":          other.Mint(auth.PurposeInboxLink, l.ID, future),
		"a token for a link never minted":  tokens.Mint(auth.PurposeInboxLink, sessionsNewLinkID(), future),
		"the cookie offered as a link":     c.Value,
		"a socket credential as a link":    tokens.Mint(auth.PurposeInboxSocket, l.ID, future),
		"an altered token":                 flip(l.Token),
		"a truncated token":                l.Token[:len(l.Token)-3],
		"an API key":                       keyA,
		"a huge token":                     strings.Repeat("fbl_", 2000),
		"the link's URL instead of its t=": l.URL,
	} {
		r := inboxReq(t, e, "POST", "/inbox/session", "", "", mustJSON(map[string]string{"token": tok}))
		if r.Status != 401 || r.code() != "UNAUTHORIZED" || len(r.Header.Values("Set-Cookie")) != 0 {
			t.Errorf("sign in with %s: %d %s", name, r.Status, r.Raw)
		}
	}
	for name, body := range map[string]string{"no token": `{}`, "not JSON": `{"token":`, "a number": `{"token":5}`} {
		if r := inboxReq(t, e, "POST", "/inbox/session", "", "", body); r.Status != 400 {
			t.Errorf("sign in with %s: %d %s", name, r.Status, r.Raw)
		}
	}
	name := c.Name
	for what, value := range map[string]string{
		"an expired cookie":             tokens.Mint(auth.PurposeInboxCookie, l.ID, past),
		"another cluster's cookie":      other.Mint(auth.PurposeInboxCookie, l.ID, future),
		"the link token as a cookie":    l.Token,
		"a socket credential as cookie": tokens.Mint(auth.PurposeInboxSocket, l.ID, future),
		"an altered cookie":             flip(c.Value),
		"an empty cookie":               "",
	} {
		r := inboxReq(t, e, "GET", "/inbox/api/me", name+"="+value, "", "")
		if r.Status != 401 || r.code() != "UNAUTHORIZED" {
			t.Errorf("%s: %d %s", what, r.Status, r.Raw)
		}
	}
	if r := inboxReq(t, e, "GET", "/inbox/api/me", cookie, "", ""); r.Status != 200 {
		t.Fatalf("the genuine cookie after all that: %d %s", r.Status, r.Raw)
	}
	// The socket credential opens the WebSocket and nothing else; an
	// expired one opens nothing.
	var grant struct{ Token, URL string }
	inboxReq(t, e, "POST", "/inbox/api/socket", cookie, "", "").data(t, &grant)
	if r := send(t, "GET", e.URL+"/api/feedback", h("Authorization", "Bearer "+grant.Token), ""); r.Status != 401 {
		t.Errorf("the socket credential on the REST API: %d", r.Status)
	}
	if st, body := wsDial(t, e.URL+grant.URL+"?token="+tokens.Mint(auth.PurposeInboxSocket, l.ID, past), nil); st != 401 {
		t.Errorf("an expired socket credential: %d %s", st, body)
	}
	if st, body := wsDial(t, e.URL+grant.URL+"?token="+url.QueryEscape(grant.Token), nil); st != 101 {
		t.Errorf("the socket credential: %d %s", st, body)
	}
}

// wsNext reads the next message of conn as {type, data}.
func wsNext(t *testing.T, conn *fws.Conn, d time.Duration) (string, map[string]any, error) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(d))
	_, raw, err := conn.ReadMessage()
	if err != nil {
		return "", nil, err
	}
	var m struct {
		Type string
		Data map[string]any
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("message %s: %v", raw, err)
	}
	return m.Type, m.Data, nil
}

// A revoked link is refused at once by every replica, and the sockets it
// opened are closed on every notifier.
func TestRevokedLinkStopsAtOnceOnEveryReplicaAndClosesItsSockets(t *testing.T) {
	t.Parallel()
	ns := programtest.StartNATS(t)
	one := startContractEdge(t, ns.URL, nil)
	two := startContractEdge(t, ns.URL, nil)
	l := mintLink(t, one, keyA, `{"name":"phone"}`)
	cookie, _ := signIn(t, two, l.Token)
	for _, e := range []*restEdge{one, two} {
		if r := inboxReq(t, e, "GET", "/inbox/api/me", cookie, "", ""); r.Status != 200 {
			t.Fatalf("me on %s: %d %s", e.URL, r.Status, r.Raw)
		}
	}
	// A socket on each replica, opened with the inbox's credential.
	socks := make([]*fws.Conn, 0, 2)
	for _, e := range []*restEdge{one, two} {
		var grant struct{ Token, URL string }
		inboxReq(t, e, "POST", "/inbox/api/socket", cookie, "", "").data(t, &grant)
		conn, _, err := (&fws.Dialer{}).Dial("ws"+strings.TrimPrefix(e.URL, "http")+grant.URL+"?token="+url.QueryEscape(grant.Token), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		if typ, _, err := wsNext(t, conn, 5*time.Second); err != nil || typ != "connection_established" {
			t.Fatalf("first message %s, %v", typ, err)
		}
		socks = append(socks, conn)
	}
	// It follows its owner's sessions, and only theirs.
	b := one.create(t, keyB, map[string]any{"message": "B's question"})
	a := one.create(t, keyA, map[string]any{"message": "A's question"})
	for _, conn := range socks {
		typ, data, err := wsNext(t, conn, 5*time.Second)
		if err != nil || typ != "session_created" || data["sessionId"] != a || data["sessionId"] == b {
			t.Fatalf("want A's session_created first, got %s %v %v", typ, data, err)
		}
	}

	revoked := time.Now()
	if r := do(t, "DELETE", one.URL+"/api/inbox/links/"+l.ID, keyA, "", nil); r.Status != 200 {
		t.Fatalf("revoke: %d %s", r.Status, r.Raw)
	}
	for _, e := range []*restEdge{one, two} {
		if r := inboxReq(t, e, "GET", "/inbox/api/me", cookie, "", ""); r.Status != 401 {
			t.Errorf("the cookie on %s right after the revocation: %d", e.URL, r.Status)
		}
	}
	for i, conn := range socks {
		var err error
		for err == nil {
			_, _, err = wsNext(t, conn, 5*time.Second)
		}
		var ce *fws.CloseError
		if !errors.As(err, &ce) || ce.Code != 4003 {
			t.Fatalf("socket %d after the revocation: %v, want close 4003", i, err)
		}
		t.Logf("socket %d closed %s after the revocation", i, time.Since(revoked).Round(time.Millisecond))
	}
}

func TestInboxListsItsOwnersSessionsWaitingFirst(t *testing.T) {
	t.Parallel()
	m := programtest.MustRunMain(t, programtest.ShortTimeouts())
	e := &restEdge{URL: m.URL(), Svc: m.Backend().Service(), m: m}
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	create := func(key, msg string, timeout int) string {
		return e.create(t, key, map[string]any{"message": msg, "timeout": timeout, "predefinedOptions": []string{"yes", "no"}})
	}
	expired := create(keyA, "expired", 1)
	cancelled := create(keyA, "cancelled", 600)
	if r := do(t, "POST", e.URL+"/api/feedback/"+cancelled+"/cancel", keyA, "", nil); r.Status != 200 {
		t.Fatal(r.Status)
	}
	answered := create(keyA, "answered", 600)
	if r := e.submit(t, answered, map[string]any{"selectedOptions": []string{"yes"}}); r.Status != 200 {
		t.Fatal(r.Status)
	}
	older := create(keyA, "older pending", 600)
	theirs := create(keyB, "B's", 600)
	newer := create(keyA, "newer pending", 600)
	programtest.WaitFor(t, 10*time.Second, func() error {
		s, err := e.Svc.Get(context.Background(), expired)
		if err == nil && s.Status != "expired" {
			return fmt.Errorf("still %s", s.Status)
		}
		return err
	})
	want := []string{newer, older, answered, expired, cancelled}

	l := mintLink(t, e, keyA, `{}`)
	cookie, _ := signIn(t, e, l.Token)
	type page struct {
		Items []struct {
			SessionID, Status string
		}
		NextCursor string
	}
	var all page
	inboxReq(t, e, "GET", "/inbox/api/sessions", cookie, "", "").data(t, &all)
	var got []string
	for _, it := range all.Items {
		got = append(got, it.SessionID)
	}
	if !slices.Equal(got, want) || all.NextCursor != "" {
		t.Fatalf("inbox order %v (next %q), want %v (B's %s never)", got, all.NextCursor, want, theirs)
	}
	// Two at a time, across the groups, the same order.
	got = got[:0]
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		var p page
		r := inboxReq(t, e, "GET", "/inbox/api/sessions?limit=2&cursor="+url.QueryEscape(cursor), cookie, "", "")
		if r.Status != 200 {
			t.Fatalf("page: %d %s", r.Status, r.Raw)
		}
		r.data(t, &p)
		for _, it := range p.Items {
			got = append(got, it.SessionID)
		}
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged order %v, want %v", got, want)
	}
	for _, bad := range []string{"?cursor=nope", "?cursor=eyJnIjo5fQ", "?limit=0", "?limit=101"} {
		if r := inboxReq(t, e, "GET", "/inbox/api/sessions"+bad, cookie, "", ""); r.Status != 400 {
			t.Errorf("%s: %d %s", bad, r.Status, r.Raw)
		}
	}

	// A question is shown as the page shows it, and answered in place; B's
	// cannot be read or answered through A's inbox.
	var detail struct {
		Session struct{ Status string }
		HTML    string
	}
	inboxReq(t, e, "GET", "/inbox/api/sessions/"+newer+"?lang=zh", cookie, "", "").data(t, &detail)
	if detail.Session.Status != "pending" || !strings.Contains(detail.HTML, `id="answer-form"`) ||
		!strings.Contains(detail.HTML, `/inbox/api/sessions/`+newer+`/submit`) || strings.Contains(detail.HTML, "wsToken") {
		t.Fatalf("detail: %+v", detail)
	}
	if r := inboxReq(t, e, "GET", "/inbox/api/sessions/"+theirs, cookie, "", ""); r.Status != 404 {
		t.Fatalf("B's session through A's inbox: %d", r.Status)
	}
	if r := inboxReq(t, e, "POST", "/inbox/api/sessions/"+theirs+"/submit", cookie, "", `{"selectedOptions":["yes"]}`); r.Status != 404 {
		t.Fatalf("answering B's session through A's inbox: %d %s", r.Status, r.Raw)
	}
	if r := inboxReq(t, e, "POST", "/inbox/api/sessions/"+newer+"/submit", cookie, "https://evil.example", `{"selectedOptions":["no"]}`); r.Status != 403 {
		t.Fatalf("answering from another site: %d", r.Status)
	}
	if r := inboxReq(t, e, "POST", "/inbox/api/sessions/"+newer+"/submit", cookie, "", `{"selectedOptions":["no"],"freeText":"from the inbox"}`); r.Status != 200 {
		t.Fatalf("answer in the inbox: %d %s", r.Status, r.Raw)
	}
	if sel, text := resultOf(t, e, newer); !slices.Equal(sel, []string{"no"}) || text != "from the inbox" {
		t.Fatalf("the agent reads %v %q", sel, text)
	}
	var done struct {
		Answer *struct{ CombinedFeedback string }
	}
	inboxReq(t, e, "GET", "/inbox/api/sessions/"+newer, cookie, "", "").data(t, &done)
	if done.Answer == nil || done.Answer.CombinedFeedback != "no\n\nfrom the inbox" {
		t.Fatalf("the inbox's view of the answer: %+v", done.Answer)
	}
}
