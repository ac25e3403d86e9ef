package program

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/feedbackd/feedbackd/edge"
	"github.com/feedbackd/feedbackd/expirer"
	"github.com/feedbackd/feedbackd/notifier"
	"github.com/feedbackd/feedbackd/pkg/auth"
	"github.com/feedbackd/feedbackd/pkg/dirlock"
	"github.com/feedbackd/feedbackd/pkg/hostcheck"
	"github.com/feedbackd/feedbackd/pkg/listener"
	"github.com/feedbackd/feedbackd/pkg/metrics"
	"github.com/feedbackd/feedbackd/pkg/natsutil"
	"github.com/feedbackd/feedbackd/pkg/opsapi"
	"github.com/feedbackd/feedbackd/pkg/relay"
	"github.com/feedbackd/feedbackd/sessions/inbox"
)

// role is what one command runs: which NATS it uses, which credentials it
// needs, and its parts, started in this order and stopped in reverse.
type role struct {
	name  string
	about string
	// service names the role in /health.
	service string
	nats    natsPolicy
	creds   credentialPolicy
	parts   []part
}

type natsPolicy int

const (
	// externalNATS: NATS_URL is required.
	externalNATS natsPolicy = iota + 1
	// embeddedUnlessURL: an in-process NATS server unless NATS_URL is set.
	embeddedUnlessURL
	// natsServerOnly: the role is a NATS server and nothing else.
	natsServerOnly
)

type credentialPolicy int

const (
	// noCredentials: the role authenticates nobody.
	noCredentials credentialPolicy = iota
	// requireCredentials: API_KEYS, JWT_SECRET or JWKS_URL (or
	// AUTH_DISABLED), shared by every replica.
	requireCredentials
	// generateCredentials: with none configured, generate an API key into
	// DATA_DIR, for a first start on a laptop.
	generateCredentials
)

// part is one piece of a role. bind runs before NATS is ready and claims
// what the part listens on; start runs once the backend is open and returns
// when the part serves. Either may be nil. Each registers what Close must
// undo with Main.onClose.
type part struct {
	name  string
	bind  func(m *Main) error
	start func(m *Main, be *Backend) error
}

// The roles, in the order `feedbackd help` lists them. A new worker that
// follows the change feed (as the expirer does) is one more entry here and
// one more part below.
var roles = []role{
	{name: "serve", about: "everything in one process with an embedded NATS server", service: "feedbackd",
		nats: embeddedUnlessURL, creds: generateCredentials, parts: []part{notifierPart, expirerPart, dispatcherPart, edgePart, metricsPart}},
	{name: "edge", about: "auth, MCP, REST API and pages against NATS_URL", service: "feedbackd",
		nats: externalNATS, creds: requireCredentials, parts: []part{edgePart, metricsPart}},
	{name: "notifier", about: "the WebSocket service against NATS_URL (on NOTIFIER_ADDR)", service: "feedbackd-notifier",
		nats: externalNATS, creds: requireCredentials, parts: []part{notifierPart}},
	{name: "expirer", about: "enforces session timeouts against NATS_URL (health on EXPIRER_ADDR)", service: "feedbackd-expirer",
		nats: externalNATS, creds: noCredentials, parts: []part{expirerOpsPart, expirerPart}},
	{name: "dispatcher", about: "delivers notifications (webhooks, Telegram, Slack, ntfy, Web Push) against NATS_URL (health on DISPATCHER_ADDR)",
		service: "feedbackd-dispatcher", nats: externalNATS, creds: noCredentials, parts: []part{dispatcherOpsPart, dispatcherPart}},
	{name: "nats", about: "one NATS server with JetStream (a cluster member with NATS_ROUTES)", service: "feedbackd-nats",
		nats: natsServerOnly},
}

func findRole(name string) *role {
	for i := range roles {
		if roles[i].name == name {
			return &roles[i]
		}
	}
	return nil
}

func (r *role) has(name string) bool {
	for _, p := range r.parts {
		if p.name == name {
			return true
		}
	}
	return false
}

// authenticates reports whether the role checks credentials.
func (r *role) authenticates() bool { return r.has(edgeName) || r.has(notifierName) }

// Names of the parts that other parts look for.
const (
	edgeName       = "edge"
	notifierName   = "notifier"
	dispatcherName = "dispatcher"
)

// The parts.
var (
	// edgePart is the HTTP app on LISTEN_ADDR: REST, pages, MCP, the
	// operations API, and in serve the notifier's WebSockets.
	edgePart = part{name: edgeName, bind: bindEdge, start: startEdge}
	// notifierPart is the WebSocket service: on the edge's app when the
	// role has one, else on its own app on NOTIFIER_ADDR (or LISTEN_ADDR).
	notifierPart = part{name: notifierName, bind: bindNotifier, start: startNotifier}
	// expirerPart enforces timeouts.
	expirerPart = part{name: "expirer", start: startExpirer}
	// metricsPart serves the operations API on METRICS_ADDR, when set,
	// instead of on the public listener.
	metricsPart = part{name: "metrics", bind: func(m *Main) error {
		return m.bindOps(m.Config.MetricsAddr, "METRICS_ADDR")
	}}
	// expirerOpsPart serves the expirer's operations API on EXPIRER_ADDR,
	// when set.
	expirerOpsPart = part{name: "expirer-ops", bind: func(m *Main) error {
		return m.bindOps(m.Config.ExpirerAddr, "EXPIRER_ADDR")
	}}
	// dispatcherPart delivers notifications to people's channels.
	dispatcherPart = part{name: dispatcherName, start: startDispatcher}
	// dispatcherOpsPart serves the dispatcher's operations API on
	// DISPATCHER_ADDR, when set.
	dispatcherOpsPart = part{name: "dispatcher-ops", bind: func(m *Main) error {
		return m.bindOps(m.Config.Dispatch.Addr, "DISPATCHER_ADDR")
	}}
)

// start is the synchronous half of Run for a role.
func (m *Main) start() error {
	cfg := &m.Config
	r := m.role
	m.sizeConnections()
	if r.nats == externalNATS && cfg.NATSURL == "" {
		return fmt.Errorf("feedbackd %s needs NATS_URL (feedbackd serve runs every role over an embedded server)", r.name)
	}
	if r.nats == natsServerOnly || (r.nats == embeddedUnlessURL && cfg.NATSURL == "") {
		if err := m.lockDataDir(); err != nil {
			return err
		}
	}
	if r.nats == natsServerOnly {
		return m.startNATSServer()
	}
	if r.has(dispatcherName) && !r.has(edgeName) && cfg.PublicURL == "" {
		return fmt.Errorf("feedbackd %s needs PUBLIC_URL: notifications link to the questions' pages there", r.name)
	}
	switch r.creds {
	case requireCredentials:
		if !cfg.hasCredentials() && !cfg.AuthDisabled {
			return fmt.Errorf("feedbackd %s needs API_KEYS, JWT_SECRET or JWKS_URL (or AUTH_DISABLED=true): replicas must share their credentials", r.name)
		}
	case generateCredentials:
		if !cfg.hasCredentials() && !cfg.AuthDisabled {
			key, created, err := ensureDevKey(cfg.DataDir)
			if err != nil {
				return err
			}
			cfg.APIKeys = []string{key}
			m.devKey = &devKey{key: key, created: created}
		}
	}
	if r.authenticates() {
		if err := m.newAuthenticator(); err != nil {
			return err
		}
	}

	url := cfg.NATSURL
	if r.nats == embeddedUnlessURL && url == "" {
		if err := m.startEmbeddedNATS(); err != nil {
			return err
		}
		url = "embedded"
	}
	m.watch = &natsWatch{url: natsutil.RedactURL(url), log: m.log}

	for _, p := range r.parts {
		if p.bind == nil {
			continue
		}
		if err := p.bind(m); err != nil {
			return err
		}
	}
	nc, err := natsutil.Connect(natsutil.ClientConfig{
		URL:           cfg.NATSURL,
		Embedded:      m.embedded,
		Name:          "feedbackd-" + r.name,
		Creds:         cfg.NATSCreds,
		TLSCA:         cfg.NATSTLSCA,
		TLSCert:       cfg.NATSTLSCert,
		TLSKey:        cfg.NATSTLSKey,
		Log:           m.log,
		ConnectFailed: m.watch.connectFailed,
	})
	if err != nil {
		return err
	}
	m.nc.Store(nc)
	untrack := metrics.TrackNATS(nc)
	m.onClose("NATS connection", func() error { untrack(); nc.Close(); return nil })

	m.starter.Go(m.startParts)
	return nil
}

// startParts is the background half of Run: it waits for JetStream, opens
// the backend and starts the parts in order.
func (m *Main) startParts() {
	be, err := openBackend(m.ctx, m.Config, m.nc.Load(), m.log, m.watch, m.Hooks.Sessions...)
	if err != nil {
		if m.ctx.Err() == nil {
			m.fail(err)
		}
		return
	}
	m.onClose("backend", be.Close)
	m.backend.Store(be)
	for _, p := range m.role.parts {
		if p.start == nil {
			continue
		}
		if m.ctx.Err() != nil {
			return
		}
		if err := p.start(m, be); err != nil {
			if m.ctx.Err() == nil {
				m.fail(fmt.Errorf("start %s: %w", p.name, err))
			}
			return
		}
	}
	m.log.Info("ready", "version", m.version())
	close(m.ready)
}

// newAuthenticator builds the one authenticator of the process, shared by
// the edge and the notifier, and says once what is weak in its
// configuration.
func (m *Main) newAuthenticator() error {
	cfg := m.Config
	ac := auth.Config{
		APIKeys:     cfg.APIKeys,
		JWTSecret:   cfg.JWTSecret,
		JWTIssuer:   cfg.JWTIssuer,
		JWTAudience: cfg.JWTAudience,
		JWKSURL:     cfg.JWKSURL,
		Logger:      m.log.With("component", "auth"),
		Disabled:    cfg.AuthDisabled,
	}
	if m.Hooks.Auth != nil {
		m.Hooks.Auth(&ac)
	}
	a, err := auth.New(ac)
	if err != nil {
		return fmt.Errorf("configure authentication: %w", err)
	}
	m.authn = a
	m.onClose("authenticator", a.Close)
	for _, w := range a.Warnings() {
		m.log.Warn("weak authentication setting", "warning", w)
	}
	if cfg.AuthDisabled {
		m.log.Warn("AUTH_DISABLED=true: every request is accepted without credentials and all sessions share one owner. Never run this on a network others can reach.")
	}
	return nil
}

// lockDataDir locks DATA_DIR for the life of the process before the
// embedded NATS server opens its store there: two servers on one store
// corrupt it (each believes it owns the message blocks), so the second
// refuses to start and says which process holds the directory.
func (m *Main) lockDataDir() error {
	l, err := dirlock.Acquire(m.Config.DataDir)
	if errors.Is(err, dirlock.ErrUnsupported) {
		m.log.Warn("DATA_DIR cannot be locked on this system: never run two servers on it at once", "dir", m.Config.DataDir)
		return nil
	}
	if err != nil {
		return fmt.Errorf("DATA_DIR: %w", err)
	}
	m.onClose("DATA_DIR lock", l.Release)
	return nil
}

// startEmbeddedNATS starts serve's in-process NATS server on DATA_DIR.
func (m *Main) startEmbeddedNATS() error {
	srv, err := natsutil.StartEmbedded(natsutil.EmbeddedConfig{
		StoreDir: filepath.Join(m.Config.DataDir, "nats"),
		Listen:   m.Config.NATSListen,
		Log:      m.log.With("component", "nats"),
	})
	if err != nil {
		return err
	}
	m.embedded = srv
	m.onClose("embedded NATS", func() error { srv.Shutdown(); srv.WaitForShutdown(); return nil })
	if m.Config.NATSListen != "" {
		m.log.Info("embedded NATS accepts clients", "url", srv.ClientURL())
	}
	return nil
}

// startNATSServer runs the nats role: one NATS server with JetStream,
// optionally a member of a cluster, so a cluster needs no binary besides
// feedbackd. Any stock nats-server ≥ 2.11 works in its place.
func (m *Main) startNATSServer() error {
	cfg := m.Config
	if cfg.NATSListen == "" {
		return errors.New("feedbackd nats needs NATS_LISTEN (host:port for clients)")
	}
	if cfg.NATSClusterListen != "" && cfg.NATSServerName == "" {
		return errors.New("feedbackd nats in a cluster needs a unique NATS_SERVER_NAME")
	}
	srv, err := natsutil.StartEmbedded(natsutil.EmbeddedConfig{
		StoreDir:      filepath.Join(cfg.DataDir, "nats"),
		Listen:        cfg.NATSListen,
		Name:          cfg.NATSServerName,
		Log:           m.log,
		ClusterName:   cfg.NATSClusterName,
		ClusterListen: cfg.NATSClusterListen,
		Routes:        cfg.NATSRoutes,
		MonitorListen: cfg.NATSMonitorListen,
	})
	if err != nil {
		return err
	}
	m.embedded = srv
	m.onClose("NATS server", func() error { srv.Shutdown(); srv.WaitForShutdown(); return nil })
	m.log.Info("NATS is serving", "clients", srv.ClientURL(), "cluster", cfg.NATSClusterListen, "routes", len(cfg.NATSRoutes))
	close(m.ready)
	return nil
}

// appAddr is an address a part's app will serve, answered until then by
// the starting server.
type appAddr struct {
	h        *handoff
	starting *startingServer
	once     sync.Once
	// hosts are the Host header values the app answers.
	hosts *hostcheck.Policy
}

// takeOver stops the starting server; the caller then serves h.stage().
func (l *appAddr) takeOver() error {
	var err error
	l.once.Do(func() { err = l.starting.stop() })
	return err
}

// bindApp listens on addr for the part name and answers there until the
// part's app takes over.
func (m *Main) bindApp(name, addr, variable string, ops *opsapi.Handler) (*appAddr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s %s: %w", variable, addr, err)
	}
	if m.Hooks.Listen != nil {
		ln = m.Hooks.Listen(ln)
	}
	h := newHandoff(m.guard(name, ln, m.Config.MaxConns))
	m.onClose(name+" listener", h.Close)
	l := &appAddr{h: h, starting: serveStarting(h, startingHandler(ops))}
	m.onClose(name+" starting server", l.takeOver)
	if m.listeners == nil {
		m.listeners = map[string]*appAddr{}
	}
	m.listeners[name] = l
	return l, nil
}

// bindOps serves the operations API (with /metrics) on addr, from now until
// Close; "" binds nothing.
func (m *Main) bindOps(addr, variable string) error {
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s %s: %w", variable, addr, err)
	}
	m.opsURL = "http://" + ln.Addr().String()
	// Profiles only here, on an address of the operations API alone, never
	// on a public listener.
	h := m.opsHandlerWith(true, m.Config.DebugPprof)
	gl := m.guard("ops", ln, listener.OpsMaxConns)
	m.goRun(variable, func(ctx context.Context) error { return opsapi.Serve(ctx, gl, h) })
	m.log.Info("serving /health, /ready and /metrics", "url", m.opsURL)
	if m.Config.DebugPprof {
		m.log.Warn("DEBUG_PPROF=true: serving the runtime's profiles", "url", m.opsURL+opsapi.ProfilePath)
	}
	return nil
}

// goRun runs run until Close cancels its context. An error returned before
// that fails the role.
func (m *Main) goRun(name string, run func(ctx context.Context) error) {
	ctx, cancel := context.WithCancel(m.ctx)
	errc := make(chan error, 1)
	go func() {
		err := run(ctx)
		if err != nil && ctx.Err() == nil {
			m.fail(fmt.Errorf("%s: %w", name, err))
		} else if err == nil && ctx.Err() == nil {
			m.fail(fmt.Errorf("%s stopped", name))
		}
		errc <- err
	}()
	m.onClose(name, func() error {
		cancel()
		if err := <-errc; err != nil && ctx.Err() == nil {
			return err
		}
		return nil
	})
}

// goServe serves HTTP with serve until Close calls shutdown (bounded to
// 10 s). Serving that ends before that fails the role.
func (m *Main) goServe(name string, serve func() error, shutdown func(context.Context) error) {
	var stopping atomic.Bool
	errc := make(chan error, 1)
	go func() {
		err := serve()
		if !stopping.Load() {
			if err == nil {
				err = errors.New("stopped serving")
			}
			m.fail(fmt.Errorf("%s: %w", name, err))
		}
		errc <- err
	}()
	m.onClose(name, func() error {
		stopping.Store(true)
		ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownGrace)
		defer cancel()
		err := shutdown(ctx)
		if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
		return err
	})
}

func bindEdge(m *Main) error {
	cfg := m.Config
	l, err := m.bindApp(edgeName, cfg.ListenAddr, "LISTEN_ADDR", m.opsHandler(cfg.MetricsAddr == ""))
	if err != nil {
		return err
	}
	m.url = "http://" + l.h.Addr().String()
	public := baseURL(cfg, l.h.Addr())
	m.log.Info("feedbackd is listening", "url", public, "version", m.version())
	if m.devKey != nil {
		printDevKeyBanner(m.Stdout, cfg.DataDir, public, m.devKey.key, m.devKey.created)
	}
	hosts, err := m.hostPolicy(l.h.Addr())
	if err != nil {
		return err
	}
	l.hosts = hosts
	return nil
}

// hostPolicy is which Host header values the listener at addr answers
// (docs/api.md, "Host check"), and says at start what is missing.
func (m *Main) hostPolicy(addr net.Addr) (*hostcheck.Policy, error) {
	cfg := m.Config
	loopback := isLoopback(addr)
	hosts, err := hostcheck.New(loopback, cfg.PublicURL, cfg.AllowedHosts)
	if err != nil {
		return nil, fmt.Errorf("host check: %w", err)
	}
	switch {
	case loopback:
	case cfg.PublicURL == "" && len(cfg.AllowedHosts) == 0:
		// Refusing every name would break every first start on a server
		// (it is reached by addresses it cannot know); say what to set.
		m.log.Warn("PUBLIC_URL and ALLOWED_HOSTS are not set: requests for any Host are answered (no DNS-rebinding check), and links are built from the Host header, which a client can spoof; set PUBLIC_URL in production")
	case cfg.PublicURL == "":
		m.log.Warn("PUBLIC_URL is not set: links are built from the request's Host header; set PUBLIC_URL in production")
	}
	return hosts, nil
}

func startEdge(m *Main, be *Backend) error {
	cfg := m.Config
	ec := edgeConfig(cfg, m.version())
	ec.Ops = m.opsHandler(cfg.MetricsAddr == "")
	ec.PageTokens = be.PageTokens()
	ec.MCP.Relay = relay.NewNATS(be.Conn(), edge.RelaySubjectPrefix, m.log.With("component", "relay"))
	ec.Hosts = m.listeners[edgeName].hosts
	ec.Channels = channelsAPI(cfg, be)
	ec.TelegramWebhook = telegramWebhook(cfg, be)
	ec.Inbox = &edge.InboxAPI{Links: be.Inbox()}
	if m.Hooks.Edge != nil {
		m.Hooks.Edge(&ec)
	}
	srv := edge.New(ec, be.Service(), m.authn, m.log)
	if n := m.notifier.Load(); n != nil {
		n.Mount(srv.App())
	}
	if m.Hooks.EdgeApp != nil {
		m.Hooks.EdgeApp(srv.App())
	}
	logEdgeSecurity(cfg, m.log)
	l := m.listeners[edgeName]
	if err := l.takeOver(); err != nil {
		m.log.Warn("stop the starting server", "err", err)
	}
	st := l.h.stage()
	m.goServe("edge HTTP", func() error { return srv.Serve(st) }, func(ctx context.Context) error {
		// Closed too, in case the server had not yet begun to accept when
		// Shutdown ran: fasthttp would then have no listener to close.
		defer st.Close()
		return srv.Shutdown(ctx)
	})
	m.edge.Store(srv)
	return nil
}

func bindNotifier(m *Main) error {
	if m.role.has(edgeName) {
		return nil // the edge's app carries /ws
	}
	addr := m.Config.NotifierAddr
	if addr == "" {
		addr = m.Config.ListenAddr
	}
	l, err := m.bindApp(notifierName, addr, "NOTIFIER_ADDR", m.opsHandler(true))
	if err != nil {
		return err
	}
	m.url = "http://" + l.h.Addr().String()
	m.log.Info("feedbackd notifier is listening", "url", "ws://"+l.h.Addr().String()+"/ws", "version", m.version())
	l.hosts, err = m.hostPolicy(l.h.Addr())
	return err
}

func startNotifier(m *Main, be *Backend) error {
	cfg := m.Config
	origins := cfg.AllowedOrigins
	if cfg.PublicURL != "" {
		// Behind a proxy the page's origin is PUBLIC_URL, not the Host the
		// notifier sees.
		origins = append(origins[:len(origins):len(origins)], originOf(cfg.PublicURL))
	}
	nc := notifier.Config{
		AllowedOrigins: origins,
		QueueSize:      cfg.Notifier.QueueSize,
		MaxConnections: cfg.Notifier.MaxConnections,
		MaxPerSession:  cfg.Notifier.MaxPerSession,
		ReadLimit:      cfg.Notifier.ReadLimit,
		PingInterval:   cfg.Notifier.PingInterval,
	}
	if m.Hooks.Notifier != nil {
		m.Hooks.Notifier(&nc)
	}
	// The notifier alone also takes the inbox's socket credential.
	authn := inbox.SocketAuthenticator{Links: be.Inbox(), Next: m.authn}
	n := notifier.New(nc, be.Service(), authn, m.log.With("component", "notifier"), notifier.WithPageTokens(be.PageTokens()))
	rctx, cancel := context.WithTimeout(m.ctx, 10*time.Second)
	rev, err := be.LastRevision(rctx)
	cancel()
	if err != nil {
		// Only /ws clients that connect before the first change lose a
		// precise resume point; the notifier itself works.
		m.log.Warn("could not read the bucket's latest revision", "err", err)
	}
	n.RaiseWatermark(rev)
	m.goRun("notifier", n.Run)
	// A revoked (or expired) inbox link closes the sockets it opened here
	// at once, as every other notifier does with its own.
	m.goRun("inbox link revocations", func(ctx context.Context) error {
		return be.Links().WatchRemoved(ctx, m.log.With("component", "notifier"), func(id string) {
			n.Revoke(inbox.CredentialPrefix + id)
		})
	})
	m.notifier.Store(n)
	l := m.listeners[notifierName]
	if l == nil {
		return nil // mounted on the edge's app by startEdge
	}
	app := n.NewApp(notifier.AppConfig{Ops: m.opsHandler(true), Hosts: l.hosts})
	if err := l.takeOver(); err != nil {
		m.log.Warn("stop the starting server", "err", err)
	}
	st := l.h.stage()
	m.goServe("notifier HTTP", func() error {
		if err := app.Listener(st); err != nil && !errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("serve HTTP: %w", err)
		}
		return nil
	}, func(ctx context.Context) error {
		defer st.Close() // as for the edge
		return app.Shutdown(ctx)
	})
	return nil
}

func startExpirer(m *Main, be *Backend) error {
	m.goRun("expirer", func(ctx context.Context) error {
		return expirer.Run(ctx, expirer.Config{
			JetStream: be.JetStream(),
			Store:     be.Store(),
			Service:   be.Service(),
			Log:       m.log.With("component", "expirer"),
			Replicas:  m.Config.KVReplicas,
		})
	})
	return nil
}

// originOf is the scheme://host of a URL.
func originOf(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return ""
	}
	host, _, _ := strings.Cut(rest, "/")
	return scheme + "://" + host
}

// metricsHandler serves the process's Prometheus registry.
func metricsHandler() http.Handler { return metrics.Handler() }
