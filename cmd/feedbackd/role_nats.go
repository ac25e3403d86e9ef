package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/feedbackd/feedbackd/pkg/natsutil"
)

func init() { roles["nats"] = runNATS }

// runNATS runs one NATS server with JetStream, optionally a member of a
// cluster, so a cluster needs no binary besides feedbackd. Any stock
// nats-server ≥ 2.11 works in its place.
func runNATS(ctx context.Context, cfg config, log *slog.Logger, _ io.Writer) error {
	if cfg.NATSListen == "" {
		return errors.New("feedbackd nats needs NATS_LISTEN (host:port for clients)")
	}
	if cfg.NATSClusterListen != "" && cfg.NATSServerName == "" {
		return errors.New("feedbackd nats in a cluster needs a unique NATS_SERVER_NAME")
	}
	srv, err := natsutil.StartEmbedded(natsutil.EmbeddedConfig{
		StoreDir:      filepath.Join(cfg.DataDir, "nats"),
		Listen:        cfg.NATSListen,
		Name:          cfg.NATSServerName,
		Log:           log,
		ClusterName:   cfg.NATSClusterName,
		ClusterListen: cfg.NATSClusterListen,
		Routes:        cfg.NATSRoutes,
		MonitorListen: cfg.NATSMonitorListen,
	})
	if err != nil {
		return err
	}
	log.Info("NATS is serving", "clients", srv.ClientURL(), "cluster", cfg.NATSClusterListen, "routes", len(cfg.NATSRoutes))
	<-ctx.Done()
	srv.Shutdown()
	srv.WaitForShutdown()
	return nil
}
