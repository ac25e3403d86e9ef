package telegram

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Poller long-polls getUpdates and hands each update to Handle, in order.
// Only one process may poll a bot at a time (Telegram ends the older
// getUpdates with 409 Conflict), so run it under a cluster-wide lock
// (natsutil.Lock.Run).
//
// Delivery is at least once: an update is confirmed to Telegram only by the
// next getUpdates after Handle returned nil for it, so an update handled by a
// poller that stops or dies before that call comes again to the next poller.
// Handle must therefore be idempotent — which answering by compare-and-swap
// and toggling by the pressed button's own state are.
type Poller struct {
	// Client polls; required.
	Client *Client
	// Handle is called for each update. It returns an error only when the
	// update should be tried again (e.g. NATS is unreachable); the poller
	// then backs off and gets the same update again. An update it can never
	// act on should be logged and acknowledged with nil.
	Handle func(ctx context.Context, u Update) error
	// Timeout is how long one getUpdates waits for an update; default 30 s.
	Timeout time.Duration
	// Log receives failures; default slog.Default().
	Log *slog.Logger
}

// Run polls until ctx ends and returns ctx's error. Failures — Telegram
// unreachable, a 409 while another poller or a webhook is active, a Handle
// error — are logged and retried with backoff; none ends Run.
func (p *Poller) Run(ctx context.Context) error {
	if p.Client == nil || p.Handle == nil {
		return errors.New("telegram poller: Client and Handle are required")
	}
	log := p.Log
	if log == nil {
		log = slog.Default()
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	var offset int64
	confirmed := true // whether Telegram knows every update below offset was handled
	defer func() {
		if !confirmed {
			p.confirm(offset, log)
		}
	}()
	backoff, handleBackoff := newBackoff(), newBackoff()
	for {
		ups, err := p.Client.GetUpdates(ctx, offset, timeout)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			wait := backoff.next()
			var apiErr *Error
			if errors.As(err, &apiErr) && apiErr.RetryAfter > wait {
				wait = apiErr.RetryAfter
			}
			log.Warn("telegram: getUpdates failed; retrying", "err", err, "in", wait)
			if !sleep(ctx, wait) {
				return ctx.Err()
			}
			continue
		}
		backoff.reset()
		confirmed = true
		for _, u := range ups {
			if u.UpdateID < offset {
				continue // Telegram repeating one we have handled
			}
			if err := p.Handle(ctx, u); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				wait := handleBackoff.next()
				log.Warn("telegram: handling an update failed; it will come again", "update", u.UpdateID, "err", err, "in", wait)
				if !sleep(ctx, wait) {
					return ctx.Err()
				}
				break
			}
			handleBackoff.reset()
			offset = u.UpdateID + 1
			confirmed = false
		}
	}
}

// confirm tells Telegram that every update below offset is handled, so that
// the next poller does not get them again. It asks for one update and waits
// for none; what it returns is left for the next poller.
func (p *Poller) confirm(offset int64, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := p.Client.getUpdates(ctx, offset, 1, 0); err != nil {
		log.Info("telegram: could not confirm handled updates; the next poller will see them again", "err", err)
	}
}

// backoff doubles from 500 ms to 30 s.
type backoff struct{ d time.Duration }

func newBackoff() *backoff { return &backoff{} }

func (b *backoff) next() time.Duration {
	if b.d == 0 {
		b.d = 500 * time.Millisecond
	} else {
		b.d = min(2*b.d, 30*time.Second)
	}
	return b.d
}

func (b *backoff) reset() { b.d = 0 }

// sleep waits d or until ctx ends, and reports whether it waited d.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
