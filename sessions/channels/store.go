package channels

import (
	"context"
	"time"
)

// Store keeps settings and delivery outcomes. Every write is a
// compare-and-swap, so racing writers on any number of replicas cannot both
// win. A store reports a missing record with sessions.ErrNotFound and a lost
// swap with sessions.ErrConflict.
type Store interface {
	// Get returns the owner's settings with Revision set, or
	// sessions.ErrNotFound.
	Get(ctx context.Context, owner string) (*Settings, error)
	// Put stores s if the stored settings are still at s.Revision (zero:
	// none are stored) and returns the new revision.
	Put(ctx context.Context, s *Settings) (uint64, error)
	// Outcomes returns the recent outcomes of the owner's kind channel,
	// newest first, and the revision to swap them at (zero when there are
	// none).
	Outcomes(ctx context.Context, owner string, kind Kind) ([]Outcome, uint64, error)
	// PutOutcomes replaces them if they are still at rev; they are removed
	// ttl after the last write.
	PutOutcomes(ctx context.Context, owner string, kind Kind, items []Outcome, rev uint64, ttl time.Duration) (uint64, error)
}

// OutcomeState is where a delivery stands.
type OutcomeState string

// The states of a delivery.
const (
	// Delivered: the destination accepted it.
	Delivered OutcomeState = "delivered"
	// Retrying: the last attempt failed in a way that may pass; another
	// follows.
	Retrying OutcomeState = "retrying"
	// Failed: refused for good, or given up after the retry period.
	Failed OutcomeState = "failed"
	// Skipped: no longer worth sending (a question that ended before it
	// could be announced); earlier attempts had failed.
	Skipped OutcomeState = "skipped"
)

// Outcome is how one notification fared at one destination. It never holds
// a secret or the answer.
type Outcome struct {
	// ID is the delivery's id: the webhook-id for webhooks, stable across
	// retries.
	ID        string `json:"id"`
	Event     Event  `json:"event"`
	SessionID string `json:"sessionId,omitempty"`
	// Destination is Destination.Label: a host or a chat id.
	Destination string `json:"destination"`
	// Default marks a delivery to the operator's default destination.
	Default  bool         `json:"default,omitempty"`
	State    OutcomeState `json:"state"`
	Attempts int          `json:"attempts"`
	// StatusCode is the destination's last HTTP status, when it answered.
	StatusCode int `json:"statusCode,omitempty"`
	// Error says why the last attempt failed.
	Error string    `json:"error,omitempty"`
	At    time.Time `json:"at"`
}

// Outcome retention.
const (
	// RecentOutcomes is how many outcomes are kept per principal and
	// channel.
	RecentOutcomes = 20
	// OutcomeTTL is how long outcomes are kept after the last one.
	OutcomeTTL = 7 * 24 * time.Hour
)
