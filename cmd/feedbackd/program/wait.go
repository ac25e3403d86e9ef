package program

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// connectLogEvery spaces out the log lines of a NATS that stays unreachable:
// the first failure and every change of reason are logged at once, the same
// reason again at most this often.
const connectLogEvery = 30 * time.Second

// natsWatch remembers why NATS cannot be reached, so that the log and /ready
// say which URL failed and why (refused, unresolvable, TLS, authorization,
// no JetStream), not only that a step timed out.
type natsWatch struct {
	url string // redacted; "embedded" for the in-process server
	log *slog.Logger

	mu        sync.Mutex
	lastErr   error // the last failed connection attempt
	waiting   error // what the last set-up step failed on
	lastLog   time.Time
	lastLogAs string
}

// notReady says why the role does not serve yet: what a set-up step failed
// on, else why the connection is down, else that it is still connecting.
func (w *natsWatch) notReady(nc *nats.Conn) error {
	w.mu.Lock()
	waiting := w.waiting
	w.mu.Unlock()
	if nc != nil && !nc.IsConnected() {
		return w.why(nc, nil)
	}
	if waiting != nil {
		return waiting
	}
	return fmt.Errorf("connecting to NATS at %s", w.url)
}

// connectFailed records a failed attempt to connect (natsutil.ClientConfig's
// ConnectFailed) and logs it unless it was just logged.
func (w *natsWatch) connectFailed(err error) {
	w.mu.Lock()
	w.lastErr = err
	now := time.Now()
	logIt := err.Error() != w.lastLogAs || now.Sub(w.lastLog) >= connectLogEvery
	if logIt {
		w.lastLog, w.lastLogAs = now, err.Error()
	}
	w.mu.Unlock()
	if logIt {
		w.log.Warn("cannot connect to NATS; retrying", "url", w.url, "err", err)
	}
}

// connectErr is the last reason a connection attempt failed.
func (w *natsWatch) connectErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastErr
}

// why explains stepErr, the failure of a JetStream step over nc.
func (w *natsWatch) why(nc *nats.Conn, stepErr error) error {
	switch {
	case nc == nil:
		return stepErr
	case !nc.IsConnected():
		cause := w.connectErr()
		if cause == nil {
			cause = nc.LastError()
		}
		if cause == nil {
			cause = errors.New("not connected yet")
		}
		return fmt.Errorf("NATS at %s is unreachable: %w", w.url, cause)
	case errors.Is(stepErr, jetstream.ErrJetStreamNotEnabled), errors.Is(stepErr, jetstream.ErrJetStreamNotEnabledForAccount),
		errors.Is(stepErr, nats.ErrNoResponders):
		return fmt.Errorf("NATS at %s has no JetStream (run nats-server with -js, or feedbackd nats): %w", w.url, stepErr)
	}
	return fmt.Errorf("NATS at %s: %w", w.url, stepErr)
}

// waiter retries JetStream set-up steps.
type waiter struct {
	nc    *nats.Conn
	log   *slog.Logger
	watch *natsWatch // nil: no diagnosis beyond the step's error
}

// untilJetStream retries a JetStream set-up step with backoff until it works
// or ctx ends: a role started before its NATS cluster has elected a leader,
// or while a node restarts, must wait for it, not die. Each failure is
// logged with what it means.
func (w waiter) untilJetStream(ctx context.Context, what string, step func(ctx context.Context) error) error {
	backoff := 250 * time.Millisecond
	for {
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := step(sctx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, errors.Join(ctx.Err(), err))
		}
		reason := err
		if w.watch != nil {
			reason = w.watch.why(w.nc, err)
			w.watch.setWaiting(reason)
		}
		w.log.Warn("waiting for NATS", "step", what, "reason", reason, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// setWaiting records what a set-up step waits for, for /ready.
func (w *natsWatch) setWaiting(reason error) {
	w.mu.Lock()
	w.waiting = reason
	w.mu.Unlock()
}
