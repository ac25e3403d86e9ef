// Package programtest runs the real feedbackd program in process for tests:
// MustRunMain starts any role (serve by default, or edge, notifier, expirer
// against a NATS server StartNATS started) on a temporary data directory,
// with two well-known API keys, quiet logs, and everything stopped when the
// test ends. WaitFor is the one way tests wait for a condition.
//
// Every package's tests start the stack through here, so the wiring users
// run is the wiring tests exercise; nothing is mocked.
package programtest

import (
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program"
	"github.com/feedbackd/feedbackd/edge"
	"github.com/feedbackd/feedbackd/notifier"
	"github.com/feedbackd/feedbackd/notifier/dispatch"
	"github.com/feedbackd/feedbackd/pkg/auth"
	"github.com/feedbackd/feedbackd/pkg/natsutil/natstest"
	"github.com/feedbackd/feedbackd/pkg/poll"
	"github.com/feedbackd/feedbackd/sessions"
)

// The API keys every stack accepts unless API_KEYS is set: principals A and
// B, for tests of tenancy.
const (
	KeyA = "test-key-A-0123456789abcdef0123456789"
	KeyB = "test-key-B-0123456789abcdef0123456789"
)

// PrincipalA and PrincipalB are the owners of what KeyA and KeyB create.
var (
	PrincipalA = "key:" + auth.Fingerprint(KeyA)
	PrincipalB = "key:" + auth.Fingerprint(KeyB)
)

// ReadyTimeout bounds how long MustRunMain waits for a stack to serve.
const ReadyTimeout = 60 * time.Second

// Option changes what MustRunMain runs.
type Option func(*settings)

type settings struct {
	role   string
	env    map[string]string
	stdout io.Writer
	logs   io.Writer
	hooks  program.Hooks
	noWait bool
	// shortTimeouts widens the configured limits' timeouts (ShortTimeouts).
	shortTimeouts bool
}

// Role runs the named role instead of serve: edge, notifier, expirer,
// dispatcher or nats. All but nats need NATS (see StartNATS and NATS); the
// dispatcher needs PUBLIC_URL too.
func Role(name string) Option { return func(s *settings) { s.role = name } }

// Env sets an environment variable of the program.
func Env(name, value string) Option { return func(s *settings) { s.env[name] = value } }

// NATS points the program at an external NATS (NATS_URL).
func NATS(url string) Option { return Env("NATS_URL", url) }

// DataDir keeps the program's data in dir instead of a fresh temporary
// directory: a second program on the same dir is a restart.
func DataDir(dir string) Option { return Env("DATA_DIR", dir) }

// Logs sends the program's log to w (at LOG_LEVEL, info unless set). By
// default the log is dropped, unless FEEDBACKD_TEST_LOG is set, when it goes
// to stderr at debug level.
func Logs(w io.Writer) Option { return func(s *settings) { s.logs = w } }

// Stdout receives what the program prints (the generated key's banner).
func Stdout(w io.Writer) Option { return func(s *settings) { s.stdout = w } }

// Sessions adds options to the sessions service, after the configured ones.
func Sessions(opts ...sessions.Option) Option {
	return func(s *settings) { s.hooks.Sessions = append(s.hooks.Sessions, opts...) }
}

// ShortTimeouts lets sessions last from one second to four hours, which the
// configuration refuses: tests of expiry need short ones.
func ShortTimeouts() Option { return func(s *settings) { s.shortTimeouts = true } }

// QuickStorageErrors makes a storage failure a 503 after 300 ms instead of
// after the production retry budget, for tests that stop NATS.
func QuickStorageErrors() Option { return Sessions(sessions.WithStorageRetry(300 * time.Millisecond)) }

// Auth adjusts the authenticator's configuration.
func Auth(f func(*auth.Config)) Option { return func(s *settings) { s.hooks.Auth = f } }

// Edge adjusts the edge's configuration.
func Edge(f func(*edge.Config)) Option { return func(s *settings) { s.hooks.Edge = f } }

// EdgeApp is called with the edge's app after its routes are registered.
func EdgeApp(f func(*fiber.App)) Option { return func(s *settings) { s.hooks.EdgeApp = f } }

// Notifier adjusts the notifier's configuration.
func Notifier(f func(*notifier.Config)) Option { return func(s *settings) { s.hooks.Notifier = f } }

// Dispatch adjusts the dispatcher's configuration.
func Dispatch(f func(*dispatch.Config)) Option { return func(s *settings) { s.hooks.Dispatch = f } }

// Listen wraps the listener of the role's HTTP app.
func Listen(f func(net.Listener) net.Listener) Option {
	return func(s *settings) { s.hooks.Listen = f }
}

// NoWait returns as soon as Run has returned (listeners bound, NATS being
// waited for), instead of once the stack serves.
func NoWait() Option { return func(s *settings) { s.noWait = true } }

// MustRunMain runs the program in process and returns it once it serves
// (see NoWait). Addresses are 127.0.0.1 with a free port; API_KEYS is KeyA
// and KeyB; the data directory is the test's; rate limits are off (a test
// of them sets RATE_LIMIT_*). It is closed when the test ends, and a failure
// to stop cleanly fails the test.
func MustRunMain(tb testing.TB, opts ...Option) *program.Main {
	tb.Helper()
	s := &settings{role: "serve", env: map[string]string{
		"LISTEN_ADDR": "127.0.0.1:0",
		"DATA_DIR":    tb.TempDir(),
		"API_KEYS":    KeyA + "," + KeyB,
		"LOG_LEVEL":   "info",
		// Tests create sessions faster than any person.
		"RATE_LIMIT_CREATE": "off",
		"RATE_LIMIT_SUBMIT": "off",
		"RATE_LIMIT_PAGE":   "off",
	}, stdout: io.Discard, logs: io.Discard}
	if os.Getenv("FEEDBACKD_TEST_LOG") != "" {
		s.logs = os.Stderr
		s.env["LOG_LEVEL"] = "debug"
	}
	for _, o := range opts {
		o(s)
	}
	for role, addr := range map[string]string{"expirer": "EXPIRER_ADDR", "dispatcher": "DISPATCHER_ADDR"} {
		if _, set := s.env[addr]; !set && s.role == role {
			s.env[addr] = "127.0.0.1:0"
		}
	}
	m := program.NewMain()
	m.Getenv = func(k string) string { return s.env[k] }
	m.Stdout, m.Stderr = s.stdout, s.logs
	m.Version = "test"
	m.Hooks = s.hooks
	if err := m.ParseFlags(tb.Context(), []string{s.role}); err != nil {
		tb.Fatalf("feedbackd %s: %v", s.role, err)
	}
	if s.shortTimeouts {
		// The configured limits (image limits included), with timeouts the
		// configuration would refuse; applied before the test's own options.
		l := program.Limits(m.Config)
		l.MinTimeout, l.MaxTimeout = time.Second, 4*time.Hour
		m.Hooks.Sessions = append([]sessions.Option{sessions.WithLimits(l)}, m.Hooks.Sessions...)
	}
	if err := m.Run(tb.Context()); err != nil {
		tb.Fatalf("feedbackd %s: %v", s.role, err)
	}
	tb.Cleanup(func() {
		if err := m.Close(); err != nil {
			tb.Errorf("feedbackd %s did not stop cleanly: %v", s.role, err)
		}
	})
	if s.noWait {
		return m
	}
	select {
	case <-m.Ready():
	case <-m.Done():
		tb.Fatalf("feedbackd %s failed to start: %v", s.role, m.Close())
	case <-time.After(ReadyTimeout):
		tb.Fatalf("feedbackd %s did not become ready within %s", s.role, ReadyTimeout)
	}
	return m
}

// Server is a NATS server with JetStream that tests can stop and start
// again on the same address and data, as an outage.
type Server struct {
	// URL is where clients reach it, e.g. for NATS(url).
	URL string
	// Dir holds its data.
	Dir  string
	addr string
	cur  *natstest.Server
	tb   testing.TB
}

// StartNATS starts a NATS server with JetStream on 127.0.0.1, for roles run
// against an external NATS (as in production) and for tests that take NATS
// away. It is stopped when the test ends.
func StartNATS(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{Dir: tb.TempDir(), addr: "127.0.0.1:0", tb: tb}
	s.Start()
	port := s.cur.Addr().(*net.TCPAddr).Port
	s.addr = fmt.Sprintf("127.0.0.1:%d", port)
	s.URL = "nats://" + s.addr
	return s
}

// Start starts the server again after Stop, on the same address and data.
func (s *Server) Start() {
	s.tb.Helper()
	s.cur = natstest.StartIn(s.tb, s.Dir, s.addr)
}

// Stop shuts the server down and waits for it; safe to call twice.
func (s *Server) Stop() { s.cur.Stop() }

// WaitFor calls check until it returns nil, every few milliseconds, and
// fails the test with check's last error if that does not happen within
// timeout. It is how tests wait: on the condition, never for a fixed time.
func WaitFor(tb testing.TB, timeout time.Duration, check func() error) {
	tb.Helper()
	poll.Until(tb, timeout, check)
}

// Until is a WaitFor condition over a yes-or-no question: it fails with
// "not yet: what" until cond holds.
func Until(what string, cond func() bool) func() error { return poll.True(what, cond) }
