// Package mcp is feedbackd's MCP server: the four tools of docs/mcp.md
// (interactive_feedback, get_feedback_result, check_feedback_status, and
// request_approval, a permission prompt tool), each a small function over
// sessions.Service; for hosts that declare MCP Apps, the question form
// rendered inside the conversation and its app-only tools (apps.go); served
// over Streamable HTTP (/mcp)
// and the older HTTP+SSE transport (/sse, /sse/message), with SSE messages
// relayed between replicas (relay.go) so that no load balancer needs sticky
// sessions.
//
// The edge mounts it: routes, authentication, rate limits and CORS are the
// edge's, and it hands each request over with a Caller. The package must not
// know how sessions are stored or how credentials are checked.
package mcp
