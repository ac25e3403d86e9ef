package notifier_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	fws "github.com/fasthttp/websocket"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/notifier"
	"github.com/feedbackd/feedbackd/pkg/metrics"
	"github.com/feedbackd/feedbackd/sessions"
)

func apiKey(key string) string { return "apiKey=" + key }

func TestSubmitSendsStatusChangedThenFeedbackSubmitted(t *testing.T) {
	t.Parallel()
	s := newStack(t, newNATS(t), notifier.Config{})
	sess := create(t, s.svc, keyAlice, 0)
	c := dial(t, s.wsURL("/ws/"+sess.ID, apiKey(keyAlice), "clientType=app"), nil)

	hello := c.expect(notifier.TypeConnectionEstablished)
	if hello.str("sessionId") != sess.ID || hello.str("status") != "pending" || hello.str("clientId") == "" ||
		hello.str("clientType") != "app" || hello.rev() != sess.Revision {
		t.Fatalf("connection_established = %v", hello.Data)
	}
	if _, err := time.Parse(time.RFC3339, hello.str("serverTime")); err != nil {
		t.Fatalf("serverTime: %v", err)
	}

	text := strings.Repeat("é", 90) + strings.Repeat("x", 60) // 150 characters, more bytes
	done := submit(t, s.svc, sess.ID, text)

	changed := c.expect(notifier.TypeSessionStatusChanged)
	if changed.str("sessionId") != sess.ID || changed.str("oldStatus") != "pending" || changed.str("newStatus") != "completed" ||
		changed.rev() != done.Revision {
		t.Fatalf("session_status_changed = %v", changed.Data)
	}
	if _, err := time.Parse(time.RFC3339, changed.str("timestamp")); err != nil {
		t.Fatalf("data.timestamp: %v", err)
	}
	submitted := c.expect(notifier.TypeFeedbackSubmitted)
	preview := submitted.str("preview")
	if submitted.str("sessionId") != sess.ID || submitted.str("submittedBy") != "user" ||
		utf8.RuneCountInString(preview) != 100 || preview != sessions.Preview(text, 100) {
		t.Fatalf("feedback_submitted = %v", submitted.Data)
	}
	if _, err := time.Parse(time.RFC3339, submitted.str("timestamp")); err != nil {
		t.Fatalf("data.timestamp: %v", err)
	}
	c.quiet(300 * time.Millisecond)
}

func TestExpirySendsStatusChangedThenSessionExpired(t *testing.T) {
	t.Parallel()
	s := newStack(t, newNATS(t), notifier.Config{})
	sess := create(t, s.svc, keyAlice, 1)
	c := dial(t, s.wsURL("/ws/"+sess.ID, apiKey(keyAlice)), nil)
	c.expect(notifier.TypeConnectionEstablished)

	s.clock.add(time.Until(sess.ExpiresAt) + 10*time.Millisecond) // past the deadline, by the service's clock
	if _, expired, err := s.svc.Expire(context.Background(), sess.ID); err != nil || !expired {
		t.Fatalf("expire = %v, %v", expired, err)
	}
	changed := c.expect(notifier.TypeSessionStatusChanged)
	if changed.str("oldStatus") != "pending" || changed.str("newStatus") != "expired" {
		t.Fatalf("session_status_changed = %v", changed.Data)
	}
	exp := c.expect(notifier.TypeSessionExpired)
	if exp.str("sessionId") != sess.ID || exp.str("reason") != "timeout" || exp.str("timestamp") == "" {
		t.Fatalf("session_expired = %v", exp.Data)
	}
	c.quiet(300 * time.Millisecond)
}

func TestCancelSendsStatusChangedOnly(t *testing.T) {
	t.Parallel()
	s := newStack(t, newNATS(t), notifier.Config{})
	sess := create(t, s.svc, keyAlice, 0)
	c := dial(t, s.wsURL("/ws/"+sess.ID, apiKey(keyAlice)), nil)
	c.expect(notifier.TypeConnectionEstablished)
	if _, err := s.svc.Cancel(context.Background(), owner(keyAlice), sess.ID); err != nil {
		t.Fatal(err)
	}
	changed := c.expect(notifier.TypeSessionStatusChanged)
	if changed.str("newStatus") != "cancelled" || changed.str("cancelReason") != "" {
		t.Fatalf("session_status_changed = %v", changed.Data)
	}
	c.quiet(300 * time.Millisecond)
}

// The owner hears why a session was cancelled; a page-token socket hears
// only that it was (the reason may quote the person, and whoever holds the
// link must not read more than the status).
func TestCancelWithAReasonSaysWhyToTheOwnerOnly(t *testing.T) {
	t.Parallel()
	s := newStack(t, newNATS(t), notifier.Config{})
	sess := create(t, s.svc, keyAlice, 0)
	c := dial(t, s.wsURL("/ws/"+sess.ID, apiKey(keyAlice)), nil)
	c.expect(notifier.TypeConnectionEstablished)
	page := dial(t, s.wsURL("/ws/"+sess.ID, "token="+s.tokens.Mint(sess.ID, time.Minute), "clientType=web"), nil)
	page.expect(notifier.TypeConnectionEstablished)
	if _, err := s.svc.CancelFor(context.Background(), owner(keyAlice), sess.ID, "declined by the person"); err != nil {
		t.Fatal(err)
	}
	changed := c.expect(notifier.TypeSessionStatusChanged)
	if changed.str("newStatus") != "cancelled" || changed.str("cancelReason") != "declined by the person" {
		t.Fatalf("session_status_changed = %v", changed.Data)
	}
	pageChanged := page.expect(notifier.TypeSessionStatusChanged)
	if _, ok := pageChanged.Data["cancelReason"]; ok || pageChanged.str("newStatus") != "cancelled" {
		t.Fatalf("page socket's session_status_changed = %v, want the status only", pageChanged.Data)
	}
	c.quiet(300 * time.Millisecond)
	page.quiet(100 * time.Millisecond)
}

// The change feed promises the latest state of every session, and always
// its final state, but not every earlier version: a version superseded
// before a follower fetched it is gone from the bucket (history 1), and the
// follower's ordered consumer never sees it (docs/architecture.md, "The
// change feed"). So a /ws client hears of each of its sessions at least in
// its final state, carrying what session_created would have told it, maybe
// after a session_created; never of another principal's session; and in
// revision order.
func TestAllSessionsStreamShowsOnlyTheCallersSessions(t *testing.T) {
	t.Parallel()
	s := newStack(t, newNATS(t), notifier.Config{})
	alice := dial(t, s.wsURL("/ws", apiKey(keyAlice)), nil)
	bob := dial(t, s.wsURL("/ws"), http.Header{"X-Api-Key": {keyBob}})
	if h := alice.expect(notifier.TypeConnectionEstablished); h.str("sessionId") != "" || h.str("status") != "" {
		t.Fatalf("/ws connection_established = %v", h.Data)
	}
	bob.expect(notifier.TypeConnectionEstablished)

	a1 := create(t, s.svc, keyAlice, 0)
	b1 := create(t, s.svc, keyBob, 0)
	a2 := create(t, s.svc, keyAlice, 0)
	submit(t, s.svc, a1.ID, "yes")
	submit(t, s.svc, b1.ID, "bob's answer")
	if _, err := s.svc.Cancel(context.Background(), owner(keyAlice), a2.ID); err != nil {
		t.Fatal(err)
	}

	followsToTheEnd(t, alice, map[string]*sessions.Session{a1.ID: a1, a2.ID: a2}, map[string]string{a1.ID: "completed", a2.ID: "cancelled"})
	alice.quiet(300 * time.Millisecond)
	followsToTheEnd(t, bob, map[string]*sessions.Session{b1.ID: b1}, map[string]string{b1.ID: "completed"})
	bob.quiet(300 * time.Millisecond)

	// Another principal's session is not found, before any upgrade.
	if status, code := refused(t, s.wsURL("/ws/"+a1.ID, apiKey(keyBob)), nil); status != http.StatusNotFound || code != "SESSION_NOT_FOUND" {
		t.Fatalf("bob on alice's session: %d %s", status, code)
	}
}

// followsToTheEnd reads c until it has heard the final state of every
// session in created, and checks what the feed contract promises: only
// these sessions; per session at most one session_created, before the
// final session_status_changed (to final[id], carrying the session's
// message and times), then feedback_submitted (with a preview) for an
// answered one; revisions never going back.
func followsToTheEnd(t *testing.T, c *client, created map[string]*sessions.Session, final map[string]string) {
	t.Helper()
	heard := map[string][]msg{}
	done := map[string]bool{}
	var last uint64
	for len(done) < len(final) {
		m := c.next()
		id := m.str("sessionId")
		want, ok := final[id]
		if !ok {
			t.Fatalf("heard %s %v about a session that is not the caller's", m.Type, m.Data)
		}
		if done[id] {
			t.Fatalf("heard %s %v after the final state", m.Type, m.Data)
		}
		if m.rev() < last {
			t.Fatalf("revisions out of order: %d after %d", m.rev(), last)
		}
		last = m.rev()
		heard[id] = append(heard[id], m)
		switch m.Type {
		case notifier.TypeSessionCreated:
			if len(heard[id]) != 1 || m.str("status") != "pending" || m.str("message") != created[id].Message {
				t.Fatalf("session_created %v after %v", m.Data, heard[id][:len(heard[id])-1])
			}
		case notifier.TypeSessionStatusChanged:
			if m.str("newStatus") != want || m.str("oldStatus") != "pending" || m.str("message") != created[id].Message ||
				m.str("createdAt") == "" || m.str("expiresAt") == "" {
				t.Fatalf("session_status_changed %v, want the final %s with the session's data", m.Data, want)
			}
			if want != "completed" {
				done[id] = true
			}
		case notifier.TypeFeedbackSubmitted:
			if len(heard[id]) < 2 {
				t.Fatalf("feedback_submitted %v before any status change", m.Data)
			}
			prev := heard[id][len(heard[id])-2]
			if want != "completed" || prev.Type != notifier.TypeSessionStatusChanged || prev.rev() != m.rev() || m.str("preview") == "" {
				t.Fatalf("feedback_submitted %v after %v", m.Data, prev)
			}
			done[id] = true
		default:
			t.Fatalf("unexpected %s %v", m.Type, m.Data)
		}
	}
}

func TestTwoNotifierProcessesBothDeliver(t *testing.T) {
	t.Parallel()
	ns := newNATS(t)
	one := newStack(t, ns, notifier.Config{})
	two := newStack(t, ns, notifier.Config{})
	sess := create(t, one.svc, keyAlice, 0)
	c1 := dial(t, one.wsURL("/ws/"+sess.ID, apiKey(keyAlice)), nil)
	c2 := dial(t, two.wsURL("/ws/"+sess.ID, apiKey(keyAlice)), nil)
	all2 := dial(t, two.wsURL("/ws", apiKey(keyAlice)), nil)
	for _, c := range []*client{c1, c2, all2} {
		c.expect(notifier.TypeConnectionEstablished)
	}
	submit(t, two.svc, sess.ID, "from the other replica")
	for _, c := range []*client{c1, c2, all2} {
		c.expect(notifier.TypeSessionStatusChanged)
		c.expect(notifier.TypeFeedbackSubmitted)
	}
}

func TestReconnectWithRevisionMissesNothing(t *testing.T) {
	t.Parallel()
	s := newStack(t, newNATS(t), notifier.Config{})

	t.Run("one session", func(t *testing.T) {
		sess := create(t, s.svc, keyAlice, 0)
		c := dial(t, s.wsURL("/ws/"+sess.ID, apiKey(keyAlice)), nil)
		seen := c.expect(notifier.TypeConnectionEstablished).rev()
		c.close()

		done := submit(t, s.svc, sess.ID, "answered while you were away")

		c = dial(t, s.wsURL("/ws/"+sess.ID, apiKey(keyAlice), fmt.Sprintf("revision=%d", seen)), nil)
		hello := c.expect(notifier.TypeConnectionEstablished)
		if hello.str("status") != "completed" || hello.rev() != seen {
			t.Fatalf("connection_established = %v", hello.Data)
		}
		if m := c.expect(notifier.TypeSessionStatusChanged); m.str("newStatus") != "completed" || m.rev() != done.Revision {
			t.Fatalf("replayed %v", m.Data)
		}
		c.expect(notifier.TypeFeedbackSubmitted)
		c.quiet(300 * time.Millisecond)
		c.close()

		// Up to date: nothing to replay.
		c = dial(t, s.wsURL("/ws/"+sess.ID, apiKey(keyAlice), fmt.Sprintf("revision=%d", done.Revision)), nil)
		if hello := c.expect(notifier.TypeConnectionEstablished); hello.rev() != done.Revision {
			t.Fatalf("connection_established = %v", hello.Data)
		}
		c.quiet(300 * time.Millisecond)
	})

	t.Run("every session", func(t *testing.T) {
		c := dial(t, s.wsURL("/ws", apiKey(keyAlice)), nil)
		seen := c.expect(notifier.TypeConnectionEstablished).rev()
		c.close()

		answered := create(t, s.svc, keyAlice, 0)
		submit(t, s.svc, answered.ID, "yes")
		pending := create(t, s.svc, keyAlice, 0)
		create(t, s.svc, keyBob, 0)

		c = dial(t, s.wsURL("/ws", apiKey(keyAlice), fmt.Sprintf("revision=%d", seen)), nil)
		if hello := c.expect(notifier.TypeConnectionEstablished); hello.rev() != seen {
			t.Fatalf("connection_established = %v", hello.Data)
		}
		changed := c.expect(notifier.TypeSessionStatusChanged)
		c.expect(notifier.TypeFeedbackSubmitted)
		created := c.expect(notifier.TypeSessionCreated)
		if changed.str("sessionId") != answered.ID || created.str("sessionId") != pending.ID || created.rev() < changed.rev() {
			t.Fatalf("replay: %v then %v", changed.Data, created.Data)
		}
		// The client first hears of the answered session in its final
		// state, and still learns what it was about.
		if changed.str("message") != answered.Message || changed.str("createdAt") == "" || changed.str("expiresAt") == "" {
			t.Fatalf("replayed session_status_changed without the session's data: %v", changed.Data)
		}
		c.quiet(300 * time.Millisecond)

		// And it is live after the replay.
		submit(t, s.svc, pending.ID, "now")
		c.expect(notifier.TypeSessionStatusChanged)
		c.expect(notifier.TypeFeedbackSubmitted)
	})
}

// Connecting while the session is being answered must give either the
// answered status on connect or the transition after it: never both, never
// neither.
func TestConnectDuringSubmitHasNoGapAndNoDuplicate(t *testing.T) {
	t.Parallel()
	s := newStack(t, newNATS(t), notifier.Config{})
	for i := range 20 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			sess := create(t, s.svc, keyAlice, 0)
			t.Logf("session %s", sess.ID)
			var wg sync.WaitGroup
			defer wg.Wait()
			wg.Go(func() {
				// A few milliseconds either side of the dial: this sleep is
				// the race under test, not a wait for something to happen.
				time.Sleep(time.Duration(i%5) * time.Millisecond)
				text := "race"
				if _, err := s.svc.Submit(context.Background(), sess.ID, &sessions.SubmitRequest{FreeText: &text}); err != nil {
					t.Errorf("submit: %v", err)
				}
			})
			c := dial(t, s.wsURL("/ws/"+sess.ID, apiKey(keyAlice)), nil)
			hello := c.expect(notifier.TypeConnectionEstablished)
			switch hello.str("status") {
			case "completed":
			case "pending":
				c.expect(notifier.TypeSessionStatusChanged)
				c.expect(notifier.TypeFeedbackSubmitted)
			default:
				t.Errorf("status on connect %q", hello.str("status"))
			}
			c.quiet(500 * time.Millisecond)
		})
	}
}

func TestRefusedUpgradesAreHTTPErrors(t *testing.T) {
	t.Parallel()
	s := newStack(t, newNATS(t), notifier.Config{AllowedOrigins: []string{"https://app.example.com"}})
	sess := create(t, s.svc, keyAlice, 0)
	other := create(t, s.svc, keyAlice, 0)
	pageToken := s.tokens.Mint(sess.ID, time.Minute)

	cases := []struct {
		name   string
		url    string
		hdr    http.Header
		status int
		code   string
	}{
		{"no credentials", s.wsURL("/ws/" + sess.ID), nil, 401, "UNAUTHORIZED"},
		{"wrong api key", s.wsURL("/ws/"+sess.ID, apiKey("nope")), nil, 401, "UNAUTHORIZED"},
		{"wrong header key", s.wsURL("/ws"), http.Header{"X-Api-Key": {"nope"}}, 401, "UNAUTHORIZED"},
		{"unknown token", s.wsURL("/ws/"+sess.ID, "token=not-a-jwt"), nil, 401, "UNAUTHORIZED"},
		{"page token on /ws", s.wsURL("/ws", "token="+pageToken), nil, 401, "UNAUTHORIZED"},
		{"page token on another session", s.wsURL("/ws/"+other.ID, "token="+pageToken), nil, 404, "SESSION_NOT_FOUND"},
		{"another principal's session", s.wsURL("/ws/"+sess.ID, apiKey(keyBob)), nil, 404, "SESSION_NOT_FOUND"},
		{"unknown session", s.wsURL("/ws/"+sessions.NewID(), apiKey(keyAlice)), nil, 404, "SESSION_NOT_FOUND"},
		{"not a uuid", s.wsURL("/ws/not-a-uuid", apiKey(keyAlice)), nil, 400, "INVALID_REQUEST"},
		{"bad clientType", s.wsURL("/ws", apiKey(keyAlice), "clientType=robot"), nil, 400, "INVALID_REQUEST"},
		{"bad revision", s.wsURL("/ws", apiKey(keyAlice), "revision=-1"), nil, 400, "INVALID_REQUEST"},
		{"foreign origin", s.wsURL("/ws", apiKey(keyAlice)), http.Header{"Origin": {"https://evil.example"}}, 403, "FORBIDDEN_ORIGIN"},
		{"null origin", s.wsURL("/ws", apiKey(keyAlice)), http.Header{"Origin": {"null"}}, 403, "FORBIDDEN_ORIGIN"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, code := refused(t, tc.url, tc.hdr)
			if status != tc.status || code != tc.code {
				t.Fatalf("got %d %s, want %d %s", status, code, tc.status, tc.code)
			}
		})
	}

	t.Run("plain GET", func(t *testing.T) {
		resp, err := http.Get("http://" + s.addr + "/ws/" + sess.ID + "?apiKey=" + keyAlice)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUpgradeRequired {
			t.Fatalf("plain GET: %d", resp.StatusCode)
		}
	})

	accepted := []struct {
		name string
		url  string
		hdr  http.Header
	}{
		{"page token on its session", s.wsURL("/ws/"+sess.ID, "token="+pageToken, "clientType=web"), nil},
		{"page token as bearer", s.wsURL("/ws/" + sess.ID), http.Header{"Authorization": {"Bearer " + pageToken}}},
		{"api key header", s.wsURL("/ws/" + sess.ID), http.Header{"X-Api-Key": {keyAlice}}},
		{"api key authorization", s.wsURL("/ws"), http.Header{"Authorization": {"ApiKey " + keyAlice}}},
		{"same origin", s.wsURL("/ws", apiKey(keyAlice)), http.Header{"Origin": {"http://" + s.addr}}},
		{"allowed origin", s.wsURL("/ws", apiKey(keyAlice)), http.Header{"Origin": {"https://app.example.com"}}},
	}
	for _, tc := range accepted {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, tc.url, tc.hdr)
			c.expect(notifier.TypeConnectionEstablished)
		})
	}
}

func TestBadClientJSONGetsErrorAndTheConnectionStays(t *testing.T) {
	t.Parallel()
	s := newStack(t, newNATS(t), notifier.Config{})
	sess := create(t, s.svc, keyAlice, 0)
	c := dial(t, s.wsURL("/ws/"+sess.ID, apiKey(keyAlice)), nil)
	c.expect(notifier.TypeConnectionEstablished)

	for _, bad := range []string{"not json", `{"type":`, `[1,2]`, `{"type":7}`, `{}`} {
		c.sendText(bad)
		if m := c.expect(notifier.TypeError); m.str("code") != "MESSAGE_PARSE_ERROR" || m.str("message") == "" {
			t.Fatalf("%q: error = %v", bad, m.Data)
		}
	}
	c.sendText(`{"type":"subscribe"}`)
	if m := c.expect(notifier.TypeError); m.str("code") != "UNKNOWN_MESSAGE_TYPE" {
		t.Fatalf("unknown type: %v", m.Data)
	}
	c.sendText(`{"type":"ping"}`)
	if m := c.expect(notifier.TypePong); m.str("timestamp") == "" {
		t.Fatalf("pong = %v", m.Data)
	}
	submit(t, s.svc, sess.ID, "still here")
	c.expect(notifier.TypeSessionStatusChanged)
	c.expect(notifier.TypeFeedbackSubmitted)
}

func TestOversizedClientMessageClosesWith1009(t *testing.T) {
	t.Parallel()
	s := newStack(t, newNATS(t), notifier.Config{ReadLimit: 4096})
	c := dial(t, s.wsURL("/ws", apiKey(keyAlice)), nil)
	c.expect(notifier.TypeConnectionEstablished)
	c.sendText(`{"type":"ping","pad":"` + strings.Repeat("x", 5000) + `"}`)
	if code := c.closeCode(); code != fws.CloseMessageTooBig {
		t.Fatalf("close code %d, want 1009", code)
	}
}

// A client that never reads blocks its writer; a normal client on the same
// session keeps getting its messages meanwhile; the slow client is dropped
// once its queue fills.
func TestSlowClientIsDroppedWhileOthersStillReceive(t *testing.T) {
	s := newStack(t, newNATS(t), notifier.Config{QueueSize: 256, WriteWait: time.Minute},
		programtest.Listen(func(ln net.Listener) net.Listener { return smallSendBuffers{ln} }))
	sess := create(t, s.svc, keyAlice, 0)
	normal := dial(t, s.wsURL("/ws/"+sess.ID, apiKey(keyAlice)), nil)
	normal.expect(notifier.TypeConnectionEstablished)

	d := dialer()
	d.NetDialContext = (&net.Dialer{Control: smallReceiveBuffer}).DialContext
	slow, _, err := d.Dial(s.wsURL("/ws/"+sess.ID, apiKey(keyAlice)), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()

	// The slow client asks for pongs and never reads one: first at a pace
	// its writer could keep up with if the socket drained, then, once told
	// to, as fast as it can until the server cuts it off.
	pause, flood := make(chan struct{}), make(chan struct{})
	ended := make(chan error, 1)
	go func() {
		ping := []byte(`{"type":"ping"}`)
		paced := true
		for {
			if paced {
				select {
				case <-pause:
					<-flood
					paced = false
				case <-time.After(2 * time.Millisecond):
				}
			}
			_ = slow.SetWriteDeadline(time.Now().Add(wait))
			if err := slow.WriteMessage(fws.TextMessage, ping); err != nil {
				ended <- err
				return
			}
		}
	}()
	// The writer is blocked once the server stops getting pongs out.
	sent := s.n.Stats().Sent
	eventually(t, "the slow client's writer to block", func() bool {
		// A stall is no progress over a while: this sleep is that while.
		time.Sleep(150 * time.Millisecond)
		now := s.n.Stats().Sent
		stalled := now == sent && now > 10
		sent = now
		return stalled
	})
	close(pause)

	start := time.Now()
	submit(t, s.svc, sess.ID, "for the reader")
	normal.expect(notifier.TypeSessionStatusChanged)
	normal.expect(notifier.TypeFeedbackSubmitted)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the normal client waited %s behind the slow one", d)
	}
	if st := s.n.Stats(); st.Dropped != 0 || st.Connections != 2 {
		t.Fatalf("stats %+v before the slow client's queue filled", st)
	}

	dropsBefore, connsBefore := metricValue(t, "feedbackd_websocket_drops_total"), metricValue(t, "feedbackd_websocket_connections")
	close(flood)
	eventually(t, "the slow client to be dropped", func() bool { return s.n.Stats().Dropped == 1 })
	select {
	case <-ended:
	case <-time.After(wait):
		t.Fatal("the slow client's connection stayed open")
	}
	eventually(t, "one connection left", func() bool { return s.n.Stats().Connections == 1 })
	normal.sendText(`{"type":"ping"}`)
	normal.expect(notifier.TypePong)
	// /metrics tells operators the same.
	if d := metricValue(t, "feedbackd_websocket_drops_total") - dropsBefore; d != 1 {
		t.Errorf("drops_total moved by %v, want 1", d)
	}
	if d := metricValue(t, "feedbackd_websocket_connections") - connsBefore; d != -1 {
		t.Errorf("connections gauge moved by %v, want -1", d)
	}
}

// metricValue reads one unlabelled metric from the process's registry.
func metricValue(t *testing.T, name string) float64 {
	t.Helper()
	families, err := metrics.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name || len(f.GetMetric()) == 0 {
			continue
		}
		m := f.GetMetric()[0]
		if m.GetGauge() != nil {
			return m.GetGauge().GetValue()
		}
		return m.GetCounter().GetValue()
	}
	return 0
}

func TestShutdownTellsClientsToReconnect(t *testing.T) {
	t.Parallel()
	s := newStack(t, newNATS(t), notifier.Config{})
	sess := create(t, s.svc, keyAlice, 0)
	one := dial(t, s.wsURL("/ws/"+sess.ID, apiKey(keyAlice)), nil)
	all := dial(t, s.wsURL("/ws", apiKey(keyAlice)), nil)
	one.expect(notifier.TypeConnectionEstablished)
	all.expect(notifier.TypeConnectionEstablished)
	s.n.Close()
	for _, c := range []*client{one, all} {
		if code := c.closeCode(); code != notifier.CloseServiceRestart {
			t.Fatalf("close code %d, want 1012", code)
		}
	}
	if status, code := refused(t, s.wsURL("/ws", apiKey(keyAlice)), nil); status != http.StatusServiceUnavailable {
		t.Fatalf("after close: %d %s", status, code)
	}
}

func TestConnectionLimitsRefuseBeforeUpgrade(t *testing.T) {
	t.Parallel()
	s := newStack(t, newNATS(t), notifier.Config{MaxConnections: 2, MaxPerSession: 1})
	sess := create(t, s.svc, keyAlice, 0)
	first := dial(t, s.wsURL("/ws/"+sess.ID, apiKey(keyAlice)), nil)
	first.expect(notifier.TypeConnectionEstablished)
	if status, code := refused(t, s.wsURL("/ws/"+sess.ID, apiKey(keyAlice)), nil); status != http.StatusTooManyRequests || code != "RATE_LIMITED" {
		t.Fatalf("second on one session: %d %s", status, code)
	}
	second := dial(t, s.wsURL("/ws", apiKey(keyAlice)), nil)
	second.expect(notifier.TypeConnectionEstablished)
	if status, code := refused(t, s.wsURL("/ws", apiKey(keyAlice)), nil); status != http.StatusServiceUnavailable || code != "SERVICE_UNAVAILABLE" {
		t.Fatalf("over the process limit: %d %s", status, code)
	}
	first.close()
	eventually(t, "the slot to free", func() bool { return s.n.Stats().Connections == 1 })
	again := dial(t, s.wsURL("/ws/"+sess.ID, apiKey(keyAlice)), nil)
	again.expect(notifier.TypeConnectionEstablished)
}

func TestConnectionsLeaveNoGoroutinesBehind(t *testing.T) {
	s := newStack(t, newNATS(t), notifier.Config{PingInterval: 50 * time.Millisecond})
	subscribers := s.svc.Hub().Subscribers()
	sess := create(t, s.svc, keyAlice, 0)
	var clients []*client
	for range 10 {
		c := dial(t, s.wsURL("/ws/"+sess.ID, apiKey(keyAlice)), nil)
		c.expect(notifier.TypeConnectionEstablished)
		a := dial(t, s.wsURL("/ws", apiKey(keyAlice)), nil)
		a.expect(notifier.TypeConnectionEstablished)
		clients = append(clients, c, a)
	}
	if got := connGoroutines(); got < 20 {
		t.Fatalf("only %d connection goroutines for 20 connections", got)
	}
	// Let a few server pings (every 50 ms) be sent and answered: the sleep
	// is the behaviour under test, connections living a while.
	time.Sleep(200 * time.Millisecond)
	for _, c := range clients {
		c.close()
	}
	eventually(t, "every connection to end", func() bool { return s.n.Stats().Connections == 0 })
	eventually(t, "connection goroutines to exit", func() bool { return connGoroutines() == 0 })
	if got := s.svc.Hub().Subscribers(); got != subscribers {
		t.Fatalf("hub subscribers %d, want %d: the notifier subscribes once, not per connection", got, subscribers)
	}
}

func TestAnIdleConnectionHoldsOnlyItsReader(t *testing.T) {
	s := newStack(t, newNATS(t), notifier.Config{})
	var sess []*sessions.Session
	var clients []*client
	for range 10 {
		ss := create(t, s.svc, keyAlice, 0)
		c := dial(t, s.wsURL("/ws/"+ss.ID, apiKey(keyAlice)), nil)
		c.expect(notifier.TypeConnectionEstablished)
		sess, clients = append(sess, ss), append(clients, c)
	}
	// Idle: one goroutine each (the reader), no writer waiting for work.
	eventually(t, "10 idle connections to hold 10 goroutines", func() bool { return connGoroutines() == 10 })
	for i, ss := range sess {
		submit(t, s.svc, ss.ID, "yes")
		clients[i].expect(notifier.TypeSessionStatusChanged)
		clients[i].expect(notifier.TypeFeedbackSubmitted)
	}
	// The writers that sent the news are gone again.
	eventually(t, "the writers to exit once their queues are empty", func() bool { return connGoroutines() == 10 })
	for _, c := range clients {
		c.close()
	}
	eventually(t, "connection goroutines to exit", func() bool { return connGoroutines() == 0 })
}

func TestHealth(t *testing.T) {
	t.Parallel()
	s := newStack(t, newNATS(t), notifier.Config{})
	resp, err := http.Get("http://" + s.addr + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/health: %d", resp.StatusCode)
	}
}

// The notifier run on its own answers the probes and the scrape its
// Deployment points at: the one operations API every role mounts.
func TestOwnAppServesHealthReadyAndMetrics(t *testing.T) {
	t.Parallel()
	s := newStack(t, newNATS(t), notifier.Config{})
	for path, want := range map[string]string{"/health": `"service":"feedbackd-notifier"`, "/ready": `"status":"ready"`, "/metrics": "feedbackd_websocket_connections"} {
		res, err := http.Get("http://" + s.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Fatalf("GET %s: %d %.300s", path, res.StatusCode, body)
		}
	}
	res, err := http.Post("http://"+s.addr+"/health", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /health: %d", res.StatusCode)
	}
}

// A 405 says in words what its Allow header says (issue 12: the message
// said "allowed: GET" beside "Allow: GET, HEAD"), on every route of the
// notifier's own app.
func TestMethodNotAllowedSaysWhatAllowSays(t *testing.T) {
	t.Parallel()
	s := newStack(t, newNATS(t), notifier.Config{})
	for _, path := range []string{"/ws", "/ws/" + sessions.NewID(), "/health", "/ready", "/metrics"} {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodOptions} {
			req, _ := http.NewRequest(method, "http://"+s.addr+path, nil)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			allow := res.Header.Get("Allow")
			if res.StatusCode != http.StatusMethodNotAllowed || allow != "GET, HEAD" ||
				!strings.Contains(string(body), `"METHOD_NOT_ALLOWED"`) || !strings.Contains(string(body), "allowed: "+allow+`"`) {
				t.Fatalf("%s %s: %d Allow %q %s", method, path, res.StatusCode, allow, body)
			}
		}
	}
}
