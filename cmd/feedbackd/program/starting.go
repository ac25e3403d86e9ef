package program

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/feedbackd/feedbackd/pkg/envelope"
	"github.com/feedbackd/feedbackd/pkg/opsapi"
	"github.com/feedbackd/feedbackd/sessions"
)

// retryWhileStarting is the Retry-After, in seconds, of what is refused while
// the role waits for NATS.
const retryWhileStarting = "5"

// startingHandler answers on a role's address until its app takes over:
// /health and /ready (and /metrics) as always, through ops, and every other
// request with 503 SERVICE_UNAVAILABLE in the API's envelope, with
// Retry-After. So a load balancer, a probe and a client all see at once that
// the process is up and what it waits for, instead of a refused connection.
func startingHandler(ops *opsapi.Handler) http.Handler {
	mux := http.NewServeMux()
	for _, p := range ops.Paths() {
		mux.Handle(p, ops)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Retry-After", retryWhileStarting)
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(envelope.Body{
			Error: &envelope.Error{
				Code:    sessions.CodeServiceUnavailable,
				Message: "feedbackd is starting: waiting for NATS; try again shortly",
			},
			Timestamp: envelope.Now(),
		})
	})
	return mux
}

// startingServer serves a handler on one stage of a handoff until stop.
type startingServer struct {
	srv   *http.Server
	stage net.Listener
	conns sync.WaitGroup // connections accepted and not yet closed
	done  chan error
}

func serveStarting(h *handoff, handler http.Handler) *startingServer {
	s := &startingServer{
		srv: &http.Server{
			Handler:           handler,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      10 * time.Second,
			IdleTimeout:       30 * time.Second,
		},
		stage: h.stage(),
		done:  make(chan error, 1),
	}
	s.srv.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.conns.Add(1)
		case http.StateClosed, http.StateHijacked:
			s.conns.Done()
		}
	}
	// One request per connection: a client's next request then comes in
	// through whichever server has the address by then.
	s.srv.SetKeepAlivesEnabled(false)
	go func() { s.done <- s.srv.Serve(s.stage) }()
	return s
}

// stop hands the address on: the server takes no more connections (they wait
// for the next one), answers those it has, and closes. It does not use
// http.Server.Shutdown, which drops a request read after it began.
func (s *startingServer) stop() error {
	_ = s.stage.Close()
	err := <-s.done // Serve returns once its Accept fails; no new connection after this
	if errors.Is(err, net.ErrClosed) || errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	answered := make(chan struct{})
	go func() { s.conns.Wait(); close(answered) }()
	select {
	case <-answered:
	case <-time.After(5 * time.Second):
	}
	return errors.Join(err, s.srv.Close())
}
