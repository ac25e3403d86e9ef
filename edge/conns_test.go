package edge_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
)

// A client that never finishes its request must not hold a shutdown past
// its grace period: what is still open then is closed, and Shutdown
// returns.
func TestShutdownClosesWhatOutlivesItsGracePeriod(t *testing.T) {
	t.Parallel()
	e, _ := newREST(t, programtest.Env("SHUTDOWN_GRACE", "300ms"))
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A first request answered: the server has accepted and is serving this
	// connection (a connection still in the accept queue at shutdown is the
	// kernel's to reset, not this test's subject).
	if _, err := io.WriteString(conn, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// A body promised and never sent: the request is neither idle nor done.
	if _, err := io.WriteString(conn, "POST /api/feedback/create HTTP/1.1\r\nHost: 127.0.0.1\r\n"+
		"X-API-Key: "+keyA+"\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n{\"message\":"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := e.m.Close(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("shutdown took %s", took)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = conn.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); err == nil || ok && ne.Timeout() {
		t.Errorf("the unfinished request's connection is still open (read: %v)", err)
	}
}
