package program_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/pkg/syncbuf"
	"github.com/feedbackd/feedbackd/sessions"
)

// get returns the status and body of GET url.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// want is a WaitFor condition: GET url answers status with a body that
// contains every one of parts.
func want(url string, status int, parts ...string) func() error {
	return func() error {
		res, err := http.Get(url)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != status {
			return fmt.Errorf("GET %s: %d %s, want %d", url, res.StatusCode, b, status)
		}
		for _, p := range parts {
			if !strings.Contains(string(b), p) {
				return fmt.Errorf("GET %s: %s lacks %q", url, b, p)
			}
		}
		return nil
	}
}

func TestEveryRoleStartsServesAndStops(t *testing.T) {
	t.Parallel()
	ns := programtest.StartNATS(t)
	edge := programtest.MustRunMain(t, programtest.Role("edge"), programtest.NATS(ns.URL))
	notifier := programtest.MustRunMain(t, programtest.Role("notifier"), programtest.NATS(ns.URL), programtest.Env("NOTIFIER_ADDR", "127.0.0.1:0"))
	expirer := programtest.MustRunMain(t, programtest.Role("expirer"), programtest.NATS(ns.URL))
	dispatcher := programtest.MustRunMain(t, programtest.Role("dispatcher"), programtest.NATS(ns.URL),
		programtest.Env("PUBLIC_URL", "https://feedback.example.com"))
	serve := programtest.MustRunMain(t)
	for name, u := range map[string]string{
		"serve": serve.URL(), "edge": edge.URL(), "notifier": notifier.URL(), "expirer": expirer.OpsURL(),
		"dispatcher": dispatcher.OpsURL(),
	} {
		for _, path := range []string{"/health", "/ready", "/metrics"} {
			if status, body := get(t, u+path); status != 200 {
				t.Errorf("%s %s: %d %s", name, path, status, body)
			}
		}
	}
	for name, want := range map[string]string{"serve": "feedbackd", "edge": "feedbackd", "notifier": "feedbackd-notifier",
		"dispatcher": "feedbackd-dispatcher"} {
		u := map[string]string{"serve": serve.URL(), "edge": edge.URL(), "notifier": notifier.URL(), "dispatcher": dispatcher.OpsURL()}[name]
		var h struct{ Service, Version string }
		_, body := get(t, u+"/health")
		if err := json.Unmarshal([]byte(body), &h); err != nil || h.Service != want || h.Version != "test" {
			t.Errorf("%s /health: %s", name, body)
		}
	}
	// serve carries the notifier on the edge's address; the notifier alone
	// has its own. A plain GET there is told to upgrade.
	for _, u := range []string{serve.URL(), notifier.URL()} {
		if status, body := get(t, u+"/ws"); status != http.StatusUpgradeRequired || !strings.Contains(body, "UPGRADE_REQUIRED") {
			t.Errorf("%s/ws as plain HTTP: %d %s", u, status, body)
		}
	}
	if status, _ := get(t, edge.URL()+"/ws"); status != http.StatusNotFound {
		t.Errorf("the edge alone serves /ws: %d", status)
	}
	if serve.Notifier() == nil || serve.Edge() == nil || notifier.Notifier() == nil || edge.Notifier() != nil {
		t.Errorf("parts: serve %v/%v, notifier %v, edge's notifier %v", serve.Edge(), serve.Notifier(), notifier.Notifier(), edge.Notifier())
	}
}

func TestNATSRoleServesClients(t *testing.T) {
	t.Parallel()
	m := programtest.MustRunMain(t, programtest.Role("nats"), programtest.Env("NATS_LISTEN", "127.0.0.1:0"))
	if m.NATSURL() == "" {
		t.Fatal("no client URL")
	}
	edge := programtest.MustRunMain(t, programtest.Role("edge"), programtest.NATS(m.NATSURL()))
	if status, body := get(t, edge.URL()+"/ready"); status != 200 {
		t.Fatalf("edge over the nats role: %d %s", status, body)
	}
}

func TestExpirerRoleExpiresSessionsAndServesHealth(t *testing.T) {
	t.Parallel()
	ns := programtest.StartNATS(t)
	// An edge allowed one-second timeouts writes the session.
	edge := programtest.MustRunMain(t, programtest.Role("edge"), programtest.NATS(ns.URL), programtest.ShortTimeouts())
	programtest.MustRunMain(t, programtest.Role("expirer"), programtest.NATS(ns.URL))
	one := sessions.Number("1")
	s, err := edge.Backend().Service().Create(context.Background(), "agent", &sessions.CreateRequest{Message: "Ship it?", Timeout: &one})
	if err != nil {
		t.Fatal(err)
	}
	programtest.WaitFor(t, 15*time.Second, func() error {
		// The store, not the service: a service read would expire it itself.
		got, err := edge.Backend().Store().Get(context.Background(), s.ID)
		if err != nil {
			return err
		}
		if got.Status != sessions.StatusExpired {
			return fmt.Errorf("session still %s", got.Status)
		}
		return nil
	})
}

// Started before its NATS, the edge listens at once, answers /health and
// /ready with 503 saying which URL fails and why, and serves as soon as NATS
// comes.
func TestEdgeWaitsForAnUnreachableNATSAndSaysWhy(t *testing.T) {
	t.Parallel()
	ns := programtest.StartNATS(t)
	ns.Stop()
	logs := &syncbuf.Buffer{}
	m := programtest.MustRunMain(t, programtest.Role("edge"), programtest.NATS(ns.URL), programtest.NoWait(), programtest.Logs(logs))
	programtest.WaitFor(t, 10*time.Second, want(m.URL()+"/ready", 503, ns.URL, "unreachable", "connection refused"))
	if status, body := get(t, m.URL()+"/health"); status != 503 || !strings.Contains(body, `"degraded"`) {
		t.Fatalf("/health while waiting: %d %s", status, body)
	}
	res, err := http.Get(m.URL() + "/api/feedback")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 503 || res.Header.Get("Retry-After") == "" || !strings.Contains(string(b), `"SERVICE_UNAVAILABLE"`) {
		t.Fatalf("API while waiting: %d %v %s", res.StatusCode, res.Header, b)
	}
	programtest.WaitFor(t, 5*time.Second, func() error {
		if l := logs.String(); !strings.Contains(l, ns.URL) || !strings.Contains(l, "connection refused") {
			return fmt.Errorf("log does not say which URL failed and why:\n%s", l)
		}
		return nil
	})

	ns.Start()
	select {
	case <-m.Ready():
	case <-time.After(30 * time.Second):
		t.Fatalf("not ready 30s after NATS came; log:\n%s", logs)
	}
	programtest.WaitFor(t, 5*time.Second, want(m.URL()+"/health", 200, `"ok"`))
	status, _ := get(t, m.URL()+"/api/feedback")
	if status != http.StatusUnauthorized {
		t.Fatalf("API once ready: %d, want 401 without a key", status)
	}
}

// startNATS starts a bare nats-server configured by opts, on 127.0.0.1.
func startNATS(t *testing.T, opts *server.Options) string {
	t.Helper()
	opts.Host, opts.Port, opts.NoSigs = "127.0.0.1", -1, true
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return srv.ClientURL()
}

func TestEdgeSaysWhenNATSHasNoJetStreamOrRefusesItsCredentials(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		opts   *server.Options
		reason string
	}{
		{"no JetStream", &server.Options{}, "has no JetStream"},
		{"wrong credentials", &server.Options{Authorization: "the-right-token"}, "Authorization Violation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url := startNATS(t, tc.opts)
			logs := &syncbuf.Buffer{}
			m := programtest.MustRunMain(t, programtest.Role("edge"), programtest.NATS(url), programtest.NoWait(), programtest.Logs(logs))
			programtest.WaitFor(t, 30*time.Second, want(m.URL()+"/ready", 503, url, tc.reason))
			programtest.WaitFor(t, 30*time.Second, func() error {
				if !strings.Contains(logs.String(), tc.reason) {
					return errors.New("the log does not say " + tc.reason)
				}
				return nil
			})
		})
	}
}

// Weak credentials are worth one clear warning each, not one per part that
// authenticates.
func TestWeakCredentialsAreWarnedAboutOnce(t *testing.T) {
	t.Parallel()
	logs := &syncbuf.Buffer{}
	programtest.MustRunMain(t, programtest.Logs(logs),
		programtest.Env("API_KEYS", programtest.KeyA+",short-key"),
		programtest.Env("JWT_SECRET", "a-short-secret"))
	l := logs.String()
	for _, w := range []string{"API key is shorter than 32 characters", "JWT secret is shorter than 32 bytes"} {
		if n := strings.Count(l, w); n != 1 {
			t.Errorf("%q logged %d times, want once:\n%s", w, n, l)
		}
	}
	if strings.Contains(l, "short-key") || strings.Contains(l, "a-short-secret") {
		t.Errorf("a credential is in the log:\n%s", l)
	}
}

func TestServeGeneratesAKeyAndPrintsIt(t *testing.T) {
	t.Parallel()
	out := &syncbuf.Buffer{}
	m := programtest.MustRunMain(t, programtest.Env("API_KEYS", ""), programtest.Stdout(out))
	banner := out.String()
	if !strings.Contains(banner, "generated an API key") || !strings.Contains(banner, m.URL()+"/api/feedback") {
		t.Fatalf("banner: %q", banner)
	}
}
