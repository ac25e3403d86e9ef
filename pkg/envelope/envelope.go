package envelope

import (
	"errors"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/inbox"
)

// Body is an envelope: data on success, error otherwise. See docs/api.md,
// "REST API".
type Body struct {
	Success   bool   `json:"success"`
	Data      any    `json:"data"`
	Error     *Error `json:"error"`
	Timestamp string `json:"timestamp"`
}

// Error is the error part of an envelope.
type Error struct {
	Code    sessions.Code `json:"code"`
	Message string        `json:"message"`
	Details *Details      `json:"details,omitempty"`
}

// Details says which input was wrong, for INVALID_REQUEST.
type Details struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// TimeLayout is RFC 3339 with milliseconds, the precision sessions are stored
// at; every time in an API body uses it.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// Time formats t for an API body.
func Time(t time.Time) string { return t.UTC().Format(TimeLayout) }

// Now is the timestamp of a body sent now.
func Now() string { return Time(time.Now()) }

// Status is the HTTP status of a domain error code.
func Status(code sessions.Code) int {
	switch code {
	case sessions.CodeInvalidRequest:
		return http.StatusBadRequest
	case CodeUnauthorized:
		return http.StatusUnauthorized
	case sessions.CodeNotFound, sessions.CodeNoFeedback, sessions.CodeImageNotFound, CodeRouteNotFound:
		return http.StatusNotFound
	case CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case sessions.CodeAlreadySubmitted:
		return http.StatusConflict
	case sessions.CodeExpired, sessions.CodeCancelled:
		return http.StatusGone
	case CodePayloadTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeRateLimited:
		return http.StatusTooManyRequests
	case CodeMisdirected:
		return http.StatusMisdirectedRequest
	case CodeForbiddenOrigin:
		return http.StatusForbidden
	case inbox.CodeLinkNotFound:
		return http.StatusNotFound
	case inbox.CodeTooManyLinks:
		return http.StatusConflict
	case sessions.CodeServiceUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// Coded returns err as a domain error; anything else is INTERNAL_ERROR, with
// the cause kept for logs and never sent.
func Coded(err error) *sessions.Error {
	var e *sessions.Error
	if errors.As(err, &e) {
		return e
	}
	return &sessions.Error{Code: sessions.CodeInternal, Message: "internal error", Err: err}
}

// OK writes data in a success envelope.
func OK(c *fiber.Ctx, status int, data any) error {
	return c.Status(status).JSON(Body{Success: true, Data: data, Timestamp: Now()})
}

// Fail writes err in an error envelope, with status, or the code's status
// when status is 0.
func Fail(c *fiber.Ctx, status int, err error) error {
	e := Coded(err)
	if status == 0 {
		status = Status(e.Code)
	}
	body := &Error{Code: e.Code, Message: e.Message}
	if e.Code == sessions.CodeInvalidRequest {
		body.Details = &Details{Field: e.Field, Reason: e.Reason}
	}
	return c.Status(status).JSON(Body{Error: body, Timestamp: Now()})
}
