package natskv_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedbackd/feedbackd/pkg/natsutil/natstest"
	"github.com/feedbackd/feedbackd/pkg/poll"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/natskv"
)

// imageEnv is a Service with an image store over one embedded server.
type imageEnv struct {
	svc    *sessions.Service
	store  *natskv.Store
	images *natskv.Images
}

func openImageEnv(t testing.TB, js jetstream.JetStream, wrap func(sessions.Store) sessions.Store, opts ...sessions.Option) *imageEnv {
	t.Helper()
	ctx := context.Background()
	store, err := natskv.Open(ctx, js, natskv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	images, err := natskv.OpenImages(ctx, js, natskv.ImageOptions{MaxAge: natskv.ImageMaxAge(time.Hour, 24*time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var s sessions.Store = store
	if wrap != nil {
		s = wrap(store)
	}
	opts = append([]sessions.Option{sessions.WithImageStore(images)}, opts...)
	return &imageEnv{svc: sessions.NewService(s, sessions.NewHub(), opts...), store: store, images: images}
}

// noisePNG is a w×h PNG that does not compress (about 4 bytes a pixel),
// different for every seed.
func noisePNG(t testing.TB, w, h int, seed uint64) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(seed, uint64(w)))
	for i := range img.Pix {
		img.Pix[i] = uint8(r.Uint32())
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func imageInput(data []byte, name string) sessions.ImageInput {
	return sessions.ImageInput{Data: base64.StdEncoding.EncodeToString(data), MimeType: "image/png", Name: name}
}

// readAll returns a reader of an opened image, to wrap a call that opens
// one: readAll(t)(svc.OwnerImage(...)).
func readAll(t testing.TB) func(sessions.Image, io.ReadCloser, error) []byte {
	return func(ref sessions.Image, rc io.ReadCloser, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatalf("read image %s: %v", ref.ID, err)
		}
		return b
	}
}

// objectNames lists the live objects of the image bucket.
func objectNames(t testing.TB, im *natskv.Images) []string {
	t.Helper()
	infos, err := im.ObjectStore().List(context.Background())
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range infos {
		names = append(names, i.Name)
	}
	slices.Sort(names)
	return names
}

func wantObjects(t testing.TB, im *natskv.Images, sessionID string, refs ...sessions.Image) {
	t.Helper()
	var want []string
	for _, r := range refs {
		want = append(want, natskv.ObjectName(sessionID, r.ID))
	}
	slices.Sort(want)
	if got := objectNames(t, im); !slices.Equal(got, want) {
		t.Fatalf("objects %v, want %v", got, want)
	}
	ids, err := im.ImageIDs(context.Background(), sessionID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != len(refs) {
		t.Fatalf("index holds %v, want %d entries", ids, len(refs))
	}
}

func TestImagesRoundTripByteForByteToOwnerAndPageOnly(t *testing.T) {
	ns := natstest.Start(t)
	env := openImageEnv(t, ns.JS, nil)
	ctx := context.Background()
	q1, q2 := noisePNG(t, 300, 200, 1), noisePNG(t, 40, 40, 2) // q1 spans several chunks
	sess, err := env.svc.Create(ctx, "alice", &sessions.CreateRequest{
		Message: "Which looks better?", Images: []sessions.ImageInput{imageInput(q1, "a.png"), imageInput(q2, "")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sess.Images) != 2 || sess.Images[0].Name != "a.png" || sess.Images[1].Name != "image-2.png" ||
		sess.Images[0].Size != int64(len(q1)) || sess.Images[0].Width != 300 || sess.Images[0].MimeType != "image/png" {
		t.Fatalf("references %+v", sess.Images)
	}
	a1 := noisePNG(t, 64, 64, 3)
	done, err := env.svc.Submit(ctx, sess.ID, &sessions.SubmitRequest{FreeText: ptr("the left one"), Images: []sessions.ImageInput{imageInput(a1, "mine.png")}})
	if err != nil {
		t.Fatal(err)
	}
	if done.Feedback.CombinedFeedback != "the left one\n\n[1 image attached]" || len(done.Feedback.Images) != 1 {
		t.Fatalf("feedback %+v", done.Feedback)
	}
	for ref, want := range map[sessions.Image][]byte{sess.Images[0]: q1, sess.Images[1]: q2, done.Feedback.Images[0]: a1} {
		got := readAll(t)(env.svc.OwnerImage(ctx, "alice", sess.ID, ref.ID))
		if !bytes.Equal(got, want) {
			t.Fatalf("owner read %d bytes of %s, want %d identical", len(got), ref.Name, len(want))
		}
		got = readAll(t)(env.svc.PageImage(ctx, sess.ID, ref.ID))
		if !bytes.Equal(got, want) {
			t.Fatalf("page read differs for %s", ref.Name)
		}
		if _, _, err := env.svc.OwnerImage(ctx, "bob", sess.ID, ref.ID); sessions.ErrorCode(err) != sessions.CodeNotFound {
			t.Fatalf("another principal: %v", err)
		}
	}
	for _, tc := range []struct {
		sessionID, imageID string
		code               sessions.Code
	}{
		{sess.ID, sessions.NewID(), sessions.CodeImageNotFound},
		{sessions.NewID(), sess.Images[0].ID, sessions.CodeNotFound},
		{sess.ID, "../" + sess.Images[0].ID, sessions.CodeInvalidRequest},
		{sess.ID, ">", sessions.CodeInvalidRequest},
	} {
		if _, _, err := env.svc.PageImage(ctx, tc.sessionID, tc.imageID); sessions.ErrorCode(err) != tc.code {
			t.Errorf("PageImage(%s, %s): %v, want %s", tc.sessionID, tc.imageID, err, tc.code)
		}
	}
	// The record holds references, never bytes.
	e, err := env.store.KV().Get(ctx, natskv.SessionKey(sess.ID))
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Value()) > 4096 || strings.Contains(string(e.Value()), base64.StdEncoding.EncodeToString(q2[:30])) {
		t.Fatalf("record of %d bytes holds image data", len(e.Value()))
	}
}

// Images live in file storage: a restart of the server on the same store
// directory serves them again, byte for byte.
func TestImagesSurviveARestart(t *testing.T) {
	dir := t.TempDir()
	ns := natstest.StartIn(t, dir, "")
	env := openImageEnv(t, ns.JS, nil)
	ctx := context.Background()
	data := noisePNG(t, 200, 100, 4)
	sess, err := env.svc.Create(ctx, "alice", &sessions.CreateRequest{Message: "see", Images: []sessions.ImageInput{imageInput(data, "")}})
	if err != nil {
		t.Fatal(err)
	}
	ns.Stop()

	ns = natstest.StartIn(t, dir, "")
	env = openImageEnv(t, ns.JS, nil)
	got := readAll(t)(env.svc.OwnerImage(ctx, "alice", sess.ID, sess.Images[0].ID))
	if !bytes.Equal(got, data) {
		t.Fatalf("after restart read %d bytes, want %d identical", len(got), len(data))
	}
}

func TestCreateWithOneBadImageStoresNothing(t *testing.T) {
	ns := natstest.Start(t)
	env := openImageEnv(t, ns.JS, nil)
	ctx := context.Background()
	good := imageInput(noisePNG(t, 20, 20, 5), "")
	bad := sessions.ImageInput{Data: base64.StdEncoding.EncodeToString([]byte("<!DOCTYPE html><script>alert(1)</script>")), MimeType: "image/png", Name: "x.png"}
	_, err := env.svc.Create(ctx, "alice", &sessions.CreateRequest{Message: "q", Images: []sessions.ImageInput{good, bad, good}})
	if e, ok := err.(*sessions.Error); !ok || e.Field != "images[1]" {
		t.Fatalf("err = %v, want INVALID_REQUEST on images[1]", err)
	}
	if names := objectNames(t, env.images); len(names) != 0 {
		t.Fatalf("objects left behind: %v", names)
	}
	page, err := env.svc.List(ctx, "alice", sessions.ListQuery{})
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("sessions left behind: %+v %v", page.Items, err)
	}
}

// failingCreate is the real store whose record writes fail for good.
type failingCreate struct{ sessions.Store }

func (failingCreate) Create(context.Context, *sessions.Session, time.Duration) (uint64, error) {
	return 0, errors.New("insufficient resources")
}

func TestAFailedRecordWriteDeletesItsImages(t *testing.T) {
	ns := natstest.Start(t)
	env := openImageEnv(t, ns.JS, func(s sessions.Store) sessions.Store { return failingCreate{s} }, sessions.WithStorageRetry(0))
	_, err := env.svc.Create(context.Background(), "alice", &sessions.CreateRequest{
		Message: "q", Images: []sessions.ImageInput{imageInput(noisePNG(t, 20, 20, 6), ""), imageInput(noisePNG(t, 20, 20, 7), "")},
	})
	if sessions.ErrorCode(err) != sessions.CodeServiceUnavailable {
		t.Fatalf("err = %v", err)
	}
	if names := objectNames(t, env.images); len(names) != 0 {
		t.Fatalf("objects left behind: %v", names)
	}
}

// racingUpdate lets another answer win just before the first update it
// makes, so the submit in flight has stored its images and then loses.
type racingUpdate struct {
	sessions.Store
	once   atomic.Bool
	winner func()
}

func (r *racingUpdate) Update(ctx context.Context, s *sessions.Session, ttl time.Duration) (uint64, error) {
	if r.once.CompareAndSwap(false, true) {
		r.winner()
	}
	return r.Store.Update(ctx, s, ttl)
}

func TestASubmitThatLosesDeletesItsImages(t *testing.T) {
	ns := natstest.Start(t)
	var race *racingUpdate
	env := openImageEnv(t, ns.JS, func(s sessions.Store) sessions.Store { race = &racingUpdate{Store: s}; return race })
	ctx := context.Background()
	sess, err := env.svc.Create(ctx, "alice", &sessions.CreateRequest{Message: "q", Images: []sessions.ImageInput{imageInput(noisePNG(t, 20, 20, 8), "")}})
	if err != nil {
		t.Fatal(err)
	}
	race.winner = func() {
		if _, err := env.svc.Submit(ctx, sess.ID, &sessions.SubmitRequest{FreeText: ptr("first")}); err != nil {
			t.Errorf("winning submit: %v", err)
		}
	}
	_, err = env.svc.Submit(ctx, sess.ID, &sessions.SubmitRequest{FreeText: ptr("second"), Images: []sessions.ImageInput{
		imageInput(noisePNG(t, 30, 30, 9), ""), imageInput(noisePNG(t, 30, 30, 10), ""),
	}})
	if sessions.ErrorCode(err) != sessions.CodeAlreadySubmitted {
		t.Fatalf("losing submit: %v", err)
	}
	wantObjects(t, env.images, sess.ID, sess.Images...)
}

func TestConcurrentSubmitsWithImagesLeaveOnlyTheWinners(t *testing.T) {
	ns := natstest.Start(t)
	env := openImageEnv(t, ns.JS, nil)
	ctx := context.Background()
	sess, err := env.svc.Create(ctx, "alice", &sessions.CreateRequest{Message: "q"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var winner *sessions.Session
	for i := range 8 {
		wg.Go(func() {
			got, err := env.svc.Submit(ctx, sess.ID, &sessions.SubmitRequest{
				FreeText: ptr(fmt.Sprint(i)), Images: []sessions.ImageInput{imageInput(noisePNG(t, 16, 16, uint64(100+i)), "")},
			})
			switch sessions.ErrorCode(err) {
			case "":
				mu.Lock()
				winner = got
				mu.Unlock()
			case sessions.CodeAlreadySubmitted:
			default:
				t.Errorf("submit %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if winner == nil {
		t.Fatal("no submit won")
	}
	wantObjects(t, env.images, sess.ID, winner.Feedback.Images...)
	stored, err := env.svc.GetOwned(ctx, "alice", sess.ID)
	if err != nil || stored.Feedback.Images[0].ID != winner.Feedback.Images[0].ID {
		t.Fatalf("stored answer %+v, %v", stored.Feedback, err)
	}
}

// lostAnswer lands the update and then reports a failure, as when a NATS
// node dies between committing and acknowledging.
type lostAnswer struct{ sessions.Store }

func (l lostAnswer) Update(ctx context.Context, s *sessions.Session, ttl time.Duration) (uint64, error) {
	if _, err := l.Store.Update(ctx, s, ttl); err != nil {
		return 0, err
	}
	return 0, errors.New("nats: timeout")
}

// When a submit cannot tell whether its answer was stored, the record
// decides: images it references stay.
func TestASubmitWithAnUnknownOutcomeKeepsImagesTheRecordReferences(t *testing.T) {
	ns := natstest.Start(t)
	env := openImageEnv(t, ns.JS, func(s sessions.Store) sessions.Store { return lostAnswer{s} }, sessions.WithStorageRetry(0))
	ctx := context.Background()
	sess, err := env.svc.Create(ctx, "alice", &sessions.CreateRequest{Message: "q"})
	if err != nil {
		t.Fatal(err)
	}
	data := noisePNG(t, 20, 20, 11)
	_, err = env.svc.Submit(ctx, sess.ID, &sessions.SubmitRequest{Images: []sessions.ImageInput{imageInput(data, "")}})
	if sessions.ErrorCode(err) != sessions.CodeServiceUnavailable {
		t.Fatalf("submit: %v", err)
	}
	stored, err := env.svc.GetOwned(ctx, "alice", sess.ID)
	if err != nil || stored.Status != sessions.StatusCompleted || len(stored.Feedback.Images) != 1 {
		t.Fatalf("stored %+v, %v", stored, err)
	}
	got := readAll(t)(env.svc.OwnerImage(ctx, "alice", sess.ID, stored.Feedback.Images[0].ID))
	if !bytes.Equal(got, data) {
		t.Fatal("image of the stored answer is gone")
	}
}

func TestImagesOfAPurgedSessionAreNotServedAndDeleteImagesRemovesThem(t *testing.T) {
	ns := natstest.Start(t)
	env := openImageEnv(t, ns.JS, nil, sessions.WithRetention(time.Second))
	ctx := context.Background()
	sess, err := env.svc.Create(ctx, "alice", &sessions.CreateRequest{Message: "q", Images: []sessions.ImageInput{imageInput(noisePNG(t, 20, 20, 12), "")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.svc.Cancel(ctx, "alice", sess.ID); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, func() error {
		if _, err := env.store.Get(ctx, sess.ID); !errors.Is(err, sessions.ErrNotFound) {
			return fmt.Errorf("record still there: %v", err)
		}
		return nil
	})
	// The bytes are still in the bucket, but nothing serves them.
	wantObjects(t, env.images, sess.ID, sess.Images...)
	if _, _, err := env.svc.PageImage(ctx, sess.ID, sess.Images[0].ID); sessions.ErrorCode(err) != sessions.CodeNotFound {
		t.Fatalf("purged session's image: %v", err)
	}
	if err := env.svc.DeleteImages(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	wantObjects(t, env.images, sess.ID)
	if err := env.svc.DeleteImages(ctx, sess.ID); err != nil {
		t.Fatalf("second delete: %v", err)
	}
}

// DeleteImages of a live session removes its images; the record still
// names them, and asking for one is IMAGE_NOT_FOUND.
func TestDeleteImagesOfALiveSession(t *testing.T) {
	ns := natstest.Start(t)
	env := openImageEnv(t, ns.JS, nil)
	ctx := context.Background()
	sess, err := env.svc.Create(ctx, "alice", &sessions.CreateRequest{Message: "q", Images: []sessions.ImageInput{imageInput(noisePNG(t, 20, 20, 13), "")}})
	if err != nil {
		t.Fatal(err)
	}
	other, err := env.svc.Create(ctx, "alice", &sessions.CreateRequest{Message: "q", Images: []sessions.ImageInput{imageInput(noisePNG(t, 20, 20, 14), "")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.svc.DeleteImages(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := env.svc.OwnerImage(ctx, "alice", sess.ID, sess.Images[0].ID); sessions.ErrorCode(err) != sessions.CodeImageNotFound {
		t.Fatalf("deleted image: %v", err)
	}
	readAll(t)(env.svc.OwnerImage(ctx, "alice", other.ID, other.Images[0].ID))
	wantObjects(t, env.images, other.ID, other.Images...)
}

func TestAServiceWithoutAnImageStoreRefusesImages(t *testing.T) {
	// The program always wires an image store; a service built without one
	// (as a tool might) must refuse images rather than drop them.
	_, store := newService(t)
	svc := sessions.NewService(store, sessions.NewHub())
	img := imageInput(noisePNG(t, 4, 4, 15), "")
	_, err := svc.Create(context.Background(), "alice", &sessions.CreateRequest{Message: "q", Images: []sessions.ImageInput{img}})
	if e, ok := err.(*sessions.Error); !ok || e.Field != "images" {
		t.Fatalf("err = %v", err)
	}
	s := create(t, svc, "alice")
	_, err = svc.Submit(context.Background(), s.ID, &sessions.SubmitRequest{Images: []sessions.ImageInput{img}})
	if e, ok := err.(*sessions.Error); !ok || e.Field != "images" {
		t.Fatalf("err = %v", err)
	}
}

func TestImageBucketsAreBoundedFileStorage(t *testing.T) {
	ns := natstest.Start(t)
	ctx := context.Background()
	maxAge := natskv.ImageMaxAge(2*time.Hour, 24*time.Hour)
	im, err := natskv.OpenImages(ctx, ns.JS, natskv.ImageOptions{MaxAge: maxAge})
	if err != nil {
		t.Fatal(err)
	}
	st, err := im.ObjectStore().Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Bucket() != natskv.DefaultImageBucket || st.TTL() != maxAge || st.Storage() != jetstream.FileStorage || st.Replicas() != 1 {
		t.Fatalf("bucket %s ttl %s storage %s replicas %d", st.Bucket(), st.TTL(), st.Storage(), st.Replicas())
	}
	if maxAge < 26*time.Hour {
		t.Fatalf("MaxAge %s does not cover the longest session", maxAge)
	}
	index, err := ns.JS.KeyValue(ctx, natskv.DefaultImageBucket+"_index")
	if err != nil {
		t.Fatal(err)
	}
	if ist, err := index.Status(ctx); err != nil || ist.TTL() != maxAge {
		t.Fatalf("index ttl: %v", err)
	}
	if _, err := natskv.OpenImages(ctx, ns.JS, natskv.ImageOptions{}); err == nil {
		t.Fatal("opened an image bucket that never expires")
	}
	// Reopening with a longer MaxAge updates the bucket.
	if _, err := natskv.OpenImages(ctx, ns.JS, natskv.ImageOptions{MaxAge: 2 * maxAge}); err != nil {
		t.Fatal(err)
	}
	if st, _ := im.ObjectStore().Status(ctx); st.TTL() != 2*maxAge {
		t.Fatalf("ttl after update %s", st.TTL())
	}
}

// The seed-style request produces exactly the record and answer it did
// before questions grew: not one key more.
func TestSeedStyleRequestStoresTodaysRecord(t *testing.T) {
	ns := natstest.Start(t)
	env := openImageEnv(t, ns.JS, nil)
	ctx := context.Background()
	var req sessions.CreateRequest
	if err := json.Unmarshal([]byte(`{"message":"Ship it?","predefinedOptions":["yes","no"]}`), &req); err != nil {
		t.Fatal(err)
	}
	sess, err := env.svc.Create(ctx, "alice", &req)
	if err != nil {
		t.Fatal(err)
	}
	tm := func(t time.Time) string { b, _ := json.Marshal(t); return string(b) }
	raw := func() string {
		e, err := env.store.KV().Get(ctx, natskv.SessionKey(sess.ID))
		if err != nil {
			t.Fatal(err)
		}
		return string(e.Value())
	}
	want := fmt.Sprintf(`{"sessionId":%q,"owner":"alice","message":"Ship it?","predefinedOptions":["yes","no"],"timeout":300,`+
		`"status":"pending","createdAt":%s,"expiresAt":%s}`, sess.ID, tm(sess.CreatedAt), tm(sess.ExpiresAt))
	if got := raw(); got != want {
		t.Fatalf("record\n%s\nwant\n%s", got, want)
	}
	var sub sessions.SubmitRequest
	if err := json.Unmarshal([]byte(`{"selectedOptions":["yes","no"],"freeText":"  looks good  "}`), &sub); err != nil {
		t.Fatal(err)
	}
	done, err := env.svc.Submit(ctx, sess.ID, &sub)
	if err != nil {
		t.Fatal(err)
	}
	want = fmt.Sprintf(`{"sessionId":%q,"owner":"alice","message":"Ship it?","predefinedOptions":["yes","no"],"timeout":300,`+
		`"status":"completed","createdAt":%s,"expiresAt":%s,"submittedAt":%s,"finishedAt":%s,`+
		`"feedback":{"selectedOptions":["yes","no"],"freeText":"  looks good  ","combinedFeedback":"yes\nno\n\nlooks good"}}`,
		sess.ID, tm(sess.CreatedAt), tm(sess.ExpiresAt), tm(*done.SubmittedAt), tm(*done.FinishedAt))
	if got := raw(); got != want {
		t.Fatalf("record\n%s\nwant\n%s", got, want)
	}
	if names := objectNames(t, env.images); len(names) != 0 {
		t.Fatalf("objects: %v", names)
	}
}

func ptr[T any](v T) *T { return &v }
