package expirer_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/expirer"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/natskv"
)

// harness is one NATS server, an edge whose service the tests create and
// answer sessions with, and a record of every version the change feed
// carried to that edge.
type harness struct {
	t    *testing.T
	nats *programtest.Server
	js   jetstream.JetStream
	svc  *sessions.Service
	kv   *natskv.Store
	rec  *recorder
}

// common are the settings of the edge and of every expirer replica:
// one-second timeouts, which the product refuses, and a short retention.
func common(natsURL string) []programtest.Option {
	return []programtest.Option{
		programtest.NATS(natsURL), programtest.ShortTimeouts(),
		programtest.Env("RESULT_RETENTION", "1m"),
	}
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	ns := programtest.StartNATS(t)
	edge := programtest.MustRunMain(t, append(common(ns.URL), programtest.Role("edge"))...)
	be := edge.Backend()
	rec := newRecorder()
	t.Cleanup(be.Hub().SubscribeAll(rec.add))
	return &harness{t: t, nats: ns, js: be.JetStream(), svc: be.Service(), kv: be.Store(), rec: rec}
}

// startExpirer runs one expirer replica, as a separate process would: its
// own connection, store and service. stop ends it and checks that it shut
// down cleanly.
func (h *harness) startExpirer(opts ...programtest.Option) (stop func()) {
	h.t.Helper()
	m := programtest.MustRunMain(h.t, append(append(common(h.nats.URL), programtest.Role("expirer")), opts...)...)
	return func() {
		if err := m.Close(); err != nil {
			h.t.Errorf("expirer replica: %v", err)
		}
	}
}

func (h *harness) create(timeout int) *sessions.Session {
	h.t.Helper()
	n := sessions.Number(fmt.Sprint(timeout))
	s, err := h.svc.Create(context.Background(), "agent", &sessions.CreateRequest{
		Message: "Ship it?", PredefinedOptions: []string{"yes", "no"}, Timeout: &n,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// stored reads a record without the service, whose reads expire due
// sessions themselves and would hide whether the expirer did it.
func (h *harness) stored(id string) *sessions.Session {
	h.t.Helper()
	s, err := h.kv.Get(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// recorder keeps the status of every version of every session the change
// feed delivered.
type recorder struct {
	mu      sync.Mutex
	changed chan struct{}
	byID    map[string][]sessions.Status
	last    map[string]*sessions.Session
}

func newRecorder() *recorder {
	return &recorder{changed: make(chan struct{}, 1), byID: map[string][]sessions.Status{}, last: map[string]*sessions.Session{}}
}

func (r *recorder) add(s *sessions.Session) {
	r.mu.Lock()
	r.byID[s.ID] = append(r.byID[s.ID], s.Status)
	r.last[s.ID] = s
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// count returns how many versions of id with status st the feed carried.
func (r *recorder) count(id string, st sessions.Status) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, s := range r.byID[id] {
		if s == st {
			n++
		}
	}
	return n
}

// terminal returns the finishing events the feed carried for id.
func (r *recorder) terminal(id string) []sessions.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []sessions.Status
	for _, s := range r.byID[id] {
		if s.Terminal() {
			out = append(out, s)
		}
	}
	return out
}

// waitFinished waits until the feed carried a finishing event for every id.
func (r *recorder) waitFinished(t *testing.T, within time.Duration, ids ...string) {
	t.Helper()
	deadline := time.After(within)
	for {
		missing := ""
		for _, id := range ids {
			if len(r.terminal(id)) == 0 {
				missing = id
				break
			}
		}
		if missing == "" {
			return
		}
		select {
		case <-r.changed:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("session %s not finished within %s; feed saw %v", missing, within, r.statuses(missing))
		}
	}
}

func (r *recorder) statuses(id string) []sessions.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sessions.Status(nil), r.byID[id]...)
}

// assertExpiredOnce checks that the feed carried exactly one finishing event
// for id, an expiry, and that the stored record agrees.
func (h *harness) assertExpiredOnce(id string) {
	h.t.Helper()
	if got := h.rec.terminal(id); len(got) != 1 || got[0] != sessions.StatusExpired {
		h.t.Errorf("session %s: feed carried finishing events %v, want exactly one expired", id, got)
	}
	if s := h.stored(id); s.Status != sessions.StatusExpired {
		h.t.Errorf("session %s: stored status %s, want expired", id, s.Status)
	}
}

func TestPendingSessionExpiresAtItsDeadline(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startExpirer()
	s := h.create(1)

	h.rec.waitFinished(t, 10*time.Second, s.ID)
	seen := time.Now()
	h.settle()
	h.assertExpiredOnce(s.ID)

	stored := h.stored(s.ID)
	if stored.FinishedAt.Before(stored.ExpiresAt) {
		t.Fatalf("expired at %s, before its deadline %s", stored.FinishedAt, stored.ExpiresAt)
	}
	// Generous bounds: the design aims at milliseconds, CI machines are slow.
	if late := stored.FinishedAt.Sub(stored.ExpiresAt); late > 2*time.Second {
		t.Fatalf("expiry written %s after the deadline", late)
	}
	if late := seen.Sub(s.ExpiresAt); late > 3*time.Second {
		t.Fatalf("feed carried the expiry %s after the deadline", late)
	}
}

func TestSubmitRacingTheDeadlineEndsInExactlyOneOutcome(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startExpirer()
	const n = 30
	created := make([]*sessions.Session, n)
	for i := range created {
		created[i] = h.create(1)
	}
	type outcome struct {
		sess *sessions.Session
		err  error
	}
	outcomes := make([]outcome, n)
	var wg sync.WaitGroup
	for i, s := range created {
		wg.Go(func() {
			// Aim at the deadline, a little either side of it: racing
			// it is the behaviour under test, so this sleep stays.
			jitter := time.Duration(rand.IntN(60)-30) * time.Millisecond
			time.Sleep(time.Until(s.ExpiresAt.Add(jitter)))
			got, err := h.svc.Submit(context.Background(), s.ID, &sessions.SubmitRequest{SelectedOptions: []string{"yes"}})
			outcomes[i] = outcome{got, err}
		})
	}
	wg.Wait()
	ids := make([]string, n)
	for i, s := range created {
		ids[i] = s.ID
	}
	h.rec.waitFinished(t, 10*time.Second, ids...)
	h.settle()

	completed, expired := 0, 0
	for i, s := range created {
		events := h.rec.terminal(s.ID)
		stored := h.stored(s.ID)
		if len(events) != 1 || events[0] != stored.Status {
			t.Errorf("session %s: feed carried %v, stored status %s; want exactly one finishing event matching the record", s.ID, events, stored.Status)
			continue
		}
		o := outcomes[i]
		switch stored.Status {
		case sessions.StatusCompleted:
			completed++
			if o.err != nil {
				t.Errorf("session %s completed but its submit failed: %v", s.ID, o.err)
			}
		case sessions.StatusExpired:
			expired++
			if sessions.ErrorCode(o.err) != sessions.CodeExpired {
				t.Errorf("session %s expired but its submit returned %v, want SESSION_EXPIRED", s.ID, o.err)
			}
		default:
			t.Errorf("session %s ended %s", s.ID, stored.Status)
		}
	}
	t.Logf("%d completed, %d expired", completed, expired)
}

func TestThreeReplicasExpireEachSessionExactlyOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for range 3 {
		h.startExpirer()
	}
	const n = 300
	ids := make([]string, n)
	for i := range ids {
		ids[i] = h.create(1 + i%3).ID
	}
	h.rec.waitFinished(t, 20*time.Second, ids...)
	h.settle()
	for _, id := range ids {
		h.assertExpiredOnce(id)
	}
}

func TestExpirerStoppedAcrossADeadlineExpiresSoonAfterItStartsAgain(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	stop := h.startExpirer()
	scheduled := h.create(1) // seen and scheduled by the running expirer
	waitScheduled(t, h.js, scheduled.ID)
	stop()
	unseen := h.create(1) // written while no expirer runs

	// Both deadlines pass with no expirer running: this wait is the
	// situation under test. A schedule fires within 250 ms of its time, so
	// one more second would show a stray expiry.
	time.Sleep(time.Until(unseen.ExpiresAt) + time.Second)
	for _, id := range []string{scheduled.ID, unseen.ID} {
		if st := h.stored(id).Status; st != sessions.StatusPending {
			t.Fatalf("session %s is %s with no expirer running, want pending", id, st)
		}
	}

	restarted := time.Now()
	h.startExpirer()
	h.rec.waitFinished(t, 10*time.Second, scheduled.ID, unseen.ID)
	if took := time.Since(restarted); took > 5*time.Second {
		t.Fatalf("overdue sessions expired %s after the expirer started", took)
	}
	h.settle()
	h.assertExpiredOnce(scheduled.ID)
	h.assertExpiredOnce(unseen.ID)
}

func TestCancelledAndCompletedSessionsAreNeverTouched(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startExpirer()
	ctx := context.Background()
	cancelled, completed, pending := h.create(1), h.create(1), h.create(2)
	waitScheduled(t, h.js, cancelled.ID)
	waitScheduled(t, h.js, completed.ID)
	if _, err := h.svc.Cancel(ctx, "agent", cancelled.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Submit(ctx, completed.ID, &sessions.SubmitRequest{SelectedOptions: []string{"no"}}); err != nil {
		t.Fatal(err)
	}
	// The session that stays pending expires after the others' deadlines,
	// so once it has, any stray expiry of theirs would have happened too.
	h.rec.waitFinished(t, 10*time.Second, pending.ID)
	h.settle()
	h.assertExpiredOnce(pending.ID)

	for id, want := range map[string]sessions.Status{cancelled.ID: sessions.StatusCancelled, completed.ID: sessions.StatusCompleted} {
		if got := h.rec.terminal(id); len(got) != 1 || got[0] != want {
			t.Errorf("session %s: feed carried %v, want only %s", id, got, want)
		}
		if st := h.stored(id).Status; st != want {
			t.Errorf("session %s is %s, want %s", id, st, want)
		}
		// Finishing early cancelled the schedule (the marker that replaced
		// it is not a schedule).
		if m, err := lastOn(h.js, expirer.ScheduleSubject(id)); err == nil && m.Header.Get(jetstream.ScheduleHeader) != "" {
			t.Errorf("session %s still has a schedule after finishing", id)
		}
	}
}

func TestSessionsOverdueBeforeAnyExpirerRanAreExpiredWhenOneStarts(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ids := []string{h.create(1).ID, h.create(1).ID}
	h.waitPast(ids...)
	h.startExpirer()
	h.rec.waitFinished(t, 10*time.Second, ids...)
	h.settle()
	for _, id := range ids {
		h.assertExpiredOnce(id)
	}
}

func TestARequestEarlyByTheExpirersClockWaitsForItsDeadline(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// NATS fires schedules by the server's clock; this expirer's clock lags.
	const lag = 800 * time.Millisecond
	h.startExpirer(programtest.Sessions(sessions.WithClock(func() time.Time { return time.Now().Add(-lag) })))
	s := h.create(1)

	h.rec.waitFinished(t, 10*time.Second, s.ID)
	seen := time.Now()
	h.settle()
	h.assertExpiredOnce(s.ID)
	stored := h.stored(s.ID)
	if stored.FinishedAt.Before(stored.ExpiresAt) {
		t.Fatalf("expired at %s by the expirer's clock, before the deadline %s", stored.FinishedAt, stored.ExpiresAt)
	}
	if seen.Before(s.ExpiresAt.Add(lag)) {
		t.Fatalf("expired %s after the deadline by the server's clock, sooner than the expirer's lag of %s", seen.Sub(s.ExpiresAt), lag)
	}
}

func TestStartingOverADriftedConfigurationRepairsIt(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	// An older or hand-edited setup: no per-subject limit, a long ack wait.
	if _, err := h.js.CreateStream(ctx, jetstream.StreamConfig{
		Name: expirer.Stream, Subjects: []string{"feedback.deadline.*", "feedback.expire.*"},
		Retention: jetstream.WorkQueuePolicy, AllowMsgSchedules: true, AllowMsgTTL: true, AllowRollup: true,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.js.CreateConsumer(ctx, expirer.Stream, jetstream.ConsumerConfig{
		Durable: expirer.ExpireConsumer, FilterSubject: "feedback.expire.*", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Hour,
	}); err != nil {
		t.Fatal(err)
	}
	h.startExpirer()
	s := h.create(1)
	h.rec.waitFinished(t, 10*time.Second, s.ID)
	h.assertExpiredOnce(s.ID)

	st, err := h.js.Stream(ctx, expirer.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.CachedInfo().Config.MaxMsgsPerSubject; got != 1 {
		t.Errorf("stream MaxMsgsPerSubject = %d, want 1", got)
	}
	c, err := h.js.Consumer(ctx, expirer.Stream, expirer.ExpireConsumer)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.CachedInfo().Config.AckWait; got >= time.Hour {
		t.Errorf("consumer AckWait = %s, want it repaired", got)
	}
}

func TestRunRefusesAnIncompleteConfig(t *testing.T) {
	t.Parallel()
	err := expirer.Run(context.Background(), expirer.Config{})
	if err == nil {
		t.Fatal("Run with no JetStream, Store or Service returned nil")
	}
}

// waitScheduled waits until the deadline of session id is scheduled in NATS.
func waitScheduled(t *testing.T, js jetstream.JetStream, id string) {
	t.Helper()
	programtest.WaitFor(t, 5*time.Second, func() error {
		m, err := lastOn(js, expirer.ScheduleSubject(id))
		if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Fatal(err)
		}
		if err != nil || m.Header.Get(jetstream.ScheduleHeader) == "" {
			return fmt.Errorf("deadline of %s not scheduled: %v", id, err)
		}
		return nil
	})
}

// settle waits until no expiry is in flight any more, so that a second,
// wrong finishing event for a session would have reached the feed: the
// expirer's work queue is empty and nothing is held unacknowledged, and then
// the feed has caught up with the bucket.
func (h *harness) settle() {
	h.t.Helper()
	ctx := context.Background()
	programtest.WaitFor(h.t, 10*time.Second, func() error {
		c, err := h.js.Consumer(ctx, expirer.Stream, expirer.ExpireConsumer)
		if err != nil {
			return err
		}
		info, err := c.Info(ctx)
		if err != nil {
			return err
		}
		if info.NumPending != 0 || info.NumAckPending != 0 {
			return fmt.Errorf("expiry requests: %d pending, %d unacknowledged", info.NumPending, info.NumAckPending)
		}
		return nil
	})
	// The feed delivers the bucket's writes in order: once it carries a
	// session created now, it has carried every write made before.
	marker := h.create(300)
	programtest.WaitFor(h.t, 10*time.Second, programtest.Until("the feed to catch up", func() bool {
		return h.rec.count(marker.ID, sessions.StatusPending) > 0
	}))
}

// waitPast waits until the deadlines of ids have passed: the situation the
// test needs, not a guess at how long something takes.
func (h *harness) waitPast(ids ...string) {
	h.t.Helper()
	for _, id := range ids {
		time.Sleep(time.Until(h.stored(id).ExpiresAt) + 10*time.Millisecond) // a deadline passing is the situation under test; nothing signals it
	}
}

func lastOn(js jetstream.JetStream, subject string) (*jetstream.RawStreamMsg, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, expirer.Stream)
	if err != nil {
		return nil, err
	}
	return s.GetLastMsgForSubject(ctx, subject)
}
