package notifier_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedbackd/feedbackd/notifier"
	"github.com/feedbackd/feedbackd/pkg/auth"
	"github.com/feedbackd/feedbackd/pkg/natsutil/natstest"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/natskv"
)

const (
	keyAlice = "alice-key-0123456789abcdef0123456789"
	keyBob   = "bob-key-0123456789abcdef0123456789ab"
)

func owner(key string) string { return "key:" + auth.Fingerprint(key) }

// wait bounds every expectation generously: these tests pin behaviour, not
// latency, and share two cores with the race detector.
const wait = 10 * time.Second

func testLog() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("NOTIFIER_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// pageTokens stands in for pkg/auth's page credential: token → session id.
type pageTokens map[string]string

func (p pageTokens) Verify(token string) (string, error) {
	if id, ok := p[token]; ok {
		return id, nil
	}
	return "", errors.New("not a page token")
}

// stack is one notifier process: its own NATS connection, store, change feed,
// service, notifier and HTTP listener.
type stack struct {
	svc   *sessions.Service
	n     *notifier.Notifier
	addr  string // host:port
	pages pageTokens
}

func (s *stack) wsURL(path string, query ...string) string {
	u := "ws://" + s.addr + path
	if len(query) > 0 {
		u += "?" + strings.Join(query, "&")
	}
	return u
}

func newStack(t *testing.T, ns *natstest.Server, cfg notifier.Config) *stack {
	t.Helper()
	return newStackOn(t, ns, cfg, nil)
}

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

func newStackOn(t *testing.T, ns *natstest.Server, cfg notifier.Config, wrap func(net.Listener) net.Listener) *stack {
	t.Helper()
	ctx := context.Background()
	_, js := ns.Connect(t)
	store, err := natskv.Open(ctx, js, natskv.Options{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	hub := sessions.NewHub()
	fctx, stopFeed := context.WithCancel(ctx)
	feedDone, err := natskv.NewFeed(store, hub, testLog()).Start(fctx)
	if err != nil {
		t.Fatal(err)
	}
	limits := sessions.DefaultLimits(300*time.Second, 3600*time.Second)
	limits.MinTimeout = time.Second
	svc := sessions.NewService(store, hub, sessions.WithLimits(limits))
	authn, err := auth.New(auth.Config{APIKeys: []string{keyAlice, keyBob}})
	if err != nil {
		t.Fatal(err)
	}
	pages := pageTokens{}
	n := notifier.New(cfg, svc, authn, testLog(), notifier.WithPageTokens(pages))
	n.RaiseWatermark(lastRevision(t, store))
	app := n.NewApp(notifier.AppConfig{Version: "test", Health: func(context.Context) error { return nil },
		Ops: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ops " + r.URL.Path)) })})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		ln = wrap(ln)
	}
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()
	t.Cleanup(func() {
		n.Close()
		if err := app.ShutdownWithTimeout(5 * time.Second); err != nil {
			t.Errorf("shut down app: %v", err)
		}
		<-served
		stopFeed()
		<-feedDone
	})
	return &stack{svc: svc, n: n, addr: ln.Addr().String(), pages: pages}
}

// lastRevision is the bucket's latest revision, as the role wiring seeds it.
func lastRevision(t *testing.T, store *natskv.Store) uint64 {
	t.Helper()
	st, err := store.KV().Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.(*jetstream.KeyValueBucketStatus).StreamInfo().State.LastSeq
}

func create(t *testing.T, svc *sessions.Service, key string, timeout int, opts ...string) *sessions.Session {
	t.Helper()
	req := &sessions.CreateRequest{Message: "Ship it?", PredefinedOptions: opts}
	if timeout > 0 {
		n := json.Number(strconv.Itoa(timeout))
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

// eventually polls cond until it holds or wait runs out.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
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
