package httpbridge

import (
	"bytes"
	"context"
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

// Bridge mounts net/http handlers on fiber. Every request it serves runs on a
// context derived from the bridge's own, which Close ends.
type Bridge struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// New returns a bridge; Close it when the app shuts down.
func New() *Bridge {
	ctx, cancel := context.WithCancel(context.Background())
	return &Bridge{ctx: ctx, cancel: cancel}
}

// Context is the context every request served through b derives from; it
// ends at Close. Work started for a request outside of it (a message
// relayed from another replica, say) can run on it too.
func (b *Bridge) Context() context.Context { return b.ctx }

// Close ends the context of every request served through b, now and later,
// so that long-lived handlers (streams, waits) return and the server can
// drain. It does not wait for them.
func (b *Bridge) Close() { b.cancel() }

// ContextFunc adds what a handler must know about its request to ctx, read
// from the fiber context (which is valid only during the call): the
// principal an authentication middleware found, say.
type ContextFunc func(c *fiber.Ctx, ctx context.Context) context.Context

// Handler returns a fiber handler that serves h. with, when not nil, adds
// values from the fiber context to the request's context.
func (b *Bridge) Handler(h http.Handler, with ContextFunc) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := b.ctx
		if id := requestid.FromContext(c.UserContext()); id != "" {
			ctx = requestid.NewContext(ctx, strings.Clone(id))
		}
		if with != nil {
			ctx = with(c, ctx)
		}
		fasthttpadaptor.NewFastHTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			r, err := detach(ctx, r)
			if err != nil {
				http.Error(w, "malformed request", http.StatusBadRequest)
				return
			}
			h.ServeHTTP(newWriter(w, cancel), r)
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
