package edge

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/feedbackd/feedbackd/edge/envelope"
	"github.com/feedbackd/feedbackd/sessions"
)

// The JSON bodies of SPEC §4. Times are pointers or strings so that absent
// values are left out rather than sent as zero.

type createData struct {
	SessionID   string `json:"sessionId"`
	FeedbackURL string `json:"feedbackUrl"`
	StatusURL   string `json:"statusUrl"`
	ExpiresAt   string `json:"expiresAt"`
}

// StatusBody is the data of a status response.
type StatusBody struct {
	SessionID   string          `json:"sessionId"`
	Status      sessions.Status `json:"status"`
	CreatedAt   string          `json:"createdAt"`
	ExpiresAt   string          `json:"expiresAt"`
	SubmittedAt string          `json:"submittedAt,omitempty"`
}

type listItem struct {
	SessionID   string          `json:"sessionId"`
	Message     string          `json:"message"`
	Status      sessions.Status `json:"status"`
	CreatedAt   string          `json:"createdAt"`
	ExpiresAt   string          `json:"expiresAt"`
	SubmittedAt string          `json:"submittedAt,omitempty"`
}

type listData struct {
	Items      []listItem `json:"items"`
	NextCursor string     `json:"nextCursor,omitempty"`
}

type submitData struct {
	SessionID   string          `json:"sessionId"`
	Status      sessions.Status `json:"status"`
	SubmittedAt string          `json:"submittedAt"`
}

type resultFeedback struct {
	SelectedOptions  []string `json:"selectedOptions,omitempty"`
	FreeText         string   `json:"freeText,omitempty"`
	CombinedFeedback string   `json:"combinedFeedback"`
}

// ResultBody is the data of a result response.
type ResultBody struct {
	SessionID   string         `json:"sessionId"`
	Feedback    resultFeedback `json:"feedback"`
	SubmittedAt string         `json:"submittedAt"`
	Metadata    any            `json:"metadata,omitempty"`
}

type cancelData struct {
	SessionID string          `json:"sessionId"`
	Status    sessions.Status `json:"status"`
}

func formatTime(t time.Time) string { return envelope.Time(t) }

func formatOptTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return formatTime(*t)
}

func (s *Server) handleCreate(c *fiber.Ctx) error {
	var req sessions.CreateRequest
	if err := decodeJSON(c, &req); err != nil {
		return s.fail(c, err)
	}
	sess, err := s.svc.Create(c.UserContext(), principal(c).ID, &req)
	if err != nil {
		return s.fail(c, err)
	}
	base := s.publicURL(c)
	return ok(c, fiber.StatusCreated, createData{
		SessionID:   sess.ID,
		FeedbackURL: feedbackURL(base, sess.ID),
		StatusURL:   base + "/api/feedback/" + sess.ID + "/status",
		ExpiresAt:   formatTime(sess.ExpiresAt),
	})
}

func (s *Server) handleStatus(c *fiber.Ctx) error {
	sess, err := s.svc.GetOwned(c.UserContext(), principal(c).ID, c.Params("id"))
	if err != nil {
		return s.fail(c, err)
	}
	return ok(c, fiber.StatusOK, StatusOf(sess))
}

// StatusOf is the status body of a session, shared by REST and MCP.
func StatusOf(sess *sessions.Session) StatusBody {
	return StatusBody{
		SessionID:   sess.ID,
		Status:      sess.Status,
		CreatedAt:   formatTime(sess.CreatedAt),
		ExpiresAt:   formatTime(sess.ExpiresAt),
		SubmittedAt: formatOptTime(sess.SubmittedAt),
	}
}

func (s *Server) handleSubmit(c *fiber.Ctx) error {
	var req sessions.SubmitRequest
	if err := decodeJSON(c, &req); err != nil {
		return s.fail(c, err)
	}
	sess, err := s.svc.Submit(c.UserContext(), c.Params("id"), &req)
	if err != nil {
		return s.fail(c, err)
	}
	return ok(c, fiber.StatusOK, submitData{SessionID: sess.ID, Status: sess.Status, SubmittedAt: formatOptTime(sess.SubmittedAt)})
}

func (s *Server) handleResult(c *fiber.Ctx) error {
	wait, err := s.parseWait(c.Query("wait"))
	if err != nil {
		return s.fail(c, err)
	}
	ctx := c.UserContext()
	var sess *sessions.Session
	if wait > 0 {
		// fasthttp gives no signal when a client leaves mid-wait; the wait is
		// bounded by MaxWait instead.
		sess, err = s.svc.Wait(ctx, principal(c).ID, c.Params("id"), wait)
	} else {
		sess, err = s.svc.GetOwned(ctx, principal(c).ID, c.Params("id"))
	}
	if err != nil {
		return s.fail(c, err)
	}
	res, err := ResultOf(sess)
	if err != nil {
		return s.fail(c, err)
	}
	return ok(c, fiber.StatusOK, res)
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
		Feedback: resultFeedback{
			SelectedOptions:  sess.Feedback.SelectedOptions,
			FreeText:         sess.Feedback.FreeText,
			CombinedFeedback: sess.Feedback.CombinedFeedback,
		},
		SubmittedAt: formatOptTime(sess.SubmittedAt),
	}
	if len(sess.Feedback.Metadata) > 0 {
		res.Metadata = sess.Feedback.Metadata
	}
	return res, nil
}

func (s *Server) parseWait(q string) (time.Duration, error) {
	if q == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(q)
	maxS := int(s.cfg.MaxWait / time.Second)
	if err != nil || n < 0 || n > maxS {
		return 0, sessions.Invalid("wait", "must be a whole number of seconds from 0 to "+strconv.Itoa(maxS))
	}
	return time.Duration(n) * time.Second, nil
}

func (s *Server) handleCancel(c *fiber.Ctx) error {
	sess, err := s.svc.Cancel(c.UserContext(), principal(c).ID, c.Params("id"))
	if err != nil {
		return s.fail(c, err)
	}
	return ok(c, fiber.StatusOK, cancelData{SessionID: sess.ID, Status: sess.Status})
}

func (s *Server) handleList(c *fiber.Ctx) error {
	q := sessions.ListQuery{Status: sessions.Status(c.Query("status")), Cursor: c.Query("cursor")}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil {
			return s.fail(c, sessions.Invalid("limit", "must be a whole number"))
		}
		q.Limit = n
	}
	page, err := s.svc.List(c.UserContext(), principal(c).ID, q)
	if err != nil {
		return s.fail(c, err)
	}
	data := listData{Items: make([]listItem, 0, len(page.Items)), NextCursor: page.NextCursor}
	for _, sess := range page.Items {
		data.Items = append(data.Items, listItem{
			SessionID:   sess.ID,
			Message:     sess.Message,
			Status:      sess.Status,
			CreatedAt:   formatTime(sess.CreatedAt),
			ExpiresAt:   formatTime(sess.ExpiresAt),
			SubmittedAt: formatOptTime(sess.SubmittedAt),
		})
	}
	return ok(c, fiber.StatusOK, data)
}

type healthBody struct {
	Status    string `json:"status"`
	Timestamp string `json:"timestamp"`
	Service   string `json:"service"`
	Version   string `json:"version"`
}

func (s *Server) handleHealth(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	body := healthBody{Status: "ok", Timestamp: timestamp(), Service: s.cfg.Service, Version: s.cfg.Version}
	status := fiber.StatusOK
	if err := s.health(ctx); err != nil {
		s.log.WarnContext(ctx, "health check failed", "err", err)
		body.Status, status = "degraded", fiber.StatusServiceUnavailable
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(status).JSON(body)
}
