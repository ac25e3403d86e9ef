package envelope

import "github.com/feedbackd/feedbackd/sessions"

// The error codes only the HTTP layer produces: the domain never refuses a
// route, a method, a body size, a rate or a credential. They share the
// domain's Code type so that one envelope carries either kind. See
// docs/api.md, "Errors".
const (
	// CodeUnauthorized: missing or invalid credentials (401).
	CodeUnauthorized sessions.Code = "UNAUTHORIZED"
	// CodeMethodNotAllowed: the route exists, the method does not (405,
	// with Allow).
	CodeMethodNotAllowed sessions.Code = "METHOD_NOT_ALLOWED"
	// CodePayloadTooLarge: a request body over the limit (413).
	CodePayloadTooLarge sessions.Code = "PAYLOAD_TOO_LARGE"
	// CodeRateLimited: over a rate or connection limit (429, with
	// Retry-After).
	CodeRateLimited sessions.Code = "RATE_LIMITED"
	// CodeRouteNotFound: no such route under /api/ (404).
	CodeRouteNotFound sessions.Code = "NOT_FOUND"
	// CodeMisdirected: the request names a host this server does not
	// answer (421), the defence against DNS rebinding.
	CodeMisdirected sessions.Code = "MISDIRECTED_REQUEST"
	// CodeForbiddenOrigin: a browser request from an origin that may not
	// make it (403): a WebSocket from a page elsewhere, or a change to the
	// inbox from another site.
	CodeForbiddenOrigin sessions.Code = "FORBIDDEN_ORIGIN"
)
