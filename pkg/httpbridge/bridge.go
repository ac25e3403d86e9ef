package httpbridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/feedbackd/feedbackd/pkg/requestid"
)

// Why a request's context, or a wait's, ended (context.Cause).
var (
	// ErrClientGone: the client closed or reset its connection.
	ErrClientGone = errors.New("the client has gone")
	// ErrShuttingDown: the server is shutting down (Drain, Close).
	ErrShuttingDown = errors.New("the server is shutting down")
)

// Bridge mounts net/http handlers on fiber. Every request it serves runs on a
// context derived from the bridge's own, which Close ends. It also tells
// long waits when to stop: when their client has left (Watch, and every
// bridged request), and when the server shuts down (Drain).
type Bridge struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	// draining ends at Drain (and at Close): waits end, requests go on to
	// answer.
	draining context.Context
	drain    context.CancelCauseFunc
	watcher  *watcher
	once     sync.Once
}

// New returns a bridge; Close it when the app shuts down.
func New() *Bridge {
	ctx, cancel := context.WithCancelCause(context.Background())
	draining, drain := context.WithCancelCause(ctx)
	return &Bridge{ctx: ctx, cancel: cancel, draining: draining, drain: drain, watcher: newWatcher(WatchInterval)}
}

// Context is the context every request served through b derives from; it
// ends at Close. Work started for a request outside of it (a message
// relayed from another replica, say) can run on it too.
func (b *Bridge) Context() context.Context { return b.ctx }

// Drain ends every wait (the contexts of WaitContext and Watch, with cause
// ErrShuttingDown), now and later, but not the requests: a handler whose
// wait ended still answers its client. Call it first at shutdown, then
// Close once the answers are written.
func (b *Bridge) Drain() { b.drain(ErrShuttingDown) }

// Draining is closed once Drain (or Close) has been called.
func (b *Bridge) Draining() <-chan struct{} { return b.draining.Done() }

// Close ends the context of every request served through b, now and later,
// so that long-lived handlers (streams, waits) return and the server can
// drain, and stops watching clients. It does not wait for the handlers.
func (b *Bridge) Close() {
	b.drain(ErrShuttingDown)
	b.cancel(ErrShuttingDown)
	b.once.Do(b.watcher.close)
}

// WaitContext returns a context for a wait done within a request on ctx: it
// ends with ctx, or at Drain with cause ErrShuttingDown, so that the waiter
// answers its client before the server goes. Call cancel when the wait is
// over.
func (b *Bridge) WaitContext(ctx context.Context) (context.Context, context.CancelFunc) {
	wctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(b.draining, func() { cancel(context.Cause(b.draining)) })
	return wctx, func() { stop(); cancel(context.Canceled) }
}

// Watch returns a context for a wait done by a fiber handler itself (a long
// poll): it ends with parent, when c's client leaves (cause ErrClientGone),
// or at Drain (cause ErrShuttingDown). Call cancel when the wait is over,
// before the handler returns.
func (b *Bridge) Watch(c *fiber.Ctx, parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := b.WaitContext(parent)
	wctx, cancelCause := context.WithCancelCause(ctx)
	unwatch := b.watcher.add(c.Context().Conn(), func() { cancelCause(ErrClientGone) })
	return wctx, func() { unwatch(); cancelCause(context.Canceled); cancel() }
}

// Watching is how many clients are being watched now; tests use it to see
// that waits clean up after themselves.
func (b *Bridge) Watching() int { return b.watcher.watching() }

// ContextFunc adds what a handler must know about its request to ctx, read
// from the fiber context (which is valid only during the call): the
// principal an authentication middleware found, say.
type ContextFunc func(c *fiber.Ctx, ctx context.Context) context.Context

// Handler returns a fiber handler that serves h. with, when not nil, adds
// values from the fiber context to the request's context. The request's
// context ends when the handler returns, when its client leaves (cause
// ErrClientGone: a write failed, or the socket says so), or at Close.
func (b *Bridge) Handler(h http.Handler, with ContextFunc) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := b.ctx
		if id := requestid.FromContext(c.UserContext()); id != "" {
			ctx = requestid.NewContext(ctx, strings.Clone(id))
		}
		if with != nil {
			ctx = with(c, ctx)
		}
		// The connection outlives fiber's context: a streamed response is
		// still being written on it after this handler returns.
		conn := c.Context().Conn()
		fasthttpadaptor.NewFastHTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithCancelCause(ctx)
			defer cancel(context.Canceled)
			defer b.watcher.add(conn, func() { cancel(ErrClientGone) })()
			r, err := detach(ctx, r)
			if err != nil {
				http.Error(w, "malformed request", http.StatusBadRequest)
				return
			}
			h.ServeHTTP(newWriter(w, func() { cancel(ErrClientGone) }), r)
		}))(c.Context())
		return nil
	}
}

// detach copies what a handler may read from r out of fasthttp's buffers
// and puts it on ctx.
func detach(ctx context.Context, r *http.Request) (*http.Request, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	h := make(http.Header, len(r.Header))
	for k, vs := range r.Header {
		k = strings.Clone(k)
		for _, v := range vs {
			h[k] = append(h[k], strings.Clone(v))
		}
	}
	uri := strings.Clone(r.RequestURI)
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return nil, fmt.Errorf("parse request URI: %w", err)
	}
	out := &http.Request{
		Method:        strings.Clone(r.Method),
		URL:           u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Host:          strings.Clone(r.Host),
		RemoteAddr:    strings.Clone(r.RemoteAddr),
		RequestURI:    uri,
	}
	return out.WithContext(ctx), nil
}

// writer is the http.ResponseWriter a bridged handler writes to: the first
// write that fails ends the request's context.
type writer struct {
	w      http.ResponseWriter
	flush  func()
	mu     sync.Mutex
	cancel context.CancelFunc
	failed bool
}

func newWriter(w http.ResponseWriter, cancel context.CancelFunc) *writer {
	bw := &writer{w: w, cancel: cancel, flush: func() {}}
	if f, ok := w.(http.Flusher); ok {
		bw.flush = f.Flush
	}
	return bw
}

// Header implements http.ResponseWriter.
func (bw *writer) Header() http.Header { return bw.w.Header() }

// WriteHeader implements http.ResponseWriter.
func (bw *writer) WriteHeader(code int) { bw.w.WriteHeader(code) }

// Write implements http.ResponseWriter. After a failed write every later one
// fails at once.
func (bw *writer) Write(p []byte) (int, error) {
	bw.mu.Lock()
	failed := bw.failed
	bw.mu.Unlock()
	if failed {
		return 0, context.Canceled
	}
	n, err := bw.w.Write(p)
	if err != nil {
		bw.mu.Lock()
		bw.failed = true
		bw.mu.Unlock()
		bw.cancel()
	}
	return n, err
}

// Flush implements http.Flusher: it starts (or continues) a streamed
// response.
func (bw *writer) Flush() { bw.flush() }
