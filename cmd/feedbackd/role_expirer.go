package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/feedbackd/feedbackd/expirer"
	"github.com/feedbackd/feedbackd/pkg/opsapi"
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
		// Checked before listening on EXPIRER_ADDR; connectStandalone says so too.
		return errors.New("feedbackd expirer needs NATS_URL (feedbackd serve runs every role over an embedded server)")
	}
	var ln net.Listener
	if cfg.ExpirerAddr != "" {
		var err error
		if ln, err = net.Listen("tcp", cfg.ExpirerAddr); err != nil {
			return fmt.Errorf("listen on EXPIRER_ADDR %s: %w", cfg.ExpirerAddr, err)
		}
		defer ln.Close()
	}
	nc, err := connectStandalone(cfg, log, "expirer", false)
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
	p, err := expirerPart(&roleEnv{ctx: ctx, cfg: cfg, log: log, be: be})
	if err != nil {
		cancel()
		<-be.feed
		return err
	}
	parts := []part{p}
	if ln != nil {
		h := opsHandler(be, "feedbackd-expirer")
		parts = append(parts, part{name: "ops", run: func(ctx context.Context) error {
			log.Info("serving /health, /ready and /metrics", "url", "http://"+ln.Addr().String())
			return opsapi.Serve(ctx, ln, h)
		}})
	}
	err = runParts(ctx, parts, log)
	cancel()
	<-be.feed
	log.Info("stopped")
	return err
}
