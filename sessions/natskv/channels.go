package natskv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedbackd/feedbackd/pkg/natsutil"
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
	want := bucketConfig(&o, DefaultChannelsBucket, "feedbackd notification channels per principal, and their recent delivery outcomes", 256*1024)
	// Every edge and dispatcher opens it as it starts: EnsureKeyValue does
	// not hang when they do so at once on a new cluster.
	kv, err := natsutil.EnsureKeyValue(ctx, js, want)
	if err != nil {
		return nil, err
	}
	return &ChannelStore{newBucket(js, kv, o)}, nil
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

// read returns the value and revision of key, or sessions.ErrNotFound.
func (s *kvBucket) read(ctx context.Context, key string) ([]byte, uint64, error) {
	if s.leaderReads {
		data, rev, gone, err := leaderGet(ctx, s.js.Conn(), "KV_"+s.bucket, "$KV."+s.bucket+"."+key)
		switch {
		case err != nil:
			return nil, 0, err
		case gone:
			return nil, 0, sessions.ErrNotFound
		}
		return data, rev, nil
	}
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, 0, sessions.ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("get %s: %w", key, err)
	}
	return e.Value(), e.Revision(), nil
}

// swap writes key if it is still at rev (zero: absent or deleted), with a
// per-key TTL when ttl > 0. kv.Update would drop the TTL, so updates publish
// with an expected last-subject sequence instead.
func (s *kvBucket) swap(ctx context.Context, key string, data []byte, rev uint64, ttl time.Duration) (uint64, error) {
	if rev == 0 {
		var opts []jetstream.KVCreateOpt
		if ttl > 0 {
			opts = append(opts, jetstream.KeyTTL(ttl))
		}
		n, err := s.kv.Create(ctx, key, data, opts...)
		if errors.Is(err, jetstream.ErrKeyExists) {
			return 0, sessions.ErrConflict
		}
		if err != nil {
			return 0, fmt.Errorf("create %s: %w", key, err)
		}
		return n, nil
	}
	opts := []jetstream.PublishOpt{jetstream.WithExpectLastSequencePerSubject(rev)}
	if ttl > 0 {
		opts = append(opts, jetstream.WithMsgTTL(ttl))
	}
	ack, err := s.js.Publish(ctx, "$KV."+s.bucket+"."+key, data, opts...)
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
			return 0, sessions.ErrConflict
		}
		return 0, fmt.Errorf("update %s: %w", key, err)
	}
	return ack.Sequence, nil
}

// LeaderGet reads the latest message of subject in stream from the stream
// leader, as the stores here do in a replicated bucket (see leaderGet). gone
// is true when the subject holds no message or a delete marker. Other
// packages that keep their own KV buckets use it for reads that must see
// every acknowledged write.
func LeaderGet(ctx context.Context, js jetstream.JetStream, stream, subject string) (data []byte, seq uint64, gone bool, err error) {
	return leaderGet(ctx, js.Conn(), stream, subject)
}
