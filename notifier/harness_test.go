package notifier_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program"
	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/notifier"
	"github.com/feedbackd/feedbackd/pkg/auth"
	"github.com/feedbackd/feedbackd/sessions"
)

const (
	keyAlice = programtest.KeyA
	keyBob   = programtest.KeyB
)

func owner(key string) string { return "key:" + auth.Fingerprint(key) }

// wait bounds every expectation generously: these tests pin behaviour, not
// latency, and share two cores with the race detector.
const wait = 10 * time.Second

// stack is one notifier process, the real program's notifier role: its own
// NATS connection, change feed, service, notifier and HTTP listener.
type stack struct {
	m      *program.Main
	svc    *sessions.Service
	n      *notifier.Notifier
	addr   string // host:port
	tokens *auth.PageTokens
	clock  *clock
}

func (s *stack) wsURL(path string, query ...string) string {
	u := "ws://" + s.addr + path
	if len(query) > 0 {
		u += "?" + strings.Join(query, "&")
	}
	return u
}

// clock is a service clock a test can move forward, for expiries.
type clock struct {
	mu sync.Mutex
	d  time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.d)
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.d += d
	c.mu.Unlock()
}

// newStack runs a notifier against natsURL with cfg's limits.
func newStack(t *testing.T, natsURL string, cfg notifier.Config, opts ...programtest.Option) *stack {
	t.Helper()
	clk := &clock{}
	opts = append([]programtest.Option{
		programtest.Role("notifier"), programtest.NATS(natsURL), programtest.Env("NOTIFIER_ADDR", "127.0.0.1:0"),
		programtest.ShortTimeouts(), programtest.Sessions(sessions.WithClock(clk.now)),
		programtest.Notifier(func(c *notifier.Config) {
			// What the test sets wins; the rest comes from the environment.
			if cfg.AllowedOrigins != nil {
				c.AllowedOrigins = cfg.AllowedOrigins
			}
			for _, f := range []struct{ dst, src *int }{{&c.QueueSize, &cfg.QueueSize}, {&c.MaxConnections, &cfg.MaxConnections}, {&c.MaxPerSession, &cfg.MaxPerSession}, {&c.MaxPagePerSession, &cfg.MaxPagePerSession}} {
				if *f.src != 0 {
					*f.dst = *f.src
				}
			}
			if cfg.ReadLimit != 0 {
				c.ReadLimit = cfg.ReadLimit
			}
			if cfg.PingInterval != 0 {
				c.PingInterval = cfg.PingInterval
			}
			if cfg.WriteWait != 0 {
				c.WriteWait = cfg.WriteWait
			}
		}),
	}, opts...)
	m := programtest.MustRunMain(t, opts...)
	be := m.Backend()
	return &stack{m: m, svc: be.Service(), n: m.Notifier(), addr: strings.TrimPrefix(m.URL(), "http://"), tokens: be.PageTokens(), clock: clk}
}

// newNATS starts a NATS of the test's own.
func newNATS(t *testing.T) string { return programtest.StartNATS(t).URL }

// smallSendBuffers makes every accepted socket's send buffer tiny, so that a
// client that stops reading blocks the server's writes after a few KiB.
type smallSendBuffers struct{ net.Listener }

func (l smallSendBuffers) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return conn, err
}

func create(t *testing.T, svc *sessions.Service, key string, timeout int, opts ...string) *sessions.Session {
	t.Helper()
	req := &sessions.CreateRequest{Message: "Ship it?", PredefinedOptions: opts}
	if timeout > 0 {
		n := sessions.Number(strconv.Itoa(timeout))
		req.Timeout = &n
	}
	s, err := svc.Create(context.Background(), owner(key), req)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func submit(t *testing.T, svc *sessions.Service, id, text string) *sessions.Session {
	t.Helper()
	s, err := svc.Submit(context.Background(), id, &sessions.SubmitRequest{FreeText: &text})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// msg is a received message with its data left as a map for assertions.
type msg struct {
	Type      string         `json:"type"`
	Data      map[string]any `json:"data"`
	Timestamp string         `json:"timestamp"`
}

func (m msg) str(k string) string {
	s, _ := m.Data[k].(string)
	return s
}

func (m msg) rev() uint64 {
	f, _ := m.Data["revision"].(float64)
	return uint64(f)
}

// client is a real WebSocket client; a goroutine reads into msgs until the
// connection ends, then records why in err.
type client struct {
	t    *testing.T
	conn *fws.Conn
	msgs chan msg
	done chan struct{}
	err  error
	wmu  sync.Mutex
}

func dialer() *fws.Dialer {
	return &fws.Dialer{HandshakeTimeout: wait}
}

func dial(t *testing.T, u string, hdr http.Header) *client {
	t.Helper()
	conn, resp, err := dialer().Dial(u, hdr)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", redact(u), err, status)
	}
	return startClient(t, conn)
}

func startClient(t *testing.T, conn *fws.Conn) *client {
	c := &client{t: t, conn: conn, msgs: make(chan msg, 4096), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				c.err = err
				return
			}
			var m msg
			if err := json.Unmarshal(data, &m); err != nil {
				c.err = err
				return
			}
			c.msgs <- m
		}
	}()
	t.Cleanup(c.close)
	return c
}

func (c *client) close() {
	_ = c.conn.Close()
	<-c.done
}

func (c *client) sendText(s string) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.conn.WriteMessage(fws.TextMessage, []byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// next returns the next message, failing the test if none comes in time.
func (c *client) next() msg {
	c.t.Helper()
	select {
	case m := <-c.msgs:
		return m
	case <-c.done:
		select {
		case m := <-c.msgs:
			return m
		default:
		}
		c.t.Fatalf("connection ended while waiting for a message: %v", c.err)
	case <-time.After(wait):
		c.t.Fatal("no message in time")
	}
	return msg{}
}

// expect returns the next message and checks its type.
func (c *client) expect(typ string) msg {
	c.t.Helper()
	m := c.next()
	if m.Type != typ {
		c.t.Fatalf("got %s %v, want %s", m.Type, m.Data, typ)
	}
	if _, err := time.Parse(time.RFC3339, m.Timestamp); err != nil {
		c.t.Fatalf("%s timestamp %q: %v", m.Type, m.Timestamp, err)
	}
	return m
}

// quiet checks that nothing more arrives for a while.
func (c *client) quiet(d time.Duration) {
	c.t.Helper()
	select {
	case m := <-c.msgs:
		c.t.Fatalf("unexpected %s %v", m.Type, m.Data)
	case <-time.After(d):
	}
}

// closeCode waits for the connection to end and returns the close code the
// server sent (0 for none).
func (c *client) closeCode() int {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(wait):
		c.t.Fatal("connection did not end")
	}
	var ce *fws.CloseError
	if errors.As(c.err, &ce) {
		return ce.Code
	}
	return 0
}

// refused dials expecting the upgrade to be refused and returns the HTTP
// status and the error code of the envelope.
func refused(t *testing.T, u string, hdr http.Header) (int, string) {
	t.Helper()
	conn, resp, err := dialer().Dial(u, hdr)
	if err == nil {
		conn.Close()
		t.Fatalf("dial %s: upgrade succeeded, want it refused", redact(u))
	}
	if resp == nil {
		t.Fatalf("dial %s: %v without an HTTP response", redact(u), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var env struct {
		Success bool `json:"success"`
		Error   struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Success {
		t.Fatalf("dial %s: HTTP %d body %q is not an error envelope", redact(u), resp.StatusCode, body)
	}
	return resp.StatusCode, env.Error.Code
}

func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "?"
	}
	p.RawQuery = ""
	return p.String()
}

// eventually waits until cond holds, or fails the test after wait.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	programtest.WaitFor(t, wait, programtest.Until(what, cond))
}

// connGoroutines counts goroutines running a notifier connection: the
// hijacked reader, the writer, and catch-up helpers.
func connGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "feedbackd/notifier.(*client)") || strings.Contains(g, "feedbackd/notifier.(*Notifier).serveConn") {
			count++
		}
	}
	return count
}
