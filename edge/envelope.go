package edge

import (
	"errors"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/feedbackd/feedbackd/sessions"
)

// envelope is the JSON shape of every /api/ response (SPEC §4).
type envelope struct {
	Success   bool      `json:"success"`
	Data      any       `json:"data"`
	Error     *apiError `json:"error"`
	Timestamp string    `json:"timestamp"`
}

type apiError struct {
	Code    sessions.Code `json:"code"`
	Message string        `json:"message"`
	Details *errDetails   `json:"details,omitempty"`
}

type errDetails struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

func timestamp() string { return time.Now().UTC().Format(timeLayout) }

// timeLayout is RFC 3339 with milliseconds, the precision sessions are stored at.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

func ok(c *fiber.Ctx, status int, data any) error {
	return c.Status(status).JSON(envelope{Success: true, Data: data, Timestamp: timestamp()})
}

// httpStatus is the one place where domain codes become HTTP statuses.
func httpStatus(code sessions.Code) int {
	switch code {
	case sessions.CodeInvalidRequest:
		return http.StatusBadRequest
	case sessions.CodeUnauthorized:
		return http.StatusUnauthorized
	case sessions.CodeNotFound, sessions.CodeNoFeedback, sessions.CodeRouteNotFound:
		return http.StatusNotFound
	case sessions.CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case sessions.CodeAlreadySubmitted:
		return http.StatusConflict
	case sessions.CodeExpired, sessions.CodeCancelled:
		return http.StatusGone
	case sessions.CodePayloadTooLarge:
		return http.StatusRequestEntityTooLarge
	case sessions.CodeRateLimited:
		return http.StatusTooManyRequests
	case sessions.CodeServiceUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// fail writes err as an error envelope. Internal causes are logged, never sent.
func (s *Server) fail(c *fiber.Ctx, err error) error {
	var e *sessions.Error
	if !errors.As(err, &e) {
		e = &sessions.Error{Code: sessions.CodeInternal, Message: "internal error", Err: err}
	}
	status := httpStatus(e.Code)
	if status >= 500 {
		s.log.ErrorContext(c.UserContext(), "request failed", "method", c.Method(), "path", c.Route().Path, "code", e.Code, "err", err)
	}
	body := &apiError{Code: e.Code, Message: e.Message}
	if e.Code == sessions.CodeInvalidRequest {
		body.Details = &errDetails{Field: e.Field, Reason: e.Reason}
	}
	return c.Status(status).JSON(envelope{Error: body, Timestamp: timestamp()})
}

// errorHandler turns errors that escape handlers, and fasthttp's own refusals
// (such as an oversized body), into envelopes under /api/.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	var fe *fiber.Error
	if errors.As(err, &fe) {
		code := sessions.CodeInternal
		msg := fe.Message
		switch fe.Code {
		case http.StatusRequestEntityTooLarge:
			code, msg = sessions.CodePayloadTooLarge, "request body is larger than 64 KiB"
		case http.StatusNotFound:
			code, msg = sessions.CodeRouteNotFound, "no such route"
		case http.StatusMethodNotAllowed:
			code = sessions.CodeMethodNotAllowed
		case http.StatusBadRequest:
			code = sessions.CodeInvalidRequest
		case http.StatusRequestTimeout, http.StatusRequestHeaderFieldsTooLarge:
			code = sessions.CodeInvalidRequest
		case http.StatusServiceUnavailable:
			code = sessions.CodeServiceUnavailable
		}
		e := &sessions.Error{Code: code, Message: msg}
		if code == sessions.CodeInternal {
			e.Err = err
		}
		return s.fail(c, e)
	}
	return s.fail(c, err)
}
