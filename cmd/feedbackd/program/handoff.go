package program

import (
	"net"
	"sync"
)

// handoff is a listening socket whose connections go to one server after
// another: while NATS is not ready, a small server answers every request
// with 503; once it is, the role's real app takes over the same socket, so
// the address answers from the first moment and nothing is refused in
// between. One goroutine accepts; each stage takes connections through a
// net.Listener of its own (stage), whose Close ends that stage only.
//
// The socket is a listener.Listener (limits.go): it rides out errors that
// may pass (out of file descriptors) and refuses connections over MAX_CONNS
// itself, so an error from it means it was closed.
type handoff struct {
	ln    net.Listener
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
}

func newHandoff(ln net.Listener) *handoff {
	h := &handoff{ln: ln, conns: make(chan net.Conn), done: make(chan struct{})}
	h.wg.Go(h.accept)
	return h
}

func (h *handoff) accept() {
	for {
		c, err := h.ln.Accept()
		if err != nil {
			return
		}
		select {
		case h.conns <- c:
		case <-h.done:
			_ = c.Close()
			return
		}
	}
}

// stage returns a listener for the next server: it accepts until closed.
func (h *handoff) stage() net.Listener {
	return &stage{h: h, closed: make(chan struct{})}
}

// Addr is the socket's address.
func (h *handoff) Addr() net.Addr { return h.ln.Addr() }

// Close closes the socket and waits for the accept loop to end.
func (h *handoff) Close() error {
	var err error
	h.once.Do(func() {
		close(h.done)
		err = h.ln.Close()
		h.wg.Wait()
	})
	return err
}

// stage is one server's view of a handoff.
type stage struct {
	h      *handoff
	closed chan struct{}
	once   sync.Once
}

func (s *stage) Accept() (net.Conn, error) {
	select {
	case c := <-s.h.conns:
		return c, nil
	case <-s.closed:
		return nil, net.ErrClosed
	case <-s.h.done:
		return nil, net.ErrClosed
	}
}

func (s *stage) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

func (s *stage) Addr() net.Addr { return s.h.ln.Addr() }
