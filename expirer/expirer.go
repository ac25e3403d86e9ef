package expirer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedbackd/feedbackd/pkg/natsutil"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/natskv"
)

// Config is what an expirer replica needs.
type Config struct {
	// JetStream reaches the NATS that holds the sessions bucket.
	JetStream jetstream.JetStream
	// Store is the sessions bucket; the expirer follows its stream.
	Store *natskv.Store
	// Service writes the expiries (a compare-and-swap on the record).
	Service *sessions.Service
	// Log receives what the expirer has to say; nil means slog.Default.
	Log *slog.Logger
	// Replicas of the deadlines stream: 1, or 3 on a NATS cluster.
	Replicas int
	// Workers is how many messages of each consumer this replica handles at
	// once; default 32.
	Workers int
}

const (
	// feedAckWait and expireAckWait bound how long a message held by a
	// replica that died waits before another replica gets it.
	feedAckWait   = 10 * time.Second
	expireAckWait = 5 * time.Second
	// maxAckPending is the consumers' in-flight limit across all replicas.
	maxAckPending = 4096
	// opTimeout bounds one NATS operation of a handler.
	opTimeout = 10 * time.Second
	// retryDelay is how long a message waits after a failed attempt.
	retryDelay = time.Second
	// setupTimeout bounds creating the stream and the consumers.
	setupTimeout = 30 * time.Second
	maxBackoff   = 10 * time.Second
)

// ErrSchedulesUnsupported means the NATS server cannot schedule messages
// (nats-server 2.12 or later is needed).
var ErrSchedulesUnsupported = errors.New("the NATS server does not support message schedules (nats-server 2.12 or later is needed)")

// Run runs one expirer replica until ctx ends; any number may run against one
// NATS. It creates or updates the deadlines stream and the two durable
// consumers, then schedules the deadline of every pending session it reads
// from the sessions bucket's stream and expires the sessions whose schedules
// fire. When consuming breaks (NATS lost the stream, a consumer was deleted)
// it sets everything up again with backoff. It returns nil once ctx ends and
// the messages in hand are finished, or an error if it cannot work at all.
func Run(ctx context.Context, cfg Config) error {
	if cfg.JetStream == nil || cfg.Store == nil || cfg.Service == nil {
		return errors.New("expirer: JetStream, Store and Service are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 32
	}
	x := &expirer{cfg: cfg, log: cfg.Log}
	backoff := 250 * time.Millisecond
	for {
		started, err := x.runOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrSchedulesUnsupported) {
			return err
		}
		if started {
			backoff = 250 * time.Millisecond
		}
		x.log.Error("expirer interrupted; starting again", "err", err, "in", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// expirer is one replica.
type expirer struct {
	cfg Config
	log *slog.Logger
	// wholeSeconds is set once the server refuses a schedule time with a
	// fraction of a second; from then on deadlines are rounded up.
	wholeSeconds atomic.Bool
}

// runOnce sets up and consumes until ctx ends or consuming breaks. started
// reports whether setup succeeded.
func (x *expirer) runOnce(ctx context.Context) (started bool, err error) {
	feed, due, err := x.setup(ctx)
	if err != nil {
		return false, err
	}
	opts := natsutil.PoolOptions{Workers: x.cfg.Workers, OpTimeout: opTimeout, Log: x.log}
	feedPool, err := natsutil.Consume(ctx, feed, opts, x.schedule)
	if err != nil {
		return false, fmt.Errorf("consume the sessions feed: %w", err)
	}
	duePool, err := natsutil.Consume(ctx, due, opts, x.expire)
	if err != nil {
		feedPool.Stop()
		return false, fmt.Errorf("consume expiry requests: %w", err)
	}
	x.log.Info("expirer running", "stream", Stream, "workers", x.cfg.Workers)
	select {
	case <-ctx.Done():
	case <-feedPool.Closed():
		err = errors.New("consuming the sessions feed stopped")
	case <-duePool.Closed():
		err = errors.New("consuming expiry requests stopped")
	}
	feedPool.Stop()
	duePool.Stop()
	if ctx.Err() != nil {
		x.log.Info("expirer stopped")
	}
	return true, err
}

// setup creates or updates the deadlines stream and both consumers. Every
// replica does this at start with the same configuration; what already
// matches is left alone, so replicas starting together do not rewrite each
// other's configuration (nats-server 2.15.2 reads a stream's config without
// its lock while creating a consumer, which races with a concurrent update).
func (x *expirer) setup(ctx context.Context) (feed, due jetstream.Consumer, err error) {
	ctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	js := x.cfg.JetStream
	stream, err := ensureStream(ctx, js, jetstream.StreamConfig{
		Name:        Stream,
		Description: "feedbackd session deadlines: a message schedule per pending session and the expiry requests they fire",
		Subjects:    []string{schedulePrefix + "*", expirePrefix + "*"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    x.cfg.Replicas,
		// One schedule and one expiry request per session at most: a repeated
		// schedule or request replaces the earlier one.
		MaxMsgsPerSubject: 1,
		AllowRollup:       true,
		AllowMsgTTL:       true,
		AllowMsgSchedules: true,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("create or update stream %s: %w", Stream, err)
	}
	// A server that predates schedules ignores the field instead of refusing
	// it; its schedules would never fire.
	if !stream.CachedInfo().Config.AllowMsgSchedules {
		return nil, nil, ErrSchedulesUnsupported
	}
	due, err = ensureConsumer(ctx, js, Stream, jetstream.ConsumerConfig{
		Durable:       ExpireConsumer,
		Description:   "feedbackd expirer: expiry requests fired by session deadlines",
		FilterSubject: expirePrefix + "*",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       expireAckWait,
		MaxAckPending: maxAckPending,
		MaxDeliver:    -1,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("create or update consumer %s on %s: %w", ExpireConsumer, Stream, err)
	}
	bucket := x.cfg.Store.Bucket()
	// "KV_<bucket>" is the stream behind every JetStream KV bucket.
	feedStream := "KV_" + bucket
	feed, err = ensureConsumer(ctx, js, feedStream, jetstream.ConsumerConfig{
		Durable:       FeedConsumer,
		Description:   "feedbackd expirer: schedules the deadline of every pending session",
		FilterSubject: natskv.FeedSubject(bucket, "*"),
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       feedAckWait,
		MaxAckPending: maxAckPending,
		MaxDeliver:    -1,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("create or update consumer %s on %s: %w", FeedConsumer, feedStream, err)
	}
	return feed, due, nil
}

// ensureStream returns the stream, creating or updating it only when its
// configuration differs from want in a field the expirer sets.
func ensureStream(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig) (jetstream.Stream, error) {
	s, err := js.Stream(ctx, want.Name)
	if err == nil {
		have := s.CachedInfo().Config
		if have.Description == want.Description && slices.Equal(have.Subjects, want.Subjects) &&
			have.Retention == want.Retention && have.Storage == want.Storage && have.Replicas == want.Replicas &&
			have.MaxMsgsPerSubject == want.MaxMsgsPerSubject && have.AllowRollup == want.AllowRollup &&
			have.AllowMsgTTL == want.AllowMsgTTL && have.AllowMsgSchedules == want.AllowMsgSchedules {
			return s, nil
		}
		return js.UpdateStream(ctx, want)
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, err
	}
	// Creating with the same configuration as a replica that just did is a
	// no-op; a different one is refused and becomes an update.
	s, err = js.CreateStream(ctx, want)
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return js.UpdateStream(ctx, want)
	}
	return s, err
}

// ensureConsumer returns the durable consumer, creating or updating it only
// when its configuration differs from want in a field the expirer sets.
func ensureConsumer(ctx context.Context, js jetstream.JetStream, stream string, want jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	c, err := js.Consumer(ctx, stream, want.Durable)
	if err == nil {
		have := c.CachedInfo().Config
		if have.Description == want.Description && have.FilterSubject == want.FilterSubject &&
			have.DeliverPolicy == want.DeliverPolicy && have.AckPolicy == want.AckPolicy && have.AckWait == want.AckWait &&
			have.MaxAckPending == want.MaxAckPending && have.MaxDeliver == want.MaxDeliver {
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
