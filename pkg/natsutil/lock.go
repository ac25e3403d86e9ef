package natsutil

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// LocksBucket holds cluster-wide locks: one key per lock, written with a
// per-key TTL, so that the lock of a holder that died runs out by itself.
const LocksBucket = "feedbackd_locks"

// ErrLockLost is the cause of a lease's context when the lease ended because
// the lock could no longer be proven held: a refresh found the key changed by
// someone else, or refreshes kept failing until the key may have run out.
var ErrLockLost = errors.New("lock lost")

// OpenLocks creates the locks bucket, or updates its configuration, and
// returns it. Every replica may call it.
func OpenLocks(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.KeyValue, error) {
	if replicas < 1 {
		replicas = 1
	}
	// EnsureKeyValue, not CreateOrUpdateKeyValue: replicas starting
	// together on a cluster would hang on the latter (see EnsureKeyValue).
	kv, err := EnsureKeyValue(ctx, js, jetstream.KeyValueConfig{
		Bucket:      LocksBucket,
		Description: "feedbackd cluster-wide locks, one key per lock with a per-key TTL",
		History:     1,
		Replicas:    replicas,
		Storage:     jetstream.FileStorage,
		// Per-key TTLs need limit markers; the marker of an expired lock is
		// what wakes the waiting contenders.
		LimitMarkerTTL: time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("open locks bucket: %w", err)
	}
	return kv, nil
}

// Lock is a lock that at most one process of the cluster holds at a time: a
// key in a KV bucket opened by OpenLocks. Acquiring creates the key if it is
// absent, with a TTL; the holder refreshes it by compare-and-swap every TTL/3
// and gives the lease up as soon as it can no longer prove it holds the key.
// A holder that dies stops refreshing, its key runs out after at most the TTL,
// and a waiting contender takes over.
//
// The guarantee rests on the holder's clock running no slower than the
// server's over one TTL: a holder that cannot refresh stops using the lease
// at 2/3 of the TTL after its last successful write, the key lasts the whole
// TTL after it.
type Lock struct {
	js     jetstream.JetStream
	kv     jetstream.KeyValue
	key    string
	ttl    time.Duration
	holder []byte
	log    *slog.Logger
}

// LockOption configures a Lock.
type LockOption func(*Lock)

// WithLockHolder sets the value written to the key, which names the holder
// to anyone who reads the bucket. The default is the host name and a random
// suffix.
func WithLockHolder(name string) LockOption {
	return func(l *Lock) { l.holder = []byte(name) }
}

// WithLockLogger sets where the lock reports acquisitions and losses.
func WithLockLogger(log *slog.Logger) LockOption {
	return func(l *Lock) { l.log = log }
}

// NewLock returns the lock named key in kv (a bucket opened by OpenLocks).
// ttl is how long a dead holder keeps the lock; NATS counts message TTLs in
// whole seconds, so it must be a whole number of seconds, at least one.
func NewLock(js jetstream.JetStream, kv jetstream.KeyValue, key string, ttl time.Duration, opts ...LockOption) (*Lock, error) {
	if js == nil || kv == nil {
		return nil, errors.New("new lock: JetStream and bucket are required")
	}
	if key == "" {
		return nil, errors.New("new lock: key is required")
	}
	if ttl < time.Second || ttl%time.Second != 0 {
		return nil, fmt.Errorf("new lock %s: ttl %v must be a whole number of seconds, at least 1s", key, ttl)
	}
	l := &Lock{js: js, kv: kv, key: key, ttl: ttl, log: slog.Default()}
	for _, o := range opts {
		o(l)
	}
	if len(l.holder) == 0 {
		host, _ := os.Hostname()
		suffix := make([]byte, 4)
		_, _ = rand.Read(suffix)
		l.holder = []byte(host + "-" + hex.EncodeToString(suffix))
	}
	return l, nil
}

// Key returns the lock's key.
func (l *Lock) Key() string { return l.key }

// Acquire waits until this process holds the lock, or ctx ends. The lease it
// returns is refreshed in the background until it is released or lost; its
// Context ends then, and with ctx. Failures to reach NATS while waiting are
// retried for as long as ctx lasts.
func (l *Lock) Acquire(ctx context.Context) (*Lease, error) {
	// Watch first, so that a release between a failed create and the wait
	// still wakes us. Without a watcher (NATS unreachable) polling does.
	var changes <-chan jetstream.KeyValueEntry
	if w, err := l.kv.Watch(ctx, l.key, jetstream.UpdatesOnly(), jetstream.MetaOnly()); err == nil {
		defer func() { _ = w.Stop() }()
		changes = w.Updates()
	}
	poll := time.NewTicker(l.ttl / 4)
	defer poll.Stop()
	var lastErr string
	for {
		rev, err := l.kv.Create(ctx, l.key, l.holder, jetstream.KeyTTL(l.ttl))
		if err == nil {
			l.log.Info("lock acquired", "lock", l.key, "holder", string(l.holder))
			return l.startLease(ctx, rev), nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("acquire lock %s: %w", l.key, ctx.Err())
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && err.Error() != lastErr {
			lastErr = err.Error()
			l.log.Warn("lock: cannot reach the locks bucket; retrying", "lock", l.key, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("acquire lock %s: %w", l.key, ctx.Err())
		case <-poll.C:
		case e, ok := <-changes:
			if !ok {
				changes = nil
				continue
			}
			if e != nil && e.Operation() == jetstream.KeyValuePut {
				continue // someone refreshed or took it; keep waiting
			}
		}
	}
}

// Run holds the lock whenever it can, until ctx ends: it waits for the lock,
// calls fn with a context that ends when the lease is lost (or ctx ends),
// releases the lock when fn returns, and contends again. fn should return
// promptly when its context ends. If fn returns on its own, Run waits a third
// of the TTL before contending again, so that a failing fn does not spin.
// Run returns ctx's error.
func (l *Lock) Run(ctx context.Context, fn func(ctx context.Context)) error {
	for {
		lease, err := l.Acquire(ctx)
		if err != nil {
			return ctx.Err()
		}
		fn(lease.Context())
		lost := lease.Context().Err() != nil
		if err := lease.Release(); err != nil {
			l.log.Warn("lock: release failed; the key runs out by its TTL", "lock", l.key, "err", err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !lost {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(l.ttl / 3):
			}
		}
	}
}

// Lease is one holding of a Lock, refreshed in the background by a goroutine
// that Release stops.
type Lease struct {
	lock   *Lock
	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{}

	mu  sync.Mutex
	rev uint64
}

func (l *Lock) startLease(parent context.Context, rev uint64) *Lease {
	ctx, cancel := context.WithCancelCause(parent)
	ls := &Lease{lock: l, ctx: ctx, cancel: cancel, done: make(chan struct{}), rev: rev}
	go ls.refresh(time.Now())
	return ls
}

// Context ends when the lease is lost, released, or the context given to
// Acquire ends. context.Cause tells which: ErrLockLost (wrapped) for a loss.
func (ls *Lease) Context() context.Context { return ls.ctx }

// Revision returns the revision of the key as last written by this holder.
func (ls *Lease) Revision() uint64 {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.rev
}

// Release stops refreshing and deletes the key if it is still ours, so that a
// waiting contender takes over at once instead of after the TTL. It is safe
// to call more than once.
func (ls *Lease) Release() error {
	lostBefore := ls.ctx.Err() != nil && errors.Is(context.Cause(ls.ctx), ErrLockLost)
	ls.cancel(context.Canceled)
	<-ls.done
	if lostBefore {
		return nil // not ours to delete
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := ls.lock.kv.Delete(ctx, ls.lock.key, jetstream.LastRevision(ls.Revision()))
	if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) && !isWrongLastSequence(err) {
		return fmt.Errorf("release lock %s: %w", ls.lock.key, err)
	}
	ls.lock.log.Info("lock released", "lock", ls.lock.key)
	return nil
}

// refresh rewrites the key with a fresh TTL every TTL/3 by compare-and-swap on
// the last revision. kv.Update would drop the per-key TTL, so the write is a
// publish with the expected last subject sequence and a message TTL.
func (ls *Lease) refresh(lastWrite time.Time) {
	defer close(ls.done)
	l := ls.lock
	subject := "$KV." + l.kv.Bucket() + "." + l.key
	every := l.ttl / 3
	// The latest moment the lease may still be used: the key lasts the TTL
	// after the server stored the last write, which came after lastWrite.
	giveUp := func() time.Time { return lastWrite.Add(2 * l.ttl / 3) }
	timer := time.NewTimer(every)
	defer timer.Stop()
	for {
		select {
		case <-ls.ctx.Done():
			return
		case <-timer.C:
		}
		sent := time.Now()
		ctx, cancel := context.WithDeadline(ls.ctx, giveUp())
		ack, err := l.js.Publish(ctx, subject, l.holder,
			jetstream.WithExpectLastSequencePerSubject(ls.Revision()),
			jetstream.WithMsgTTL(l.ttl))
		cancel()
		switch {
		case err == nil:
			ls.mu.Lock()
			ls.rev = ack.Sequence
			ls.mu.Unlock()
			lastWrite = sent
			timer.Reset(every)
		case ls.ctx.Err() != nil:
			return
		case isWrongLastSequence(err):
			l.log.Warn("lock lost: the key was changed by someone else", "lock", l.key)
			ls.cancel(fmt.Errorf("%w: %s was changed by someone else", ErrLockLost, l.key))
			return
		case !time.Now().Before(giveUp()):
			l.log.Warn("lock lost: refreshes failed until the key may have run out", "lock", l.key, "err", err)
			ls.cancel(fmt.Errorf("%w: refresh %s: %w", ErrLockLost, l.key, err))
			return
		default:
			// A transient failure: try again soon, while the key still lasts.
			timer.Reset(min(every/4, time.Until(giveUp())))
		}
	}
}

// isWrongLastSequence reports whether err is the server refusing a write
// because the subject's last sequence was not the expected one.
func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}
