package ratelimit_test

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/pkg/poll"
	"github.com/feedbackd/feedbackd/pkg/ratelimit"
)

// clock is a hand-driven time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newLimiter(t testing.TB, rate float64, burst int, opts ...ratelimit.Option) *ratelimit.Limiter {
	t.Helper()
	l, err := ratelimit.New(rate, burst, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func TestLimiterTripsAndRecovers(t *testing.T) {
	clk := newClock()
	l := newLimiter(t, 1, 3, ratelimit.WithClock(clk.Now)) // 1/s, bursts of 3
	start := clk.Now()

	for i, wantRemaining := range []int{2, 1, 0} {
		d := l.Allow("k")
		if !d.Allowed || d.Remaining != wantRemaining || d.Limit != 3 || d.RetryAfter != 0 {
			t.Fatalf("request %d: %+v, want allowed with %d remaining", i+1, d, wantRemaining)
		}
		if want := start.Add(time.Duration(i+1) * time.Second); !d.Reset.Equal(want) {
			t.Fatalf("request %d: reset %v, want %v", i+1, d.Reset, want)
		}
	}
	d := l.Allow("k")
	if d.Allowed || d.Remaining != 0 || d.RetryAfter != time.Second || d.RetryAfterSeconds() != 1 {
		t.Fatalf("4th request in the same instant: %+v, want refused for 1s", d)
	}
	if !d.Reset.Equal(start.Add(3 * time.Second)) {
		t.Fatalf("refused reset %v, want start+3s", d.Reset)
	}
	if again := l.Allow("k"); again.Allowed || again.RetryAfter != time.Second {
		t.Fatalf("a refused request spent allowance: %+v", again)
	}

	clk.Advance(400 * time.Millisecond)
	if d := l.Allow("k"); d.Allowed || d.RetryAfter != 600*time.Millisecond || d.RetryAfterSeconds() != 1 {
		t.Fatalf("after 0.4s: %+v, want refused for 0.6s", d)
	}
	clk.Advance(600 * time.Millisecond)
	if d := l.Allow("k"); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("after 1s: %+v, want one request allowed", d)
	}
	if d := l.Allow("k"); d.Allowed {
		t.Fatalf("second request after 1s allowed: %+v", d)
	}

	clk.Advance(time.Hour)
	for i := range 3 {
		if d := l.Allow("k"); !d.Allowed {
			t.Fatalf("after a long pause, request %d refused: %+v", i+1, d)
		}
	}
	if other := l.Allow("other"); !other.Allowed || other.Remaining != 2 {
		t.Fatalf("another key shares the allowance: %+v", other)
	}
}

func TestLimiterFractionalRates(t *testing.T) {
	clk := newClock()
	l := newLimiter(t, 0.5, 1, ratelimit.WithClock(clk.Now)) // one request every 2s
	if !l.Allow("k").Allowed {
		t.Fatal("first request refused")
	}
	d := l.Allow("k")
	if d.Allowed || d.RetryAfter != 2*time.Second || d.RetryAfterSeconds() != 2 {
		t.Fatalf("%+v, want refused for 2s", d)
	}
	clk.Advance(1500 * time.Millisecond)
	if d := l.Allow("k"); d.Allowed || d.RetryAfterSeconds() != 1 {
		t.Fatalf("%+v, want refused, retry after 1s (0.5 rounded up)", d)
	}
}

func TestLimiterKeepsManyKeysApart(t *testing.T) {
	clk := newClock()
	l := newLimiter(t, 1, 2, ratelimit.WithClock(clk.Now))
	const n = 10000
	for round := range 3 {
		for i := range n {
			d := l.Allow(fmt.Sprintf("client-%d", i))
			if d.Allowed != (round < 2) {
				t.Fatalf("round %d, key %d: %+v", round, i, d)
			}
		}
	}
	if got := l.Len(); got != n {
		t.Fatalf("Len() = %d, want %d", got, n)
	}
}

func TestLimiterSweepForgetsIdleKeysAndFreesMemory(t *testing.T) {
	clk := newClock()
	l := newLimiter(t, 10, 5, ratelimit.WithClock(clk.Now), ratelimit.WithSweepInterval(5*time.Millisecond), ratelimit.WithMaxKeys(1<<20))
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	const n = 100000
	for i := range n {
		l.Allow(fmt.Sprintf("client-address-%08d", i))
	}
	peak := heap()
	if l.Len() != n {
		t.Fatalf("Len() = %d before the window passed", l.Len())
	}

	clk.Advance(450 * time.Millisecond) // past every key's 100ms: all have refilled
	// A key still within its window survives sweeps.
	l.Allow("busy")
	l.Allow("busy")
	waitFor(t, func() bool { return l.Len() == 1 })
	after := heap()
	if grown, kept := peak-before, int64(after)-int64(before); kept > int64(grown)/4 {
		t.Fatalf("heap grew %d bytes for %d keys and kept %d after the sweep", grown, n, kept)
	}
	if d := l.Allow("busy"); !d.Allowed || d.Remaining != 2 {
		t.Fatalf("busy key lost its state in the sweep: %+v", d)
	}
}

func TestLimiterCapsKeysUnderAFlood(t *testing.T) {
	clk := newClock()
	l := newLimiter(t, 1, 1, ratelimit.WithClock(clk.Now), ratelimit.WithMaxKeys(3200))
	for i := range 100000 {
		l.Allow(fmt.Sprintf("flood-%d", i))
	}
	if got := l.Len(); got > 3200 {
		t.Fatalf("Len() = %d with a cap of 3200", got)
	}
	if d := l.Allow("newcomer"); !d.Allowed {
		t.Fatalf("new key refused when the table is full: %+v", d)
	}
}

func TestLimiterAllowsExactlyTheBurstUnderConcurrency(t *testing.T) {
	clk := newClock()
	const burst = 50
	l := newLimiter(t, 1, burst, ratelimit.WithClock(clk.Now), ratelimit.WithSweepInterval(time.Millisecond))
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				if l.Allow("shared").Allowed {
					allowed.Add(1)
				}
				l.Allow(fmt.Sprintf("own-%d-%d", g, i%37))
				_ = l.Len()
			}
		}()
	}
	wg.Wait()
	if got := allowed.Load(); got != burst {
		t.Fatalf("%d requests allowed on one key in one instant, want exactly %d", got, burst)
	}
}

func TestLimiterStopsItsSweeper(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	before := runtime.NumGoroutine()
	l, err := ratelimit.New(1, 1, ratelimit.WithContext(ctx), ratelimit.WithSweepInterval(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	l2, err := ratelimit.New(1, 1, ratelimit.WithSweepInterval(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	_ = l2.Close()
	_ = l2.Close()
	waitFor(t, func() bool { return runtime.NumGoroutine() <= before })
	if !l.Allow("k").Allowed {
		t.Fatal("Allow stopped working after the sweeper ended")
	}
	_ = l.Close() // after the context ended: returns at once
}

func TestNewRefusesNonsense(t *testing.T) {
	for _, tt := range []struct {
		rate  float64
		burst int
		opts  []ratelimit.Option
	}{
		{0, 1, nil},
		{-1, 1, nil},
		{math.NaN(), 1, nil},
		{math.Inf(1), 1, nil},
		{1, 0, nil},
		{1e-12, 1000, nil},
		{1, 1, []ratelimit.Option{ratelimit.WithMaxKeys(0)}},
		{1, 1, []ratelimit.Option{ratelimit.WithSweepInterval(0)}},
	} {
		if l, err := ratelimit.New(tt.rate, tt.burst, tt.opts...); err == nil {
			_ = l.Close()
			t.Errorf("New(%v, %d) accepted", tt.rate, tt.burst)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	poll.Until(t, 5*time.Second, poll.True("the condition", cond))
}

func BenchmarkAllow(b *testing.B) {
	l := newLimiter(b, 1e9, 1<<20)
	for b.Loop() {
		l.Allow("203.0.113.7")
	}
}

func BenchmarkAllowParallelManyKeys(b *testing.B) {
	l := newLimiter(b, 100, 10)
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = fmt.Sprintf("198.51.%d.%d", i/256, i%256)
	}
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			l.Allow(keys[i%len(keys)])
			i++
		}
	})
}
