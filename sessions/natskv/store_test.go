package natskv_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program"
	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/natskv"
)

// runEdge runs an edge on a NATS of its own; opts are added to its sessions
// service's options.
func runEdge(t *testing.T, opts ...sessions.Option) *program.Main {
	t.Helper()
	return programtest.MustRunMain(t, programtest.Role("edge"), programtest.NATS(programtest.StartNATS(t).URL), programtest.Sessions(opts...))
}

// newService is the sessions service and store of a new edge.
func newService(t *testing.T, opts ...sessions.Option) (*sessions.Service, *natskv.Store) {
	t.Helper()
	be := runEdge(t, opts...).Backend()
	return be.Service(), be.Store()
}

func create(t *testing.T, svc *sessions.Service, owner string, opts ...string) *sessions.Session {
	t.Helper()
	s, err := svc.Create(context.Background(), owner, &sessions.CreateRequest{Message: "Ship it?", PredefinedOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCreateGetSubmitRoundTrip(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t)
	ctx := context.Background()
	s := create(t, svc, "alice", "yes", "no")
	got, err := svc.GetOwned(ctx, "alice", s.ID)
	if err != nil || got.Status != sessions.StatusPending || got.Revision == 0 {
		t.Fatalf("get = %+v, %v", got, err)
	}
	text := "  looks good  "
	done, err := svc.Submit(ctx, s.ID, &sessions.SubmitRequest{SelectedOptions: []string{"yes"}, FreeText: &text})
	if err != nil {
		t.Fatal(err)
	}
	if done.Feedback.CombinedFeedback != "yes\n\nlooks good" {
		t.Fatalf("combined = %q", done.Feedback.CombinedFeedback)
	}
	if _, err := svc.GetOwned(ctx, "bob", s.ID); sessions.ErrorCode(err) != sessions.CodeNotFound {
		t.Fatalf("foreign owner got %v", err)
	}
}

func TestConcurrentSubmitsExactlyOneWins(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t)
	s := create(t, svc, "alice", "a", "b")
	var wins, conflicts atomic.Int32
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opt := []string{"a", "b"}[i%2]
			_, err := svc.Submit(context.Background(), s.ID, &sessions.SubmitRequest{SelectedOptions: []string{opt}})
			switch sessions.ErrorCode(err) {
			case "":
				wins.Add(1)
			case sessions.CodeAlreadySubmitted:
				conflicts.Add(1)
			default:
				t.Errorf("submit: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || conflicts.Load() != 49 {
		t.Fatalf("wins=%d conflicts=%d", wins.Load(), conflicts.Load())
	}
}

func TestUpdateKeepsTTLAndRecordIsPurgedAfterRetention(t *testing.T) {
	t.Parallel()
	svc, store := newService(t, sessions.WithRetention(time.Second))
	ctx := context.Background()
	s := create(t, svc, "alice")
	text := "fine"
	if _, err := svc.Submit(ctx, s.ID, &sessions.SubmitRequest{FreeText: &text}); err != nil {
		t.Fatal(err)
	}
	programtest.WaitFor(t, 10*time.Second, func() error {
		if _, err := store.Get(ctx, s.ID); !errors.Is(err, sessions.ErrNotFound) {
			return fmt.Errorf("record still there after retention: %v", err)
		}
		return nil
	})
}

func TestStaleRevisionLoses(t *testing.T) {
	t.Parallel()
	svc, store := newService(t)
	ctx := context.Background()
	s := create(t, svc, "alice")
	stale := s.Clone()
	text := "x"
	if _, err := svc.Submit(ctx, s.ID, &sessions.SubmitRequest{FreeText: &text}); err != nil {
		t.Fatal(err)
	}
	stale.Status = sessions.StatusCancelled
	if _, err := store.Update(ctx, stale, time.Minute); !errors.Is(err, sessions.ErrConflict) {
		t.Fatalf("stale update: %v", err)
	}
}

func TestListNewestFirstWithCursorAndOwnerScope(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t)
	ctx := context.Background()
	var ids []string
	for i := range 7 {
		s, err := svc.Create(ctx, "alice", &sessions.CreateRequest{Message: fmt.Sprintf("q%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	create(t, svc, "bob")
	var got []string
	cursor := ""
	for {
		page, err := svc.List(ctx, "alice", sessions.ListQuery{Limit: 3, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.Items {
			got = append(got, s.ID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if len(got) != 7 {
		t.Fatalf("got %d items", len(got))
	}
	for i := range got {
		if got[i] != ids[len(ids)-1-i] {
			t.Fatalf("order: got %v want reverse of %v", got, ids)
		}
	}
	if _, err := svc.List(ctx, "alice", sessions.ListQuery{Cursor: "garbage!"}); sessions.ErrorCode(err) != sessions.CodeInvalidRequest {
		t.Fatalf("bad cursor: %v", err)
	}
}

func TestWaitIsWokenByTheFeed(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t)
	ctx := context.Background()
	s := create(t, svc, "alice")
	go func() {
		// Answer once the wait below has subscribed, so the feed, not the
		// wait's first read, is what tells it.
		programtest.WaitFor(t, 10*time.Second, programtest.Until("the wait to subscribe", func() bool { return svc.Hub().Subscribers() == 1 }))
		text := "answer"
		_, _ = svc.Submit(ctx, s.ID, &sessions.SubmitRequest{FreeText: &text})
	}()
	got, err := svc.Wait(ctx, "alice", s.ID, 10*time.Second)
	if err != nil || got.Status != sessions.StatusCompleted {
		t.Fatalf("wait = %+v, %v", got, err)
	}
	if n := svc.Hub().Subscribers(); n != 0 {
		t.Fatalf("%d hub subscriptions left behind", n)
	}
}

func TestRecordIsPlainJSON(t *testing.T) {
	t.Parallel()
	svc, store := newService(t)
	s := create(t, svc, "alice")
	e, err := store.KV().Get(context.Background(), natskv.SessionKey(s.ID))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(e.Value(), &m); err != nil || m["status"] != "pending" || m["owner"] != "alice" {
		t.Fatalf("record = %s (%v)", e.Value(), err)
	}
}

// Replicated buckets read from the stream leader; this runs that path on one
// server: every state is read back as written, and a purged record is gone.
func TestLeaderReadsSeeEveryStateAndThePurge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := natskv.Open(ctx, runEdge(t).Backend().JetStream(), natskv.Options{Bucket: "leader_reads", LeaderReads: true})
	if err != nil {
		t.Fatal(err)
	}
	svc := sessions.NewService(store, sessions.NewHub(), sessions.WithRetention(time.Second))
	s := create(t, svc, "alice", "yes")
	got, err := store.Get(ctx, s.ID)
	if err != nil || got.Status != sessions.StatusPending || got.Revision != s.Revision {
		t.Fatalf("pending: %+v %v", got, err)
	}
	if _, err := svc.Submit(ctx, s.ID, &sessions.SubmitRequest{SelectedOptions: []string{"yes"}}); err != nil {
		t.Fatal(err)
	}
	got, err = store.Get(ctx, s.ID)
	if err != nil || got.Status != sessions.StatusCompleted || got.Feedback.CombinedFeedback != "yes" {
		t.Fatalf("completed: %+v %v", got, err)
	}
	if _, err := store.Get(ctx, sessions.NewID()); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	programtest.WaitFor(t, 10*time.Second, func() error {
		if _, err := store.Get(ctx, s.ID); !errors.Is(err, sessions.ErrNotFound) {
			return fmt.Errorf("record still readable after retention: %v", err)
		}
		return nil
	})
}

// A CallRef is kept with the session for the surface that created it,
// survives every transition, is never read from a request body, and is
// bounded.
func TestCallRefIsKeptButNeverReadFromABody(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t)
	ctx := context.Background()
	s, err := svc.Create(ctx, "alice", &sessions.CreateRequest{Message: "Ship it?", CallRef: "args1:abc"})
	if err != nil {
		t.Fatal(err)
	}
	text := "yes"
	if _, err := svc.Submit(ctx, s.ID, &sessions.SubmitRequest{FreeText: &text}); err != nil {
		t.Fatal(err)
	}
	if got, err := svc.GetOwned(ctx, "alice", s.ID); err != nil || got.CallRef != "args1:abc" || got.Status != sessions.StatusCompleted {
		t.Fatalf("after submit: %+v, %v", got, err)
	}
	var req sessions.CreateRequest
	if err := json.Unmarshal([]byte(`{"message":"m","callRef":"forged","CallRef":"forged"}`), &req); err != nil || req.CallRef != "" {
		t.Fatalf("a body set CallRef: %q, %v", req.CallRef, err)
	}
	_, err = svc.Create(ctx, "alice", &sessions.CreateRequest{Message: "m", CallRef: strings.Repeat("x", sessions.MaxCallRef+1)})
	if sessions.ErrorCode(err) != sessions.CodeInternal {
		t.Fatalf("an oversized CallRef: %v", err)
	}
}

// stopOnFirstRead is the real store, except that its first Get stops the
// wait that called it (as a shutdown does) while the read is under way.
type stopOnFirstRead struct {
	sessions.Store
	stop func()
	once sync.Once
}

func (s *stopOnFirstRead) Get(ctx context.Context, id string) (*sessions.Session, error) {
	s.once.Do(s.stop)
	return s.Store.Get(ctx, id)
}

// A wait stopped in the middle of its read (shutdown answering every
// waiter) reports the session as it is, not the read's interruption as
// storage being unavailable.
func TestAWaitStoppedMidReadReportsTheSession(t *testing.T) {
	t.Parallel()
	svc, store := newService(t)
	s := create(t, svc, "alice")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopping := sessions.NewService(&stopOnFirstRead{Store: store, stop: cancel}, sessions.NewHub())
	got, err := stopping.Wait(ctx, "alice", s.ID, time.Minute)
	if err != nil || got.ID != s.ID || got.Status != sessions.StatusPending {
		t.Fatalf("wait = %+v, %v; want the pending session", got, err)
	}
}

func TestCancelForRecordsWhyAndOnlyForTheOwner(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t)
	ctx := context.Background()
	s := create(t, svc, "alice")
	if _, err := svc.CancelFor(ctx, "bob", s.ID, "declined by the person"); sessions.ErrorCode(err) != sessions.CodeNotFound {
		t.Fatalf("foreign cancel: %v", err)
	}
	for _, bad := range []string{"two\nlines", string(make([]rune, sessions.MaxCancelReason+1))} {
		if _, err := svc.CancelFor(ctx, "alice", s.ID, bad); sessions.ErrorCode(err) != sessions.CodeInvalidRequest {
			t.Fatalf("reason %q: %v", bad, err)
		}
	}
	got, err := svc.CancelFor(ctx, "alice", s.ID, "declined by the person")
	if err != nil || got.Status != sessions.StatusCancelled || got.CancelReason != "declined by the person" {
		t.Fatalf("cancel = %+v, %v", got, err)
	}
	read, err := svc.GetOwned(ctx, "alice", s.ID)
	if err != nil || read.CancelReason != "declined by the person" {
		t.Fatalf("read back = %+v, %v", read, err)
	}
	// A plain cancel records no reason, and a second cancel changes nothing.
	plain := create(t, svc, "alice")
	if got, err := svc.Cancel(ctx, "alice", plain.ID); err != nil || got.CancelReason != "" {
		t.Fatalf("plain cancel = %+v, %v", got, err)
	}
	if _, err := svc.CancelFor(ctx, "alice", s.ID, "again"); sessions.ErrorCode(err) != sessions.CodeCancelled {
		t.Fatalf("second cancel: %v", err)
	}
}
