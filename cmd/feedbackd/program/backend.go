package program

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedbackd/feedbackd/notifier/dispatch/webpush"
	"github.com/feedbackd/feedbackd/pkg/auth"
	"github.com/feedbackd/feedbackd/pkg/metrics"
	"github.com/feedbackd/feedbackd/pkg/natsutil"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/channels"
	"github.com/feedbackd/feedbackd/sessions/inbox"
	"github.com/feedbackd/feedbackd/sessions/natskv"
)

// pageTokenSecret names the cluster-wide secret that page tokens are signed
// with: the edge mints them, the notifier checks them, on any replica.
const pageTokenSecret = "page-token"

// inboxLinkSecret names the cluster-wide secret that inbox links, their
// cookies and their socket credentials are signed with: any edge mints and
// checks them, any notifier checks the socket's.
const inboxLinkSecret = "inbox-link"

// vapidKey names the cluster's VAPID private key in the config bucket:
// every subscription is bound to the public half, so it is generated once
// and kept (unless VAPID_PRIVATE_KEY brings one).
const vapidKey = "vapid-private-key"

// Backend is what every role works over: the JetStream handle, the sessions
// bucket and the image buckets, the change feed fanned out through a hub, the sessions service,
// the secret that signs the page's socket credential, the principals' channel
// settings, the inbox links and the cluster's VAPID keys. One process has one.
type Backend struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	store  *natskv.Store
	images *natskv.Images
	hub    *sessions.Hub
	svc    *sessions.Service
	tokens *auth.PageTokens
	chans  *channels.Service
	links  *natskv.LinkStore
	inbox  *inbox.Service
	vapid  *webpush.VAPIDKeys
	log    *slog.Logger

	stopFeed  context.CancelFunc
	feedDone  <-chan struct{}
	closeOnce chan struct{}
}

// OpenBackend opens the sessions bucket and the page token secret over nc,
// waiting for JetStream as long as ctx allows (a role started before its NATS
// cluster has elected a leader must wait, not die), then starts following
// the change feed. opts are applied after the service options cfg implies.
// Close stops the feed and waits for it; nc stays the caller's.
func OpenBackend(ctx context.Context, cfg Config, nc *nats.Conn, log *slog.Logger, opts ...sessions.Option) (*Backend, error) {
	return openBackend(ctx, cfg, nc, log, nil, opts...)
}

// openBackend is OpenBackend with watch explaining, while it waits, why NATS
// is not ready.
func openBackend(ctx context.Context, cfg Config, nc *nats.Conn, log *slog.Logger, watch *natsWatch, opts ...sessions.Option) (*Backend, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("open JetStream: %w", err)
	}
	be := &Backend{nc: nc, js: js, hub: sessions.NewHub(), log: log, closeOnce: make(chan struct{})}
	w := waiter{nc: nc, log: log, watch: watch}
	err = w.untilJetStream(ctx, "open the sessions bucket", func(ctx context.Context) (err error) {
		be.store, err = natskv.Open(ctx, js, natskv.Options{Replicas: cfg.KVReplicas})
		return err
	})
	if err != nil {
		return nil, err
	}
	err = w.untilJetStream(ctx, "open the image buckets", func(ctx context.Context) (err error) {
		be.images, err = natskv.OpenImages(ctx, js, natskv.ImageOptions{
			Replicas: cfg.KVReplicas,
			MaxAge:   natskv.ImageMaxAge(time.Duration(cfg.MaxTimeout)*time.Second, cfg.ResultRetention),
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	var secret []byte
	err = w.untilJetStream(ctx, "read the page token secret", func(ctx context.Context) (err error) {
		secret, err = natsutil.SharedSecret(ctx, js, pageTokenSecret, cfg.KVReplicas)
		return err
	})
	if err != nil {
		return nil, err
	}
	if be.tokens, err = auth.NewPageTokens(secret); err != nil {
		return nil, fmt.Errorf("page tokens: %w", err)
	}
	var chStore *natskv.ChannelStore
	err = w.untilJetStream(ctx, "open the channels bucket", func(ctx context.Context) (err error) {
		chStore, err = natskv.OpenChannels(ctx, js, natskv.Options{Replicas: cfg.KVReplicas})
		return err
	})
	if err != nil {
		return nil, err
	}
	be.chans = channels.NewService(chStore, cfg.Dispatch.defaults, cfg.Dispatch.urlChecker())
	var linkSecret []byte
	err = w.untilJetStream(ctx, "open the inbox links", func(ctx context.Context) (err error) {
		if be.links, err = natskv.OpenLinks(ctx, js, natskv.Options{Replicas: cfg.KVReplicas}); err != nil {
			return err
		}
		linkSecret, err = natsutil.SharedSecret(ctx, js, inboxLinkSecret, cfg.KVReplicas)
		return err
	})
	if err != nil {
		return nil, err
	}
	linkTokens, err := auth.NewLinkTokens(linkSecret)
	if err != nil {
		return nil, fmt.Errorf("inbox link tokens: %w", err)
	}
	be.inbox = inbox.NewService(be.links, linkTokens, inbox.Config{DefaultTTL: cfg.InboxLinkTTL, MaxTTL: cfg.InboxLinkMaxTTL})
	if be.vapid = cfg.Dispatch.vapidKeys; be.vapid == nil {
		var raw []byte
		err = w.untilJetStream(ctx, "read the VAPID key", func(ctx context.Context) (err error) {
			raw, err = natsutil.SharedValue(ctx, js, vapidKey, cfg.KVReplicas, func() ([]byte, error) {
				k, err := webpush.GenerateVAPIDKeys()
				if err != nil {
					return nil, err
				}
				return k.MarshalBinary()
			})
			return err
		})
		if err != nil {
			return nil, err
		}
		if be.vapid, err = webpush.ParseVAPIDKeys(raw); err != nil {
			return nil, fmt.Errorf("the VAPID key kept in NATS (%s/%s): %w", natsutil.ConfigBucket, vapidKey, err)
		}
	}
	svcOpts := append([]sessions.Option{
		sessions.WithLimits(Limits(cfg)),
		sessions.WithRetention(cfg.ResultRetention),
		sessions.WithImageStore(be.images),
		sessions.WithObserver(metrics.Sessions{}),
	}, opts...)
	be.svc = sessions.NewService(be.store, be.hub, svcOpts...)
	fctx, stop := context.WithCancel(context.Background())
	feed, err := natskv.NewFeed(be.store, be.hub, log).Start(fctx)
	if err != nil {
		stop()
		return nil, fmt.Errorf("follow the change feed: %w", err)
	}
	be.stopFeed, be.feedDone = stop, feed
	return be, nil
}

// Limits are the sessions limits cfg sets: the documented defaults with the
// configured timeouts and image limits.
func Limits(cfg Config) sessions.Limits {
	l := sessions.DefaultLimits(time.Duration(cfg.DefaultTimeout)*time.Second, time.Duration(cfg.MaxTimeout)*time.Second)
	l.MaxImages = cfg.ImageMaxCount
	if cfg.imageMaxBytes > 0 {
		l.MaxImageBytes = cfg.imageMaxBytes
	}
	return l
}

// Close stops following the change feed and waits until it has stopped. It
// is safe to call more than once.
func (b *Backend) Close() error {
	select {
	case <-b.closeOnce:
		return nil
	default:
		close(b.closeOnce)
	}
	b.stopFeed()
	<-b.feedDone
	return nil
}

// Conn is the NATS connection the backend works over.
func (b *Backend) Conn() *nats.Conn { return b.nc }

// JetStream is the JetStream handle over Conn.
func (b *Backend) JetStream() jetstream.JetStream { return b.js }

// Store is the sessions bucket.
func (b *Backend) Store() *natskv.Store { return b.store }

// Images is the object store of the images of questions and answers.
func (b *Backend) Images() *natskv.Images { return b.images }

// Hub is the in-process fan-out of the change feed.
func (b *Backend) Hub() *sessions.Hub { return b.hub }

// Service is the sessions service over Store and Hub.
func (b *Backend) Service() *sessions.Service { return b.svc }

// PageTokens mints and checks the feedback page's socket credential, with
// the secret every replica shares.
func (b *Backend) PageTokens() *auth.PageTokens { return b.tokens }

// Channels is the principals' notification settings and delivery outcomes.
func (b *Backend) Channels() *channels.Service { return b.chans }

// Inbox mints, lists and revokes inbox links and checks what they grant.
func (b *Backend) Inbox() *inbox.Service { return b.inbox }

// Links is the bucket of inbox links, which the notifier watches for
// revocations.
func (b *Backend) Links() *natskv.LinkStore { return b.links }

// VAPIDKeys is the cluster's VAPID key pair, which Web Push is signed with.
func (b *Backend) VAPIDKeys() *webpush.VAPIDKeys { return b.vapid }

// Health reports NATS unreachable when the connection is down or the bucket
// cannot be read; /health and /ready answer with it.
func (b *Backend) Health(ctx context.Context) error {
	if !b.nc.IsConnected() {
		return errors.New("NATS is not connected")
	}
	if _, err := b.store.KV().Status(ctx); err != nil {
		return fmt.Errorf("read bucket status: %w", err)
	}
	return nil
}

// LastRevision is the latest revision in the sessions bucket: every change
// the feed has not delivered yet is newer.
func (b *Backend) LastRevision(ctx context.Context) (uint64, error) {
	st, err := b.store.KV().Status(ctx)
	if err != nil {
		return 0, fmt.Errorf("read bucket status: %w", err)
	}
	bs, ok := st.(*jetstream.KeyValueBucketStatus)
	if !ok {
		return 0, fmt.Errorf("bucket status of type %T has no stream info", st)
	}
	return bs.StreamInfo().State.LastSeq, nil
}
