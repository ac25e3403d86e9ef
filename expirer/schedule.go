package expirer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedbackd/feedbackd/pkg/redact"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/natskv"
)

// kvOperation marks a KV delete or purge on the bucket's stream (nats.go
// keeps the name unexported).
const kvOperation = "KV-Operation"

// schedule handles one version of a session record from the bucket's stream:
//
//   - pending, deadline ahead: publish (or replace) its schedule;
//   - pending, deadline passed (written while no expirer ran, or read late):
//     request the expiry now;
//   - finished before its deadline: remove the schedule, which would only
//     fire a request that finds nothing to do;
//   - the record purged (its retention over: a limit marker, or a delete):
//     delete the session's images, which would otherwise outlive it until
//     the image store's own expiry;
//   - anything else (expired, long finished): nothing to do.
//
// Versions of one session may be handled out of order across replicas. That
// is safe: a schedule left behind only makes an expirer read the record and
// find it finished, and the expiry itself is a compare-and-swap.
func (x *expirer) schedule(ctx context.Context, m jetstream.Msg) {
	if id, ok := x.purged(m); ok {
		if err := x.cfg.Service.DeleteImages(ctx, id); err != nil && sessions.ErrorCode(err) != sessions.CodeInvalidRequest {
			x.log.Warn("deleting the images of a purged session failed; retrying", "session", id, "err", err)
			_ = m.NakWithDelay(retryDelay)
			return
		}
		x.ack(m)
		return
	}
	sess, ok := x.record(m)
	if !ok {
		x.ack(m)
		return
	}
	var err error
	now := time.Now()
	switch {
	case sess.Status == sessions.StatusPending && !now.Before(sess.ExpiresAt):
		err = x.requestExpiry(ctx, sess.ID)
	case sess.Status == sessions.StatusPending:
		err = x.publishSchedule(ctx, sess)
	case now.Before(sess.ExpiresAt):
		err = x.unschedule(ctx, sess.ID)
	}
	if err != nil {
		x.log.Warn("scheduling a session deadline failed; retrying", "session", redact.ID(sess.ID), "err", err)
		_ = m.NakWithDelay(retryDelay)
		return
	}
	x.ack(m)
}

// purged reports whether m says a session's record is gone (a limit
// marker once its retention ran out, or a delete or purge), and which.
func (x *expirer) purged(m jetstream.Msg) (string, bool) {
	h := m.Headers()
	if h.Get(kvOperation) == "" && h.Get(jetstream.MarkerReasonHeader) == "" {
		return "", false
	}
	id, ok := strings.CutPrefix(m.Subject(), natskv.FeedSubject(x.cfg.Store.Bucket(), ""))
	if !ok || sessions.CheckID(id) != nil {
		return "", false
	}
	return id, true
}

// record decodes a session version; ok is false for delete markers and
// undecodable records, which have nothing to schedule.
func (x *expirer) record(m jetstream.Msg) (*sessions.Session, bool) {
	h := m.Headers()
	if h.Get(kvOperation) != "" || h.Get(jetstream.MarkerReasonHeader) != "" || len(m.Data()) == 0 {
		return nil, false
	}
	var rev uint64
	if md, err := m.Metadata(); err == nil {
		rev = md.Sequence.Stream
	}
	sess, err := natskv.Decode(m.Data(), rev)
	if err != nil {
		x.log.Warn("skipping an undecodable session record", "subject", redact.IDs(m.Subject()), "err", err)
		return nil, false
	}
	if sessions.CheckID(sess.ID) != nil {
		x.log.Warn("skipping a session record with a malformed id", "subject", redact.IDs(m.Subject()))
		return nil, false
	}
	return sess, true
}

// publishSchedule makes NATS publish an expiry request for sess at its
// deadline. Publishing it again replaces it, so a repeated feed message does
// not schedule twice.
func (x *expirer) publishSchedule(ctx context.Context, sess *sessions.Session) error {
	publish := func() error {
		msg := nats.NewMsg(ScheduleSubject(sess.ID))
		msg.Header.Set(jetstream.ScheduleHeader, "@at "+scheduleTime(sess.ExpiresAt, x.wholeSeconds.Load()))
		msg.Header.Set(jetstream.ScheduleTargetHeader, ExpireSubject(sess.ID))
		if _, err := x.cfg.JetStream.PublishMsg(ctx, msg); err != nil {
			return fmt.Errorf("publish schedule: %w", err)
		}
		return nil
	}
	err := publish()
	if errors.Is(err, jetstream.ErrSchedulePatternInvalid) && !x.wholeSeconds.Load() {
		x.wholeSeconds.Store(true)
		x.log.Warn("the NATS server refuses sub-second schedule times; rounding deadlines up to whole seconds, so expiries may be up to 1s late")
		err = publish()
	}
	return err
}

// unschedule replaces the session's schedule with a marker that is not a
// schedule, which cancels it; the marker removes itself a second later.
func (x *expirer) unschedule(ctx context.Context, id string) error {
	msg := nats.NewMsg(ScheduleSubject(id))
	msg.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
	msg.Header.Set(jetstream.MsgTTLHeader, "1s")
	if _, err := x.cfg.JetStream.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("cancel schedule: %w", err)
	}
	return nil
}

// requestExpiry asks for the session to be expired now.
func (x *expirer) requestExpiry(ctx context.Context, id string) error {
	if _, err := x.cfg.JetStream.Publish(ctx, ExpireSubject(id), nil); err != nil {
		return fmt.Errorf("publish expiry request: %w", err)
	}
	return nil
}

// scheduleTime formats a deadline for "@at". nats-server parses it with
// time.RFC3339, which accepts a fraction of a second, so the schedule fires
// on the millisecond. A server that insists on whole seconds gets the
// deadline rounded up, never down: nothing may expire early.
func scheduleTime(deadline time.Time, wholeSeconds bool) string {
	deadline = deadline.UTC()
	if !wholeSeconds {
		return deadline.Format(time.RFC3339Nano)
	}
	if t := deadline.Truncate(time.Second); !t.Equal(deadline) {
		deadline = t.Add(time.Second)
	}
	return deadline.Format(time.RFC3339)
}

func (x *expirer) ack(m jetstream.Msg) {
	if err := m.Ack(); err != nil {
		x.log.Debug("ack failed; the message will come again", "subject", redact.IDs(m.Subject()), "err", err)
	}
}
