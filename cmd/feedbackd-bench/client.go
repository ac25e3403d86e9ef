package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// client talks to one base URL and nowhere else.
type client struct {
	base    *url.URL
	apiKey  string
	timeout time.Duration
	http    *http.Client
	// authed adds the API key to every request: for MCP, whose SDK builds
	// its own requests.
	authed *http.Client
}

func newClient(o options) *client {
	base, _ := url.Parse(o.URL) // checked by parseFlags
	tr := &http.Transport{
		MaxIdleConns:        o.Concurrency * 4,
		MaxIdleConnsPerHost: o.Concurrency * 4,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	c := &client{base: base, apiKey: o.APIKey, timeout: o.Timeout}
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	guard := &onlyBase{base: base, next: tr}
	c.http = &http.Client{Transport: guard, CheckRedirect: noRedirect}
	c.authed = &http.Client{Transport: &withKey{key: o.APIKey, next: guard}, CheckRedirect: noRedirect}
	return c
}

// dial connects WebSockets to the base URL's host and nowhere else.
func (c *client) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if addr != c.base.Host && addr != hostPort(c.base) {
		return nil, errOffTarget
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// hostPort is u's host with its port, the scheme's default if none.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// onlyBase refuses any request to another host than the base URL's: an
// endpoint event or a link in a response cannot send the load elsewhere.
type onlyBase struct {
	base *url.URL
	next http.RoundTripper
}

var errOffTarget = errors.New("refused: request to a host other than --url")

func (t *onlyBase) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host != t.base.Host || (r.URL.Scheme != t.base.Scheme && r.URL.Scheme != wsScheme(t.base.Scheme)) {
		return nil, errOffTarget
	}
	return t.next.RoundTrip(r)
}

type withKey struct {
	key  string
	next http.RoundTripper
}

func (t *withKey) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-API-Key", t.key)
	return t.next.RoundTrip(r)
}

func wsScheme(s string) string {
	if s == "https" {
		return "wss"
	}
	return "ws"
}

// url joins path (with its query) onto the base.
func (c *client) url(path string) string { return c.base.Scheme + "://" + c.base.Host + path }

// scrub removes the API key from an error's text: WebSocket and HTTP errors
// quote URLs, and the ws URL carries the key.
func (c *client) scrub(err error) error {
	if err == nil || c.apiKey == "" || !strings.Contains(err.Error(), c.apiKey) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), c.apiKey, "REDACTED"))
}

// envelope is the REST response shape (docs/api.md, "REST API").
type envelope struct {
	Success bool            `json:"success"`
	Data    json.RawMessage `json:"data"`
	Error   *struct {
		Code string `json:"code"`
	} `json:"error"`
}

// call sends one REST request and decodes the envelope's data into out
// (when not nil). want is the expected status.
func (c *client) call(ctx context.Context, method, path string, auth bool, body any, want int, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path), rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.http
	if auth {
		hc = c.authed
	}
	res, err := hc.Do(req)
	if err != nil {
		return c.scrub(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return c.scrub(err)
	}
	var env envelope
	_ = json.Unmarshal(raw, &env)
	if res.StatusCode != want {
		se := &statusError{status: res.StatusCode}
		if env.Error != nil {
			se.code = env.Error.Code
		}
		return se
	}
	if out != nil {
		if err := json.Unmarshal(env.Data, out); err != nil {
			return fmt.Errorf("decode %s %s response: %w", method, path, err)
		}
	}
	return nil
}

// The REST steps every scenario shares.

func (c *client) create(ctx context.Context, rec *recorder, n int64) (string, error) {
	var d struct {
		SessionID string `json:"sessionId"`
	}
	err := rec.time("create", func() error {
		return c.call(ctx, "POST", "/api/feedback/create", true, map[string]any{
			"message":           fmt.Sprintf("feedbackd-bench question %d: ship it?", n),
			"predefinedOptions": []string{"yes", "no"},
		}, http.StatusCreated, &d)
	})
	if err == nil && d.SessionID == "" {
		err = errors.New("create: no sessionId in the response")
	}
	return d.SessionID, err
}

func (c *client) submit(ctx context.Context, rec *recorder, id string) error {
	return rec.time("submit", func() error {
		return c.call(ctx, "POST", "/api/feedback/"+url.PathEscape(id)+"/submit", false, map[string]any{
			"selectedOptions": []string{"yes"},
			"freeText":        "answered by feedbackd-bench",
		}, http.StatusOK, nil)
	})
}
