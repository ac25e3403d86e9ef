// Package opsapi is the operations face every feedbackd role shows to its
// orchestrator and its scraper: GET /health (liveness), GET /ready
// (readiness) and GET /metrics, as a plain net/http handler, in one form for
// every role. Roles without an HTTP app of their own (the expirer, and any
// role given METRICS_ADDR) serve it on their address with Serve; the edge and
// the notifier mount it on their apps (through pkg/httpbridge). It knows
// nothing of sessions or NATS: the checks are handed in. See docs/api.md,
// "Health and operations", and docs/observability.md.
package opsapi
