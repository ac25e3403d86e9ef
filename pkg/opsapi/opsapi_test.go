package opsapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/pkg/metrics"
	"github.com/feedbackd/feedbackd/pkg/opsapi"
)

func TestReadyAndHealthFollowTheirChecks(t *testing.T) {
	var down atomic.Bool
	check := func(context.Context) error {
		if down.Load() {
			return errors.New("NATS is not connected")
		}
		return nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- opsapi.Serve(ctx, ln, opsapi.New(opsapi.Config{Service: "feedbackd", Version: "test", Health: check, Ready: check, Metrics: metrics.Handler()}))
	}()
	base := "http://" + ln.Addr().String()

	get := func(path string) (int, string) {
		t.Helper()
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	var ready opsapi.ReadyBody
	code, body := get("/ready")
	if err := json.Unmarshal([]byte(body), &ready); err != nil || code != 200 || ready.Status != "ready" {
		t.Fatalf("ready: %d %s", code, body)
	}
	if code, body := get("/health"); code != 200 || !strings.Contains(body, `"status":"ok"`) || !strings.Contains(body, `"version":"test"`) {
		t.Fatalf("health: %d %s", code, body)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("metrics: %d %.200s", code, body)
	}
	down.Store(true)
	code, body = get("/ready")
	if err := json.Unmarshal([]byte(body), &ready); err != nil || code != 503 || ready.Status != "not ready" || ready.Reason != "NATS is not connected" {
		t.Fatalf("ready while down: %d %s", code, body)
	}
	if code, body := get("/health"); code != 503 || !strings.Contains(body, `"degraded"`) {
		t.Fatalf("health while down: %d %s", code, body)
	}
	if code, _ := get("/elsewhere"); code != 404 {
		t.Fatalf("unknown path: %d", code)
	}
	res, err := http.Post(base+"/ready", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 405 {
		t.Fatalf("POST /ready: %d", res.StatusCode)
	}

	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}

func TestReadinessWithoutCheckIsReadyAndAHangingCheckIsBounded(t *testing.T) {
	get := func(h http.Handler, path string) (int, opsapi.ReadyBody) {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		var body opsapi.ReadyBody
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		return rec.Code, body
	}
	if code, body := get(opsapi.New(opsapi.Config{}), "/ready"); code != 200 || body.Status != "ready" {
		t.Fatalf("%d %+v", code, body)
	}
	slow := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	start := time.Now()
	code, body := get(opsapi.New(opsapi.Config{Ready: slow, CheckTimeout: 50 * time.Millisecond}), "/ready")
	if code != 503 || time.Since(start) > 2*time.Second || body.Reason == "" {
		t.Fatalf("a hanging check is bounded: %d %+v after %s", code, body, time.Since(start))
	}
}

func TestPathsListMetricsOnlyWhenServed(t *testing.T) {
	if got := opsapi.New(opsapi.Config{}).Paths(); len(got) != 2 || got[0] != "/health" || got[1] != "/ready" {
		t.Fatalf("without metrics: %v", got)
	}
	if got := opsapi.New(opsapi.Config{Metrics: metrics.Handler()}).Paths(); len(got) != 3 || got[2] != "/metrics" {
		t.Fatalf("with metrics: %v", got)
	}
}

func TestProfilesOnlyWhenAskedFor(t *testing.T) {
	for _, profiles := range []bool{false, true} {
		srv := httptest.NewServer(opsapi.New(opsapi.Config{Profiles: profiles}))
		for _, path := range []string{opsapi.ProfilePath, opsapi.ProfilePath + "heap", opsapi.ProfilePath + "cmdline"} {
			res, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if want := map[bool]int{false: http.StatusNotFound, true: http.StatusOK}[profiles]; res.StatusCode != want {
				t.Errorf("profiles %v: GET %s = %d, want %d", profiles, path, res.StatusCode, want)
			}
		}
		srv.Close()
	}
}
