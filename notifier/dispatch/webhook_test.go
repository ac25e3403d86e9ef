package dispatch_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/notifier/dispatch"
	"github.com/feedbackd/feedbackd/notifier/dispatch/dispatchtest"
	"github.com/feedbackd/feedbackd/pkg/egress"
	"github.com/feedbackd/feedbackd/pkg/poll"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/channels"
)

var msgID = regexp.MustCompile(`^msg_[a-z2-7]{32}$`)

// hook is a webhook settings entry for a receiver.
func hook(r *dispatchtest.WebhookReceiver, secret string, includeAnswer bool, events ...channels.Event) channels.WebhookUpdate {
	return channels.WebhookUpdate{URL: r.URL, Secret: ptr(secret), IncludeAnswer: includeAnswer, Events: events}
}

// accepted waits until the receiver has accepted n requests and returns
// them.
func accepted(t *testing.T, r *dispatchtest.WebhookReceiver, n int) []dispatchtest.WebhookDelivery {
	t.Helper()
	poll.Until(t, 15*time.Second, func() error {
		if got := len(r.Accepted()); got < n {
			return fmt.Errorf("%d of %d webhooks accepted (%d requests)", got, n, len(r.Deliveries()))
		}
		return nil
	})
	return r.Accepted()
}

func data(t *testing.T, d dispatchtest.WebhookDelivery) map[string]any {
	t.Helper()
	p, err := d.Payload()
	if err != nil {
		t.Fatal(err)
	}
	m, _ := p["data"].(map[string]any)
	return m
}

func TestWebhookDeliversSignedEventsInOrderWithTheAnswerOnlyWhenAsked(t *testing.T) {
	h := newHarness(t, channels.Defaults{})
	secret := channels.NewWebhookSecret()
	withAnswer := dispatchtest.NewWebhookReceiver(t, secret)
	plain := dispatchtest.NewWebhookReceiver(t, secret)
	onlyEnd := dispatchtest.NewWebhookReceiver(t, secret)
	h.settings("alice", channels.Update{Webhooks: []channels.WebhookUpdate{
		hook(withAnswer, secret, true), hook(plain, secret, false),
		hook(onlyEnd, secret, true, channels.EventCompleted, channels.EventExpired),
	}})
	h.start()
	s := h.create("alice", sessions.CreateRequest{Message: "Ship v2?", PredefinedOptions: []string{"yes", "no"},
		Metadata: []byte(`{"pr":42}`)})
	accepted(t, withAnswer, 1)
	h.submit(s.ID, "yes")

	got := accepted(t, withAnswer, 2)
	if got[0].Type != "session.created" || got[1].Type != "session.completed" {
		t.Fatalf("events %s, %s; want created then completed", got[0].Type, got[1].Type)
	}
	for _, d := range got {
		if d.VerifyErr != nil || !msgID.MatchString(d.ID) {
			t.Fatalf("delivery %s: signature %v", d.ID, d.VerifyErr)
		}
		if ts, err := strconv.ParseInt(d.Timestamp, 10, 64); err != nil || time.Since(time.Unix(ts, 0)) > time.Minute {
			t.Fatalf("webhook-timestamp %q", d.Timestamp)
		}
	}
	if got[0].ID == got[1].ID {
		t.Fatal("two events share a webhook-id")
	}
	created, completed := data(t, got[0]), data(t, got[1])
	if created["sessionId"] != s.ID || created["status"] != "pending" || created["feedback"] != nil ||
		created["feedbackUrl"] != publicURL+"/feedback/"+s.ID || created["message"] != "Ship v2?" {
		t.Fatalf("created data %v", created)
	}
	if md, _ := created["metadata"].(map[string]any); md["pr"] != float64(42) {
		t.Fatalf("metadata %v", created["metadata"])
	}
	fb, _ := completed["feedback"].(map[string]any)
	if completed["status"] != "completed" || fb["combinedFeedback"] != "yes" || completed["submittedAt"] == nil {
		t.Fatalf("completed data %v", completed)
	}

	p := accepted(t, plain, 2)
	if data(t, p[1])["feedback"] != nil {
		t.Fatal("the answer went to a webhook that did not ask for it")
	}
	if p[0].ID == got[0].ID {
		t.Fatal("two destinations share a webhook-id")
	}
	e := accepted(t, onlyEnd, 1)
	h.idle()
	if n := len(onlyEnd.Deliveries()); n != 1 || e[0].Type != "session.completed" {
		t.Fatalf("a webhook for completed and expired got %d requests, first %s", n, e[0].Type)
	}
	for _, o := range h.outcomes("alice", channels.KindWebhook) {
		if o.State != channels.Delivered || o.SessionID != s.ID || o.Destination == "" {
			t.Fatalf("outcome %+v", o)
		}
	}
}

func TestWebhookRetriedWithBackoffIsDeliveredOnceWithOneID(t *testing.T) {
	h := newHarness(t, channels.Defaults{})
	secret := channels.NewWebhookSecret()
	r := dispatchtest.NewWebhookReceiver(t, secret)
	r.FailFirst(3, http.StatusInternalServerError)
	h.settings("bob", channels.Update{Webhooks: []channels.WebhookUpdate{hook(r, secret, false)}})
	retrying, delivered := counter(t, "webhook", "retrying"), counter(t, "webhook", "delivered")
	h.start()
	s := h.create("bob", sessions.CreateRequest{Message: "Retry me"})
	h.submit(s.ID)

	accepted(t, r, 2)
	h.idle()
	all := r.Deliveries()
	if len(all) != 5 {
		t.Fatalf("%d requests, want 3 failures, then created, then completed", len(all))
	}
	for i, d := range all[:4] {
		if d.ID != all[0].ID || d.Type != "session.created" || d.VerifyErr != nil {
			t.Fatalf("attempt %d: id %s type %s signature %v; want the first attempt's id", i+1, d.ID, d.Type, d.VerifyErr)
		}
	}
	if all[4].Type != "session.completed" || all[4].Status != http.StatusNoContent {
		t.Fatalf("last request %s answered %d", all[4].Type, all[4].Status)
	}
	// Backoff doubles from 50 ms, with jitter of up to half: the third
	// retry waits at least 100 ms, the three together at least 175 ms.
	gap := func(i int) time.Duration { return all[i].At.Sub(all[i-1].At) }
	if gap(3) < 100*time.Millisecond || all[3].At.Sub(all[0].At) < 175*time.Millisecond {
		t.Fatalf("gaps %s %s %s: no backoff", gap(1), gap(2), gap(3))
	}
	if got := counter(t, "webhook", "retrying") - retrying; got != 3 {
		t.Errorf("retrying counter +%v, want +3", got)
	}
	if got := counter(t, "webhook", "delivered") - delivered; got != 2 {
		t.Errorf("delivered counter +%v, want +2", got)
	}
	out := h.outcomes("bob", channels.KindWebhook)
	if len(out) != 2 || out[1].ID != all[0].ID || out[1].State != channels.Delivered || out[1].Attempts != 4 {
		t.Fatalf("outcomes %+v", out)
	}
}

func TestWebhookHonoursRetryAfter(t *testing.T) {
	h := newHarness(t, channels.Defaults{})
	secret := channels.NewWebhookSecret()
	r := dispatchtest.NewWebhookReceiver(t, secret)
	r.Respond(func(n int, _ dispatchtest.WebhookDelivery) (int, http.Header) {
		if n == 1 {
			return http.StatusTooManyRequests, dispatchtest.RetryAfter(time.Second)
		}
		return http.StatusOK, nil
	})
	h.settings("bob", channels.Update{Webhooks: []channels.WebhookUpdate{hook(r, secret, false, channels.EventCreated)}})
	h.start()
	h.create("bob", sessions.CreateRequest{Message: "Slow down"})
	accepted(t, r, 1)
	all := r.Deliveries()
	if gap := all[1].At.Sub(all[0].At); gap < time.Second {
		t.Fatalf("retried %s after a 429 asking for 1 s", gap)
	}
}

func TestWebhookRefusedForGoodIsNotRetriedAndShowsAsFailed(t *testing.T) {
	h := newHarness(t, channels.Defaults{})
	secret := channels.NewWebhookSecret()
	r := dispatchtest.NewWebhookReceiver(t, secret)
	r.Respond(func(int, dispatchtest.WebhookDelivery) (int, http.Header) { return http.StatusGone, nil })
	h.settings("carol", channels.Update{Webhooks: []channels.WebhookUpdate{hook(r, secret, false)}})
	failed := counter(t, "webhook", "failed")
	h.start()
	s := h.create("carol", sessions.CreateRequest{Message: "Gone?"})
	h.submit(s.ID)
	poll.Until(t, 15*time.Second, func() error {
		out := h.outcomes("carol", channels.KindWebhook)
		if len(out) != 2 || out[0].State != channels.Failed || out[1].State != channels.Failed {
			return fmt.Errorf("outcomes %+v", out)
		}
		return nil
	})
	h.idle()
	// A webhook's final event does not depend on its created event having
	// been accepted: each was tried once.
	if n := len(r.Deliveries()); n != 2 {
		t.Fatalf("%d requests for two events refused with 410", n)
	}
	out := h.outcomes("carol", channels.KindWebhook)
	if out[0].StatusCode != http.StatusGone || out[0].Attempts != 1 || !strings.Contains(out[0].Error, "410") {
		t.Fatalf("outcome %+v", out[0])
	}
	if got := counter(t, "webhook", "failed") - failed; got != 2 {
		t.Errorf("failed counter +%v, want +2", got)
	}
}

func TestWebhookGivenUpAfterMaxAgeIsRecordedAsFailed(t *testing.T) {
	h := newHarness(t, channels.Defaults{})
	secret := channels.NewWebhookSecret()
	r := dispatchtest.NewWebhookReceiver(t, secret)
	r.Respond(func(int, dispatchtest.WebhookDelivery) (int, http.Header) { return http.StatusServiceUnavailable, nil })
	h.settings("dave", channels.Update{Webhooks: []channels.WebhookUpdate{hook(r, secret, false, channels.EventCreated)}})
	h.start(func(c *dispatch.Config) { c.MaxAge = time.Second })
	h.create("dave", sessions.CreateRequest{Message: "Nobody home"})
	var out []channels.Outcome
	poll.Until(t, 15*time.Second, func() error {
		out = h.outcomes("dave", channels.KindWebhook)
		if len(out) != 1 || out[0].State != channels.Failed {
			return fmt.Errorf("outcomes %+v", out)
		}
		return nil
	})
	h.idle()
	n := len(r.Deliveries())
	if n < 3 || out[0].Attempts != n || !strings.Contains(out[0].Error, "gave up after") || !strings.Contains(out[0].Error, "503") {
		t.Fatalf("%d requests; outcome %+v", n, out[0])
	}
	for _, d := range r.Deliveries() {
		if d.ID != out[0].ID {
			t.Fatalf("attempt with id %s, want %s", d.ID, out[0].ID)
		}
	}
}

func TestSessionFinishedBeforeTheDispatcherStartedGetsCreatedThenCompleted(t *testing.T) {
	h := newHarness(t, channels.Defaults{})
	secret := channels.NewWebhookSecret()
	r := dispatchtest.NewWebhookReceiver(t, secret)
	slack := dispatchtest.NewSlack(t)
	ntfy := dispatchtest.NewNtfy(t, "")
	h.settings("erin", channels.Update{
		Webhooks: []channels.WebhookUpdate{hook(r, secret, true)},
		Slack:    &channels.SlackUpdate{WebhookURL: ptr(slack.URL)},
		Ntfy:     &channels.NtfyUpdate{URL: ntfy.TopicURL("erin")},
	})
	// Written and answered while no dispatcher runs: the feed keeps only
	// the completed version.
	s := h.create("erin", sessions.CreateRequest{Message: "Answered early"})
	h.submit(s.ID)
	h.start()
	got := accepted(t, r, 2)
	h.idle()
	if got[0].Type != "session.created" || got[1].Type != "session.completed" || len(r.Deliveries()) != 2 {
		t.Fatalf("got %d requests: %s then %s", len(r.Deliveries()), got[0].Type, got[1].Type)
	}
	if c := data(t, got[0]); c["status"] != "pending" || c["feedback"] != nil || c["submittedAt"] != nil {
		t.Fatalf("session.created describes the session as it is now, not as created: %v", c)
	}
	if !got[1].At.After(got[0].At) {
		t.Fatal("completed arrived before created")
	}
	// Chat channels never announced it, so they say nothing of its end.
	if len(slack.Posts()) != 0 || len(ntfy.Messages()) != 0 {
		t.Fatalf("slack %d posts, ntfy %d messages for a question never announced", len(slack.Posts()), len(ntfy.Messages()))
	}
}

func TestTwoReplicasDeliverEveryEventExactlyOnce(t *testing.T) {
	h := newHarness(t, channels.Defaults{})
	secret := channels.NewWebhookSecret()
	r := dispatchtest.NewWebhookReceiver(t, secret)
	slack := dispatchtest.NewSlack(t)
	h.settings("frank", channels.Update{
		Webhooks: []channels.WebhookUpdate{hook(r, secret, false)},
		Slack:    &channels.SlackUpdate{WebhookURL: ptr(slack.URL)},
	})
	h.start()
	h.start()
	const n = 24
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s := h.create("frank", sessions.CreateRequest{Message: fmt.Sprintf("Question %d", i), PredefinedOptions: []string{"a"}})
			ids[i] = s.ID
			switch i % 3 {
			case 0:
				h.submit(s.ID, "a")
			case 1:
				if _, err := h.svc.Cancel(context.Background(), "frank", s.ID); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	accepted(t, r, n+2*n/3)
	h.idle()
	seen := map[string]int{}
	for _, d := range r.Deliveries() {
		seen[d.ID]++
		if d.VerifyErr != nil {
			t.Fatal(d.VerifyErr)
		}
	}
	if len(r.Deliveries()) != n+2*n/3 {
		t.Fatalf("%d requests for %d events", len(r.Deliveries()), n+2*n/3)
	}
	for id, c := range seen {
		if c != 1 {
			t.Fatalf("webhook %s delivered %d times", id, c)
		}
	}
	// Slack announced each question that was still pending when its turn
	// came, and said how it ended only after announcing it.
	poll.Until(t, 10*time.Second, func() error {
		if len(slack.Posts()) == 0 {
			return errNotYet
		}
		return nil
	})
	announced, ended := 0, 0
	for _, p := range slack.Posts() {
		if strings.HasPrefix(p.Text, "New question") {
			announced++
		} else {
			ended++
		}
	}
	if announced == 0 || ended > announced || announced > n {
		t.Fatalf("slack: %d announcements, %d end notices for %d questions", announced, ended, n)
	}
}

func TestKilledReplicaMidDeliveryIsTakenOverWithTheSameID(t *testing.T) {
	h := newHarness(t, channels.Defaults{})
	secret := channels.NewWebhookSecret()
	r := dispatchtest.NewWebhookReceiver(t, secret)
	held := make(chan struct{})
	release := make(chan int, 1)
	t.Cleanup(func() { // never leave the handler blocked
		select {
		case release <- http.StatusServiceUnavailable:
		default:
		}
	})
	r.Respond(func(n int, _ dispatchtest.WebhookDelivery) (int, http.Header) {
		if n == 1 {
			close(held)
			return <-release, nil
		}
		return http.StatusOK, nil
	})
	h.settings("grace", channels.Update{Webhooks: []channels.WebhookUpdate{hook(r, secret, false, channels.EventCreated)}})
	short := func(c *dispatch.Config) {
		c.SendTimeout = 500 * time.Millisecond
		c.AckWait = 1500 * time.Millisecond
	}
	a := h.start(short)
	h.create("grace", sessions.CreateRequest{Message: "Survive a crash"})
	select {
	case <-held:
	case <-time.After(15 * time.Second):
		t.Fatal("the first attempt never arrived")
	}
	killed := time.Now()
	a.kill()
	h.start(short)
	// The dead replica's request ends without an answer it could act on.
	release <- http.StatusServiceUnavailable
	got := accepted(t, r, 1)
	all := r.Deliveries()
	if len(all) != 2 || got[0].ID != all[0].ID {
		t.Fatalf("%d requests, ids %s and %s; want the takeover to reuse the id", len(all), all[0].ID, got[0].ID)
	}
	if since := got[0].At.Sub(killed); since < time.Second {
		t.Fatalf("taken over %s after the kill, before the ack wait ran out", since)
	}
}

func TestNotifyFalseKeepsAQuestionOffEveryChannel(t *testing.T) {
	h := newHarness(t, channels.Defaults{})
	secret := channels.NewWebhookSecret()
	r := dispatchtest.NewWebhookReceiver(t, secret)
	slack := dispatchtest.NewSlack(t)
	h.settings("heidi", channels.Update{Webhooks: []channels.WebhookUpdate{hook(r, secret, false)},
		Slack: &channels.SlackUpdate{WebhookURL: ptr(slack.URL)}})
	h.start()
	quiet := h.create("heidi", sessions.CreateRequest{Message: "Shh", Notify: ptr(false)})
	h.submit(quiet.ID)
	loud := h.create("heidi", sessions.CreateRequest{Message: "Hello", Notify: ptr(true)})
	accepted(t, r, 1)
	h.idle()
	for _, d := range r.Deliveries() {
		if data(t, d)["sessionId"] != loud.ID {
			t.Fatalf("a quiet question was notified: %s", d.Body)
		}
	}
	if p := slack.Posts(); len(p) != 1 || !strings.Contains(p[0].Text, "Hello") {
		t.Fatalf("slack posts %+v", p)
	}
}

func TestOperatorDefaultsReachPrivateAddressesAPrincipalsURLMayNot(t *testing.T) {
	secret := channels.NewWebhookSecret()
	ops := dispatchtest.NewWebhookReceiver(t, secret)
	h := newHarness(t, channels.Defaults{Webhook: &channels.Webhook{ID: channels.DefaultID, URL: ops.URL, Secret: secret}})
	mine := dispatchtest.NewWebhookReceiver(t, secret)
	// Saved while allowed (or through a name that has since rebound):
	// the dispatcher's own client still refuses it when it connects.
	h.settings("ivan", channels.Update{Webhooks: []channels.WebhookUpdate{hook(mine, secret, false)}})
	h.start(func(c *dispatch.Config) { c.Client = egress.New(egress.Options{}) })
	h.create("judy", sessions.CreateRequest{Message: "To the operator"})
	h.create("ivan", sessions.CreateRequest{Message: "To my own receiver"})
	accepted(t, ops, 1)
	poll.Until(t, 15*time.Second, func() error {
		out := h.outcomes("ivan", channels.KindWebhook)
		if len(out) != 1 || out[0].State != channels.Failed {
			return fmt.Errorf("outcomes %+v", out)
		}
		if !strings.Contains(out[0].Error, "loopback") {
			return fmt.Errorf("error %q does not say why", out[0].Error)
		}
		return nil
	})
	if n := len(mine.Deliveries()); n != 0 {
		t.Fatalf("a principal's loopback receiver got %d requests", n)
	}
	h.idle()
	if o := h.outcomes("judy", channels.KindWebhook); len(o) != 1 || !o[0].Default || o[0].State != channels.Delivered {
		t.Fatalf("judy's outcomes %+v", o)
	}
}
