package program

import (
	"encoding/json"
	"fmt"
	"net"

	"github.com/feedbackd/feedbackd/pkg/envelope"
	"github.com/feedbackd/feedbackd/pkg/listener"
	"github.com/feedbackd/feedbackd/pkg/metrics"
	"github.com/feedbackd/feedbackd/sessions"
)

// Connections and file descriptors (docs/api.md, "Limits"). Every
// connection holds a descriptor; running out of them must neither stop the
// process nor starve NATS. So:
//
//   - at start the soft limit on open files is raised to the hard limit;
//   - MAX_CONNS, unless set, is that limit less a reserve for NATS, files
//     and the operations listener (listener.MaxConnsFor);
//   - NOTIFIER_MAX_CONNECTIONS, unless set, is 90% of MAX_CONNS, so a
//     WebSocket over the budget gets the notifier's 503, which says why,
//     before the listener has to refuse the connection itself;
//   - every listener the program serves is a listener.Listener.

// notifierShare is the part of MAX_CONNS the notifier's WebSockets may take
// by default, in tenths.
const notifierShare = 9

// sizeConnections raises the open file limit and settles the connection
// caps the configuration left to the program.
func (m *Main) sizeConnections() {
	limit, err := listener.RaiseFileLimit()
	if err != nil {
		m.log.Warn("could not raise the limit on open files", "err", err)
	}
	if m.role.nats == natsServerOnly {
		m.log.Info("open file limit", "open_files", limit) // NATS keeps its own connection limits
		return
	}
	cfg := &m.Config
	derived := cfg.MaxConns == 0
	if derived {
		cfg.MaxConns = listener.MaxConnsFor(limit)
	}
	if cfg.Notifier.MaxConnections == 0 {
		cfg.Notifier.MaxConnections = max(1, cfg.MaxConns*notifierShare/10)
	} else if m.role.has(notifierName) && cfg.Notifier.MaxConnections >= cfg.MaxConns {
		m.log.Warn("NOTIFIER_MAX_CONNECTIONS is not below MAX_CONNS: WebSockets over the budget are cut off by the listener instead of refused with 503",
			"NOTIFIER_MAX_CONNECTIONS", cfg.Notifier.MaxConnections, "MAX_CONNS", cfg.MaxConns)
	}
	if limit > 0 && uint64(cfg.MaxConns) > limit {
		m.log.Warn("MAX_CONNS is above the limit on open files: a flood of connections can starve NATS of descriptors",
			"MAX_CONNS", cfg.MaxConns, "open_files", limit)
	}
	m.log.Info("connection limits", "open_files", limit, "MAX_CONNS", cfg.MaxConns, "derived", derived,
		"NOTIFIER_MAX_CONNECTIONS", cfg.Notifier.MaxConnections, "MAX_WAITS_PER_PRINCIPAL", cfg.MaxWaitsPerPrincipal)
}

// guard wraps a listening socket of the program in a listener.Listener
// capped at maxConns, reported in /metrics as name until Close.
func (m *Main) guard(name string, ln net.Listener, maxConns int) *listener.Listener {
	l := listener.New(ln, listener.Config{Name: name, MaxConns: maxConns, Refusal: refusal, Log: m.log})
	untrack := metrics.TrackListener(name, func() metrics.ListenerStats {
		s := l.Stats()
		return metrics.ListenerStats{Open: s.Open, Max: s.Max, Accepted: s.Accepted, Refused: s.Refused, AcceptErrors: s.AcceptErrors}
	})
	m.onClose(name+" connection metrics", func() error { untrack(); return nil })
	return l
}

// retryOverCap is the Retry-After, in seconds, of a connection refused over
// MAX_CONNS.
const retryOverCap = "1"

// refusal is what a connection over MAX_CONNS is sent before it is closed:
// 503 SERVICE_UNAVAILABLE in the API's envelope, with Retry-After, whatever
// it asked.
func refusal() []byte {
	body, _ := json.Marshal(envelope.Body{
		Error: &envelope.Error{
			Code:    sessions.CodeServiceUnavailable,
			Message: "this server has too many connections open (MAX_CONNS); try again shortly",
		},
		Timestamp: envelope.Now(),
	})
	return fmt.Appendf(nil, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"+
		"Retry-After: %s\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", retryOverCap, len(body), body)
}
