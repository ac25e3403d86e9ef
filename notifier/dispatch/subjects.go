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

	// TelegramStream holds the Telegram updates the edge's webhook route
	// received (in webhook mode), one message per update with Nats-Msg-Id
	// "tg_<update_id>", until a dispatcher replica has handled it: work-queue
	// retention.
	TelegramStream = "FEEDBACK_TELEGRAM_UPDATES"
	// TelegramSubject is where the edge publishes each update's JSON, as
	// Telegram posted it (PublishTelegramUpdate).
	TelegramSubject = "feedback.telegram.updates"
	// TelegramConsumer is the durable consumer of TelegramStream shared by
	// every replica.
	TelegramConsumer = "dispatcher"
	// TelegramPollLock is the lock (in natsutil.LocksBucket) whose holder
	// long-polls Telegram's getUpdates, in poll mode: Telegram allows one
	// poller per bot.
	TelegramPollLock = "telegram-poll"

	deliveryPrefix = "feedback.delivery."
	recordPrefix   = "r."
	waitsPrefix    = "w."
	// chatPrefix keys "c.<chat>.<message>" in RecordsBucket: the session a
	// Telegram message of the bot asks, so that a press or a reply on it
	// resolves to that session and no other.
	chatPrefix = "c."
)
