package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// feedLog follows the sessions bucket's change feed directly on NATS and
// counts, per session, the distinct revisions that carried each status.
type feedLog struct {
	nc     *nats.Conn
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	terms map[string]map[uint64]string // id → revision → terminal status
}

func watchFeed(ctx context.Context, urls string, log *slog.Logger) (*feedLog, error) {
	nc, err := nats.Connect(urls, nats.MaxReconnects(-1), nats.ReconnectWait(200*time.Millisecond), nats.Name("feedbackd-chaos"))
	if err != nil {
		return nil, fmt.Errorf("connect to NATS: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	kv, err := js.KeyValue(ctx, "feedback_sessions")
	if err != nil {
		return nil, fmt.Errorf("open sessions bucket: %w", err)
	}
	wctx, cancel := context.WithCancel(ctx)
	w, err := kv.Watch(wctx, "s.*", jetstream.UpdatesOnly(), jetstream.IgnoreDeletes())
	if err != nil {
		cancel()
		return nil, fmt.Errorf("watch feed: %w", err)
	}
	f := &feedLog{nc: nc, cancel: cancel, done: make(chan struct{}), terms: map[string]map[uint64]string{}}
	go func() {
		defer close(f.done)
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-wctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					log.Error("change feed watcher closed")
					return
				}
				if e == nil {
					continue
				}
				var s struct {
					ID     string `json:"sessionId"`
					Status string `json:"status"`
				}
				if json.Unmarshal(e.Value(), &s) != nil || s.Status == "pending" {
					continue
				}
				f.mu.Lock()
				if f.terms[s.ID] == nil {
					f.terms[s.ID] = map[uint64]string{}
				}
				f.terms[s.ID][e.Revision()] = s.Status
				f.mu.Unlock()
			}
		}
	}()
	return f, nil
}

// terminal returns the terminal statuses the feed carried for id.
func (f *feedLog) terminal(id string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, st := range f.terms[id] {
		out = append(out, st)
	}
	return out
}

// sessions returns every id the feed saw finish, including ones the load
// never learnt the id of.
func (f *feedLog) sessions() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, 0, len(f.terms))
	for id := range f.terms {
		out = append(out, id)
	}
	return out
}

func (f *feedLog) stop() {
	f.cancel()
	<-f.done
	f.nc.Close()
}
