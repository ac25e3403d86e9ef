package natskv

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedbackd/feedbackd/pkg/redact"
	"github.com/feedbackd/feedbackd/sessions"
)

// Feed follows the change feed of a bucket and publishes every new version of
// every session into a hub.
type Feed struct {
	store *Store
	hub   *sessions.Hub
	log   *slog.Logger
}

// NewFeed returns a Feed from store's bucket into hub.
func NewFeed(store *Store, hub *sessions.Hub, log *slog.Logger) *Feed {
	return &Feed{store: store, hub: hub, log: log}
}

// Start begins following the feed: only changes made after Start returns are
// delivered, which is what "subscribe, then read" callers need. The feed
// stops when ctx ends; the returned channel closes then.
func (f *Feed) Start(ctx context.Context) (<-chan struct{}, error) {
	w, err := f.store.kv.Watch(ctx, SessionKey("*"), jetstream.UpdatesOnly(), jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("watch sessions: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil {
					continue
				}
				sess, err := Decode(e.Value(), e.Revision())
				if err != nil {
					f.log.Warn("skipping undecodable session record", "key", redact.IDs(e.Key()), "err", err)
					continue
				}
				f.hub.Publish(sess)
			}
		}
	}()
	return done, nil
}
