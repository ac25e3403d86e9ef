package natsutil_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedbackd/feedbackd/pkg/natsutil"
	"github.com/feedbackd/feedbackd/pkg/natsutil/natstest"
	"github.com/feedbackd/feedbackd/pkg/poll"
)

// contender is one replica competing for a lock over its own connection.
type contender struct {
	name   string
	nc     *nats.Conn
	cancel context.CancelFunc
	done   chan struct{}
	holds  atomic.Int32 // 1 while fn runs
	won    atomic.Int32 // times fn was called
}

// holders counts how many contenders run fn at once; max records the peak.
type holders struct {
	now, max atomic.Int32
}

func (h *holders) enter() {
	n := h.now.Add(1)
	for {
		m := h.max.Load()
		if n <= m || h.max.CompareAndSwap(m, n) {
			return
		}
	}
}

func startContender(t *testing.T, ns *natstest.Server, name string, ttl time.Duration, h *holders) *contender {
	t.Helper()
	nc, js := ns.Connect(t)
	kv, err := natsutil.OpenLocks(context.Background(), js, 1)
	if err != nil {
		t.Fatal(err)
	}
	lock, err := natsutil.NewLock(js, kv, "telegram-poll", ttl, natsutil.WithLockHolder(name), natsutil.WithLockLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &contender{name: name, nc: nc, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		_ = lock.Run(ctx, func(ctx context.Context) {
			h.enter()
			c.holds.Store(1)
			c.won.Add(1)
			<-ctx.Done()
			c.holds.Store(0)
			h.now.Add(-1)
		})
	}()
	t.Cleanup(c.stop)
	return c
}

func (c *contender) stop() {
	c.cancel()
	<-c.done
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func holder(cs ...*contender) (*contender, error) {
	var got *contender
	for _, c := range cs {
		if c.holds.Load() == 1 {
			if got != nil {
				return nil, fmt.Errorf("%s and %s both hold the lock", got.name, c.name)
			}
			got = c
		}
	}
	if got == nil {
		return nil, errors.New("no contender holds the lock")
	}
	return got, nil
}

func lockRevision(t *testing.T, ns *natstest.Server) uint64 {
	t.Helper()
	kv, err := ns.JS.KeyValue(context.Background(), natsutil.LocksBucket)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(context.Background(), "telegram-poll")
	if err != nil {
		return 0
	}
	return e.Revision()
}

func TestLockIsHeldByOneContenderAndOutlivesItsTTLByRefreshing(t *testing.T) {
	ns := natstest.Start(t)
	var h holders
	const ttl = time.Second
	a := startContender(t, ns, "a", ttl, &h)
	b := startContender(t, ns, "b", ttl, &h)
	var first *contender
	poll.Until(t, 5*time.Second, func() (err error) { first, err = holder(a, b); return err })

	// Three refreshes take longer than the TTL: the lock lives on only
	// because its holder keeps rewriting it.
	start := lockRevision(t, ns)
	poll.Until(t, 5*time.Second, func() error {
		if r := lockRevision(t, ns); r < start+3 {
			return fmt.Errorf("lock revision %d, want ≥ %d", r, start+3)
		}
		return nil
	})
	if got, err := holder(a, b); err != nil || got != first {
		t.Fatalf("holder changed from %s while refreshing: %v %v", first.name, got, err)
	}
	if m := h.max.Load(); m != 1 {
		t.Fatalf("%d contenders held the lock at once", m)
	}
	if a.won.Load()+b.won.Load() != 1 {
		t.Fatalf("the lock changed hands %d times, want once", a.won.Load()+b.won.Load())
	}
}

func TestLockPassesToAnotherWithinTheTTLWhenItsHolderDies(t *testing.T) {
	ns := natstest.Start(t)
	var h holders
	const ttl = 2 * time.Second
	a := startContender(t, ns, "a", ttl, &h)
	b := startContender(t, ns, "b", ttl, &h)
	var dead *contender
	poll.Until(t, 5*time.Second, func() (err error) { dead, err = holder(a, b); return err })
	other := a
	if dead == a {
		other = b
	}

	// Cut the holder off from NATS: it cannot refresh nor release, as if the
	// process had been killed; only the TTL frees the key.
	killed := time.Now()
	dead.nc.Close()
	poll.Until(t, 3*ttl, func() error {
		if other.holds.Load() != 1 {
			return fmt.Errorf("%s has not taken over", other.name)
		}
		return nil
	})
	took := time.Since(killed)
	t.Logf("takeover %v after the holder died (ttl %v)", took.Round(10*time.Millisecond), ttl)
	// The key was last written at most ttl/3 before the kill; it runs out a
	// TTL after that, and the watcher or the ttl/4 poll notices.
	if took > ttl+ttl/4+time.Second {
		t.Fatalf("takeover took %v, want about the TTL %v", took, ttl)
	}
	if dead.holds.Load() != 0 {
		t.Fatal("the dead holder still believes it holds the lock")
	}
	if m := h.max.Load(); m != 1 {
		t.Fatalf("%d contenders held the lock at once", m)
	}
}

func TestLockReleasedOnShutdownPassesAtOnce(t *testing.T) {
	ns := natstest.Start(t)
	var h holders
	const ttl = 30 * time.Second // far longer than the test may wait
	a := startContender(t, ns, "a", ttl, &h)
	b := startContender(t, ns, "b", ttl, &h)
	var first *contender
	poll.Until(t, 5*time.Second, func() (err error) { first, err = holder(a, b); return err })
	other := a
	if first == a {
		other = b
	}
	first.stop()
	poll.Until(t, 5*time.Second, func() error {
		if other.holds.Load() != 1 {
			return fmt.Errorf("%s has not taken over", other.name)
		}
		return nil
	})
	if m := h.max.Load(); m != 1 {
		t.Fatalf("%d contenders held the lock at once", m)
	}
}

func TestLeaseEndsWhenSomeoneElseChangesTheKey(t *testing.T) {
	ns := natstest.Start(t)
	kv, err := natsutil.OpenLocks(context.Background(), ns.JS, 1)
	if err != nil {
		t.Fatal(err)
	}
	lock, err := natsutil.NewLock(ns.JS, kv, "k", time.Second, natsutil.WithLockLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	lease, err := lock.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lease.Release() }()
	if _, err := kv.Put(context.Background(), "k", []byte("usurper")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lease.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("lease still alive after its key was overwritten")
	}
	if cause := context.Cause(lease.Context()); !errors.Is(cause, natsutil.ErrLockLost) {
		t.Fatalf("cause = %v, want ErrLockLost", cause)
	}
	// A lost lease must not delete the key it no longer owns.
	if err := lease.Release(); err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(context.Background(), "k")
	if err != nil || string(e.Value()) != "usurper" {
		t.Fatalf("the usurper's key is gone: %v", err)
	}
}

func TestAcquireReturnsWhenItsContextEnds(t *testing.T) {
	ns := natstest.Start(t)
	kv, err := natsutil.OpenLocks(context.Background(), ns.JS, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(context.Background(), "busy", []byte("someone"), jetstream.KeyTTL(time.Minute)); err != nil {
		t.Fatal(err)
	}
	lock, err := natsutil.NewLock(ns.JS, kv, "busy", time.Second, natsutil.WithLockLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := lock.Acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire of a held lock = %v, want deadline exceeded", err)
	}
}

func TestNewLockRefusesBadArguments(t *testing.T) {
	ns := natstest.Start(t)
	kv, err := natsutil.OpenLocks(context.Background(), ns.JS, 1)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		key string
		ttl time.Duration
	}{
		"empty key":      {"", time.Second},
		"sub-second ttl": {"k", 500 * time.Millisecond},
		"fractional ttl": {"k", 1500 * time.Millisecond},
		"zero ttl":       {"k", 0},
	} {
		if _, err := natsutil.NewLock(ns.JS, kv, tc.key, tc.ttl); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// The lock's contract holds under contention: many contenders, one holder at
// a time, and every one of them gets the lock once the others let go.
func TestLockManyContendersTakeTurns(t *testing.T) {
	ns := natstest.Start(t)
	var h holders
	cs := make([]*contender, 4)
	for i := range cs {
		cs[i] = startContender(t, ns, fmt.Sprintf("c%d", i), 30*time.Second, &h)
	}
	for range cs {
		var c *contender
		poll.Until(t, 5*time.Second, func() (err error) {
			c, err = holder(cs...)
			return err
		})
		c.stop()
	}
	for _, c := range cs {
		if c.won.Load() != 1 {
			t.Errorf("%s held the lock %d times, want 1", c.name, c.won.Load())
		}
	}
	if m := h.max.Load(); m != 1 {
		t.Fatalf("%d contenders held the lock at once", m)
	}
}
