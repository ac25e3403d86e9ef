package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"

	"github.com/feedbackd/feedbackd/notifier/dispatch"
	"github.com/feedbackd/feedbackd/pkg/egress"
	"github.com/feedbackd/feedbackd/pkg/metrics"
	"github.com/feedbackd/feedbackd/pkg/natsutil/natstest"
	"github.com/feedbackd/feedbackd/pkg/poll"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/channels"
	"github.com/feedbackd/feedbackd/sessions/natskv"
)

const publicURL = "https://feedback.example.com"

// testLimits lets sessions time out after a second.
var testLimits = func() sessions.Limits {
	l := sessions.DefaultLimits(30*time.Second, time.Hour)
	l.MinTimeout = time.Second
	return l
}()

// harness is an embedded NATS with the sessions and channels stores, and
// any number of dispatcher replicas, each on its own connection.
type harness struct {
	t        testing.TB
	ns       *natstest.Server
	svc      *sessions.Service
	chans    *channels.Service
	defaults channels.Defaults
	log      *slog.Logger
}

func newHarness(t testing.TB, defaults channels.Defaults) *harness {
	t.Helper()
	ns := natstest.Start(t)
	ctx := context.Background()
	store, err := natskv.Open(ctx, ns.JS, natskv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := natskv.OpenChannels(ctx, ns.JS, natskv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("DISPATCH_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return &harness{
		t: t, ns: ns, defaults: defaults, log: log,
		svc:   sessions.NewService(store, sessions.NewHub(), sessions.WithLimits(testLimits)),
		chans: channels.NewService(cs, defaults, nil),
	}
}

// replica is one dispatcher with its own NATS connection.
type replica struct {
	nc     *nats.Conn
	d      *dispatch.Dispatcher
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// fast is the configuration of a test replica: local fakes (so private
// addresses are allowed) and short retries.
func fast(cfg *dispatch.Config) {
	cfg.Client = egress.New(egress.Options{AllowPrivate: true})
	cfg.RetryBase = 50 * time.Millisecond
	cfg.RetryMax = 400 * time.Millisecond
	cfg.SendTimeout = 2 * time.Second
	cfg.AckWait = 4 * time.Second
	cfg.Workers = 8
}

// config is a valid configuration over js, as fast makes it.
func (h *harness) config(js jetstream.JetStream) dispatch.Config {
	h.t.Helper()
	ctx := context.Background()
	store, err := natskv.Open(ctx, js, natskv.Options{})
	if err != nil {
		h.t.Fatal(err)
	}
	cs, err := natskv.OpenChannels(ctx, js, natskv.Options{})
	if err != nil {
		h.t.Fatal(err)
	}
	cfg := dispatch.Config{
		JetStream: js,
		Store:     store,
		Service:   sessions.NewService(store, sessions.NewHub(), sessions.WithLimits(testLimits)),
		Channels:  channels.NewService(cs, h.defaults, nil),
		PublicURL: publicURL,
		Log:       h.log,
	}
	fast(&cfg)
	return cfg
}

// start runs a replica configured by fast and then opts, on a connection of
// its own, stopped when the test ends.
func (h *harness) start(opts ...func(*dispatch.Config)) *replica {
	h.t.Helper()
	ctx := context.Background()
	nc, js := h.ns.Connect(h.t)
	cfg := h.config(js)
	for _, o := range opts {
		o(&cfg)
	}
	d, err := dispatch.New(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	r := &replica{nc: nc, d: d, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- d.Run(rctx) }()
	h.t.Cleanup(r.stop)
	h.waitConsumers()
	return r
}

// stop ends the replica and waits for Run to return.
func (r *replica) stop() {
	r.once.Do(func() {
		r.cancel()
		<-r.done
	})
}

// kill closes the replica's NATS connection at once, as a crash would: it
// can neither ack nor hand back what it holds.
func (r *replica) kill() {
	r.nc.Close()
	r.cancel()
}

// waitConsumers waits until the dispatcher's durable consumers exist.
func (h *harness) waitConsumers() {
	h.t.Helper()
	poll.Until(h.t, 10*time.Second, func() error {
		ctx := context.Background()
		if _, err := h.ns.JS.Consumer(ctx, "KV_"+natskv.DefaultBucket, dispatch.FeedConsumer); err != nil {
			return err
		}
		_, err := h.ns.JS.Consumer(ctx, dispatch.Stream, dispatch.DeliveryConsumer)
		return err
	})
}

// idle waits until every feed version and every job has been handled, so
// nothing more will be delivered unless something new happens.
func (h *harness) idle() {
	h.t.Helper()
	poll.Until(h.t, 20*time.Second, func() error {
		ctx := context.Background()
		for _, c := range [][2]string{{"KV_" + natskv.DefaultBucket, dispatch.FeedConsumer}, {dispatch.Stream, dispatch.DeliveryConsumer}} {
			cons, err := h.ns.JS.Consumer(ctx, c[0], c[1])
			if err != nil {
				return err
			}
			info, err := cons.Info(ctx)
			if err != nil {
				return err
			}
			if info.NumPending != 0 || info.NumAckPending != 0 {
				return fmt.Errorf("%s on %s: %d pending, %d in flight", c[1], c[0], info.NumPending, info.NumAckPending)
			}
		}
		return nil
	})
}

func (h *harness) create(owner string, req sessions.CreateRequest) *sessions.Session {
	h.t.Helper()
	s, err := h.svc.Create(context.Background(), owner, &req)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func (h *harness) submit(id string, opts ...string) {
	h.t.Helper()
	req := &sessions.SubmitRequest{SelectedOptions: opts}
	if len(opts) == 0 {
		req.FreeText = ptr("fine by me")
	}
	if _, err := h.svc.Submit(context.Background(), id, req); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) settings(owner string, u channels.Update) *channels.View {
	h.t.Helper()
	v, err := h.chans.Update(context.Background(), owner, &u)
	if err != nil {
		h.t.Fatal(err)
	}
	return v
}

func (h *harness) outcomes(owner string, kind channels.Kind) []channels.Outcome {
	h.t.Helper()
	r, err := h.chans.Recent(context.Background(), owner)
	if err != nil {
		h.t.Fatal(err)
	}
	return r[kind]
}

// counter reads feedbackd_dispatch_deliveries_total{channel, outcome}.
func counter(t testing.TB, channel, outcome string) float64 {
	t.Helper()
	fams, err := metrics.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != "feedbackd_dispatch_deliveries_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			if label(m, "channel") == channel && label(m, "outcome") == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func ptr[T any](v T) *T { return &v }

var errNotYet = errors.New("not yet")
