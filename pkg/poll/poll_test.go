package poll_test

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/pkg/poll"
)

func TestUntilReturnsOnceTheConditionHolds(t *testing.T) {
	var calls atomic.Int32
	poll.Until(t, 5*time.Second, func() error {
		if calls.Add(1) < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if calls.Load() != 3 {
		t.Fatalf("%d calls", calls.Load())
	}
}

// recorder is a testing.TB that keeps what a failure says.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = format
	for _, a := range args {
		if err, ok := a.(error); ok {
			r.failed += " " + err.Error()
		}
	}
	panic(r)
}

func TestUntilFailsWithTheLastError(t *testing.T) {
	r := &recorder{TB: t}
	func() {
		defer func() {
			if v := recover(); v != r {
				t.Fatalf("recovered %v", v)
			}
		}()
		n := 0
		poll.Until(r, 30*time.Millisecond, func() error {
			n++
			if n > 1 {
				return errors.New("still closed, attempt 2 or later")
			}
			return errors.New("first")
		})
	}()
	if !strings.Contains(r.failed, "still closed, attempt 2 or later") {
		t.Fatalf("failure %q", r.failed)
	}
	if err := poll.True("the door to open", func() bool { return false })(); err == nil || err.Error() != "not yet: the door to open" {
		t.Fatalf("True: %v", err)
	}
}
