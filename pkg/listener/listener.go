package listener

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Backoff bounds of Accept after an error, as net/http's.
const (
	minBackoff = 5 * time.Millisecond
	maxBackoff = time.Second
)

// logEvery spaces out the log lines of an accept error or of refusals that
// go on: the first is logged at once, then at most one line this often,
// saying how many there were.
const logEvery = 10 * time.Second

// Config says how a Listener treats its connections.
type Config struct {
	// Name labels the listener in its log lines ("edge", "ops", ...).
	Name string
	// MaxConns caps the connections open at once; 0 means no cap.
	MaxConns int
	// Refusal returns what a connection refused over MaxConns is sent
	// before it is closed; nil sends nothing. It must be small: it is
	// written once, without waiting.
	Refusal func() []byte
	// Log hears of accept errors and refusals; nil discards.
	Log *slog.Logger
}

// Stats are a Listener's counts, for metrics.
type Stats struct {
	// Open is how many accepted connections are open now; Max is
	// MaxConns (0: no cap).
	Open, Max int
	// Accepted and Refused count connections taken and refused over
	// MaxConns since the start; AcceptErrors counts failed accepts.
	Accepted, Refused, AcceptErrors uint64
}

// Listener is a net.Listener that stays up and caps its connections (see
// the package documentation). Accept may be called from one goroutine at a
// time, as servers do; Close and Stats from any.
type Listener struct {
	ln   net.Listener
	cfg  Config
	log  *slog.Logger
	done chan struct{}
	once sync.Once

	open     atomic.Int64
	accepted atomic.Uint64
	refused  atomic.Uint64
	errs     atomic.Uint64

	errLog, refuseLog rateLog
}

// New wraps ln.
func New(ln net.Listener, cfg Config) *Listener {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Listener{ln: ln, cfg: cfg, log: log.With("listener", cfg.Name), done: make(chan struct{})}
}

// Accept returns the next connection. Errors that may pass are retried with
// backoff and never returned; a connection over MaxConns is refused and
// never returned. It returns an error wrapping net.ErrClosed once the
// listener is closed, and nothing else.
func (l *Listener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if l.isClosed() || errors.Is(err, net.ErrClosed) {
				return nil, net.ErrClosed
			}
			l.errs.Add(1)
			delay = min(max(2*delay, minBackoff), maxBackoff)
			if n, ok := l.errLog.due(time.Now()); ok {
				l.log.Warn("accepting a connection failed; backing off and accepting again", "err", err, "retry_in", delay, "errors_since_last_log", n)
			}
			select {
			case <-time.After(delay):
			case <-l.done:
				return nil, net.ErrClosed
			}
			continue
		}
		delay = 0
		if !l.take() {
			l.refuse(c)
			continue
		}
		l.accepted.Add(1)
		return &conn{Conn: c, l: l}, nil
	}
}

// take claims a place for a new connection, if there is one.
func (l *Listener) take() bool {
	limit := int64(l.cfg.MaxConns)
	for {
		n := l.open.Load()
		if limit > 0 && n >= limit {
			return false
		}
		if l.open.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// refuse answers c with the canned refusal and closes it, without waiting
// on the client.
func (l *Listener) refuse(c net.Conn) {
	l.refused.Add(1)
	if n, ok := l.refuseLog.due(time.Now()); ok {
		l.log.Warn("connection limit reached: refusing new connections until some close", "max_conns", l.cfg.MaxConns, "refused_since_last_log", n)
	}
	if l.cfg.Refusal != nil {
		// A fresh socket's send buffer is empty: the write completes at
		// once; the deadline only guards against the impossible.
		_ = c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
		_, _ = c.Write(l.cfg.Refusal())
	}
	// What the client sent already is read away, so that closing sends a
	// FIN after the answer instead of a reset that may destroy it.
	discardReceived(c)
	_ = c.Close()
}

func (l *Listener) isClosed() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// Close closes the listening socket; connections already accepted stay
// open.
func (l *Listener) Close() error {
	err := net.ErrClosed
	l.once.Do(func() {
		close(l.done)
		err = l.ln.Close()
	})
	return err
}

// Addr is the listening socket's address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Stats returns the listener's counts.
func (l *Listener) Stats() Stats {
	return Stats{
		Open:         int(l.open.Load()),
		Max:          l.cfg.MaxConns,
		Accepted:     l.accepted.Load(),
		Refused:      l.refused.Load(),
		AcceptErrors: l.errs.Load(),
	}
}

// conn is an accepted connection: it gives its place back when closed, and
// closes itself when its first read times out before the client sent
// anything.
type conn struct {
	net.Conn
	l      *Listener
	once   sync.Once
	spoken atomic.Bool // the client has sent at least one byte
	linger atomic.Bool // see Linger
}

// Linger marks c, a connection this package accepted, to linger when it is
// closed: a server that refuses a request without reading its body (a 413
// decided from Content-Length) calls it, since the client is likely still
// sending, and closing then would send a reset that can destroy the answer.
// Other connections are left alone.
func Linger(c net.Conn) {
	if lc, ok := c.(*conn); ok {
		lc.linger.Store(true)
	}
}

// Read implements net.Conn.
func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		if !c.spoken.Load() {
			c.spoken.Store(true)
		}
	} else if err != nil && !c.spoken.Load() && errors.Is(err, os.ErrDeadlineExceeded) {
		// Nothing was asked: whatever the server answers to that timeout
		// must not reach the client, which could take it for the answer to
		// a request it is about to send.
		_ = c.Close()
	}
	return n, err
}

// Close implements net.Conn. A connection closed with bytes of its client
// still unread (a request body the server refused, say with 413, without
// reading it) lingers first: it sends its FIN and reads the rest away for a
// moment, as net/http does, because closing a socket with unread data sends
// a reset, and a reset can destroy the answer before the client reads it.
func (c *conn) Close() error {
	err := net.ErrClosed
	c.once.Do(func() {
		if c.linger.Load() || unread(c.Conn) {
			linger(c.Conn)
		}
		err = c.Conn.Close()
		c.l.open.Add(-1)
	})
	return err
}

// Lingering bounds: a client still sending after its answer gets this long
// and this many bytes before the connection closes anyway.
const (
	lingerTime  = 500 * time.Millisecond
	lingerBytes = 1 << 20
)

// linger half-closes c and reads away what its client still sends, within
// lingerTime and lingerBytes.
func linger(c net.Conn) {
	cw, ok := c.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	// The deadline alone does not bound this: a server goroutine still
	// reading c (a keep-alive connection closed as idle just as its next
	// request arrived) may set its own, longer one. The timer does.
	stop := time.AfterFunc(lingerTime, func() { _ = c.Close() })
	defer stop.Stop()
	_ = c.SetReadDeadline(time.Now().Add(lingerTime))
	_, _ = io.CopyN(io.Discard, c, lingerBytes)
}

// SyscallConn implements syscall.Conn with the accepted socket's, when it
// has one.
func (c *conn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	return sc.SyscallConn()
}

// Unwrap returns the accepted connection.
func (c *conn) Unwrap() net.Conn { return c.Conn }

// rateLog lets one log line through at once and then at most every
// logEvery, counting what it held back.
type rateLog struct {
	mu   sync.Mutex
	last time.Time
	held uint64
}

// due reports whether to log now, and how many events (this one included)
// the line stands for.
func (r *rateLog) due(now time.Time) (uint64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.held++
	if !r.last.IsZero() && now.Sub(r.last) < logEvery {
		return 0, false
	}
	n := r.held
	r.last, r.held = now, 0
	return n, true
}
