package expirer

// The names the expirer owns in NATS. Nothing else may publish to these
// subjects or consume from these consumers.
const (
	// Stream holds every deadline: one message schedule per pending session
	// and the expiry requests the schedules fire. Work-queue retention: an
	// expiry request is gone once an expirer acks it.
	Stream = "FEEDBACK_DEADLINES"

	// ExpireConsumer is the durable consumer of expiry requests on Stream,
	// shared by every expirer replica.
	ExpireConsumer = "expirer"

	// FeedConsumer is the durable consumer on the sessions bucket's stream
	// through which the expirer learns of every session, including those
	// written while no expirer ran.
	FeedConsumer = "expirer"

	schedulePrefix = "feedback.deadline."
	expirePrefix   = "feedback.expire."
)

// ScheduleSubject is where the schedule of session id's deadline lives. It
// holds at most one message: a newer schedule replaces the older one.
func ScheduleSubject(id string) string { return schedulePrefix + id }

// ExpireSubject is where the schedule of session id fires its expiry request.
func ExpireSubject(id string) string { return expirePrefix + id }
