package natskv

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedbackd/feedbackd/sessions"
)

// DefaultBucket is the bucket that holds sessions.
const DefaultBucket = "feedback_sessions"

const (
	sessionPrefix = "s."
	ownerPrefix   = "o."
	// indexGrace keeps an owner index entry a little longer than the record
	// it points at, so a late expiry never hides a session from its list.
	indexGrace = 10 * time.Minute
	// markerTTL is how long the delete marker of a purged key lives.
	markerTTL = time.Minute
)

// Options configure the bucket.
type Options struct {
	Bucket   string // default DefaultBucket
	Replicas int    // default 1; 3 on a NATS cluster
	Memory   bool   // memory storage instead of file, for tests
	// LeaderReads reads records from the stream leader rather than with a
	// direct get that any replica may answer. It is turned on whenever
	// Replicas > 1, where a lagging replica would serve stale records.
	LeaderReads bool
}

// Store is a sessions.Store over a JetStream KV bucket.
type Store struct{ kvBucket }

var _ sessions.Store = (*Store)(nil)

// Open creates the bucket, or updates its configuration, and returns a Store.
func Open(ctx context.Context, js jetstream.JetStream, o Options) (*Store, error) {
	b, err := openBucket(ctx, js, o, DefaultBucket, "feedbackd sessions; the stream is the change feed", 256*1024)
	if err != nil {
		return nil, err
	}
	return &Store{b}, nil
}

// KV returns the underlying bucket.
func (s *Store) KV() jetstream.KeyValue { return s.kv }

// SessionKey returns the key of a session record.
func SessionKey(id string) string { return sessionPrefix + id }

// FeedSubject returns the stream subject that carries every version of the
// session id; with id "*" it matches every session.
func FeedSubject(bucket, id string) string { return "$KV." + bucket + "." + sessionPrefix + id }

// Create implements sessions.Store. The owner index entry is written first: an
// index entry without a record is skipped by List, a record without an index
// entry would be lost to it.
func (s *Store) Create(ctx context.Context, sess *sessions.Session, ttl time.Duration) (uint64, error) {
	data, err := json.Marshal(sess)
	if err != nil {
		return 0, fmt.Errorf("encode session: %w", err)
	}
	idx := indexKey(sess.Owner, sess.CreatedAt, sess.ID)
	// The index entry exists already when an earlier attempt of this same
	// create wrote it before failing.
	if _, err := s.kv.Create(ctx, idx, nil, jetstream.KeyTTL(ttl+indexGrace)); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return 0, fmt.Errorf("create owner index: %w", err)
	}
	rev, err := s.kv.Create(ctx, SessionKey(sess.ID), data, jetstream.KeyTTL(ttl))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return 0, sessions.ErrConflict
	}
	if err != nil {
		return 0, fmt.Errorf("create session: %w", err)
	}
	return rev, nil
}

// Get implements sessions.Store.
func (s *Store) Get(ctx context.Context, id string) (*sessions.Session, error) {
	if s.leaderReads {
		data, rev, gone, err := leaderGet(ctx, s.js.Conn(), "KV_"+s.bucket, "$KV."+s.bucket+"."+SessionKey(id))
		switch {
		case err != nil:
			return nil, err
		case gone:
			return nil, sessions.ErrNotFound
		}
		return Decode(data, rev)
	}
	e, err := s.kv.Get(ctx, SessionKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, sessions.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get session: %w", err)
	}
	return Decode(e.Value(), e.Revision())
}

// Decode parses a stored record.
func Decode(data []byte, rev uint64) (*sessions.Session, error) {
	var sess sessions.Session
	if err := json.Unmarshal(data, &sess); err != nil {
		return nil, fmt.Errorf("decode session: %w", err)
	}
	sess.Revision = rev
	return &sess, nil
}

// Update implements sessions.Store: a compare-and-swap on the record's
// revision that also sets a new per-message TTL (kv.Update would drop it).
func (s *Store) Update(ctx context.Context, sess *sessions.Session, ttl time.Duration) (uint64, error) {
	data, err := json.Marshal(sess)
	if err != nil {
		return 0, fmt.Errorf("encode session: %w", err)
	}
	ack, err := s.js.Publish(ctx, "$KV."+s.bucket+"."+SessionKey(sess.ID), data,
		jetstream.WithExpectLastSequencePerSubject(sess.Revision),
		jetstream.WithMsgTTL(ttl))
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
			return 0, sessions.ErrConflict
		}
		return 0, fmt.Errorf("update session: %w", err)
	}
	return ack.Sequence, nil
}

// List implements sessions.Store. It walks the owner's index newest first and
// reads each record; records already purged are skipped.
func (s *Store) List(ctx context.Context, owner string, q sessions.ListQuery) (sessions.ListPage, error) {
	after := ""
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor)
		if err != nil {
			return sessions.ListPage{}, err
		}
		after = c
	}
	prefix := ownerPrefix + ownerHash(owner) + "."
	lister, err := s.kv.ListKeysFiltered(ctx, prefix+">")
	if err != nil {
		return sessions.ListPage{}, fmt.Errorf("list owner index: %w", err)
	}
	var tails []string
	for k := range lister.Keys() {
		tails = append(tails, strings.TrimPrefix(k, prefix))
	}
	if err := ctx.Err(); err != nil {
		return sessions.ListPage{}, fmt.Errorf("list owner index: %w", err)
	}
	// Zero-padded nanoseconds sort as strings; newest first.
	slices.Sort(tails)
	slices.Reverse(tails)

	var page sessions.ListPage
	for _, tail := range tails {
		if after != "" && tail >= after {
			continue
		}
		_, id, ok := strings.Cut(tail, ".")
		if !ok {
			continue
		}
		sess, err := s.Get(ctx, id)
		if errors.Is(err, sessions.ErrNotFound) {
			continue
		}
		if err != nil {
			return sessions.ListPage{}, err
		}
		if sess.Owner != owner || (q.Match != nil && !q.Match(sess)) {
			continue
		}
		if len(page.Items) == q.Limit {
			page.NextCursor = encodeCursor(lastTail(page.Items))
			break
		}
		page.Items = append(page.Items, sess)
	}
	return page, nil
}

func lastTail(items []*sessions.Session) string {
	last := items[len(items)-1]
	return nanos(last.CreatedAt) + "." + last.ID
}

func indexKey(owner string, created time.Time, id string) string {
	return ownerPrefix + ownerHash(owner) + "." + nanos(created) + "." + id
}

func nanos(t time.Time) string { return fmt.Sprintf("%019d", t.UnixNano()) }

// ownerHash makes any principal id a safe, fixed-length key token.
func ownerHash(owner string) string {
	sum := sha256.Sum256([]byte(owner))
	return hex.EncodeToString(sum[:16])
}

func encodeCursor(tail string) string { return base64.RawURLEncoding.EncodeToString([]byte(tail)) }

func decodeCursor(c string) (string, error) {
	bad := sessions.Invalid("cursor", "is not a cursor from a previous page")
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", bad
	}
	ts, id, ok := strings.Cut(string(b), ".")
	if !ok || len(ts) != 19 || sessions.CheckID(id) != nil {
		return "", bad
	}
	if _, err := strconv.ParseUint(ts, 10, 64); err != nil {
		return "", bad
	}
	return string(b), nil
}
