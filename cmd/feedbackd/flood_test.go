package main

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"

	"github.com/feedbackd/feedbackd/pkg/poll"
)

// fileLimit is the open file limit the flood test runs feedbackd under:
// small, so that a few hundred connections would exhaust it.
const fileLimit = 256

// recovery is how soon after a flood stops feedbackd must answer again.
const recovery = 5 * time.Second

// Running out of file descriptors must not stop the server. Under a limit
// of 256 open files, feedbackd serve is flooded three ways past the limit —
// connections that never finish their headers, long polls abandoned once
// the server holds them, WebSockets — and after each flood /health and a
// create answer again within seconds; the process never exits. WebSockets
// over the budget are refused by the notifier with its 503, not cut off.
func TestServeOutlastsFloodsPastItsFileLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("floods a real process")
	}
	p := start(t, fileLimit, "METRICS_ADDR=127.0.0.1:0", "MAX_WAITS_PER_PRINCIPAL=100000")
	dialer := &net.Dialer{Timeout: 2 * time.Second}
	addr := strings.TrimPrefix(p.url, "http://")
	flood := func(n int, first string) []net.Conn {
		var conns []net.Conn
		for range n {
			c, err := dialer.Dial("tcp", addr)
			if err != nil {
				continue // the backlog is full: the flood is past the limit anyway
			}
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = c.Write([]byte(first))
			conns = append(conns, c)
		}
		return conns
	}
	stopFlood := func(conns []net.Conn) {
		for _, c := range conns {
			_ = c.Close()
		}
	}
	recovered := func(what string) {
		t.Helper()
		start := time.Now()
		poll.Until(t, recovery, func() error { return serves(p.url) })
		t.Logf("%s: serving again %s after the flood stopped", what, time.Since(start).Round(time.Millisecond))
		if !p.running() {
			t.Fatalf("feedbackd exited: %v", p.err)
		}
	}

	// 1. Connections that never finish their headers, no credential needed.
	conns := flood(3*fileLimit, "GET /health HTTP/1.1\r\nHost: x\r\n")
	if !p.running() {
		t.Fatalf("feedbackd exited under the flood: %v", p.err)
	}
	refused := gauge(p.ops, `feedbackd_listener_refused_total{listener="edge"}`)
	t.Logf("headers flood: %d connections open, %v refused with 503 over MAX_CONNS %v", len(conns), refused,
		gauge(p.ops, `feedbackd_listener_max_connections{listener="edge"}`))
	stopFlood(conns)
	recovered("headers flood")

	// 2. Long polls, abandoned once the server holds them: the waits in
	// flight have risen and then not changed for a while (no more of the
	// flood is being taken in).
	id, err := create(p.url)
	if err != nil {
		t.Fatal(err)
	}
	conns = flood(2*fileLimit, fmt.Sprintf("GET /api/feedback/%s/result?wait=60 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: %s\r\n\r\n", id, testKey))
	var waiting float64
	changed := time.Now()
	poll.Until(t, 10*time.Second, func() error {
		if now := gauge(p.ops, "feedbackd_sessions_waits_in_flight"); now != waiting {
			waiting, changed = now, time.Now()
		}
		if waiting <= 0 || time.Since(changed) < 200*time.Millisecond {
			return fmt.Errorf("%v long polls waiting, changed %s ago", waiting, time.Since(changed).Round(time.Millisecond))
		}
		return nil
	})
	stopFlood(conns)
	t.Logf("long-poll flood: %d connections, %v waiting when abandoned", len(conns), waiting)
	recovered("long-poll flood")

	// 3. WebSockets, one after another, until well past the limit. Each
	// one over the budget must be refused with an HTTP answer.
	ws := &fws.Dialer{HandshakeTimeout: 2 * time.Second}
	var sockets []*fws.Conn
	var notifierRefusals, otherRefusals int
	for i := range 2 * fileLimit {
		c, res, err := ws.Dial("ws"+strings.TrimPrefix(p.url, "http")+"/ws?apiKey="+testKey, nil)
		if err == nil {
			sockets = append(sockets, c)
			continue
		}
		if res == nil {
			t.Errorf("WebSocket %d was cut off without an answer (%v) after %d opened", i, err, len(sockets))
			break
		}
		body := make([]byte, 512)
		n, _ := res.Body.Read(body)
		res.Body.Close()
		switch {
		case res.StatusCode == http.StatusServiceUnavailable && strings.Contains(string(body[:n]), "not taking more connections"):
			notifierRefusals++
		default:
			otherRefusals++
		}
	}
	t.Logf("WebSocket flood: %d open, %d refused by the notifier, %d refused otherwise", len(sockets), notifierRefusals, otherRefusals)
	if notifierRefusals == 0 || otherRefusals != 0 {
		t.Errorf("WebSockets over the budget: %d refused by the notifier (503), %d otherwise; want all by the notifier", notifierRefusals, otherRefusals)
	}
	for _, c := range sockets {
		_ = c.Close()
	}
	recovered("WebSocket flood")

	if took := p.stop(t); took > 5*time.Second {
		t.Errorf("SIGTERM after the floods took %s", took)
	}
}
