package natskv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/channels"
)

// DefaultChannelsBucket is the bucket that holds channel settings and
// delivery outcomes.
const DefaultChannelsBucket = "feedback_channels"

// Keys of the channels bucket:
//
//	p.<ownerHash>          a principal's channels.Settings (JSON), no TTL
//	h.<ownerHash>.<kind>   its recent delivery outcomes of one channel (a JSON
//	                       array, newest first), removed a while after the last
const (
	settingsPrefix = "p."
	outcomesPrefix = "h."
)

// ChannelStore is a channels.Store over a JetStream KV bucket.
type ChannelStore struct{ kvBucket }

var _ channels.Store = (*ChannelStore)(nil)

// OpenChannels creates the channels bucket, or updates its configuration,
// and returns a ChannelStore. o.Bucket defaults to DefaultChannelsBucket.
func OpenChannels(ctx context.Context, js jetstream.JetStream, o Options) (*ChannelStore, error) {
	b, err := openBucket(ctx, js, o, DefaultChannelsBucket, "feedbackd notification channels per principal, and their recent delivery outcomes", 256*1024)
	if err != nil {
		return nil, err
	}
	return &ChannelStore{b}, nil
}

// Get implements channels.Store.
func (s *ChannelStore) Get(ctx context.Context, owner string) (*channels.Settings, error) {
	data, rev, err := s.read(ctx, settingsPrefix+ownerHash(owner))
	if err != nil {
		return nil, err
	}
	var st channels.Settings
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("decode channel settings: %w", err)
	}
	if st.Owner != owner {
		// A hash collision of two principals: never hand one the other's.
		return nil, sessions.ErrNotFound
	}
	st.Revision = rev
	return &st, nil
}

// Put implements channels.Store.
func (s *ChannelStore) Put(ctx context.Context, st *channels.Settings) (uint64, error) {
	data, err := json.Marshal(st)
	if err != nil {
		return 0, fmt.Errorf("encode channel settings: %w", err)
	}
	return s.swap(ctx, settingsPrefix+ownerHash(st.Owner), data, st.Revision, 0)
}

// Outcomes implements channels.Store.
func (s *ChannelStore) Outcomes(ctx context.Context, owner string, kind channels.Kind) ([]channels.Outcome, uint64, error) {
	data, rev, err := s.read(ctx, outcomesKey(owner, kind))
	if errors.Is(err, sessions.ErrNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	var items []channels.Outcome
	if err := json.Unmarshal(data, &items); err != nil {
		return nil, 0, fmt.Errorf("decode delivery outcomes: %w", err)
	}
	return items, rev, nil
}

// PutOutcomes implements channels.Store.
func (s *ChannelStore) PutOutcomes(ctx context.Context, owner string, kind channels.Kind, items []channels.Outcome, rev uint64, ttl time.Duration) (uint64, error) {
	data, err := json.Marshal(items)
	if err != nil {
		return 0, fmt.Errorf("encode delivery outcomes: %w", err)
	}
	return s.swap(ctx, outcomesKey(owner, kind), data, rev, ttl)
}

func outcomesKey(owner string, kind channels.Kind) string {
	return outcomesPrefix + ownerHash(owner) + "." + string(kind)
}

// LeaderGet reads the latest message of subject in stream from the stream
// leader, as the stores here do in a replicated bucket (see leaderGet). gone
// is true when the subject holds no message or a delete marker. Other
// packages that keep their own KV buckets use it for reads that must see
// every acknowledged write.
func LeaderGet(ctx context.Context, js jetstream.JetStream, stream, subject string) (data []byte, seq uint64, gone bool, err error) {
	return leaderGet(ctx, js.Conn(), stream, subject)
}
