package natskv_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedbackd/feedbackd/pkg/natsutil/natstest"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/natskv"
)

// silencer is a TCP proxy to a NATS server that can stop passing the
// server's bytes on, as a connection to a node that died without closing
// it does: whatever the client sends then gets no reply.
type silencer struct {
	ln     net.Listener
	target string
	silent atomic.Bool
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

func newSilencer(t *testing.T, target string) *silencer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &silencer{ln: ln, target: target}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *silencer) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, server)
		p.mu.Unlock()
		p.wg.Go(func() { _, _ = io.Copy(server, client) })
		p.wg.Go(func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := server.Read(buf)
				if n > 0 && !p.silent.Load() {
					if _, werr := client.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		})
	}
}

// A read from the stream leader whose reply never comes ends after its own
// bound and is retried by the service, even when the caller's context has
// no deadline (an HTTP request's does not). In a chaos run, an MCP status
// call sent as a NATS node was killed waited until its client gave up.
func TestALeaderReadThatGetsNoReplyEnds(t *testing.T) {
	t.Parallel()
	ns := natstest.StartIn(t, t.TempDir(), "127.0.0.1:0")
	store, err := natskv.Open(context.Background(), ns.JS, natskv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := sessions.NewService(store, sessions.NewHub()).Create(context.Background(), "alice", &sessions.CreateRequest{Message: "still there?"})
	if err != nil {
		t.Fatal(err)
	}

	proxy := newSilencer(t, ns.Addr().String())
	nc, err := nats.Connect("nats://"+proxy.ln.Addr().String(), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	through, err := natskv.Open(context.Background(), js, natskv.Options{LeaderReads: true})
	if err != nil {
		t.Fatal(err)
	}
	svc := sessions.NewService(through, sessions.NewHub(), sessions.WithStorageRetry(300*time.Millisecond))
	if got, err := svc.GetOwned(context.Background(), "alice", s.ID); err != nil || got.ID != s.ID {
		t.Fatalf("read through the proxy: %+v, %v", got, err)
	}

	proxy.silent.Store(true)
	type result struct {
		err  error
		took time.Duration
	}
	done := make(chan result, 1)
	go func() {
		start := time.Now()
		_, err := svc.GetOwned(context.Background(), "alice", s.ID)
		done <- result{err, time.Since(start)}
	}()
	select {
	case r := <-done:
		if sessions.ErrorCode(r.err) != sessions.CodeServiceUnavailable || !errors.Is(r.err, context.DeadlineExceeded) {
			t.Fatalf("a read with no reply: %v, want SERVICE_UNAVAILABLE after a deadline", r.err)
		}
		t.Logf("a read with no reply ended in %s", r.took)
	case <-time.After(20 * time.Second):
		t.Fatal("a read with no reply was still waiting after 20 s")
	}
}
