// Package redact shortens what logs must not carry in full. A session id is
// a capability: whoever holds it may open the feedback page and answer
// (docs/api.md, "Authentication"). Logs are read by more people than may
// answer, so ids appear in them only as a prefix, enough to tell sessions
// apart and to find one among a principal's sessions, never enough to use.
//
// It must not know what a session is beyond the shape of its id.
package redact
