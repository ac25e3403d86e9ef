// Package ratelimit is an in-memory rate limiter keyed by string (a
// principal id, a client address): GCRA, which behaves like a token bucket
// of size burst refilled at rate per second, but keeps one timestamp per key.
//
// Limits are per replica. Each process counts on its own and shares nothing
// with other replicas, so N edge replicas behind a load balancer admit up to
// N times the configured rate for one key. That is the intended trade: no
// round trip to NATS on every request, at the cost of a looser bound in a
// cluster.
//
// Memory is bounded: a key whose bucket has refilled carries no information
// and is swept by a background goroutine (stopped by Close or by the context
// given with WithContext), and a cap on the number of keys evicts old ones
// under a flood of new keys. The package knows nothing of HTTP; the caller
// turns a Decision into 429 and its headers.
//
// Slots is its sibling for what is held rather than started: a cap on how
// many things (long waits) one key has in flight at once.
package ratelimit
