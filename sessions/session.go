package sessions

import (
	"encoding/json"
	"strings"
	"time"
)

// Status is where a session is in its life. Only pending has a way out.
type Status string

// The statuses (docs/api.md, "REST API"): pending, then exactly one of the
// other three.
const (
	StatusPending   Status = "pending"
	StatusCompleted Status = "completed"
	StatusExpired   Status = "expired"
	StatusCancelled Status = "cancelled"
)

// Valid reports whether s is one of the four statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusCompleted, StatusExpired, StatusCancelled:
		return true
	}
	return false
}

// Terminal reports whether no transition can leave s.
func (s Status) Terminal() bool { return s != StatusPending }

// CanBecome reports whether the state machine allows s → next. The machine is
// one-way: pending may become any terminal status, nothing else moves.
func (s Status) CanBecome(next Status) bool {
	return s == StatusPending && next.Valid() && next.Terminal()
}

// Session is one question put to a person, and its answer.
type Session struct {
	ID                string          `json:"sessionId"`
	Owner             string          `json:"owner"`
	Message           string          `json:"message"`
	PredefinedOptions []string        `json:"predefinedOptions,omitempty"`
	Timeout           int             `json:"timeout"` // seconds
	Metadata          json.RawMessage `json:"metadata,omitempty"`
	Status            Status          `json:"status"`
	CreatedAt         time.Time       `json:"createdAt"`
	ExpiresAt         time.Time       `json:"expiresAt"`
	SubmittedAt       *time.Time      `json:"submittedAt,omitempty"`
	// FinishedAt is when the session left pending, whatever the way out.
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	Feedback   *Feedback  `json:"feedback,omitempty"`
	// Notify is false when the agent asked for no channel notifications;
	// nil (every record written before the field existed) means true.
	Notify *bool `json:"notify,omitempty"`

	// Title is a short heading for the page, lists and notifications.
	Title string `json:"title,omitempty"`
	// SingleSelect is stored rather than multiSelect so that records
	// written before it existed keep their meaning; see MultiSelect.
	SingleSelect bool `json:"singleSelect,omitempty"`
	// Fields is the form to fill in, nil if none.
	Fields *FormSchema `json:"fields,omitempty"`
	// Approval is set when the session asks to approve or deny an action.
	Approval *Approval `json:"approval,omitempty"`
	// Images are the agent's images shown with the question.
	Images []Image `json:"images,omitempty"`
	// CancelReason says why a cancelled session was cancelled, when the
	// canceller said (for example "declined by the person"); empty for
	// every other status and for a cancel that gave no reason.
	CancelReason string `json:"cancelReason,omitempty"`

	// CallRef lets the surface that created the session find it again from
	// what it saw of the request (CreateRequest.CallRef). It is opaque here
	// and shown to no one.
	CallRef string `json:"callRef,omitempty"`

	// Revision is the store's revision of this record, the token of every
	// compare-and-swap. It is not part of the stored value.
	Revision uint64 `json:"-"`
}

// Feedback is the person's answer.
type Feedback struct {
	SelectedOptions  []string        `json:"selectedOptions,omitempty"`
	FreeText         string          `json:"freeText,omitempty"`
	CombinedFeedback string          `json:"combinedFeedback"`
	Metadata         json.RawMessage `json:"metadata,omitempty"`

	// Values answers the session's form.
	Values Values `json:"values,omitempty"`
	// Decision and Reason answer an approval.
	Decision Decision `json:"decision,omitempty"`
	Reason   string   `json:"reason,omitempty"`
	// Images are the person's images attached to the answer.
	Images []Image `json:"images,omitempty"`
}

// MultiSelect reports whether the person may pick several options.
func (s *Session) MultiSelect() bool { return !s.SingleSelect }

// Kind reports what the session asks for.
func (s *Session) Kind() Kind {
	if s.Approval != nil {
		return KindApproval
	}
	return KindQuestion
}

// Notifies reports whether the owner's notification channels hear of the
// session.
func (s *Session) Notifies() bool { return s.Notify == nil || *s.Notify }

// Due reports whether a pending session has passed its deadline at now.
func (s *Session) Due(now time.Time) bool {
	return s.Status == StatusPending && !now.Before(s.ExpiresAt)
}

// effectiveStatus is the status a reader should see at now: a due pending
// session is expired even if no expirer has written it yet.
func (s *Session) effectiveStatus(now time.Time) Status {
	if s.Due(now) {
		return StatusExpired
	}
	return s.Status
}

// Clone returns a deep copy, so that a failed transition leaves the
// original untouched.
func (s *Session) Clone() *Session {
	c := *s
	c.PredefinedOptions = append([]string(nil), s.PredefinedOptions...)
	c.Metadata = append(json.RawMessage(nil), s.Metadata...)
	if s.SubmittedAt != nil {
		t := *s.SubmittedAt
		c.SubmittedAt = &t
	}
	if s.FinishedAt != nil {
		t := *s.FinishedAt
		c.FinishedAt = &t
	}
	if s.Notify != nil {
		n := *s.Notify
		c.Notify = &n
	}
	if s.Feedback != nil {
		f := *s.Feedback
		f.SelectedOptions = append([]string(nil), s.Feedback.SelectedOptions...)
		f.Metadata = append(json.RawMessage(nil), s.Feedback.Metadata...)
		f.Images = append([]Image(nil), s.Feedback.Images...)
		if s.Feedback.Values != nil {
			f.Values = make(Values, len(s.Feedback.Values))
			for k, v := range s.Feedback.Values {
				f.Values[k] = append(json.RawMessage(nil), v...)
			}
		}
		c.Feedback = &f
	}
	// Fields is never modified after parsing, so it is shared.
	c.Images = append([]Image(nil), s.Images...)
	if s.Approval != nil {
		a := *s.Approval
		a.Details = append(json.RawMessage(nil), s.Approval.Details...)
		c.Approval = &a
	}
	return &c
}

// CombineFeedback builds combinedFeedback: the selected options joined by
// newlines, a blank line, then the trimmed free text; empty parts are left out.
func CombineFeedback(selected []string, freeText string) string {
	opts := strings.Join(selected, "\n")
	text := strings.TrimSpace(freeText)
	switch {
	case opts == "":
		return text
	case text == "":
		return opts
	}
	return opts + "\n\n" + text
}

// Preview returns the first n characters of s.
func Preview(s string, n int) string {
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}
