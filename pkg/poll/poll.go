// Package poll is how tests wait: for a condition, with a deadline, never
// for a fixed time (as nats-server's checkFor). A failure says what the
// condition last reported. Tests of the running program use
// programtest.WaitFor, which is this; libraries below the program use it
// directly.
package poll

import (
	"testing"
	"time"
)

// Until calls check until it returns nil, every few milliseconds at first
// and then at most every 50 ms, and fails tb with check's last error if that
// does not happen within timeout.
func Until(tb testing.TB, timeout time.Duration, check func() error) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	interval := 5 * time.Millisecond
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("not so after %s: %v", timeout, err)
		}
		time.Sleep(interval)
		interval = min(2*interval, 50*time.Millisecond)
	}
}

// True is a condition for Until over a yes-or-no question: it fails with
// "not yet: what" until cond holds.
func True(what string, cond func() bool) func() error {
	return func() error {
		if cond() {
			return nil
		}
		return notYet(what)
	}
}

type notYet string

func (n notYet) Error() string { return "not yet: " + string(n) }
