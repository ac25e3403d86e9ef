package ratelimit

import "sync"

// Slots caps how many things one key (a principal) may have in flight at
// once — long waits, say — where a Limiter caps how often it may start
// them. A key holds memory only while it has something in flight. Like a
// Limiter, it counts for one process.
type Slots struct {
	max   int
	mu    sync.Mutex
	inUse map[string]int
}

// NewSlots caps each key at max things at once; max ≤ 0 caps nothing.
func NewSlots(max int) *Slots {
	return &Slots{max: max, inUse: make(map[string]int)}
}

// Max is the cap; 0 means none.
func (s *Slots) Max() int { return max(s.max, 0) }

// Acquire takes one of key's slots. ok is false when key has Max in use;
// otherwise release gives the slot back (calling it again does nothing).
func (s *Slots) Acquire(key string) (release func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.max > 0 && s.inUse[key] >= s.max {
		return nil, false
	}
	s.inUse[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.inUse[key]--; s.inUse[key] <= 0 {
				delete(s.inUse, key)
			}
		})
	}, true
}

// InUse is how many slots key holds now.
func (s *Slots) InUse(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inUse[key]
}
