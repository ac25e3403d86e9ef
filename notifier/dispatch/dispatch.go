package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedbackd/feedbackd/notifier/dispatch/telegram"
	"github.com/feedbackd/feedbackd/notifier/dispatch/webpush"
	"github.com/feedbackd/feedbackd/pkg/egress"
	"github.com/feedbackd/feedbackd/pkg/natsutil"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/channels"
	"github.com/feedbackd/feedbackd/sessions/natskv"
)

// Config is what a dispatcher replica needs. Zero durations take the
// defaults in brackets.
type Config struct {
	// JetStream reaches the NATS that holds the sessions bucket.
	JetStream jetstream.JetStream
	// Store is the sessions bucket; the dispatcher follows its stream.
	Store *natskv.Store
	// Service reads a session's current state before it is announced.
	Service *sessions.Service
	// Channels resolves owners' destinations and keeps delivery outcomes.
	Channels *channels.Service
	// PublicURL is the base of the links in notifications, e.g.
	// https://feedback.example.com (no trailing slash needed).
	PublicURL string
	// Client sends to principals' destinations; it should refuse private
	// addresses (egress.Options{}), unless WEBHOOK_ALLOW_PRIVATE=true.
	// [egress.New(egress.Options{})]
	Client *egress.Client
	// TrustedClient sends to the operator's default destinations, which
	// may be private. [egress.New(egress.Options{AllowPrivate: true})]
	TrustedClient *egress.Client
	// Telegram and WebPush turn those channels on; nil leaves the channel
	// off (destinations of it are skipped).
	Telegram *TelegramConfig
	WebPush  *WebPushConfig
	// Log receives what the dispatcher has to say [slog.Default].
	Log *slog.Logger
	// Replicas of the deliveries stream and records bucket: 1, or 3 on a
	// NATS cluster [1].
	Replicas int
	// Workers is how many deliveries this replica makes at once [32].
	Workers int
	// MaxAge is how long a delivery is retried before it is given up [24h].
	MaxAge time.Duration
	// RetryBase and RetryMax shape the backoff: the n-th retry waits
	// RetryBase·2^(n-1), at most RetryMax, with jitter (half to all of it)
	// [2s, 1h].
	RetryBase time.Duration
	RetryMax  time.Duration
	// SendTimeout bounds one attempt [15s].
	SendTimeout time.Duration
	// AckWait is how long a job held by a replica that died waits before
	// another takes it [SendTimeout + 30s].
	AckWait time.Duration
	// FeedAckWait is the same for a feed message [30s].
	FeedAckWait time.Duration
	// CatchUp is how far back a newly created feed consumer starts, so that
	// adding a dispatcher to a running cluster notifies recent sessions but
	// does not replay a day of them [1h].
	CatchUp time.Duration
	// RecordTTL is how long a finished delivery is remembered. An end
	// notice may look up its announcement as late as the longest timeout
	// plus MaxAge plus RetryMax after it [that, plus an hour].
	RecordTTL time.Duration
}

// Dispatcher is one dispatcher replica.
type Dispatcher struct {
	cfg      Config
	log      *slog.Logger
	channels map[channels.Kind]Channel
	// records and stream are set up by each run, before any handler runs.
	records *records
	stream  jetstream.Stream
}

// New checks cfg and returns a replica; Run starts it.
func New(cfg Config) (*Dispatcher, error) {
	if cfg.JetStream == nil || cfg.Store == nil || cfg.Service == nil || cfg.Channels == nil {
		return nil, errors.New("dispatch: JetStream, Store, Service and Channels are required")
	}
	if cfg.PublicURL == "" {
		return nil, errors.New("dispatch: PublicURL is required for the links in notifications")
	}
	if _, err := egress.ParseURL(cfg.PublicURL); err != nil {
		return nil, fmt.Errorf("dispatch: PublicURL %q %w", cfg.PublicURL, err)
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if cfg.Client == nil {
		cfg.Client = egress.New(egress.Options{})
	}
	if cfg.TrustedClient == nil {
		cfg.TrustedClient = egress.New(egress.Options{AllowPrivate: true})
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 32
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.MaxAge, 24*time.Hour)
	def(&cfg.RetryBase, 2*time.Second)
	def(&cfg.RetryMax, time.Hour)
	def(&cfg.SendTimeout, 15*time.Second)
	def(&cfg.AckWait, cfg.SendTimeout+30*time.Second)
	def(&cfg.FeedAckWait, 30*time.Second)
	def(&cfg.CatchUp, time.Hour)
	def(&cfg.RecordTTL, cfg.Service.Limits().MaxTimeout+cfg.MaxAge+cfg.RetryMax+time.Hour)
	if cfg.AckWait <= cfg.SendTimeout {
		return nil, fmt.Errorf("dispatch: AckWait (%s) must exceed SendTimeout (%s), or a slow send is taken over by another replica", cfg.AckWait, cfg.SendTimeout)
	}
	web := httpChannels{strict: cfg.Client, trusted: cfg.TrustedClient}
	d := &Dispatcher{cfg: cfg, log: cfg.Log, channels: map[channels.Kind]Channel{
		channels.KindWebhook: &webhookChannel{http: web},
		channels.KindSlack:   &slackChannel{http: web},
		channels.KindNtfy:    &ntfyChannel{http: web},
	}}
	if tg := cfg.Telegram; tg != nil {
		c := *tg
		if err := c.check(); err != nil {
			return nil, err
		}
		d.cfg.Telegram = &c
		d.channels[channels.KindTelegram] = &telegramChannel{d: d, api: c.Client}
	}
	if wp := cfg.WebPush; wp != nil {
		client := wp.HTTPClient
		if client == nil {
			client = cfg.Client
		}
		sender, err := webpush.NewSender(webpush.Config{Keys: wp.Keys, Subject: wp.Subject, HTTPClient: client})
		if err != nil {
			return nil, fmt.Errorf("dispatch: Web Push: %w", err)
		}
		d.channels[channels.KindWebPush] = &webPushChannel{sender: sender, publicURL: cfg.PublicURL}
	}
	return d, nil
}

const (
	// feedRetry is how long a feed message or job waits after our own
	// failure (storage), doubling up to maxFeedRetry.
	feedRetry    = time.Second
	maxFeedRetry = 30 * time.Second
	// setupTimeout bounds creating the stream, bucket and consumers. It is
	// short because on a cluster a request racing another replica's create
	// can go unanswered; Run then starts over (see natsutil.EnsureKeyValue).
	setupTimeout = 10 * time.Second
	maxBackoff   = 10 * time.Second
	// maxAckPending is each consumer's in-flight limit across replicas.
	maxAckPending = 4096
)

// Run runs the replica until ctx ends; any number may run against one NATS.
// It creates or updates the deliveries stream, the records bucket and both
// durable consumers, then turns feed versions into jobs and delivers jobs.
// When consuming breaks it sets everything up again with backoff. It returns
// nil once ctx ends and the deliveries in hand are finished.
func (d *Dispatcher) Run(ctx context.Context) error {
	backoff := 250 * time.Millisecond
	for {
		started, err := d.runOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if started {
			backoff = 250 * time.Millisecond
		}
		d.log.Error("dispatcher interrupted; starting again", "err", err, "in", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func (d *Dispatcher) runOnce(ctx context.Context) (started bool, err error) {
	stopTests, err := d.serveTests(ctx)
	if err != nil {
		return false, err
	}
	defer stopTests()
	feed, jobs, updates, err := d.setup(ctx)
	if err != nil {
		return false, err
	}
	var tgClosed <-chan struct{}
	if d.cfg.Telegram != nil {
		stopTelegram, closed, err := d.startTelegram(ctx, updates)
		if err != nil {
			return false, err
		}
		defer stopTelegram()
		tgClosed = closed
	}
	feedPool, err := natsutil.Consume(ctx, feed, natsutil.PoolOptions{Workers: 16, OpTimeout: 15 * time.Second, Log: d.log}, d.fanOut)
	if err != nil {
		return false, fmt.Errorf("consume the sessions feed: %w", err)
	}
	jobPool, err := natsutil.Consume(ctx, jobs, natsutil.PoolOptions{Workers: d.cfg.Workers, OpTimeout: d.cfg.SendTimeout + 10*time.Second, Log: d.log}, d.deliver)
	if err != nil {
		feedPool.Stop()
		return false, fmt.Errorf("consume delivery jobs: %w", err)
	}
	d.log.Info("dispatcher running", "stream", Stream, "workers", d.cfg.Workers, "channels", d.kinds())
	select {
	case <-ctx.Done():
	case <-feedPool.Closed():
		err = errors.New("consuming the sessions feed stopped")
	case <-jobPool.Closed():
		err = errors.New("consuming delivery jobs stopped")
	case <-tgClosed:
		err = errors.New("consuming Telegram updates stopped")
	}
	feedPool.Stop()
	jobPool.Stop()
	if ctx.Err() != nil {
		d.log.Info("dispatcher stopped")
	}
	return true, err
}

func (d *Dispatcher) kinds() []channels.Kind {
	var ks []channels.Kind
	for _, k := range channels.Kinds {
		if d.channels[k] != nil {
			ks = append(ks, k)
		}
	}
	return ks
}

// setup creates or updates what the dispatcher keeps in NATS, leaving alone
// whatever already matches.
func (d *Dispatcher) setup(ctx context.Context) (feed, jobs, updates jetstream.Consumer, err error) {
	ctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	js := d.cfg.JetStream
	if d.records, err = openRecords(ctx, js, d.cfg.Replicas, d.cfg.RecordTTL); err != nil {
		return nil, nil, nil, err
	}
	d.stream, err = natsutil.EnsureStream(ctx, js, jetstream.StreamConfig{
		Name:        Stream,
		Description: "feedbackd dispatcher: one delivery job per session event and destination",
		Subjects:    []string{deliveryPrefix + ">"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    d.cfg.Replicas,
		// A job already waiting for its (destination, session, event) makes
		// the next publish fail instead of queueing a second one.
		MaxMsgsPerSubject:    1,
		Discard:              jetstream.DiscardNew,
		DiscardNewPerSubject: true,
		// A backstop only: jobs end themselves after MaxAge (an end notice
		// may first wait up to MaxAge + RetryMax for its announcement).
		MaxAge: 2*d.cfg.MaxAge + d.cfg.RetryMax,
	}, func(have, want jetstream.StreamConfig) bool {
		return have.Description == want.Description && slices.Equal(have.Subjects, want.Subjects) &&
			have.Retention == want.Retention && have.Storage == want.Storage && have.Replicas == want.Replicas &&
			have.MaxMsgsPerSubject == want.MaxMsgsPerSubject && have.Discard == want.Discard &&
			have.DiscardNewPerSubject == want.DiscardNewPerSubject && have.MaxAge == want.MaxAge
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("create or update stream %s: %w", Stream, err)
	}
	same := func(have, want jetstream.ConsumerConfig) bool {
		// The start time of the feed consumer is fixed at creation and may
		// not change, so it is not compared.
		return have.Description == want.Description && have.FilterSubject == want.FilterSubject &&
			have.AckPolicy == want.AckPolicy && have.AckWait == want.AckWait &&
			have.MaxAckPending == want.MaxAckPending && have.MaxDeliver == want.MaxDeliver
	}
	jobs, err = natsutil.EnsureConsumer(ctx, js, Stream, jetstream.ConsumerConfig{
		Durable:       DeliveryConsumer,
		Description:   "feedbackd dispatcher: delivery jobs",
		FilterSubject: deliveryPrefix + ">",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       d.cfg.AckWait,
		MaxAckPending: maxAckPending,
		MaxDeliver:    -1,
	}, same)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("create or update consumer %s on %s: %w", DeliveryConsumer, Stream, err)
	}
	bucket := d.cfg.Store.Bucket()
	feedStream := "KV_" + bucket
	start := time.Now().Add(-d.cfg.CatchUp)
	feed, err = natsutil.EnsureConsumer(ctx, js, feedStream, jetstream.ConsumerConfig{
		Durable:       FeedConsumer,
		Description:   "feedbackd dispatcher: turns session events into delivery jobs",
		FilterSubject: natskv.FeedSubject(bucket, "*"),
		DeliverPolicy: jetstream.DeliverByStartTimePolicy,
		OptStartTime:  &start,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       d.cfg.FeedAckWait,
		MaxAckPending: maxAckPending,
		MaxDeliver:    -1,
	}, same)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("create or update consumer %s on %s: %w", FeedConsumer, feedStream, err)
	}
	if tg := d.cfg.Telegram; tg != nil && tg.WebhookURL != "" {
		if updates, err = d.setupTelegramUpdates(ctx, same); err != nil {
			return nil, nil, nil, err
		}
	}
	return feed, jobs, updates, nil
}

// setupTelegramUpdates creates or updates the stream the edge publishes the
// webhook's updates to, and its consumer.
func (d *Dispatcher) setupTelegramUpdates(ctx context.Context, same func(have, want jetstream.ConsumerConfig) bool) (jetstream.Consumer, error) {
	js := d.cfg.JetStream
	_, err := natsutil.EnsureStream(ctx, js, jetstream.StreamConfig{
		Name:        TelegramStream,
		Description: "feedbackd dispatcher: Telegram updates posted to the edge's webhook",
		Subjects:    []string{TelegramSubject},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    d.cfg.Replicas,
		// Telegram keeps undelivered updates for a day; so do we.
		MaxAge:     24 * time.Hour,
		MaxMsgSize: telegram.MaxUpdateSize,
		Duplicates: 2 * time.Minute,
	}, func(have, want jetstream.StreamConfig) bool {
		return have.Description == want.Description && slices.Equal(have.Subjects, want.Subjects) &&
			have.Retention == want.Retention && have.Storage == want.Storage && have.Replicas == want.Replicas &&
			have.MaxAge == want.MaxAge && have.MaxMsgSize == want.MaxMsgSize
	})
	if err != nil {
		return nil, fmt.Errorf("create or update stream %s: %w", TelegramStream, err)
	}
	c, err := natsutil.EnsureConsumer(ctx, js, TelegramStream, jetstream.ConsumerConfig{
		Durable:       TelegramConsumer,
		Description:   "feedbackd dispatcher: Telegram updates",
		FilterSubject: TelegramSubject,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       time.Minute,
		MaxAckPending: maxAckPending,
		MaxDeliver:    -1,
	}, same)
	if err != nil {
		return nil, fmt.Errorf("create or update consumer %s on %s: %w", TelegramConsumer, TelegramStream, err)
	}
	return c, nil
}

// link and submitURL are the page and the answer endpoint of a session.
func (d *Dispatcher) link(id string) string { return d.cfg.PublicURL + "/feedback/" + id }
func (d *Dispatcher) submitURL(id string) string {
	return d.cfg.PublicURL + "/api/feedback/" + id + "/submit"
}

// announces reports whether a channel tells a person of a question (chat,
// push), as opposed to reporting every event to a program (webhooks).
func announces(k channels.Kind) bool { return k != channels.KindWebhook }

func ack(log *slog.Logger, m jetstream.Msg) {
	if err := m.Ack(); err != nil {
		log.Debug("ack failed; the message will come again", "subject", m.Subject(), "err", err)
	}
}

// isPerSubjectFull reports a publish refused because the subject already
// holds its one message: the job is waiting already.
func isPerSubjectFull(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && strings.Contains(apiErr.Description, "maximum messages per subject")
}
