package main

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
)

// wsWatcher follows one session over WebSocket through the load balancer,
// reconnecting (with the last revision it saw) whenever its notifier dies.
type wsWatcher struct {
	id string

	mu         sync.Mutex
	status     string
	revision   uint64
	reconnects int
	connected  bool
	final      chan struct{}
	finalOnce  sync.Once
}

func (w *wsWatcher) run(ctx context.Context, base, key string) {
	w.mu.Lock()
	w.final = make(chan struct{})
	w.mu.Unlock()
	backoff := 100 * time.Millisecond
	for attempt := 0; ctx.Err() == nil; attempt++ {
		if attempt > 0 {
			w.mu.Lock()
			w.reconnects++
			w.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 2*time.Second)
		}
		if w.session(ctx, base, key) {
			return
		}
	}
}

// session runs one connection; it reports true once a terminal status is
// known, as nothing more can happen to the session.
func (w *wsWatcher) session(ctx context.Context, base, key string) bool {
	u := strings.Replace(base, "http", "ws", 1) + "/ws/" + w.id + "?clientType=app&apiKey=" + url.QueryEscape(key)
	w.mu.Lock()
	if w.revision > 0 {
		u += "&revision=" + strconv.FormatUint(w.revision, 10)
	}
	w.mu.Unlock()
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	c, _, err := (&websocket.Dialer{HandshakeTimeout: 5 * time.Second}).DialContext(dctx, u, nil)
	cancel()
	if err != nil {
		return false
	}
	defer c.Close()
	// A read ends when ctx does.
	stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Now()) })
	defer stop()
	w.mu.Lock()
	w.connected = true
	w.mu.Unlock()
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			return false
		}
		var m struct {
			Type string `json:"type"`
			Data struct {
				Status    string `json:"status"`
				NewStatus string `json:"newStatus"`
				Revision  uint64 `json:"revision"`
			} `json:"data"`
		}
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		st := ""
		switch m.Type {
		case "connection_established":
			st = m.Data.Status
		case "session_status_changed":
			st = m.Data.NewStatus
		case "session_expired":
			st = "expired"
		}
		if st == "" {
			continue
		}
		w.mu.Lock()
		w.status = st
		if m.Data.Revision > w.revision {
			w.revision = m.Data.Revision
		}
		w.mu.Unlock()
		if st != "pending" {
			w.finalOnce.Do(func() { close(w.final) })
			_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "done"), time.Now().Add(time.Second))
			return true
		}
	}
}

// waitFinal waits up to d for a terminal status to arrive.
func (w *wsWatcher) waitFinal(d time.Duration) {
	w.mu.Lock()
	ch := w.final
	w.mu.Unlock()
	if ch == nil {
		return
	}
	select {
	case <-ch:
	case <-time.After(d):
	}
}

func (w *wsWatcher) result() (status string, reconnects int, connected bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status, w.reconnects, w.connected
}
