package notifier_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/png"
	"reflect"
	"testing"

	"github.com/feedbackd/feedbackd/notifier"
	"github.com/feedbackd/feedbackd/sessions"
)

// Messages about the richer questions say what is asked and name images,
// never carry their bytes; a preview renders every kind of answer as text.
func TestEventsNameImagesAndPreviewEveryKindOfAnswer(t *testing.T) {
	t.Parallel()
	s := newStack(t, newNATS(t), notifier.Config{})
	c := dial(t, s.wsURL("/ws", apiKey(keyAlice)), nil)
	c.expect(notifier.TypeConnectionEstablished)
	ctx := context.Background()

	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	img := []sessions.ImageInput{{Data: base64.StdEncoding.EncodeToString(b.Bytes()), Name: "shot.png"}}
	names := func(m map[string]any) []any {
		imgs, _ := m["images"].([]any)
		return imgs
	}
	onlyNames := func(what string, imgs []any, want int) {
		t.Helper()
		if len(imgs) != want {
			t.Fatalf("%s names %d images, want %d", what, len(imgs), want)
		}
		for _, i := range imgs {
			keys := []string{}
			for k := range i.(map[string]any) {
				keys = append(keys, k)
			}
			if m := i.(map[string]any); m["name"] != "shot.png" || m["mimeType"] != "image/png" || m["id"] == "" || len(keys) != 4 {
				t.Errorf("%s image %v: want id, name, mimeType and size only", what, m)
			}
		}
	}

	approval, err := s.svc.Create(ctx, owner(keyAlice), &sessions.CreateRequest{Kind: sessions.KindApproval, Action: "Deploy", Title: "Friday deploy", Images: img})
	if err != nil {
		t.Fatal(err)
	}
	created := c.expect(notifier.TypeSessionCreated)
	if created.str("kind") != "approval" || created.str("title") != "Friday deploy" || created.str("action") != "Deploy" {
		t.Errorf("session_created %v", created.Data)
	}
	onlyNames("session_created", names(created.Data), 1)

	reason := "not on a Friday"
	if _, err := s.svc.Submit(ctx, approval.ID, &sessions.SubmitRequest{Decision: sessions.DecisionDeny, Reason: &reason, Images: img}); err != nil {
		t.Fatal(err)
	}
	c.expect(notifier.TypeSessionStatusChanged)
	submitted := c.expect(notifier.TypeFeedbackSubmitted)
	if submitted.str("preview") != "Denied: not on a Friday\n\n[1 image attached]" || submitted.str("decision") != "deny" {
		t.Errorf("feedback_submitted %v", submitted.Data)
	}
	onlyNames("feedback_submitted", names(submitted.Data), 1)

	form, err := s.svc.Create(ctx, owner(keyAlice), &sessions.CreateRequest{Message: "When?",
		Fields: json.RawMessage(`{"type":"object","properties":{"day":{"type":"string","format":"date","title":"Day"},"ok":{"type":"boolean","title":"Sure?"}}}`)})
	if err != nil {
		t.Fatal(err)
	}
	if created := c.expect(notifier.TypeSessionCreated); created.str("kind") != "question" || created.Data["images"] != nil {
		t.Errorf("session_created %v", created.Data)
	}
	if _, err := s.svc.Submit(ctx, form.ID, &sessions.SubmitRequest{Values: json.RawMessage(`{"day":"2026-01-02","ok":false}`)}); err != nil {
		t.Fatal(err)
	}
	c.expect(notifier.TypeSessionStatusChanged)
	submitted = c.expect(notifier.TypeFeedbackSubmitted)
	if got := submitted.str("preview"); got != "Day: 2026-01-02\nSure?: no" || !reflect.DeepEqual(names(submitted.Data), []any(nil)) {
		t.Errorf("feedback_submitted %v", submitted.Data)
	}
}
