package requestid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
)

// Header is the HTTP header a request id travels in, both ways.
const Header = "X-Request-ID"

// MaxLen is the longest id accepted from a client.
const MaxLen = 128

// LogKey is the attribute name of the id in log records.
const LogKey = "request_id"

// Valid reports whether id is safe to accept from a client and to echo and
// log: 1 to MaxLen characters of A-Z, a-z, 0-9, '.', '_' and '-'. Anything
// else (spaces, quotes, control characters, very long values) could forge or
// bloat log lines, so it is replaced rather than cleaned.
func Valid(id string) bool {
	if len(id) == 0 || len(id) > MaxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// New returns a fresh random id: 32 lowercase hex characters.
func New() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}

// Accept returns offered when it is Valid, else a new id.
func Accept(offered string) string {
	if Valid(offered) {
		return offered
	}
	return New()
}

// ContextKey is the key under which NewContext stores the id. It is exported
// so that HTTP adapters whose request context looks values up in a
// per-request map (fasthttp's RequestCtx, and fiber's Locals over it) can
// store the id under the same key and have FromContext find it.
type ContextKey struct{}

// NewContext returns ctx carrying id.
func NewContext(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ContextKey{}, id)
}

// FromContext returns the id ctx carries, or "".
func FromContext(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	id, _ := ctx.Value(ContextKey{}).(string)
	return id
}

// NewHandler wraps h so that every record logged with a context that carries
// a request id gets it as the LogKey attribute. Wrapping twice is harmless:
// an already wrapped handler is returned as it is.
func NewHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(*handler); ok {
		return h
	}
	return &handler{next: h}
}

type handler struct{ next slog.Handler }

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	if id := FromContext(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String(LogKey, id))
	}
	return h.next.Handle(ctx, r)
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &handler{next: h.next.WithAttrs(as)}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{next: h.next.WithGroup(name)}
}
