package opsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// timeLayout is RFC 3339 with milliseconds, as in the edge's /health.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

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
}

// HealthBody is the JSON of /health (SPEC §4): flat, not enveloped.
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

// Readiness runs check within timeout and returns the status code and body
// /ready answers with. Fiber apps use it to answer exactly as the handler
// does.
func Readiness(ctx context.Context, check Check, timeout time.Duration) (int, ReadyBody) {
	if check == nil {
		return http.StatusOK, ReadyBody{Status: "ready"}
	}
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := check(ctx); err != nil {
		return http.StatusServiceUnavailable, ReadyBody{Status: "not ready", Reason: reason(err)}
	}
	return http.StatusOK, ReadyBody{Status: "ready"}
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

// New returns the handler for /health, /ready and /metrics. Other paths are
// 404 and other methods 405, so the handler can sit alone on an address.
func New(cfg Config) http.Handler {
	if cfg.CheckTimeout <= 0 {
		cfg.CheckTimeout = 2 * time.Second
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		body := HealthBody{Status: "ok", Timestamp: time.Now().UTC().Format(timeLayout), Service: cfg.Service, Version: cfg.Version}
		status := http.StatusOK
		if cfg.Health != nil {
			ctx, cancel := context.WithTimeout(r.Context(), cfg.CheckTimeout)
			defer cancel()
			if err := cfg.Health(ctx); err != nil {
				body.Status, status = "degraded", http.StatusServiceUnavailable
			}
		}
		writeJSON(w, status, body)
	})
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		status, body := Readiness(r.Context(), cfg.Ready, cfg.CheckTimeout)
		writeJSON(w, status, body)
	})
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", cfg.Metrics)
	}
	return mux
}

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
