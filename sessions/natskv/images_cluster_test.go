package natskv_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedbackd/feedbackd/pkg/natsutil/natstest"
	"github.com/feedbackd/feedbackd/pkg/poll"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/natskv"
)

// openReplicatedImages opens the R3 image buckets through js.
func openReplicatedImages(t *testing.T, js jetstream.JetStream) *natskv.Images {
	t.Helper()
	var im *natskv.Images
	poll.Until(t, 60*time.Second, func() (err error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if im, err = natskv.OpenImages(ctx, js, natskv.ImageOptions{Replicas: 3, MaxAge: time.Hour}); err != nil {
			return fmt.Errorf("open R3 image buckets: %w", err)
		}
		return nil
	})
	return im
}

// An image attached on one member is served by another at once, byte for
// byte, and the buckets are replicated like the sessions bucket.
func TestReplicatedImagesAreServedByAnyMember(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	nodes := natstest.StartCluster(t, 3)
	imA, imB := openReplicatedImages(t, nodes[0].JS), openReplicatedImages(t, nodes[2].JS)
	a := sessions.NewService(openReplicated(t, nodes[0].JS), sessions.NewHub(), sessions.WithImageStore(imA))
	b := sessions.NewService(openReplicated(t, nodes[2].JS), sessions.NewHub(), sessions.WithImageStore(imB))
	ctx := context.Background()
	if st, err := imB.ObjectStore().Status(ctx); err != nil || st.Replicas() != 3 {
		t.Fatalf("image bucket replicas: %v", err)
	}
	for i := range 10 {
		data := noisePNG(t, 200, 200, uint64(i)) // about 160 KiB: two chunks
		s, err := a.Create(ctx, "alice", &sessions.CreateRequest{Message: "see", Images: []sessions.ImageInput{imageInput(data, "")}})
		if err != nil {
			t.Fatal(err)
		}
		got := readAll(t)(b.PageImage(ctx, s.ID, s.Images[0].ID))
		if !bytes.Equal(got, data) {
			t.Fatalf("image %d: read %d bytes on another member, want %d identical", i, len(got), len(data))
		}
	}
}
