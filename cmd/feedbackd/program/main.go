package program

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/gofiber/fiber/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/feedbackd/feedbackd/edge"
	"github.com/feedbackd/feedbackd/notifier"
	"github.com/feedbackd/feedbackd/notifier/dispatch"
	"github.com/feedbackd/feedbackd/pkg/auth"
	"github.com/feedbackd/feedbackd/pkg/opsapi"
	"github.com/feedbackd/feedbackd/sessions"
)

// Main is the feedbackd program: ParseFlags reads the command and the
// configuration, Run starts the command's role and returns once it serves,
// Close stops everything Run started, in reverse order, and waits. Tests run
// it in process (see programtest), so the wiring users run is the wiring the
// tests exercise.
type Main struct {
	// Getenv reads the environment; nil means the process's environment,
	// with .env and .dev.vars in the working directory as a fallback.
	Getenv func(string) string
	// Stdout receives what commands print (a token, a key, the usage, the
	// banner of a generated key); Stderr receives the log. nil means the
	// process's.
	Stdout, Stderr io.Writer
	// Version is reported by /health, MCP and `feedbackd version`; empty
	// means the module version from the build, else "dev".
	Version string
	// Hooks adjust what Run builds; production leaves them zero.
	Hooks Hooks

	// Command is what ParseFlags read: a role (serve, edge, notifier,
	// expirer, dispatcher, nats) or a command (token, apikey, healthcheck, version,
	// help).
	Command string
	// Config is the configuration ParseFlags read for a role.
	Config Config

	args []string
	role *role
	log  *slog.Logger

	// ctx ends at Close: the start in the background and every part run
	// on it.
	ctx     context.Context
	cancel  context.CancelFunc
	starter sync.WaitGroup

	mu       sync.Mutex
	stops    []stopper // in start order; Close runs them in reverse
	closed   bool
	closeErr error
	failure  error
	ready    chan struct{}
	done     chan struct{}
	doneOnce sync.Once

	authn *auth.Authenticator
	watch *natsWatch
	// nc is read by /health and /ready while Run is still setting it.
	nc       atomic.Pointer[nats.Conn]
	embedded *server.Server
	backend  atomic.Pointer[Backend]
	edge     atomic.Pointer[edge.Server]
	notifier atomic.Pointer[notifier.Notifier]
	// listeners of the parts, by part name; a part's app takes its
	// listener over from the server that answers while NATS is not ready.
	listeners map[string]*appAddr
	url       string // the role's main HTTP address
	opsURL    string // METRICS_ADDR or EXPIRER_ADDR
	devKey    *devKey
}

// devKey is the API key serve generated, for the banner that shows it.
type devKey struct {
	key     string
	created bool
}

// Hooks adjust what Run builds. They exist for tests, which vary what the
// environment cannot express (a clock, a minimum timeout of one second,
// quick MCP keep-alives).
type Hooks struct {
	// Sessions are applied to the sessions service after the configured
	// options.
	Sessions []sessions.Option
	// Auth adjusts the authenticator's configuration.
	Auth func(*auth.Config)
	// Edge adjusts the edge's configuration.
	Edge func(*edge.Config)
	// EdgeApp is called with the edge's app after its routes are
	// registered, before it serves.
	EdgeApp func(*fiber.App)
	// Notifier adjusts the notifier's configuration.
	Notifier func(*notifier.Config)
	// Dispatch adjusts the dispatcher's configuration (to reach a local
	// push service fake over its own TLS, say).
	Dispatch func(*dispatch.Config)
	// Listen wraps the listeners of the role's HTTP apps (to shrink socket
	// buffers, say).
	Listen func(net.Listener) net.Listener
}

// stopper is one thing Close undoes.
type stopper struct {
	name string
	stop func() error
}

// NewMain returns a Main that reads the process's environment.
func NewMain() *Main { return &Main{} }

// ParseFlags reads the command (the first argument; serve when there is
// none) and, for a role, the configuration from the environment. Asked for
// help, it prints the usage on Stdout and returns flag.ErrHelp.
func (m *Main) ParseFlags(_ context.Context, args []string) error {
	m.defaults()
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	m.Command, m.args = cmd, args
	if _, ok := commands[cmd]; ok {
		return nil
	}
	r := findRole(cmd)
	if r == nil {
		fmt.Fprint(m.Stderr, usage())
		return fmt.Errorf("unknown command %q", cmd)
	}
	if len(args) > 0 {
		if args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
			fmt.Fprint(m.Stdout, usage())
			return flag.ErrHelp
		}
		return fmt.Errorf("%s takes no arguments; configure it with environment variables (see feedbackd help)", cmd)
	}
	getenv, err := m.getenv()
	if err != nil {
		return err
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	m.Config, m.role = cfg, r
	return nil
}

func (m *Main) defaults() {
	if m.Stdout == nil {
		m.Stdout = os.Stdout
	}
	if m.Stderr == nil {
		m.Stderr = os.Stderr
	}
}

func (m *Main) getenv() (func(string) string, error) {
	if m.Getenv != nil {
		return m.Getenv, nil
	}
	getenv, err := processEnv()
	if err != nil {
		return nil, err
	}
	m.Getenv = getenv
	return getenv, nil
}

// Run runs the command ParseFlags read. A command (token, apikey, ...) runs
// to its end. A role starts: it binds its listeners, connects to NATS (or
// starts the embedded server) and returns; the rest starts in the
// background as soon as JetStream answers, and until then its addresses
// answer /health and /ready with 503 and say what they wait for. Ready
// closes once everything serves; Done closes if a part fails.
func (m *Main) Run(_ context.Context) error {
	m.defaults()
	m.ready, m.done = make(chan struct{}), make(chan struct{})
	m.ctx, m.cancel = context.WithCancel(context.Background())
	if m.role == nil {
		defer m.finish()
		run, ok := commands[m.Command]
		if !ok {
			return fmt.Errorf("nothing to run: call ParseFlags first")
		}
		getenv, err := m.getenv()
		if err != nil {
			return err
		}
		return run(m, getenv)
	}
	m.log = newLogger(m.Config, m.Stderr).With("role", m.Command)
	if err := m.start(); err != nil {
		return errors.Join(err, m.Close())
	}
	return nil
}

// finish marks a command done.
func (m *Main) finish() {
	close(m.ready)
	m.doneOnce.Do(func() { close(m.done) })
}

// Ready is closed once the role serves with everything it runs.
func (m *Main) Ready() <-chan struct{} { return m.ready }

// Done is closed when the program should end: a part stopped by itself
// (Close then returns why), or a command finished.
func (m *Main) Done() <-chan struct{} { return m.done }

// fail records why the role cannot go on, and asks it to end.
func (m *Main) fail(err error) {
	m.mu.Lock()
	if m.failure == nil && !m.closed {
		m.failure = err
		m.log.Error("stopping: a part failed", "err", err)
	}
	m.mu.Unlock()
	m.doneOnce.Do(func() { close(m.done) })
}

// onClose registers what Close undoes; the last registered runs first.
func (m *Main) onClose(name string, stop func() error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stops = append(m.stops, stopper{name: name, stop: stop})
}

// Close stops what Run started, in reverse order, waits for it, and returns
// what went wrong: the failure that ended the role, if any, and errors met
// while stopping. It is safe to call more than once.
func (m *Main) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return m.closeErr
	}
	m.closed = true
	m.mu.Unlock()
	if m.cancel != nil {
		m.cancel()
	}
	m.starter.Wait() // nothing registers after this
	m.mu.Lock()
	stops := slices.Clone(m.stops)
	failure := m.failure
	m.mu.Unlock()
	errs := []error{failure}
	for _, s := range slices.Backward(stops) {
		if err := s.stop(); err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, fmt.Errorf("stop %s: %w", s.name, err))
		}
	}
	if m.log != nil && m.role != nil {
		m.log.Info("stopped")
	}
	if m.done != nil {
		m.doneOnce.Do(func() { close(m.done) })
	}
	m.mu.Lock()
	m.closeErr = errors.Join(errs...)
	m.mu.Unlock()
	return m.closeErr
}

// URL is the base URL of the role's HTTP listener (http://host:port, not
// PUBLIC_URL): LISTEN_ADDR for serve and edge, the notifier's address for
// notifier; "" for the others. It is known once Run has returned.
func (m *Main) URL() string { return m.url }

// OpsURL is the base URL of the operations listener (METRICS_ADDR, the
// expirer's EXPIRER_ADDR or the dispatcher's DISPATCHER_ADDR); "" when there
// is none.
func (m *Main) OpsURL() string { return m.opsURL }

// Backend is the role's backend once it is open (after Ready), else nil.
func (m *Main) Backend() *Backend { return m.backend.Load() }

// Edge is the edge's server once it serves, else nil.
func (m *Main) Edge() *edge.Server { return m.edge.Load() }

// Notifier is the WebSocket notifier once it serves, else nil.
func (m *Main) Notifier() *notifier.Notifier { return m.notifier.Load() }

// EmbeddedNATS is the NATS server serve or nats runs in process, else nil.
func (m *Main) EmbeddedNATS() *server.Server { return m.embedded }

// NATSURL is where other processes reach the embedded NATS server (with
// NATS_LISTEN set), else "".
func (m *Main) NATSURL() string {
	if m.embedded == nil || m.Config.NATSListen == "" {
		return ""
	}
	return m.embedded.ClientURL()
}

// version is what the build says this is.
func (m *Main) version() string {
	if m.Version != "" {
		return m.Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// health is the role's health and readiness: the backend's once open, what
// it waits for until then.
func (m *Main) health(ctx context.Context) error {
	if be := m.backend.Load(); be != nil {
		return be.Health(ctx)
	}
	return m.watch.notReady(m.nc.Load())
}

// errStarting: the backend answers, but not every part of the role serves
// yet (an address is still answered by the starting server).
var errStarting = errors.New("starting: not every part serves yet")

// readiness is /ready: healthy, and every part of the role serving (Ready
// closed), so that a client told "ready" is not refused as starting.
func (m *Main) readiness(ctx context.Context) error {
	if err := m.health(ctx); err != nil {
		return err
	}
	select {
	case <-m.ready:
		return nil
	default:
		return errStarting
	}
}

// opsHandler is the role's operations API, with /metrics or without.
func (m *Main) opsHandler(metrics bool) *opsapi.Handler {
	return m.opsHandlerWith(metrics, false)
}

// opsHandlerWith is opsHandler with the runtime's profiles when profiles is
// set: only for an address that serves the operations API alone.
func (m *Main) opsHandlerWith(metrics, profiles bool) *opsapi.Handler {
	cfg := opsapi.Config{
		Profiles: profiles,
		Service:  m.role.service,
		Version:  m.version(),
		Health:   m.health,
		Ready:    m.readiness,
		Log:      m.log,
	}
	if metrics {
		cfg.Metrics = metricsHandler()
	}
	return opsapi.New(cfg)
}

func baseURL(cfg Config, addr net.Addr) string {
	if cfg.PublicURL != "" {
		return cfg.PublicURL
	}
	return "http://" + addr.String()
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}
