package expirer_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/png"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/sessions"
)

// pngOf encodes a w×h image as PNG.
func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewNRGBA(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestImagesDisappearWithTheirSessionsRetention: once a finished session's
// retention runs out and NATS purges its record, the expirer deletes its
// images, long before the image store's own expiry (the longest timeout
// plus the retention plus ten minutes) would.
func TestImagesDisappearWithTheirSessionsRetention(t *testing.T) {
	t.Parallel()
	ns := programtest.StartNATS(t)
	opts := []programtest.Option{programtest.NATS(ns.URL), programtest.ShortTimeouts(), programtest.Env("RESULT_RETENTION", "1s")}
	edge := programtest.MustRunMain(t, append(opts, programtest.Role("edge"))...)
	programtest.MustRunMain(t, append(opts, programtest.Role("expirer"))...)
	be := edge.Backend()
	svc, images := be.Service(), be.Images()
	ctx := context.Background()

	img := sessions.ImageInput{Data: base64.StdEncoding.EncodeToString(pngOf(t, 3, 2)), MimeType: "image/png", Name: "shot.png"}
	sess, err := svc.Create(ctx, "agent", &sessions.CreateRequest{Message: "Looks right?", Images: []sessions.ImageInput{img}})
	if err != nil {
		t.Fatal(err)
	}
	text := "yes"
	answered, err := svc.Submit(ctx, sess.ID, &sessions.SubmitRequest{FreeText: &text, Images: []sessions.ImageInput{img}})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := images.ImageIDs(ctx, sess.ID)
	if err != nil || len(ids) != 2 {
		t.Fatalf("stored images %v (%v), want the question's and the answer's", ids, err)
	}
	ref := answered.Feedback.Images[0]

	programtest.WaitFor(t, 20*time.Second, func() error {
		if _, err := be.Store().Get(ctx, sess.ID); !errors.Is(err, sessions.ErrNotFound) {
			return fmt.Errorf("the record is still stored (%v)", err)
		}
		return nil
	})
	programtest.WaitFor(t, 20*time.Second, func() error {
		ids, err := images.ImageIDs(ctx, sess.ID)
		if err != nil {
			return err
		}
		if len(ids) > 0 {
			return fmt.Errorf("images %v still indexed", ids)
		}
		if rc, err := images.Get(ctx, sess.ID, ref.ID); err == nil {
			rc.Close()
			return errors.New("the answer's image bytes are still stored")
		}
		return nil
	})
}
