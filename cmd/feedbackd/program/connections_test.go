package program_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/edge"
)

// dialRaw opens a TCP connection to base (http://host:port) that the test
// closes at its end.
func dialRaw(t *testing.T, base string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// A connection that opens and sends nothing is closed without a word when
// its time to speak runs out: fasthttp's "408 Request Timeout" (which the
// edge wrapped as a 400) must not reach a client, which could read it as
// the answer to the request it was about to send.
func TestASilentConnectionIsClosedQuietly(t *testing.T) {
	t.Parallel()
	m := programtest.MustRunMain(t, programtest.Edge(func(c *edge.Config) { c.ReadTimeout = 500 * time.Millisecond }))
	silent := dialRaw(t, m.URL())
	start := time.Now()
	_ = silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(silent)
	if len(got) != 0 || err != nil {
		t.Fatalf("a silent connection got %q (%v), want a plain close", got, err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("closed after %s", took)
	}

	// A client that speaks in time is served.
	talking := dialRaw(t, m.URL())
	_, _ = io.WriteString(talking, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(talking), nil)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /health: %v %v", res, err)
	}
}

// metric reads one sample of the Prometheus text at url: the line that
// starts with series.
func metric(t *testing.T, url, series string) string {
	t.Helper()
	_, body := get(t, url)
	for line := range strings.Lines(body) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), series+" "); ok {
			return v
		}
	}
	return ""
}

// Over MAX_CONNS a connection gets a small 503 with Retry-After and is
// closed at once, whatever it asked; /metrics counts the open and refused
// connections; a place that frees up serves the next client. (Not
// parallel: /metrics adds up every program in the process.)
func TestConnectionsOverMaxConnsAreRefusedWith503(t *testing.T) {
	m := programtest.MustRunMain(t, programtest.Env("MAX_CONNS", "3"), programtest.Env("METRICS_ADDR", "127.0.0.1:0"))
	var held []net.Conn
	for range 3 {
		c := dialRaw(t, m.URL())
		// Each one is served once, so each is surely counted.
		_, _ = io.WriteString(c, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(c)
		if res, err := http.ReadResponse(br, nil); err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("connection %d: %v %v", len(held), res, err)
		}
		held = append(held, c)
	}
	if got := metric(t, m.OpsURL()+"/metrics", `feedbackd_listener_connections{listener="edge"}`); got != "3" {
		t.Fatalf("feedbackd_listener_connections %q, want 3", got)
	}

	over := dialRaw(t, m.URL())
	_, _ = io.WriteString(over, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
	_ = over.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(over), nil)
	if err != nil {
		t.Fatalf("a connection over the cap: %v", err)
	}
	var env struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.NewDecoder(res.Body).Decode(&env)
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") != "1" || !res.Close || env.Error.Code != "SERVICE_UNAVAILABLE" {
		t.Fatalf("over the cap: %d, Retry-After %q, close %v, code %q", res.StatusCode, res.Header.Get("Retry-After"), res.Close, env.Error.Code)
	}
	if got := metric(t, m.OpsURL()+"/metrics", `feedbackd_listener_refused_total{listener="edge"}`); got != "1" {
		t.Fatalf("feedbackd_listener_refused_total %q, want 1", got)
	}

	_ = held[0].Close()
	programtest.WaitFor(t, 5*time.Second, want(m.URL()+"/health", http.StatusOK, `"status":"ok"`))
}

// NOTIFIER_MAX_CONNECTIONS follows MAX_CONNS (90% of it) unless set, so a
// WebSocket over the budget is refused by the notifier with its documented
// 503, not cut off by the listener.
func TestTheNotifiersCapFollowsMaxConnsAndRefusesFirst(t *testing.T) {
	t.Parallel()
	m := programtest.MustRunMain(t, programtest.Env("MAX_CONNS", "10"))
	if got := m.Config.Notifier.MaxConnections; got != 9 {
		t.Fatalf("NOTIFIER_MAX_CONNECTIONS %d, want 9", got)
	}
	ws := "ws" + strings.TrimPrefix(m.URL(), "http") + "/ws?apiKey=" + programtest.KeyA
	for i := range 9 {
		c, _, err := fws.DefaultDialer.Dial(ws, nil)
		if err != nil {
			t.Fatalf("WebSocket %d: %v", i, err)
		}
		t.Cleanup(func() { _ = c.Close() })
	}
	// A socket counts once its handler has taken it, just after the 101.
	programtest.WaitFor(t, 5*time.Second, programtest.Until("the nine sockets to count", func() bool {
		return m.Notifier().Stats().Connections == 9
	}))
	_, res, err := fws.DefaultDialer.Dial(ws, nil)
	if err == nil || res == nil {
		t.Fatalf("the tenth WebSocket: %v, %v; want the notifier's 503", res, err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "not taking more connections") {
		t.Fatalf("the tenth WebSocket: %d %s", res.StatusCode, body)
	}
	if got := fmt.Sprint(m.Config.MaxConns); got != "10" {
		t.Fatalf("MAX_CONNS %s", got)
	}
}

// DEBUG_PPROF serves the runtime's profiles on METRICS_ADDR, and never on
// the public listener.
func TestProfilesAreServedOnTheOperationsAddressOnly(t *testing.T) {
	t.Parallel()
	m := programtest.MustRunMain(t, programtest.Env("METRICS_ADDR", "127.0.0.1:0"), programtest.Env("DEBUG_PPROF", "true"))
	programtest.WaitFor(t, 10*time.Second, want(m.OpsURL()+"/debug/pprof/cmdline", http.StatusOK))
	programtest.WaitFor(t, 10*time.Second, want(m.OpsURL()+"/debug/pprof/heap?debug=1", http.StatusOK, "heap profile"))
	programtest.WaitFor(t, 10*time.Second, want(m.URL()+"/ready", http.StatusOK))
	if status, _ := get(t, m.URL()+"/debug/pprof/cmdline"); status != http.StatusNotFound {
		t.Fatalf("the public listener answers /debug/pprof/cmdline with %d", status)
	}
	// Without DEBUG_PPROF, the operations address has no profiles either.
	plain := programtest.MustRunMain(t, programtest.Env("METRICS_ADDR", "127.0.0.1:0"))
	programtest.WaitFor(t, 10*time.Second, want(plain.OpsURL()+"/debug/pprof/cmdline", http.StatusNotFound))
}
