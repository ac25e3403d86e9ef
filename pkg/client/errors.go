package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Code is an error code of the API (docs/api.md, "Errors"): what a program
// checks, where Message is for people.
type Code string

// The error codes of the API.
const (
	CodeInvalidRequest     Code = "INVALID_REQUEST"
	CodeUnauthorized       Code = "UNAUTHORIZED"
	CodeSessionNotFound    Code = "SESSION_NOT_FOUND"
	CodeImageNotFound      Code = "IMAGE_NOT_FOUND"
	CodeNoFeedback         Code = "NO_FEEDBACK_AVAILABLE"
	CodeRouteNotFound      Code = "NOT_FOUND"
	CodeMethodNotAllowed   Code = "METHOD_NOT_ALLOWED"
	CodeAlreadySubmitted   Code = "ALREADY_SUBMITTED"
	CodeExpired            Code = "SESSION_EXPIRED"
	CodeCancelled          Code = "SESSION_CANCELLED"
	CodePayloadTooLarge    Code = "PAYLOAD_TOO_LARGE"
	CodeRateLimited        Code = "RATE_LIMITED"
	CodeServiceUnavailable Code = "SERVICE_UNAVAILABLE"
	CodeInternal           Code = "INTERNAL_ERROR"
	CodeForbiddenOrigin    Code = "FORBIDDEN_ORIGIN"
	CodeUpgradeRequired    Code = "UPGRADE_REQUIRED"
	CodeLinkNotFound       Code = "LINK_NOT_FOUND"
	CodeTooManyLinks       Code = "TOO_MANY_LINKS"
)

// The sentinel errors, one per kind of refusal, for errors.Is. Every error
// the server answers is an *APIError that matches exactly one of them; use
// errors.As to read its details (the field of an ErrInvalid, the RetryAfter
// of an ErrRateLimited, the request id to quote in a bug report).
var (
	// ErrInvalid: the request was malformed or broke a limit
	// (INVALID_REQUEST, 400); APIError.Field and Reason say which input.
	ErrInvalid = errors.New("feedbackd: invalid request")
	// ErrUnauthorized: missing, wrong or ambiguous credentials
	// (UNAUTHORIZED, 401).
	ErrUnauthorized = errors.New("feedbackd: unauthorized")
	// ErrNotFound: the session never existed, was purged after its
	// retention, or belongs to someone else (SESSION_NOT_FOUND, 404); or it
	// holds no such image (IMAGE_NOT_FOUND, 404); or there is no such
	// inbox link among the caller's (LINK_NOT_FOUND, 404).
	ErrNotFound = errors.New("feedbackd: not found")
	// ErrNoFeedback: the session is still pending, so it has no answer yet
	// (NO_FEEDBACK_AVAILABLE, 404).
	ErrNoFeedback = errors.New("feedbackd: no feedback yet")
	// ErrNoRoute: the server has no such route (NOT_FOUND, 404): a base URL
	// that does not point at feedbackd, or a server too old for the call.
	ErrNoRoute = errors.New("feedbackd: no such route")
	// ErrMethodNotAllowed: the route does not answer this method
	// (METHOD_NOT_ALLOWED, 405).
	ErrMethodNotAllowed = errors.New("feedbackd: method not allowed")
	// ErrAlreadySubmitted: the session was answered already
	// (ALREADY_SUBMITTED, 409).
	ErrAlreadySubmitted = errors.New("feedbackd: already answered")
	// ErrExpired: the session expired unanswered (SESSION_EXPIRED, 410).
	ErrExpired = errors.New("feedbackd: session expired")
	// ErrCancelled: the session was cancelled (SESSION_CANCELLED, 410).
	ErrCancelled = errors.New("feedbackd: session cancelled")
	// ErrPayloadTooLarge: the request body was over the server's limit
	// (PAYLOAD_TOO_LARGE, 413).
	ErrPayloadTooLarge = errors.New("feedbackd: payload too large")
	// ErrRateLimited: over a rate limit (RATE_LIMITED, 429);
	// APIError.RetryAfter says when to try again.
	ErrRateLimited = errors.New("feedbackd: rate limited")
	// ErrUnavailable: the server could not reach its storage, is starting
	// or shutting down, or a proxy in front of it could not reach it
	// (SERVICE_UNAVAILABLE, 503; also 502 and 504 from a proxy).
	ErrUnavailable = errors.New("feedbackd: service unavailable")
	// ErrInternal: a bug in the server (INTERNAL_ERROR, 500); report it
	// with APIError.RequestID.
	ErrInternal = errors.New("feedbackd: internal server error")
	// ErrForbiddenOrigin: a WebSocket upgrade from a browser origin the
	// server does not allow (FORBIDDEN_ORIGIN, 403).
	ErrForbiddenOrigin = errors.New("feedbackd: forbidden origin")
	// ErrUpgradeRequired: a plain HTTP request to a WebSocket route
	// (UPGRADE_REQUIRED, 426).
	ErrUpgradeRequired = errors.New("feedbackd: upgrade required")
	// ErrTooManyLinks: the caller already holds as many inbox links as the
	// server allows (TOO_MANY_LINKS, 409); revoke one first.
	ErrTooManyLinks = errors.New("feedbackd: too many inbox links")
)

// sentinels maps every code to its sentinel.
var sentinels = map[Code]error{
	CodeInvalidRequest:     ErrInvalid,
	CodeUnauthorized:       ErrUnauthorized,
	CodeSessionNotFound:    ErrNotFound,
	CodeImageNotFound:      ErrNotFound,
	CodeNoFeedback:         ErrNoFeedback,
	CodeRouteNotFound:      ErrNoRoute,
	CodeMethodNotAllowed:   ErrMethodNotAllowed,
	CodeAlreadySubmitted:   ErrAlreadySubmitted,
	CodeExpired:            ErrExpired,
	CodeCancelled:          ErrCancelled,
	CodePayloadTooLarge:    ErrPayloadTooLarge,
	CodeRateLimited:        ErrRateLimited,
	CodeServiceUnavailable: ErrUnavailable,
	CodeInternal:           ErrInternal,
	CodeForbiddenOrigin:    ErrForbiddenOrigin,
	CodeUpgradeRequired:    ErrUpgradeRequired,
	CodeLinkNotFound:       ErrNotFound,
	CodeTooManyLinks:       ErrTooManyLinks,
}

// codeOfStatus is the code assumed for an answer without an error envelope
// (a bare 413 refused before routing, a proxy's 502 page).
var codeOfStatus = map[int]Code{
	http.StatusBadRequest:            CodeInvalidRequest,
	http.StatusUnauthorized:          CodeUnauthorized,
	http.StatusForbidden:             CodeForbiddenOrigin,
	http.StatusNotFound:              CodeRouteNotFound,
	http.StatusMethodNotAllowed:      CodeMethodNotAllowed,
	http.StatusConflict:              CodeAlreadySubmitted,
	http.StatusRequestEntityTooLarge: CodePayloadTooLarge,
	http.StatusUpgradeRequired:       CodeUpgradeRequired,
	http.StatusTooManyRequests:       CodeRateLimited,
	http.StatusInternalServerError:   CodeInternal,
	http.StatusBadGateway:            CodeServiceUnavailable,
	http.StatusServiceUnavailable:    CodeServiceUnavailable,
	http.StatusGatewayTimeout:        CodeServiceUnavailable,
}

// APIError is an error the server answered: its error envelope, with the
// HTTP status and the headers that matter. It matches its code's sentinel
// with errors.Is.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Code is the error code; for an answer without an error envelope (a
	// proxy's error page) it is the code of the status.
	Code Code
	// Message is the server's explanation, for people.
	Message string
	// Field and Reason come with INVALID_REQUEST: the input as the request
	// named it ("message", "predefinedOptions[2]", "wait") and what is
	// wrong with it.
	Field, Reason string
	// RequestID is the answer's X-Request-ID: quote it when reporting a
	// problem.
	RequestID string
	// RetryAfter is the answer's Retry-After (429, some 503s), zero if none.
	RetryAfter time.Duration
}

// Error says what the server answered.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("feedbackd: ")
	if e.Code != "" {
		b.WriteString(string(e.Code))
	} else {
		fmt.Fprintf(&b, "HTTP %d", e.Status)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " [request %s]", e.RequestID)
	}
	return b.String()
}

// Is reports whether target is the sentinel of e's code.
func (e *APIError) Is(target error) bool {
	s, ok := sentinels[e.Code]
	return ok && s == target
}

// transient reports whether trying again later may succeed: the server or a
// proxy was unavailable, or a rate limit said to wait.
func (e *APIError) transient() bool {
	return e.Code == CodeServiceUnavailable || e.Code == CodeRateLimited
}

// envelope is the body of every /api/ answer.
type envelope struct {
	Success bool            `json:"success"`
	Data    json.RawMessage `json:"data"`
	Error   *struct {
		Code    Code   `json:"code"`
		Message string `json:"message"`
		Details *struct {
			Field  string `json:"field"`
			Reason string `json:"reason"`
		} `json:"details"`
	} `json:"error"`
}

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// decodeError builds the APIError of a non-2xx answer from its status,
// headers and body (an error envelope, or anything else a proxy sent).
func decodeError(status int, h http.Header, body []byte) *APIError {
	e := &APIError{
		Status:     status,
		RequestID:  h.Get("X-Request-ID"),
		RetryAfter: parseRetryAfter(h.Get("Retry-After")),
	}
	var env envelope
	if json.Unmarshal(body, &env) == nil && env.Error != nil && env.Error.Code != "" {
		e.Code, e.Message = env.Error.Code, env.Error.Message
		if d := env.Error.Details; d != nil {
			e.Field, e.Reason = d.Field, d.Reason
		}
		return e
	}
	e.Code = codeOfStatus[status]
	e.Message = http.StatusText(status)
	if snippet := strings.TrimSpace(string(body)); snippet != "" && len(snippet) <= 200 && !strings.ContainsAny(snippet, "<>") {
		e.Message = snippet
	}
	return e
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d.Round(time.Second)
		}
	}
	return 0
}
