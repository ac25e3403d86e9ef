package natsutil_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Lock refreshers and watchers must be stopped by the time the tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
