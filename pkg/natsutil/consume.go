package natsutil

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// drainTimeout bounds how long stopping a Pool waits for the client to hand
// back the messages it holds.
const drainTimeout = 5 * time.Second

// Pool runs a handler over a durable consumer's messages on a fixed number
// of goroutines, for workers that share one consumer across replicas.
type Pool struct {
	cc     jetstream.ConsumeContext
	cancel context.CancelFunc
	quit   chan struct{}
	wg     sync.WaitGroup
}

// PoolOptions configure a Pool.
type PoolOptions struct {
	// Workers is how many messages are handled at once [16].
	Workers int
	// OpTimeout bounds one handler call; the call's context outlives the
	// pool's by this much, so a message in hand at shutdown is finished
	// rather than torn [10s].
	OpTimeout time.Duration
	// Log receives consume errors [slog.Default].
	Log *slog.Logger
	// PullExpiry is how long one pull request waits on the server [5s]. A
	// pull that failed (no responders while the consumer's leader is being
	// elected, after a node was lost or on a new cluster) is only sent
	// again when two heartbeats, half of this, go missing: nats.go's 30 s
	// default left a replica idle for 30 s after each such failure.
	PullExpiry time.Duration
}

// Consume starts handling c's messages until ctx ends or Stop is called.
// The client holds at most twice Workers messages, which keeps the work
// spread across replicas.
func Consume(ctx context.Context, c jetstream.Consumer, o PoolOptions, handle func(context.Context, jetstream.Msg)) (*Pool, error) {
	if o.Workers <= 0 {
		o.Workers = 16
	}
	if o.OpTimeout <= 0 {
		o.OpTimeout = 10 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.PullExpiry <= 0 {
		o.PullExpiry = 5 * time.Second
	}
	pctx, cancel := context.WithCancel(ctx)
	p := &Pool{cancel: cancel, quit: make(chan struct{})}
	jobs := make(chan jetstream.Msg)
	for range o.Workers {
		p.wg.Go(func() {
			for {
				select {
				case m := <-jobs:
					octx, done := context.WithTimeout(context.WithoutCancel(pctx), o.OpTimeout)
					handle(octx, m)
					done()
				case <-p.quit:
					return
				}
			}
		})
	}
	info := c.CachedInfo()
	cc, err := c.Consume(func(m jetstream.Msg) {
		select {
		case jobs <- m:
		case <-pctx.Done():
			// Stopping: hand the message straight back so that another
			// replica takes it now rather than after the ack wait.
			_ = m.Nak()
		}
	},
		jetstream.PullMaxMessages(2*o.Workers),
		jetstream.PullExpiry(o.PullExpiry),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if !errors.Is(err, jetstream.ErrConsumerDeleted) {
				o.Log.Warn("consuming", "consumer", info.Name, "stream", info.Stream, "err", err)
			}
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

// Closed is closed when consuming ends, whether stopped or lost (for
// example, the consumer was deleted).
func (p *Pool) Closed() <-chan struct{} { return p.cc.Closed() }

// Stop hands back what the client still holds, lets the messages already
// being handled finish, and returns when every worker has exited.
func (p *Pool) Stop() {
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

// EnsureStream returns the stream named in want, creating it, or updating
// it when same reports that its configuration differs in a field the caller
// cares about. Replicas that start together with one configuration do not
// rewrite each other's (nats-server 2.15.2 reads a stream's config without
// its lock while creating a consumer, which races with an update).
func EnsureStream(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig,
	same func(have, want jetstream.StreamConfig) bool) (jetstream.Stream, error) {
	s, err := js.Stream(ctx, want.Name)
	if err == nil {
		if same(s.CachedInfo().Config, want) {
			return s, nil
		}
		return js.UpdateStream(ctx, want)
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, err
	}
	// Creating with the configuration a replica just created is a no-op; a
	// different one is refused and becomes an update.
	s, err = js.CreateStream(ctx, want)
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return js.UpdateStream(ctx, want)
	}
	return s, err
}

// EnsureConsumer returns the durable consumer named in want on stream, as
// EnsureStream does for streams.
func EnsureConsumer(ctx context.Context, js jetstream.JetStream, stream string, want jetstream.ConsumerConfig,
	same func(have, want jetstream.ConsumerConfig) bool) (jetstream.Consumer, error) {
	c, err := js.Consumer(ctx, stream, want.Durable)
	if err == nil {
		if same(c.CachedInfo().Config, want) {
			return c, nil
		}
		return js.UpdateConsumer(ctx, stream, want)
	}
	if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, err
	}
	c, err = js.CreateConsumer(ctx, stream, want)
	if errors.Is(err, jetstream.ErrConsumerExists) {
		return js.UpdateConsumer(ctx, stream, want)
	}
	return c, err
}
