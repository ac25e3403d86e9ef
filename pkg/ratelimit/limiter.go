package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"time"
)

const (
	numShards            = 32
	defaultMaxKeys       = 1 << 17
	defaultSweepInterval = time.Minute
	// A shard's map is rebuilt when a sweep leaves it at a quarter of its
	// high-water mark: Go maps never give back their buckets otherwise.
	shrinkFactor = 4
	shrinkMin    = 1024
)

// Decision is the outcome of one Allow call, with what a caller needs for
// Retry-After and the X-RateLimit-* headers.
type Decision struct {
	Allowed    bool
	Limit      int           // the burst: most requests allowed at once
	Remaining  int           // requests still allowed right now
	Reset      time.Time     // when the key is back to a full burst
	RetryAfter time.Duration // when refused, how long until one request is allowed; 0 when allowed
}

// RetryAfterSeconds is RetryAfter in whole seconds, rounded up, for the
// Retry-After header: at least 1 when refused, 0 when allowed.
func (d Decision) RetryAfterSeconds() int {
	if d.Allowed {
		return 0
	}
	return max(1, int(math.Ceil(d.RetryAfter.Seconds())))
}

// Option changes how New builds a Limiter.
type Option func(*options)

type options struct {
	now     func() time.Time
	sweep   time.Duration
	maxKeys int
	ctx     context.Context
}

// WithClock makes the Limiter read time from now instead of time.Now. For
// tests.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithSweepInterval sets how often idle keys are dropped. Default one minute.
func WithSweepInterval(d time.Duration) Option { return func(o *options) { o.sweep = d } }

// WithMaxKeys caps how many keys are tracked (default 131072). Past the cap
// a new key first sweeps its part of the table, then evicts keys at random:
// an evicted key starts again with a full burst, so a flood of distinct keys
// can loosen limits but never grow memory.
func WithMaxKeys(n int) Option { return func(o *options) { o.maxKeys = n } }

// WithContext stops the sweeper when ctx ends, as Close does.
func WithContext(ctx context.Context) Option { return func(o *options) { o.ctx = ctx } }

// Limiter allows each key rate requests per second with bursts of up to
// burst. It is safe for concurrent use. See the package doc: limits are per
// replica.
type Limiter struct {
	interval int64 // nanoseconds between two requests at the steady rate
	window   int64 // interval * burst: how far ahead a key may book
	burst    int
	now      func() time.Time
	start    time.Time // times are kept as nanoseconds since start
	seed     maphash.Seed
	perShard int
	shards   [numShards]shard

	stop context.CancelFunc
	done chan struct{}
}

type shard struct {
	mu   sync.Mutex
	tat  map[string]int64 // theoretical arrival time of the next request, per key
	peak int              // high-water mark of len(tat) since the map was made
}

// New returns a Limiter of rate requests per second and bursts of burst,
// and starts its sweeper; call Close to stop it. rate must be positive and
// finite and burst at least 1.
func New(rate float64, burst int, opts ...Option) (*Limiter, error) {
	if !(rate > 0) || math.IsInf(rate, 1) {
		return nil, fmt.Errorf("ratelimit: rate %v is not a positive number", rate)
	}
	if burst < 1 {
		return nil, fmt.Errorf("ratelimit: burst %d is less than 1", burst)
	}
	interval := math.Max(1, math.Round(float64(time.Second)/rate))
	if interval*float64(burst) > math.MaxInt64/4 {
		return nil, fmt.Errorf("ratelimit: rate %v with burst %d spans more time than can be counted", rate, burst)
	}
	o := options{now: time.Now, sweep: defaultSweepInterval, maxKeys: defaultMaxKeys, ctx: context.Background()}
	for _, opt := range opts {
		opt(&o)
	}
	if o.sweep <= 0 {
		return nil, errors.New("ratelimit: sweep interval must be positive")
	}
	if o.maxKeys < 1 {
		return nil, fmt.Errorf("ratelimit: max keys %d is less than 1", o.maxKeys)
	}
	l := &Limiter{
		interval: int64(interval),
		window:   int64(interval) * int64(burst),
		burst:    burst,
		now:      o.now,
		start:    o.now(),
		seed:     maphash.MakeSeed(),
		perShard: max(1, o.maxKeys/numShards),
		done:     make(chan struct{}),
	}
	for i := range l.shards {
		l.shards[i].tat = make(map[string]int64)
	}
	ctx, cancel := context.WithCancel(o.ctx)
	l.stop = cancel
	go l.sweeper(ctx, o.sweep)
	return l, nil
}

// Allow spends one request of key's allowance if there is one, and says
// what is left either way. A refused request spends nothing.
func (l *Limiter) Allow(key string) Decision {
	now := l.elapsed()
	s := &l.shards[maphash.String(l.seed, key)%numShards]

	s.mu.Lock()
	tat, known := s.tat[key]
	if tat < now {
		tat = now
	}
	next := tat + l.interval
	if allowAt := next - l.window; now < allowAt {
		s.mu.Unlock()
		return Decision{
			Limit:      l.burst,
			Reset:      l.at(tat),
			RetryAfter: time.Duration(allowAt - now),
		}
	}
	if !known && len(s.tat) >= l.perShard {
		s.evict(now, l.perShard)
	}
	s.tat[key] = next
	s.peak = max(s.peak, len(s.tat))
	s.mu.Unlock()

	return Decision{
		Allowed:   true,
		Limit:     l.burst,
		Remaining: int((now - (next - l.window)) / l.interval),
		Reset:     l.at(next),
	}
}

// Len returns how many keys are tracked now: keys with a partly spent burst
// not yet swept.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.tat)
		s.mu.Unlock()
	}
	return n
}

// Close stops the sweeper and waits for it to return. It is safe to call
// more than once. Allow keeps working after Close, without sweeping.
func (l *Limiter) Close() error {
	l.stop()
	<-l.done
	return nil
}

func (l *Limiter) elapsed() int64 { return int64(l.now().Sub(l.start)) }

func (l *Limiter) at(t int64) time.Time { return l.start.Add(time.Duration(t)) }

func (l *Limiter) sweeper(ctx context.Context, every time.Duration) {
	defer close(l.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			l.sweep()
		}
	}
}

// sweep drops every key whose burst has fully refilled: forgetting it
// changes no future Decision.
func (l *Limiter) sweep() {
	for i := range l.shards {
		now := l.elapsed()
		s := &l.shards[i]
		s.mu.Lock()
		for k, tat := range s.tat {
			if tat <= now {
				delete(s.tat, k)
			}
		}
		s.shrink()
		s.mu.Unlock()
	}
}

// evict makes room in a full shard: idle keys first, then arbitrary ones,
// a sixteenth of the shard at a time so a flood of new keys costs O(1) each
// on average.
func (s *shard) evict(now int64, capacity int) {
	quota := max(1, capacity/16)
	freed := 0
	for k, tat := range s.tat {
		if tat <= now {
			delete(s.tat, k)
			freed++
		}
	}
	for k := range s.tat {
		if freed >= quota {
			break
		}
		delete(s.tat, k)
		freed++
	}
}

// shrink rebuilds the map once it has emptied well below its high-water
// mark, so the memory of a past burst of keys goes back to the runtime.
func (s *shard) shrink() {
	if s.peak < shrinkMin || len(s.tat)*shrinkFactor > s.peak {
		return
	}
	m := make(map[string]int64, len(s.tat))
	for k, v := range s.tat {
		m[k] = v
	}
	s.tat = m
	s.peak = len(m)
}
