package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedbackd/feedbackd/pkg/natsutil"
	"github.com/feedbackd/feedbackd/sessions/natskv"
)

// recordState is how a delivery ended.
type recordState string

const (
	recDelivered recordState = "delivered"
	recFailed    recordState = "failed"
	// recSkipped: nothing was sent, on purpose (a question no longer
	// pending is not announced; an end notice needs an announcement).
	recSkipped recordState = "skipped"
)

// record is a finished delivery, written once before its job is acked.
type record struct {
	State recordState `json:"state"`
	// Ref is the channel's reference to what it created (Receipt.Ref).
	Ref string    `json:"ref,omitempty"`
	At  time.Time `json:"at"`
}

// records is RecordsBucket.
type records struct {
	js          jetstream.JetStream
	kv          jetstream.KeyValue
	ttl         time.Duration
	leaderReads bool
}

func openRecords(ctx context.Context, js jetstream.JetStream, replicas int, ttl time.Duration) (*records, error) {
	kv, err := natsutil.EnsureKeyValue(ctx, js, jetstream.KeyValueConfig{
		Bucket:         RecordsBucket,
		Description:    "feedbackd dispatcher: finished deliveries per destination, session and event",
		History:        1,
		Storage:        jetstream.FileStorage,
		Replicas:       replicas,
		LimitMarkerTTL: time.Minute,
		MaxValueSize:   4096,
	})
	if err != nil {
		return nil, err
	}
	return &records{js: js, kv: kv, ttl: ttl, leaderReads: replicas > 1}, nil
}

// get returns the record of key; ok is false if there is none.
func (r *records) get(ctx context.Context, key string) (rec record, ok bool, err error) {
	data, ok, err := r.read(ctx, key)
	if err != nil || !ok {
		return record{}, false, err
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return record{}, false, fmt.Errorf("decode delivery record: %w", err)
	}
	return rec, true, nil
}

// read returns the value of key; ok is false if there is none.
func (r *records) read(ctx context.Context, key string) (data []byte, ok bool, err error) {
	if r.leaderReads {
		// A direct get may be answered by a replica that has not applied a
		// record another dispatcher just wrote.
		var gone bool
		data, _, gone, err = natskv.LeaderGet(ctx, r.js, "KV_"+RecordsBucket, "$KV."+RecordsBucket+"."+key)
		if err != nil {
			return nil, false, fmt.Errorf("get %s: %w", key, err)
		}
		return data, !gone, nil
	}
	e, err := r.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("get %s: %w", key, err)
	}
	return e.Value(), true, nil
}

// chatKey is where the session of a bot's Telegram message is kept.
func chatKey(chat int64, message int) string {
	return chatPrefix + strconv.FormatInt(chat, 10) + "." + strconv.Itoa(message)
}

// putChatMessage remembers that the bot's message in chat asks session.
// Message ids are never reused within a chat, so a create is enough; one
// that exists already (a repeated write) stays.
func (r *records) putChatMessage(ctx context.Context, chat int64, message int, session string) error {
	_, err := r.kv.Create(ctx, chatKey(chat, message), []byte(session), jetstream.KeyTTL(r.ttl))
	if err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("remember a Telegram message: %w", err)
	}
	return nil
}

// chatMessage returns the session the bot's message in chat asks; ok is
// false when the message is not one of feedbackd's questions (or is older
// than the records last).
func (r *records) chatMessage(ctx context.Context, chat int64, message int) (session string, ok bool, err error) {
	data, ok, err := r.read(ctx, chatKey(chat, message))
	return string(data), ok, err
}

// waitsKey is where a final event's job counts its waits for the created
// event (see Dispatcher.order).
func waitsKey(recKey string) string { return waitsPrefix + recKey[len(recordPrefix):] }

// waits returns how many times the job of record key waited.
func (r *records) waits(ctx context.Context, key string) (int, error) {
	e, err := r.kv.Get(ctx, waitsKey(key))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("get wait count: %w", err)
	}
	n, err := strconv.Atoi(string(e.Value()))
	if err != nil {
		return 0, fmt.Errorf("decode wait count: %w", err)
	}
	return n, nil
}

// setWaits stores the wait count of the job of record key. Only the replica
// holding the job writes it, so a plain overwrite is safe.
func (r *records) setWaits(ctx context.Context, key string, n int) error {
	_, err := r.js.Publish(ctx, "$KV."+RecordsBucket+"."+waitsKey(key), []byte(strconv.Itoa(n)), jetstream.WithMsgTTL(r.ttl))
	if err != nil {
		return fmt.Errorf("write wait count: %w", err)
	}
	return nil
}

// put writes the record of key once; one that exists already stays.
func (r *records) put(ctx context.Context, key string, rec record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode delivery record: %w", err)
	}
	if _, err := r.kv.Create(ctx, key, data, jetstream.KeyTTL(r.ttl)); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("write delivery record: %w", err)
	}
	return nil
}
