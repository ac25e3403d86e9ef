package edge_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
)

// longPoll sends GET /api/feedback/{id}/result?wait=N on a connection of
// its own and returns the connection, unread, for the test to abandon or
// read.
func longPoll(t testing.TB, base, key, id string, wait int) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	fmt.Fprintf(conn, "GET /api/feedback/%s/result?wait=%d HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: %s\r\n\r\n", id, wait, key)
	return conn
}

// readResponse reads the answer to a long poll.
func readResponse(t testing.TB, conn net.Conn, within time.Duration) *http.Response {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(within))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to the long poll within %s: %v", within, err)
	}
	return res
}

// Clients that leave their long polls (as 3,000 did in the attack, after
// half a second) give back every socket and goroutine soon after, not when
// their waits would have run out.
func TestAbandonedLongPollsEndSoonAfterTheirClientsLeave(t *testing.T) {
	e, _ := newREST(t, programtest.Env("MAX_WAITS_PER_PRINCIPAL", "1000"))
	id := e.create(t, keyA, map[string]any{"message": "Anyone there?"})
	// The first scrape starts what a scrape starts once.
	gauge := sample(scrape(t, e.URL), "feedbackd_sessions_waits_in_flight", nil)
	http.DefaultClient.CloseIdleConnections()
	before := goleak.IgnoreCurrent()
	const polls = 200
	conns := make([]net.Conn, polls)
	for i := range conns {
		conns[i] = longPoll(t, e.URL, keyA, id, 60)
	}
	programtest.WaitFor(t, 20*time.Second, programtest.Until("every poll to wait", func() bool {
		return e.hub().Subscribers() == polls
	}))
	for _, c := range conns {
		_ = c.Close()
	}
	left := time.Now()
	programtest.WaitFor(t, 3*time.Second, func() error {
		if n := e.hub().Subscribers(); n != 0 {
			return fmt.Errorf("%d polls still wait", n)
		}
		if got := sample(scrape(t, e.URL), "feedbackd_sessions_waits_in_flight", nil); got != gauge {
			return fmt.Errorf("feedbackd_sessions_waits_in_flight %v, want %v", got, gauge)
		}
		return nil
	})
	t.Logf("%d abandoned long polls ended %s after their clients left", polls, time.Since(left).Round(time.Millisecond))
	http.DefaultClient.CloseIdleConnections()
	programtest.WaitFor(t, 3*time.Second, func() error {
		return goleak.Find(before,
			// A served connection's worker stays parked for reuse.
			goleak.IgnoreTopFunction("github.com/valyala/fasthttp.(*workerPool).workerFunc"),
			goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"))
	})
}

// One principal may have MAX_WAITS_PER_PRINCIPAL long polls in flight on an
// edge; one more is 429 RATE_LIMITED with Retry-After, others are served,
// and a slot frees as soon as a waiter leaves.
func TestLongPollsOverThePrincipalsCapAre429(t *testing.T) {
	t.Parallel()
	e, _ := newREST(t, programtest.Env("MAX_WAITS_PER_PRINCIPAL", "2"))
	id := e.create(t, keyA, map[string]any{"message": "q"})
	first := longPoll(t, e.URL, keyA, id, 60)
	longPoll(t, e.URL, keyA, id, 60)
	waitingOn(t, e, 2)

	r := do(t, "GET", e.URL+"/api/feedback/"+id+"/result?wait=30", keyA, "", nil)
	if r.Status != http.StatusTooManyRequests || r.code() != "RATE_LIMITED" || r.Header.Get("Retry-After") != "1" ||
		!strings.Contains(r.Body.Error.Message, "at most 2") {
		t.Fatalf("a third wait: %d %s, Retry-After %q", r.Status, r.Raw, r.Header.Get("Retry-After"))
	}
	if r := do(t, "GET", e.URL+"/api/feedback/"+id+"/result", keyA, "", nil); r.code() != "NO_FEEDBACK_AVAILABLE" {
		t.Fatalf("a read that does not wait: %d %s", r.Status, r.Raw)
	}
	idB := e.create(t, keyB, map[string]any{"message": "q"})
	if r := do(t, "GET", e.URL+"/api/feedback/"+idB+"/result?wait=1", keyB, "", nil); r.code() != "NO_FEEDBACK_AVAILABLE" {
		t.Fatalf("another principal's wait: %d %s", r.Status, r.Raw)
	}

	_ = first.Close()
	waitingOn(t, e, 1)
	third := longPoll(t, e.URL, keyA, id, 60)
	waitingOn(t, e, 2)
	if r := e.submit(t, id, map[string]any{"freeText": "here"}); r.Status != http.StatusOK {
		t.Fatalf("submit: %d %s", r.Status, r.Raw)
	}
	if res := readResponse(t, third, 10*time.Second); res.StatusCode != http.StatusOK {
		t.Fatalf("the wait that took the freed slot: %d", res.StatusCode)
	}
}

// At shutdown a long poll is answered at once: 503 SERVICE_UNAVAILABLE with
// Retry-After, on a connection that closes (the session is still pending);
// one whose session was answered gets the answer. Shutdown is quick.
func TestLongPollsAreAnsweredAtShutdown(t *testing.T) {
	t.Parallel()
	e, _ := newREST(t)
	id := e.create(t, keyA, map[string]any{"message": "q"})
	polls := []net.Conn{longPoll(t, e.URL, keyA, id, 60), longPoll(t, e.URL, keyA, id, 60)}
	waitingOn(t, e, len(polls))
	start := time.Now()
	if err := e.m.Close(); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("shutdown with %d long polls took %s", len(polls), took.Round(time.Millisecond))
	if took > 2*time.Second {
		t.Errorf("shutdown took %s", took)
	}
	for _, c := range polls {
		res := readResponse(t, c, time.Second)
		var body strings.Builder
		_, _ = bufio.NewReader(res.Body).WriteTo(&body)
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") != "1" || !res.Close ||
			!strings.Contains(body.String(), `"code":"SERVICE_UNAVAILABLE"`) {
			t.Errorf("a long poll at shutdown: %d, Retry-After %q, close %v: %s", res.StatusCode, res.Header.Get("Retry-After"), res.Close, body.String())
		}
	}
}
