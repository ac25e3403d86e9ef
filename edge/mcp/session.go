package mcp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/mark3labs/mcp-go/server"

	"github.com/feedbackd/feedbackd/pkg/auth"
)

// MCP session state, kept so that no replica needs another's memory:
//
//   - Streamable HTTP session ids carry their own proof: a random nonce and a
//     tag binding it to the principal that initialized the session. Any edge
//     replica checks an id by recomputing the tag, so the requests of one
//     session may land on any replica, and one principal can never present
//     (and so never listen on, or cancel within) another's session. What the
//     client declared in initialize that the tools must know (clientFeatures,
//     features.go: MCP Apps, form and URL elicitation) rides in the id too,
//     bound by the same tag: mcp-go keeps a session's client capabilities
//     only in the memory of the replica that saw the initialize.
//   - The older SSE transport's stream lives on the replica holding it:
//     sseStreams maps the stream's session id to the stream's context, so a
//     tool call posted to /sse/message ends when the stream does, and a
//     message posted to another replica is relayed here (relay.go).
//   - inflightCalls cancels a Streamable HTTP request on the client's
//     notifications/cancelled, scoped to the principal and session, which
//     mcp-go's own bookkeeping is not for sessionless (2026-07-28) requests.

const sessionIDPrefix = "fbm-"

// boundSessionIDs is a server.SessionIdManager for one principal. features
// is what Generate writes into new ids.
type boundSessionIDs struct {
	principal string
	features  clientFeatures
}

// Generate implements server.SessionIdManager. An id is
// "fbm-<nonce>-<tag>", or "fbm-<nonce>-<features>-<tag>" when the client
// declared features, the features in hex.
func (b boundSessionIDs) Generate() string {
	var nonce [16]byte
	_, _ = rand.Read(nonce[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	n := hex.EncodeToString(nonce[:])
	if b.features == 0 {
		return sessionIDPrefix + n + "-" + b.tag(n, 0)
	}
	return sessionIDPrefix + n + "-" + strconv.FormatUint(uint64(b.features), 16) + "-" + b.tag(n, b.features)
}

// Validate implements server.SessionIdManager.
func (b boundSessionIDs) Validate(id string) (isTerminated bool, err error) {
	if _, ok := b.check(id); !ok {
		return false, errUnknownSession
	}
	return false, nil
}

// Terminate implements server.SessionIdManager. Ids are checked, not
// stored, so there is nothing to forget; mcp-go still drops the session's
// local state.
func (b boundSessionIDs) Terminate(string) (isNotAllowed bool, err error) { return false, nil }

// check reports whether id is one of the principal's, and the features it
// carries.
func (b boundSessionIDs) check(id string) (clientFeatures, bool) {
	rest, ok := strings.CutPrefix(id, sessionIDPrefix)
	if !ok {
		return 0, false
	}
	parts := strings.Split(rest, "-")
	var features clientFeatures
	switch len(parts) {
	case 2:
	case 3:
		f, err := strconv.ParseUint(parts[1], 16, 8)
		// One spelling per value: no zero, no leading zeros, lower case.
		if err != nil || f == 0 || clientFeatures(f)&^knownFeatures != 0 || strconv.FormatUint(f, 16) != parts[1] {
			return 0, false
		}
		features = clientFeatures(f)
	default:
		return 0, false
	}
	nonce, tag := parts[0], parts[len(parts)-1]
	if len(nonce) != 32 {
		return 0, false
	}
	if subtle.ConstantTimeCompare([]byte(tag), []byte(b.tag(nonce, features))) != 1 {
		return 0, false
	}
	return features, true
}

// tag binds a nonce and the features to the principal. Without features it
// is what ids were before features existed, so those stay valid.
func (b boundSessionIDs) tag(nonce string, features clientFeatures) string {
	msg := b.principal + "\x00" + nonce
	if features != 0 {
		msg += "\x00" + strconv.FormatUint(uint64(features), 16)
	}
	sum := sha256.Sum256([]byte(msg))
	return hex.EncodeToString(sum[:16])
}

type sessionError string

func (e sessionError) Error() string { return string(e) }

const errUnknownSession = sessionError("unknown MCP session")

// sessionIDResolver hands mcp-go the id manager of the request's principal,
// writing the features of the client that initializes (serveStreamable
// read them from the request).
type sessionIDResolver struct{}

// ResolveSessionIdManager implements server.SessionIdManagerResolver. mcp-go
// passes nil outside requests (to terminate sessions at shutdown). An
// initialize request's capabilities go into the id it mints.
func (sessionIDResolver) ResolveSessionIdManager(r *http.Request) server.SessionIdManager {
	var b boundSessionIDs
	if r != nil {
		if info, ok := r.Context().Value(infoKey{}).(requestInfo); ok {
			b = boundSessionIDs{principal: info.principal.ID, features: info.features}
		}
	}
	return b
}

// sseStream is a live stream of the SSE transport.
type sseStream struct {
	ctx       context.Context
	principal auth.Principal
	// session is mcp-go's session of the stream, which holds what the
	// client declared in initialize.
	session server.ClientSession
	release func()   // stops relaying the stream's messages here
	answers *answers // responses the stream owes (drain.go)
}

type sseStreams struct {
	mu sync.Mutex
	m  map[string]sseStream
	// hold makes a new stream reachable from other edges (holdStream).
	hold func(sessionID string) (release func())
}

// register is an OnRegisterSession hook: the SSE transport registers a
// session with the context of its GET stream.
func (s *sseStreams) register(ctx context.Context, cs server.ClientSession) {
	info, ok := ctx.Value(infoKey{}).(requestInfo)
	if !ok || info.transport != SSE {
		return
	}
	ans, _ := ctx.Value(answersKey{}).(*answers)
	st := sseStream{ctx: ctx, principal: info.principal, session: cs, release: func() {}, answers: ans}
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[string]sseStream)
	}
	s.m[cs.SessionID()] = st
	s.mu.Unlock()
	// Registered first, so a relayed message finds the stream.
	if s.hold != nil {
		release := s.hold(cs.SessionID())
		s.mu.Lock()
		if cur, ok := s.m[cs.SessionID()]; ok {
			cur.release = release
			s.m[cs.SessionID()] = cur
			release = nil
		}
		s.mu.Unlock()
		if release != nil { // the stream ended meanwhile
			release()
		}
	}
}

// unregister is an OnUnregisterSession hook.
func (s *sseStreams) unregister(_ context.Context, cs server.ClientSession) {
	s.mu.Lock()
	st, ok := s.m[cs.SessionID()]
	delete(s.m, cs.SessionID())
	s.mu.Unlock()
	if ok {
		st.release()
	}
}

func (s *sseStreams) get(id string) (sseStream, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.m[id]
	return st, ok
}

// inflightCalls maps the requests a principal has in flight to the cancel
// of their HTTP request context.
type inflightCalls struct {
	mu sync.Mutex
	m  map[string]*inflightCall
}

type inflightCall struct{ cancel context.CancelFunc }

func callKey(principal, session string, id json.RawMessage) string {
	return principal + "\x00" + session + "\x00" + string(bytes.TrimSpace(id))
}

// track records a request until the returned function is called.
func (c *inflightCalls) track(key string, cancel context.CancelFunc) (untrack func()) {
	call := &inflightCall{cancel: cancel}
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[string]*inflightCall)
	}
	c.m[key] = call
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.m[key] == call {
			delete(c.m, key)
		}
	}
}

// cancel ends the request recorded under key, if it is still in flight here.
func (c *inflightCalls) cancel(key string) {
	c.mu.Lock()
	call := c.m[key]
	c.mu.Unlock()
	if call != nil {
		call.cancel()
	}
}
