// Package dispatch is the dispatcher: the worker that tells people about
// their sessions where they are — signed webhooks, Slack, ntfy, Telegram and
// Web Push. It notifies people as the notifier notifies apps, and like the
// expirer it follows the change feed with a durable consumer that every
// replica shares, holding nothing in memory that another replica needs.
//
// The design, in two stages (docs/dispatcher.md has the whole of it):
//
//  1. Fan-out. Each version of a session record on the feed
//     ("$KV.feedback_sessions.s.<id>", durable consumer FeedConsumer) is
//     resolved against the owner's channels (sessions/channels: its own
//     settings and the operator's defaults) into delivery jobs, one per
//     (event, destination), published to the work-queue stream Stream.
//     A job's subject names (destination, session, event) and holds at most
//     one message, and its Nats-Msg-Id is the job id, so a feed message
//     handled twice never enqueues twice. The feed message is acked only
//     once every job is stored.
//  2. Delivery. Every replica pulls jobs from the durable consumer
//     DeliveryConsumer and hands each to its Channel. Success is recorded in
//     the bucket RecordsBucket before the job is acked; a failure that may
//     pass is retried with exponential backoff and jitter (NakWithDelay,
//     honouring Retry-After) until Config.MaxAge after the job was enqueued,
//     then recorded as failed. The job id is the Standard Webhooks
//     webhook-id, the same on every attempt.
//
// The feed carries the latest state of each session, and always its final
// one; a version superseded before it was read may be missed. So a session
// first seen finished still gets what each channel needs: webhooks get
// session.created and then the final event, in that order (a final job
// waits while the created job of its destination is still in the stream);
// chat and push channels, which announce questions to a person, send an end
// notice only for a question they announced, and never announce one that
// is no longer pending.
//
// Telegram is also a way to answer: the dispatcher receives the bot's
// updates — by long polling under a cluster-wide lock (one replica at a
// time), or from the stream TelegramStream that the edge's webhook route
// fills (PublishTelegramUpdate) — and turns a button press or a reply into
// an answer through sessions.Service.Submit, accepting it only on the
// message the bot sent for that session (recorded when it was sent).
//
// A replica killed mid-delivery loses nothing: the job it held comes back
// to any replica after the consumer's ack wait, with the same id. Outcomes
// are counted in pkg/metrics and the last ones per principal and channel
// kept through channels.Service for the settings view.
//
// The package must not know HTTP routing or the edge; it talks to NATS,
// sessions.Service, channels.Service and the destinations, through
// pkg/egress so that no destination reaches a private address.
package dispatch
