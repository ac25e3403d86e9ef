package telegram

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// ErrInvalid is wrapped by every error about input refused before anything
// was sent: a bad question, chat id or callback token.
var ErrInvalid = errors.New("telegram: invalid input")

// Error is a request the Bot API answered with "ok": false.
type Error struct {
	// Method is the Bot API method called, e.g. "sendMessage".
	Method string
	// Code is the Bot API's error_code (an HTTP status).
	Code int
	// Description is the Bot API's description, e.g. "Bad Request: chat not
	// found".
	Description string
	// RetryAfter is how long Telegram asks to wait before the next request
	// (with code 429).
	RetryAfter time.Duration
}

// Error says which method failed and what Telegram answered.
func (e *Error) Error() string {
	return fmt.Sprintf("telegram %s: %d %s", e.Method, e.Code, e.Description)
}

// Temporary reports whether the same request may succeed later: flood
// control (429) and Telegram's own failures (5xx). Everything else — a bad
// request, a blocked bot (403), a revoked token (401) — fails again.
func (e *Error) Temporary() bool { return e.Code == 429 || e.Code >= 500 }

// IsTransient reports whether err may go away if the request is repeated:
// a temporary Bot API error or a failure to reach the API at all. A
// cancelled or expired caller context is not transient; the caller gave up.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, ErrInvalid) {
		return false
	}
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return apiErr.Temporary()
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errTransport)
}

// IsNotModified reports whether err is Telegram refusing an edit that
// changes nothing — which for an idempotent edit means it is already done.
func IsNotModified(err error) bool {
	var apiErr *Error
	return errors.As(err, &apiErr) && apiErr.Code == 400 &&
		strings.Contains(apiErr.Description, "message is not modified")
}

// IsConflict reports whether err is getUpdates refused because another
// getUpdates is running or a webhook is set.
func IsConflict(err error) bool {
	var apiErr *Error
	return errors.As(err, &apiErr) && apiErr.Code == 409
}

// errTransport marks a request that did not get a well-formed answer.
var errTransport = errors.New("telegram: transport failure")
