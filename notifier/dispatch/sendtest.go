package dispatch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/channels"
)

// SendTest sends a test notification to each of the owner's destinations of
// kind now, without queueing or retrying, and returns how each fared. The
// outcomes are also kept with the owner's recent deliveries. It is what the
// settings view's "Send a test notification" button does (through
// RequestTest when the dispatcher runs in another process).
func (d *Dispatcher) SendTest(ctx context.Context, owner string, kind channels.Kind) ([]channels.Outcome, error) {
	if !kind.Valid() {
		return nil, sessions.Invalid("channel", "must be one of webhook, telegram, slack, ntfy, webpush")
	}
	ch := d.channels[kind]
	if ch == nil {
		return nil, sessions.Invalid("channel", fmt.Sprintf("%s notifications are not enabled on this server", kind))
	}
	dests, err := d.cfg.Channels.Destinations(ctx, owner)
	if err != nil {
		return nil, err
	}
	var outs []channels.Outcome
	for _, dest := range dests {
		if dest.Kind != kind {
			continue
		}
		n := &Notification{ID: "msg_test_" + randomHex(12), Event: channels.EventTest, Destination: dest, Attempt: 1,
			Time: time.Now()}
		sctx, cancel := context.WithTimeout(ctx, d.cfg.SendTimeout)
		rcpt, err := ch.Deliver(sctx, n)
		cancel()
		out := channels.Outcome{ID: n.ID, Event: n.Event, Destination: dest.Label(), Default: dest.Default, Attempts: 1,
			At: time.Now().UTC().Truncate(time.Millisecond)}
		if err == nil {
			out.State, out.StatusCode = channels.Delivered, rcpt.StatusCode
		} else {
			f := failure(err)
			out.State, out.StatusCode, out.Error = channels.Failed, f.StatusCode, f.Error()
			if f.Kind == Gone && kind == channels.KindWebPush {
				if err := d.cfg.Channels.RemovePushSubscription(ctx, owner, dest.ID); err != nil {
					d.log.Warn("removing a gone push subscription failed", "err", err)
				}
			}
		}
		if err := d.cfg.Channels.RecordOutcome(ctx, owner, kind, out); err != nil {
			d.log.Warn("recording a test outcome failed", "err", err)
		}
		outs = append(outs, out)
	}
	if len(outs) == 0 {
		return nil, sessions.Invalid("channel", fmt.Sprintf("no %s destination is set up", kind))
	}
	return outs, nil
}

// requestTestTimeout bounds RequestTest when its context has no deadline: a
// test sends to every destination of a channel, each within SendTimeout.
const requestTestTimeout = time.Minute

// testRequest and testReply are the messages on TestSubject.
type testRequest struct {
	Owner   string        `json:"owner"`
	Channel channels.Kind `json:"channel"`
}

type testReply struct {
	Outcomes []channels.Outcome `json:"outcomes,omitempty"`
	Error    *testError         `json:"error,omitempty"`
}

type testError struct {
	Code    sessions.Code `json:"code"`
	Message string        `json:"message"`
	Field   string        `json:"field,omitempty"`
	Reason  string        `json:"reason,omitempty"`
}

// serveTests answers test requests on TestSubject until the returned stop
// is called; the replicas share them through a queue group. One goroutine,
// which stop waits for, handles them in turn.
func (d *Dispatcher) serveTests(ctx context.Context) (stop func(), err error) {
	nc := d.cfg.JetStream.Conn()
	msgs := make(chan *nats.Msg, 16)
	sub, err := nc.ChanQueueSubscribe(TestSubject, DeliveryConsumer, msgs)
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", TestSubject, err)
	}
	// Serving once Run has set up, not a moment later.
	if err := nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("subscribe %s: %w", TestSubject, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case m := <-msgs:
				d.answerTest(ctx, m)
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() {
		// Once the server has the unsubscribe, a request finds another
		// replica or no responder at all, never a replica that is gone.
		_ = sub.Unsubscribe()
		_ = nc.Flush()
		cancel()
		<-done
		for {
			select {
			case m := <-msgs:
				d.refuseTest(m)
			default:
				return
			}
		}
	}, nil
}

// refuseTest answers a request that arrived as the replica stopped.
func (d *Dispatcher) refuseTest(m *nats.Msg) {
	data, _ := json.Marshal(testReply{Error: &testError{Code: sessions.CodeServiceUnavailable,
		Message: "the dispatcher is stopping; try again"}})
	_ = m.Respond(data)
}

func (d *Dispatcher) answerTest(ctx context.Context, m *nats.Msg) {
	var req testRequest
	var reply testReply
	if err := json.Unmarshal(m.Data, &req); err != nil || req.Owner == "" {
		reply.Error = &testError{Code: sessions.CodeInvalidRequest, Message: "malformed test request", Field: "body",
			Reason: "must be {\"owner\":…,\"channel\":…}"}
	} else {
		outs, err := d.SendTest(ctx, req.Owner, req.Channel)
		reply.Outcomes = outs
		if err != nil {
			var e *sessions.Error
			if !errors.As(err, &e) {
				e = sessions.Unavailable("send a test notification", err)
			}
			reply.Error = &testError{Code: e.Code, Message: e.Message, Field: e.Field, Reason: e.Reason}
		}
	}
	data, _ := json.Marshal(reply)
	if err := m.Respond(data); err != nil {
		d.log.Debug("answering a test request failed", "err", err)
	}
}

// RequestTest asks a running dispatcher, over NATS, to send a test
// notification (see SendTest). It returns SERVICE_UNAVAILABLE when no
// dispatcher runs, and the dispatcher's coded error otherwise.
func RequestTest(ctx context.Context, nc *nats.Conn, owner string, kind channels.Kind) ([]channels.Outcome, error) {
	if _, ok := ctx.Deadline(); !ok {
		// A request that reached a replica as it died gets no answer.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, requestTestTimeout)
		defer cancel()
	}
	data, _ := json.Marshal(testRequest{Owner: owner, Channel: kind})
	msg, err := nc.RequestWithContext(ctx, TestSubject, data)
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, sessions.Errorf(sessions.CodeServiceUnavailable, "no dispatcher is running to send the test notification")
	}
	if err != nil {
		return nil, sessions.Unavailable("request a test notification", err)
	}
	var reply testReply
	if err := json.Unmarshal(msg.Data, &reply); err != nil {
		return nil, sessions.Unavailable("request a test notification", fmt.Errorf("decode reply: %w", err))
	}
	if e := reply.Error; e != nil {
		return nil, &sessions.Error{Code: e.Code, Message: e.Message, Field: e.Field, Reason: e.Reason}
	}
	return reply.Outcomes, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
