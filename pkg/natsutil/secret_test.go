package natsutil_test

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/feedbackd/feedbackd/pkg/natsutil"
	"github.com/feedbackd/feedbackd/pkg/natsutil/natstest"
)

func TestSharedSecretIsTheSameForEveryReplica(t *testing.T) {
	ns := natstest.Start(t)
	var wg sync.WaitGroup
	got := make([][]byte, 8)
	for i := range got {
		_, js := ns.Connect(t)
		wg.Go(func() {
			s, err := natsutil.SharedSecret(context.Background(), js, "page-token", 1)
			if err != nil {
				t.Error(err)
			}
			got[i] = s
		})
	}
	wg.Wait()
	for _, s := range got {
		if len(s) != 32 || !bytes.Equal(s, got[0]) {
			t.Fatalf("replicas disagree: %x vs %x", s, got[0])
		}
	}
	again, err := natsutil.SharedSecret(context.Background(), ns.JS, "page-token", 1)
	if err != nil || !bytes.Equal(again, got[0]) {
		t.Fatalf("secret changed on a later call: %v", err)
	}
}
