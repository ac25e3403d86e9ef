package mcp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
)

// Requests feedbackd sends to an MCP client in the middle of a tool call
// (elicitation/create), and the client's answers. feedbackd writes them
// itself rather than through mcp-go, for three things mcp-go does not do:
//
//   - the request's JSON-RPC id is ours, so the server can tell the client
//     that the request is no longer needed (notifications/cancelled with
//     that id) when the person answers elsewhere first;
//   - the answer may be posted to any edge replica: the replica that sent
//     the request handles the id's relay key while it waits, and a replica
//     that receives an answer it is not waiting for relays it there;
//   - the older SSE transport gets elicitation too (mcp-go's SSE sessions
//     have none).
//
// Ids are "fbk-" and 32 random hex digits: unguessable, and a NATS subject
// token, so they are their own relay keys.

const outboundIDPrefix = "fbk-"

// clientLink is where a tool call's server-to-client messages go: the SSE
// stream of the Streamable HTTP POST that carries the call, or the stream
// of the older SSE transport. It lives as long as the call.
type clientLink struct {
	// send writes one JSON-RPC message to the client.
	send func(msg any) error
	// principal is who made the call; only they may answer its requests.
	principal string
}

// outbound tracks the requests sent to clients that await an answer.
type outbound struct {
	relay Relay
	log   *slog.Logger

	mu      sync.Mutex
	pending map[string]*outRequest
}

func newOutbound(relay Relay, log *slog.Logger) *outbound {
	return &outbound{relay: relay, log: log, pending: make(map[string]*outRequest)}
}

// outRequest is one request sent to a client.
type outRequest struct {
	id     string
	link   clientLink
	answer chan rpcAnswer // receives the client's answer, once
	// stopRelay ends relaying answers here from other replicas.
	stopRelay func()
}

// rpcAnswer is a client's JSON-RPC response: a result or an error.
type rpcAnswer struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  *rpcError       `json:"error,omitempty"`
}

// rpcError is a JSON-RPC error object.
type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *rpcError) Error() string { return fmt.Sprintf("client error %d: %s", e.Code, e.Message) }

// relayedAnswer is a client's answer as one replica forwards it to the
// replica that sent the request.
type relayedAnswer struct {
	Principal string          `json:"principal"`
	Body      json.RawMessage `json:"body"`
}

// isOutboundID reports whether a JSON-RPC id (raw JSON) is one of ours, and
// returns it as a string.
func isOutboundID(raw json.RawMessage) (string, bool) {
	var id string
	if json.Unmarshal(raw, &id) != nil || !strings.HasPrefix(id, outboundIDPrefix) || len(id) != len(outboundIDPrefix)+32 {
		return "", false
	}
	for _, c := range id[len(outboundIDPrefix):] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", false
		}
	}
	return id, true
}

// send sends the request method(params) over link and returns it; its
// answer arrives on Answer. The request is reachable for answers, here and
// through the relay, before the client can see it.
func (o *outbound) send(link clientLink, method string, params any) (*outRequest, error) {
	var nonce [16]byte
	_, _ = rand.Read(nonce[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	r := &outRequest{id: outboundIDPrefix + hex.EncodeToString(nonce[:]), link: link, answer: make(chan rpcAnswer, 1), stopRelay: func() {}}
	o.mu.Lock()
	o.pending[r.id] = r
	o.mu.Unlock()
	if o.relay != nil {
		stop, err := o.relay.Handle(r.id, func(_ context.Context, req []byte) []byte {
			var a relayedAnswer
			if json.Unmarshal(req, &a) != nil || !o.deliver(a.Principal, r.id, a.Body) {
				return []byte("unknown")
			}
			return []byte("ok")
		})
		if err != nil {
			o.log.Warn("an answer to this request can reach this edge only", "err", err)
		} else {
			r.stopRelay = stop
		}
	}
	msg := map[string]any{"jsonrpc": mcpgo.JSONRPC_VERSION, "id": r.id, "method": method, "params": params}
	if err := link.send(msg); err != nil {
		o.forget(r)
		return nil, fmt.Errorf("send %s: %w", method, err)
	}
	return r, nil
}

// Answer delivers the client's answer.
func (r *outRequest) Answer() <-chan rpcAnswer { return r.answer }

// forget stops waiting for r's answer.
func (o *outbound) forget(r *outRequest) {
	o.mu.Lock()
	_, ok := o.pending[r.id]
	delete(o.pending, r.id)
	o.mu.Unlock()
	if ok {
		r.stopRelay()
	}
}

// withdraw tells the client that r is no longer needed
// (notifications/cancelled) unless it has answered, and forgets r.
func (o *outbound) withdraw(r *outRequest, reason string) {
	o.mu.Lock()
	_, open := o.pending[r.id]
	o.mu.Unlock()
	o.forget(r)
	if !open || len(r.answer) > 0 {
		return
	}
	err := r.link.send(map[string]any{
		"jsonrpc": mcpgo.JSONRPC_VERSION,
		"method":  string(mcpgo.MethodNotificationCancelled),
		"params":  map[string]any{"requestId": r.id, "reason": reason},
	})
	if err != nil {
		o.log.Debug("withdrawing a request from a client that has gone", "id", r.id, "err", err)
	}
}

// deliver hands a client's answer to the request it answers, if that
// request is waiting on this replica and was sent to principal. It
// reports whether it was.
func (o *outbound) deliver(principal, id string, body []byte) bool {
	o.mu.Lock()
	r, ok := o.pending[id]
	if ok && r.link.principal != principal {
		ok = false
	}
	if ok {
		delete(o.pending, id)
	}
	o.mu.Unlock()
	if !ok {
		return false
	}
	r.stopRelay()
	var a rpcAnswer
	if err := json.Unmarshal(body, &a); err != nil || (a.Error == nil && len(a.Result) == 0) {
		a = rpcAnswer{Error: &rpcError{Code: mcpgo.PARSE_ERROR, Message: "malformed response"}}
	}
	r.answer <- a
	return true
}

// route delivers a client's answer here, or relays it to the replica that
// sent the request. An answer nobody waits for (the request was withdrawn,
// or its call ended) is dropped: the client did its part.
func (o *outbound) route(ctx context.Context, principal, id string, body []byte) {
	if o.deliver(principal, id, body) || o.relay == nil {
		return
	}
	req, _ := json.Marshal(relayedAnswer{Principal: principal, Body: body})
	ctx, cancel := context.WithTimeout(ctx, relayTimeout)
	defer cancel()
	if _, err := o.relay.Send(ctx, id, req); err != nil && !errors.Is(err, context.Canceled) {
		o.log.Debug("an answer to a request nobody waits for", "id", id, "err", err)
	}
}

// waiting returns how many requests await an answer on this replica; tests
// use it to prove that nothing is left behind.
func (o *outbound) waiting() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.pending)
}
