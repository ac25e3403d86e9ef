package natskv_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/pkg/auth"
	"github.com/feedbackd/feedbackd/pkg/natsutil/natstest"
	"github.com/feedbackd/feedbackd/pkg/poll"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/inbox"
	"github.com/feedbackd/feedbackd/sessions/natskv"
)

// clock is a movable clock for the inbox service.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

func newLinks(t *testing.T) (*inbox.Service, *natskv.LinkStore, *clock) {
	t.Helper()
	ns := natstest.Start(t)
	store, err := natskv.OpenLinks(context.Background(), ns.JS, natskv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.NewLinkTokens([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{}
	return inbox.NewService(store, tokens, inbox.Config{}, inbox.WithClock(clk.now)), store, clk
}

func TestInboxLinkExpiresForEveryCredentialItGranted(t *testing.T) {
	t.Parallel()
	svc, _, clk := newLinks(t)
	ctx := context.Background()
	l, token, err := svc.Mint(ctx, "alice", inbox.MintRequest{Name: "phone", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	got, cookie, err := svc.Exchange(ctx, token)
	if err != nil || got.ID != l.ID || got.LastUsedAt.IsZero() {
		t.Fatalf("exchange: %+v, %v", got, err)
	}
	socket, _ := svc.SocketToken(got)
	if _, err := svc.Socket(ctx, socket); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Hour + time.Second)
	for name, check := range map[string]func() error{
		"the link's token": func() error { _, _, err := svc.Exchange(ctx, token); return err },
		"the cookie":       func() error { _, err := svc.Cookie(ctx, cookie); return err },
		"the socket":       func() error { _, err := svc.Socket(ctx, socket); return err },
	} {
		if err := check(); !errors.Is(err, auth.ErrUnauthorized) {
			t.Errorf("%s an hour on: %v, want unauthorized", name, err)
		}
	}
	if links, err := svc.List(ctx, "alice"); err != nil || len(links) != 0 {
		t.Fatalf("an expired link is listed: %v, %v", links, err)
	}
	if err := svc.Revoke(ctx, "alice", l.ID); sessions.ErrorCode(err) != inbox.CodeLinkNotFound {
		t.Fatalf("revoking an expired link: %v", err)
	}
}

func TestInboxLinkNotesItsUseAtMostOnceAMinute(t *testing.T) {
	t.Parallel()
	svc, store, clk := newLinks(t)
	ctx := context.Background()
	_, token, err := svc.Mint(ctx, "alice", inbox.MintRequest{})
	if err != nil {
		t.Fatal(err)
	}
	l, cookie, err := svc.Exchange(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	first := l.Revision
	// Many uses at once, within the minute: no error, no write.
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := svc.Cookie(ctx, cookie); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if again, _ := store.Get(ctx, l.ID); again.Revision != first {
		t.Fatalf("uses within a minute rewrote the link: revision %d → %d", first, again.Revision)
	}
	// A minute on, many uses at once: one of them notes it, none fails.
	clk.advance(time.Minute + time.Second)
	for range 20 {
		wg.Go(func() {
			if _, err := svc.Cookie(ctx, cookie); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	again, err := store.Get(ctx, l.ID)
	if err != nil || again.Revision == first || !again.LastUsedAt.After(l.LastUsedAt) {
		t.Fatalf("a use a minute later was not noted: %+v, %v", again, err)
	}
}

func TestInboxLinkStoreReportsRemovalsAndSkipsOrphanedIndexEntries(t *testing.T) {
	t.Parallel()
	svc, store, _ := newLinks(t)
	ctx, cancel := context.WithCancel(context.Background())
	removed := make(chan string, 4)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = store.WatchRemoved(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), func(id string) { removed <- id })
	}()
	t.Cleanup(func() { cancel(); <-done })

	a, _, err := svc.Mint(ctx, "alice", inbox.MintRequest{})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := svc.Mint(ctx, "alice", inbox.MintRequest{Name: "kept"})
	if err != nil {
		t.Fatal(err)
	}
	// The watch starts in its goroutine; revoke until it has seen one, so
	// the test does not race the watch's start.
	var got string
	poll.Until(t, 10*time.Second, func() error {
		select {
		case got = <-removed:
			return nil
		default:
		}
		if err := svc.Revoke(ctx, "alice", a.ID); err != nil && sessions.ErrorCode(err) != inbox.CodeLinkNotFound {
			return err
		}
		if err := store.Delete(ctx, a); err != nil {
			return err
		}
		return errors.New("no removal reported yet")
	})
	if got != a.ID {
		t.Fatalf("removed %q, want %q", got, a.ID)
	}
	links, err := svc.List(ctx, "alice")
	if err != nil || len(links) != 1 || links[0].ID != b.ID || links[0].Name != "kept" {
		t.Fatalf("list after the revocation: %+v, %v", links, err)
	}
	if links, _ := svc.List(ctx, "bob"); len(links) != 0 {
		t.Fatalf("bob sees %d links", len(links))
	}
}
