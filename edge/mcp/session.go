package mcp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/feedbackd/feedbackd/pkg/auth"
)

// MCP session state, kept so that no replica needs another's memory:
//
//   - Streamable HTTP session ids carry their own proof: a random nonce and a
//     tag binding it to the principal that initialized the session. Any edge
//     replica checks an id by recomputing the tag, so the requests of one
//     session may land on any replica, and one principal can never present
//     (and so never listen on, or cancel within) another's session.
//   - The older SSE transport's stream lives on the replica holding it:
//     sseStreams maps the stream's session id to the stream's context, so a
//     tool call posted to /sse/message ends when the stream does, and a
//     message posted to another replica is relayed here (relay.go).
//   - inflightCalls cancels a Streamable HTTP request on the client's
//     notifications/cancelled, scoped to the principal and session, which
//     mcp-go's own bookkeeping is not for sessionless (2026-07-28) requests.

const sessionIDPrefix = "fbm-"

// clientCaps are the client capabilities a Streamable HTTP session id
// carries, so that any replica knows what the client declared at initialize
// without shared memory (the session object holding them lives only on the
// replica that served initialize, and only until it is dropped).
type clientCaps uint8

const (
	// capElicitForm: the client declared elicitation in form mode
	// (2025-06-18's "elicitation": {}, or 2025-11-25's "form").
	capElicitForm clientCaps = 1 << iota
	// capElicitURL: the client declared elicitation in URL mode.
	capElicitURL
)

// capsOf reads the elicitation modes a client declared.
func capsOf(c mcpgo.ClientCapabilities) clientCaps {
	e := c.Elicitation
	if e == nil {
		return 0
	}
	var caps clientCaps
	// An empty object is form mode: that is all 2025-06-18 had.
	if e.Form != nil || e.URL == nil {
		caps |= capElicitForm
	}
	if e.URL != nil {
		caps |= capElicitURL
	}
	return caps
}

// boundSessionIDs is a server.SessionIdManager for one principal. Ids look
// like fbm-<nonce>-<caps>-<tag>: a random nonce, the client's capabilities
// as two hex digits, and a tag binding both to the principal. Ids minted
// before capabilities were carried (fbm-<nonce>-<tag>) stay valid and carry
// none.
type boundSessionIDs struct {
	principal string
	// caps is what a session minted by Generate carries.
	caps clientCaps
}

// Generate implements server.SessionIdManager.
func (b boundSessionIDs) Generate() string {
	var nonce [16]byte
	_, _ = rand.Read(nonce[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	n := hex.EncodeToString(nonce[:])
	c := fmt.Sprintf("%02x", uint8(b.caps))
	return sessionIDPrefix + n + "-" + c + "-" + b.tag(n+"-"+c)
}

// Validate implements server.SessionIdManager.
func (b boundSessionIDs) Validate(id string) (isTerminated bool, err error) {
	if !b.valid(id) {
		return false, errUnknownSession
	}
	return false, nil
}

// Terminate implements server.SessionIdManager. Ids are checked, not
// stored, so there is nothing to forget; mcp-go still drops the session's
// local state.
func (b boundSessionIDs) Terminate(string) (isNotAllowed bool, err error) { return false, nil }

func (b boundSessionIDs) valid(id string) bool {
	_, ok := b.parse(id)
	return ok
}

// parse checks id and returns the capabilities it carries.
func (b boundSessionIDs) parse(id string) (clientCaps, bool) {
	rest, ok := strings.CutPrefix(id, sessionIDPrefix)
	if !ok {
		return 0, false
	}
	i := strings.LastIndexByte(rest, '-')
	if i < 0 {
		return 0, false
	}
	body, tag := rest[:i], rest[i+1:]
	nonce, c, withCaps := strings.Cut(body, "-")
	if len(nonce) != 32 || (withCaps && len(c) != 2) {
		return 0, false
	}
	var caps uint64
	if withCaps {
		var err error
		if caps, err = strconv.ParseUint(c, 16, 8); err != nil || c != strings.ToLower(c) {
			return 0, false
		}
	}
	if subtle.ConstantTimeCompare([]byte(tag), []byte(b.tag(body))) != 1 {
		return 0, false
	}
	return clientCaps(caps), true
}

func (b boundSessionIDs) tag(body string) string {
	sum := sha256.Sum256([]byte(b.principal + "\x00" + body))
	return hex.EncodeToString(sum[:16])
}

type sessionError string

func (e sessionError) Error() string { return string(e) }

const errUnknownSession = sessionError("unknown MCP session")

// sessionIDResolver hands mcp-go the id manager of the request's principal.
type sessionIDResolver struct{}

// ResolveSessionIdManager implements server.SessionIdManagerResolver. mcp-go
// passes nil outside requests (to terminate sessions at shutdown). An
// initialize request's capabilities go into the id it mints.
func (sessionIDResolver) ResolveSessionIdManager(r *http.Request) server.SessionIdManager {
	var b boundSessionIDs
	if r != nil {
		if info, ok := r.Context().Value(infoKey{}).(requestInfo); ok {
			b = boundSessionIDs{principal: info.principal.ID, caps: info.initCaps}
		}
	}
	return b
}

// sseStream is a live stream of the SSE transport.
type sseStream struct {
	ctx       context.Context
	principal auth.Principal
	release   func() // stops relaying the stream's messages here
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
	st := sseStream{ctx: ctx, principal: info.principal, release: func() {}}
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
