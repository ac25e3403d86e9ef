// Package expirer enforces session deadlines: a pending session becomes
// expired at its deadline, once, whichever replica does it, and the change
// feed carries the expiry to waiters, pages and WebSockets.
//
// Deadlines live in NATS, not in memory. The design, in three steps:
//
//  1. The expirer follows the sessions bucket's stream (the change feed,
//     "$KV.feedback_sessions.s.<id>") with the durable consumer
//     FeedConsumer, so a session written while no expirer ran is read as
//     soon as one starts. The edge knows nothing of deadlines.
//  2. For a pending session it publishes a JetStream message schedule,
//     "@at <deadline>", on ScheduleSubject(id) ("feedback.deadline.<id>") in
//     the stream Stream ("FEEDBACK_DEADLINES"). NATS keeps the schedule, and
//     at the deadline publishes an expiry request on ExpireSubject(id)
//     ("feedback.expire.<id>") and removes the schedule. A pending session
//     already past its deadline gets its expiry request at once. A session
//     finished before its deadline has its schedule replaced by a
//     self-removing marker, which cancels it.
//  3. Every replica consumes expiry requests from the durable work-queue
//     consumer ExpireConsumer and calls sessions.Service.Expire, a
//     compare-and-swap on the record's KV revision: exactly one write wins,
//     completed and cancelled sessions are never touched, and a request that
//     arrives early by this host's clock is redelivered at the deadline.
//
// The same feed tells the expirer when a record is purged (a limit marker
// once the session's retention has run out): it then deletes the session's
// images (sessions.Service.DeleteImages), so they disappear with their
// session rather than at the image store's own, later expiry. A marker
// missed while no expirer ran for longer than the marker lives (a minute)
// leaves the images to that expiry; nothing serves them meanwhile, since
// images are served only while their record exists.
//
// Each subject of Stream holds at most one message, so a repeated feed
// message replaces a schedule or request instead of adding one. Any number
// of replicas share both consumers; there is no leader. A replica that dies
// holding messages loses them to another replica after the consumer's ack
// wait; one that stops cleanly hands them back at once.
//
// The schedule time carries milliseconds: nats-server (2.12+, checked on
// 2.15.2) parses "@at" with time.RFC3339, which accepts a fraction of a
// second, and fires a schedule on its own timer, at most every 250 ms under
// load. Should a server refuse the fraction, deadlines are rounded up to the
// next whole second, never down.
//
// The package must not know about HTTP or the edge; it talks to NATS and to
// sessions.Service only.
package expirer
