package notifier

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/feedbackd/feedbackd/pkg/auth"
	"github.com/feedbackd/feedbackd/pkg/metrics"
	"github.com/feedbackd/feedbackd/sessions"
)

// Authenticator turns the credentials of an upgrade request into a principal.
// *auth.Authenticator implements it.
type Authenticator interface {
	Authenticate(ctx context.Context, c auth.Credentials) (auth.Principal, error)
}

// PageTokenVerifier checks the feedback page's narrow, short-lived credential
// and returns the one session it grants and when it runs out. A page
// credential opens /ws/{that id} and nothing else, until it expires.
// *auth.PageTokens implements it.
type PageTokenVerifier interface {
	VerifyExpiry(token string) (sessionID string, expires time.Time, err error)
}

// Close codes the notifier sends (RFC 6455 §7.4).
const (
	// CloseSlowClient drops a client whose send queue filled up.
	CloseSlowClient = websocket.ClosePolicyViolation // 1008
	// CloseInternal ends a connection whose session could not be read.
	CloseInternal = websocket.CloseInternalServerErr // 1011
	// CloseServiceRestart is sent to every client on shutdown: reconnect,
	// to this or another notifier, and resume from the last revision.
	CloseServiceRestart = websocket.CloseServiceRestart // 1012
	// CloseTryAgainLater refuses a connection over a limit that filled up
	// between the HTTP checks and the upgrade.
	CloseTryAgainLater = websocket.CloseTryAgainLater // 1013
	// CloseCredentialExpired ends a connection when the credential that
	// opened it (a JWT's exp, the page token's expiry) runs out: reconnect
	// with a fresh one. 4001 is in the range RFC 6455 leaves to
	// applications.
	CloseCredentialExpired = 4001
	// CloseCredentialRevoked ends a connection whose credential was
	// revoked (an inbox link, see Revoke): it will not be accepted again.
	CloseCredentialRevoked = 4003
)

// Config tunes the notifier. Zero values take the defaults in brackets.
type Config struct {
	// AllowedOrigins may open WebSockets from a browser besides the
	// request's own host; "*" allows any origin. Requests without an Origin
	// header (apps, scripts) are always allowed.
	AllowedOrigins []string
	// QueueSize is how many messages may wait for one client before it is
	// dropped as too slow [64].
	QueueSize int
	// ReadLimit is the largest message a client may send, in bytes [4096].
	ReadLimit int64
	// PingInterval is how often the server pings an idle client [25s].
	PingInterval time.Duration
	// PongWait is how long a client may stay silent (no pong, no message)
	// before it is considered gone [60s]; at least twice PingInterval.
	PongWait time.Duration
	// WriteWait bounds one write to a client [10s].
	WriteWait time.Duration
	// MaxConnections caps the connections of this process; more are refused
	// with 503 [50000].
	MaxConnections int
	// MaxPerSession caps the connections to one session opened with its
	// owner's credentials; more are refused with 429 [1000].
	MaxPerSession int
	// MaxPagePerSession caps the connections to one session opened with
	// the feedback page's token, counted apart from the owner's so that
	// link holders cannot lock the owner out [MaxPerSession].
	MaxPagePerSession int
	// ResumeLimit caps how many of the caller's sessions a /ws resume looks
	// at, newest first [1000].
	ResumeLimit int
}

func (c Config) withDefaults() Config {
	if c.QueueSize <= 0 {
		c.QueueSize = 64
	}
	if c.ReadLimit <= 0 {
		c.ReadLimit = 4096
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 25 * time.Second
	}
	if c.PongWait <= 0 {
		c.PongWait = 60 * time.Second
	}
	if c.PongWait < 2*c.PingInterval {
		c.PongWait = 2 * c.PingInterval
	}
	if c.WriteWait <= 0 {
		c.WriteWait = 10 * time.Second
	}
	if c.MaxConnections <= 0 {
		c.MaxConnections = 50000
	}
	if c.MaxPerSession <= 0 {
		c.MaxPerSession = 1000
	}
	if c.MaxPagePerSession <= 0 {
		c.MaxPagePerSession = c.MaxPerSession
	}
	if c.ResumeLimit <= 0 {
		c.ResumeLimit = 1000
	}
	return c
}

// closeGrace is how long a closing connection may take to exchange close
// frames before its socket is cut off.
const closeGrace = time.Second

// Notifier serves the WebSocket routes of one process. It is safe for
// concurrent use.
type Notifier struct {
	cfg   Config
	svc   *sessions.Service
	authn Authenticator
	pages PageTokenVerifier
	log   *slog.Logger
	now   func() time.Time

	hub         *Hub
	unsubscribe func()
	upgrade     fiber.Handler
	anyOrigin   bool
	origins     map[string]bool

	mu      sync.Mutex
	closing bool
	clients map[*client]struct{}
	conns   sync.WaitGroup

	accepted atomic.Uint64
	dropped  atomic.Uint64
	sent     atomic.Uint64
}

// Option configures a Notifier.
type Option func(*Notifier)

// WithPageTokens accepts the feedback page's credential (?token= or a Bearer
// header) for /ws/{its session}.
func WithPageTokens(v PageTokenVerifier) Option { return func(n *Notifier) { n.pages = v } }

// WithClock replaces time.Now for message timestamps, for tests.
func WithClock(now func() time.Time) Option { return func(n *Notifier) { n.now = now } }

// New returns a Notifier over svc and starts following svc's hub: one
// subscription for the whole process. Run or Close stops it.
func New(cfg Config, svc *sessions.Service, authn Authenticator, log *slog.Logger, opts ...Option) *Notifier {
	n := &Notifier{
		cfg:     cfg.withDefaults(),
		svc:     svc,
		authn:   authn,
		log:     log,
		now:     time.Now,
		origins: make(map[string]bool),
		clients: make(map[*client]struct{}),
	}
	for _, o := range opts {
		o(n)
	}
	for _, o := range n.cfg.AllowedOrigins {
		o = normalizeOrigin(o)
		if o == "*" {
			n.anyOrigin = true
		}
		if o != "" {
			n.origins[o] = true
		}
	}
	n.hub = newHub(n.now)
	all := svc.Hub().SubscribeAll(n.hub.publish)
	written := svc.Hub().SubscribeWritten(n.hub.publishWritten)
	n.unsubscribe = func() { all(); written() }
	n.upgrade = websocket.New(n.serveConn, websocket.Config{
		// Clients send little (a ping, a pong): a small read buffer, which
		// every connection keeps for its life, only means more reads for a
		// large message, which ReadLimit bounds anyway.
		ReadBufferSize:  256,
		WriteBufferSize: 1024,
		// Borrow write buffers per message: most connections are idle
		// most of the time, and an idle one should cost little memory.
		WriteBufferPool: &sync.Pool{},
		RecoverHandler: func(*websocket.Conn) {
			if v := recover(); v != nil {
				log.Error("WebSocket connection panicked", "panic", v)
			}
		},
	})
	return n
}

// RaiseWatermark tells the notifier that every change up to rev has already
// happened. Call it once after New with the store's latest revision, so that
// /ws clients connecting before the first change get a real resume point.
func (n *Notifier) RaiseWatermark(rev uint64) { n.hub.raise(rev) }

// Run serves until ctx ends, then closes every connection with 1012 (service
// restart) and waits for them.
func (n *Notifier) Run(ctx context.Context) error {
	<-ctx.Done()
	n.Close()
	return nil
}

// Close refuses new connections, tells every client to reconnect (close code
// 1012), waits until every connection has ended and stops following the hub.
// It is safe to call more than once.
func (n *Notifier) Close() {
	n.mu.Lock()
	n.closing = true
	clients := make([]*client, 0, len(n.clients))
	for c := range n.clients {
		clients = append(clients, c)
	}
	n.mu.Unlock()
	for _, c := range clients {
		c.kill(CloseServiceRestart, "service restart: reconnect and resume")
	}
	// Every connection ends within a few closeGrace of its kill: its socket
	// is cut off under it if the close handshake stalls.
	n.conns.Wait()
	n.unsubscribe()
	if len(clients) > 0 {
		n.log.Info("closed WebSocket connections", "count", len(clients))
	}
}

// Revoke closes, with 4003, every connection of this process that was
// opened with credential (an auth.Principal.Credential, such as an inbox
// link's), and returns how many it closed. Whoever revokes a credential
// calls it on every notifier process.
func (n *Notifier) Revoke(credential string) int {
	if credential == "" {
		return 0
	}
	var hit []*client
	n.mu.Lock()
	for c := range n.clients {
		if c.grant == credential {
			hit = append(hit, c)
		}
	}
	n.mu.Unlock()
	for _, c := range hit {
		c.kill(CloseCredentialRevoked, "credential revoked")
	}
	if len(hit) > 0 {
		n.log.Debug("closed WebSockets of a revoked credential", "count", len(hit))
	}
	return len(hit)
}

// Stats are counters of one notifier process.
type Stats struct {
	Connections int    // open now
	Accepted    uint64 // upgraded since start
	Dropped     uint64 // dropped because their send queue filled
	Sent        uint64 // messages written
}

// Stats returns the current counters.
func (n *Notifier) Stats() Stats {
	n.mu.Lock()
	conns := len(n.clients)
	n.mu.Unlock()
	return Stats{Connections: conns, Accepted: n.accepted.Load(), Dropped: n.dropped.Load(), Sent: n.sent.Load()}
}

// admit counts c against the process limit. It returns a close code when c
// must be refused.
func (n *Notifier) admit(c *client) (code int, reason string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closing {
		return CloseServiceRestart, "service restart: reconnect"
	}
	if len(n.clients) >= n.cfg.MaxConnections {
		return CloseTryAgainLater, "too many connections: try again later"
	}
	n.clients[c] = struct{}{}
	n.conns.Add(1)
	n.accepted.Add(1)
	c.unmetered = metrics.WSConnected()
	return 0, ""
}

func (n *Notifier) release(c *client) {
	n.mu.Lock()
	delete(n.clients, c)
	n.mu.Unlock()
	if c.unmetered != nil {
		c.unmetered()
	}
	n.conns.Done()
}

// perSessionLimit is the cap on one session's page-token connections (page)
// or owner connections.
func (n *Notifier) perSessionLimit(page bool) int {
	if page {
		return n.cfg.MaxPagePerSession
	}
	return n.cfg.MaxPerSession
}

// full reports whether the process limit is reached, or the notifier closing.
func (n *Notifier) full() (closing, full bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.closing, len(n.clients) >= n.cfg.MaxConnections
}

func normalizeOrigin(o string) string {
	return strings.TrimRight(strings.ToLower(strings.TrimSpace(o)), "/")
}
