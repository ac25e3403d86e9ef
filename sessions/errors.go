package sessions

import (
	"errors"
	"fmt"
)

// Code is a machine-readable error code (docs/api.md, "Errors").
// Transports map codes to their own statuses in one place each; codes that
// only a transport produces (an unknown route, a rate limit) are declared
// there, with this type.
type Code string

// The error codes the domain produces.
const (
	CodeInvalidRequest     Code = "INVALID_REQUEST"
	CodeNotFound           Code = "SESSION_NOT_FOUND"
	CodeNoFeedback         Code = "NO_FEEDBACK_AVAILABLE"
	CodeAlreadySubmitted   Code = "ALREADY_SUBMITTED"
	CodeExpired            Code = "SESSION_EXPIRED"
	CodeCancelled          Code = "SESSION_CANCELLED"
	CodeServiceUnavailable Code = "SERVICE_UNAVAILABLE"
	CodeInternal           Code = "INTERNAL_ERROR"
)

// Error is the one error type of the domain. Message is safe to show to the
// caller; Field and Reason say which input was wrong for INVALID_REQUEST.
type Error struct {
	Code    Code
	Message string
	Field   string
	Reason  string
	Err     error // the underlying cause, never shown to callers
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an INVALID_REQUEST error about one field.
func Invalid(field, reason string) *Error {
	msg := reason
	if field != "" {
		msg = field + ": " + reason
	}
	return &Error{Code: CodeInvalidRequest, Message: msg, Field: field, Reason: reason}
}

// Unavailable wraps a storage failure so that callers see 503, not 500.
func Unavailable(op string, err error) *Error {
	return &Error{Code: CodeServiceUnavailable, Message: "session storage is unavailable", Err: fmt.Errorf("%s: %w", op, err)}
}

// ErrorCode returns the code of err: empty for nil, INTERNAL_ERROR for
// anything that is not an *Error.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// Store-level sentinels, returned by Store implementations and translated by
// the Service into coded errors.
var (
	// ErrNotFound means the key does not exist (never created, or purged).
	ErrNotFound = errors.New("session not found")
	// ErrConflict means a compare-and-swap lost: the record changed since it
	// was read, or a record with that id already exists.
	ErrConflict = errors.New("session revision conflict")
)
