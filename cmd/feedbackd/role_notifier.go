package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedbackd/feedbackd/notifier"
	"github.com/feedbackd/feedbackd/sessions/natskv"
)

// notifierEnv is the notifier's share of the configuration: its limits.
// NOTIFIER_ADDR and ALLOWED_ORIGINS are in config itself.
type notifierEnv struct {
	QueueSize      int           `env:"NOTIFIER_QUEUE_SIZE" envDefault:"64"`
	MaxConnections int           `env:"NOTIFIER_MAX_CONNECTIONS" envDefault:"50000"`
	MaxPerSession  int           `env:"NOTIFIER_MAX_PER_SESSION" envDefault:"1000"`
	ReadLimit      int64         `env:"NOTIFIER_READ_LIMIT" envDefault:"4096"`
	PingInterval   time.Duration `env:"NOTIFIER_PING_INTERVAL" envDefault:"25s"`
}

func init() {
	roles["notifier"] = runNotifier
	serveParts = append(serveParts, notifierPart)
}

// notifierPart mounts the WebSocket routes on the edge's app, so that serve
// answers /ws on LISTEN_ADDR beside the REST API and the pages.
func notifierPart(env *roleEnv) (part, error) {
	n, closeAuth, err := newNotifier(env.ctx, env.cfg, env.be, env.log)
	if err != nil {
		return part{}, err
	}
	n.Mount(env.edge.App())
	return part{name: "notifier", run: func(ctx context.Context) error {
		defer closeAuth()
		return n.Run(ctx)
	}}, nil
}

// runNotifier runs the notifier alone against an external NATS, on
// NOTIFIER_ADDR (or LISTEN_ADDR), with its own /health.
func runNotifier(ctx context.Context, cfg config, log *slog.Logger, _ io.Writer) error {
	nc, err := connectStandalone(cfg, log, "notifier", true)
	if err != nil {
		return err
	}
	defer nc.Close()
	addr := cfg.NotifierAddr
	if addr == "" {
		addr = cfg.ListenAddr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on NOTIFIER_ADDR %s: %w", addr, err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	be, err := openBackend(ctx, cfg, nc, log)
	if err != nil {
		ln.Close()
		return err
	}
	n, closeAuth, err := newNotifier(ctx, cfg, be, log)
	if err != nil {
		ln.Close()
		cancel()
		<-be.feed
		return err
	}
	defer closeAuth()
	app := n.NewApp(notifier.AppConfig{Version: buildVersion(), Health: be.healthCheck, Ops: opsHandler(be, "feedbackd-notifier")})
	err = runParts(ctx, []part{
		{name: "notifier", run: n.Run},
		servingPart("feedbackd notifier", "ws://"+ln.Addr().String()+"/ws", log,
			func() error { return serveApp(app, ln) }, app.ShutdownWithContext),
	}, log)
	cancel()
	<-be.feed
	log.Info("stopped")
	return err
}

// newNotifier builds the notifier over be; closeAuth stops its
// authenticator's background work and is called when the notifier stops.
func newNotifier(ctx context.Context, cfg config, be *backend, log *slog.Logger) (n *notifier.Notifier, closeAuth func(), err error) {
	authn, err := newAuthenticator(cfg, log)
	if err != nil {
		return nil, nil, err
	}
	tokens, err := be.pageTokens(ctx, cfg)
	if err != nil {
		authn.Close()
		return nil, nil, err
	}
	origins := cfg.AllowedOrigins
	if u, err := url.Parse(cfg.PublicURL); err == nil && cfg.PublicURL != "" {
		// Behind a proxy the page's origin is PUBLIC_URL, not the Host the
		// notifier sees.
		origins = append(origins[:len(origins):len(origins)], u.Scheme+"://"+u.Host)
	}
	n = notifier.New(notifier.Config{
		AllowedOrigins: origins,
		QueueSize:      cfg.Notifier.QueueSize,
		MaxConnections: cfg.Notifier.MaxConnections,
		MaxPerSession:  cfg.Notifier.MaxPerSession,
		ReadLimit:      cfg.Notifier.ReadLimit,
		PingInterval:   cfg.Notifier.PingInterval,
	}, be.svc, authn, log.With("component", "notifier"), notifier.WithPageTokens(tokens))

	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rev, err := lastRevision(rctx, be.store)
	if err != nil {
		// Only /ws clients that connect before the first change lose a
		// precise resume point; the notifier itself works.
		log.Warn("could not read the bucket's latest revision", "err", err)
	}
	n.RaiseWatermark(rev)
	return n, func() { _ = authn.Close() }, nil
}

// lastRevision is the latest revision in the sessions bucket: every change
// the notifier's feed has not delivered is newer.
func lastRevision(ctx context.Context, store *natskv.Store) (uint64, error) {
	st, err := store.KV().Status(ctx)
	if err != nil {
		return 0, fmt.Errorf("read bucket status: %w", err)
	}
	bs, ok := st.(*jetstream.KeyValueBucketStatus)
	if !ok {
		return 0, fmt.Errorf("bucket status of type %T has no stream info", st)
	}
	return bs.StreamInfo().State.LastSeq, nil
}

// serveApp serves a fiber app on ln; a listener closed by shutdown is a
// normal end.
func serveApp(app *fiber.App, ln net.Listener) error {
	if err := app.Listener(ln); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("serve HTTP: %w", err)
	}
	return nil
}
