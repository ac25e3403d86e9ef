package natskv_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/pkg/poll"
	"github.com/feedbackd/feedbackd/sessions"
)

// A service whose hub no feed publishes into: whatever wakes its waiters
// comes from the service's own writes.
func TestAWaiterOnTheReplicaThatTookTheAnswerDoesNotWaitForTheFeed(t *testing.T) {
	t.Parallel()
	_, store := newService(t)
	hub := sessions.NewHub()
	svc := sessions.NewService(store, hub)
	ctx := context.Background()

	for _, tc := range []struct {
		name  string
		end   func(id string) error
		state sessions.Status
	}{
		{"answered", func(id string) error {
			text := "fast"
			_, err := svc.Submit(ctx, id, &sessions.SubmitRequest{FreeText: &text})
			return err
		}, sessions.StatusCompleted},
		{"cancelled", func(id string) error { _, err := svc.Cancel(ctx, "alice", id); return err }, sessions.StatusCancelled},
	} {
		s := create(t, svc, "alice", "yes")
		type result struct {
			s   *sessions.Session
			err error
		}
		got := make(chan result, 1)
		go func() {
			w, err := svc.Wait(ctx, "alice", s.ID, time.Minute)
			got <- result{w, err}
		}()
		poll.Until(t, 10*time.Second, func() error {
			if n := hub.Subscribers(); n != 1 {
				return fmt.Errorf("%d waiters subscribed", n)
			}
			return nil
		})
		if err := tc.end(s.ID); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-got:
			if r.err != nil || r.s.Status != tc.state || r.s.Revision <= s.Revision {
				t.Fatalf("%s: wait returned %+v, %v", tc.name, r.s, r.err)
			}
			if tc.state == sessions.StatusCompleted && (r.s.Feedback == nil || r.s.Feedback.FreeText != "fast") {
				t.Fatalf("%s: wait returned no answer: %+v", tc.name, r.s.Feedback)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the waiter was not woken by the write of its own replica", tc.name)
		}
	}
	if n := hub.Subscribers(); n != 0 {
		t.Fatalf("%d subscriptions left", n)
	}
}
