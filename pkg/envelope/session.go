package envelope

import (
	"errors"
	"time"

	"github.com/feedbackd/feedbackd/sessions"
)

// The bodies that describe one session, returned by REST (in an envelope)
// and by the MCP tools (as structured content), so that both say the same
// thing the same way. Times are strings so that an absent one is left out
// rather than sent as zero. See docs/api.md, "REST API".

// StatusBody is a session's state: the data of a status response.
type StatusBody struct {
	SessionID   string          `json:"sessionId"`
	Status      sessions.Status `json:"status"`
	CreatedAt   string          `json:"createdAt"`
	ExpiresAt   string          `json:"expiresAt"`
	SubmittedAt string          `json:"submittedAt,omitempty"`
}

// Feedback is the answer as a result reports it.
type Feedback struct {
	SelectedOptions  []string `json:"selectedOptions,omitempty"`
	FreeText         string   `json:"freeText,omitempty"`
	CombinedFeedback string   `json:"combinedFeedback"`
}

// ResultBody is the data of a result response.
type ResultBody struct {
	SessionID   string   `json:"sessionId"`
	Feedback    Feedback `json:"feedback"`
	SubmittedAt string   `json:"submittedAt"`
	Metadata    any      `json:"metadata,omitempty"`
}

// OptTime formats t, or returns "" for nil.
func OptTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return Time(*t)
}

// StatusOf is the status body of sess.
func StatusOf(sess *sessions.Session) StatusBody {
	return StatusBody{
		SessionID:   sess.ID,
		Status:      sess.Status,
		CreatedAt:   Time(sess.CreatedAt),
		ExpiresAt:   Time(sess.ExpiresAt),
		SubmittedAt: OptTime(sess.SubmittedAt),
	}
}

// ResultOf is the result body of a completed session, or the error that says
// why there is none: NO_FEEDBACK_AVAILABLE while pending, SESSION_EXPIRED or
// SESSION_CANCELLED once no answer can come.
func ResultOf(sess *sessions.Session) (ResultBody, error) {
	switch sess.Status {
	case sessions.StatusPending:
		return ResultBody{}, sessions.Errorf(sessions.CodeNoFeedback, "no feedback has been submitted yet")
	case sessions.StatusExpired:
		return ResultBody{}, sessions.Errorf(sessions.CodeExpired, "the session expired without an answer")
	case sessions.StatusCancelled:
		return ResultBody{}, sessions.Errorf(sessions.CodeCancelled, "the session was cancelled")
	}
	if sess.Feedback == nil {
		return ResultBody{}, errors.New("completed session without feedback")
	}
	res := ResultBody{
		SessionID: sess.ID,
		Feedback: Feedback{
			SelectedOptions:  sess.Feedback.SelectedOptions,
			FreeText:         sess.Feedback.FreeText,
			CombinedFeedback: sess.Feedback.CombinedFeedback,
		},
		SubmittedAt: OptTime(sess.SubmittedAt),
	}
	if len(sess.Feedback.Metadata) > 0 {
		res.Metadata = sess.Feedback.Metadata
	}
	return res, nil
}

// FeedbackURL is the link a person answers at, for REST and MCP alike.
func FeedbackURL(base, id string) string { return base + "/feedback/" + id }
