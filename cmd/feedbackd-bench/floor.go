package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// floorBody is what the floor answers every request with: about the size of
// feedbackd's create response, in the API's envelope.
const floorBody = `{"success":true,"data":{"sessionId":"00000000-0000-4000-8000-000000000000","status":"pending"},"timestamp":"2026-01-01T00:00:00.000Z"}`

// runFloor is `feedbackd-bench floor`: the HTTP floor, a bare net/http
// handler that reads the request and answers a small JSON body. It is what
// the same load costs when the server does nothing but HTTP, and serves
// until SIGTERM or SIGINT.
func runFloor(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("feedbackd-bench floor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "loopback address to serve on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		return fmt.Errorf("--listen %q must be a loopback host:port", *listen)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: floorHandler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

func floorHandler() http.Handler {
	body := []byte(floorBody)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		w.Header().Set("Content-Type", "application/json")
		status := http.StatusOK
		if r.Method == http.MethodPost && r.URL.Path == "/api/feedback/create" {
			status = http.StatusCreated
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	})
}
