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
	// pages counts the page-token connections among byID, per session:
	// they have a budget of their own, so that people holding a link can
	// never lock the owner out, nor the owner's apps the page.
	pages map[string]int
	// lastRev is the highest revision published so far. A /ws client that
	// registers sees every change above it; it is the client's resume point.
	lastRev atomic.Uint64
	now     func() time.Time
}

// event is one version of one session, encoded at most once per audience
// for every connection that follows it.
type event struct {
	id   string
	rev  uint64
	sess *sessions.Session
	at   time.Time

	once   [audiences]sync.Once
	frames [audiences][][]byte
}

func newEvent(s *sessions.Session, at time.Time) *event {
	return &event{id: s.ID, rev: s.Revision, sess: s, at: at}
}

// framesFor returns the messages of ev for a, encoding them on first use.
func (ev *event) framesFor(a audience) [][]byte {
	ev.once[a].Do(func() { ev.frames[a] = transitionFrames(ev.sess, ev.at, a) })
	return ev.frames[a]
}

func newHub(now func() time.Time) *Hub {
	return &Hub{
		byID:    make(map[string]map[*client]struct{}),
		byOwner: make(map[string]map[*client]struct{}),
		pages:   make(map[string]int),
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
	ev := newEvent(s, h.now())
	for c := range byID {
		c.deliver(ev)
	}
	for c := range byOwner {
		c.deliver(ev)
	}
}

// publishWritten is the sessions.Hub callback for versions this process has
// just written: it brings an answer to the /ws/{id} sockets of the session
// without waiting for the change feed, which delivers the same version again
// later (publish), where the socket's floor discards it. /ws sockets get it
// from the feed only, and the watermark is left alone: both promise order
// across sessions (a /ws client resumes from the highest revision it saw),
// which a version written here, ahead of the feed, would break.
func (h *Hub) publishWritten(s *sessions.Session) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	byID := h.byID[s.ID]
	if len(byID) == 0 {
		return
	}
	ev := newEvent(s, h.now())
	for c := range byID {
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
// connection to a session that already has limit connections of c's kind
// (page or owner; when limit > 0).
func (h *Hub) add(c *client, limit int) (watermark uint64, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	index, key := h.byOwner, c.owner
	if c.sessionID != "" {
		index, key = h.byID, c.sessionID
	}
	set := index[key]
	if c.sessionID != "" && limit > 0 && h.countLocked(c.sessionID, c.page) >= limit {
		return 0, false
	}
	if set == nil {
		set = make(map[*client]struct{})
		index[key] = set
	}
	set[c] = struct{}{}
	if c.page {
		h.pages[c.sessionID]++
	}
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
		if _, ok := set[c]; ok && c.page {
			if h.pages[c.sessionID]--; h.pages[c.sessionID] <= 0 {
				delete(h.pages, c.sessionID)
			}
		}
		delete(set, c)
		if len(set) == 0 {
			delete(index, key)
		}
	}
}

// sessionConns returns how many page-token connections (page) or owner
// connections (!page) follow session id.
func (h *Hub) sessionConns(id string, page bool) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.countLocked(id, page)
}

func (h *Hub) countLocked(id string, page bool) int {
	if page {
		return h.pages[id]
	}
	return len(h.byID[id]) - h.pages[id]
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
