package natskv

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedbackd/feedbackd/pkg/natsutil"
	"github.com/feedbackd/feedbackd/sessions"
)

// kvBucket is a KV bucket this package keeps records in, and how to read
// it; the stores of sessions, channels and inbox links share it.
type kvBucket struct {
	js          jetstream.JetStream
	kv          jetstream.KeyValue
	bucket      string
	leaderReads bool
}

// openBucket creates the history-1 bucket with per-key TTLs that o
// describes (defaultName, one replica and file storage unless o says
// otherwise), or updates its configuration. Every replica opens its buckets
// as it starts: EnsureKeyValue does not hang when they do so at once on a
// new cluster. Reads go to the stream leader whenever the bucket is
// replicated.
func openBucket(ctx context.Context, js jetstream.JetStream, o Options, defaultName, description string, maxValueSize int32) (kvBucket, error) {
	if o.Bucket == "" {
		o.Bucket = defaultName
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	storage := jetstream.FileStorage
	if o.Memory {
		storage = jetstream.MemoryStorage
	}
	kv, err := natsutil.EnsureKeyValue(ctx, js, jetstream.KeyValueConfig{
		Bucket:         o.Bucket,
		Description:    description,
		History:        1,
		Storage:        storage,
		Replicas:       o.Replicas,
		LimitMarkerTTL: markerTTL,
		MaxValueSize:   maxValueSize,
	})
	if err != nil {
		return kvBucket{}, err
	}
	return kvBucket{js: js, kv: kv, bucket: o.Bucket, leaderReads: o.LeaderReads || o.Replicas > 1}, nil
}

// Bucket returns the bucket name.
func (b *kvBucket) Bucket() string { return b.bucket }

// read returns the value and revision of key, or sessions.ErrNotFound.
func (b *kvBucket) read(ctx context.Context, key string) ([]byte, uint64, error) {
	if b.leaderReads {
		data, rev, gone, err := leaderGet(ctx, b.js.Conn(), "KV_"+b.bucket, "$KV."+b.bucket+"."+key)
		switch {
		case err != nil:
			return nil, 0, err
		case gone:
			return nil, 0, sessions.ErrNotFound
		}
		return data, rev, nil
	}
	e, err := b.kv.Get(ctx, key)
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
func (b *kvBucket) swap(ctx context.Context, key string, data []byte, rev uint64, ttl time.Duration) (uint64, error) {
	if rev == 0 {
		var opts []jetstream.KVCreateOpt
		if ttl > 0 {
			opts = append(opts, jetstream.KeyTTL(ttl))
		}
		n, err := b.kv.Create(ctx, key, data, opts...)
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
	ack, err := b.js.Publish(ctx, "$KV."+b.bucket+"."+key, data, opts...)
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
