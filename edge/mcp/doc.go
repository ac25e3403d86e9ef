// Package mcp is feedbackd's MCP server: the tools of docs/mcp.md
// (interactive_feedback, get_feedback_result, check_feedback_status,
// cancel_feedback, list_feedback, and request_approval, a permission prompt
// tool), each a small function over sessions.Service, served over
// Streamable HTTP (/mcp) and the older HTTP+SSE transport (/sse,
// /sse/message), with SSE messages relayed between replicas (relay.go) so
// that no load balancer needs sticky sessions.
//
// Beyond the link every tool result carries, the person is asked inside
// the client when it can ask, by one path per client (features.go reads
// what it declared): hosts of MCP Apps render the question form in the
// conversation and answer through app-only tools (apps.go); other clients
// that declared elicitation get a form or the link (elicit.go), with the
// requests to the client and their answers routed between replicas
// (outbound.go). Tasks, resources and subscriptions are answered from the
// sessions service (tasks.go, resources.go) by JSON-RPC handling in front
// of mcp-go (intercept.go), so that nothing a client relies on lives in one
// replica's memory.
//
// The edge mounts it: routes, authentication, rate limits and CORS are the
// edge's, and it hands each request over with a Caller. The package must not
// know how sessions are stored or how credentials are checked.
package mcp
