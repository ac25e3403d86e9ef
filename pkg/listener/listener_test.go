//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package listener_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/pkg/listener"
	"github.com/feedbackd/feedbackd/pkg/poll"
)

// failing is a net.Listener whose Accept fails with errs, one by one, and
// then hands out conn. It stands for a kernel out of descriptors, which a
// test cannot arrange without starving its own clients.
type failing struct {
	errs   []error
	conn   net.Conn
	closed chan struct{}
}

func (f *failing) Accept() (net.Conn, error) {
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		return nil, err
	}
	if f.conn != nil {
		c := f.conn
		f.conn = nil
		return c, nil
	}
	<-f.closed
	return nil, net.ErrClosed
}

func (f *failing) Close() error   { close(f.closed); return nil }
func (f *failing) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

func acceptErr(errno syscall.Errno) error {
	return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", errno)}
}

// Out of descriptors, buffers or memory, or a connection gone before it
// was taken: Accept backs off and accepts again, and hands out the next
// connection that comes; it never returns such an error (fasthttp would
// stop serving on it).
func TestAcceptOutlastsErrorsThatMayPass(t *testing.T) {
	errnos := []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EPROTO, syscall.EPERM}
	server, client := net.Pipe()
	defer client.Close()
	f := &failing{conn: server, closed: make(chan struct{})}
	for _, e := range errnos {
		f.errs = append(f.errs, acceptErr(e))
	}
	l := listener.New(f, listener.Config{Name: "test"})
	defer l.Close()
	start := time.Now()
	c, err := l.Accept()
	if err != nil {
		t.Fatalf("Accept returned %v; want the connection after the errors", err)
	}
	defer c.Close()
	// 5 + 10 + 20 + 40 + 80 + 160 + 320 ms of backoff.
	if took := time.Since(start); took < 635*time.Millisecond {
		t.Errorf("accepted after %s: the errors were not backed off from", took)
	}
	if st := l.Stats(); st.AcceptErrors != uint64(len(errnos)) || st.Accepted != 1 || st.Open != 1 {
		t.Errorf("stats %+v", st)
	}
}

// Only closing the listener ends Accept, even in the middle of a backoff.
func TestCloseEndsAccept(t *testing.T) {
	f := &failing{closed: make(chan struct{})}
	for range 20 {
		f.errs = append(f.errs, acceptErr(syscall.EMFILE))
	}
	l := listener.New(f, listener.Config{Name: "test"})
	got := make(chan error, 1)
	go func() { _, err := l.Accept(); got <- err }()
	poll.Until(t, 5*time.Second, poll.True("an accept error", func() bool { return l.Stats().AcceptErrors >= 3 }))
	_ = l.Close()
	select {
	case err := <-got:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept returned %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept outlived Close")
	}
}

// listen returns a Listener on 127.0.0.1 whose accepted connections are
// kept (and closed at the end) by a goroutine, and a channel of them.
func listen(t *testing.T, cfg listener.Config) (*listener.Listener, <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := listener.New(ln, cfg)
	conns := make(chan net.Conn, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
		close(conns)
		for c := range conns {
			_ = c.Close()
		}
	})
	return l, conns
}

func dial(t *testing.T, l net.Listener) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Over MaxConns a connection gets the canned answer and is closed at once;
// a place that frees up is taken by the next one.
func TestConnectionsOverTheCapAreRefused(t *testing.T) {
	refusal := []byte("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
	l, conns := listen(t, listener.Config{Name: "test", MaxConns: 2, Refusal: func() []byte { return refusal }})
	dial(t, l)
	dial(t, l)
	first, second := <-conns, <-conns

	over := dial(t, l)
	// The client sent a request; it is read away, so the answer arrives
	// whole and is followed by an orderly close.
	_, _ = over.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	_ = over.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(over)
	if !bytes.Equal(got, refusal) {
		t.Fatalf("refused connection read %q (%v), want the refusal then EOF", got, err)
	}
	if st := l.Stats(); st.Open != 2 || st.Refused != 1 || st.Max != 2 {
		t.Fatalf("stats %+v", st)
	}

	_ = first.Close()
	_ = first.Close() // closing twice gives back one place
	dial(t, l)
	select {
	case c := <-conns:
		defer c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("the freed place was not taken")
	}
	if st := l.Stats(); st.Open != 2 || st.Accepted != 3 {
		t.Fatalf("stats %+v", st)
	}
	_ = second.Close()
	poll.Until(t, time.Second, poll.True("one open", func() bool { return l.Stats().Open == 1 }))
}

// A client that connects and says nothing is closed when the server's
// first read times out: whatever the server then writes never reaches it.
// A client that has begun to speak is left to the server.
func TestASilentConnectionIsClosedQuietly(t *testing.T) {
	l, conns := listen(t, listener.Config{Name: "test"})
	silent := dial(t, l)
	c := <-conns
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := c.Read(make([]byte, 16)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read: %v, want a timeout", err)
	}
	if _, err := c.Write([]byte("HTTP/1.1 408 Request Timeout\r\n\r\n")); err == nil {
		t.Fatal("the server could still write to the silent client")
	}
	_ = silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, err := io.ReadAll(silent); len(got) != 0 || err != nil {
		t.Fatalf("the silent client read %q (%v), want a plain close", got, err)
	}
	poll.Until(t, time.Second, poll.True("no connection open", func() bool { return l.Stats().Open == 0 }))

	talking := dial(t, l)
	c = <-conns
	_, _ = talking.Write([]byte("GET"))
	if n, err := c.Read(make([]byte, 3)); n != 3 || err != nil {
		t.Fatalf("read %d, %v", n, err)
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := c.Read(make([]byte, 16)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read: %v, want a timeout", err)
	}
	if _, err := c.Write([]byte("HTTP/1.1 408 Request Timeout\r\n\r\n")); err != nil {
		t.Fatalf("a client that spoke was cut off: %v", err)
	}
	_ = c.Close()
}

// Accepted connections expose their socket, so a server can look at it.
func TestAcceptedConnectionsExposeTheirSocket(t *testing.T) {
	l, conns := listen(t, listener.Config{Name: "test"})
	dial(t, l)
	c := <-conns
	sc, ok := c.(syscall.Conn)
	if !ok {
		t.Fatalf("%T is not a syscall.Conn", c)
	}
	if _, err := sc.SyscallConn(); err != nil {
		t.Fatal(err)
	}
}

func TestMaxConnsFor(t *testing.T) {
	for _, tc := range []struct {
		limit uint64
		want  int
	}{
		{0, 10_000},
		{64, 32},
		{256, 103},
		{1024, 794},
		{20_000, 17_872},
		{1 << 20, 943_591},
	} {
		if got := listener.MaxConnsFor(tc.limit); got != tc.want {
			t.Errorf("MaxConnsFor(%d) = %d, want %d", tc.limit, got, tc.want)
		}
	}
}

func TestRaiseFileLimit(t *testing.T) {
	var before syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &before); err != nil {
		t.Skip("no RLIMIT_NOFILE here")
	}
	limit, err := listener.RaiseFileLimit()
	if err != nil {
		t.Fatal(err)
	}
	if limit != uint64(before.Max) {
		t.Fatalf("limit %d, want the hard limit %d", limit, before.Max)
	}
}

// A server that answers before reading what its client sent, and closes,
// must not reset the connection: the reset would destroy the answer in the
// client's receive queue. A connection closed with bytes unread lingers, and
// so does one marked with Linger while its client has yet to send the rest.
func TestClosingWithUnreadBytesStillDeliversTheAnswer(t *testing.T) {
	answer := []byte("HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
	body := bytes.Repeat([]byte("x"), 256<<10)
	for _, tc := range []struct {
		name string
		// early: the server answers and closes before the client sends
		// its body, so only the Linger mark can tell it to wait.
		early bool
	}{{"bytes already unread", false}, {"marked to linger", true}} {
		t.Run(tc.name, func(t *testing.T) {
			l, conns := listen(t, listener.Config{})
			c := dial(t, l)
			if !tc.early {
				if _, err := c.Write(body[:32<<10]); err != nil {
					t.Fatal(err)
				}
			}
			s := <-conns
			if !tc.early {
				// Wait until the client's bytes are in the server's
				// receive queue, unread.
				poll.Until(t, 5*time.Second, func() error {
					if !listener.Unread(s) {
						return errors.New("the client's bytes have not arrived")
					}
					return nil
				})
			}
			if _, err := s.Write(answer); err != nil {
				t.Fatal(err)
			}
			if tc.early {
				listener.Linger(s)
			}
			closed := make(chan error, 1)
			go func() { closed <- s.Close() }()
			if tc.early {
				// The rest of the body, sent after the answer: a
				// lingering server reads it away instead of resetting.
				if _, err := c.Write(body); err != nil {
					t.Fatalf("sending the body after the answer: %v", err)
				}
			}
			<-closed
			got, err := io.ReadAll(c)
			if err != nil || !bytes.Equal(got, answer) {
				t.Fatalf("client read %q, %v; want the answer and a clean end", got, err)
			}
		})
	}
}

// Close is how a server unblocks a goroutine reading an idle connection
// (fasthttp's shutdown does so): looking for unread bytes must not wait
// for that reader.
func TestCloseUnblocksAReaderAtOnce(t *testing.T) {
	l, conns := listen(t, listener.Config{})
	_ = dial(t, l)
	s := <-conns
	read := make(chan error, 1)
	go func() {
		_, err := s.Read(make([]byte, 1))
		read <- err
	}()
	poll.Until(t, 5*time.Second, poll.True("the reader to block", func() bool {
		select {
		case <-read:
			t.Fatal("Read returned before Close")
		default:
		}
		return true
	}))
	closed := make(chan struct{})
	go func() { _ = s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for the blocked reader")
	}
	<-read
}

// A lingering Close is bounded even when another goroutine keeps moving the
// connection's read deadline (fasthttp does, serving the next request of a
// keep-alive connection that its shutdown has just closed as idle): a
// deadline alone held Close, and the shutdown behind it, for that reader's
// 30 s.
func TestLingerIsBoundedWhileAnotherGoroutineMovesTheDeadline(t *testing.T) {
	l, conns := listen(t, listener.Config{})
	_ = dial(t, l) // the client keeps its end open and sends nothing
	s := <-conns
	stop := make(chan struct{})
	defer close(stop)
	moved := make(chan struct{})
	go func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for first := true; ; first = false {
			if s.SetReadDeadline(time.Now().Add(30*time.Second)) != nil {
				return // closed
			}
			if first {
				close(moved)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	<-moved
	listener.Linger(s)
	closed := make(chan struct{})
	go func() { _ = s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("a lingering Close waited for a deadline another goroutine set")
	}
}
