package natsutil

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// ConfigBucket holds cluster-wide settings that replicas must agree on
// without being told, such as the page-token signing secret.
const ConfigBucket = "feedbackd_config"

// SharedSecret returns the named secret from the config bucket, creating it
// with 32 random bytes if it does not exist. Every replica that asks gets the
// same bytes: creation is a KV create, which only the first caller wins.
func SharedSecret(ctx context.Context, js jetstream.JetStream, name string, replicas int) ([]byte, error) {
	return SharedValue(ctx, js, name, replicas, func() ([]byte, error) {
		secret := make([]byte, 32)
		_, err := rand.Read(secret)
		return secret, err
	})
}

// SharedValue returns the named value from the config bucket, creating it
// with generate if it does not exist, as SharedSecret does: every replica
// gets the bytes the first one stored, such as the cluster's VAPID key.
func SharedValue(ctx context.Context, js jetstream.JetStream, name string, replicas int, generate func() ([]byte, error)) ([]byte, error) {
	kv, err := EnsureKeyValue(ctx, js, jetstream.KeyValueConfig{
		Bucket:      ConfigBucket,
		Description: "feedbackd cluster-wide settings",
		History:     1,
		Replicas:    replicas,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("open config bucket: %w", err)
	}
	for range 3 {
		e, err := kv.Get(ctx, name)
		if err == nil {
			return e.Value(), nil
		}
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, fmt.Errorf("read secret %s: %w", name, err)
		}
		value, err := generate()
		if err != nil {
			return nil, fmt.Errorf("generate %s: %w", name, err)
		}
		if _, err := kv.Create(ctx, name, value); err == nil {
			return value, nil
		} else if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("create secret %s: %w", name, err)
		}
		// Another replica created it first: read theirs.
	}
	return nil, fmt.Errorf("secret %s: no stable value after 3 tries", name)
}
