package telegram_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/notifier/dispatch/telegram"
	"github.com/feedbackd/feedbackd/notifier/dispatch/telegram/telegramfake"
	"github.com/feedbackd/feedbackd/pkg/natsutil"
	"github.com/feedbackd/feedbackd/pkg/natsutil/natstest"
	"github.com/feedbackd/feedbackd/pkg/poll"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// handled records what a poller's Handle saw.
type handled struct {
	mu   sync.Mutex
	seen []string // "<replica>:<update id>"
	ids  map[int64]int
}

func (h *handled) add(who string, id int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ids == nil {
		h.ids = map[int64]int{}
	}
	h.ids[id]++
	h.seen = append(h.seen, fmt.Sprintf("%s:%d", who, id))
}

func (h *handled) count(id int64) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ids[id]
}

func runPoller(t *testing.T, p *telegram.Poller) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := p.Run(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("poller ended with %v", err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

func TestPollerRetriesAnUpdateItsHandlerFailedAndConfirmsOnStop(t *testing.T) {
	fake, c := setup(t, telegramfake.Config{})
	var h handled
	failures := 1
	stop := runPoller(t, &telegram.Poller{
		Client: c, Timeout: time.Second, Log: quiet(),
		Handle: func(ctx context.Context, u telegram.Update) error {
			h.add("p", u.UpdateID)
			if failures > 0 {
				failures--
				return errors.New("NATS is away")
			}
			return nil
		},
	})
	id, _ := fake.Say(chat, "first")
	_ = id
	poll.Until(t, 10*time.Second, func() error {
		if n := h.count(1); n != 2 {
			return fmt.Errorf("update 1 handled %d times, want 2 (one failure, one success)", n)
		}
		return nil
	})
	_, _ = fake.Say(chat, "second")
	poll.Until(t, 5*time.Second, func() error {
		if n := h.count(2); n != 1 {
			return fmt.Errorf("update 2 handled %d times", n)
		}
		return nil
	})
	stop()
	// Stopping confirmed what was handled: the next poller starts clean.
	if n := fake.Pending(); n != 0 {
		t.Fatalf("%d updates left unconfirmed after a clean stop", n)
	}
}

// Two replicas run the poller under the lock: only the holder polls, so
// Telegram never sees two getUpdates at once (409); when the holder dies the
// other takes over and nothing the person did is lost.
func TestOnlyTheLockHolderPollsAndAnotherTakesOverWhenItDies(t *testing.T) {
	fake, c := setup(t, telegramfake.Config{})
	ns := natstest.Start(t)
	var h handled

	type replica struct {
		nc   interface{ Close() }
		stop func()
	}
	start := func(name string) replica {
		nc, js := ns.Connect(t)
		kv, err := natsutil.OpenLocks(context.Background(), js, 1)
		if err != nil {
			t.Fatal(err)
		}
		lock, err := natsutil.NewLock(js, kv, "telegram-poll", 2*time.Second, natsutil.WithLockLogger(quiet()))
		if err != nil {
			t.Fatal(err)
		}
		p := &telegram.Poller{
			Client: c, Timeout: time.Second, Log: quiet(),
			Handle: func(ctx context.Context, u telegram.Update) error { h.add(name, u.UpdateID); return nil },
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = lock.Run(ctx, func(ctx context.Context) { _ = p.Run(ctx) })
		}()
		stop := func() { cancel(); <-done }
		t.Cleanup(stop)
		return replica{nc: nc, stop: stop}
	}
	a := start("a")
	b := start("b")

	for i := range 3 {
		if _, err := fake.Say(chat, fmt.Sprintf("msg %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	poll.Until(t, 10*time.Second, func() error {
		for id := int64(1); id <= 3; id++ {
			if h.count(id) == 0 {
				return fmt.Errorf("update %d not handled", id)
			}
		}
		return nil
	})
	h.mu.Lock()
	holder := h.seen[0][:1]
	h.mu.Unlock()
	dead, otherName := a, "b"
	if holder == "b" {
		dead, otherName = b, "a"
	}
	// The holder loses NATS: it cannot refresh the lock, stops polling
	// before the lock runs out, and the other replica takes over. Until
	// then the holder may still handle what arrives; keep talking until
	// the other one answers.
	killed := time.Now()
	dead.nc.Close()
	next := int64(4)
	poll.Until(t, 15*time.Second, func() error {
		h.mu.Lock()
		last := h.seen[len(h.seen)-1]
		h.mu.Unlock()
		if last == fmt.Sprintf("%s:%d", otherName, next-1) {
			return nil
		}
		if h.count(next-1) > 0 || next == 4 {
			if _, err := fake.Say(chat, "after the failover"); err != nil {
				return err
			}
			next++
		}
		return fmt.Errorf("replica %s has not polled since %s died (last %s)", otherName, holder, last)
	})
	t.Logf("replica %s polls %v after %s died", otherName, time.Since(killed).Round(10*time.Millisecond), holder)
	for id := int64(1); id < next; id++ {
		if h.count(id) == 0 {
			t.Errorf("update %d lost in the failover", id)
		}
	}
	for _, call := range fake.Calls("getUpdates") {
		if call.Status == 409 {
			t.Fatalf("two replicas polled at once: %+v", call)
		}
	}
}
