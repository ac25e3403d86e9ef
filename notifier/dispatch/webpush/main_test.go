package webpush_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine a test starts — fakes, long polls, webhook deliveries,
// lock refreshers — must be stopped by the time the tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
