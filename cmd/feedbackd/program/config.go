package program

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/joho/godotenv"

	"github.com/feedbackd/feedbackd/edge"
	"github.com/feedbackd/feedbackd/pkg/hostcheck"
	"github.com/feedbackd/feedbackd/pkg/requestid"
	"github.com/feedbackd/feedbackd/sessions/inbox"
)

// Config is the configuration of every role, read once from the environment
// at start (docs/api.md, "Configuration"). Packages receive the parts they
// need, never the environment.
type Config struct {
	ListenAddr   string `env:"LISTEN_ADDR" envDefault:"127.0.0.1:8787"`
	NotifierAddr string `env:"NOTIFIER_ADDR"`
	ExpirerAddr  string `env:"EXPIRER_ADDR"`
	MetricsAddr  string `env:"METRICS_ADDR"`
	PublicURL    string `env:"PUBLIC_URL"`
	DataDir      string `env:"DATA_DIR" envDefault:"./data"`

	NATSURL     string `env:"NATS_URL"`
	NATSCreds   string `env:"NATS_CREDS"`
	NATSTLSCA   string `env:"NATS_TLS_CA"`
	NATSTLSCert string `env:"NATS_TLS_CERT"`
	NATSTLSKey  string `env:"NATS_TLS_KEY"`
	NATSListen  string `env:"NATS_LISTEN"`
	KVReplicas  int    `env:"KV_REPLICAS" envDefault:"1"`

	// The nats role: one member of a NATS cluster with JetStream.
	NATSServerName    string   `env:"NATS_SERVER_NAME"`
	NATSClusterName   string   `env:"NATS_CLUSTER_NAME" envDefault:"feedbackd"`
	NATSClusterListen string   `env:"NATS_CLUSTER_LISTEN"`
	NATSRoutes        []string `env:"NATS_ROUTES" envSeparator:","`
	NATSMonitorListen string   `env:"NATS_MONITOR_LISTEN"`

	APIKeys        []string `env:"API_KEYS" envSeparator:","`
	JWTSecret      string   `env:"JWT_SECRET"`
	JWTIssuer      string   `env:"JWT_ISSUER"`
	JWTAudience    string   `env:"JWT_AUDIENCE"`
	JWKSURL        string   `env:"JWKS_URL"`
	AllowedOrigins []string `env:"ALLOWED_ORIGINS" envSeparator:","`
	AllowedHosts   []string `env:"ALLOWED_HOSTS" envSeparator:","`
	AuthDisabled   bool     `env:"AUTH_DISABLED" envDefault:"false"`
	OAuthScopes    []string `env:"OAUTH_SCOPES" envSeparator:","`

	RateLimitCreate string   `env:"RATE_LIMIT_CREATE" envDefault:"60/min,burst=20"`
	RateLimitSubmit string   `env:"RATE_LIMIT_SUBMIT" envDefault:"30/min,burst=10"`
	RateLimitPage   string   `env:"RATE_LIMIT_PAGE" envDefault:"30/min,burst=10"`
	TrustedProxies  []string `env:"TRUSTED_PROXIES" envSeparator:","`

	// Parsed by check from the fields above.
	createLimit, submitLimit, pageLimit edge.RateLimit
	trustedProxies                      []netip.Prefix

	DefaultTimeout  int           `env:"DEFAULT_TIMEOUT" envDefault:"300"`
	MaxTimeout      int           `env:"MAX_TIMEOUT" envDefault:"3600"`
	ResultRetention time.Duration `env:"RESULT_RETENTION" envDefault:"24h"`
	// ShutdownGrace is how long a stopping process gives requests in
	// flight before it closes what is still open.
	ShutdownGrace  time.Duration `env:"SHUTDOWN_GRACE" envDefault:"10s"`
	MCPWaitSeconds int           `env:"MCP_WAIT_SECONDS" envDefault:"50"`
	// ResultMaxWait caps ?wait= on the result route, in seconds.
	ResultMaxWait int `env:"RESULT_MAX_WAIT" envDefault:"60"`

	// Images on questions and answers (docs/api.md, "Limits"); sizes are
	// bytes with an optional KiB or MiB suffix.
	ImageMaxBytes string `env:"IMAGE_MAX_BYTES" envDefault:"5MiB"`
	ImageMaxCount int    `env:"IMAGE_MAX_COUNT" envDefault:"4"`
	UploadMemory  string `env:"UPLOAD_MEMORY" envDefault:"128MiB"`

	// Parsed by check from ImageMaxBytes and UploadMemory.
	imageMaxBytes, uploadMemory int64

	// MaxConns caps the connections open at once on each HTTP listener;
	// 0 means derived from the limit on open files at start (limits.go).
	MaxConns int `env:"MAX_CONNS"`
	// MaxWaitsPerPrincipal caps the waits (REST ?wait=, MCP tool calls)
	// one principal has in flight on one replica; 0 caps nothing.
	MaxWaitsPerPrincipal int `env:"MAX_WAITS_PER_PRINCIPAL" envDefault:"100"`

	// Inbox links (docs/inbox.md): the life of a link minted without a
	// ttl, and the longest a link may be given.
	InboxLinkTTL    time.Duration `env:"INBOX_LINK_TTL" envDefault:"720h"`
	InboxLinkMaxTTL time.Duration `env:"INBOX_LINK_MAX_TTL" envDefault:"8760h"`

	// DebugPprof serves the Go runtime's profiles (/debug/pprof/) on the
	// operations addresses (METRICS_ADDR, EXPIRER_ADDR, DISPATCHER_ADDR),
	// never on a public listener; docs/observability.md.
	DebugPprof bool `env:"DEBUG_PPROF" envDefault:"false"`

	LogLevel  string `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat string `env:"LOG_FORMAT" envDefault:"text"`

	Notifier NotifierConfig
	Dispatch DispatchConfig
}

// NotifierConfig is the notifier's share of the configuration: its limits
// (docs/notifier.md). NOTIFIER_ADDR and ALLOWED_ORIGINS are in Config itself.
type NotifierConfig struct {
	QueueSize int `env:"NOTIFIER_QUEUE_SIZE" envDefault:"64"`
	// MaxConnections caps the WebSockets of one process; 0 means 90% of
	// MAX_CONNS, so that it refuses before the listener does.
	MaxConnections int           `env:"NOTIFIER_MAX_CONNECTIONS"`
	MaxPerSession  int           `env:"NOTIFIER_MAX_PER_SESSION" envDefault:"1000"`
	ReadLimit      int64         `env:"NOTIFIER_READ_LIMIT" envDefault:"4096"`
	PingInterval   time.Duration `env:"NOTIFIER_PING_INTERVAL" envDefault:"25s"`
}

// dotEnvFiles are read, in this order, from the working directory; a
// variable set in the real environment wins over both.
var dotEnvFiles = []string{".env", ".dev.vars"}

// processEnv is the environment of the process: the real one, falling back to
// .env and .dev.vars in the working directory. The files are read, not
// loaded: the process's environment is left as it was.
func processEnv() (func(string) string, error) {
	files := map[string]string{}
	for _, f := range dotEnvFiles {
		if _, err := os.Stat(f); err != nil {
			continue
		}
		vars, err := godotenv.Read(f)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f, err)
		}
		for k, v := range vars {
			if _, seen := files[k]; !seen {
				files[k] = v
			}
		}
	}
	return func(k string) string {
		if v, ok := os.LookupEnv(k); ok {
			return v
		}
		return files[k]
	}, nil
}

// loadConfig reads the configuration through getenv and checks it. An empty
// variable counts as unset. Every error names the variable and the value it
// was given.
func loadConfig(getenv func(string) string) (Config, error) {
	vars := map[string]string{}
	names := map[string]string{} // Go field → variable, for parse errors
	envVars(reflect.TypeFor[Config](), func(field, name string) {
		names[field] = name
		if v := getenv(name); v != "" {
			vars[name] = v
		}
	})
	var cfg Config
	if err := env.ParseWithOptions(&cfg, env.Options{Environment: vars}); err != nil {
		return Config{}, configError(err, names, vars)
	}
	return cfg, cfg.check()
}

// DefaultConfig is the configuration of an empty environment: every
// variable at its default. Tools that open a Backend start from it.
func DefaultConfig() Config {
	cfg, err := loadConfig(func(string) string { return "" })
	if err != nil {
		panic(fmt.Sprintf("program: the defaults do not check: %v", err)) // a defect of this file
	}
	return cfg
}

// envVars calls f with every field of t (nested structs included) that is
// read from a variable, and the variable's name.
func envVars(t reflect.Type, f func(field, name string)) {
	for i := range t.NumField() {
		sf := t.Field(i)
		if name, _, _ := strings.Cut(sf.Tag.Get("env"), ","); name != "" {
			f(sf.Name, name)
			continue
		}
		if sf.Type.Kind() == reflect.Struct && sf.IsExported() {
			envVars(sf.Type, f)
		}
	}
}

// configError rewrites the parser's errors, which name Go fields, into
// messages about the variable and the value given.
func configError(err error, names, vars map[string]string) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return fmt.Errorf("read the configuration: %w", err)
	}
	var out []error
	for _, e := range agg.Errors {
		var pe env.ParseError
		if !errors.As(e, &pe) {
			out = append(out, e)
			continue
		}
		name := names[pe.Name]
		if name == "" {
			out = append(out, e)
			continue
		}
		out = append(out, fmt.Errorf("%s=%q: %s", name, vars[name], wantOf(pe.Type)))
	}
	return errors.Join(out...)
}

// wantOf says what a variable of type t must hold.
func wantOf(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return "must be a duration such as 90s, 30m or 24h"
	case t.Kind() == reflect.Bool:
		return "must be true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "must be a whole number"
	}
	return "is not a valid " + t.String()
}

func (c *Config) check() error {
	var errs []error
	if c.DefaultTimeout < 30 || c.MaxTimeout < c.DefaultTimeout {
		errs = append(errs, fmt.Errorf("DEFAULT_TIMEOUT=%d must be ≥ 30 and ≤ MAX_TIMEOUT=%d", c.DefaultTimeout, c.MaxTimeout))
	}
	if c.ResultRetention < time.Second {
		errs = append(errs, fmt.Errorf("RESULT_RETENTION=%s must be at least 1s", c.ResultRetention))
	}
	if c.ShutdownGrace < 100*time.Millisecond || c.ShutdownGrace > 10*time.Minute {
		errs = append(errs, fmt.Errorf("SHUTDOWN_GRACE=%s must be between 100ms and 10m", c.ShutdownGrace))
	}
	if c.MCPWaitSeconds < 0 || c.MCPWaitSeconds > 3600 {
		errs = append(errs, fmt.Errorf("MCP_WAIT_SECONDS=%d must be between 0 and 3600", c.MCPWaitSeconds))
	}
	errs = append(errs, c.checkImages()...)
	if c.ResultMaxWait < 1 || c.ResultMaxWait > 60 {
		errs = append(errs, fmt.Errorf("RESULT_MAX_WAIT=%d must be between 1 and 60", c.ResultMaxWait))
	}
	if c.MaxConns < 0 {
		errs = append(errs, fmt.Errorf("MAX_CONNS=%d must be 0 (derived from the open file limit) or more", c.MaxConns))
	}
	if c.MaxWaitsPerPrincipal < 0 {
		errs = append(errs, fmt.Errorf("MAX_WAITS_PER_PRINCIPAL=%d must be 0 (no cap) or more", c.MaxWaitsPerPrincipal))
	}
	if c.Notifier.MaxConnections < 0 {
		errs = append(errs, fmt.Errorf("NOTIFIER_MAX_CONNECTIONS=%d must be 0 (derived from MAX_CONNS) or more", c.Notifier.MaxConnections))
	}
	if c.InboxLinkMaxTTL < inbox.MinTTL || c.InboxLinkTTL < inbox.MinTTL || c.InboxLinkTTL > c.InboxLinkMaxTTL {
		errs = append(errs, fmt.Errorf("INBOX_LINK_TTL=%s and INBOX_LINK_MAX_TTL=%s must be at least %s, the first no longer than the second",
			c.InboxLinkTTL, c.InboxLinkMaxTTL, inbox.MinTTL))
	}
	if c.DebugPprof && c.MetricsAddr == "" && c.ExpirerAddr == "" && c.Dispatch.Addr == "" {
		errs = append(errs, errors.New("DEBUG_PPROF=true needs METRICS_ADDR (or EXPIRER_ADDR, DISPATCHER_ADDR): profiles are served only on an operations address, never on the public listener"))
	}
	if c.KVReplicas < 1 || c.KVReplicas > 5 {
		errs = append(errs, fmt.Errorf("KV_REPLICAS=%d must be between 1 and 5", c.KVReplicas))
	}
	if c.PublicURL != "" && !strings.HasPrefix(c.PublicURL, "http://") && !strings.HasPrefix(c.PublicURL, "https://") {
		errs = append(errs, fmt.Errorf("PUBLIC_URL=%q must start with http:// or https://", c.PublicURL))
	}
	switch strings.ToLower(c.LogFormat) {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("LOG_FORMAT=%q must be text or json", c.LogFormat))
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	c.APIKeys = compact(c.APIKeys)
	c.AllowedOrigins = compact(c.AllowedOrigins)
	for _, o := range c.AllowedOrigins {
		if err := checkOrigin(o); err != nil {
			errs = append(errs, err)
		}
	}
	for _, l := range []struct {
		name, value string
		dst         *edge.RateLimit
	}{
		{"RATE_LIMIT_CREATE", c.RateLimitCreate, &c.createLimit},
		{"RATE_LIMIT_SUBMIT", c.RateLimitSubmit, &c.submitLimit},
		{"RATE_LIMIT_PAGE", c.RateLimitPage, &c.pageLimit},
	} {
		r, err := edge.ParseRateLimit(l.value)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", l.name, err))
		}
		*l.dst = r
	}
	c.AllowedHosts = compact(c.AllowedHosts)
	for _, h := range c.AllowedHosts {
		if _, err := hostcheck.New(false, "", []string{h}); err != nil {
			errs = append(errs, fmt.Errorf("ALLOWED_HOSTS entry %w", err))
		}
	}
	errs = append(errs, c.Dispatch.check(c.PublicURL)...)
	c.OAuthScopes = compact(c.OAuthScopes)
	c.TrustedProxies = compact(c.TrustedProxies)
	c.trustedProxies = c.trustedProxies[:0]
	for _, p := range c.TrustedProxies {
		prefix, err := parseProxy(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.trustedProxies = append(c.trustedProxies, prefix)
	}
	return errors.Join(errs...)
}

// The bounds of the image settings: enough for a phone photo, small enough
// that a request with every image still fits comfortably in memory.
const (
	minImageBytes = 1 << 10
	maxImageBytes = 25 << 20
	maxImageCount = 10
)

// checkImages parses and checks IMAGE_MAX_BYTES, IMAGE_MAX_COUNT and
// UPLOAD_MEMORY: the memory for large bodies must hold at least one
// request carrying every image.
func (c *Config) checkImages() []error {
	var errs []error
	n, err := parseBytes(c.ImageMaxBytes)
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("IMAGE_MAX_BYTES=%q: %w", c.ImageMaxBytes, err))
	case n < minImageBytes || n > maxImageBytes:
		errs = append(errs, fmt.Errorf("IMAGE_MAX_BYTES=%q must be between 1KiB and 25MiB", c.ImageMaxBytes))
	default:
		c.imageMaxBytes = n
	}
	if c.ImageMaxCount < 1 || c.ImageMaxCount > maxImageCount {
		errs = append(errs, fmt.Errorf("IMAGE_MAX_COUNT=%d must be between 1 and %d", c.ImageMaxCount, maxImageCount))
	}
	m, err := parseBytes(c.UploadMemory)
	if err != nil {
		return append(errs, fmt.Errorf("UPLOAD_MEMORY=%q: %w", c.UploadMemory, err))
	}
	c.uploadMemory = m
	if len(errs) == 0 {
		if need := edge.LargeBodyLimit(c.ImageMaxCount, c.imageMaxBytes); m < need {
			errs = append(errs, fmt.Errorf("UPLOAD_MEMORY=%q must hold at least one request with every image: %d bytes (IMAGE_MAX_COUNT × IMAGE_MAX_BYTES in base64, plus 64 KiB)", c.UploadMemory, need))
		}
	}
	return errs
}

// parseBytes reads a size: a whole number of bytes, or one followed by KiB
// or MiB (KB and MB are taken as the same).
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"K", 1 << 10}, {"M", 1 << 20}, {"B", 1}} {
		if len(s) > len(u.suffix) && strings.EqualFold(s[len(s)-len(u.suffix):], u.suffix) {
			s, mult = strings.TrimSpace(s[:len(s)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<40)/mult {
		return 0, errors.New("must be a size such as 5MiB, 512KiB or 1048576")
	}
	return n * mult, nil
}

// checkOrigin accepts what a browser sends as Origin: scheme://host[:port].
// A wildcard is refused: CORS here reflects exact origins only.
func checkOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.Contains(o, "*") {
		return fmt.Errorf("ALLOWED_ORIGINS entry %q must be an exact origin such as https://app.example.com (no wildcard, no path)", o)
	}
	return nil
}

// parseProxy reads a TRUSTED_PROXIES entry: an address or a CIDR range.
func parseProxy(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("TRUSTED_PROXIES entry %q is neither an address nor a CIDR range", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// edgeConfig is what the edge is told about the configuration.
func edgeConfig(c Config, version string) edge.Config {
	ec := edge.Config{
		PublicURL:      c.PublicURL,
		Version:        version,
		AllowedOrigins: c.AllowedOrigins,
		CreateLimit:    c.createLimit,
		SubmitLimit:    c.submitLimit,
		PageLimit:      c.pageLimit,
		TrustedProxies: c.trustedProxies,
	}
	ec.MCP.Wait = time.Duration(c.MCPWaitSeconds) * time.Second
	ec.UploadMemory = c.uploadMemory
	ec.MaxWait = time.Duration(c.ResultMaxWait) * time.Second
	ec.MaxWaitsPerPrincipal = c.MaxWaitsPerPrincipal
	// The protected resource metadata names the authorization server that
	// issues tokens for this edge: only an external one (JWKS_URL) has one
	// to name, and JWT_ISSUER says which.
	if c.JWKSURL != "" && c.JWTIssuer != "" {
		ec.AuthorizationServers = []string{c.JWTIssuer}
		ec.Scopes = c.OAuthScopes
	}
	return ec
}

// hasCredentials reports whether any way of authenticating is configured.
func (c *Config) hasCredentials() bool {
	return len(c.APIKeys) > 0 || c.JWTSecret != "" || c.JWKSURL != ""
}

func compact(in []string) []string {
	out := in[:0]
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("LOG_LEVEL=%q must be debug, info, warn or error", s)
	}
	return l, nil
}

// newLogger writes to w at the configured level and format. Records logged
// with a request's context carry its request id.
func newLogger(c Config, w io.Writer) *slog.Logger {
	level, _ := parseLevel(c.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if strings.EqualFold(c.LogFormat, "json") {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(requestid.NewHandler(h))
}

// logEdgeSecurity says at start what guards the edge, and warns about what
// is missing.
func logEdgeSecurity(c Config, log *slog.Logger) {
	log.Info("edge protections (rate limits are per replica)",
		"allowedOrigins", c.AllowedOrigins,
		"allowedHosts", c.AllowedHosts,
		"rateLimitCreate", c.createLimit.String(),
		"rateLimitSubmit", c.submitLimit.String(),
		"rateLimitPage", c.pageLimit.String(),
		"trustedProxies", c.TrustedProxies)
	if c.JWKSURL != "" && c.JWTIssuer == "" {
		log.Warn("JWKS_URL is set without JWT_ISSUER: the issuer of tokens is not checked, and MCP clients cannot discover the authorization server (/.well-known/oauth-protected-resource is not served)")
	}
}
