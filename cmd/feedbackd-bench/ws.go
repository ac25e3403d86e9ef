package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
)

// wsScenario measures fan-out: for each session, subscribers WebSocket
// clients follow it on /ws/{id}; after the submit, "delivery" is the time
// until each of them is told.
type wsScenario struct {
	c           *client
	subscribers int
}

func (s *wsScenario) newWorker(context.Context, *recorder) (worker, func(), error) {
	return s.iterate, func() {}, nil
}

type wsMessage struct {
	Type string `json:"type"`
	Data struct {
		NewStatus string `json:"newStatus"`
	} `json:"data"`
}

func (s *wsScenario) iterate(ctx context.Context, rec *recorder, n int64) error {
	id, err := s.c.create(ctx, rec, n)
	if err != nil {
		return err
	}
	u := s.c.url("/ws/" + url.PathEscape(id) + "?clientType=app&apiKey=" + url.QueryEscape(s.c.apiKey))
	u = wsScheme(s.c.base.Scheme) + u[len(s.c.base.Scheme):]
	dialer := &websocket.Dialer{HandshakeTimeout: s.c.timeout, NetDialContext: s.c.dial}

	conns := make([]*websocket.Conn, s.subscribers)
	defer func() {
		for _, c := range conns {
			if c != nil {
				_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
				_ = c.Close()
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make([]error, s.subscribers)
	for i := range conns {
		wg.Go(func() {
			errs[i] = rec.time("ws-connect", func() error {
				cctx, cancel := context.WithTimeout(ctx, s.c.timeout)
				defer cancel()
				c, _, err := dialer.DialContext(cctx, u, nil)
				if err != nil {
					return s.c.scrub(err)
				}
				conns[i] = c
				return s.until(cctx, c, func(m wsMessage) bool { return m.Type == "connection_established" })
			})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}

	submitted := time.Now()
	if err := s.c.submit(ctx, rec, id); err != nil {
		return err
	}
	for i, c := range conns {
		wg.Go(func() {
			dctx, cancel := context.WithTimeout(ctx, s.c.timeout)
			defer cancel()
			err := s.until(dctx, c, func(m wsMessage) bool {
				return m.Type == "feedback_submitted" || m.Type == "session_status_changed" && m.Data.NewStatus == "completed"
			})
			if err != nil {
				rec.fail("ws-delivery", err)
				errs[i] = fmt.Errorf("ws-delivery: %w", err)
				return
			}
			// From the submit request's start: the delivery cannot be
			// faster than the write it reports.
			rec.ok("ws-delivery", time.Since(submitted))
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// until reads messages until done accepts one or ctx ends.
func (s *wsScenario) until(ctx context.Context, c *websocket.Conn, done func(wsMessage) bool) error {
	stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Now()) })
	defer stop()
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return s.c.scrub(err)
		}
		var m wsMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("message is not JSON: %.60s", b)
		}
		if m.Type == "error" {
			return fmt.Errorf("server sent an error: %.100s", b)
		}
		if done(m) {
			return nil
		}
	}
}
