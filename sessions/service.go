package sessions

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"
)

// Service applies the rules of docs/api.md, "REST API", over a Store. It is
// safe for concurrent use and holds no state that another replica would
// need.
type Service struct {
	store     Store
	hub       *Hub
	limits    Limits
	retention time.Duration
	now       func() time.Time
	// retryFor is how long an operation keeps retrying storage failures that
	// may pass, such as a NATS leader election after a node died.
	retryFor time.Duration
	observe  Observer
	images   ImageStore
}

// Option configures a Service.
type Option func(*Service)

// WithLimits replaces the default limits.
func WithLimits(l Limits) Option { return func(s *Service) { s.limits = l } }

// WithRetention sets how long a finished session stays readable.
func WithRetention(d time.Duration) Option { return func(s *Service) { s.retention = d } }

// WithStorageRetry sets how long an operation keeps retrying storage
// failures that may pass (a JetStream leader election, a reconnect) before it
// answers SERVICE_UNAVAILABLE; zero turns retries off. The default is 8 s:
// long enough to ride out the loss of a NATS node, short enough for a client
// to hear back well within its timeout.
func WithStorageRetry(d time.Duration) Option { return func(s *Service) { s.retryFor = d } }

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// NewService returns a Service over store. hub is the in-process fan-out of
// the change feed; Wait relies on it.
func NewService(store Store, hub *Hub, opts ...Option) *Service {
	s := &Service{
		store:     store,
		hub:       hub,
		limits:    DefaultLimits(300*time.Second, 3600*time.Second),
		retention: 24 * time.Hour,
		now:       time.Now,
		retryFor:  8 * time.Second,
		observe:   nopObserver{},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Retention returns how long a finished session stays readable.
func (s *Service) Retention() time.Duration { return s.retention }

// Limits returns the limits the service enforces.
func (s *Service) Limits() Limits { return s.limits }

// Hub returns the in-process fan-out of session changes.
func (s *Service) Hub() *Hub { return s.hub }

// Now returns the service's clock reading, truncated to milliseconds as
// stored.
func (s *Service) Now() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// Create validates req and stores a new pending session owned by owner.
func (s *Service) Create(ctx context.Context, owner string, req *CreateRequest) (*Session, error) {
	plan, err := s.limits.validateCreate(req)
	if err != nil {
		return nil, err
	}
	if err := s.acceptsImages(len(plan.images)); err != nil {
		return nil, err
	}
	timeout := plan.timeout
	// Full precision: the owner index sorts by creation time, and sessions
	// created within one millisecond must still list newest first.
	now := s.now().UTC()
	sess := &Session{
		ID:                NewID(),
		Owner:             owner,
		Message:           req.Message,
		PredefinedOptions: req.PredefinedOptions,
		Timeout:           int(timeout / time.Second),
		Metadata:          normalizeJSON(req.Metadata),
		Notify:            quiet(req.Notify),
		CallRef:           req.CallRef,
		Status:            StatusPending,
		CreatedAt:         now,
		ExpiresAt:         now.Add(timeout),
	}
	plan.apply(sess, req)
	// Images first, the record last: a record never points at missing bytes.
	if sess.Images, err = s.putImages(ctx, sess.ID, plan.images); err != nil {
		return nil, err
	}
	var rev uint64
	attempts := 0
	err = s.retrying(ctx, func() error {
		attempts++
		r, err := s.store.Create(ctx, sess, timeout+s.retention)
		if errors.Is(err, ErrConflict) && attempts > 1 {
			// An earlier attempt may have written it before its answer was
			// lost; if the stored record is ours, that attempt succeeded.
			got, gerr := s.get(ctx, sess.ID)
			if gerr != nil {
				return gerr
			}
			if got.Owner == sess.Owner && got.CreatedAt.Equal(sess.CreatedAt) {
				r, err = got.Revision, nil
			}
		}
		rev = r
		return err
	})
	if err != nil {
		s.deleteImages(ctx, sess.ID, sess.Images)
		return nil, storeErr("create session", err)
	}
	sess.Revision = rev
	s.observe.SessionCreated()
	return sess, nil
}

// Get returns a session by id for anyone holding the id (the capability of
// the feedback page). A pending session past its deadline is expired first.
func (s *Service) Get(ctx context.Context, id string) (*Session, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	sess, err := s.get(ctx, id)
	if err != nil {
		return nil, storeErr("get session", err)
	}
	if sess.Due(s.now()) {
		sess, _, err = s.expire(ctx, sess)
		if err != nil {
			return nil, err
		}
	}
	return sess, nil
}

// GetOwned returns a session only to its owner; anyone else gets
// SESSION_NOT_FOUND, the same answer as for an unknown id, whatever state
// the session is in, and changes nothing (a due session is expired only for
// its owner).
func (s *Service) GetOwned(ctx context.Context, owner, id string) (*Session, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	sess, err := s.get(ctx, id)
	if err != nil {
		return nil, storeErr("get session", err)
	}
	if sess.Owner != owner {
		return nil, notFound()
	}
	if sess.Due(s.now()) {
		sess, _, err = s.expire(ctx, sess)
		if err != nil {
			return nil, err
		}
	}
	return sess, nil
}

// Submit records a person's answer. Exactly one submit can win; later ones
// get ALREADY_SUBMITTED, SESSION_EXPIRED or SESSION_CANCELLED.
func (s *Service) Submit(ctx context.Context, id string, req *SubmitRequest) (*Session, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	imgs, err := s.limits.decodeImages("images", req.Images)
	if err != nil {
		return nil, err
	}
	if err := s.acceptsImages(len(imgs)); err != nil {
		return nil, err
	}
	var stored []Image
	sess, err := s.transition(ctx, id, anyone, func(sess *Session, now time.Time) error {
		fb, err := s.limits.validateSubmit(req, sess, len(imgs))
		if err != nil {
			return err
		}
		// Stored once, after the answer is known to be valid and before
		// the swap that may lose; a lost swap deletes them below.
		if len(imgs) > 0 && stored == nil {
			if stored, err = s.putImages(ctx, id, imgs); err != nil {
				return err
			}
		}
		fb.Images = stored
		fb.CombinedFeedback = RenderFeedback(sess, fb, len(stored))
		sess.Status = StatusCompleted
		sess.SubmittedAt = &now
		sess.FinishedAt = &now
		sess.Feedback = fb
		return nil
	})
	if err != nil && stored != nil {
		s.discardAnswerImages(ctx, id, stored, err)
	}
	return sess, err
}

// Cancel ends the owner's pending session. Anyone else gets
// SESSION_NOT_FOUND whatever state the session is in: a finished session's
// ALREADY_SUBMITTED or SESSION_EXPIRED would tell them how it ended.
func (s *Service) Cancel(ctx context.Context, owner, id string) (*Session, error) {
	return s.CancelFor(ctx, owner, id, "")
}

// MaxCancelReason bounds a cancel reason, in characters.
const MaxCancelReason = 200

// CancelFor ends the owner's pending session and records why (the
// session's CancelReason), such as "declined by the person". The reason is
// written by feedbackd, not by a caller: it is one line of at most
// MaxCancelReason characters; longer is INVALID_REQUEST.
func (s *Service) CancelFor(ctx context.Context, owner, id, reason string) (*Session, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	if reason != "" {
		if err := checkLine("reason", reason, 1, MaxCancelReason); err != nil {
			return nil, err
		}
	}
	return s.transition(ctx, id, owner, func(sess *Session, now time.Time) error {
		sess.Status = StatusCancelled
		sess.FinishedAt = &now
		sess.CancelReason = reason
		return nil
	})
}

// Expire moves a pending session that is past its deadline to expired. It
// reports whether this call made the transition: with any number of racing
// expirers, exactly one sees true. Sessions that are not due, or already
// finished, are left alone.
func (s *Service) Expire(ctx context.Context, id string) (*Session, bool, error) {
	if err := CheckID(id); err != nil {
		return nil, false, err
	}
	sess, err := s.get(ctx, id)
	if err != nil {
		return nil, false, storeErr("get session", err)
	}
	if !sess.Due(s.now()) {
		return sess, false, nil
	}
	return s.expire(ctx, sess)
}

// expire CASes a due session to expired, re-reading on conflict.
func (s *Service) expire(ctx context.Context, sess *Session) (*Session, bool, error) {
	for {
		if !sess.Due(s.now()) {
			return sess, false, nil
		}
		next := sess.Clone()
		// Stored times are whole milliseconds and the deadline is not: a
		// session that fell due within the last millisecond must not read
		// as expired before its deadline.
		now := s.Now()
		if now.Before(sess.ExpiresAt) {
			now = sess.ExpiresAt
		}
		next.Status = StatusExpired
		next.FinishedAt = &now
		rev, err := s.update(ctx, next)
		if err == nil {
			next.Revision = rev
			s.written(next)
			s.observeFinished(next)
			return next, true, nil
		}
		if !errors.Is(err, ErrConflict) {
			return nil, false, storeErr("expire session", err)
		}
		if sess, err = s.get(ctx, sess.ID); err != nil {
			return nil, false, storeErr("get session", err)
		}
	}
}

// anyone is the owner argument of transition for changes the capability
// allows (an answer): no owner is checked.
const anyone = ""

// transition applies change to a pending session with compare-and-swap. When
// the swap loses, it reads the record again and re-applies the rules, so the
// caller learns what actually happened (for example ALREADY_SUBMITTED). With
// an owner, a session of anyone else is SESSION_NOT_FOUND before anything
// else is looked at or changed.
func (s *Service) transition(ctx context.Context, id, owner string, change func(*Session, time.Time) error) (*Session, error) {
	for {
		sess, err := s.get(ctx, id)
		if err != nil {
			return nil, storeErr("get session", err)
		}
		if owner != anyone && sess.Owner != owner {
			return nil, notFound()
		}
		if sess.Due(s.now()) {
			if sess, _, err = s.expire(ctx, sess); err != nil {
				return nil, err
			}
		}
		if err := finishedErr(sess.Status); err != nil {
			return sess, err
		}
		next := sess.Clone()
		if err := change(next, s.Now()); err != nil {
			return sess, err
		}
		rev, err := s.update(ctx, next)
		if err == nil {
			next.Revision = rev
			s.written(next)
			s.observeFinished(next)
			return next, nil
		}
		if !errors.Is(err, ErrConflict) {
			return nil, storeErr("update session", err)
		}
		if err := ctx.Err(); err != nil {
			return nil, Unavailable("update session", err)
		}
	}
}

// stoppedReadTimeout bounds the read that tells a stopped wait the
// session's state.
const stoppedReadTimeout = 2 * time.Second

// Wait returns the owner's session once it has left pending, or its current
// state when d runs out or ctx ends. It is woken by the change feed through
// the hub, never by polling; the session's own deadline also wakes it, so a
// wait learns of an expiry even while no expirer runs.
func (s *Service) Wait(ctx context.Context, owner, id string, d time.Duration) (*Session, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	defer s.observe.WaitStarted()()
	// The newest version the hub has handed over; a full channel keeps the
	// one it holds, which the loop below then reads past.
	changed := make(chan *Session, 1)
	cancel := s.hub.Subscribe(id, func(v *Session) {
		select {
		case changed <- v:
		default:
		}
	})
	defer cancel()

	// read is GetOwned, except that a wait stopped in the middle of a read
	// (a shutdown answering its waiters, say) still reports the session as
	// it is, read once more without the stop, instead of the read's
	// interruption.
	read := func() (*Session, error) {
		sess, err := s.GetOwned(ctx, owner, id)
		if err != nil && ctx.Err() != nil {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stoppedReadTimeout)
			defer cancel()
			return s.GetOwned(rctx, owner, id)
		}
		return sess, err
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		sess, err := read()
		if err != nil || sess.Status.Terminal() || d <= 0 {
			return sess, err
		}
		deadline := time.NewTimer(time.Until(sess.ExpiresAt) + 5*time.Millisecond)
		select {
		case v := <-changed:
			// A finished version is the session's last: return it without
			// reading it back (it came from this process's own write, or
			// from the feed, which carries the stored record).
			if v.Status.Terminal() && v.Owner == owner {
				deadline.Stop()
				return v.Clone(), nil // the hub's copy is shared
			}
		case <-deadline.C:
		case <-timer.C:
			deadline.Stop()
			return read()
		case <-ctx.Done():
			deadline.Stop()
			return sess, nil
		}
		deadline.Stop()
	}
}

// List returns a page of the owner's sessions, newest first.
func (s *Service) List(ctx context.Context, owner string, q ListQuery) (ListPage, error) {
	if q.Status != "" && !q.Status.Valid() {
		return ListPage{}, Invalid("status", "must be one of pending, completed, expired, cancelled")
	}
	if q.Limit == 0 {
		q.Limit = DefaultListLimit
	}
	if q.Limit < 1 || q.Limit > MaxListLimit {
		return ListPage{}, Invalid("limit", fmt.Sprintf("must be between 1 and %d", MaxListLimit))
	}
	now := s.now()
	if q.Status != "" {
		want := q.Status
		q.Match = func(sess *Session) bool { return sess.effectiveStatus(now) == want }
	}
	var page ListPage
	err := s.retrying(ctx, func() (err error) {
		page, err = s.store.List(ctx, owner, q)
		return err
	})
	if err != nil {
		return ListPage{}, storeErr("list sessions", err)
	}
	for i, sess := range page.Items {
		if sess.Due(now) {
			// Show what the session is: the expirer may simply not have
			// reached it yet.
			c := sess.Clone()
			c.Status = StatusExpired
			page.Items[i] = c
		}
	}
	return page, nil
}

// written hands a version this process has just written to the hub's
// subscribers of its id (docs/architecture.md, "The change feed"): a waiter
// here hears of it without waiting for the feed to bring it back. They get a
// copy, so the caller may keep using next.
func (s *Service) written(next *Session) { s.hub.PublishWritten(next.Clone()) }

// get reads a record, retrying failures that may pass.
func (s *Service) get(ctx context.Context, id string) (sess *Session, err error) {
	err = s.retrying(ctx, func() error {
		sess, err = s.store.Get(ctx, id)
		return err
	})
	return sess, err
}

// update writes next with compare-and-swap, retrying failures that may pass.
// A write whose answer was lost may still have landed: when a retry then
// loses the swap, the stored record is read, and if it is next, the write
// succeeded.
func (s *Service) update(ctx context.Context, next *Session) (rev uint64, err error) {
	attempts := 0
	err = s.retrying(ctx, func() error {
		attempts++
		r, err := s.store.Update(ctx, next, s.retention)
		if errors.Is(err, ErrConflict) && attempts > 1 {
			got, gerr := s.store.Get(ctx, next.ID)
			if gerr != nil {
				return gerr
			}
			if sameTransition(got, next) {
				r, err = got.Revision, nil
			}
		}
		rev = r
		return err
	})
	return rev, err
}

// sameTransition reports whether stored is the write next describes.
func sameTransition(stored, next *Session) bool {
	if stored.Status != next.Status || stored.FinishedAt == nil || next.FinishedAt == nil ||
		!stored.FinishedAt.Equal(*next.FinishedAt) || (stored.Feedback == nil) != (next.Feedback == nil) {
		return false
	}
	return stored.Feedback == nil || (stored.Feedback.CombinedFeedback == next.Feedback.CombinedFeedback &&
		sameImages(stored.Feedback.Images, next.Feedback.Images))
}

// retrying runs op until it succeeds, fails in a way a retry cannot mend
// (not found, a lost swap, a coded error), the retry budget runs out, or ctx
// ends.
func (s *Service) retrying(ctx context.Context, op func() error) error {
	deadline := time.Now().Add(s.retryFor)
	backoff := 100 * time.Millisecond
	for {
		err := op()
		var coded *Error
		if err == nil || errors.As(err, &coded) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) ||
			ctx.Err() != nil || time.Now().Add(backoff).After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Second)
	}
}

func finishedErr(st Status) error {
	switch st {
	case StatusCompleted:
		return Errorf(CodeAlreadySubmitted, "feedback has already been submitted for this session")
	case StatusExpired:
		return Errorf(CodeExpired, "this session has expired")
	case StatusCancelled:
		return Errorf(CodeCancelled, "this session was cancelled")
	}
	return nil
}

func notFound() *Error { return Errorf(CodeNotFound, "session not found") }

// storeErr turns store sentinels into coded errors; anything else means the
// storage could not be reached.
func storeErr(op string, err error) error {
	var coded *Error
	switch {
	case errors.As(err, &coded):
		return err
	case errors.Is(err, ErrNotFound):
		return notFound()
	case errors.Is(err, context.Canceled):
		return &Error{Code: CodeServiceUnavailable, Message: "request cancelled", Err: fmt.Errorf("%s: %w", op, err)}
	}
	return Unavailable(op, err)
}

// NewID returns a random (version 4) UUID, the session's capability.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// CheckID accepts only the canonical lowercase 36-character UUID form, which
// is also a safe NATS subject token.
func CheckID(id string) error {
	if len(id) != 36 {
		return Invalid("sessionId", "must be a UUID")
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return Invalid("sessionId", "must be a UUID")
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return Invalid("sessionId", "must be a lowercase UUID")
			}
		}
	}
	return nil
}

// quiet keeps only notify: false; the default needs no field in the record.
func quiet(notify *bool) *bool {
	if notify == nil || *notify {
		return nil
	}
	return notify
}

func normalizeJSON(m []byte) []byte {
	if len(m) == 0 || string(m) == "null" {
		return nil
	}
	return m
}
