package envelope

import (
	"encoding/json"
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
	// CancelReason says why a cancelled session was cancelled, when that
	// was recorded (for example "declined by the person").
	CancelReason string `json:"cancelReason,omitempty"`
	// Question is what the session asks, as its owner created it.
	Question Question `json:"question"`
}

// Question is what a session asks, in the shape of the create request
// that made it: the kind, the title, the message, options (multiSelect is
// given with options only), the form, an approval's action and details, the
// agent's images, and the metadata given at create.
type Question struct {
	Kind              sessions.Kind        `json:"kind"`
	Title             string               `json:"title,omitempty"`
	Message           string               `json:"message,omitempty"`
	PredefinedOptions []string             `json:"predefinedOptions,omitempty"`
	MultiSelect       *bool                `json:"multiSelect,omitempty"`
	Fields            *sessions.FormSchema `json:"fields,omitempty"`
	Action            string               `json:"action,omitempty"`
	Details           json.RawMessage      `json:"details,omitempty"`
	Images            []Image              `json:"images,omitempty"`
	Metadata          json.RawMessage      `json:"metadata,omitempty"`
}

// Image is a stored image as a response names it: the reference the
// session holds, and the URL its owner reads the bytes at (with
// credentials; see ImageURL).
type Image struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	MimeType string `json:"mimeType"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
	URL      string `json:"url"`
}

// Feedback is the answer as a result reports it. Only what the answer
// holds is present: options and free text, a form's values, an approval's
// decision and reason, the person's images.
type Feedback struct {
	SelectedOptions  []string          `json:"selectedOptions,omitempty"`
	FreeText         string            `json:"freeText,omitempty"`
	CombinedFeedback string            `json:"combinedFeedback"`
	Values           sessions.Values   `json:"values,omitempty"`
	Decision         sessions.Decision `json:"decision,omitempty"`
	Reason           string            `json:"reason,omitempty"`
	Images           []Image           `json:"images,omitempty"`
}

// ResultBody is the data of a result response. Metadata is what was sent
// with the answer; the metadata given at create is Question.Metadata.
type ResultBody struct {
	SessionID   string   `json:"sessionId"`
	Feedback    Feedback `json:"feedback"`
	SubmittedAt string   `json:"submittedAt"`
	Metadata    any      `json:"metadata,omitempty"`
	Question    Question `json:"question"`
}

// ListItem summarises a session in a listing (REST's list, MCP's
// list_feedback): the status body has the whole question, the result the
// answer.
type ListItem struct {
	SessionID   string          `json:"sessionId"`
	Message     string          `json:"message"`
	Status      sessions.Status `json:"status"`
	CreatedAt   string          `json:"createdAt"`
	ExpiresAt   string          `json:"expiresAt"`
	SubmittedAt string          `json:"submittedAt,omitempty"`
	// CancelReason is set on a cancelled session whose canceller said why.
	CancelReason string          `json:"cancelReason,omitempty"`
	Kind         sessions.Kind   `json:"kind"`
	Title        string          `json:"title,omitempty"`
	Action       string          `json:"action,omitempty"`
	Metadata     json.RawMessage `json:"metadata,omitempty"`
}

// ListItemOf summarises sess.
func ListItemOf(sess *sessions.Session) ListItem {
	item := ListItem{
		SessionID:    sess.ID,
		Message:      sess.Message,
		Status:       sess.Status,
		CreatedAt:    Time(sess.CreatedAt),
		ExpiresAt:    Time(sess.ExpiresAt),
		SubmittedAt:  OptTime(sess.SubmittedAt),
		CancelReason: cancelReason(sess),
		Kind:         sess.Kind(),
		Title:        sess.Title,
		Metadata:     sess.Metadata,
	}
	if sess.Approval != nil {
		item.Action = sess.Approval.Action
	}
	return item
}

// OptTime formats t, or returns "" for nil.
func OptTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return Time(*t)
}

// StatusOf is the status body of sess; base is the public URL image URLs
// start with.
func StatusOf(sess *sessions.Session, base string) StatusBody {
	return StatusBody{
		SessionID:    sess.ID,
		Status:       sess.Status,
		CreatedAt:    Time(sess.CreatedAt),
		ExpiresAt:    Time(sess.ExpiresAt),
		SubmittedAt:  OptTime(sess.SubmittedAt),
		CancelReason: cancelReason(sess),
		Question:     QuestionOf(sess, base),
	}
}

// cancelReason is sess's CancelReason while it is cancelled.
func cancelReason(sess *sessions.Session) string {
	if sess.Status != sessions.StatusCancelled {
		return ""
	}
	return sess.CancelReason
}

// QuestionOf is what sess asks.
func QuestionOf(sess *sessions.Session, base string) Question {
	q := Question{
		Kind:              sess.Kind(),
		Title:             sess.Title,
		Message:           sess.Message,
		PredefinedOptions: sess.PredefinedOptions,
		Fields:            sess.Fields,
		Images:            ImagesOf(base, sess.ID, sess.Images),
		Metadata:          sess.Metadata,
	}
	if len(sess.PredefinedOptions) > 0 {
		multi := sess.MultiSelect()
		q.MultiSelect = &multi
	}
	if sess.Approval != nil {
		q.Action, q.Details = sess.Approval.Action, sess.Approval.Details
	}
	return q
}

// ImagesOf names stored images for a response, or nil for none.
func ImagesOf(base, sessionID string, refs []sessions.Image) []Image {
	if len(refs) == 0 {
		return nil
	}
	out := make([]Image, len(refs))
	for i, r := range refs {
		out[i] = Image{ID: r.ID, Name: r.Name, MimeType: r.MimeType, Size: r.Size, SHA256: r.SHA256,
			Width: r.Width, Height: r.Height, URL: ImageURL(base, sessionID, r.ID)}
	}
	return out
}

// ImageURL is where the owner reads an image, with credentials.
func ImageURL(base, sessionID, imageID string) string {
	return base + "/api/feedback/" + sessionID + "/images/" + imageID
}

// ResultOf is the result body of a completed session, or the error that says
// why there is none: NO_FEEDBACK_AVAILABLE while pending, SESSION_EXPIRED or
// SESSION_CANCELLED once no answer can come. base is the public URL image
// URLs start with.
func ResultOf(sess *sessions.Session, base string) (ResultBody, error) {
	switch sess.Status {
	case sessions.StatusPending:
		return ResultBody{}, sessions.Errorf(sessions.CodeNoFeedback, "no feedback has been submitted yet")
	case sessions.StatusExpired:
		return ResultBody{}, sessions.Errorf(sessions.CodeExpired, "the session expired without an answer")
	case sessions.StatusCancelled:
		if sess.CancelReason != "" {
			return ResultBody{}, sessions.Errorf(sessions.CodeCancelled, "the session was cancelled: %s", sess.CancelReason)
		}
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
			Values:           sess.Feedback.Values,
			Decision:         sess.Feedback.Decision,
			Reason:           sess.Feedback.Reason,
			Images:           ImagesOf(base, sess.ID, sess.Feedback.Images),
		},
		SubmittedAt: OptTime(sess.SubmittedAt),
		Question:    QuestionOf(sess, base),
	}
	if len(sess.Feedback.Metadata) > 0 {
		res.Metadata = sess.Feedback.Metadata
	}
	return res, nil
}

// FeedbackURL is the link a person answers at, for REST and MCP alike.
func FeedbackURL(base, id string) string { return base + "/feedback/" + id }
