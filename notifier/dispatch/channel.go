package dispatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/channels"
)

// Channel sends notifications of one kind. Deliver sends n once; it returns
// nil when the destination accepted it, or an *Error that says whether
// trying again may help. Errors that are not an *Error count as transient.
// Deliver must honour ctx and must not put a secret (a token, a Slack
// webhook URL) into its error.
type Channel interface {
	Deliver(ctx context.Context, n *Notification) (Receipt, error)
}

// Notification is one event for one destination.
type Notification struct {
	// ID is the delivery's id, the same on every attempt (webhook-id).
	ID    string
	Event channels.Event
	// Session is the session the event is about, as of the event: for
	// session.created the question as it was asked. Nil for EventTest.
	Session     *sessions.Session
	Destination channels.Destination
	// Link is the feedback page of the session.
	Link string
	// SubmitURL answers the session with a POST of
	// {"selectedOptions":[…]} and needs no credential (the id in it is the
	// capability, as in Link).
	SubmitURL string
	// Announcement is the Receipt.Ref of the session.created notification
	// this destination accepted, for a final event ("" if none), e.g. the
	// Telegram message to edit.
	Announcement string
	// Attempt counts from 1.
	Attempt int
	// Time is when the event happened.
	Time time.Time
}

// Receipt is what a destination said when it accepted a notification.
type Receipt struct {
	// Ref identifies what was created, for a later event to refer to (a
	// Telegram message id); empty when the channel has nothing to refer to.
	Ref string
	// StatusCode is the HTTP status of the answer, when there was one.
	StatusCode int
}

// ErrorKind says what to do about a failed delivery.
type ErrorKind int

// The kinds of delivery failure.
const (
	// Transient: try again later (network trouble, 5xx, 408, 429).
	Transient ErrorKind = iota
	// Permanent: the destination refused it; trying again will not help.
	Permanent
	// Gone: the destination no longer exists (a push subscription answered
	// 404 or 410); it is removed from the owner's settings.
	Gone
)

// Error is a failed delivery.
type Error struct {
	Kind ErrorKind
	// StatusCode is the destination's HTTP status, 0 if it never answered.
	StatusCode int
	// RetryAfter is how long the destination asked us to wait (Retry-After).
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	if e.StatusCode != 0 {
		return fmt.Sprintf("HTTP %d: %v", e.StatusCode, e.Err)
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// TransientError returns an error that a later attempt may not meet.
func TransientError(status int, retryAfter time.Duration, err error) error {
	return &Error{Kind: Transient, StatusCode: status, RetryAfter: retryAfter, Err: err}
}

// PermanentError returns an error that no retry will mend.
func PermanentError(status int, err error) error {
	return &Error{Kind: Permanent, StatusCode: status, Err: err}
}

// GoneError returns an error saying the destination no longer exists.
func GoneError(status int, err error) error {
	return &Error{Kind: Gone, StatusCode: status, Err: err}
}

// failure reads err as a delivery error; anything that is not one is
// transient.
func failure(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Kind: Transient, Err: err}
}
