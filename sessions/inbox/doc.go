// Package inbox is the domain of inbox links: the credential a browser
// holds to open a person's inbox (docs/inbox.md). An owner (a principal with
// an API key or JWT) mints a link; the link carries a signed, expiring token
// in its URL fragment; the inbox page exchanges that token once for a
// session cookie bound to the link, and mints from the cookie a short-lived
// token for the notifier's WebSocket. Every one of these credentials names
// the link, and every use checks the link's record: revoking the link (its
// record removed) ends all of them at once, on every replica.
//
// A Link record holds no secret (the token is never stored: it is derived
// from the cluster's secret by pkg/auth's LinkTokens), so listing shows the
// name, the times and the id, never a credential.
//
// It must not know NATS, HTTP, cookies or routes: the JetStream KV Store is
// sessions/natskv's LinkStore, and the edge sets the cookie and checks the
// origin of requests.
package inbox
