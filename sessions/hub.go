package sessions

import "sync"

// Hub fans session changes out to in-process subscribers. A change feed (such
// as natskv.Feed) publishes every new version of a record into it; waiting
// requests, WebSocket connections and the expirer subscribe. Callbacks run on
// the publisher's goroutine and must not block.
type Hub struct {
	mu   sync.RWMutex
	byID map[string]map[*hubSub]struct{}
	all  map[*hubSub]struct{}
}

type hubSub struct{ fn func(*Session) }

// NewHub returns an empty hub.
func NewHub() *Hub {
	return &Hub{byID: make(map[string]map[*hubSub]struct{}), all: make(map[*hubSub]struct{})}
}

// Subscribe calls fn with every later version of session id until the
// returned cancel is called.
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

// SubscribeAll calls fn with every version of every session.
func (h *Hub) SubscribeAll(fn func(*Session)) (cancel func()) {
	sub := &hubSub{fn: fn}
	h.mu.Lock()
	h.all[sub] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.all, sub)
			h.mu.Unlock()
		})
	}
}

// Publish delivers s to the subscribers of its id and to every SubscribeAll.
func (h *Hub) Publish(s *Session) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for sub := range h.byID[s.ID] {
		sub.fn(s)
	}
	for sub := range h.all {
		sub.fn(s)
	}
}

// Subscribers returns how many per-session subscriptions are open; it lets
// tests prove that waiters clean up after themselves.
func (h *Hub) Subscribers() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := len(h.all)
	for _, set := range h.byID {
		n += len(set)
	}
	return n
}
