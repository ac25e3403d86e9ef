package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultURL is where a feedbackd serve started with its defaults listens.
const DefaultURL = "http://127.0.0.1:8787"

// The environment variables FromEnv reads.
const (
	EnvURL    = "FEEDBACKD_URL"
	EnvAPIKey = "FEEDBACKD_API_KEY"
	EnvToken  = "FEEDBACKD_TOKEN"
)

// MaxLongPoll is the longest one long-poll request waits: the server's cap on
// ?wait= (docs/api.md, "Limits"). Wait chains as many as it takes.
const MaxLongPoll = 60 * time.Second

// maxBody bounds what is read of an answer's body.
const maxBody = 64 << 20

// smallBody is the body every route of the server accepts (docs/api.md,
// "Limits").
const smallBody = 64 << 10

// Client calls one feedbackd server. It is safe for concurrent use; make
// one and share it.
type Client struct {
	base      *url.URL // no trailing slash
	wsBase    *url.URL // where /ws is; base unless WithNotifierURL
	hc        *http.Client
	apiKey    string
	token     string
	userAgent string
	retries   int
	// longPoll is how long one result request waits, in seconds: at most
	// MaxLongPoll, lowered to what the server accepts when it says less.
	longPoll atomic.Int64
	err      error // of an option; New returns it
}

// Option configures a Client.
type Option func(*Client)

// WithBaseURL sets the server's base URL (http:// or https://, optionally
// with a path prefix when a proxy serves feedbackd below one). The default
// is DefaultURL.
func WithBaseURL(u string) Option {
	return func(c *Client) {
		parsed, err := parseBase(u)
		if err != nil {
			c.err = err
			return
		}
		c.base = parsed
	}
}

// WithNotifierURL sets where the WebSocket routes (/ws, /ws/{id}) are, when
// the notifier listens apart from the REST API; the default is the base URL.
func WithNotifierURL(u string) Option {
	return func(c *Client) {
		parsed, err := parseBase(u)
		if err != nil {
			c.err = fmt.Errorf("notifier URL: %w", err)
			return
		}
		c.wsBase = parsed
	}
}

// WithAPIKey authenticates with an API key (sent as X-API-Key). It replaces
// a token given before.
func WithAPIKey(key string) Option {
	return func(c *Client) { c.apiKey, c.token = strings.TrimSpace(key), "" }
}

// WithToken authenticates with a JWT (sent as Authorization: Bearer). It
// replaces an API key given before.
func WithToken(jwt string) Option {
	return func(c *Client) { c.token, c.apiKey = strings.TrimSpace(jwt), "" }
}

// WithHTTPClient makes requests with hc instead of a client of its own. Its
// Timeout, if any, also bounds each long-poll request, which then waits
// less than MaxLongPoll. Its transport's TLS and proxy settings are used for
// WebSockets too when it is an *http.Transport.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithLongPoll sets how long one long-poll request of Wait may wait (1 s to
// MaxLongPoll, the default). Lower it when a proxy in front of feedbackd
// cuts requests that are idle for less than a minute.
func WithLongPoll(d time.Duration) Option {
	return func(c *Client) {
		s := int64(d / time.Second)
		if s < 1 || d > MaxLongPoll {
			c.err = fmt.Errorf("long poll %s: must be from 1s to %s", d, MaxLongPoll)
			return
		}
		c.longPoll.Store(s)
	}
}

// WithRetries sets how many times a request that is safe to repeat (a
// read; never a create or a submit) is retried after 503, 429 or a network
// error; the default is 4. Wait and the WebSocket streams retry for as long
// as their context allows instead.
func WithRetries(n int) Option {
	return func(c *Client) { c.retries = max(n, 0) }
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a Client of the server at DefaultURL, or the one WithBaseURL
// names. Without WithAPIKey or WithToken it sends no credentials, which only
// Submit and a server with AUTH_DISABLED accept.
func New(opts ...Option) (*Client, error) {
	c := &Client{hc: &http.Client{}, userAgent: "feedbackd-go-client", retries: 4}
	c.base, _ = parseBase(DefaultURL)
	c.longPoll.Store(int64(MaxLongPoll / time.Second))
	for _, o := range opts {
		o(c)
	}
	if c.err != nil {
		return nil, fmt.Errorf("feedbackd client: %w", c.err)
	}
	if c.wsBase == nil {
		c.wsBase = c.base
	}
	return c, nil
}

// FromEnv returns a Client configured by the environment: FEEDBACKD_URL (the
// base URL; DefaultURL when unset), and FEEDBACKD_API_KEY or FEEDBACKD_TOKEN
// (not both). Options given here apply after the environment and win over
// it.
func FromEnv(opts ...Option) (*Client, error) {
	return fromLookup(os.Getenv, opts...)
}

func fromLookup(getenv func(string) string, opts ...Option) (*Client, error) {
	var env []Option
	if u := getenv(EnvURL); u != "" {
		env = append(env, WithBaseURL(u))
	}
	key, token := getenv(EnvAPIKey), getenv(EnvToken)
	switch {
	case key != "" && token != "":
		return nil, fmt.Errorf("feedbackd client: both %s and %s are set: set one", EnvAPIKey, EnvToken)
	case key != "":
		env = append(env, WithAPIKey(key))
	case token != "":
		env = append(env, WithToken(token))
	}
	return New(append(env, opts...)...)
}

// BaseURL is the server's base URL, without a trailing slash.
func (c *Client) BaseURL() string { return c.base.String() }

func parseBase(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("base URL %q: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("base URL %q: must be http:// or https:// and a host", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("base URL %q: must not have a query, a fragment or user info", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// call is one request of the REST API.
type call struct {
	method string
	path   string // below the base URL, unescaped
	query  url.Values
	body   any
	// anonymous calls send no credentials (submit: the id is the
	// capability).
	anonymous bool
	// safe calls may be sent again: nothing changes if the first landed.
	safe bool
	// timeout bounds one attempt (a long poll's wait plus a margin); zero
	// means none beyond the context.
	timeout time.Duration
	// raw receives the body of a 2xx answer as it is, instead of an
	// envelope's data.
	raw func(resp *http.Response) error
}

// do sends cl and decodes the data of its envelope into out, retrying a
// safe call on a transient failure.
func (c *Client) do(ctx context.Context, cl call, out any) error {
	for attempt := 0; ; attempt++ {
		err := c.once(ctx, cl, out)
		if err == nil || !cl.safe || attempt >= c.retries || !transient(ctx, err) {
			return err
		}
		if !sleep(ctx, retryDelay(attempt, err)) {
			return err
		}
	}
}

// once sends cl one time.
func (c *Client) once(ctx context.Context, cl call, out any) error {
	if cl.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cl.timeout)
		defer cancel()
	}
	u := *c.base
	u.Path += cl.path
	if len(cl.query) > 0 {
		u.RawQuery = cl.query.Encode()
	}
	var body io.Reader
	size := 0
	if cl.body != nil {
		b, err := json.Marshal(cl.body)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", cl.method, cl.path, err)
		}
		body, size = bytes.NewReader(b), len(b)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u.String(), body)
	if err != nil {
		return fmt.Errorf("build %s %s: %w", cl.method, cl.path, err)
	}
	if cl.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if !cl.anonymous {
		c.authorize(req.Header)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if size > smallBody && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
			// The server refuses a body over its limit (413) and closes the
			// connection; with much of the body still unsent the answer is
			// lost to the reset.
			return fmt.Errorf("%s %s: the server closed the connection while a %d-byte body was being sent, "+
				"which it does to a body over its size limit: %w", cl.method, u.Redacted(), size, err)
		}
		return fmt.Errorf("%s %s: %w", cl.method, u.Redacted(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return decodeError(resp.StatusCode, resp.Header, b)
	}
	if cl.raw != nil {
		return cl.raw(resp)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("read %s %s: %w", cl.method, cl.path, err)
	}
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("decode %s %s: the answer is not feedbackd's JSON envelope: %w", cl.method, cl.path, err)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return fmt.Errorf("decode %s %s: %w", cl.method, cl.path, err)
	}
	return nil
}

// authorize adds the credential, if any.
func (c *Client) authorize(h http.Header) {
	switch {
	case c.apiKey != "":
		h.Set("X-API-Key", c.apiKey)
	case c.token != "":
		h.Set("Authorization", "Bearer "+c.token)
	}
}

// transient reports whether err may go away by trying again: a 503 or 429,
// or a network failure, while ctx is still alive.
func transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.transient()
	}
	// Anything else that failed before an answer came: connection refused or
	// reset, a proxy gone, a per-attempt timeout.
	return !errors.Is(err, context.Canceled)
}

// retryDelay is how long to wait before attempt+1: what Retry-After said,
// else an exponential backoff from 250 ms to 8 s with jitter.
func retryDelay(attempt int, err error) time.Duration {
	var ae *APIError
	if errors.As(err, &ae) && ae.RetryAfter > 0 {
		return ae.RetryAfter
	}
	d := 250 * time.Millisecond << min(attempt, 5)
	d = min(d, 8*time.Second)
	return d/2 + rand.N(d/2+1)
}

// sleep waits d, or returns false at once if ctx ends first or would end
// before d passes.
func sleep(ctx context.Context, d time.Duration) bool {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// sessionPath is the path of a session's route. An id that would change
// the path is refused here; any other malformed id is the server's to
// refuse.
func sessionPath(id, rest string) (string, error) {
	if err := checkSegment("session id", id); err != nil {
		return "", err
	}
	return "/api/feedback/" + id + rest, nil
}

// checkSegment refuses a value that would not stay one path segment.
func checkSegment(what, v string) error {
	if v == "" || v == "." || v == ".." || strings.ContainsAny(v, "/?#%\\") {
		return fmt.Errorf("%w: %s %q cannot be part of a URL path", ErrInvalid, what, v)
	}
	return nil
}
