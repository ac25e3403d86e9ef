package client_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program"
)

// exampleKey is the API key of the server the examples run against.
const exampleKey = "example-key-0123456789abcdef0123456789"

// TestMain starts the real feedbackd serve for the examples (tests start
// their own, through programtest) and points FEEDBACKD_URL and
// FEEDBACKD_API_KEY at it, as a user's environment would.
func TestMain(m *testing.M) {
	stop, err := startExampleServer()
	if err != nil {
		fmt.Fprintln(os.Stderr, "start the examples' server:", err)
		os.Exit(1)
	}
	code := m.Run()
	// The examples' clients keep idle connections in the default transport,
	// which the edge's graceful shutdown would wait for.
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	if err := stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop the examples' server:", err)
		code = 1
	}
	os.Exit(code)
}

func startExampleServer() (stop func() error, err error) {
	dir, err := os.MkdirTemp("", "feedbackd-client-examples-")
	if err != nil {
		return nil, err
	}
	env := map[string]string{
		"LISTEN_ADDR":       "127.0.0.1:0",
		"DATA_DIR":          dir,
		"API_KEYS":          exampleKey,
		"RATE_LIMIT_CREATE": "off",
		"RATE_LIMIT_SUBMIT": "off",
		"RATE_LIMIT_PAGE":   "off",
	}
	srv := program.NewMain()
	srv.Getenv = func(k string) string { return env[k] }
	srv.Stdout, srv.Stderr = io.Discard, io.Discard
	stop = func() error {
		err := srv.Close()
		_ = os.RemoveAll(dir)
		return err
	}
	ctx := context.Background()
	if err := srv.ParseFlags(ctx, []string{"serve"}); err != nil {
		return nil, err
	}
	if err := srv.Run(ctx); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	select {
	case <-srv.Ready():
	case <-srv.Done():
		return nil, fmt.Errorf("it stopped: %w", stop())
	case <-time.After(60 * time.Second):
		return nil, fmt.Errorf("not ready after 60 s: %w", stop())
	}
	os.Setenv("FEEDBACKD_URL", srv.URL())
	os.Setenv("FEEDBACKD_API_KEY", exampleKey)
	return stop, nil
}
