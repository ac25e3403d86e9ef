package expirer

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// drainTimeout bounds how long stopping waits for the client to hand over
// the messages it already holds.
const drainTimeout = 5 * time.Second

// pool runs a handler over a consumer's messages on a fixed number of
// goroutines. The messages of one consumer are independent (one subject per
// session, and every handler tolerates stale or repeated messages), so they
// need no ordering.
type pool struct {
	cc     jetstream.ConsumeContext
	cancel context.CancelFunc
	quit   chan struct{}
	wg     sync.WaitGroup
}

// consume starts workers goroutines running handle over c's messages. Each
// handle gets a context that outlives ctx by opTimeout, so that an expiry in
// flight at shutdown is finished rather than torn.
func consume(ctx context.Context, c jetstream.Consumer, workers int, opTimeout time.Duration, log *slog.Logger,
	handle func(context.Context, jetstream.Msg)) (*pool, error) {
	pctx, cancel := context.WithCancel(ctx)
	p := &pool{cancel: cancel, quit: make(chan struct{})}
	jobs := make(chan jetstream.Msg)
	for range workers {
		p.wg.Go(func() {
			for {
				select {
				case m := <-jobs:
					octx, done := context.WithTimeout(context.WithoutCancel(pctx), opTimeout)
					handle(octx, m)
					done()
				case <-p.quit:
					return
				}
			}
		})
	}
	cc, err := c.Consume(func(m jetstream.Msg) {
		select {
		case jobs <- m:
		case <-pctx.Done():
			// Stopping: hand the message straight back so that another
			// replica takes it now rather than after the ack wait.
			_ = m.Nak()
		}
	},
		// A small client-side buffer keeps the work spread across replicas.
		jetstream.PullMaxMessages(2*workers),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			log.Warn("consuming", "consumer", c.CachedInfo().Name, "stream", c.CachedInfo().Stream, "err", err)
		}))
	if err != nil {
		cancel()
		close(p.quit)
		p.wg.Wait()
		return nil, err
	}
	p.cc = cc
	return p, nil
}

// closed is closed when consuming ends, whether stopped or lost (for
// example, the consumer was deleted).
func (p *pool) closed() <-chan struct{} { return p.cc.Closed() }

// stop hands back what the client still holds, lets the messages already
// being handled finish, and returns when every worker has exited.
func (p *pool) stop() {
	p.cancel()
	p.cc.Drain()
	select {
	case <-p.cc.Closed():
	case <-time.After(drainTimeout):
		p.cc.Stop()
	}
	close(p.quit)
	p.wg.Wait()
}
