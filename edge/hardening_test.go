package edge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/net/html"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/sessions"
)

// The regression tests of issue 12 ("Hardening") that concern the edge and
// the routes serve mounts beside it: each attacks the real program.

// serveStack runs `feedbackd serve` in process (edge, notifier, expirer on
// an embedded NATS), as a user runs it.
func serveStack(t *testing.T, opts ...programtest.Option) *restEdge {
	t.Helper()
	m := programtest.MustRunMain(t, opts...)
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	return &restEdge{URL: m.URL(), Svc: m.Backend().Service(), m: m}
}

// wsDial tries a WebSocket upgrade and returns the HTTP status it got: 101
// when it opened (the socket is closed again at once).
func wsDial(t *testing.T, url string, hdr http.Header) (int, string) {
	t.Helper()
	conn, resp, err := (&fws.Dialer{}).Dial("ws"+strings.TrimPrefix(url, "http"), hdr)
	if err == nil {
		conn.Close()
		return http.StatusSwitchingProtocols, ""
	}
	if resp == nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// Two credentials in one request are refused everywhere, whatever they are
// and whichever is valid (issue 12, break 10: a valid X-API-Key beside a
// wrong Bearer token was served 200). The REST routes are in
// TestAuthEveryCredentialFormThroughTheHTTPStack; here MCP and WebSocket.
func TestTwoCredentialsAreRefusedOnMCPAndWebSocket(t *testing.T) {
	t.Parallel()
	e := serveStack(t)
	id := e.create(t, keyA, map[string]any{"message": "whose?"})
	initialize := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`

	for _, tc := range []struct {
		name string
		hdr  http.Header
	}{
		{"X-API-Key and a wrong Bearer", h("X-API-Key", keyA, "Authorization", "Bearer wrong")},
		{"X-API-Key and the same key as ApiKey", h("X-API-Key", keyA, "Authorization", "ApiKey "+keyA)},
		{"two keys of two principals", h("X-API-Key", keyA, "Authorization", "ApiKey "+keyB)},
	} {
		t.Run("MCP "+tc.name, func(t *testing.T) {
			hdr := tc.hdr.Clone()
			hdr.Set("Content-Type", ctJSON)
			hdr.Set("Accept", "application/json, text/event-stream")
			r := send(t, "POST", e.URL+"/mcp", hdr, initialize)
			if r.Status != 401 || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer ") {
				t.Fatalf("POST /mcp: %d %q %s", r.Status, r.Header.Get("WWW-Authenticate"), r.Raw)
			}
			if r := send(t, "GET", e.URL+"/sse", tc.hdr, ""); r.Status != 401 {
				t.Fatalf("GET /sse: %d %s", r.Status, r.Raw)
			}
		})
	}

	for _, tc := range []struct {
		name, path string
		hdr        http.Header
		want       int
	}{
		{"X-API-Key and Authorization", "/ws/" + id, h("X-API-Key", keyA, "Authorization", "ApiKey "+keyA), 401},
		{"X-API-Key and a wrong Bearer", "/ws", h("X-API-Key", keyA, "Authorization", "Bearer wrong"), 401},
		{"apiKey and token", "/ws/" + id + "?apiKey=" + keyA + "&token=wrong", nil, 401},
		{"apiKey and X-API-Key", "/ws?apiKey=" + keyA, h("X-API-Key", keyA), 401},
		{"token and Authorization", "/ws?token=wrong", h("Authorization", "ApiKey "+keyA), 401},
		{"apiKey twice", "/ws?apiKey=" + keyA + "&apiKey=" + keyB, nil, 401},
		{"one apiKey", "/ws/" + id + "?apiKey=" + keyA, nil, 101},
		{"one header", "/ws", h("X-API-Key", keyA), 101},
	} {
		t.Run("WebSocket "+tc.name, func(t *testing.T) {
			status, body := wsDial(t, e.URL+tc.path, tc.hdr)
			if status != tc.want {
				t.Fatalf("upgrade: %d %s, want %d", status, body, tc.want)
			}
			if tc.want == 401 && !strings.Contains(body, `"UNAUTHORIZED"`) {
				t.Fatalf("refusal is not the UNAUTHORIZED envelope: %s", body)
			}
		})
	}
}

// headerTransport sends every request with the header name: value.
type headerTransport struct{ name, value string }

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(h.name, h.value)
	return http.DefaultTransport.RoundTrip(r)
}

// mcpClient connects to the edge's /mcp with the official Go SDK, as key.
func mcpClient(t *testing.T, base, key string) *sdk.ClientSession {
	t.Helper()
	tr := &sdk.StreamableClientTransport{Endpoint: base + "/mcp", HTTPClient: &http.Client{Transport: headerTransport{"X-API-Key", key}}, MaxRetries: -1}
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "feedbackd-hardening-test", Version: "1"}, nil).Connect(t.Context(), tr, nil)
	if err != nil {
		t.Fatalf("MCP connect: %v", err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// toolText is the text of a tool result, and whether it is an error.
func toolText(t *testing.T, cs *sdk.ClientSession, name string, args map[string]any) (string, bool) {
	t.Helper()
	res, err := cs.CallTool(t.Context(), &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("call %s: %v", name, err)
	}
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n"), res.IsError
}

// Another principal learns nothing about a session, in any state, on any
// route that its owner may use: every one answers 404 SESSION_NOT_FOUND,
// exactly as for an id that never existed, and nothing changes (issue 12,
// break 7: cancelling another tenant's session answered 409
// ALREADY_SUBMITTED, 410 SESSION_CANCELLED or 410 SESSION_EXPIRED, and
// expired an overdue one).
func TestAnotherPrincipalGetsNotFoundInEveryStateOnEveryOwnerRoute(t *testing.T) {
	t.Parallel()
	clk := &offsetClock{}
	e := serveStack(t, programtest.ShortTimeouts(), programtest.Sessions(sessions.WithClock(clk.Now)))
	ctx := context.Background()
	store := e.m.Backend().Store()

	// The deadlines are far away in real time, so the expirer (which fires
	// on NATS message schedules) leaves them alone; the service's clock is
	// moved instead.
	pending := e.create(t, keyA, map[string]any{"message": "pending", "timeout": 4 * 3600})
	completed := e.create(t, keyA, map[string]any{"message": "completed", "timeout": 4 * 3600})
	cancelled := e.create(t, keyA, map[string]any{"message": "cancelled", "timeout": 4 * 3600})
	expired := e.create(t, keyA, map[string]any{"message": "expired", "timeout": 30 * 60})
	overdue := e.create(t, keyA, map[string]any{"message": "overdue", "timeout": 60 * 60})
	if r := e.submit(t, completed, map[string]any{"freeText": "the secret answer"}); r.Status != 200 {
		t.Fatalf("submit: %d %s", r.Status, r.Raw)
	}
	if r := do(t, "POST", e.URL+"/api/feedback/"+cancelled+"/cancel", keyA, "", nil); r.Status != 200 {
		t.Fatalf("cancel: %d %s", r.Status, r.Raw)
	}
	clk.Advance(45 * time.Minute)
	if _, ok, err := e.Svc.Expire(ctx, expired); err != nil || !ok {
		t.Fatalf("expire: %v %v", ok, err)
	}
	clk.Advance(30 * time.Minute) // overdue is past its deadline, unwritten
	states := []struct{ name, id, status string }{
		{"pending", pending, "pending"},
		{"completed", completed, "completed"},
		{"cancelled", cancelled, "cancelled"},
		{"expired", expired, "expired"},
		{"overdue", overdue, "pending"}, // as stored; its owner's next read expires it
		{"unknown", sessions.NewID(), ""},
	}
	revisions := map[string]uint64{}
	for _, st := range states[:5] {
		sess, err := store.Get(ctx, st.id)
		if err != nil || string(sess.Status) != st.status {
			t.Fatalf("%s session stored as %v (%v)", st.name, sess, err)
		}
		revisions[st.id] = sess.Revision
	}

	mcpB := mcpClient(t, e.URL, keyB)
	for _, st := range states {
		t.Run(st.name, func(t *testing.T) {
			for _, rt := range []struct{ method, path string }{
				{"GET", "/status"},
				{"GET", "/result"},
				{"GET", "/result?wait=1"},
				{"POST", "/cancel"},
			} {
				r := do(t, rt.method, e.URL+"/api/feedback/"+st.id+rt.path, keyB, "", nil)
				if r.Status != 404 || r.code() != "SESSION_NOT_FOUND" {
					t.Errorf("%s %s: %d %s, want 404 SESSION_NOT_FOUND", rt.method, rt.path, r.Status, r.Raw)
				}
			}
			if status, body := wsDial(t, e.URL+"/ws/"+st.id+"?apiKey="+keyB, nil); status != 404 || !strings.Contains(body, "SESSION_NOT_FOUND") {
				t.Errorf("/ws/{id}: %d %s, want 404 SESSION_NOT_FOUND", status, body)
			}
			for _, call := range []struct {
				tool string
				args map[string]any
			}{
				{"check_feedback_status", map[string]any{"sessionId": st.id}},
				{"get_feedback_result", map[string]any{"sessionId": st.id, "waitSeconds": 0}},
				{"get_feedback_result", map[string]any{"sessionId": st.id, "waitSeconds": 1}},
			} {
				if text, isErr := toolText(t, mcpB, call.tool, call.args); !isErr || !strings.HasPrefix(text, "SESSION_NOT_FOUND:") {
					t.Errorf("MCP %s %v: %q (error %v), want SESSION_NOT_FOUND", call.tool, call.args, text, isErr)
				}
			}
		})
	}

	// Nothing B did changed anything, and B's list does not show A's.
	for _, st := range states[:5] {
		sess, err := store.Get(ctx, st.id)
		if err != nil || string(sess.Status) != st.status || sess.Revision != revisions[st.id] {
			t.Fatalf("%s session after B's requests: %+v (%v), want %s at revision %d", st.name, sess, err, st.status, revisions[st.id])
		}
	}
	r := do(t, "GET", e.URL+"/api/feedback?limit=100", keyB, "", nil)
	for _, st := range states {
		if r.Status != 200 || strings.Contains(string(r.Raw), st.id) {
			t.Fatalf("B's list: %d %s", r.Status, r.Raw)
		}
	}
	// The same routes answer A, so the 404s above are about B.
	for _, st := range states[:5] {
		r := do(t, "GET", e.URL+"/api/feedback/"+st.id+"/status", keyA, "", nil)
		var d struct{ Status string }
		r.data(t, &d)
		want := st.status
		if st.name == "overdue" {
			want = "expired"
		}
		if r.Status != 200 || d.Status != want {
			t.Fatalf("A's %s status: %d %s", st.name, r.Status, r.Raw)
		}
	}
	if r := do(t, "POST", e.URL+"/api/feedback/"+completed+"/cancel", keyA, "", nil); r.Status != 409 {
		t.Fatalf("A cancels the answered session: %d %s", r.Status, r.Raw)
	}
}

// pretendListener reports another address than the one it listens on, so
// that a test bound to 127.0.0.1 (as every test server is) can stand for a
// server on a network interface.
type pretendListener struct {
	net.Listener
	addr net.Addr
}

func (l pretendListener) Addr() net.Addr { return l.addr }

// hostRequest sends method path to base with the Host header host and
// returns the status and the error code of the envelope, if any.
func hostRequest(t *testing.T, base, method, path, host string, hdr http.Header, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Host = host
	res, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var env struct {
		Error *struct{ Code, Message string } `json:"error"`
	}
	_ = json.Unmarshal(raw, &env)
	if env.Error != nil {
		return res.StatusCode, env.Error.Code
	}
	return res.StatusCode, ""
}

// A server on loopback answers only the names that always mean this machine
// (and PUBLIC_URL's host and ALLOWED_HOSTS): a page on a rebinding domain
// that resolves to 127.0.0.1 gets 421 on every route (issue 12, break 5:
// Host: evil.com was served 200). The operations API stays open to probes
// that use an address.
func TestForeignHostIsRefusedOnEveryRoute(t *testing.T) {
	t.Parallel()
	e := serveStack(t, programtest.Env("PUBLIC_URL", "https://feedback.example.com"), programtest.Env("ALLOWED_HOSTS", "lan-box"))
	id := e.create(t, keyA, map[string]any{"message": "rebinding?"})
	port := e.URL[strings.LastIndex(e.URL, ":")+1:]
	key := h("X-API-Key", keyA)
	jsonKey := h("X-API-Key", keyA, "Content-Type", ctJSON, "Accept", "application/json, text/event-stream")
	initialize := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	routes := []struct {
		method, path string
		hdr          http.Header
		body         string
		ok           int
	}{
		{"GET", "/api/feedback", key, "", 200},
		{"POST", "/api/feedback/create", jsonKey, `{"message":"q"}`, 201},
		{"GET", "/api/feedback/" + id + "/status", key, "", 200},
		{"GET", "/api/feedback/" + id + "/result", key, "", 404},
		{"POST", "/api/feedback/" + sessions.NewID() + "/submit", h("Content-Type", ctJSON), `{"freeText":"x"}`, 404},
		{"GET", "/feedback/" + id, nil, "", 200},
		{"GET", "/feedback/" + id + "/state", nil, "", 200},
		{"POST", "/mcp", jsonKey, initialize, 200},
		{"GET", "/openapi.json", nil, "", 200},
		{"GET", "/nope", nil, "", 404},
	}
	for _, host := range []string{"evil.example.com", "evil.example.com:" + port, "localhost.evil.example.com", "127.0.0.1.nip.io:" + port, "10.1.2.3"} {
		for _, r := range routes {
			if status, code := hostRequest(t, e.URL, r.method, r.path, host, r.hdr, r.body); status != http.StatusMisdirectedRequest || code != "MISDIRECTED_REQUEST" {
				t.Errorf("Host %s: %s %s = %d %s, want 421 MISDIRECTED_REQUEST", host, r.method, r.path, status, code)
			}
		}
		if status, body := wsDial(t, e.URL+"/ws/"+id+"?apiKey="+keyA, h("Host", host)); status != http.StatusMisdirectedRequest {
			t.Errorf("Host %s: /ws/{id} upgrade = %d %s, want 421", host, status, body)
		}
		for _, probe := range []string{"/health", "/ready", "/metrics"} {
			if status, _ := hostRequest(t, e.URL, "GET", probe, host, nil, ""); status != 200 {
				t.Errorf("Host %s: %s = %d, want 200 (probes are exempt)", host, probe, status)
			}
		}
	}
	// X-Forwarded-Host is believed only from TRUSTED_PROXIES, which a
	// rebinding page is not.
	if status, _ := hostRequest(t, e.URL, "GET", "/api/feedback", "evil.example.com", h("X-API-Key", keyA, "X-Forwarded-Host", "localhost"), ""); status != http.StatusMisdirectedRequest {
		t.Errorf("X-Forwarded-Host from a client: %d, want 421", status)
	}
	for _, host := range []string{"localhost:" + port, "LOCALHOST", "127.0.0.1:" + port, "127.1.2.3", "[::1]:" + port, "feedback.example.com", "lan-box:" + port} {
		for _, r := range routes {
			if status, code := hostRequest(t, e.URL, r.method, r.path, host, r.hdr, r.body); status != r.ok {
				t.Errorf("Host %s: %s %s = %d %s, want %d", host, r.method, r.path, status, code, r.ok)
			}
		}
		if status, body := wsDial(t, e.URL+"/ws/"+id+"?apiKey="+keyA, h("Host", host)); status != http.StatusSwitchingProtocols {
			t.Errorf("Host %s: /ws/{id} upgrade = %d %s", host, status, body)
		}
	}
}

// A server on a network interface answers PUBLIC_URL's host and
// ALLOWED_HOSTS only — not even localhost, which a rebinding page can name
// as well as any other. With neither set it answers every host, as it must
// to be reachable at all on a first start, and says so at start.
func TestHostCheckOnANetworkInterface(t *testing.T) {
	t.Parallel()
	pretend := func(real *string) programtest.Option {
		return programtest.Listen(func(ln net.Listener) net.Listener {
			*real = "http://" + ln.Addr().String()
			return pretendListener{ln, &net.TCPAddr{IP: net.ParseIP("192.0.2.10"), Port: ln.Addr().(*net.TCPAddr).Port}}
		})
	}
	var strict, open string
	logs := &logBuffer{}
	programtest.MustRunMain(t, pretend(&strict), programtest.Env("PUBLIC_URL", "https://feedback.example.com"), programtest.Env("ALLOWED_HOSTS", "10.0.0.5"))
	programtest.MustRunMain(t, pretend(&open), programtest.Logs(logs))
	for _, c := range []struct {
		base, host string
		want       int
	}{
		{strict, "feedback.example.com", 200},
		{strict, "10.0.0.5:8787", 200},
		{strict, "localhost", 421},
		{strict, "127.0.0.1", 421},
		{strict, "evil.example.com", 421},
		{open, "evil.example.com", 200},
		{open, "localhost", 200},
	} {
		if status, _ := hostRequest(t, c.base, "GET", "/api/feedback", c.host, h("X-API-Key", keyA), ""); status != c.want {
			t.Errorf("Host %s: %d, want %d", c.host, status, c.want)
		}
	}
	if !strings.Contains(logs.String(), "PUBLIC_URL and ALLOWED_HOSTS are not set") {
		t.Errorf("no warning that every host is answered:\n%s", logs.String())
	}
}

// A session id is the capability to answer: whoever reads the logs must not
// be able to (issue 12, "Operator friction": access logs carried
// path=/feedback/<uuid> at info level). Every line the program logs, at
// debug level, across REST, the page, MCP, WebSocket and the expirer,
// carries ids only as an 8-character prefix.
func TestLogsCarryNoWholeSessionID(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	e := serveStack(t, programtest.Env("LOG_LEVEL", "debug"), programtest.Logs(logs), programtest.ShortTimeouts())
	ctx := context.Background()

	answered := e.create(t, keyA, map[string]any{"message": "logged?"})
	expiring := e.create(t, keyA, map[string]any{"message": "soon gone", "timeout": 1})
	unknown := sessions.NewID()
	for _, r := range []struct{ method, path, key string }{
		{"GET", "/feedback/" + answered, ""},
		{"GET", "/feedback/" + answered + "/state", ""},
		{"GET", "/feedback/" + unknown, ""},
		{"GET", "/api/feedback/" + answered + "/status", keyA},
		{"GET", "/api/feedback/" + answered + "/status", "wrong-key"},
		{"GET", "/api/feedback/" + strings.ToUpper(answered) + "/status", keyA},
		{"GET", "/api/feedback/" + answered + "/result?wait=1", keyA},
		{"GET", "/nope?next=/feedback/" + answered, ""},
	} {
		do(t, r.method, e.URL+r.path, r.key, "", nil)
	}
	if r := e.submit(t, answered, map[string]any{"freeText": "yes"}); r.Status != 200 {
		t.Fatalf("submit: %d %s", r.Status, r.Raw)
	}
	do(t, "POST", e.URL+"/api/feedback/"+answered+"/cancel", keyA, "", nil) // 409
	for _, path := range []string{"/ws/" + answered + "?apiKey=" + keyA, "/ws/" + unknown + "?apiKey=" + keyA, "/ws/" + answered + "?token=forged"} {
		wsDial(t, e.URL+path, nil)
	}
	cs := mcpClient(t, e.URL, keyA)
	toolText(t, cs, "check_feedback_status", map[string]any{"sessionId": answered})
	toolText(t, cs, "get_feedback_result", map[string]any{"sessionId": unknown, "waitSeconds": 0})
	text, _ := toolText(t, cs, "interactive_feedback", map[string]any{"message": "from MCP", "waitSeconds": 0})
	viaMCP := regexpUUID.FindString(text)
	programtest.WaitFor(t, 20*time.Second, func() error {
		s, err := e.m.Backend().Store().Get(ctx, expiring)
		if err != nil || s.Status != sessions.StatusExpired {
			return fmt.Errorf("not expired yet: %v %v", s, err)
		}
		return nil
	})
	programtest.WaitFor(t, 5*time.Second, programtest.Until("the expirer to log the expiry", func() bool {
		return strings.Contains(logs.String(), "session expired")
	}))

	out := logs.String()
	for name, id := range map[string]string{"answered": answered, "expiring": expiring, "unknown": unknown, "created over MCP": viaMCP} {
		if id == "" {
			t.Fatalf("%s: no id", name)
		}
		for _, form := range []string{id, strings.ToUpper(id)} {
			if i := strings.Index(out, form); i >= 0 {
				line := out[strings.LastIndex(out[:i], "\n")+1:]
				line, _, _ = strings.Cut(line, "\n")
				t.Errorf("the log carries the whole id of the %s session:\n%s", name, line)
			}
		}
	}
	// The lines are there, with the prefix: the test looked at something.
	for _, want := range []string{"path=/feedback/" + answered[:8] + "…", "/api/feedback/" + answered[:8] + "…/status", "session=" + expiring[:8] + "…"} {
		if !strings.Contains(out, want) {
			t.Errorf("no log line with %q", want)
		}
	}
}

var regexpUUID = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// Opening the address the start-up line prints shows what the server is
// (issue 12, "Operator friction": it was a JSON 404), in the person's
// language and theme, with links to the OpenAPI document and /health and
// the MCP address to connect an agent to.
func TestBaseURLShowsALandingPage(t *testing.T) {
	t.Parallel()
	e := serveStack(t)
	p := getPage(t, e.URL+"/")
	if p.Status != 200 || !strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") || p.Doc == nil {
		t.Fatalf("GET /: %d %s %.200s", p.Status, p.Header.Get("Content-Type"), p.Body)
	}
	assertHTMLHeaders(t, "landing page", p)
	links := map[string]bool{}
	for _, a := range findNodes(p.Doc, func(n *html.Node) bool { return n.Data == "a" }) {
		href, _ := nodeAttr(a, "href")
		links[href] = true
	}
	for _, want := range []string{"/openapi.json", "/health"} {
		if !links[want] {
			t.Errorf("no link to %s: %v", want, links)
		}
		if r := do(t, "GET", e.URL+want, "", "", nil); r.Status != 200 {
			t.Errorf("the landing page links to %s, which answers %d", want, r.Status)
		}
	}
	if !strings.Contains(nodeText(p.root()), e.URL+"/mcp") || !strings.Contains(p.Body, `<html lang="en" data-theme="auto">`) {
		t.Errorf("landing page: %.600s", p.Body)
	}

	zh := fetchPage(t, "GET", e.URL+"/?theme=dark", http.Header{"Accept-Language": {"zh-CN,zh;q=0.9"}}, nil)
	if zh.Status != 200 || !strings.Contains(zh.Body, `<html lang="zh-CN" data-theme="dark">`) || !strings.Contains(zh.Body, tr("zh", "home.title")) {
		t.Errorf("Chinese, dark: %d %.300s", zh.Status, zh.Body)
	}
	if head := fetchPage(t, "HEAD", e.URL+"/", nil, nil); head.Status != 200 {
		t.Errorf("HEAD /: %d", head.Status)
	}
	if r := do(t, "POST", e.URL+"/", keyA, ctJSON, []byte(`{}`)); r.Status != 405 || r.Header.Get("Allow") != "GET, HEAD" || r.code() != "METHOD_NOT_ALLOWED" {
		t.Errorf("POST /: %d %q %s", r.Status, r.Header.Get("Allow"), r.Raw)
	}
}
