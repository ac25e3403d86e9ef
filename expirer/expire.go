package expirer

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/feedbackd/feedbackd/pkg/redact"
	"github.com/feedbackd/feedbackd/sessions"
)

// clockSlack is added when a request arrives before the deadline by this
// host's clock (NATS fired it by the server's clock), so the retry does not
// land a hair early again.
const clockSlack = 5 * time.Millisecond

// expire handles one expiry request: it expires the session if it is still
// pending and due. Every replica may receive requests for any session; the
// compare-and-swap in sessions.Service.Expire makes exactly one write win,
// and never over a completed or cancelled session.
func (x *expirer) expire(ctx context.Context, m jetstream.Msg) {
	id := strings.TrimPrefix(m.Subject(), expirePrefix)
	sess, expired, err := x.cfg.Service.Expire(ctx, id)
	switch {
	case err == nil && expired:
		if x.log.Enabled(ctx, slog.LevelDebug) {
			// requested: when NATS fired the schedule (or the feed found the
			// session overdue); late: when this replica wrote the expiry.
			var requested time.Time
			if md, err := m.Metadata(); err == nil {
				requested = md.Timestamp
			}
			x.log.Debug("session expired", "session", redact.ID(id),
				"requested", requested.Sub(sess.ExpiresAt), "late", sess.FinishedAt.Sub(sess.ExpiresAt))
		}
		x.ack(m)
	case err == nil && sess.Status == sessions.StatusPending:
		_ = m.NakWithDelay(max(time.Until(sess.ExpiresAt), 0) + clockSlack)
	case err == nil, sessions.ErrorCode(err) == sessions.CodeNotFound:
		// Finished some other way, or already purged.
		x.ack(m)
	case sessions.ErrorCode(err) == sessions.CodeInvalidRequest:
		x.log.Warn("dropping an expiry request for a malformed session id", "subject", redact.IDs(m.Subject()))
		_ = m.Term()
	default:
		x.log.Warn("expiring a session failed; retrying", "session", redact.ID(id), "err", err)
		_ = m.NakWithDelay(retryDelay)
	}
}
