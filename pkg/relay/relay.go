// Package relay carries requests between replicas to the one process that
// holds a connection, over NATS request/reply. An edge that holds an MCP SSE
// stream handles the stream's subject; an edge that receives a message for a
// stream it does not hold sends it there. No registry is kept: the
// subscription itself says who holds what, and it dies with its process.
//
// It knows nothing of MCP or HTTP; callers choose what the bytes mean.
package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go"
)

// ErrNoHolder means no replica handles the key: the connection is gone.
var ErrNoHolder = errors.New("relay: no replica holds that connection")

// Handler answers one relayed request.
type Handler func(ctx context.Context, req []byte) []byte

// NATS is a relay over a NATS connection.
type NATS struct {
	nc     *nats.Conn
	prefix string
	log    *slog.Logger
}

// NewNATS returns a relay whose subjects start with prefix (for example
// "feedbackd.relay.sse").
func NewNATS(nc *nats.Conn, prefix string, log *slog.Logger) *NATS {
	return &NATS{nc: nc, prefix: prefix, log: log}
}

// validKey accepts what is safe as one subject token.
func validKey(key string) bool {
	if key == "" || len(key) > 128 {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func (r *NATS) subject(key string) string { return r.prefix + "." + key }

// Handle serves requests for key until stop is called. Requests run one at a
// time per key, in arrival order, as messages of one stream must.
func (r *NATS) Handle(key string, h Handler) (stop func(), err error) {
	if !validKey(key) {
		return nil, fmt.Errorf("relay: key %q is not a subject token", key)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sub, err := r.nc.Subscribe(r.subject(key), func(m *nats.Msg) {
		if err := m.Respond(h(ctx, m.Data)); err != nil {
			r.log.Warn("relay: reply failed", "key", key, "err", err)
		}
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("relay: subscribe %s: %w", key, err)
	}
	// The holder must be reachable before the client learns the key, or a
	// first message sent through another replica finds no one.
	if err := r.nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		cancel()
		return nil, fmt.Errorf("relay: flush subscription %s: %w", key, err)
	}
	return func() {
		cancel()
		_ = sub.Unsubscribe()
		// Once stop returns, senders must get ErrNoHolder at once rather
		// than wait out a timeout on an unsubscribe still in flight.
		_ = r.nc.Flush()
	}, nil
}

// Send delivers req to the holder of key and returns its answer.
func (r *NATS) Send(ctx context.Context, key string, req []byte) ([]byte, error) {
	if !validKey(key) {
		return nil, ErrNoHolder
	}
	m, err := r.nc.RequestWithContext(ctx, r.subject(key), req)
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, ErrNoHolder
	}
	if err != nil {
		return nil, fmt.Errorf("relay: send to %s: %w", key, err)
	}
	return m.Data, nil
}
