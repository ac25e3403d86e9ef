package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/feedbackd/feedbackd/pkg/metrics"
	"github.com/feedbackd/feedbackd/pkg/opsapi"
)

// opsPart serves /health, /ready and /metrics on METRICS_ADDR, apart from the
// public listener: scrapers and probes can then reach an address the
// internet cannot, and the edge app stops serving /metrics.
func opsPart(cfg config, be *backend, log *slog.Logger) (part, error) {
	ln, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return part{}, fmt.Errorf("listen on METRICS_ADDR %s: %w", cfg.MetricsAddr, err)
	}
	h := opsHandler(be, "feedbackd")
	return part{name: "metrics", run: func(ctx context.Context) error {
		log.Info("serving /health, /ready and /metrics", "url", "http://"+ln.Addr().String())
		return opsapi.Serve(ctx, ln, h)
	}}, nil
}

// opsHandler is the operations API of a role over its backend: /health and
// /ready both fail while NATS is unreachable or the bucket unreadable, as the
// edge's do. The notifier and expirer, when run alone, serve it on their own
// addresses (NOTIFIER_ADDR, EXPIRER_ADDR).
func opsHandler(be *backend, service string) http.Handler {
	return opsapi.New(opsapi.Config{
		Service: service,
		Version: buildVersion(),
		Health:  be.healthCheck,
		Ready:   be.healthCheck,
		Metrics: metrics.Handler(),
	})
}
