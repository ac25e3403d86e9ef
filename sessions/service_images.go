package sessions

import (
	"context"
	"errors"
	"io"
	"time"
)

// WithImageStore lets the Service accept images on questions and answers;
// without one, a request carrying images is refused.
func WithImageStore(is ImageStore) Option { return func(s *Service) { s.images = is } }

// cleanupTimeout bounds the deletion of images a failed request stored; it
// runs even when the request's own context has ended.
const cleanupTimeout = 10 * time.Second

// Image returns the reference of an image of the question or of the answer.
func (s *Session) Image(id string) (Image, bool) {
	for _, img := range s.Images {
		if img.ID == id {
			return img, true
		}
	}
	if s.Feedback != nil {
		for _, img := range s.Feedback.Images {
			if img.ID == id {
				return img, true
			}
		}
	}
	return Image{}, false
}

// OwnerImage opens an image of the owner's session: its reference and a
// reader of its bytes, which the caller closes. Another principal's session
// is SESSION_NOT_FOUND, an image the session does not hold (or no longer
// has) IMAGE_NOT_FOUND.
func (s *Service) OwnerImage(ctx context.Context, owner, sessionID, imageID string) (Image, io.ReadCloser, error) {
	sess, err := s.GetOwned(ctx, owner, sessionID)
	if err != nil {
		return Image{}, nil, err
	}
	return s.openImage(ctx, sess, imageID)
}

// PageImage opens an image for whoever holds the session id, the capability
// of the feedback page. It answers as OwnerImage does.
func (s *Service) PageImage(ctx context.Context, sessionID, imageID string) (Image, io.ReadCloser, error) {
	sess, err := s.Get(ctx, sessionID)
	if err != nil {
		return Image{}, nil, err
	}
	return s.openImage(ctx, sess, imageID)
}

// openImage serves only images the record references: a purged session has
// no record, so its leftover bytes are never served.
func (s *Service) openImage(ctx context.Context, sess *Session, imageID string) (Image, io.ReadCloser, error) {
	if CheckID(imageID) != nil {
		return Image{}, nil, Invalid("imageId", "must be a lowercase UUID")
	}
	ref, ok := sess.Image(imageID)
	if !ok || s.images == nil {
		return Image{}, nil, imageNotFound()
	}
	var rc io.ReadCloser
	err := s.retrying(ctx, func() (err error) {
		rc, err = s.images.Get(ctx, sess.ID, imageID)
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return Image{}, nil, imageNotFound()
	}
	if err != nil {
		return Image{}, nil, storeErr("read image", err)
	}
	return ref, rc, nil
}

// DeleteImages removes every image of a session from the image store, for
// a follower of the change feed that cleans up before the store's own
// expiry. Serving never depends on it: images of a purged session are not
// served anyway.
func (s *Service) DeleteImages(ctx context.Context, sessionID string) error {
	if err := CheckID(sessionID); err != nil {
		return err
	}
	if s.images == nil {
		return nil
	}
	if err := s.retrying(ctx, func() error { return s.images.DeleteSession(ctx, sessionID) }); err != nil {
		return storeErr("delete images", err)
	}
	return nil
}

// acceptsImages refuses images when no store is configured.
func (s *Service) acceptsImages(n int) error {
	if n > 0 && s.images == nil {
		return Invalid("images", "this server does not accept images")
	}
	return nil
}

// putImages stores decoded images; if one fails, those already stored are
// deleted and nothing is left behind.
func (s *Service) putImages(ctx context.Context, sessionID string, imgs []decodedImage) ([]Image, error) {
	if len(imgs) == 0 {
		return nil, nil
	}
	refs := make([]Image, 0, len(imgs))
	for _, img := range imgs {
		err := s.retrying(ctx, func() error { return s.images.Put(ctx, sessionID, img.ref, img.data) })
		if err != nil {
			// The failed put may have landed all the same.
			s.deleteImages(ctx, sessionID, append(refs, img.ref))
			return nil, storeErr("store image", err)
		}
		refs = append(refs, img.ref)
	}
	return refs, nil
}

// discardAnswerImages deletes the images of a submit that did not win. When
// the outcome is unknown — storage failed after the write may have landed —
// the record decides: images it references are kept.
func (s *Service) discardAnswerImages(ctx context.Context, sessionID string, imgs []Image, cause error) {
	if c := ErrorCode(cause); c == CodeServiceUnavailable || c == CodeInternal {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		got, err := s.store.Get(cctx, sessionID)
		cancel()
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return // unknown; DeleteImages or the store's expiry removes them
		case got.Feedback != nil && len(got.Feedback.Images) > 0 && got.Feedback.Images[0].ID == imgs[0].ID:
			return
		}
	}
	s.deleteImages(ctx, sessionID, imgs)
}

// deleteImages removes images a failed request stored. It runs on after the
// request's context ends; if it fails, the image store's expiry (or
// DeleteImages) removes them later, and no record references them.
func (s *Service) deleteImages(ctx context.Context, sessionID string, imgs []Image) {
	if len(imgs) == 0 {
		return
	}
	ids := make([]string, len(imgs))
	for i, img := range imgs {
		ids[i] = img.ID
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	_ = s.retrying(ctx, func() error { return s.images.Delete(ctx, sessionID, ids...) })
}

func imageNotFound() *Error { return Errorf(CodeImageNotFound, "image not found") }

// sameImages reports whether two answers carry the same images.
func sameImages(a, b []Image) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID {
			return false
		}
	}
	return true
}
