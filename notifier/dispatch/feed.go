package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/channels"
	"github.com/feedbackd/feedbackd/sessions/natskv"
)

// kvOperation marks a KV delete or purge on the bucket's stream (nats.go
// keeps the name unexported).
const kvOperation = "KV-Operation"

// fanOut turns one version of a session record into delivery jobs, one per
// event and destination, and acks the version once every job is stored:
//
//   - pending: session.created, to every destination that wants it;
//   - finished, to a webhook: session.created (if wanted) and the final
//     event (if wanted) — the created job makes up for a pending version
//     this dispatcher never saw, and is dropped at delivery if it was
//     delivered before;
//   - finished, to a chat or push channel: the end notice, which is sent
//     only if the question was announced.
//
// Versions of one session may be handled out of order, or twice, by any
// replica: the job subjects and ids make enqueueing idempotent, and the
// delivery side orders a session's events per destination.
func (d *Dispatcher) fanOut(ctx context.Context, m jetstream.Msg) {
	sess, ok := d.decodeVersion(m)
	if !ok || !sess.Notifies() {
		ack(d.log, m)
		return
	}
	dests, err := d.cfg.Channels.Destinations(ctx, sess.Owner)
	if err != nil {
		d.log.Warn("reading a principal's channels failed; retrying", "session", sess.ID, "err", err)
		_ = m.NakWithDelay(retryDelay(m))
		return
	}
	event := channels.EventOf(sess.Status)
	for _, dest := range dests {
		if d.channels[dest.Kind] == nil {
			continue
		}
		var events []channels.Event
		switch {
		case event == channels.EventCreated:
			events = wanted(dest, channels.EventCreated)
		case announces(dest.Kind):
			events = []channels.Event{event}
		default:
			events = wanted(dest, channels.EventCreated, event)
		}
		for _, e := range events {
			if err := d.enqueue(ctx, sess, m.Data(), dest, e); err != nil {
				d.log.Warn("enqueueing a delivery failed; retrying", "session", sess.ID, "channel", dest.Kind, "err", err)
				_ = m.NakWithDelay(retryDelay(m))
				return
			}
		}
	}
	ack(d.log, m)
}

// retryDelay grows with each delivery of m, so a message that keeps failing
// (unreadable settings) is retried ever less often rather than every second.
func retryDelay(m jetstream.Msg) time.Duration {
	delay := feedRetry
	if md, err := m.Metadata(); err == nil {
		for i := uint64(1); i < md.NumDelivered && delay < maxFeedRetry; i++ {
			delay *= 2
		}
	}
	return min(delay, maxFeedRetry)
}

func wanted(dest channels.Destination, events ...channels.Event) []channels.Event {
	var out []channels.Event
	for _, e := range events {
		if dest.Wants(e) {
			out = append(out, e)
		}
	}
	return out
}

// enqueue stores the job of event e for dest. A job already waiting on its
// subject, or published within the stream's duplicate window, is not
// stored twice.
func (d *Dispatcher) enqueue(ctx context.Context, sess *sessions.Session, version []byte, dest channels.Destination, e channels.Event) error {
	j := job{
		ID:      jobID(sess.Owner, dest.Kind, dest.ID, sess.ID, e),
		Event:   e,
		Kind:    dest.Kind,
		Owner:   sess.Owner,
		Dest:    dest.ID,
		Session: json.RawMessage(version),
	}
	data, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("encode job: %w", err)
	}
	msg := nats.NewMsg(jobSubject(destKey(sess.Owner, dest.Kind, dest.ID), sess.ID, e))
	msg.Data = data
	_, err = d.cfg.JetStream.PublishMsg(ctx, msg, jetstream.WithMsgID(j.ID))
	if err != nil && !isPerSubjectFull(err) {
		return fmt.Errorf("publish job: %w", err)
	}
	return nil
}

// decodeVersion decodes a session version; ok is false for delete markers
// and undecodable records, which have nothing to notify.
func (d *Dispatcher) decodeVersion(m jetstream.Msg) (*sessions.Session, bool) {
	h := m.Headers()
	if h.Get(kvOperation) != "" || h.Get(jetstream.MarkerReasonHeader) != "" || len(m.Data()) == 0 {
		return nil, false
	}
	sess, err := natskv.Decode(m.Data(), 0)
	if err != nil {
		d.log.Warn("skipping an undecodable session record", "subject", m.Subject(), "err", err)
		return nil, false
	}
	if sessions.CheckID(sess.ID) != nil || !sess.Status.Valid() {
		d.log.Warn("skipping a malformed session record", "subject", m.Subject())
		return nil, false
	}
	return sess, true
}
