package natskv_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/sessions"
)

// recordingObserver keeps what a Service reported.
type recordingObserver struct {
	mu                           sync.Mutex
	created, cancelled, inFlight int
	answers, lateness            []time.Duration
	maxInFlight                  int
}

func (o *recordingObserver) SessionCreated() { o.mu.Lock(); o.created++; o.mu.Unlock() }
func (o *recordingObserver) SessionCancelled() {
	o.mu.Lock()
	o.cancelled++
	o.mu.Unlock()
}
func (o *recordingObserver) SessionCompleted(d time.Duration) {
	o.mu.Lock()
	o.answers = append(o.answers, d)
	o.mu.Unlock()
}
func (o *recordingObserver) SessionExpired(d time.Duration) {
	o.mu.Lock()
	o.lateness = append(o.lateness, d)
	o.mu.Unlock()
}
func (o *recordingObserver) WaitStarted() func() {
	o.mu.Lock()
	o.inFlight++
	o.maxInFlight = max(o.maxInFlight, o.inFlight)
	o.mu.Unlock()
	return func() { o.mu.Lock(); o.inFlight--; o.mu.Unlock() }
}

func TestObserverHearsEachTransitionOnceFromTheReplicaThatWonIt(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	obsA, obsB := &recordingObserver{}, &recordingObserver{}
	a, store := newService(t, sessions.WithObserver(obsA), sessions.WithClock(clock))
	// A second replica over the same bucket, with its own hub.
	b := sessions.NewService(store, sessions.NewHub(), sessions.WithObserver(obsB), sessions.WithClock(clock))
	ctx := context.Background()
	timeout := sessions.Number("30")
	newSession := func(svc *sessions.Service) *sessions.Session {
		s, err := svc.Create(ctx, "alice", &sessions.CreateRequest{Message: "q", PredefinedOptions: []string{"y"}, Timeout: &timeout})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	answered, cancelled, expired := newSession(a), newSession(a), newSession(b)

	offset.Store(int64(10 * time.Second))
	// Both replicas race to answer, cancel and expire; one write wins each.
	var wg sync.WaitGroup
	for _, svc := range []*sessions.Service{a, b, a, b} {
		wg.Go(func() { _, _ = svc.Submit(ctx, answered.ID, &sessions.SubmitRequest{SelectedOptions: []string{"y"}}) })
		wg.Go(func() { _, _ = svc.Cancel(ctx, "alice", cancelled.ID) })
	}
	wg.Wait()
	offset.Store(int64(31 * time.Second))
	for _, svc := range []*sessions.Service{a, b, a, b} {
		wg.Go(func() { _, _, _ = svc.Expire(ctx, expired.ID) })
	}
	wg.Wait()
	if _, err := a.Wait(ctx, "alice", answered.ID, time.Second); err != nil {
		t.Fatal(err)
	}

	obsA.mu.Lock()
	defer obsA.mu.Unlock()
	obsB.mu.Lock()
	defer obsB.mu.Unlock()
	if obsA.created != 2 || obsB.created != 1 {
		t.Errorf("created: a %d, b %d; want 2 and 1", obsA.created, obsB.created)
	}
	answers := append(append([]time.Duration{}, obsA.answers...), obsB.answers...)
	if len(answers) != 1 || answers[0] < 9*time.Second || answers[0] > 12*time.Second {
		t.Errorf("time to answer reported %v, want one of about 10s", answers)
	}
	if obsA.cancelled+obsB.cancelled != 1 {
		t.Errorf("cancelled reported %d times", obsA.cancelled+obsB.cancelled)
	}
	late := append(append([]time.Duration{}, obsA.lateness...), obsB.lateness...)
	if len(late) != 1 || late[0] < time.Second || late[0] > 3*time.Second {
		t.Errorf("expiry lateness reported %v, want one of about 1s", late)
	}
	if obsA.maxInFlight != 1 || obsA.inFlight != 0 {
		t.Errorf("waits: max %d, now %d", obsA.maxInFlight, obsA.inFlight)
	}
}
