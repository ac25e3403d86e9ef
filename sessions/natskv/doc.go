// Package natskv stores sessions in a JetStream key-value bucket and turns the
// bucket's own stream into the change feed.
//
// Keys (bucket "feedback_sessions" by default):
//
//	s.<sessionId>                       the session record (JSON); every transition is a
//	                                    compare-and-swap on the key's revision
//	o.<ownerHash>.<createdNanos>.<id>   the owner index that List walks, newest first
//
// The change feed is the stream subject of the records,
// "$KV.feedback_sessions.s.<sessionId>": a state change and its event are the
// same message, so no crash can write one without the other. Feed follows it
// with one ordered consumer per process and fans it out through a
// sessions.Hub.
//
// Retention is NATS's job: a record is written with a per-message TTL
// (timeout + retention while pending, retention once finished) and the server
// removes it, leaving a short-lived delete marker. kv.Update cannot carry a
// TTL, so transitions publish to the key's subject with an expected
// last-subject-sequence and a message TTL instead.
//
// Images (Images, a sessions.ImageStore) live in the object store
// "feedback_images" — object "<sessionId>/<imageId>", chunked, so no message
// nears max_payload and session records stay small — with the KV bucket
// "feedback_images_index" (key "<sessionId>.<imageId>") listing each
// session's images for DeleteSession. Both are replicated like the sessions
// bucket and expire entries after MaxAge, which must cover the longest a
// session can live (ImageMaxAge: the longest timeout plus retention).
package natskv
