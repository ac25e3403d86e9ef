package opsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// timeLayout is RFC 3339 with milliseconds, as every time the API sends.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// The paths a Handler answers.
const (
	HealthPath  = "/health"
	ReadyPath   = "/ready"
	MetricsPath = "/metrics"
)

// Check reports a problem, or nil when all is well.
type Check func(ctx context.Context) error

// Config is what the handler reports on.
type Config struct {
	// Service and Version are reported by /health.
	Service string
	Version string
	// Health is the liveness check; nil means alive whenever the process
	// answers. A failing check makes /health answer 503 "degraded".
	Health Check
	// Ready is the readiness check, typically "NATS connected and the
	// sessions bucket readable"; nil means always ready.
	Ready Check
	// Metrics serves /metrics, typically metrics.Handler(); nil leaves
	// /metrics unserved (404).
	Metrics http.Handler
	// CheckTimeout bounds each check; zero means 2s.
	CheckTimeout time.Duration
	// Log, when set, hears of failed checks (health at warn, readiness at
	// debug: a probe asks often).
	Log *slog.Logger
	// Profiles serves the Go runtime's profiles (net/http/pprof) under
	// ProfilePath. They show the program's insides and cost CPU while taken:
	// set it only for a handler served on a private address, never on a
	// public listener.
	Profiles bool
}

// ProfilePath is where a Handler with Config.Profiles serves the runtime's
// profiles (go tool pprof http://ADDR/debug/pprof/profile).
const ProfilePath = "/debug/pprof/"

// HealthBody is the JSON of /health: flat, not enveloped. See docs/api.md,
// "Health and operations".
type HealthBody struct {
	Status    string `json:"status"` // "ok" or "degraded"
	Timestamp string `json:"timestamp"`
	Service   string `json:"service"`
	Version   string `json:"version"`
}

// ReadyBody is the JSON of /ready.
type ReadyBody struct {
	Status string `json:"status"`           // "ready" or "not ready"
	Reason string `json:"reason,omitempty"` // why not, when not
}

// readiness runs check within timeout and returns the status code and body
// /ready answers with.
func readiness(ctx context.Context, check Check, timeout time.Duration) (int, ReadyBody, error) {
	if check == nil {
		return http.StatusOK, ReadyBody{Status: "ready"}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := check(ctx); err != nil {
		return http.StatusServiceUnavailable, ReadyBody{Status: "not ready", Reason: reason(err)}, err
	}
	return http.StatusOK, ReadyBody{Status: "ready"}, nil
}

// reason keeps a failure's message short: it is shown without
// authentication, so it says what is wrong, never a dump.
func reason(err error) string {
	const max = 200
	s := err.Error()
	if len(s) > max {
		s = s[:max]
	}
	return s
}

// Handler answers /health, /ready and (when configured) /metrics: the one
// form of these endpoints, which every role's HTTP app mounts and which the
// roles without one serve alone on an address (Serve).
type Handler struct {
	mux   *http.ServeMux
	paths []string
}

// New returns the handler for /health, /ready and /metrics. Other paths are
// 404 and other methods 405, so the handler can sit alone on an address.
func New(cfg Config) *Handler {
	if cfg.CheckTimeout <= 0 {
		cfg.CheckTimeout = 2 * time.Second
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{mux: http.NewServeMux(), paths: []string{HealthPath, ReadyPath}}
	h.mux.HandleFunc("GET "+HealthPath, func(w http.ResponseWriter, r *http.Request) {
		body := HealthBody{Status: "ok", Timestamp: time.Now().UTC().Format(timeLayout), Service: cfg.Service, Version: cfg.Version}
		status := http.StatusOK
		if cfg.Health != nil {
			ctx, cancel := context.WithTimeout(r.Context(), cfg.CheckTimeout)
			defer cancel()
			if err := cfg.Health(ctx); err != nil {
				log.WarnContext(r.Context(), "health check failed", "err", err)
				body.Status, status = "degraded", http.StatusServiceUnavailable
			}
		}
		writeJSON(w, status, body)
	})
	h.mux.HandleFunc("GET "+ReadyPath, func(w http.ResponseWriter, r *http.Request) {
		status, body, err := readiness(r.Context(), cfg.Ready, cfg.CheckTimeout)
		if err != nil {
			log.DebugContext(r.Context(), "not ready", "reason", err)
		}
		writeJSON(w, status, body)
	})
	if cfg.Metrics != nil {
		h.mux.Handle("GET "+MetricsPath, cfg.Metrics)
		h.paths = append(h.paths, MetricsPath)
	}
	if cfg.Profiles {
		h.mux.HandleFunc("GET "+ProfilePath, pprof.Index)
		h.mux.HandleFunc("GET "+ProfilePath+"cmdline", pprof.Cmdline)
		h.mux.HandleFunc("GET "+ProfilePath+"profile", pprof.Profile)
		h.mux.HandleFunc("GET "+ProfilePath+"symbol", pprof.Symbol)
		h.mux.HandleFunc("GET "+ProfilePath+"trace", pprof.Trace)
	}
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Paths are the paths h answers, for an app that mounts it beside its own
// routes: /health, /ready, and /metrics when Config.Metrics was set.
func (h *Handler) Paths() []string { return append([]string(nil), h.paths...) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Serve serves h on ln until ctx ends, then shuts down, giving in-flight
// requests up to five seconds. It returns nil after a shutdown caused by ctx.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve operations API: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down operations API: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve operations API: %w", err)
	}
	return nil
}
