package edge

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/feedbackd/feedbackd/pkg/envelope"
	"github.com/feedbackd/feedbackd/pkg/httpbridge"
	"github.com/feedbackd/feedbackd/sessions"
)

// The JSON bodies of the REST API (docs/api.md, "REST API") that only REST
// returns; those that describe a session, which MCP returns too, are in
// pkg/envelope. Times are strings so that absent values are left out rather
// than sent as zero.

type createData struct {
	SessionID   string `json:"sessionId"`
	FeedbackURL string `json:"feedbackUrl"`
	StatusURL   string `json:"statusUrl"`
	ExpiresAt   string `json:"expiresAt"`
}

type listData struct {
	Items      []envelope.ListItem `json:"items"`
	NextCursor string              `json:"nextCursor,omitempty"`
}

type submitData struct {
	SessionID   string          `json:"sessionId"`
	Status      sessions.Status `json:"status"`
	SubmittedAt string          `json:"submittedAt"`
}

type cancelData struct {
	SessionID string          `json:"sessionId"`
	Status    sessions.Status `json:"status"`
}

func formatTime(t time.Time) string { return envelope.Time(t) }

func formatOptTime(t *time.Time) string { return envelope.OptTime(t) }

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
		FeedbackURL: envelope.FeedbackURL(base, sess.ID),
		StatusURL:   base + "/api/feedback/" + sess.ID + "/status",
		ExpiresAt:   formatTime(sess.ExpiresAt),
	})
}

func (s *Server) handleStatus(c *fiber.Ctx) error {
	sess, err := s.svc.GetOwned(c.UserContext(), principal(c).ID, c.Params("id"))
	if err != nil {
		return s.fail(c, err)
	}
	return ok(c, fiber.StatusOK, envelope.StatusOf(sess, s.publicURL(c)))
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
	who := principal(c).ID
	var sess *sessions.Session
	if wait > 0 {
		release, aerr := s.acquireWait(who)
		if aerr != nil {
			c.Set(fiber.HeaderRetryAfter, retryWaitAfter)
			return s.fail(c, aerr)
		}
		defer release()
		// The wait ends when the client leaves (fasthttp would not say) and
		// at shutdown, when it answers at once.
		ctx, cancel := s.bridge.Watch(c, c.UserContext())
		defer cancel()
		sess, err = s.svc.Wait(ctx, who, c.Params("id"), wait)
		if err == nil && sess.Status == sessions.StatusPending && errors.Is(context.Cause(ctx), httpbridge.ErrShuttingDown) {
			return s.shuttingDown(c)
		}
	} else {
		sess, err = s.svc.GetOwned(c.UserContext(), who, c.Params("id"))
	}
	if err != nil {
		return s.fail(c, err)
	}
	res, err := envelope.ResultOf(sess, s.publicURL(c))
	if err != nil {
		return s.fail(c, err)
	}
	return ok(c, fiber.StatusOK, res)
}

// shuttingDown answers a long poll cut short by shutdown: 503 with
// Retry-After, on a connection that closes, so the client asks again, of
// this replica restarted or of another (docs/api.md, "Shutdown").
func (s *Server) shuttingDown(c *fiber.Ctx) error {
	c.Set(fiber.HeaderRetryAfter, retryAfterShutdown)
	c.Context().SetConnectionClose()
	// Not s.fail: nothing failed, and the access log records the 503.
	return envelope.Fail(c, 0, sessions.Errorf(sessions.CodeServiceUnavailable,
		"this server is shutting down; the session is still pending: ask again"))
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

// listLimit is a listing's limit query parameter, 0 when it is left out.
// Given, it must be a page size: 0 is not "the default" (that is leaving it
// out), whatever the service does with a zero.
func listLimit(c *fiber.Ctx) (int, error) {
	l := c.Query("limit")
	if l == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(l)
	if err != nil || n < 1 || n > sessions.MaxListLimit {
		return 0, sessions.Invalid("limit", fmt.Sprintf("must be a whole number from 1 to %d", sessions.MaxListLimit))
	}
	return n, nil
}

func (s *Server) handleList(c *fiber.Ctx) error {
	limit, err := listLimit(c)
	if err != nil {
		return s.fail(c, err)
	}
	q := sessions.ListQuery{Status: sessions.Status(c.Query("status")), Cursor: c.Query("cursor"), Limit: limit}
	page, err := s.svc.List(c.UserContext(), principal(c).ID, q)
	if err != nil {
		return s.fail(c, err)
	}
	data := listData{Items: make([]envelope.ListItem, 0, len(page.Items)), NextCursor: page.NextCursor}
	for _, sess := range page.Items {
		data.Items = append(data.Items, envelope.ListItemOf(sess))
	}
	return ok(c, fiber.StatusOK, data)
}
