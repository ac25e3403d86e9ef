package notifier

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/feedbackd/feedbackd/sessions"
)

// Hub fans session changes out to this process's connections: by session id
// for /ws/{id} and by owner for /ws. It is fed by one callback on the
// sessions.Hub, so a notifier process follows the change feed exactly once
// however many clients it serves.
type Hub struct {
	mu      sync.RWMutex
	byID    map[string]map[*client]struct{}
	byOwner map[string]map[*client]struct{}
	// lastRev is the highest revision published so far. A /ws client that
	// registers sees every change above it; it is the client's resume point.
	lastRev atomic.Uint64
	now     func() time.Time
}

// event is one version of one session, encoded once for every connection
// that follows it.
type event struct {
	id     string
	rev    uint64
	frames [][]byte
}

func newHub(now func() time.Time) *Hub {
	return &Hub{
		byID:    make(map[string]map[*client]struct{}),
		byOwner: make(map[string]map[*client]struct{}),
		now:     now,
	}
}

// publish is the sessions.Hub callback. It runs on the feed goroutine and
// never blocks: delivering to a client only appends to its bounded queue.
// Holding the read lock while raising lastRev and delivering makes add and
// publish atomic with respect to each other: a client either gets a change or
// registers with a watermark at or above it.
func (h *Hub) publish(s *sessions.Session) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	h.raise(s.Revision)
	byID, byOwner := h.byID[s.ID], h.byOwner[s.Owner]
	if len(byID) == 0 && len(byOwner) == 0 {
		return
	}
	ev := &event{id: s.ID, rev: s.Revision, frames: transitionFrames(s, h.now())}
	for c := range byID {
		c.deliver(ev)
	}
	for c := range byOwner {
		c.deliver(ev)
	}
}

// raise lifts the watermark to rev if rev is higher.
func (h *Hub) raise(rev uint64) {
	for {
		cur := h.lastRev.Load()
		if rev <= cur || h.lastRev.CompareAndSwap(cur, rev) {
			return
		}
	}
}

// add registers c and returns the watermark it registered at. It refuses a
// connection to a session that already has maxPerSession (when > 0).
func (h *Hub) add(c *client, maxPerSession int) (watermark uint64, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	index, key := h.byOwner, c.owner
	if c.sessionID != "" {
		index, key = h.byID, c.sessionID
	}
	set := index[key]
	if c.sessionID != "" && maxPerSession > 0 && len(set) >= maxPerSession {
		return 0, false
	}
	if set == nil {
		set = make(map[*client]struct{})
		index[key] = set
	}
	set[c] = struct{}{}
	return h.lastRev.Load(), true
}

// remove unregisters c. Once it returns, no publish is delivering to c.
func (h *Hub) remove(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	index, key := h.byOwner, c.owner
	if c.sessionID != "" {
		index, key = h.byID, c.sessionID
	}
	if set := index[key]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(index, key)
		}
	}
}

// sessionConns returns how many connections follow session id.
func (h *Hub) sessionConns(id string) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.byID[id])
}

// waitFor returns once the feed has published revision rev (or a later one)
// into this hub, or when ctx ends.
func (h *Hub) waitFor(ctx context.Context, rev uint64) error {
	if h.lastRev.Load() >= rev {
		return nil
	}
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for h.lastRev.Load() < rev {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the change feed to reach revision %d: %w", rev, ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}
