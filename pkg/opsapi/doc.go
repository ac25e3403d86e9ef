// Package opsapi is the operations face every feedbackd role shows to its
// orchestrator and its scraper: GET /health (liveness), GET /ready
// (readiness) and GET /metrics, as a plain net/http handler. Roles without an
// HTTP app of their own (the expirer) serve it on their address with Serve;
// roles with a fiber app mount it or use the same bodies. It knows nothing of
// sessions or NATS: the checks are handed in.
package opsapi
