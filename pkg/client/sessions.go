package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"
)

// Create asks a question: POST /api/feedback/create. The person answers at
// the returned FeedbackURL. A create is never retried, since a second one
// would ask twice: on ErrUnavailable or a network error, look for the
// session with List before creating again.
func (c *Client) Create(ctx context.Context, q Question) (*Created, error) {
	var out Created
	if err := c.do(ctx, call{method: http.MethodPost, path: "/api/feedback/create", body: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Status reports where a session stands: GET /api/feedback/{id}/status.
func (c *Client) Status(ctx context.Context, id string) (*Session, error) {
	p, err := sessionPath(id, "/status")
	if err != nil {
		return nil, err
	}
	var out Session
	if err := c.do(ctx, call{method: http.MethodGet, path: p, safe: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Result returns a session's answer at once: GET /api/feedback/{id}/result.
// It is ErrNoFeedback while the session is pending, ErrExpired or
// ErrCancelled once no answer can come. Use Wait to wait for the answer.
func (c *Client) Result(ctx context.Context, id string) (*Result, error) {
	return c.result(ctx, id, 0)
}

func (c *Client) result(ctx context.Context, id string, wait time.Duration) (*Result, error) {
	p, err := sessionPath(id, "/result")
	if err != nil {
		return nil, err
	}
	cl := call{method: http.MethodGet, path: p, safe: wait == 0}
	if wait > 0 {
		cl.query = url.Values{"wait": {strconv.Itoa(int(wait / time.Second))}}
		// A server that vanished without closing the connection must not
		// hold the wait forever.
		cl.timeout = wait + 30*time.Second
	}
	var out Result
	if err := c.do(ctx, cl, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// waitGrace is how long past a session's deadline Wait keeps retrying a
// server it cannot reach: the session has expired by then, and the server
// says so as soon as it answers again.
const waitGrace = time.Minute

// Wait waits for a session's answer, as long as the session is open: it
// chains long polls (GET /api/feedback/{id}/result?wait=N, each up to the
// server's cap of 60 s) until the answer comes, the session ends otherwise,
// or ctx ends. It returns the Result, or an error matching ErrExpired or
// ErrCancelled when the session ended unanswered (ErrNotFound when it does
// not exist). While the server is unreachable, overloaded or restarting it
// retries, with backoff and as Retry-After says, until ctx ends or a minute
// past the session's deadline.
func (c *Client) Wait(ctx context.Context, id string) (*Result, error) {
	st, err := c.Status(ctx, id)
	if err != nil {
		return nil, err
	}
	failures := 0
	for {
		wait, start := c.pollWait(), time.Now()
		res, err := c.result(ctx, id, wait)
		if err == nil {
			return res, nil
		}
		var ae *APIError
		switch {
		case ctx.Err() != nil:
			return nil, waitEnded(ctx, id, err)
		case errors.Is(err, ErrNoFeedback) && time.Since(start) >= wait/2:
			failures = 0 // the server waited its cap: ask again
		case errors.Is(err, ErrNoFeedback):
			// A server (or a proxy) that does not hold the request: poll,
			// but never in a tight loop.
			if !sleep(ctx, retryDelay(failures, err)) {
				return nil, waitEnded(ctx, id, err)
			}
			failures++
		case errors.As(err, &ae) && ae.Code == CodeInvalidRequest && ae.Field == "wait":
			if !c.lowerLongPoll(ae.Reason) {
				return nil, err
			}
		case transient(ctx, err) && time.Now().Before(st.ExpiresAt.Add(waitGrace)):
			if !sleep(ctx, retryDelay(failures, err)) {
				return nil, waitEnded(ctx, id, err)
			}
			failures++
		default:
			return nil, err
		}
	}
}

// waitEnded is what Wait returns when it stops early: ctx's cause once ctx
// has ended, else the last error (ctx would end before the next try).
func waitEnded(ctx context.Context, id string, last error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("wait for session %s: %w", id, context.Cause(ctx))
	}
	return last
}

// pollWait is how long the next long poll waits: the learned cap, within
// the HTTP client's own timeout.
func (c *Client) pollWait() time.Duration {
	w := time.Duration(c.longPoll.Load()) * time.Second
	if t := c.hc.Timeout; t > 0 && t-5*time.Second < w {
		w = max(t-5*time.Second, time.Second)
	}
	return w.Truncate(time.Second)
}

// lastNumber finds the largest wait a server's refusal allows ("must be a
// whole number of seconds from 0 to 20").
var lastNumber = regexp.MustCompile(`(\d+)\D*$`)

// lowerLongPoll lowers the long poll after the server refused ?wait=: to
// the cap it names, else to half. It reports false when there is nothing
// lower to try.
func (c *Client) lowerLongPoll(reason string) bool {
	cur := c.longPoll.Load()
	next := cur / 2
	if m := lastNumber.FindStringSubmatch(reason); m != nil {
		if n, err := strconv.ParseInt(m[1], 10, 64); err == nil && n < cur {
			next = n
		}
	}
	if next < 1 {
		return false
	}
	return c.longPoll.CompareAndSwap(cur, next) || c.longPoll.Load() < cur
}

// Cancel withdraws a pending session: POST /api/feedback/{id}/cancel. It is
// ErrAlreadySubmitted when the session was answered first, ErrExpired or
// ErrCancelled when it had already ended. After a 503 or a network error
// it asks again, and takes a SESSION_CANCELLED then as its own earlier
// attempt having landed.
func (c *Client) Cancel(ctx context.Context, id string) error {
	p, err := sessionPath(id, "/cancel")
	if err != nil {
		return err
	}
	cl := call{method: http.MethodPost, path: p}
	for attempt := 0; ; attempt++ {
		err := c.once(ctx, cl, nil)
		if err == nil || (attempt > 0 && errors.Is(err, ErrCancelled)) {
			return nil
		}
		if attempt >= c.retries || !transient(ctx, err) || !sleep(ctx, retryDelay(attempt, err)) {
			return err
		}
	}
}

// Submit answers a session as the person would: POST
// /api/feedback/{id}/submit. It needs no credentials (the session id is the
// capability) and sends none. Exactly one answer is ever accepted: a second
// is ErrAlreadySubmitted, an answer to a session that ended ErrExpired or
// ErrCancelled. It is never retried.
func (c *Client) Submit(ctx context.Context, id string, a Answer) (*Submitted, error) {
	p, err := sessionPath(id, "/submit")
	if err != nil {
		return nil, err
	}
	var out Submitted
	if err := c.do(ctx, call{method: http.MethodPost, path: p, body: a, anonymous: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// page is the data of a list answer.
type page struct {
	Items      []Session `json:"items"`
	NextCursor string    `json:"nextCursor"`
}

// List returns the caller's sessions, newest first, fetching page after page
// (GET /api/feedback, following nextCursor) as the loop asks for more. A
// failure is yielded once, as the last pair.
func (c *Client) List(ctx context.Context, opts ListOptions) iter.Seq2[Session, error] {
	return func(yield func(Session, error) bool) {
		q := url.Values{}
		if opts.Status != "" {
			q.Set("status", string(opts.Status))
		}
		if opts.PageSize != 0 {
			q.Set("limit", strconv.Itoa(opts.PageSize))
		}
		for {
			var p page
			if err := c.do(ctx, call{method: http.MethodGet, path: "/api/feedback", query: q, safe: true}, &p); err != nil {
				yield(Session{}, err)
				return
			}
			for _, s := range p.Items {
				if !yield(s, nil) {
					return
				}
			}
			if p.NextCursor == "" {
				return
			}
			q.Set("cursor", p.NextCursor)
		}
	}
}

// maxImage bounds a downloaded image.
const maxImage = 64 << 20

// Image downloads one image of a session, one attached to the question or
// to the answer (ImageRef.ID): GET /api/feedback/{id}/images/{imageId}, as
// its owner. It is ErrNotFound for an image the session does not hold.
func (c *Client) Image(ctx context.Context, sessionID, imageID string) (*ImageFile, error) {
	if err := checkSegment("image id", imageID); err != nil {
		return nil, err
	}
	p, err := sessionPath(sessionID, "/images/"+imageID)
	if err != nil {
		return nil, err
	}
	var out ImageFile
	read := func(resp *http.Response) error {
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxImage+1))
		if err != nil {
			return fmt.Errorf("read image %s: %w", imageID, err)
		}
		if len(b) > maxImage {
			return fmt.Errorf("read image %s: over %d bytes", imageID, maxImage)
		}
		out.Data = b
		out.MimeType, _, _ = mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil {
			out.Name = params["filename"]
		}
		return nil
	}
	if err := c.do(ctx, call{method: http.MethodGet, path: p, safe: true, raw: read}, nil); err != nil {
		return nil, err
	}
	return &out, nil
}
