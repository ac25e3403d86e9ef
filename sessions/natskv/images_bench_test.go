package natskv_test

import (
	"context"
	"io"
	"testing"

	"github.com/feedbackd/feedbackd/pkg/natsutil/natstest"
	"github.com/feedbackd/feedbackd/sessions"
)

// BenchmarkImageRoundTrip is the domain's part of an image round trip: an
// agent creates a question with a 1 MiB PNG, the person answers with
// another, and the agent reads the answer's image back — on a real embedded
// server with file storage. stored-B/op is what the object store grows by.
func BenchmarkImageRoundTrip(b *testing.B) {
	ns := natstest.Start(b)
	env := openImageEnv(b, ns.JS, nil)
	ctx := context.Background()
	q, a := noisePNG(b, 512, 512, 1), noisePNG(b, 512, 512, 2)
	qIn, aIn := imageInput(q, "screen.png"), imageInput(a, "reply.png")
	before, err := env.images.ObjectStore().Status(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(q) + len(a)))
	b.ReportAllocs()
	for b.Loop() {
		sess, err := env.svc.Create(ctx, "agent", &sessions.CreateRequest{Message: "Does this look right?", Images: []sessions.ImageInput{qIn}})
		if err != nil {
			b.Fatal(err)
		}
		done, err := env.svc.Submit(ctx, sess.ID, &sessions.SubmitRequest{FreeText: ptr("no, see"), Images: []sessions.ImageInput{aIn}})
		if err != nil {
			b.Fatal(err)
		}
		_, rc, err := env.svc.OwnerImage(ctx, "agent", sess.ID, done.Feedback.Images[0].ID)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil || n != int64(len(a)) {
			b.Fatalf("read %d bytes: %v", n, err)
		}
	}
	after, err := env.images.ObjectStore().Status(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(after.Size()-before.Size())/float64(b.N), "stored-B/op")
}
