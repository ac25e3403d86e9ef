package sessions

import (
	"context"
	"time"
)

// Store keeps session records. Every write is a compare-and-swap so that racing
// writers, on any number of replicas, cannot both win.
type Store interface {
	// Create stores a new record that expires from the store after ttl. It
	// returns the record's revision, or ErrConflict if the id is taken.
	Create(ctx context.Context, s *Session, ttl time.Duration) (uint64, error)
	// Get returns the latest record with its Revision set, or ErrNotFound.
	Get(ctx context.Context, id string) (*Session, error)
	// Update replaces the record if it is still at s.Revision and resets its
	// time to live to ttl. It returns the new revision, or ErrConflict.
	Update(ctx context.Context, s *Session, ttl time.Duration) (uint64, error)
	// List returns the owner's sessions, newest first.
	List(ctx context.Context, owner string, q ListQuery) (ListPage, error)
}

// ListQuery selects a page of one owner's sessions.
type ListQuery struct {
	Status Status // empty = any
	Limit  int
	Cursor string // opaque, from a previous ListPage
	// Match, when set, keeps only the records it accepts. The Service sets it
	// from Status, judging a due pending session as expired.
	Match func(*Session) bool
}

// ListPage is one page of a listing.
type ListPage struct {
	Items      []*Session
	NextCursor string
}

// List limits.
const (
	DefaultListLimit = 20
	MaxListLimit     = 100
)
