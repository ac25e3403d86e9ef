package notifier_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/notifier"
	"github.com/feedbackd/feedbackd/pkg/auth"
)

// The regression tests of issue 12 ("Hardening") that concern the
// notifier; each attacks a real notifier process.

// answerText is what the person answers; no byte of it may reach a socket
// opened with the page's token.
const answerText = "the launch code is 0000"

// mentions reports whether any value of m's data contains text.
func mentions(m msg, text string) bool {
	b, _ := json.Marshal(m.Data)
	return strings.Contains(string(b), text)
}

// Whoever holds a link may answer, but must not read what someone else
// answered (issue 12, break 6: the page token replayed feedback_submitted
// with a 100-character preview of the answer). A page-token socket hears
// the status and nothing of the answer, live and on replay; the owner's
// socket still gets the preview.
func TestPageTokenSocketsNeverCarryTheAnswer(t *testing.T) {
	t.Parallel()
	s := newStack(t, newNATS(t), notifier.Config{})
	sess := create(t, s.svc, keyAlice, 0)
	token := s.tokens.Mint(sess.ID, time.Minute)

	page := dial(t, s.wsURL("/ws/"+sess.ID, "token="+token, "clientType=web"), nil)
	ownerSocket := dial(t, s.wsURL("/ws/"+sess.ID, apiKey(keyAlice)), nil)
	page.expect(notifier.TypeConnectionEstablished)
	ownerSocket.expect(notifier.TypeConnectionEstablished)
	submit(t, s.svc, sess.ID, answerText)

	// Live, then replayed from the start (?revision=0) to a new page socket.
	replay := func() *client {
		c := dial(t, s.wsURL("/ws/"+sess.ID, "token="+token, "revision=0"), nil)
		if h := c.expect(notifier.TypeConnectionEstablished); h.str("status") != "completed" {
			t.Fatalf("replay connection_established = %v", h.Data)
		}
		return c
	}
	for name, c := range map[string]*client{"live": page, "replayed": replay()} {
		changed := c.expect(notifier.TypeSessionStatusChanged)
		submitted := c.expect(notifier.TypeFeedbackSubmitted)
		if changed.str("newStatus") != "completed" || submitted.str("sessionId") != sess.ID {
			t.Fatalf("%s: %v then %v", name, changed.Data, submitted.Data)
		}
		for _, m := range []msg{changed, submitted} {
			if _, ok := m.Data["preview"]; ok || mentions(m, answerText[:8]) || mentions(m, sess.Message) {
				t.Fatalf("%s page socket got %s %v: more than the status", name, m.Type, m.Data)
			}
		}
		c.quiet(200 * time.Millisecond)
	}

	ownerSocket.expect(notifier.TypeSessionStatusChanged)
	if m := ownerSocket.expect(notifier.TypeFeedbackSubmitted); m.str("preview") != answerText {
		t.Fatalf("owner's feedback_submitted = %v, want the preview", m.Data)
	}
}

// A socket does not outlive the credential that opened it (issue 12, break
// 8: a socket opened with a JWT expiring in 5 s still received previews
// 40 s later). It is closed with 4001 when a JWT's exp or a page token's
// expiry passes; a socket on an API key stays; a JWT that has expired but is
// still within its clock-skew leeway cannot open one.
func TestSocketClosesWhenItsCredentialExpires(t *testing.T) {
	t.Parallel()
	secret := strings.Repeat("s", 32)
	s := newStack(t, newNATS(t), notifier.Config{}, programtest.Env("JWT_SECRET", secret))
	sess := create(t, s.svc, keyAlice, 0)
	jwt := func(ttl time.Duration) string {
		tok, err := auth.MintHS256([]byte(secret), "alice", ttl, nil)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	// exp has whole seconds: a token for 2 s expires in 1–2 s.
	start := time.Now()
	exp := start.Add(2 * time.Second).Truncate(time.Second)
	byJWT := dial(t, s.wsURL("/ws"), http.Header{"Authorization": {"Bearer " + jwt(2*time.Second)}})
	byPage := dial(t, s.wsURL("/ws/"+sess.ID, "token="+s.tokens.Mint(sess.ID, 1500*time.Millisecond)), nil)
	byKey := dial(t, s.wsURL("/ws/"+sess.ID, apiKey(keyAlice)), nil)
	for _, c := range []*client{byJWT, byPage, byKey} {
		c.expect(notifier.TypeConnectionEstablished)
	}
	for name, c := range map[string]*client{"JWT": byJWT, "page token": byPage} {
		if code := c.closeCode(); code != notifier.CloseCredentialExpired {
			t.Fatalf("%s socket closed with %d, want %d", name, code, notifier.CloseCredentialExpired)
		}
	}
	if time.Now().Before(exp) {
		t.Fatalf("the JWT socket closed before its token's exp %v", exp)
	}
	byKey.quiet(300 * time.Millisecond) // and it still hears what happens:
	submit(t, s.svc, sess.ID, "yes")
	byKey.expect(notifier.TypeSessionStatusChanged)

	late, err := jwtlib.NewWithClaims(jwtlib.SigningMethodHS256, jwtlib.MapClaims{
		"sub": "alice", "iat": time.Now().Add(-time.Minute).Unix(), "exp": time.Now().Add(-10 * time.Second).Unix(),
	}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	if status, code := refused(t, s.wsURL("/ws"), http.Header{"Authorization": {"Bearer " + late}}); status != http.StatusUnauthorized || code != "UNAUTHORIZED" {
		t.Fatalf("a JWT 10 s past exp: %d %s", status, code)
	}
}

// Sockets opened with the page's token and the owner's sockets have budgets
// of their own (issue 12, break 9: 1,000 link sockets made the owner's
// /ws/{id} get 429).
func TestPageSocketsCannotLockTheOwnerOut(t *testing.T) {
	t.Parallel()
	const limit = 3
	s := newStack(t, newNATS(t), notifier.Config{MaxPerSession: limit})
	sess := create(t, s.svc, keyAlice, 0)
	token := s.tokens.Mint(sess.ID, time.Minute)
	pageURL, ownerURL := s.wsURL("/ws/"+sess.ID, "token="+token), s.wsURL("/ws/"+sess.ID, apiKey(keyAlice))

	var pages []*client
	for range limit {
		c := dial(t, pageURL, nil)
		c.expect(notifier.TypeConnectionEstablished)
		pages = append(pages, c)
	}
	if status, code := refused(t, pageURL, nil); status != http.StatusTooManyRequests || code != "RATE_LIMITED" {
		t.Fatalf("page socket over the page budget: %d %s", status, code)
	}
	for i := range limit {
		c := dial(t, ownerURL, nil)
		if h := c.expect(notifier.TypeConnectionEstablished); h.str("status") != "pending" {
			t.Fatalf("owner socket %d: %v", i, h.Data)
		}
	}
	if status, code := refused(t, ownerURL, nil); status != http.StatusTooManyRequests || code != "RATE_LIMITED" {
		t.Fatalf("owner socket over the owner budget: %d %s", status, code)
	}
	pages[0].close()
	eventually(t, "the page slot to free", func() bool { return s.n.Stats().Connections == 2*limit-1 })
	dial(t, pageURL, nil).expect(notifier.TypeConnectionEstablished)
	if status, _ := refused(t, ownerURL, nil); status != http.StatusTooManyRequests {
		t.Fatalf("a freed page slot let an owner socket in: %d", status)
	}
}

// The notifier run on its own refuses upgrades for a host it does not
// answer, as the edge does (docs/api.md, "Host check"): on loopback, only
// loopback names. Its probes stay open.
func TestNotifierRefusesForeignHosts(t *testing.T) {
	t.Parallel()
	s := newStack(t, newNATS(t), notifier.Config{})
	sess := create(t, s.svc, keyAlice, 0)
	u := s.wsURL("/ws/"+sess.ID, apiKey(keyAlice))
	for _, host := range []string{"evil.example.com", "evil.example.com:" + strings.Split(s.addr, ":")[1]} {
		if status, code := refused(t, u, http.Header{"Host": {host}}); status != http.StatusMisdirectedRequest || code != "MISDIRECTED_REQUEST" {
			t.Fatalf("Host %s: %d %s, want 421 MISDIRECTED_REQUEST", host, status, code)
		}
		// A proxy header from the client changes nothing: no proxy is trusted.
		if status, _ := refused(t, u, http.Header{"Host": {host}, "X-Forwarded-Host": {"localhost"}}); status != http.StatusMisdirectedRequest {
			t.Fatalf("Host %s with X-Forwarded-Host: %d", host, status)
		}
		req, _ := http.NewRequest("GET", "http://"+s.addr+"/health", nil)
		req.Host = host
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("Host %s: /health %d", host, res.StatusCode)
		}
	}
	for _, host := range []string{"localhost", "127.0.0.1:" + strings.Split(s.addr, ":")[1], "[::1]"} {
		dial(t, u, http.Header{"Host": {host}}).expect(notifier.TypeConnectionEstablished)
	}
}
