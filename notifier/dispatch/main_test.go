package dispatch_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every replica a test starts, its pools and its test-request server must be
// gone when the tests end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// Idle keep-alive connections of the HTTP clients close on their own
		// timer, after the fakes they talked to are gone.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}
