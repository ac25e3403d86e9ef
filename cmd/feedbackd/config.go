package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/joho/godotenv"
)

// config is SPEC §2, parsed once at start. Packages receive the parts they
// need, never the environment.
type config struct {
	ListenAddr   string `env:"LISTEN_ADDR" envDefault:"127.0.0.1:8787"`
	NotifierAddr string `env:"NOTIFIER_ADDR"`
	ExpirerAddr  string `env:"EXPIRER_ADDR"`
	PublicURL    string `env:"PUBLIC_URL"`
	DataDir      string `env:"DATA_DIR" envDefault:"./data"`

	NATSURL     string `env:"NATS_URL"`
	NATSCreds   string `env:"NATS_CREDS"`
	NATSTLSCA   string `env:"NATS_TLS_CA"`
	NATSTLSCert string `env:"NATS_TLS_CERT"`
	NATSTLSKey  string `env:"NATS_TLS_KEY"`
	NATSListen  string `env:"NATS_LISTEN"`
	KVReplicas  int    `env:"KV_REPLICAS" envDefault:"1"`

	APIKeys        []string `env:"API_KEYS" envSeparator:","`
	JWTSecret      string   `env:"JWT_SECRET"`
	JWTIssuer      string   `env:"JWT_ISSUER"`
	JWTAudience    string   `env:"JWT_AUDIENCE"`
	JWKSURL        string   `env:"JWKS_URL"`
	AllowedOrigins []string `env:"ALLOWED_ORIGINS" envSeparator:","`
	AuthDisabled   bool     `env:"AUTH_DISABLED" envDefault:"false"`

	DefaultTimeout  int           `env:"DEFAULT_TIMEOUT" envDefault:"300"`
	MaxTimeout      int           `env:"MAX_TIMEOUT" envDefault:"3600"`
	ResultRetention time.Duration `env:"RESULT_RETENTION" envDefault:"24h"`
	MCPWaitSeconds  int           `env:"MCP_WAIT_SECONDS" envDefault:"50"`

	LogLevel  string `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat string `env:"LOG_FORMAT" envDefault:"text"`

	Notifier notifierEnv // NOTIFIER_* limits, see role_notifier.go
}

// loadConfig reads .env and .dev.vars when present (the real environment
// wins), then parses and checks the environment.
func loadConfig() (config, error) {
	for _, f := range []string{".env", ".dev.vars"} {
		if _, err := os.Stat(f); err == nil {
			if err := godotenv.Load(f); err != nil {
				return config{}, fmt.Errorf("read %s: %w", f, err)
			}
		}
	}
	var cfg config
	if err := env.Parse(&cfg); err != nil {
		return config{}, fmt.Errorf("parse configuration: %w", err)
	}
	return cfg, cfg.check()
}

func (c *config) check() error {
	var errs []error
	if c.DefaultTimeout < 30 || c.MaxTimeout < c.DefaultTimeout {
		errs = append(errs, fmt.Errorf("DEFAULT_TIMEOUT (%d) must be ≥ 30 and ≤ MAX_TIMEOUT (%d)", c.DefaultTimeout, c.MaxTimeout))
	}
	if c.ResultRetention < time.Second {
		errs = append(errs, fmt.Errorf("RESULT_RETENTION (%s) must be at least 1s", c.ResultRetention))
	}
	if c.MCPWaitSeconds < 0 || c.MCPWaitSeconds > 3600 {
		errs = append(errs, fmt.Errorf("MCP_WAIT_SECONDS (%d) must be between 0 and 3600", c.MCPWaitSeconds))
	}
	if c.KVReplicas < 1 || c.KVReplicas > 5 {
		errs = append(errs, fmt.Errorf("KV_REPLICAS (%d) must be between 1 and 5", c.KVReplicas))
	}
	if c.PublicURL != "" && !strings.HasPrefix(c.PublicURL, "http://") && !strings.HasPrefix(c.PublicURL, "https://") {
		errs = append(errs, fmt.Errorf("PUBLIC_URL %q must start with http:// or https://", c.PublicURL))
	}
	switch strings.ToLower(c.LogFormat) {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("LOG_FORMAT %q must be text or json", c.LogFormat))
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	c.APIKeys = compact(c.APIKeys)
	c.AllowedOrigins = compact(c.AllowedOrigins)
	return errors.Join(errs...)
}

// hasCredentials reports whether any way of authenticating is configured.
func (c *config) hasCredentials() bool {
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
		return 0, fmt.Errorf("LOG_LEVEL %q must be debug, info, warn or error", s)
	}
	return l, nil
}

func newLogger(c config) *slog.Logger {
	level, _ := parseLevel(c.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(c.LogFormat, "json") {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
