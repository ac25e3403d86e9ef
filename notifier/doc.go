// Package notifier is the WebSocket service (docs/api.md, "WebSocket", and
// docs/notifier.md): apps and the feedback page follow sessions live over
// GET /ws/{id} (one session) and GET /ws (every session of the caller).
//
// A notifier process follows the change feed once: it subscribes a single
// callback to the sessions.Hub that the feed (natskv.Feed) publishes into, and
// its own Hub fans each change out to the local connections by session id and
// by owner. A version this process wrote itself (an answer taken by the edge
// in serve) reaches the /ws/{id} sockets of its session straight from the
// sessions.Hub, ahead of the feed, whose copy their revision floor then
// discards. No connection opens anything on NATS.
//
// Every connection is authorized before the upgrade (plain HTTP 401/403/404,
// never a closed socket), has a bounded send queue written by one writer at a
// time (a goroutine that runs only while there is something to send, so an
// idle connection holds its reader goroutine and nothing else), and is
// dropped with close code 1008 when that queue fills, so a slow client
// never delays the others. It lives no longer than its credential (4001 when
// a JWT or page token expires). A connection opened with the feedback page's
// token hears the status only, never the answer, and counts against a
// per-session budget of its own. On connect the client is subscribed first, then the
// current record is read, and changes are ordered by their KV revision, so
// nothing falls into the gap between the two and nothing is sent twice. The
// feed promises the latest state of every session and always its final
// state, not every version (docs/architecture.md, "The change feed"), so the
// final status change carries what session_created would have said.
//
// The package consumes sessions.Service and the small Authenticator and
// PageTokenVerifier interfaces below; it must not know how sessions are stored
// or how credentials are checked.
package notifier
