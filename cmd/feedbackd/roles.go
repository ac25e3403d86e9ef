package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedbackd/feedbackd/edge"
	"github.com/feedbackd/feedbackd/pkg/auth"
	"github.com/feedbackd/feedbackd/pkg/metrics"
	"github.com/feedbackd/feedbackd/pkg/natsutil"
	"github.com/feedbackd/feedbackd/pkg/relay"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/natskv"
)

type roleFunc func(ctx context.Context, cfg config, log *slog.Logger, stdout io.Writer) error

var roles = map[string]roleFunc{
	"serve": runServe,
	"edge":  runEdge,
}

// backend is what every role shares: the NATS connection, the session store,
// the change feed and the service over them.
type backend struct {
	nc    *nats.Conn
	js    jetstream.JetStream
	store *natskv.Store
	svc   *sessions.Service
	feed  <-chan struct{}
	log   *slog.Logger
}

func openBackend(ctx context.Context, cfg config, nc *nats.Conn, log *slog.Logger) (*backend, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("open JetStream: %w", err)
	}
	store, err := openStore(ctx, js, cfg, log)
	if err != nil {
		return nil, err
	}
	hub := sessions.NewHub()
	feed, err := natskv.NewFeed(store, hub, log).Start(ctx)
	if err != nil {
		return nil, err
	}
	svc := sessions.NewService(store, hub,
		sessions.WithLimits(sessions.DefaultLimits(time.Duration(cfg.DefaultTimeout)*time.Second, time.Duration(cfg.MaxTimeout)*time.Second)),
		sessions.WithRetention(cfg.ResultRetention),
		sessions.WithObserver(metrics.Sessions{}))
	metrics.TrackNATS(nc) // for the life of the process, as the connection
	return &backend{nc: nc, js: js, store: store, svc: svc, feed: feed, log: log}, nil
}

// pageTokenSecret names the cluster-wide secret that page tokens are signed
// with: the edge mints them, the notifier checks them, on any replica.
const pageTokenSecret = "page-token"

// pageTokens returns the minter and checker of the feedback page's socket
// credential, keyed by the secret every replica shares.
func (b *backend) pageTokens(ctx context.Context, cfg config) (*auth.PageTokens, error) {
	var secret []byte
	err := untilJetStream(ctx, b.log, "read the page token secret", func(ctx context.Context) (err error) {
		secret, err = natsutil.SharedSecret(ctx, b.js, pageTokenSecret, cfg.KVReplicas)
		return err
	})
	if err != nil {
		return nil, err
	}
	return auth.NewPageTokens(secret)
}

// openStore opens the sessions bucket, waiting for JetStream as long as it
// takes.
func openStore(ctx context.Context, js jetstream.JetStream, cfg config, log *slog.Logger) (*natskv.Store, error) {
	var store *natskv.Store
	err := untilJetStream(ctx, log, "open sessions bucket", func(ctx context.Context) (err error) {
		store, err = natskv.Open(ctx, js, natskv.Options{Replicas: cfg.KVReplicas})
		return err
	})
	return store, err
}

// untilJetStream retries a JetStream set-up step with backoff until it works
// or ctx ends: a role started before its NATS cluster has elected a leader,
// or while a node restarts, must wait for it, not die.
func untilJetStream(ctx context.Context, log *slog.Logger, what string, step func(ctx context.Context) error) error {
	backoff := 250 * time.Millisecond
	for {
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := step(sctx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, errors.Join(ctx.Err(), err))
		}
		log.Warn("waiting for JetStream", "step", what, "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// healthCheck reports NATS unreachable when the connection is down or the
// bucket cannot be read.
func (b *backend) healthCheck(ctx context.Context) error {
	if !b.nc.IsConnected() {
		return errors.New("NATS is not connected")
	}
	if _, err := b.store.KV().Status(ctx); err != nil {
		return fmt.Errorf("read bucket status: %w", err)
	}
	return nil
}

// newAuthenticator builds the one authenticator of a process; the caller
// closes it to stop the JWKS refresh.
func newAuthenticator(cfg config, log *slog.Logger) (*auth.Authenticator, error) {
	a, err := auth.New(auth.Config{
		APIKeys:     cfg.APIKeys,
		JWTSecret:   cfg.JWTSecret,
		JWTIssuer:   cfg.JWTIssuer,
		JWTAudience: cfg.JWTAudience,
		JWKSURL:     cfg.JWKSURL,
		Logger:      log.With("component", "auth"),
		Disabled:    cfg.AuthDisabled,
	})
	if err != nil {
		return nil, fmt.Errorf("configure authentication: %w", err)
	}
	for _, w := range a.Warnings() {
		log.Warn("authentication configuration", "warning", w)
	}
	return a, nil
}

func warnAuthDisabled(cfg config, log *slog.Logger) {
	if cfg.AuthDisabled {
		log.Warn("AUTH_DISABLED=true: every request is accepted without credentials and all sessions share one owner. Never run this on a network others can reach.")
	}
}

// runServe runs everything in one process over an embedded NATS server.
func runServe(ctx context.Context, cfg config, log *slog.Logger, stdout io.Writer) error {
	var devKey string
	var devKeyCreated bool
	if !cfg.hasCredentials() && !cfg.AuthDisabled {
		var err error
		if devKey, devKeyCreated, err = ensureDevKey(cfg.DataDir); err != nil {
			return err
		}
		cfg.APIKeys = []string{devKey}
	}
	warnAuthDisabled(cfg, log)

	var ns *server.Server
	if cfg.NATSURL == "" {
		var err error
		ns, err = natsutil.StartEmbedded(natsutil.EmbeddedConfig{
			StoreDir: filepath.Join(cfg.DataDir, "nats"),
			Listen:   cfg.NATSListen,
			Log:      log.With("component", "nats"),
		})
		if err != nil {
			return err
		}
		defer func() {
			ns.Shutdown()
			ns.WaitForShutdown()
		}()
		if cfg.NATSListen != "" {
			log.Info("embedded NATS accepts clients", "url", ns.ClientURL())
		}
	}
	nc, err := connect(cfg, ns, log)
	if err != nil {
		return err
	}
	defer nc.Close()

	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on LISTEN_ADDR %s: %w", cfg.ListenAddr, err)
	}
	if devKey != "" {
		printDevKeyBanner(stdout, cfg.DataDir, baseURL(cfg, ln), devKey, devKeyCreated)
	}
	return serveEdge(ctx, cfg, nc, ln, log, serveParts)
}

// runEdge runs the edge alone against an external NATS.
func runEdge(ctx context.Context, cfg config, log *slog.Logger, _ io.Writer) error {
	nc, err := connectStandalone(cfg, log, "edge", true)
	if err != nil {
		return err
	}
	defer nc.Close()
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on LISTEN_ADDR %s: %w", cfg.ListenAddr, err)
	}
	return serveEdge(ctx, cfg, nc, ln, log, nil)
}

// connectStandalone checks what a role run on its own needs (an external
// NATS, and the credentials every replica shares when it authenticates) and
// connects to NATS.
func connectStandalone(cfg config, log *slog.Logger, role string, authenticates bool) (*nats.Conn, error) {
	if cfg.NATSURL == "" {
		return nil, fmt.Errorf("feedbackd %s needs NATS_URL (feedbackd serve runs every role over an embedded server)", role)
	}
	if authenticates {
		if !cfg.hasCredentials() && !cfg.AuthDisabled {
			return nil, fmt.Errorf("feedbackd %s needs API_KEYS, JWT_SECRET or JWKS_URL (or AUTH_DISABLED=true): replicas must share their credentials", role)
		}
		warnAuthDisabled(cfg, log)
	}
	return connect(cfg, nil, log)
}

func connect(cfg config, embedded *server.Server, log *slog.Logger) (*nats.Conn, error) {
	return natsutil.Connect(natsutil.ClientConfig{
		URL:      cfg.NATSURL,
		Embedded: embedded,
		Name:     "feedbackd",
		Creds:    cfg.NATSCreds,
		TLSCA:    cfg.NATSTLSCA,
		TLSCert:  cfg.NATSTLSCert,
		TLSKey:   cfg.NATSTLSKey,
		Log:      log,
	})
}

// part is one piece of a role that runs until its context ends: the edge's
// HTTP server, the notifier, the expirer.
type part struct {
	name string
	run  func(ctx context.Context) error
}

// roleEnv is what a part is built from.
type roleEnv struct {
	ctx  context.Context // ends when the role stops; bounds set-up work
	cfg  config
	log  *slog.Logger
	be   *backend
	edge *edge.Server // the HTTP app on LISTEN_ADDR in serve and edge; nil elsewhere
}

// serveParts builds the parts that serve runs in process beside the edge.
// Each role's file appends its builder in init, so adding a role touches no
// other role's code.
var serveParts []func(env *roleEnv) (part, error)

func serveEdge(ctx context.Context, cfg config, nc *nats.Conn, ln net.Listener, log *slog.Logger, extra []func(*roleEnv) (part, error)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	be, err := openBackend(ctx, cfg, nc, log)
	if err != nil {
		ln.Close()
		return err
	}
	authn, err := newAuthenticator(cfg, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer authn.Close()
	tokens, err := be.pageTokens(ctx, cfg)
	if err != nil {
		ln.Close()
		return err
	}
	ec := edgeConfig(cfg)
	ec.DisableMetrics = cfg.MetricsAddr != ""
	ec.PageTokens = tokens
	ec.MCPWait = time.Duration(cfg.MCPWaitSeconds) * time.Second
	ec.Relay = relay.NewNATS(nc, edge.RelaySubjectPrefix, log.With("component", "relay"))
	srv := edge.New(ec, be.svc, authn, be.healthCheck, log)
	logEdgeSecurity(cfg, log)
	if cfg.PublicURL == "" && !isLoopback(ln.Addr()) {
		log.Warn("PUBLIC_URL is not set: links are built from the request's Host header, which a client can spoof; set PUBLIC_URL in production")
	}
	env := &roleEnv{ctx: ctx, cfg: cfg, log: log, be: be, edge: srv}
	parts := []part{}
	if cfg.MetricsAddr != "" {
		p, err := opsPart(cfg, be, log)
		if err != nil {
			ln.Close()
			return err
		}
		parts = append(parts, p)
	}
	for _, build := range extra {
		p, err := build(env)
		if err != nil {
			ln.Close()
			return err
		}
		parts = append(parts, p)
	}
	parts = append(parts, servingPart("feedbackd", baseURL(cfg, ln), log, func() error { return srv.Serve(ln) }, srv.Shutdown))
	err = runParts(ctx, parts, log)
	cancel()
	<-be.feed
	log.Info("stopped")
	return err
}

// servingPart runs serve until ctx ends, then drains it with shutdown
// (bounded to 10 s) and waits for serve to return. what names the server in
// the log line that says it listens.
func servingPart(what, url string, log *slog.Logger, serve func() error, shutdown func(context.Context) error) part {
	return part{name: "http", run: func(ctx context.Context) error {
		errc := make(chan error, 1)
		go func() { errc <- serve() }()
		log.Info(what+" is listening", "url", url, "version", buildVersion())
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := shutdown(sctx); err != nil {
			log.Warn("HTTP shutdown", "err", err)
		}
		return <-errc
	}}
}

// runParts runs every part until ctx ends or one of them fails, then stops
// the rest and waits for them.
func runParts(ctx context.Context, parts []part, log *slog.Logger) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(parts))
	for i, p := range parts {
		wg.Go(func() {
			err := p.run(ctx)
			if err != nil && !errors.Is(err, context.Canceled) {
				log.Error("part stopped", "part", p.name, "err", err)
				errs[i] = fmt.Errorf("%s: %w", p.name, err)
			}
			cancel()
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func baseURL(cfg config, ln net.Listener) string {
	if cfg.PublicURL != "" {
		return cfg.PublicURL
	}
	return "http://" + ln.Addr().String()
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}
