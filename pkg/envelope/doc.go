// Package envelope is the JSON wire form of the HTTP API, shared by every
// role that answers HTTP (the edge, the notifier refusing an upgrade) and by
// MCP, which returns the same bodies as structured content:
//
//   - the /api/ response envelope and its time format;
//   - the one mapping from error codes to HTTP statuses, and the codes that
//     only HTTP produces (a route or method that does not exist, a body too
//     large, a rate limit, missing credentials);
//   - the bodies that describe a session (StatusOf, ResultOf) and the rules
//     for reading a JSON request body (Decode).
//
// See docs/api.md, "Errors". It knows the domain's error type and records,
// and nothing of routes, roles or storage.
package envelope
