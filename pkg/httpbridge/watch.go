package httpbridge

import (
	"net"
	"sync"
	"syscall"
	"time"
)

// WatchInterval is how often the socket of a client that is being waited on
// is looked at: a client that has left is noticed this long after at most.
const WatchInterval = 250 * time.Millisecond

// clientState is what a look at a client's socket found.
type clientState int

const (
	clientThere   clientState = iota // nothing to read, or a request waiting
	clientGone                       // end of stream or an error: the client closed or reset
	clientUnknown                    // the socket cannot be looked at
)

// watcher looks at the sockets of clients being waited on, all of them
// from one goroutine that runs while there is something to watch, and
// calls a watch's gone once its client has left.
//
// fasthttp reads nothing from a connection while its handler runs, so a
// client that closes its end goes unnoticed until a write fails, and a
// wait may write nothing for an hour. A look is a recv with MSG_PEEK and
// MSG_DONTWAIT on the socket (peekClient): it consumes nothing, never
// blocks, and sees the FIN or RST of a departed client. A client that
// shuts down only its sending side looks gone too, as it does to net/http.
type watcher struct {
	interval time.Duration

	mu      sync.Mutex
	watches map[*watch]struct{}
	running bool
	closed  bool
	stop    chan struct{}
	wg      sync.WaitGroup
}

type watch struct {
	rc   syscall.RawConn
	gone func()
}

func newWatcher(interval time.Duration) *watcher {
	return &watcher{interval: interval, watches: make(map[*watch]struct{}), stop: make(chan struct{})}
}

// add watches conn's client until the returned func is called; gone is
// called (once, from the watcher's goroutine) if the client leaves before
// that. A connection whose socket cannot be looked at is not watched.
func (w *watcher) add(conn net.Conn, gone func()) (remove func()) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return func() {}
	}
	rc, err := sc.SyscallConn()
	if err != nil || peekClient(rc) == clientUnknown {
		return func() {}
	}
	wt := &watch{rc: rc, gone: gone}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return func() {}
	}
	w.watches[wt] = struct{}{}
	if !w.running {
		w.running = true
		w.wg.Go(w.run)
	}
	return func() {
		w.mu.Lock()
		delete(w.watches, wt)
		w.mu.Unlock()
	}
}

// run looks at every watched socket each interval, until nothing is
// watched or the watcher closes.
func (w *watcher) run() {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	var batch []*watch
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
		w.mu.Lock()
		if len(w.watches) == 0 {
			w.running = false
			w.mu.Unlock()
			return
		}
		batch = batch[:0]
		for wt := range w.watches {
			batch = append(batch, wt)
		}
		w.mu.Unlock()
		for _, wt := range batch {
			if peekClient(wt.rc) != clientGone {
				continue
			}
			w.mu.Lock()
			_, still := w.watches[wt]
			delete(w.watches, wt)
			w.mu.Unlock()
			if still {
				wt.gone()
			}
		}
	}
}

// close stops the goroutine and waits for it; nothing is watched after.
func (w *watcher) close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.stop)
	}
	w.mu.Unlock()
	w.wg.Wait()
}

// watching reports how many clients are watched, for tests.
func (w *watcher) watching() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.watches)
}
