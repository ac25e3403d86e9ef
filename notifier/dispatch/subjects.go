package dispatch

// The names the dispatcher owns in NATS. Nothing else may publish to these
// subjects or consume from these consumers.
const (
	// Stream holds the delivery jobs: work-queue retention, so a job is gone
	// once a replica acks it; one message per subject, so a job that is
	// already waiting is never enqueued again.
	Stream = "FEEDBACK_DELIVERIES"
	// DeliveryConsumer is the durable consumer of jobs on Stream, shared by
	// every dispatcher replica.
	DeliveryConsumer = "dispatcher"
	// FeedConsumer is the durable consumer on the sessions bucket's stream
	// through which the dispatcher learns of every session.
	FeedConsumer = "dispatcher"
	// RecordsBucket is the KV bucket of finished deliveries, one key per
	// (destination, session, event): what lets a session's end notice wait
	// for its announcement and a repeated job be recognised.
	RecordsBucket = "feedback_deliveries"
	// TestSubject is where "send a test notification" requests are served
	// (request/reply, queue group DeliveryConsumer); see RequestTest.
	TestSubject = "feedbackd.dispatch.test"

	deliveryPrefix = "feedback.delivery."
	recordPrefix   = "r."
	waitsPrefix    = "w."
)
