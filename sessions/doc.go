// Package sessions is the feedback domain: the Session record, its one-way
// state machine (pending → completed | expired | cancelled), the limits
// counted in characters, the error codes every transport maps to its own
// status codes, and the Service that applies the rules over a Store. See
// docs/api.md, "Limits" and "Errors".
//
// It must not know about HTTP, MCP, WebSockets or NATS. The JetStream KV
// implementation of Store and Feed lives in sessions/natskv.
package sessions
