package natsutil

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// attemptTimeout bounds one round of EnsureKeyValue's requests.
const attemptTimeout = 5 * time.Second

// EnsureKeyValue returns the bucket cfg describes, creating it if it does
// not exist and updating it if its history, replicas, storage, marker TTL,
// TTL, largest value or description differ.
//
// It is what CreateOrUpdateKeyValue should be for replicas that start
// together: an unchanged bucket is not rewritten (a rewrite races, in
// nats-server 2.15.2, with another replica creating a consumer on the
// stream). On a nats-server 2.15.2 cluster, a request about a replicated
// stream that another member is creating at that moment (STREAM.INFO, and
// the update CreateOrUpdateKeyValue starts with) can go unanswered and wait
// out its context, though the bucket is created; and right after a create
// another member may still say the bucket does not exist. So each round of
// requests gets attemptTimeout, and a round that was not answered or did
// not find the bucket it just created is tried again until ctx ends.
func EnsureKeyValue(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	for {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		kv, err := ensureKeyValue(actx, js, cfg)
		cancel()
		if err == nil {
			return kv, nil
		}
		retry := errors.Is(err, context.DeadlineExceeded) || errors.Is(err, jetstream.ErrBucketNotFound) ||
			errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrBucketExists) ||
			errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrTimeout)
		if !retry || ctx.Err() != nil {
			return nil, fmt.Errorf("open bucket %s: %w", cfg.Bucket, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("open bucket %s: %w", cfg.Bucket, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ensureKeyValue is one round: look up, create if missing, update if
// drifted.
func ensureKeyValue(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, cfg)
	}
	if err != nil {
		return nil, err
	}
	s, err := js.Stream(ctx, "KV_"+cfg.Bucket)
	if err != nil {
		return nil, err
	}
	have := s.CachedInfo().Config
	replicas, history := max(cfg.Replicas, 1), max(int64(cfg.History), 1)
	maxValue := cfg.MaxValueSize
	if maxValue == 0 {
		maxValue = -1 // unlimited, as the server stores it
	}
	if have.Replicas == replicas && have.MaxMsgsPerSubject == history && have.Storage == cfg.Storage &&
		have.SubjectDeleteMarkerTTL == cfg.LimitMarkerTTL && have.Description == cfg.Description &&
		have.MaxAge == cfg.TTL && have.MaxMsgSize == maxValue {
		return kv, nil
	}
	return js.UpdateKeyValue(ctx, cfg)
}
