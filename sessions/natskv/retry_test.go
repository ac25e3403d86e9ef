package natskv_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/sessions"
)

// lossyStore is the real KV store whose next write lands but whose answer
// is lost, as when a NATS node dies between committing and acknowledging.
type lossyStore struct {
	sessions.Store
	loseCreate, loseUpdate atomic.Bool
	down                   atomic.Bool // every call fails before reaching NATS
}

var errLostAnswer = errors.New("nats: timeout")

func (l *lossyStore) Create(ctx context.Context, s *sessions.Session, ttl time.Duration) (uint64, error) {
	if l.down.Load() {
		return 0, errLostAnswer
	}
	rev, err := l.Store.Create(ctx, s, ttl)
	if err == nil && l.loseCreate.CompareAndSwap(true, false) {
		return 0, errLostAnswer
	}
	return rev, err
}

func (l *lossyStore) Update(ctx context.Context, s *sessions.Session, ttl time.Duration) (uint64, error) {
	rev, err := l.Store.Update(ctx, s, ttl)
	if err == nil && l.loseUpdate.CompareAndSwap(true, false) {
		return 0, errLostAnswer
	}
	return rev, err
}

func newLossy(t *testing.T, opts ...sessions.Option) (*sessions.Service, *lossyStore) {
	t.Helper()
	_, store := newService(t)
	l := &lossyStore{Store: store}
	return sessions.NewService(l, sessions.NewHub(), opts...), l
}

func TestAWriteWhoseAnswerWasLostIsNotReportedAsAConflict(t *testing.T) {
	t.Parallel()
	svc, l := newLossy(t)
	ctx := context.Background()

	l.loseCreate.Store(true)
	s, err := svc.Create(ctx, "alice", &sessions.CreateRequest{Message: "lost ack?", PredefinedOptions: []string{"yes"}})
	if err != nil {
		t.Fatalf("create whose first answer was lost: %v", err)
	}
	if got, err := svc.GetOwned(ctx, "alice", s.ID); err != nil || got.Revision != s.Revision {
		t.Fatalf("read back: %+v %v (revision %d)", got, err, s.Revision)
	}

	l.loseUpdate.Store(true)
	done, err := svc.Submit(ctx, s.ID, &sessions.SubmitRequest{SelectedOptions: []string{"yes"}})
	if err != nil || done.Status != sessions.StatusCompleted {
		t.Fatalf("submit whose first answer was lost: %+v %v (want success, not ALREADY_SUBMITTED)", done, err)
	}
	// A genuine second answer is still refused.
	if _, err := svc.Submit(ctx, s.ID, &sessions.SubmitRequest{SelectedOptions: []string{"yes"}}); sessions.ErrorCode(err) != sessions.CodeAlreadySubmitted {
		t.Fatalf("second submit: %v", err)
	}
}

func TestStorageThatStaysDownIsServiceUnavailableAfterTheRetryBudget(t *testing.T) {
	t.Parallel()
	svc, l := newLossy(t, sessions.WithStorageRetry(400*time.Millisecond))
	l.down.Store(true)
	start := time.Now()
	_, err := svc.Create(context.Background(), "alice", &sessions.CreateRequest{Message: "anyone there?"})
	if sessions.ErrorCode(err) != sessions.CodeServiceUnavailable {
		t.Fatalf("create with storage down: %v", err)
	}
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Fatalf("gave up after %s without retrying", took)
	}
}
