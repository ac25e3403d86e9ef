package sessions

import (
	"sync"
	"sync/atomic"
)

// Hub fans session changes out to in-process subscribers. A change feed (such
// as natskv.Feed) publishes every new version of a record into it; waiting
// requests, WebSocket connections and the expirer subscribe. Callbacks run on
// the publisher's goroutine and must not block.
//
// The Service also hands the hub every version it has just written
// (PublishWritten), so that a waiter on the replica that took an answer
// hears of it as soon as the write is acknowledged, without waiting for the
// feed to bring the same version back. A subscriber of one session gets each
// revision once, whichever way it came first.
type Hub struct {
	mu      sync.RWMutex
	byID    map[string]map[*hubSub]struct{}
	all     map[*hubSub]struct{}
	written map[*hubSub]struct{}
}

type hubSub struct {
	fn func(*Session)
	// last is the newest revision given to a subscriber of one session:
	// the written version and the feed's copy of it are one delivery.
	last atomic.Uint64
}

// deliver calls fn with s unless a revision at or above it was delivered.
// A version without a revision (0: not from a store) is always delivered.
func (sub *hubSub) deliver(s *Session) {
	if s.Revision == 0 {
		sub.fn(s)
		return
	}
	for {
		last := sub.last.Load()
		if s.Revision <= last {
			return
		}
		if sub.last.CompareAndSwap(last, s.Revision) {
			sub.fn(s)
			return
		}
	}
}

// NewHub returns an empty hub.
func NewHub() *Hub {
	return &Hub{
		byID:    make(map[string]map[*hubSub]struct{}),
		all:     make(map[*hubSub]struct{}),
		written: make(map[*hubSub]struct{}),
	}
}

// Subscribe calls fn with every later version of session id until the
// returned cancel is called: those the feed delivers and those this process
// writes, each revision once.
func (h *Hub) Subscribe(id string, fn func(*Session)) (cancel func()) {
	sub := &hubSub{fn: fn}
	h.mu.Lock()
	set := h.byID[id]
	if set == nil {
		set = make(map[*hubSub]struct{})
		h.byID[id] = set
	}
	set[sub] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			delete(set, sub)
			if len(h.byID[id]) == 0 {
				delete(h.byID, id)
			}
		})
	}
}

// SubscribeAll calls fn with every version of every session the feed
// delivers, in the feed's order. Versions this process writes reach it
// through the feed only, so that the order holds: a follower of every
// session may treat the revisions it has seen as a resume point.
func (h *Hub) SubscribeAll(fn func(*Session)) (cancel func()) {
	return h.subscribeSet(h.all, fn)
}

// SubscribeWritten calls fn with every version this process writes, as soon
// as the write is acknowledged and before the feed delivers it (it delivers
// it too, to SubscribeAll). fn sees versions out of the feed's order, and
// the same revision again from the feed: it suits a follower of one session
// that discards revisions it has seen (the notifier's /ws/{id}).
func (h *Hub) SubscribeWritten(fn func(*Session)) (cancel func()) {
	return h.subscribeSet(h.written, fn)
}

func (h *Hub) subscribeSet(set map[*hubSub]struct{}, fn func(*Session)) (cancel func()) {
	sub := &hubSub{fn: fn}
	h.mu.Lock()
	set[sub] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			delete(set, sub)
			h.mu.Unlock()
		})
	}
}

// Publish delivers s, a version from the change feed, to the subscribers of
// its id that have not had it yet and to every SubscribeAll.
func (h *Hub) Publish(s *Session) { h.publish(s, h.all) }

// PublishWritten delivers s, a version this process has just written and
// had acknowledged, to the subscribers of its id and to every
// SubscribeWritten; the feed brings it to SubscribeAll later. s must not be
// changed afterwards: subscribers keep it.
func (h *Hub) PublishWritten(s *Session) { h.publish(s, h.written) }

// publish delivers s to the subscribers of its id, each revision once, and
// to every subscriber in set, as it comes.
func (h *Hub) publish(s *Session, set map[*hubSub]struct{}) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for sub := range h.byID[s.ID] {
		sub.deliver(s)
	}
	for sub := range set {
		sub.fn(s)
	}
}

// Subscribers returns how many subscriptions are open; it lets tests prove
// that waiters clean up after themselves.
func (h *Hub) Subscribers() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := len(h.all) + len(h.written)
	for _, set := range h.byID {
		n += len(set)
	}
	return n
}
