package edge

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"github.com/feedbackd/feedbackd/pkg/envelope"
	"github.com/feedbackd/feedbackd/sessions"
)

// The /api/ envelope and the code → HTTP status mapping live in
// pkg/envelope, shared with the notifier and MCP.

func ok(c *fiber.Ctx, status int, data any) error { return envelope.OK(c, status, data) }

func httpStatus(code sessions.Code) int { return envelope.Status(code) }

// fail writes err as an error envelope. Internal causes are logged, never sent.
func (s *Server) fail(c *fiber.Ctx, err error) error {
	e := envelope.Coded(err)
	if httpStatus(e.Code) >= 500 {
		s.log.ErrorContext(c.UserContext(), "request failed", "method", c.Method(), "path", c.Route().Path, "code", e.Code, "err", err)
	}
	return envelope.Fail(c, 0, e)
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
			return s.tooLarge(c)
		case http.StatusNotFound:
			code, msg = envelope.CodeRouteNotFound, "no such route"
		case http.StatusMethodNotAllowed:
			code = envelope.CodeMethodNotAllowed
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
