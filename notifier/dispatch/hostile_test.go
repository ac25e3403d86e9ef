package dispatch_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/notifier/dispatch"
	"github.com/feedbackd/feedbackd/notifier/dispatch/dispatchtest"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/channels"
	"github.com/feedbackd/feedbackd/sessions/natskv"
)

// Whatever lands on the dispatcher's subjects — a job that is not JSON, a
// session record that is not one, a test request of the wrong shape — is
// dropped or refused with a clear answer, and the next real session is still
// delivered.
func TestMalformedInputIsDroppedAndTheNextSessionStillDelivered(t *testing.T) {
	h := newHarness(t, channels.Defaults{})
	secret := channels.NewWebhookSecret()
	r := dispatchtest.NewWebhookReceiver(t, secret)
	h.settings("alice", channels.Update{Webhooks: []channels.WebhookUpdate{hook(r, secret, false, channels.EventCreated)}})
	h.start()
	ctx := context.Background()
	js := h.ns.JS
	for subject, body := range map[string]string{
		"feedback.delivery.00.11111111-1111-4111-8111-111111111111.created": "not json",
		"feedback.delivery.00.22222222-2222-4222-8222-222222222222.created": `{"id":"msg_x","channel":"carrier-pigeon"}`,
		"feedback.delivery.00.33333333-3333-4333-8333-333333333333.created": `{"id":"msg_y","channel":"webhook","session":{"sessionId":"../x"}}`,
	} {
		if _, err := js.Publish(ctx, subject, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	kv, err := js.KeyValue(ctx, natskv.DefaultBucket)
	if err != nil {
		t.Fatal(err)
	}
	for key, body := range map[string]string{
		natskv.SessionKey("44444444-4444-4444-8444-444444444444"): "{not json",
		natskv.SessionKey("55555555-5555-4555-8555-555555555555"): `{"sessionId":"NOT-AN-ID","owner":"alice","status":"pending"}`,
		natskv.SessionKey("66666666-6666-4666-8666-666666666666"): `{"sessionId":"66666666-6666-4666-8666-666666666666","owner":"alice","status":"weird"}`,
	} {
		if _, err := kv.Put(ctx, key, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	for _, body := range []string{"", "[]", `{"owner":""}`, `{"owner":"alice","channel":1}`} {
		msg, err := h.ns.NC.Request(dispatch.TestSubject, []byte(body), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var reply struct {
			Error *struct{ Code sessions.Code } `json:"error"`
		}
		if err := json.Unmarshal(msg.Data, &reply); err != nil || reply.Error == nil || reply.Error.Code != sessions.CodeInvalidRequest {
			t.Errorf("test request %q answered %s", body, msg.Data)
		}
	}
	s := h.create("alice", sessions.CreateRequest{Message: "Still here?"})
	got := accepted(t, r, 1)
	h.idle()
	if len(r.Deliveries()) != 1 || data(t, got[0])["sessionId"] != s.ID {
		t.Fatalf("deliveries %+v", r.Deliveries())
	}
	st, err := js.Stream(ctx, dispatch.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := st.Info(ctx); err != nil || info.State.Msgs != 0 {
		t.Fatalf("malformed jobs left in the stream: %+v, %v", info.State, err)
	}
}
