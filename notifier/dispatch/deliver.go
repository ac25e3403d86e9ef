package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedbackd/feedbackd/pkg/metrics"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/channels"
	"github.com/feedbackd/feedbackd/sessions/natskv"
)

// maxOrderWait bounds one wait of an end notice for its announcement.
const maxOrderWait = 30 * time.Second

// deliver handles one job: it checks that the job is still to be done and
// may be done now, sends it, and records the outcome before acking.
func (d *Dispatcher) deliver(ctx context.Context, m jetstream.Msg) {
	md, err := m.Metadata()
	if err != nil {
		d.log.Warn("dropping a delivery job without metadata", "subject", m.Subject(), "err", err)
		_ = m.Term()
		return
	}
	var j job
	if err := json.Unmarshal(m.Data(), &j); err != nil || j.ID == "" || !j.Kind.Valid() {
		d.log.Warn("dropping an undecodable delivery job", "subject", m.Subject(), "err", err)
		_ = m.Term()
		return
	}
	sess, err := natskv.Decode(j.Session, 0)
	if err != nil || sessions.CheckID(sess.ID) != nil {
		d.log.Warn("dropping a delivery job with a malformed session", "job", j.ID, "err", err)
		_ = m.Term()
		return
	}
	attempt := int(md.NumDelivered)
	dk := destKey(j.Owner, j.Kind, j.Dest)
	key := recordKey(dk, sess.ID, j.Event)
	// Done already: a job enqueued again after the first was delivered, or
	// redelivered after its record was written but before its ack.
	if _, done, err := d.records.get(ctx, key); err != nil {
		d.retryLater(m, attempt, j, err)
		return
	} else if done {
		ack(d.log, m)
		return
	}
	ch := d.channels[j.Kind]
	if ch == nil {
		d.log.Warn("dropping a delivery for a channel this replica does not run", "channel", j.Kind, "job", j.ID)
		ack(d.log, m)
		return
	}

	var announcement string
	switch {
	case j.Event.Final():
		ref, wait, skip, err := d.order(ctx, j, dk, sess.ID, md)
		switch {
		case err != nil:
			d.retryLater(m, attempt, j, err)
			return
		case wait:
			// Waits come before the first attempt; counting them lets the
			// attempts be told from the redeliveries.
			if err := d.records.setWaits(ctx, key, attempt); err != nil {
				d.log.Debug("counting a wait failed", "job", j.ID, "err", err)
			}
			_ = m.NakWithDelay(min(d.backoff(attempt), maxOrderWait, d.cfg.RetryMax))
			return
		case skip:
			d.skip(ctx, m, key)
			return
		}
		if attempt > 1 {
			if w, err := d.records.waits(ctx, key); err == nil && w < attempt {
				attempt -= w
			}
		}
		announcement = ref
	case announces(j.Kind):
		// A question is announced to a person only while it can be
		// answered.
		cur, err := d.cfg.Service.Get(ctx, sess.ID)
		if sessions.ErrorCode(err) == sessions.CodeNotFound || (err == nil && cur.Status != sessions.StatusPending) {
			if attempt > 1 {
				// Earlier attempts left a "retrying" outcome; say why no
				// more follow.
				d.recordOutcome(ctx, j, channels.Outcome{ID: j.ID, Event: j.Event, SessionID: sess.ID,
					Destination: d.label(ctx, j), State: channels.Skipped, Attempts: attempt - 1,
					Error: "not sent: the session ended before it could be announced", At: time.Now().UTC().Truncate(time.Millisecond)})
			}
			d.skip(ctx, m, key)
			return
		}
		if err != nil {
			d.retryLater(m, attempt, j, err)
			return
		}
	}

	dest, err := d.cfg.Channels.Destination(ctx, j.Owner, j.Kind, j.Dest)
	if err != nil {
		d.retryLater(m, attempt, j, err)
		return
	}
	if dest == nil {
		d.log.Debug("dropping a delivery whose destination was removed", "channel", j.Kind, "job", j.ID)
		d.skip(ctx, m, key)
		return
	}
	n := &Notification{
		ID:           j.ID,
		Event:        j.Event,
		Session:      asOf(sess, j.Event),
		Destination:  *dest,
		Link:         d.link(sess.ID),
		SubmitURL:    d.submitURL(sess.ID),
		Announcement: announcement,
		Attempt:      attempt,
		Time:         eventTime(sess, j.Event),
	}
	sctx, cancel := context.WithTimeout(ctx, d.cfg.SendTimeout)
	rcpt, err := ch.Deliver(sctx, n)
	cancel()
	d.settle(ctx, m, md, j, n, key, rcpt, err)
}

// order decides whether a final event may go to its destination now. Its
// session.created job for the same destination must be finished first:
// while that job is still in the stream, the final one waits. Then a chat
// or push channel sends the end notice only if the question was announced
// (skip otherwise); a webhook sends it in any case. ref is the
// announcement's Receipt.Ref.
//
// The stream is read before the record: the created job writes its record
// before it leaves the stream, so one of the two reads always sees it.
func (d *Dispatcher) order(ctx context.Context, j job, dk, sessionID string, md *jetstream.MsgMetadata) (ref string, wait, skip bool, err error) {
	waiting, err := d.jobWaiting(ctx, jobSubject(dk, sessionID, channels.EventCreated))
	if err != nil {
		return "", false, false, err
	}
	rec, found, err := d.records.get(ctx, recordKey(dk, sessionID, channels.EventCreated))
	switch {
	case err != nil:
		return "", false, false, err
	case found:
		if announces(j.Kind) && rec.State != recDelivered {
			return "", false, true, nil
		}
		return rec.Ref, false, false, nil
	case waiting && time.Since(md.Timestamp) < d.cfg.MaxAge+d.cfg.RetryMax:
		return "", true, false, nil
	}
	return "", false, announces(j.Kind), nil
}

// jobWaiting reports whether subject still holds a job.
func (d *Dispatcher) jobWaiting(ctx context.Context, subject string) (bool, error) {
	_, err := d.stream.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up job: %w", err)
	}
	return true, nil
}

// settle records what came of an attempt and acks, retries or gives up.
func (d *Dispatcher) settle(ctx context.Context, m jetstream.Msg, md *jetstream.MsgMetadata, j job, n *Notification,
	key string, rcpt Receipt, sendErr error) {
	out := channels.Outcome{
		ID: j.ID, Event: j.Event, SessionID: n.Session.ID, Destination: n.Destination.Label(),
		Default: n.Destination.Default, Attempts: n.Attempt, At: time.Now().UTC().Truncate(time.Millisecond),
	}
	kind := string(j.Kind)
	if sendErr == nil {
		if err := d.putRecord(ctx, key, record{State: recDelivered, Ref: rcpt.Ref, At: out.At}); err != nil {
			// Without the record the end notice could not find its
			// announcement: send again later rather than lose the order.
			d.log.Warn("recording a delivery failed; it will be sent again", "job", j.ID, "err", err)
			_ = m.NakWithDelay(d.backoff(n.Attempt))
			return
		}
		out.State, out.StatusCode = channels.Delivered, rcpt.StatusCode
		metrics.DispatchDelivered(kind, time.Since(n.Time))
		d.log.Debug("delivered", "channel", kind, "event", j.Event, "session", n.Session.ID, "job", j.ID, "attempt", n.Attempt)
		d.recordOutcome(ctx, j, out)
		ack(d.log, m)
		return
	}
	f := failure(sendErr)
	out.StatusCode, out.Error = f.StatusCode, f.Error()
	if f.Kind == Transient {
		delay := max(d.backoff(n.Attempt), f.RetryAfter)
		if age := time.Since(md.Timestamp); age+delay <= d.cfg.MaxAge {
			out.State = channels.Retrying
			metrics.DispatchRetrying(kind)
			d.log.Info("delivery failed; retrying", "channel", kind, "event", j.Event, "destination", out.Destination,
				"job", j.ID, "attempt", n.Attempt, "in", delay.Round(time.Millisecond), "err", out.Error)
			d.recordOutcome(ctx, j, out)
			_ = m.NakWithDelay(delay)
			return
		}
		out.Error = fmt.Sprintf("gave up after %d attempts over %s; last: %s", n.Attempt,
			time.Since(md.Timestamp).Round(time.Second), out.Error)
	}
	if f.Kind == Gone && j.Kind == channels.KindWebPush {
		if err := d.cfg.Channels.RemovePushSubscription(ctx, j.Owner, j.Dest); err != nil {
			d.log.Warn("removing a gone push subscription failed", "err", err)
		}
	}
	if err := d.putRecord(ctx, key, record{State: recFailed, At: out.At}); err != nil {
		d.retryLater(m, n.Attempt, j, err)
		return
	}
	out.State = channels.Failed
	metrics.DispatchFailed(kind)
	d.log.Warn("delivery failed for good", "channel", kind, "event", j.Event, "destination", out.Destination,
		"job", j.ID, "attempts", n.Attempt, "err", out.Error)
	d.recordOutcome(ctx, j, out)
	ack(d.log, m)
}

// label names the job's destination for an outcome, as it is now.
func (d *Dispatcher) label(ctx context.Context, j job) string {
	if dest, err := d.cfg.Channels.Destination(ctx, j.Owner, j.Kind, j.Dest); err == nil && dest != nil {
		return dest.Label()
	}
	return ""
}

// skip records that the job is finished without sending anything.
func (d *Dispatcher) skip(ctx context.Context, m jetstream.Msg, key string) {
	if err := d.putRecord(ctx, key, record{State: recSkipped, At: time.Now().UTC()}); err != nil {
		d.log.Warn("recording a skipped delivery failed; retrying", "err", err)
		_ = m.NakWithDelay(retryDelay(m))
		return
	}
	ack(d.log, m)
}

// putRecord writes a record, riding out a short storage hiccup within ctx.
func (d *Dispatcher) putRecord(ctx context.Context, key string, rec record) error {
	var err error
	for wait := 50 * time.Millisecond; ; wait *= 2 {
		if err = d.records.put(ctx, key, rec); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		if wait > time.Second {
			return err
		}
	}
}

func (d *Dispatcher) recordOutcome(ctx context.Context, j job, o channels.Outcome) {
	if err := d.cfg.Channels.RecordOutcome(ctx, j.Owner, j.Kind, o); err != nil {
		d.log.Warn("recording a delivery outcome failed", "job", j.ID, "err", err)
	}
}

// retryLater puts a job back after a failure of our own (storage), not the
// destination's.
func (d *Dispatcher) retryLater(m jetstream.Msg, attempt int, j job, err error) {
	delay := min(d.backoff(attempt), maxOrderWait)
	d.log.Warn("handling a delivery job failed; retrying", "job", j.ID, "in", delay, "err", err)
	_ = m.NakWithDelay(delay)
}

// backoff is the wait before attempt+1: RetryBase·2^(attempt-1), at most
// RetryMax, with "equal jitter" (half of it fixed, half random), so retries
// of many jobs spread out and still grow.
func (d *Dispatcher) backoff(attempt int) time.Duration {
	delay := d.cfg.RetryBase
	for i := 1; i < attempt && delay < d.cfg.RetryMax; i++ {
		delay *= 2
	}
	delay = min(delay, d.cfg.RetryMax)
	half := delay / 2
	return half + rand.N(half+1)
}

// asOf is the session as the event saw it: session.created describes the
// question as it was asked, whatever happened to it since.
func asOf(sess *sessions.Session, e channels.Event) *sessions.Session {
	if e != channels.EventCreated || sess.Status == sessions.StatusPending {
		return sess
	}
	c := sess.Clone()
	c.Status, c.SubmittedAt, c.FinishedAt, c.Feedback = sessions.StatusPending, nil, nil, nil
	return c
}

// eventTime is when event e happened to sess.
func eventTime(sess *sessions.Session, e channels.Event) time.Time {
	if e.Final() && sess.FinishedAt != nil {
		return *sess.FinishedAt
	}
	return sess.CreatedAt
}
