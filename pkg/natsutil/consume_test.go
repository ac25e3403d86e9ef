package natsutil_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedbackd/feedbackd/pkg/natsutil"
	"github.com/feedbackd/feedbackd/pkg/natsutil/natstest"
	"github.com/feedbackd/feedbackd/pkg/poll"
)

func sameStream(have, want jetstream.StreamConfig) bool {
	return have.MaxMsgsPerSubject == want.MaxMsgsPerSubject && have.Description == want.Description
}

func sameConsumer(have, want jetstream.ConsumerConfig) bool { return have.AckWait == want.AckWait }

func TestEnsureStreamAndConsumerCreateRepairAndLeaveAlone(t *testing.T) {
	ns := natstest.Start(t)
	ctx := context.Background()
	want := jetstream.StreamConfig{Name: "WORK", Subjects: []string{"work.>"}, Retention: jetstream.WorkQueuePolicy,
		MaxMsgsPerSubject: 1, Description: "v1"}
	s, err := natsutil.EnsureStream(ctx, ns.JS, want, sameStream)
	if err != nil {
		t.Fatal(err)
	}
	created := s.CachedInfo().Created
	if _, err := natsutil.EnsureStream(ctx, ns.JS, want, sameStream); err != nil {
		t.Fatal(err)
	}
	want.MaxMsgsPerSubject, want.Description = 2, "v2"
	s, err = natsutil.EnsureStream(ctx, ns.JS, want, sameStream)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config.MaxMsgsPerSubject; got != 2 || !s.CachedInfo().Created.Equal(created) {
		t.Fatalf("drifted stream not updated in place: max %d", got)
	}
	cc := jetstream.ConsumerConfig{Durable: "w", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute}
	if _, err := natsutil.EnsureConsumer(ctx, ns.JS, "WORK", cc, sameConsumer); err != nil {
		t.Fatal(err)
	}
	cc.AckWait = 2 * time.Second
	c, err := natsutil.EnsureConsumer(ctx, ns.JS, "WORK", cc, sameConsumer)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.CachedInfo().Config.AckWait; got != 2*time.Second {
		t.Fatalf("ack wait %s, want it repaired", got)
	}
}

func TestPoolHandlesEveryMessageAndHandsBackWhatItHoldsOnStop(t *testing.T) {
	ns := natstest.Start(t)
	ctx := context.Background()
	if _, err := ns.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "JOBS", Subjects: []string{"jobs.>"}, Retention: jetstream.WorkQueuePolicy}); err != nil {
		t.Fatal(err)
	}
	cons, err := ns.JS.CreateConsumer(ctx, "JOBS", jetstream.ConsumerConfig{Durable: "w", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	for i := range n {
		if _, err := ns.JS.Publish(ctx, fmt.Sprintf("jobs.%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	// The first pool works slowly and is stopped early: what it held but
	// had not started must reach the second pool at once, not after the
	// minute-long ack wait.
	var handled sync.Map
	var count atomic.Int32
	started := make(chan struct{}, n)
	slow, err := natsutil.Consume(ctx, cons, natsutil.PoolOptions{Workers: 2}, func(_ context.Context, m jetstream.Msg) {
		started <- struct{}{}
		time.Sleep(50 * time.Millisecond) // the work being interrupted
		handled.Store(m.Subject(), true)
		count.Add(1)
		_ = m.Ack()
	})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	slow.Stop()
	fast, err := natsutil.Consume(ctx, cons, natsutil.PoolOptions{Workers: 4}, func(_ context.Context, m jetstream.Msg) {
		if _, dup := handled.LoadOrStore(m.Subject(), true); dup {
			t.Errorf("%s handled twice", m.Subject())
		}
		count.Add(1)
		_ = m.Ack()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Stop()
	poll.Until(t, 10*time.Second, func() error {
		if c := count.Load(); c < n {
			return fmt.Errorf("%d of %d handled: the stopped pool kept messages", c, n)
		}
		return nil
	})
}

func TestEnsureKeyValueCreatesAndRepairsABucket(t *testing.T) {
	ns := natstest.Start(t)
	ctx := context.Background()
	cfg := jetstream.KeyValueConfig{Bucket: "b", History: 1, LimitMarkerTTL: time.Minute, Description: "v1"}
	if _, err := natsutil.EnsureKeyValue(ctx, ns.JS, cfg); err != nil {
		t.Fatal(err)
	}
	cfg.History, cfg.Description = 3, "v2"
	kv, err := natsutil.EnsureKeyValue(ctx, ns.JS, cfg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(ctx)
	if err != nil || st.History() != 3 {
		t.Fatalf("history %d, %v; want the bucket repaired", st.History(), err)
	}
	// A per-key TTL works, which needs the marker TTL kept.
	if _, err := kv.Create(ctx, "k", []byte("v"), jetstream.KeyTTL(time.Minute)); err != nil {
		t.Fatal(err)
	}
}

// Two replicas on different members of a new cluster open the same R3
// bucket at once. With CreateOrUpdateKeyValue both hang until their
// contexts end, and a lookup racing the other's create can too (nats-server
// 2.15.2, nats.go 1.55.0); EnsureKeyValue gets both their bucket within a
// few of its 5 s rounds.
func TestEnsureKeyValueFromTwoMembersAtOnceGetsBothTheBucket(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	nodes := natstest.StartCluster(t, 3)
	// Wait for the cluster's JetStream to be up.
	poll.Until(t, 60*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := natsutil.EnsureKeyValue(ctx, nodes[0].JS, jetstream.KeyValueConfig{Bucket: "warmup", Replicas: 3})
		return err
	})
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, n := range []*natstest.Server{nodes[0], nodes[2]} {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			_, err := natsutil.EnsureKeyValue(ctx, n.JS, jetstream.KeyValueConfig{Bucket: "shared", Replicas: 3, LimitMarkerTTL: time.Minute})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}
