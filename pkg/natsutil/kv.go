package natsutil

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// EnsureKeyValue returns the bucket cfg describes, creating it if it does
// not exist and updating it if its history, replicas, storage or marker TTL
// differ.
//
// It is what CreateOrUpdateKeyValue should be for replicas that start
// together: on a nats-server 2.15.2 cluster, two concurrent
// CreateOrUpdateKeyValue calls for one new replicated bucket both hang until
// their context ends (the bucket is created all the same), while concurrent
// creates of the stream answer at once. So this looks the bucket up first,
// and creates it with a plain create, reading the winner's bucket when
// another replica got there first.
func EnsureKeyValue(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, cfg)
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, cfg.Bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", cfg.Bucket, err)
	}
	s, err := js.Stream(ctx, "KV_"+cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("read bucket %s: %w", cfg.Bucket, err)
	}
	have := s.CachedInfo().Config
	replicas, history := max(cfg.Replicas, 1), max(int64(cfg.History), 1)
	if have.Replicas == replicas && have.MaxMsgsPerSubject == history && have.Storage == cfg.Storage &&
		have.SubjectDeleteMarkerTTL == cfg.LimitMarkerTTL && have.Description == cfg.Description {
		return kv, nil
	}
	kv, err = js.UpdateKeyValue(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("update bucket %s: %w", cfg.Bucket, err)
	}
	return kv, nil
}
