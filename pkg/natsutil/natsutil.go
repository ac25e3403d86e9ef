// Package natsutil starts the embedded NATS server and opens client
// connections to it or to an external cluster; it keeps what replicas must
// agree on without talking to each other (shared secrets, SharedSecret, and
// locks one process holds at a time, Lock), and the small JetStream helpers
// workers share (a worker pool over a durable consumer, idempotent stream,
// consumer and bucket setup). It knows nothing of sessions.
package natsutil

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// EmbeddedConfig configures the in-process NATS server.
type EmbeddedConfig struct {
	// StoreDir keeps JetStream data across restarts.
	StoreDir string
	// Listen is host:port for outside clients; empty means in-process only.
	Listen string
	// Name names the server in logs and monitoring.
	Name string
	// Log, when set, receives the server's notices and errors.
	Log *slog.Logger
	// ClusterName, ClusterListen and Routes join the server to a NATS
	// cluster; JetStream then replicates across its members. Name must be
	// unique in the cluster.
	ClusterName   string
	ClusterListen string
	Routes        []string
	// MonitorListen serves NATS's monitoring endpoints (/healthz, /varz,
	// /jsz) on host:port; empty turns them off.
	MonitorListen string
}

// StartEmbedded starts a NATS server with JetStream and waits until it accepts
// connections. The caller owns it and stops it with Shutdown and
// WaitForShutdown.
func StartEmbedded(cfg EmbeddedConfig) (*server.Server, error) {
	if err := os.MkdirAll(cfg.StoreDir, 0o700); err != nil {
		return nil, fmt.Errorf("create NATS store dir: %w", err)
	}
	opts := &server.Options{
		ServerName: cfg.Name,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		NoSigs:     true,
		DontListen: cfg.Listen == "",
		// JetStream keeps its own limits; these keep a dev box safe.
		JetStreamMaxMemory: 256 << 20,
	}
	if opts.ServerName == "" {
		opts.ServerName = "feedbackd"
	}
	if cfg.Listen != "" {
		host, p, err := splitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("parse NATS_LISTEN: %w", err)
		}
		opts.Host, opts.Port = host, p
	}
	if cfg.ClusterListen != "" {
		host, p, err := splitHostPort(cfg.ClusterListen)
		if err != nil {
			return nil, fmt.Errorf("parse NATS_CLUSTER_LISTEN: %w", err)
		}
		opts.Cluster.Name = cfg.ClusterName
		opts.Cluster.Host, opts.Cluster.Port = host, p
		opts.Routes = server.RoutesFromStr(strings.Join(cfg.Routes, ","))
	}
	if cfg.MonitorListen != "" {
		host, p, err := splitHostPort(cfg.MonitorListen)
		if err != nil {
			return nil, fmt.Errorf("parse NATS_MONITOR_LISTEN: %w", err)
		}
		opts.HTTPHost, opts.HTTPPort = host, p
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("configure embedded NATS: %w", err)
	}
	// The server reports a listener it cannot open (a port in use) or a
	// JetStream it cannot start only through its logger's Fatalf, and then
	// never becomes ready; catch it so the start fails at once and says why.
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	logger := &fatalCatcher{Logger: &slogAdapter{log: log}, fatal: make(chan string, 1)}
	srv.SetLoggerV2(logger, false, false, false)
	srv.Start()
	// A clustered server is ready for connections only once it has routes;
	// allow a member to wait for its peers.
	deadline := time.Now().Add(embeddedReadyTimeout)
	for !srv.ReadyForConnections(100 * time.Millisecond) {
		select {
		case msg := <-logger.fatal:
			srv.Shutdown()
			srv.WaitForShutdown()
			return nil, fmt.Errorf("start embedded NATS: %s", msg)
		default:
		}
		if time.Now().After(deadline) {
			srv.Shutdown()
			srv.WaitForShutdown()
			return nil, fmt.Errorf("embedded NATS did not become ready in %s", embeddedReadyTimeout)
		}
	}
	return srv, nil
}

// embeddedReadyTimeout bounds how long a server may take to open its
// listeners.
const embeddedReadyTimeout = 2 * time.Minute

func splitHostPort(addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%q: %w", addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return "", 0, fmt.Errorf("%q: bad port: %w", addr, err)
	}
	if p == 0 {
		// nats-server reads 0 as "the default port"; a listener's :0 means
		// "any free port".
		p = server.RANDOM_PORT
	}
	return host, p, nil
}

// ClientConfig says how to reach NATS.
type ClientConfig struct {
	// URL is a comma-separated list of servers; ignored when Embedded is set.
	URL      string
	Embedded *server.Server
	Name     string
	Creds    string // path to a .creds file
	TLSCA    string
	TLSCert  string
	TLSKey   string
	Log      *slog.Logger
	// ConnectFailed, when set, hears why each attempt to (re)connect
	// failed: refused, unresolvable, TLS, authorization. It runs on the
	// connection's callback goroutine and must not block.
	ConnectFailed func(err error)
}

// Connect opens a connection that keeps reconnecting for ever: a role rides
// out a NATS restart (or one started after it, or credentials fixed on the
// server) instead of dying with it. It returns at once, connected or not.
func Connect(cfg ClientConfig) (*nats.Conn, error) {
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	opts := []nats.Option{
		nats.Name(cfg.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(true),
		// An authorization error would otherwise close the connection for
		// good after two attempts.
		nats.IgnoreAuthErrorAbort(),
		// While disconnected, a publish fails at once instead of waiting in
		// a buffer: the caller's retry budget decides how long to try, and
		// a write a caller gave up on is not sent later behind its back.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("NATS reconnected", "server", nc.ConnectedUrlRedacted()) }),
	}
	if cfg.ConnectFailed != nil {
		opts = append(opts, nats.ReconnectErrHandler(func(_ *nats.Conn, err error) { cfg.ConnectFailed(err) }))
	}
	if cfg.Embedded != nil {
		opts = append(opts, nats.InProcessServer(cfg.Embedded))
	}
	if cfg.Creds != "" {
		opts = append(opts, nats.UserCredentials(cfg.Creds))
	}
	if cfg.TLSCA != "" || cfg.TLSCert != "" {
		tc, err := tlsConfig(cfg)
		if err != nil {
			return nil, err
		}
		opts = append(opts, nats.Secure(tc))
	}
	url := cfg.URL
	if cfg.Embedded != nil {
		url = ""
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS: %w", err)
	}
	return nc, nil
}

func tlsConfig(cfg ClientConfig) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLSCA != "" {
		pem, err := os.ReadFile(filepath.Clean(cfg.TLSCA))
		if err != nil {
			return nil, fmt.Errorf("read NATS_TLS_CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("NATS_TLS_CA holds no PEM certificate")
		}
		tc.RootCAs = pool
	}
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("load NATS client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// slogAdapter sends the NATS server's log lines to slog.
type slogAdapter struct{ log *slog.Logger }

func (a *slogAdapter) Noticef(format string, v ...any) { a.log.Debug(trim(format, v...)) }
func (a *slogAdapter) Warnf(format string, v ...any)   { a.log.Warn(trim(format, v...)) }
func (a *slogAdapter) Fatalf(format string, v ...any)  { a.log.Error(trim(format, v...)) }
func (a *slogAdapter) Errorf(format string, v ...any)  { a.log.Error(trim(format, v...)) }
func (a *slogAdapter) Debugf(format string, v ...any)  { a.log.Debug(trim(format, v...)) }
func (a *slogAdapter) Tracef(format string, v ...any)  {}

// fatalCatcher passes the server's log lines on to Logger and keeps the
// first fatal one for StartEmbedded.
type fatalCatcher struct {
	server.Logger
	fatal chan string
}

func (c *fatalCatcher) Fatalf(format string, v ...any) {
	select {
	case c.fatal <- trim(format, v...):
	default:
	}
	c.Logger.Fatalf(format, v...)
}

func trim(format string, v ...any) string { return strings.TrimSpace(fmt.Sprintf(format, v...)) }

// RedactURL is the comma-separated server list u with any user or password
// replaced, for logs.
func RedactURL(u string) string {
	parts := strings.Split(u, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if at := strings.LastIndex(p, "@"); at >= 0 {
			scheme, _, found := strings.Cut(p[:at], "://")
			if found {
				p = scheme + "://REDACTED@" + p[at+1:]
			} else {
				p = "REDACTED@" + p[at+1:]
			}
		}
		parts[i] = p
	}
	return strings.Join(parts, ",")
}
