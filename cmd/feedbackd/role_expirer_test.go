package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/pkg/natsutil/natstest"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/natskv"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestExpirerRoleExpiresSessionsAndServesHealth(t *testing.T) {
	ns := natstest.StartIn(t, t.TempDir(), freeAddr(t))
	cfg := config{
		NATSURL: ns.ClientURL(), ExpirerAddr: freeAddr(t), KVReplicas: 1,
		DefaultTimeout: 300, MaxTimeout: 3600, ResultRetention: time.Hour,
	}
	// The "edge" opens the bucket before the role starts: nats-server 2.15.2
	// races (benignly) when a stream is updated while a consumer on it is
	// created, and -race would see it.
	store, err := natskv.Open(context.Background(), ns.JS, natskv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- runExpirer(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard) }()
	defer func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("runExpirer: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("expirer role did not stop within 15s")
		}
	}()

	// An agent's session, written by an edge allowed one-second timeouts.
	limits := sessions.DefaultLimits(300*time.Second, 3600*time.Second)
	limits.MinTimeout = time.Second
	svc := sessions.NewService(store, sessions.NewHub(), sessions.WithLimits(limits))
	one := json.Number("1")
	s, err := svc.Create(context.Background(), "agent", &sessions.CreateRequest{Message: "Ship it?", Timeout: &one})
	if err != nil {
		t.Fatal(err)
	}

	deadline := time.Now().Add(15 * time.Second)
	for {
		// The store, not the service: a service read would expire it itself.
		got, err := store.Get(context.Background(), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == sessions.StatusExpired {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session still %s 15s after creation", got.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}

	res, err := http.Get("http://" + cfg.ExpirerAddr + "/health")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct{ Status, Service string }
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || body.Status != "ok" || body.Service != "feedbackd-expirer" {
		t.Fatalf("health: %d %+v", res.StatusCode, body)
	}
}
