package dispatch_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedbackd/feedbackd/notifier/dispatch"
	"github.com/feedbackd/feedbackd/notifier/dispatch/dispatchtest"
	"github.com/feedbackd/feedbackd/pkg/natsutil/natstest"
	"github.com/feedbackd/feedbackd/pkg/poll"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/channels"
	"github.com/feedbackd/feedbackd/sessions/natskv"
)

// retry runs open until it succeeds, while a new cluster elects its
// JetStream leaders.
func retry[T any](t *testing.T, open func(context.Context) (T, error)) T {
	t.Helper()
	var v T
	poll.Until(t, 60*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var err error
		v, err = open(ctx)
		return err
	})
	return v
}

// Replicas on different members of a 3-node cluster share one R3 stream,
// records bucket and pair of consumers, and deliver created then completed
// once each.
func TestReplicatedDispatchersOnAClusterDeliverOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	nodes := natstest.StartCluster(t, 3)
	secret := channels.NewWebhookSecret()
	r := dispatchtest.NewWebhookReceiver(t, secret)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("DISPATCH_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	var svc *sessions.Service
	for i, n := range []*natstest.Server{nodes[0], nodes[2]} {
		js := n.JS
		store := retry(t, func(ctx context.Context) (*natskv.Store, error) {
			return natskv.Open(ctx, js, natskv.Options{Replicas: 3})
		})
		cs := retry(t, func(ctx context.Context) (*natskv.ChannelStore, error) {
			return natskv.OpenChannels(ctx, js, natskv.Options{Replicas: 3})
		})
		chans := channels.NewService(cs, channels.Defaults{}, nil)
		sv := sessions.NewService(store, sessions.NewHub(), sessions.WithLimits(testLimits))
		if i == 0 {
			svc = sv
			if _, err := chans.Update(context.Background(), "kim", &channels.Update{
				Webhooks: []channels.WebhookUpdate{{URL: r.URL, Secret: ptr(secret)}}}); err != nil {
				t.Fatal(err)
			}
		}
		cfg := dispatch.Config{JetStream: js, Store: store, Service: sv, Channels: chans, PublicURL: publicURL,
			Log: log, Replicas: 3}
		fast(&cfg)
		d, err := dispatch.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = d.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	ctx := context.Background()
	// Electing the leaders of three new R3 assets can take a while on a
	// loaded machine; the replicas retry until it is done.
	retry(t, func(ctx context.Context) (jetstream.Consumer, error) {
		return nodes[1].JS.Consumer(ctx, "KV_"+natskv.DefaultBucket, dispatch.FeedConsumer)
	})
	s, err := svc.Create(ctx, "kim", &sessions.CreateRequest{Message: "Replicated?", Timeout: ptrNum("600")})
	if err != nil {
		t.Fatal(err)
	}
	got := accepted(t, r, 1)
	if _, err := svc.Submit(ctx, s.ID, &sessions.SubmitRequest{FreeText: ptr("yes")}); err != nil {
		t.Fatal(err)
	}
	got = accepted(t, r, 2)
	if got[0].Type != "session.created" || got[1].Type != "session.completed" {
		t.Fatalf("events %s, %s", got[0].Type, got[1].Type)
	}
	st := retry(t, func(ctx context.Context) (jetstream.Stream, error) { return nodes[1].JS.Stream(ctx, dispatch.Stream) })
	if c := st.CachedInfo().Config; c.Replicas != 3 || !c.DiscardNewPerSubject || c.MaxMsgsPerSubject != 1 {
		t.Fatalf("stream config %+v", c)
	}
	// Everything handled: no duplicate can follow.
	poll.Until(t, 20*time.Second, func() error {
		info, err := st.Info(ctx)
		if err != nil {
			return err
		}
		if info.State.Msgs != 0 {
			return errNotYet
		}
		return nil
	})
	if n := len(r.Deliveries()); n != 2 {
		t.Fatalf("%d requests for two events", n)
	}
}
