package client_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/pkg/client"
)

// Every error code the real server can be made to answer comes back as an
// *APIError of that code, matching its sentinel. (INTERNAL_ERROR, a bug of
// the server, cannot be provoked: TestDecodeErrorMapsEveryCodeToOneSentinel
// decodes it.)
func TestEveryErrorCodeFromTheRealServer(t *testing.T) {
	t.Parallel()
	m := serve(t)
	c := clientOf(t, m)
	ctx := ctxFor(t, 60*time.Second)
	pending := mustCreate(t, c, client.Question{Message: "pending"}).SessionID
	unknown := "6f0c9a52-3c1e-4d8e-9b7a-2f4d1c8e5a10"

	t.Run("INVALID_REQUEST", func(t *testing.T) {
		_, err := c.Create(ctx, client.Question{Message: "   "})
		if ae := wantAPIError(t, err, client.ErrInvalid, client.CodeInvalidRequest, 400); ae.Field != "message" || ae.Reason == "" {
			t.Fatalf("details %+v", ae)
		}
		_, err = c.Status(ctx, "not-a-uuid")
		if ae := wantAPIError(t, err, client.ErrInvalid, client.CodeInvalidRequest, 400); ae.Field != "sessionId" {
			t.Fatalf("details %+v", ae)
		}
	})
	t.Run("UNAUTHORIZED", func(t *testing.T) {
		for _, bad := range []*client.Client{
			clientOf(t, m, client.WithAPIKey("not-a-key-of-this-server-0123456789")),
			clientOf(t, m, client.WithToken("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")),
			clientOf(t, m, client.WithAPIKey("")),
		} {
			_, err := bad.Status(ctx, pending)
			wantAPIError(t, err, client.ErrUnauthorized, client.CodeUnauthorized, 401)
		}
	})
	t.Run("SESSION_NOT_FOUND", func(t *testing.T) {
		_, err := c.Status(ctx, unknown)
		wantAPIError(t, err, client.ErrNotFound, client.CodeSessionNotFound, 404)
		// Another principal's session is not found either.
		_, err = clientOf(t, m, client.WithAPIKey(programtest.KeyB)).Result(ctx, pending)
		wantAPIError(t, err, client.ErrNotFound, client.CodeSessionNotFound, 404)
	})
	t.Run("NO_FEEDBACK_AVAILABLE", func(t *testing.T) {
		_, err := c.Result(ctx, pending)
		wantAPIError(t, err, client.ErrNoFeedback, client.CodeNoFeedback, 404)
	})
	t.Run("NOT_FOUND", func(t *testing.T) {
		// A base URL that does not point at feedbackd's API.
		_, err := clientOf(t, m, client.WithBaseURL(m.URL()+"/not-feedbackd")).Status(ctx, pending)
		wantAPIError(t, err, client.ErrNoRoute, client.CodeRouteNotFound, 404)
	})
	t.Run("METHOD_NOT_ALLOWED", func(t *testing.T) {
		err := c.Raw(ctx, http.MethodDelete, "/api/feedback/create", nil, nil)
		wantAPIError(t, err, client.ErrMethodNotAllowed, client.CodeMethodNotAllowed, 405)
	})
	t.Run("ALREADY_SUBMITTED", func(t *testing.T) {
		id := mustCreate(t, c, client.Question{Message: "once"}).SessionID
		if _, err := c.Submit(ctx, id, client.Answer{FreeText: "first"}); err != nil {
			t.Fatal(err)
		}
		_, err := c.Submit(ctx, id, client.Answer{FreeText: "second"})
		wantAPIError(t, err, client.ErrAlreadySubmitted, client.CodeAlreadySubmitted, 409)
	})
	t.Run("SESSION_EXPIRED", func(t *testing.T) {
		id := mustCreate(t, c, client.Question{Message: "soon gone", Timeout: time.Second}).SessionID
		programtest.WaitFor(t, 10*time.Second, func() error {
			st, err := c.Status(ctx, id)
			if err == nil && st.Status != client.StatusExpired {
				return fmt.Errorf("status %s", st.Status)
			}
			return err
		})
		_, err := c.Submit(ctx, id, client.Answer{FreeText: "late"})
		wantAPIError(t, err, client.ErrExpired, client.CodeExpired, 410)
		_, err = c.Result(ctx, id)
		wantAPIError(t, err, client.ErrExpired, client.CodeExpired, 410)
	})
	t.Run("SESSION_CANCELLED", func(t *testing.T) {
		id := mustCreate(t, c, client.Question{Message: "withdrawn"}).SessionID
		if err := c.Cancel(ctx, id); err != nil {
			t.Fatal(err)
		}
		_, err := c.Submit(ctx, id, client.Answer{FreeText: "too late"})
		wantAPIError(t, err, client.ErrCancelled, client.CodeCancelled, 410)
	})
	t.Run("PAYLOAD_TOO_LARGE", func(t *testing.T) {
		// The server answers 413 to a body over its limit before reading it,
		// then closes the connection; the unread rest of the body makes the
		// close a TCP reset, which may destroy the answer before the client
		// reads it. Either way the caller must learn what happened.
		tooLarge := func(err error) {
			t.Helper()
			if errors.Is(err, client.ErrPayloadTooLarge) {
				wantAPIError(t, err, client.ErrPayloadTooLarge, client.CodePayloadTooLarge, 413)
				return
			}
			if err == nil || !strings.Contains(err.Error(), "over its size limit") {
				t.Fatalf("error %v, want PAYLOAD_TOO_LARGE or the reset explained", err)
			}
			t.Logf("the 413 was lost to the reset: %v", err)
		}
		// Every route but create and submit takes at most 64 KiB.
		tooLarge(c.Raw(ctx, http.MethodPost, "/api/feedback/"+pending+"/cancel", nil, []byte(`{"x":"`+strings.Repeat("x", 100<<10)+`"}`)))
		_, err := c.Create(ctx, client.Question{Message: strings.Repeat("x", 40<<20)})
		tooLarge(err)
	})
	t.Run("UPGRADE_REQUIRED", func(t *testing.T) {
		err := c.Raw(ctx, http.MethodGet, "/ws", nil, nil)
		wantAPIError(t, err, client.ErrUpgradeRequired, client.CodeUpgradeRequired, 426)
	})
	t.Run("FORBIDDEN_ORIGIN", func(t *testing.T) {
		err := c.Raw(ctx, http.MethodGet, "/ws", http.Header{"Origin": {"https://evil.example"}}, nil)
		wantAPIError(t, err, client.ErrForbiddenOrigin, client.CodeForbiddenOrigin, 403)
	})
}

func TestRateLimitedSaysWhenToRetry(t *testing.T) {
	t.Parallel()
	m := serve(t, programtest.Env("RATE_LIMIT_CREATE", "1/min,burst=1"))
	c := clientOf(t, m)
	ctx := ctxFor(t, 10*time.Second)
	mustCreate(t, c, client.Question{Message: "first"})
	_, err := c.Create(ctx, client.Question{Message: "second"})
	ae := wantAPIError(t, err, client.ErrRateLimited, client.CodeRateLimited, 429)
	if ae.RetryAfter < time.Second || ae.RetryAfter > time.Minute {
		t.Fatalf("RetryAfter %s", ae.RetryAfter)
	}
}

// With NATS gone the edge answers 503; a read is retried (WithRetries), and
// reports ErrUnavailable once the retries are spent.
func TestUnavailableAfterTheRetries(t *testing.T) {
	t.Parallel()
	nats := programtest.StartNATS(t)
	edge := programtest.MustRunMain(t, programtest.Role("edge"), programtest.NATS(nats.URL), programtest.QuickStorageErrors())
	rec, hc := newRecorder(t)
	c := clientOf(t, edge, client.WithHTTPClient(hc), client.WithRetries(2))
	id := mustCreate(t, c, client.Question{Message: "outage"}).SessionID
	nats.Stop()
	_, err := c.Status(ctxFor(t, 60*time.Second), id)
	wantAPIError(t, err, client.ErrUnavailable, client.CodeServiceUnavailable, 503)
	if n := rec.count(func(ex exchange) bool { return strings.HasSuffix(ex.path, "/status") }); n != 3 {
		t.Fatalf("%d status requests, want 1 and 2 retries", n)
	}
	// A create is never retried.
	_, err = c.Create(ctxFor(t, 60*time.Second), client.Question{Message: "not twice"})
	if !errors.Is(err, client.ErrUnavailable) {
		t.Fatalf("create during the outage: %v", err)
	}
	if n := rec.count(func(ex exchange) bool { return strings.HasSuffix(ex.path, "/create") }); n != 2 {
		t.Fatalf("%d creates sent, want 2 (one before the outage, one during)", n)
	}
}
