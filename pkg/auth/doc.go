// Package auth turns request credentials into a Principal: API keys
// (X-API-Key or "Authorization: ApiKey K"), compared in constant time. The
// same Authenticator serves REST, MCP and WebSocket. It knows nothing of
// sessions or HTTP frameworks.
package auth
