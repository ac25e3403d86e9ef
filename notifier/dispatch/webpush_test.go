package dispatch_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/notifier/dispatch"
	"github.com/feedbackd/feedbackd/notifier/dispatch/webpush"
	"github.com/feedbackd/feedbackd/notifier/dispatch/webpush/pushfake"
	"github.com/feedbackd/feedbackd/pkg/egress"
	"github.com/feedbackd/feedbackd/pkg/poll"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/channels"
)

// browser subscribes to fake as a browser would, with the cluster's public
// key, and stores the subscription for owner as the inbox does.
func (h *harness) browser(fake *pushfake.Server, keys *webpush.VAPIDKeys, owner string) webpush.Subscription {
	h.t.Helper()
	sub, err := fake.Subscribe(keys.PublicKey())
	if err != nil {
		h.t.Fatal(err)
	}
	in := &channels.PushSubscriptionInput{Endpoint: sub.Endpoint}
	in.Keys.P256dh, in.Keys.Auth = sub.P256dh, sub.Auth
	if _, err := h.chans.AddPushSubscription(context.Background(), owner, in); err != nil {
		h.t.Fatal(err)
	}
	return sub
}

func withWebPush(keys *webpush.VAPIDKeys, fake *pushfake.Server) func(*dispatch.Config) {
	return func(cfg *dispatch.Config) {
		cfg.WebPush = &dispatch.WebPushConfig{Keys: keys, Subject: "mailto:ops@example.com", HTTPClient: fake.Client()}
	}
}

// pushes waits for n decrypted pushes to sub and returns them decoded as
// the service worker decodes them.
func pushes(t testing.TB, fake *pushfake.Server, sub webpush.Subscription, n int) []webpush.Message {
	t.Helper()
	poll.Until(t, 15*time.Second, func() error {
		if got := len(fake.Messages(sub.Endpoint)); got < n {
			return fmt.Errorf("%d of %d pushes; rejected %v", got, n, fake.Rejections())
		}
		return nil
	})
	var out []webpush.Message
	for _, m := range fake.Messages(sub.Endpoint) {
		msg, err := webpush.DecodeMessage(m.Payload)
		if err != nil {
			t.Fatalf("push payload %q: %v", m.Payload, err)
		}
		out = append(out, msg)
	}
	return out
}

func TestWebPushShowsTheQuestionAndClosesItWhenAnswered(t *testing.T) {
	h := newHarness(t, channels.Defaults{})
	fake := pushfake.Start(t, pushfake.Config{})
	keys, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	phone := h.browser(fake, keys, "alice")
	laptop := h.browser(fake, keys, "alice")
	h.start(withWebPush(keys, fake))

	s := h.create("alice", sessions.CreateRequest{Kind: sessions.KindApproval, Action: "Deploy v2", Message: "Friday evening.\nStill?",
		Timeout: ptrNum("600")})
	for _, sub := range []webpush.Subscription{phone, laptop} {
		q := pushes(t, fake, sub, 1)[0]
		if q.Type != webpush.TypeQuestion || q.SessionID != s.ID || q.Title != "Approve: Deploy v2?" ||
			q.Body[:len("Friday evening.")] != "Friday evening." || q.URL != publicURL+"/feedback/"+s.ID || q.Tag != "feedbackd-"+s.ID {
			t.Fatalf("question push %+v", q)
		}
	}
	raw := fake.Messages(phone.Endpoint)[0]
	if raw.Urgency != "high" || raw.TTL < 590 || raw.TTL > 600 || raw.Topic != webpush.Topic(s.ID) || raw.Subject != "mailto:ops@example.com" {
		t.Fatalf("push headers: TTL %d, urgency %q, topic %q, subject %q", raw.TTL, raw.Urgency, raw.Topic, raw.Subject)
	}
	if _, err := h.svc.Submit(context.Background(), s.ID, &sessions.SubmitRequest{Decision: sessions.DecisionApprove}); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []webpush.Subscription{phone, laptop} {
		c := pushes(t, fake, sub, 2)[1]
		if c.Type != webpush.TypeClose || c.Tag != "feedbackd-"+s.ID || c.Status != "completed" {
			t.Fatalf("close push %+v", c)
		}
	}
	h.idle()
	if outs := h.outcomes("alice", channels.KindWebPush); len(outs) != 4 || outs[0].State != channels.Delivered {
		t.Fatalf("outcomes %+v", outs)
	}
}

// A subscription the push service has forgotten (410) is removed, so the
// browser is not pushed to again; a 404 likewise.
func TestWebPushGoneSubscriptionIsRemoved(t *testing.T) {
	h := newHarness(t, channels.Defaults{})
	fake := pushfake.Start(t, pushfake.Config{})
	keys, _ := webpush.GenerateVAPIDKeys()
	gone := h.browser(fake, keys, "alice")
	notFound := h.browser(fake, keys, "alice")
	alive := h.browser(fake, keys, "alice")
	fake.Unsubscribe(gone.Endpoint)
	fake.FailWith(notFound.Endpoint, http.StatusNotFound, 0)
	h.start(withWebPush(keys, fake))

	h.create("alice", sessions.CreateRequest{Message: "Still there?"})
	pushes(t, fake, alive, 1)
	poll.Until(t, 15*time.Second, func() error {
		v, err := h.chans.View(context.Background(), "alice")
		if err != nil {
			return err
		}
		if len(v.WebPush) != 1 || v.WebPush[0].ID != channels.PushSubscriptionID(alive.Endpoint) {
			return fmt.Errorf("subscriptions %+v", v.WebPush)
		}
		return nil
	})
	h.idle()
	failed := 0
	for _, o := range h.outcomes("alice", channels.KindWebPush) {
		if o.State == channels.Failed && (o.StatusCode == 410 || o.StatusCode == 404) && o.Attempts == 1 {
			failed++
		}
	}
	if failed != 2 {
		t.Fatalf("outcomes %+v, want two failed at the first attempt", h.outcomes("alice", channels.KindWebPush))
	}
}

// A push service that is busy (429 with Retry-After, 503) is tried again.
func TestWebPushRetriesABusyPushService(t *testing.T) {
	h := newHarness(t, channels.Defaults{})
	fake := pushfake.Start(t, pushfake.Config{})
	keys, _ := webpush.GenerateVAPIDKeys()
	sub := h.browser(fake, keys, "alice")
	fake.FailWith(sub.Endpoint, http.StatusServiceUnavailable, 0)
	h.start(withWebPush(keys, fake))
	s := h.create("alice", sessions.CreateRequest{Message: "Busy?"})
	poll.Until(t, 15*time.Second, func() error {
		for _, o := range h.outcomes("alice", channels.KindWebPush) {
			if o.State == channels.Retrying && o.StatusCode == 503 {
				return nil
			}
		}
		return errNotYet
	})
	fake.FailWith(sub.Endpoint, 0, 0)
	if q := pushes(t, fake, sub, 1)[0]; q.SessionID != s.ID {
		t.Fatalf("push %+v", q)
	}
}

// Endpoints come from browsers, that is from users: one on a private
// address is refused at once, not tried for a day.
func TestWebPushRefusesAPrivateEndpoint(t *testing.T) {
	h := newHarness(t, channels.Defaults{})
	fake := pushfake.Start(t, pushfake.Config{})
	keys, _ := webpush.GenerateVAPIDKeys()
	h.browser(fake, keys, "alice") // the fake listens on 127.0.0.1
	h.start(withWebPush(keys, fake), func(cfg *dispatch.Config) {
		cfg.Client = egress.New(egress.Options{})
		cfg.WebPush.HTTPClient = nil // the dispatcher's own client, which refuses private addresses
	})
	h.create("alice", sessions.CreateRequest{Message: "Reach me?"})
	poll.Until(t, 15*time.Second, func() error {
		outs := h.outcomes("alice", channels.KindWebPush)
		if len(outs) != 1 || outs[0].State != channels.Failed || outs[0].Attempts != 1 {
			return fmt.Errorf("outcomes %+v", outs)
		}
		return nil
	})
	if n := len(fake.Messages("")) + len(fake.Rejections()); n != 0 {
		t.Fatalf("the push service was reached %d times", n)
	}
}
