package natskv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedbackd/feedbackd/pkg/natsutil"
	"github.com/feedbackd/feedbackd/sessions"
)

// DefaultImageBucket is the object store that holds image bytes.
const DefaultImageBucket = "feedback_images"

// defaultReadTimeout bounds how long a reader of an image may take to
// drain it, unless the caller's context says otherwise.
const defaultReadTimeout = time.Minute

// ImageOptions configure the image buckets.
type ImageOptions struct {
	// Bucket is the object store; default DefaultImageBucket. Its index is
	// the KV bucket Bucket+"_index".
	Bucket   string
	Replicas int  // default 1; as many as the sessions bucket
	Memory   bool // memory storage instead of file, for tests
	// MaxAge is how long images are kept: at least the longest a session
	// can live, see ImageMaxAge. Required.
	MaxAge time.Duration
	// MaxBytes caps the bucket; a full bucket refuses new images. Zero is
	// no cap.
	MaxBytes int64
	// ReadTimeout bounds how long a reader returned by Get may take to
	// drain; default one minute.
	ReadTimeout time.Duration
}

// ImageMaxAge is the MaxAge that keeps an image as long as its session can
// be read: the longest timeout, then the retention of a finished session,
// and the same grace the owner index gets.
func ImageMaxAge(maxTimeout, retention time.Duration) time.Duration {
	return maxTimeout + retention + indexGrace
}

// Images is a sessions.ImageStore over a JetStream object store.
//
// Object "<sessionId>/<imageId>" holds the bytes, chunked by the object
// store (so no message nears NATS's max_payload). KV key
// "<sessionId>.<imageId>" in the index bucket is written before each object:
// it lets DeleteSession find a session's images, including those of a
// request that failed half way, with a subject filter instead of a walk of
// every object. Both buckets expire entries after MaxAge.
type Images struct {
	obs         jetstream.ObjectStore
	index       jetstream.KeyValue
	bucket      string
	replicated  bool
	readTimeout time.Duration
}

var _ sessions.ImageStore = (*Images)(nil)

// OpenImages creates the object store and its index, or updates their
// configuration, and returns an Images.
func OpenImages(ctx context.Context, js jetstream.JetStream, o ImageOptions) (*Images, error) {
	if o.Bucket == "" {
		o.Bucket = DefaultImageBucket
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.MaxAge <= 0 {
		return nil, fmt.Errorf("open image bucket %q: MaxAge is required (see ImageMaxAge)", o.Bucket)
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = defaultReadTimeout
	}
	storage := jetstream.FileStorage
	if o.Memory {
		storage = jetstream.MemoryStorage
	}
	obs, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      o.Bucket,
		Description: "feedbackd images of questions and answers; records hold references",
		TTL:         o.MaxAge,
		MaxBytes:    o.MaxBytes,
		Storage:     storage,
		Replicas:    o.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("create or update object store %q: %w", o.Bucket, err)
	}
	index, err := natsutil.EnsureKeyValue(ctx, js, jetstream.KeyValueConfig{
		Bucket:      o.Bucket + "_index",
		Description: "feedbackd: which images each session has in " + o.Bucket,
		History:     1,
		TTL:         o.MaxAge,
		Storage:     storage,
		Replicas:    o.Replicas,
	})
	if err != nil {
		return nil, err
	}
	return &Images{obs: obs, index: index, bucket: o.Bucket, replicated: o.Replicas > 1, readTimeout: o.ReadTimeout}, nil
}

// ObjectStore returns the underlying object store.
func (im *Images) ObjectStore() jetstream.ObjectStore { return im.obs }

// ObjectName returns the object that holds an image's bytes.
func ObjectName(sessionID, imageID string) string { return sessionID + "/" + imageID }

func indexKeyOf(sessionID, imageID string) string { return sessionID + "." + imageID }

// checkIDs keeps ids that would be wildcards or extra tokens out of keys.
func checkIDs(ids ...string) error {
	for _, id := range ids {
		if err := sessions.CheckID(id); err != nil {
			return fmt.Errorf("image key %q: %w", id, err)
		}
	}
	return nil
}

// Put implements sessions.ImageStore. The index entry comes first: an entry
// without an object costs nothing, an object without an entry would escape
// DeleteSession until MaxAge.
func (im *Images) Put(ctx context.Context, sessionID string, img sessions.Image, data []byte) error {
	if err := checkIDs(sessionID, img.ID); err != nil {
		return err
	}
	if _, err := im.index.Put(ctx, indexKeyOf(sessionID, img.ID), nil); err != nil {
		return fmt.Errorf("index image: %w", err)
	}
	meta := jetstream.ObjectMeta{
		Name:    ObjectName(sessionID, img.ID),
		Headers: nats.Header{"Content-Type": []string{img.MimeType}},
		Metadata: map[string]string{
			"session": sessionID,
			"name":    img.Name,
			"sha256":  img.SHA256,
		},
	}
	if _, err := im.obs.Put(ctx, meta, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("put image: %w", err)
	}
	return nil
}

// Get implements sessions.ImageStore. On one node the reader streams the
// object's chunks and fails at the end if they do not match the stored
// digest; it must be drained within ReadTimeout. On a replicated bucket the
// object is read whole and checked before it is handed out (see getReplicated).
func (im *Images) Get(ctx context.Context, sessionID, imageID string) (io.ReadCloser, error) {
	if err := checkIDs(sessionID, imageID); err != nil {
		return nil, err
	}
	name := ObjectName(sessionID, imageID)
	if im.replicated {
		return im.getReplicated(ctx, name)
	}
	rctx, cancel := context.WithTimeout(ctx, im.readTimeout)
	res, err := im.obs.Get(rctx, name)
	if err != nil {
		cancel()
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			return nil, sessions.ErrNotFound
		}
		return nil, fmt.Errorf("get image: %w", err)
	}
	return &imageReader{ObjectResult: res, cancel: cancel}, nil
}

// getReplicated reads a whole object from a replicated bucket. Its
// description is read with a direct get, which any replica may answer: one
// that has not applied the put yet says not found, and under load a read
// has been seen to end with the wrong digest (a 3-node test, -race, a
// fresh bucket). The record that points here was written after the put, so
// both pass: the read is tried again for a moment, and nothing unchecked is
// handed out.
func (im *Images) getReplicated(ctx context.Context, name string) (io.ReadCloser, error) {
	rctx, cancel := context.WithTimeout(ctx, im.readTimeout)
	defer cancel()
	var err error
	for wait := 25 * time.Millisecond; ; wait *= 2 {
		var data []byte
		if data, err = im.obs.GetBytes(rctx, name); err == nil {
			return io.NopCloser(bytes.NewReader(data)), nil
		}
		if !errors.Is(err, jetstream.ErrObjectNotFound) && !errors.Is(err, jetstream.ErrDigestMismatch) || wait > 800*time.Millisecond {
			break
		}
		select {
		case <-rctx.Done():
			return nil, fmt.Errorf("get image: %w", errors.Join(err, rctx.Err()))
		case <-time.After(wait):
		}
	}
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, sessions.ErrNotFound
	}
	return nil, fmt.Errorf("get image: %w", err)
}

// imageReader ends the read's context when the reader is closed.
type imageReader struct {
	jetstream.ObjectResult
	cancel context.CancelFunc
}

func (r *imageReader) Close() error {
	err := r.ObjectResult.Close()
	r.cancel()
	return err
}

// Delete implements sessions.ImageStore: the object first, its index entry
// once the object is gone.
func (im *Images) Delete(ctx context.Context, sessionID string, imageIDs ...string) error {
	if err := checkIDs(append([]string{sessionID}, imageIDs...)...); err != nil {
		return err
	}
	for _, id := range imageIDs {
		err := im.obs.Delete(ctx, ObjectName(sessionID, id))
		if err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return fmt.Errorf("delete image: %w", err)
		}
		if err := im.index.Delete(ctx, indexKeyOf(sessionID, id)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("delete image index entry: %w", err)
		}
	}
	return nil
}

// DeleteSession implements sessions.ImageStore.
func (im *Images) DeleteSession(ctx context.Context, sessionID string) error {
	if err := checkIDs(sessionID); err != nil {
		return err
	}
	ids, err := im.ImageIDs(ctx, sessionID)
	if err != nil {
		return err
	}
	return im.Delete(ctx, sessionID, ids...)
}

// ImageIDs lists the images stored for a session, in no particular order.
func (im *Images) ImageIDs(ctx context.Context, sessionID string) ([]string, error) {
	if err := checkIDs(sessionID); err != nil {
		return nil, err
	}
	prefix := indexKeyOf(sessionID, "")
	lister, err := im.index.ListKeysFiltered(ctx, prefix+"*")
	if err != nil {
		return nil, fmt.Errorf("list images of session: %w", err)
	}
	var ids []string
	for k := range lister.Keys() {
		ids = append(ids, k[len(prefix):])
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list images of session: %w", err)
	}
	return ids, nil
}
