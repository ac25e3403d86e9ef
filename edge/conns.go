package edge

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// connTracker knows the connections the HTTP server is serving, so that a
// shutdown whose grace period runs out can close what is still open (as
// net/http's Server.Close does after Shutdown), instead of leaving the
// process waiting on a client. Only a connection's start and end take its
// lock: the states a request moves it through cost nothing.
type connTracker struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func newConnTracker() *connTracker {
	return &connTracker{conns: make(map[net.Conn]struct{})}
}

// track is the server's ConnState hook. A hijacked connection (a
// WebSocket) leaves the HTTP server's hands: its owner closes it.
func (t *connTracker) track(c net.Conn, st fasthttp.ConnState) {
	switch st {
	case fasthttp.StateNew:
		t.mu.Lock()
		t.conns[c] = struct{}{}
		t.mu.Unlock()
	case fasthttp.StateClosed, fasthttp.StateHijacked:
		t.mu.Lock()
		delete(t.conns, c)
		t.mu.Unlock()
	}
}

// closeAll closes every connection still tracked and returns how many.
func (t *connTracker) closeAll() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	for c := range t.conns {
		_ = c.Close()
	}
	return len(t.conns)
}

// forceClose ends a shutdown whose grace period ran out: it closes what is
// still open and waits a moment for the server's workers to notice.
func (s *Server) forceClose() error {
	n := s.conns.closeAll()
	s.log.Warn("HTTP shutdown: connections still open when the grace period ended; closed them", "connections", n)
	srv := s.app.Server()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(2 * time.Second); srv.GetOpenConnectionsCount() > 0; {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d connections did not close", srv.GetOpenConnectionsCount())
		}
		<-tick.C
	}
	return nil
}
