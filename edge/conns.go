package edge

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// connTracker knows the connections the HTTP server is serving and in what
// state, so that a shutdown whose grace period runs out can say what was
// still open and close it (as net/http's Server.Close does after
// Shutdown), instead of leaving the process waiting on a client.
type connTracker struct {
	mu    sync.Mutex
	conns map[net.Conn]fasthttp.ConnState
}

func newConnTracker() *connTracker {
	return &connTracker{conns: make(map[net.Conn]fasthttp.ConnState)}
}

// track is the server's ConnState hook. A hijacked connection (a
// WebSocket) leaves the HTTP server's hands: its owner closes it.
func (t *connTracker) track(c net.Conn, st fasthttp.ConnState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch st {
	case fasthttp.StateClosed, fasthttp.StateHijacked:
		delete(t.conns, c)
	default:
		t.conns[c] = st
	}
}

// closeAll closes every connection still tracked and returns how many were
// in each state.
func (t *connTracker) closeAll() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	states := make(map[string]int)
	for c, st := range t.conns {
		states[st.String()]++
		_ = c.Close()
	}
	return states
}

// forceClose ends a shutdown whose grace period ran out: it closes what is
// still open and waits a moment for the server's workers to notice.
func (s *Server) forceClose() error {
	states := s.conns.closeAll()
	s.log.Warn("HTTP shutdown: connections still open when the grace period ended; closed them", "states", states)
	srv := s.app.Server()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(2 * time.Second); srv.GetOpenConnectionsCount() > 0; {
		if time.Now().After(deadline) {
			return errStuckConns(srv.GetOpenConnectionsCount())
		}
		<-tick.C
	}
	return nil
}

func errStuckConns(n int32) error {
	return fmt.Errorf("%d connections did not close", n)
}
