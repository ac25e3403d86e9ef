package natskv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/inbox"
)

// DefaultLinksBucket is the bucket that holds inbox links.
const DefaultLinksBucket = "feedback_inbox_links"

// Keys of the links bucket:
//
//	l.<linkId>                 the link (inbox.Link as JSON), removed when it
//	                           expires or is revoked
//	o.<ownerHash>.<linkId>     the owner's index entry, empty, removed with it
const (
	linkPrefix      = "l."
	linkOwnerPrefix = "o."
	// linkGrace keeps a record a little past its link's expiry, so that a
	// use a moment late is refused as expired rather than as revoked.
	linkGrace = time.Minute
)

// LinkStore is an inbox.Store over a JetStream KV bucket.
type LinkStore struct{ kvBucket }

var _ inbox.Store = (*LinkStore)(nil)

// OpenLinks creates the links bucket, or updates its configuration, and
// returns a LinkStore. o.Bucket defaults to DefaultLinksBucket.
func OpenLinks(ctx context.Context, js jetstream.JetStream, o Options) (*LinkStore, error) {
	b, err := openBucket(ctx, js, o, DefaultLinksBucket, "feedbackd inbox links per principal; a link's record is what keeps its cookie and sockets valid", 4*1024)
	if err != nil {
		return nil, err
	}
	return &LinkStore{b}, nil
}

func linkOwnerKey(owner, id string) string { return linkOwnerPrefix + ownerHash(owner) + "." + id }

// Create implements inbox.Store. The index entry is written first: one
// without a record is skipped by List, a record without one would be
// missing from it.
func (s *LinkStore) Create(ctx context.Context, l *inbox.Link, ttl time.Duration) (uint64, error) {
	data, err := json.Marshal(l)
	if err != nil {
		return 0, fmt.Errorf("encode inbox link: %w", err)
	}
	ttl = keyTTL(ttl + linkGrace)
	if _, err := s.kv.Create(ctx, linkOwnerKey(l.Owner, l.ID), nil, jetstream.KeyTTL(ttl)); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return 0, fmt.Errorf("create inbox link index: %w", err)
	}
	rev, err := s.kv.Create(ctx, linkPrefix+l.ID, data, jetstream.KeyTTL(ttl))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return 0, sessions.ErrConflict
	}
	if err != nil {
		return 0, fmt.Errorf("create inbox link: %w", err)
	}
	return rev, nil
}

// keyTTL rounds a per-key TTL up to whole seconds, the server's unit.
func keyTTL(d time.Duration) time.Duration {
	return max(time.Second, (d + time.Second - 1).Truncate(time.Second))
}

// Get implements inbox.Store.
func (s *LinkStore) Get(ctx context.Context, id string) (*inbox.Link, error) {
	data, rev, err := s.read(ctx, linkPrefix+id)
	if err != nil {
		if errors.Is(err, sessions.ErrNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("get inbox link: %w", err)
	}
	var l inbox.Link
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("decode inbox link: %w", err)
	}
	if l.ID != id {
		return nil, sessions.ErrNotFound
	}
	l.Revision = rev
	return &l, nil
}

// Update implements inbox.Store: a compare-and-swap that keeps a per-key
// TTL (kv.Update would drop it).
func (s *LinkStore) Update(ctx context.Context, l *inbox.Link, ttl time.Duration) (uint64, error) {
	data, err := json.Marshal(l)
	if err != nil {
		return 0, fmt.Errorf("encode inbox link: %w", err)
	}
	rev, err := s.swap(ctx, linkPrefix+l.ID, data, l.Revision, keyTTL(ttl+linkGrace))
	if err != nil && !errors.Is(err, sessions.ErrConflict) {
		return 0, fmt.Errorf("update inbox link: %w", err)
	}
	return rev, err
}

// List implements inbox.Store: the owner's index, then each record; index
// entries whose record is gone are skipped.
func (s *LinkStore) List(ctx context.Context, owner string) ([]*inbox.Link, error) {
	prefix := linkOwnerPrefix + ownerHash(owner) + "."
	lister, err := s.kv.ListKeysFiltered(ctx, prefix+">")
	if err != nil {
		return nil, fmt.Errorf("list inbox link index: %w", err)
	}
	var ids []string
	for k := range lister.Keys() {
		ids = append(ids, strings.TrimPrefix(k, prefix))
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list inbox link index: %w", err)
	}
	var out []*inbox.Link
	for _, id := range ids {
		l, err := s.Get(ctx, id)
		if errors.Is(err, sessions.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if l.Owner == owner {
			out = append(out, l)
		}
	}
	return out, nil
}

// Delete implements inbox.Store. The record goes first: from that moment
// the link grants nothing, whatever happens to its index entry.
func (s *LinkStore) Delete(ctx context.Context, l *inbox.Link) error {
	if err := s.kv.Purge(ctx, linkPrefix+l.ID, jetstream.PurgeTTL(markerTTL)); err != nil {
		return fmt.Errorf("remove inbox link: %w", err)
	}
	if err := s.kv.Purge(ctx, linkOwnerKey(l.Owner, l.ID), jetstream.PurgeTTL(markerTTL)); err != nil {
		return fmt.Errorf("remove inbox link index: %w", err)
	}
	return nil
}

// WatchRemoved calls removed with the id of every link whose record goes
// away from now on (revoked, or expired) until ctx ends, so that what a link
// opened on this process (WebSockets) can be closed at once. A watch that
// breaks is started again; it returns only when ctx ends.
func (s *LinkStore) WatchRemoved(ctx context.Context, log *slog.Logger, removed func(id string)) error {
	backoff := 100 * time.Millisecond
	for {
		err := s.watchRemoved(ctx, removed)
		if ctx.Err() != nil {
			return nil
		}
		log.Warn("watching inbox links for revocations broke; watching again", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (s *LinkStore) watchRemoved(ctx context.Context, removed func(id string)) error {
	w, err := s.kv.Watch(ctx, linkPrefix+"*", jetstream.UpdatesOnly(), jetstream.MetaOnly())
	if err != nil {
		return fmt.Errorf("watch inbox links: %w", err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("the watch ended")
			}
			if e == nil {
				continue
			}
			if op := e.Operation(); op == jetstream.KeyValueDelete || op == jetstream.KeyValuePurge {
				removed(strings.TrimPrefix(e.Key(), linkPrefix))
			}
		}
	}
}
