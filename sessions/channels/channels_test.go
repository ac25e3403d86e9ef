package channels_test

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/pkg/egress"
	"github.com/feedbackd/feedbackd/pkg/natsutil/natstest"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/channels"
	"github.com/feedbackd/feedbackd/sessions/natskv"
)

func newService(t *testing.T, defaults channels.Defaults, check channels.URLChecker) (*channels.Service, *natskv.ChannelStore) {
	t.Helper()
	ns := natstest.Start(t)
	store, err := natskv.OpenChannels(context.Background(), ns.JS, natskv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return channels.NewService(store, defaults, check), store
}

// publicChecker accepts the documentation's example hosts as public and
// otherwise applies the real policy, so tests need no outside DNS.
type publicChecker struct{ c *egress.Client }

func (p publicChecker) CheckURL(ctx context.Context, raw string) error {
	if strings.Contains(raw, ".example.com") {
		_, err := egress.ParseURL(raw)
		return err
	}
	return p.c.CheckURL(ctx, raw)
}

func strict() channels.URLChecker { return publicChecker{egress.New(egress.Options{})} }

func ptr[T any](v T) *T { return &v }

var secret = channels.NewWebhookSecret()

func fieldOf(t *testing.T, err error) (string, string) {
	t.Helper()
	var e *sessions.Error
	if !errors.As(err, &e) || e.Code != sessions.CodeInvalidRequest {
		t.Fatalf("got %v, want INVALID_REQUEST", err)
	}
	return e.Field, e.Reason
}

func TestUpdateStoresSettingsAndTheViewNeverShowsASecret(t *testing.T) {
	svc, _ := newService(t, channels.Defaults{}, strict())
	ctx := context.Background()
	slackURL := "https://hooks.example.com/services/T000/B000/XXXXSECRETXXXX"
	v, err := svc.Update(ctx, "alice", &channels.Update{
		Webhooks: []channels.WebhookUpdate{{URL: "https://hooks.example.com/a", Secret: ptr(secret),
			Events: []channels.Event{channels.EventCompleted, channels.EventCompleted}, IncludeAnswer: true}},
		Telegram: &channels.Telegram{ChatID: "-100123456"},
		Slack:    &channels.SlackUpdate{WebhookURL: ptr(slackURL)},
		Ntfy:     &channels.NtfyUpdate{URL: "https://ntfy.example.com/alice-q", Token: ptr("tk_supersecrettoken")},
	})
	if err != nil {
		t.Fatal(err)
	}
	sub := pushInput(t, "https://push.example.com/send/abc")
	if _, err := svc.AddPushSubscription(ctx, "alice", sub); err != nil {
		t.Fatal(err)
	}
	v, err = svc.View(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(v)
	for _, s := range []string{secret, strings.TrimPrefix(secret, "whsec_"), "XXXXSECRETXXXX", "tk_supersecrettoken", sub.Keys.P256dh, sub.Keys.Auth, "/send/abc"} {
		if strings.Contains(string(data), s) {
			t.Fatalf("the view shows a secret %q: %s", s, data)
		}
	}
	if len(v.Webhooks) != 1 || !v.Webhooks[0].HasSecret || !v.Webhooks[0].IncludeAnswer ||
		len(v.Webhooks[0].Events) != 1 || !strings.HasPrefix(v.Webhooks[0].ID, "wh_") {
		t.Fatalf("webhooks view %+v", v.Webhooks)
	}
	if v.Slack == nil || !v.Slack.HasWebhookURL || v.Slack.Host != "hooks.example.com" || v.Ntfy == nil || !v.Ntfy.HasToken ||
		v.Telegram.ChatID != "-100123456" || len(v.WebPush) != 1 || v.WebPush[0].Host != "push.example.com" || v.UpdatedAt == nil {
		t.Fatalf("view %s", data)
	}
	for _, k := range channels.Kinds {
		if v.Sources[k] != channels.SourceOwn {
			t.Errorf("source of %s = %s, want own", k, v.Sources[k])
		}
	}
	st, err := svc.Settings(ctx, "alice")
	if err != nil || st.Webhooks[0].Secret != secret || st.Slack.WebhookURL != slackURL || st.Ntfy.Token != "tk_supersecrettoken" {
		t.Fatalf("stored settings lost a secret: %+v, %v", st, err)
	}
}

func TestUpdateKeepsSecretsThatAreLeftOut(t *testing.T) {
	svc, _ := newService(t, channels.Defaults{}, strict())
	ctx := context.Background()
	v, err := svc.Update(ctx, "alice", &channels.Update{
		Webhooks: []channels.WebhookUpdate{{URL: "https://hooks.example.com/a", Secret: ptr(secret)}},
		Slack:    &channels.SlackUpdate{WebhookURL: ptr("https://hooks.example.com/services/1")},
		Ntfy:     &channels.NtfyUpdate{URL: "https://ntfy.example.com/t1", Token: ptr("tk_1")},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := v.Webhooks[0].ID
	// The settings view sends back what it shows: ids, no secrets.
	if _, err := svc.Update(ctx, "alice", &channels.Update{
		Webhooks: []channels.WebhookUpdate{{ID: id, URL: "https://hooks.example.com/b"}},
		Slack:    &channels.SlackUpdate{},
		Ntfy:     &channels.NtfyUpdate{URL: "https://ntfy.example.com/t2"},
	}); err != nil {
		t.Fatal(err)
	}
	st, _ := svc.Settings(ctx, "alice")
	if st.Webhooks[0].ID != id || st.Webhooks[0].Secret != secret || st.Webhooks[0].URL != "https://hooks.example.com/b" ||
		st.Slack.WebhookURL != "https://hooks.example.com/services/1" || st.Ntfy.Token != "tk_1" || st.Ntfy.URL != "https://ntfy.example.com/t2" {
		t.Fatalf("after an update without secrets: %+v %+v %+v", st.Webhooks, st.Slack, st.Ntfy)
	}
	// An empty token clears it; leaving a channel out removes it.
	if _, err := svc.Update(ctx, "alice", &channels.Update{Ntfy: &channels.NtfyUpdate{URL: "https://ntfy.example.com/t2", Token: ptr("")}}); err != nil {
		t.Fatal(err)
	}
	st, _ = svc.Settings(ctx, "alice")
	if st.Ntfy.Token != "" || st.Slack != nil || len(st.Webhooks) != 0 {
		t.Fatalf("after clearing: %+v", st)
	}
	// A webhook id that is not (or no longer) the principal's is refused.
	_, err = svc.Update(ctx, "alice", &channels.Update{Webhooks: []channels.WebhookUpdate{{ID: id, URL: "https://hooks.example.com/c"}}})
	if f, _ := fieldOf(t, err); f != "webhooks[0].id" {
		t.Fatalf("field %q", f)
	}
	// Another principal cannot adopt alice's webhook id (and so its secret).
	if _, err := svc.Update(ctx, "alice", &channels.Update{Webhooks: []channels.WebhookUpdate{{URL: "https://hooks.example.com/a", Secret: ptr(secret)}}}); err != nil {
		t.Fatal(err)
	}
	st, _ = svc.Settings(ctx, "alice")
	_, err = svc.Update(ctx, "bob", &channels.Update{Webhooks: []channels.WebhookUpdate{{ID: st.Webhooks[0].ID, URL: "https://hooks.example.com/bob"}}})
	if f, _ := fieldOf(t, err); f != "webhooks[0].id" {
		t.Fatalf("bob adopting alice's webhook: field %q", f)
	}
}

func TestUpdateRefusesBadInputNamingTheField(t *testing.T) {
	svc, _ := newService(t, channels.Defaults{}, strict())
	ctx := context.Background()
	hook := func(w channels.WebhookUpdate) *channels.Update {
		return &channels.Update{Webhooks: []channels.WebhookUpdate{w}}
	}
	short := "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 16))
	for _, tc := range []struct {
		name   string
		u      *channels.Update
		field  string
		reason string
	}{
		{"no secret", hook(channels.WebhookUpdate{URL: "https://hooks.example.com/a"}), "webhooks[0].secret", "required"},
		{"secret without prefix", hook(channels.WebhookUpdate{URL: "https://hooks.example.com/a", Secret: ptr(strings.TrimPrefix(secret, "whsec_"))}), "webhooks[0].secret", "whsec_"},
		{"secret not base64", hook(channels.WebhookUpdate{URL: "https://hooks.example.com/a", Secret: ptr("whsec_!!!")}), "webhooks[0].secret", "base64"},
		{"secret too short", hook(channels.WebhookUpdate{URL: "https://hooks.example.com/a", Secret: ptr(short)}), "webhooks[0].secret", "between 24 and 64"},
		{"relative url", hook(channels.WebhookUpdate{URL: "/hook", Secret: ptr(secret)}), "webhooks[0].url", "absolute"},
		{"ftp url", hook(channels.WebhookUpdate{URL: "ftp://hooks.example.com/", Secret: ptr(secret)}), "webhooks[0].url", "scheme"},
		{"credentials in url", hook(channels.WebhookUpdate{URL: "https://u:p@hooks.example.com/", Secret: ptr(secret)}), "webhooks[0].url", "password"},
		{"loopback", hook(channels.WebhookUpdate{URL: "http://127.0.0.1:8080/hook", Secret: ptr(secret)}), "webhooks[0].url", "loopback"},
		{"private", hook(channels.WebhookUpdate{URL: "http://10.0.0.8/hook", Secret: ptr(secret)}), "webhooks[0].url", "private"},
		{"metadata", hook(channels.WebhookUpdate{URL: "http://169.254.169.254/latest", Secret: ptr(secret)}), "webhooks[0].url", "link-local"},
		{"ipv6 loopback", hook(channels.WebhookUpdate{URL: "http://[::1]/", Secret: ptr(secret)}), "webhooks[0].url", "loopback"},
		{"mapped loopback", hook(channels.WebhookUpdate{URL: "http://[::ffff:127.0.0.1]/", Secret: ptr(secret)}), "webhooks[0].url", "loopback"},
		{"name of loopback", hook(channels.WebhookUpdate{URL: "http://localhost:8787/", Secret: ptr(secret)}), "webhooks[0].url", "localhost resolves to"},
		{"unknown event", hook(channels.WebhookUpdate{URL: "https://hooks.example.com/a", Secret: ptr(secret), Events: []channels.Event{"session.updated"}}), "webhooks[0].events[0]", "one of"},
		{"too many webhooks", &channels.Update{Webhooks: make([]channels.WebhookUpdate, 6)}, "webhooks", "at most 5"},
		{"chat id", &channels.Update{Telegram: &channels.Telegram{ChatID: "12 34"}}, "telegram.chatId", "numeric"},
		{"channel name", &channels.Update{Telegram: &channels.Telegram{ChatID: "@my_channel"}}, "telegram.chatId", "numeric"},
		{"leading zero", &channels.Update{Telegram: &channels.Telegram{ChatID: "0123"}}, "telegram.chatId", "numeric"},
		{"slack missing", &channels.Update{Slack: &channels.SlackUpdate{}}, "slack.webhookUrl", "required"},
		{"slack private", &channels.Update{Slack: &channels.SlackUpdate{WebhookURL: ptr("http://192.168.1.2/hook")}}, "slack.webhookUrl", "private"},
		{"ntfy no topic", &channels.Update{Ntfy: &channels.NtfyUpdate{URL: "https://ntfy.example.com/"}}, "ntfy.url", "topic URL"},
		{"ntfy query", &channels.Update{Ntfy: &channels.NtfyUpdate{URL: "https://ntfy.example.com/t?x=1"}}, "ntfy.url", "topic URL"},
		{"ntfy loopback", &channels.Update{Ntfy: &channels.NtfyUpdate{URL: "http://127.0.0.1/topic"}}, "ntfy.url", "loopback"},
		{"ntfy token", &channels.Update{Ntfy: &channels.NtfyUpdate{URL: "https://ntfy.example.com/t", Token: ptr("a b")}}, "ntfy.token", "printable"},
		{"disabled", &channels.Update{Disabled: []channels.Kind{"email"}}, "disabled[0]", "one of"},
	} {
		_, err := svc.Update(ctx, "alice", tc.u)
		field, reason := fieldOf(t, err)
		if field != tc.field || !strings.Contains(reason, tc.reason) {
			t.Errorf("%s: %s: %s, want %s mentioning %q", tc.name, field, reason, tc.field, tc.reason)
		}
	}
	if st, _ := svc.Settings(ctx, "alice"); st.Revision != 0 {
		t.Fatalf("a refused update stored something: %+v", st)
	}
	// With private addresses allowed, the same local URL is accepted.
	open, _ := newService(t, channels.Defaults{}, egress.New(egress.Options{AllowPrivate: true}))
	if _, err := open.Update(ctx, "alice", hook(channels.WebhookUpdate{URL: "http://127.0.0.1:8080/hook", Secret: ptr(secret)})); err != nil {
		t.Fatalf("WEBHOOK_ALLOW_PRIVATE: %v", err)
	}
}

func TestDefaultsApplyPerChannelUntilThePrincipalSetsItsOwnOrTurnsItOff(t *testing.T) {
	defaults := channels.Defaults{
		Webhook: &channels.Webhook{ID: channels.DefaultID, URL: "http://10.0.0.5/hook", Secret: secret},
		Slack:   &channels.Slack{WebhookURL: "https://hooks.example.com/services/ops"},
		Ntfy:    &channels.Ntfy{URL: "http://192.168.1.9/feedback"},
	}
	svc, _ := newService(t, defaults, strict())
	ctx := context.Background()
	kinds := func(owner string) string {
		ds, err := svc.Destinations(ctx, owner)
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, d := range ds {
			s = append(s, fmt.Sprintf("%s/%s/%v", d.Kind, d.ID, d.Default))
		}
		return strings.Join(s, " ")
	}
	if got, want := kinds("carol"), "webhook/default/true slack/default/true ntfy/default/true"; got != want {
		t.Fatalf("no settings: %s, want %s", got, want)
	}
	v, err := svc.Update(ctx, "carol", &channels.Update{
		Slack:    &channels.SlackUpdate{WebhookURL: ptr("https://hooks.example.com/services/carol")},
		Disabled: []channels.Kind{channels.KindNtfy},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := kinds("carol"), "webhook/default/true slack/own/false"; got != want {
		t.Fatalf("own Slack, ntfy off: %s, want %s", got, want)
	}
	want := map[channels.Kind]channels.Source{channels.KindWebhook: channels.SourceDefault, channels.KindSlack: channels.SourceOwn,
		channels.KindNtfy: channels.SourceOff, channels.KindTelegram: channels.SourceNone, channels.KindWebPush: channels.SourceNone}
	for k, s := range want {
		if v.Sources[k] != s {
			t.Errorf("source of %s = %s, want %s", k, v.Sources[k], s)
		}
	}
	d, err := svc.Destination(ctx, "carol", channels.KindSlack, channels.OwnID)
	if err != nil || d == nil || d.Slack.WebhookURL != "https://hooks.example.com/services/carol" {
		t.Fatalf("destination %+v, %v", d, err)
	}
	if d, _ := svc.Destination(ctx, "carol", channels.KindNtfy, channels.DefaultID); d != nil {
		t.Fatalf("a default the principal turned off still resolves: %+v", d)
	}
}

func TestDefaultsValidateNamesTheVariable(t *testing.T) {
	for _, tc := range []struct {
		d    channels.Defaults
		want string
	}{
		{channels.Defaults{Webhook: &channels.Webhook{URL: "nope", Secret: secret}}, "NOTIFY_WEBHOOK_URL"},
		{channels.Defaults{Webhook: &channels.Webhook{URL: "https://h.example.com", Secret: "abc"}}, "NOTIFY_WEBHOOK_SECRET"},
		{channels.Defaults{Telegram: &channels.Telegram{ChatID: "x"}}, "TELEGRAM_CHAT_ID"},
		{channels.Defaults{Telegram: &channels.Telegram{ChatID: "@my_channel"}}, "TELEGRAM_CHAT_ID"},
		{channels.Defaults{Slack: &channels.Slack{WebhookURL: "hooks.slack.com/x"}}, "SLACK_WEBHOOK_URL"},
		{channels.Defaults{Ntfy: &channels.Ntfy{URL: "https://ntfy.sh/"}}, "NTFY_URL"},
	} {
		if err := tc.d.Validate(); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error naming %s", tc.d, err, tc.want)
		}
	}
	if err := (channels.Defaults{Ntfy: &channels.Ntfy{URL: "http://127.0.0.1/q"}, Telegram: &channels.Telegram{ChatID: "-1001234567890"}}).Validate(); err != nil {
		t.Fatalf("trusted local defaults refused: %v", err)
	}
}

func pushInput(t *testing.T, endpoint string) *channels.PushSubscriptionInput {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	auth := make([]byte, 16)
	_, _ = rand.Read(auth)
	in := &channels.PushSubscriptionInput{Endpoint: endpoint}
	in.Keys.P256dh = base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes())
	in.Keys.Auth = base64.RawURLEncoding.EncodeToString(auth)
	return in
}

func TestPushSubscriptionsAreCheckedReplacedAndCapped(t *testing.T) {
	svc, _ := newService(t, channels.Defaults{}, strict())
	ctx := context.Background()
	bad := func(mut func(*channels.PushSubscriptionInput), field, reason string) {
		t.Helper()
		in := pushInput(t, "https://push.example.com/x")
		mut(in)
		_, err := svc.AddPushSubscription(ctx, "dave", in)
		if f, r := fieldOf(t, err); f != field || !strings.Contains(r, reason) {
			t.Errorf("%s: %s, want %s mentioning %q", f, r, field, reason)
		}
	}
	bad(func(in *channels.PushSubscriptionInput) { in.Endpoint = "http://push.example.com/x" }, "endpoint", "https")
	bad(func(in *channels.PushSubscriptionInput) { in.Endpoint = "https://127.0.0.1/x" }, "endpoint", "loopback")
	bad(func(in *channels.PushSubscriptionInput) { in.Keys.P256dh = "AAAA" }, "keys.p256dh", "65 bytes")
	bad(func(in *channels.PushSubscriptionInput) {
		b := make([]byte, 65)
		b[0] = 4
		in.Keys.P256dh = base64.RawURLEncoding.EncodeToString(b)
	}, "keys.p256dh", "P-256")
	bad(func(in *channels.PushSubscriptionInput) {
		in.Keys.Auth = base64.RawURLEncoding.EncodeToString(make([]byte, 8))
	}, "keys.auth", "16 bytes")

	first := pushInput(t, "https://push.example.com/1")
	if _, err := svc.AddPushSubscription(ctx, "dave", first); err != nil {
		t.Fatal(err)
	}
	again := pushInput(t, "https://push.example.com/1") // same browser, new keys
	v, err := svc.AddPushSubscription(ctx, "dave", again)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := svc.Settings(ctx, "dave")
	if len(st.WebPush) != 1 || st.WebPush[0].P256dh != again.Keys.P256dh {
		t.Fatalf("resubscribing did not replace: %+v", st.WebPush)
	}
	for i := range channels.MaxPushSubscriptions + 2 {
		if _, err := svc.AddPushSubscription(ctx, "dave", pushInput(t, fmt.Sprintf("https://push.example.com/n%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	st, _ = svc.Settings(ctx, "dave")
	if len(st.WebPush) != channels.MaxPushSubscriptions || st.WebPush[len(st.WebPush)-1].Endpoint != fmt.Sprintf("https://push.example.com/n%d", channels.MaxPushSubscriptions+1) {
		t.Fatalf("%d subscriptions, newest %s", len(st.WebPush), st.WebPush[len(st.WebPush)-1].Endpoint)
	}
	if slicesHasEndpoint(st.WebPush, "https://push.example.com/1") {
		t.Fatal("the oldest subscription was kept beyond the cap")
	}
	if err := svc.RemovePushSubscription(ctx, "dave", st.WebPush[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := svc.RemovePushSubscription(ctx, "dave", v.ID); err != nil {
		t.Fatalf("removing an absent subscription: %v", err)
	}
	if st2, _ := svc.Settings(ctx, "dave"); len(st2.WebPush) != channels.MaxPushSubscriptions-1 {
		t.Fatalf("%d after removing one", len(st2.WebPush))
	}
}

func slicesHasEndpoint(subs []channels.PushSubscription, ep string) bool {
	for _, s := range subs {
		if s.Endpoint == ep {
			return true
		}
	}
	return false
}

func TestConcurrentChangesAreNeverLost(t *testing.T) {
	svc, _ := newService(t, channels.Defaults{}, strict())
	ctx := context.Background()
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Go(func() {
			_, err := svc.AddPushSubscription(ctx, "erin", pushInput(t, fmt.Sprintf("https://push.example.com/%d", i)))
			errs <- err
		})
		wg.Go(func() {
			errs <- svc.RecordOutcome(ctx, "erin", channels.KindSlack, channels.Outcome{ID: fmt.Sprintf("msg_%d", i), State: channels.Delivered, At: time.Now()})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	st, _ := svc.Settings(ctx, "erin")
	recent, err := svc.Recent(ctx, "erin")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.WebPush) != n || len(recent[channels.KindSlack]) != n {
		t.Fatalf("%d subscriptions and %d outcomes after %d concurrent writes of each", len(st.WebPush), len(recent[channels.KindSlack]), n)
	}
}

// Two dispatchers of 32 workers each record the outcomes of one busy
// principal on one key: every record must land, not give up after a few
// collisions (the chaos run logged "still conflicting" at ~15 events/s).
func TestOutcomesOfOneBusyPrincipalAllLand(t *testing.T) {
	svc, _ := newService(t, channels.Defaults{}, strict())
	ctx := context.Background()
	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			errs <- svc.RecordOutcome(ctx, "gina", channels.KindWebhook, channels.Outcome{ID: fmt.Sprintf("msg_%02d", i), State: channels.Delivered, At: time.Now()})
		})
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			failed++
			t.Log(err)
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d concurrent outcome records failed", failed, n)
	}
	recent, err := svc.Recent(ctx, "gina")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(recent[channels.KindWebhook]); got != channels.RecentOutcomes {
		t.Fatalf("%d outcomes kept, want the newest %d", got, channels.RecentOutcomes)
	}
}

func TestRecentOutcomesKeepTheNewestAndUpdateADeliveryInPlace(t *testing.T) {
	svc, _ := newService(t, channels.Defaults{}, nil)
	ctx := context.Background()
	for i := range channels.RecentOutcomes + 5 {
		if err := svc.RecordOutcome(ctx, "frank", channels.KindWebhook, channels.Outcome{ID: fmt.Sprintf("msg_%02d", i), State: channels.Retrying, Attempts: 1}); err != nil {
			t.Fatal(err)
		}
	}
	// A retry's outcome replaces the earlier one and moves to the top.
	if err := svc.RecordOutcome(ctx, "frank", channels.KindWebhook, channels.Outcome{ID: "msg_10", State: channels.Delivered, Attempts: 2}); err != nil {
		t.Fatal(err)
	}
	recent, err := svc.Recent(ctx, "frank")
	if err != nil {
		t.Fatal(err)
	}
	got := recent[channels.KindWebhook]
	if len(got) != channels.RecentOutcomes || got[0].ID != "msg_10" || got[0].State != channels.Delivered || got[1].ID != "msg_24" {
		t.Fatalf("%d outcomes, first %+v, second %+v", len(got), got[0], got[1])
	}
	for _, o := range got[1:] {
		if o.ID == "msg_10" {
			t.Fatal("a delivery appears twice")
		}
	}
	if _, ok := recent[channels.KindSlack]; ok {
		t.Fatal("a channel without outcomes is listed")
	}
	if other, _ := svc.Recent(ctx, "grace"); len(other) != 0 {
		t.Fatalf("another principal sees %v", other)
	}
}

func TestDecodeUpdateIsStrict(t *testing.T) {
	for _, tc := range []struct{ body, field string }{
		{`[]`, "body"},
		{``, "body"},
		{`{"webhooks":{}}`, "webhooks"},
		{`{"webhooks":[{"url":1}]}`, "webhooks.url"},
		{`{"slack":{"webhookUrl":"x","extra":1}}`, "extra"},
		{`{"telegram":{"chatId":"1"}} {}`, "body"},
		{`{"webhooks":[`, "body"},
		{`{"disabled":"slack"}`, "disabled"},
		{`{"webhooks":[{"includeAnswer":"yes"}]}`, "webhooks.includeAnswer"},
		{`{"x":"` + strings.Repeat("a", channels.MaxUpdateBytes) + `"}`, "body"},
	} {
		_, err := channels.DecodeUpdate([]byte(tc.body))
		if f, _ := fieldOf(t, err); f != tc.field {
			t.Errorf("%.60s: field %q, want %q", tc.body, f, tc.field)
		}
	}
	u, err := channels.DecodeUpdate([]byte(`{"webhooks":[{"url":"https://h.example.com","secret":"whsec_x","events":["session.created"]}],"slack":{},"ntfy":null,"disabled":["telegram"]}`))
	if err != nil || len(u.Webhooks) != 1 || *u.Webhooks[0].Secret != "whsec_x" || u.Slack == nil || u.Slack.WebhookURL != nil || u.Ntfy != nil {
		t.Fatalf("%+v, %v", u, err)
	}
	p, err := channels.DecodePushSubscription([]byte(`{"endpoint":"https://p.example.com/1","expirationTime":null,"keys":{"p256dh":"a","auth":"b"}}`))
	if err != nil || p.Keys.Auth != "b" {
		t.Fatalf("%+v, %v", p, err)
	}
}
