// Package edge is the HTTP face of feedbackd: authentication, the REST API of
// SPEC §4, the feedback page, MCP and health. It consumes sessions.Service and
// must not know how sessions are stored.
package edge
