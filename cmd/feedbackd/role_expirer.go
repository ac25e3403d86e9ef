package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/feedbackd/feedbackd/expirer"
)

func init() {
	roles["expirer"] = runExpirer
	serveParts = append(serveParts, expirerPart)
}

// expirerPart runs an expirer replica over the role's backend.
func expirerPart(env *roleEnv) (part, error) {
	return part{name: "expirer", run: func(ctx context.Context) error {
		return expirer.Run(ctx, expirer.Config{
			JetStream: env.be.js,
			Store:     env.be.store,
			Service:   env.be.svc,
			Log:       env.log.With("component", "expirer"),
			Replicas:  env.cfg.KVReplicas,
		})
	}}, nil
}

// runExpirer runs the expirer alone against an external NATS, with /health on
// EXPIRER_ADDR when that is set.
func runExpirer(ctx context.Context, cfg config, log *slog.Logger, _ io.Writer) error {
	if cfg.NATSURL == "" {
		return errors.New("feedbackd expirer needs NATS_URL (use feedbackd serve for an embedded server)")
	}
	var ln net.Listener
	if cfg.ExpirerAddr != "" {
		var err error
		if ln, err = net.Listen("tcp", cfg.ExpirerAddr); err != nil {
			return fmt.Errorf("listen on EXPIRER_ADDR %s: %w", cfg.ExpirerAddr, err)
		}
		defer ln.Close()
	}
	nc, err := connect(cfg, nil, log)
	if err != nil {
		return err
	}
	defer nc.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	be, err := openBackend(ctx, cfg, nc, log)
	if err != nil {
		return err
	}
	p, err := expirerPart(&roleEnv{cfg: cfg, log: log, be: be})
	if err != nil {
		cancel()
		<-be.feed
		return err
	}
	parts := []part{p}
	if ln != nil {
		parts = append(parts, healthPart(ln, "feedbackd-expirer", be.healthCheck, log))
	}
	err = runParts(ctx, parts, log)
	cancel()
	<-be.feed
	log.Info("stopped")
	return err
}

// healthPart serves only GET /health on ln: the flat body of SPEC §4, 503
// "degraded" when check fails.
func healthPart(ln net.Listener, service string, check func(context.Context) error, log *slog.Logger) part {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		body := struct {
			Status    string `json:"status"`
			Timestamp string `json:"timestamp"`
			Service   string `json:"service"`
			Version   string `json:"version"`
		}{"ok", time.Now().UTC().Format(time.RFC3339), service, buildVersion()}
		code := http.StatusOK
		if err := check(ctx); err != nil {
			log.Warn("health check failed", "err", err)
			body.Status, code = "degraded", http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(body)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return part{name: "health", run: func(ctx context.Context) error {
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ln) }()
		log.Info("health is served", "url", "http://"+ln.Addr().String()+"/health")
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			log.Warn("health shutdown", "err", err)
		}
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}}
}
