package syncbuf_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/feedbackd/feedbackd/pkg/syncbuf"
)

// Writers and a reader at once (run with -race): every write is kept whole.
func TestConcurrentWritesAndReads(t *testing.T) {
	var b syncbuf.Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				_, _ = b.Write([]byte("line\n"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := strings.Count(b.String(), "line\n"); got != 800 {
		t.Fatalf("%d lines, want 800", got)
	}
}
