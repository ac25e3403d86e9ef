package edge

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/feedbackd/feedbackd/pkg/listener"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/feedbackd/feedbackd/pkg/auth"
	"github.com/feedbackd/feedbackd/pkg/envelope"
	"github.com/feedbackd/feedbackd/pkg/requestid"
	"github.com/feedbackd/feedbackd/sessions"
)

// Body limits per route (docs/api.md, "Limits"). Every body is capped at
// BodyLimit, except on the routes that may carry images: creating a
// session, answering one (REST and the page's form post) and MCP's message
// endpoints, which take up to LargeBodyLimit. The limit is decided from the
// request line and headers, before a byte of the body is read:
//
//   - a Content-Length over the route's limit is refused with 413 at once;
//     a chunked body is read up to the limit and refused there;
//   - a body over BodyLimit on a route that needs credentials is read only
//     when the request carries a credential that authenticates; otherwise
//     it is refused with 401 unread;
//   - every body over BodyLimit borrows its size from one budget per
//     replica (Config.UploadMemory) until its request is done; when the
//     budget is spent the request is refused with 503 and Retry-After,
//     unread. A flood of large bodies can delay other uploads, never grow
//     memory past the budget.

// DefaultUploadMemory is the budget for bodies over BodyLimit when
// Config.UploadMemory is zero.
const DefaultUploadMemory = 128 << 20

// uploadRetryAfter is what a request refused for a spent budget is told to
// wait, in seconds.
const uploadRetryAfter = 2

// largeBodyLimitOf is LargeBodyLimit for the image limits of l.
func largeBodyLimitOf(l sessions.Limits) int64 {
	n, b := l.MaxImages, l.MaxImageBytes
	if n <= 0 {
		n = sessions.DefaultMaxImages
	}
	if b <= 0 {
		b = sessions.DefaultMaxImageBytes
	}
	return LargeBodyLimit(n, b)
}

// LargeBodyLimit is the body limit of the routes that carry images: count
// images of maxBytes each in base64, plus BodyLimit for everything else.
func LargeBodyLimit(count int, maxBytes int64) int64 {
	return int64(count)*4*((maxBytes+2)/3) + BodyLimit
}

// bodyRoute says what a request may send.
type bodyRoute int

const (
	smallBody       bodyRoute = iota
	largePublic               // anyone holding a session id
	largeCredential           // with credentials
)

// refusal is why a request was held to BodyLimit.
type refusal int

const (
	refusedNothing   refusal = iota
	refusedBusy              // the budget was spent
	refusedAnonymous         // a credentialed route without valid credentials
)

// bodyGate decides each request's body limit and lends large bodies their
// memory.
type bodyGate struct {
	large  int64
	budget int64
	authn  Authenticator
	// readTimeout bounds how long a request may take to send its body; a
	// loan older than this whose handler never started is forgotten.
	readTimeout time.Duration

	mu     sync.Mutex
	used   int64
	leases map[*fasthttp.RequestHeader]*bodyLease
}

// bodyLease is what one request holds: memory lent from the budget, or the
// reason it was refused, kept until its answer is written.
type bodyLease struct {
	bytes   int64
	refused refusal
	route   bodyRoute
	limit   int64
	path    string // for the 401 challenge of MCP routes
	at      time.Time
	started bool // its handler runs: it holds the body until done
}

func newBodyGate(large, budget int64, authn Authenticator, readTimeout time.Duration) *bodyGate {
	if large < BodyLimit {
		large = BodyLimit
	}
	if budget <= 0 {
		budget = DefaultUploadMemory
	}
	budget = max(budget, large)
	return &bodyGate{large: large, budget: budget, authn: authn, readTimeout: readTimeout, leases: map[*fasthttp.RequestHeader]*bodyLease{}}
}

// install hooks the gate into the fasthttp server: HeaderReceived decides,
// the error handler returns what a request that failed before its handler
// borrowed.
func (g *bodyGate) install(srv *fasthttp.Server) {
	srv.MaxRequestBodySize = int(g.large)
	srv.HeaderReceived = g.headerReceived
	next := srv.ErrorHandler
	srv.ErrorHandler = func(ctx *fasthttp.RequestCtx, err error) {
		next(ctx, err)
		g.release(&ctx.Request.Header)
	}
}

// routeOf classifies a request by its method and raw path. It matches as
// the router does (ignoring case and one trailing slash); anything it does
// not recognise keeps BodyLimit.
func routeOf(method, uri []byte) bodyRoute {
	if !bytes.Equal(method, []byte(fiber.MethodPost)) {
		return smallBody
	}
	path, _, _ := bytes.Cut(uri, []byte("?"))
	path = bytes.TrimSuffix(path, []byte("/"))
	lower := bytes.ToLower(path)
	switch string(lower) {
	case "/api/feedback/create", "/mcp", "/sse/message":
		return largeCredential
	}
	parts := bytes.Split(lower, []byte("/"))
	switch {
	case len(parts) == 5 && string(parts[1]) == "api" && string(parts[2]) == "feedback" && string(parts[4]) == "submit" && len(parts[3]) > 0:
		return largePublic
	case len(parts) == 3 && string(parts[1]) == "feedback" && len(parts[2]) > 0:
		return largePublic
	case len(parts) == 6 && string(parts[1]) == "inbox" && string(parts[2]) == "api" && string(parts[3]) == "sessions" &&
		string(parts[5]) == "submit" && len(parts[4]) > 0:
		// The inbox's answer, with the session cookie, which the gate
		// cannot check before the body: held to the public routes' budget.
		return largePublic
	}
	return smallBody
}

// headerReceived runs after a request's headers are read and before its
// body is: it returns the body limit of this request.
func (g *bodyGate) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	// A header is reused for the connection's next request: whatever the
	// previous one held is over.
	g.release(h)
	small := fasthttp.RequestConfig{MaxRequestBodySize: BodyLimit}
	route := routeOf(h.Method(), h.RequestURI())
	n := int64(h.ContentLength()) // -1 chunked, -2 until the connection closes
	if route == smallBody || n == -2 || (n >= 0 && n <= BodyLimit) {
		return small
	}
	if n > g.large {
		// Refused by fasthttp before reading, by Content-Length; the lease
		// only remembers the limit for the answer.
		g.hold(h, &bodyLease{route: route, limit: g.large, at: time.Now()})
		return fasthttp.RequestConfig{MaxRequestBodySize: int(g.large)}
	}
	want := g.large
	if n > 0 {
		want = n
	}
	lease := &bodyLease{route: route, limit: g.large, path: string(h.RequestURI()), at: time.Now()}
	if route == largeCredential && !g.authenticates(h) {
		lease.refused, lease.limit, lease.bytes = refusedAnonymous, BodyLimit, 0
		g.hold(h, lease)
		return small
	}
	if !g.borrow(want) {
		lease.refused, lease.limit = refusedBusy, BodyLimit
		g.hold(h, lease)
		return small
	}
	lease.bytes = want
	g.hold(h, lease)
	return fasthttp.RequestConfig{MaxRequestBodySize: int(g.large)}
}

// authenticates checks the request's credential headers, as requireAuth
// will again once the body is read.
func (g *bodyGate) authenticates(h *fasthttp.RequestHeader) bool {
	if g.authn == nil {
		return false
	}
	authz, key := h.PeekAll(fiber.HeaderAuthorization), h.PeekAll("X-API-Key")
	if len(authz) > 1 || len(key) > 1 {
		return false
	}
	var creds auth.Credentials
	if len(authz) == 1 {
		creds.Authorization = string(authz[0])
	}
	if len(key) == 1 {
		creds.APIKey = string(key[0])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := g.authn.Authenticate(ctx, creds)
	return err == nil
}

func (g *bodyGate) borrow(n int64) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.used+n > g.budget {
		g.sweep()
	}
	if g.used+n > g.budget {
		return false
	}
	g.used += n
	return true
}

// sweep forgets loans whose body never arrived and whose request never
// reached a handler or an error: a safety net, as every path returns its
// loan. The caller holds mu.
func (g *bodyGate) sweep() {
	cutoff := time.Now().Add(-(g.readTimeout + 10*time.Second))
	for h, l := range g.leases {
		if !l.started && l.at.Before(cutoff) {
			g.used -= l.bytes
			delete(g.leases, h)
		}
	}
}

func (g *bodyGate) hold(h *fasthttp.RequestHeader, l *bodyLease) {
	g.mu.Lock()
	g.leases[h] = l
	g.mu.Unlock()
}

// release returns what the request of h borrowed; safe to call again.
func (g *bodyGate) release(h *fasthttp.RequestHeader) {
	g.mu.Lock()
	if l, ok := g.leases[h]; ok {
		g.used -= l.bytes
		delete(g.leases, h)
	}
	g.mu.Unlock()
}

// lease returns the request's lease, if it has one.
func (g *bodyGate) lease(h *fasthttp.RequestHeader) (bodyLease, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	l, ok := g.leases[h]
	if !ok {
		return bodyLease{}, false
	}
	return *l, true
}

// inUse reports the bytes lent out now, for tests and metrics.
func (g *bodyGate) inUse() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.used
}

// track is the outermost middleware: a request keeps its loan while its
// handlers run and returns it when they are done.
func (g *bodyGate) track(c *fiber.Ctx) error {
	h := &c.Request().Header
	g.mu.Lock()
	if l, ok := g.leases[h]; ok {
		l.started = true
	}
	g.mu.Unlock()
	defer g.release(h)
	return c.Next()
}

// tooLarge answers a body that fasthttp refused: 413 with the route's
// limit, or, when the body was held to BodyLimit for want of budget or of
// credentials, the 503 or 401 that says so.
func (s *Server) tooLarge(c *fiber.Ctx) error {
	// The body was refused unread: the client may still be sending it.
	listener.Linger(c.Context().Conn())
	l, ok := s.bodies.lease(&c.Request().Header)
	limit := int64(BodyLimit)
	if ok {
		limit = l.limit
		if l.refused != refusedNothing {
			// Refused before routing, as a 413 is, but answered as the
			// route itself answers 401 and 503: with a request id.
			c.Set(requestid.Header, requestid.Accept(c.Get(requestid.Header)))
			c.Set(fiber.HeaderConnection, "close")
		}
		switch l.refused {
		case refusedBusy:
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(uploadRetryAfter))
			busy := sessions.Errorf(sessions.CodeServiceUnavailable,
				"this server is receiving as many large uploads as it can hold; retry in a moment")
			if l.route == largePublic && !hasPathPrefix(l.path, "/api") && s.pages != nil {
				// The page's own form post: people get the error page.
				return s.pages.failPage(c, pagePrefs(c), busy)
			}
			return s.fail(c, busy)
		case refusedAnonymous:
			if hasPathPrefix(l.path, "/mcp") || hasPathPrefix(l.path, "/sse") {
				c.Set(fiber.HeaderWWWAuthenticate, auth.Challenge(auth.ErrUnauthorized, s.resourceMetadataURL(c)))
			}
			return s.fail(c, sessions.Errorf(envelope.CodeUnauthorized,
				"a body over %s is read only with valid credentials: send X-API-Key, Authorization: ApiKey <key>, or Authorization: Bearer <jwt>", sizeText(BodyLimit)))
		}
	}
	return s.fail(c, &sessions.Error{Code: envelope.CodePayloadTooLarge, Message: fmt.Sprintf("request body is larger than %s", sizeText(limit))})
}

// sizeText writes a byte count as people read it.
func sizeText(n int64) string {
	for _, u := range []struct {
		unit string
		size int64
	}{{"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		switch {
		case n < u.size:
			continue
		case n%u.size == 0:
			return fmt.Sprintf("%d %s", n/u.size, u.unit)
		}
		return fmt.Sprintf("%.1f %s", float64(n)/float64(u.size), u.unit)
	}
	return fmt.Sprintf("%d bytes", n)
}
