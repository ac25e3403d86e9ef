package natskv_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/sessions"
)

// The change feed's contract (docs/architecture.md, "The change feed"): the
// latest state of every session, and always its final state. A version
// superseded before the feed fetched it may be skipped (the bucket keeps
// one version per key), so sessions answered the moment they are created
// may never show as pending; but every one shows as answered, once, in
// revision order.
func TestFeedDeliversTheFinalStateOfEverySession(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t)
	var mu sync.Mutex
	seen := map[string][]*sessions.Session{}
	cancel := svc.Hub().SubscribeAll(func(s *sessions.Session) {
		mu.Lock()
		seen[s.ID] = append(seen[s.ID], s)
		mu.Unlock()
	})
	defer cancel()

	ctx := context.Background()
	const n = 300
	final := map[string]uint64{}
	text := "at once"
	for range n {
		s := create(t, svc, "alice")
		done, err := svc.Submit(ctx, s.ID, &sessions.SubmitRequest{FreeText: &text})
		if err != nil {
			t.Fatal(err)
		}
		final[s.ID] = done.Revision
	}
	programtest.WaitFor(t, 30*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		for id, rev := range final {
			v := seen[id]
			if len(v) == 0 || v[len(v)-1].Revision != rev {
				return fmt.Errorf("the final version of %s (revision %d) has not been published", id, rev)
			}
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	skipped := 0
	for id, v := range seen {
		if len(v) == 1 {
			skipped++
		}
		for i, s := range v {
			if i > 0 && s.Revision <= v[i-1].Revision {
				t.Fatalf("%s: revision %d after %d", id, s.Revision, v[i-1].Revision)
			}
			if (i == len(v)-1) != (s.Status == sessions.StatusCompleted) {
				t.Fatalf("%s: version %d of %d is %s", id, i+1, len(v), s.Status)
			}
		}
	}
	t.Logf("%d of %d sessions were published only in their final state", skipped, n)
}
