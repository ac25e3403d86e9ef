package egress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Options configure a Client. Zero values take the defaults in brackets.
type Options struct {
	// AllowPrivate lets requests reach every address, private ones
	// included; set it only when every URL the client is given is trusted
	// (WEBHOOK_ALLOW_PRIVATE=true).
	AllowPrivate bool
	// DialTimeout bounds resolving a name and connecting [5s].
	DialTimeout time.Duration
	// TLSHandshakeTimeout bounds the TLS handshake [5s].
	TLSHandshakeTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for the response headers once
	// the request is written [10s].
	ResponseHeaderTimeout time.Duration
	// Timeout bounds a whole request, redirects and body included [15s].
	Timeout time.Duration
	// MaxResponseBody is how many bytes of a response body may be read;
	// reading more returns ErrBodyTooLarge [64 KiB].
	MaxResponseBody int64
	// MaxRedirects is how many 307/308 redirects are followed [3]; other
	// redirects are returned to the caller as they are. Negative follows
	// none.
	MaxRedirects int
	// Resolver resolves names [net.DefaultResolver].
	Resolver *net.Resolver
	// UserAgent is sent when the request has none ["feedbackd"].
	UserAgent string

	// allowAddr, set only by this package's tests, lets one exact address
	// through while the policy refuses its neighbours.
	allowAddr func(netip.AddrPort) bool
}

// ErrBodyTooLarge is returned by a response body read past MaxResponseBody.
var ErrBodyTooLarge = errors.New("response body exceeds the size limit")

// Client sends requests under the policy of its Options. It is safe for
// concurrent use.
type Client struct {
	opts Options
	http *http.Client
}

// New returns a Client.
func New(o Options) *Client {
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.TLSHandshakeTimeout <= 0 {
		o.TLSHandshakeTimeout = 5 * time.Second
	}
	if o.ResponseHeaderTimeout <= 0 {
		o.ResponseHeaderTimeout = 10 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Second
	}
	if o.MaxResponseBody <= 0 {
		o.MaxResponseBody = 64 << 10
	}
	if o.MaxRedirects == 0 {
		o.MaxRedirects = 3
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.UserAgent == "" {
		o.UserAgent = "feedbackd"
	}
	c := &Client{opts: o}
	dialer := &net.Dialer{
		Timeout:   o.DialTimeout,
		KeepAlive: 30 * time.Second,
		Resolver:  o.Resolver,
		// Control sees the address actually being connected to, after
		// resolution: the one place a rebinding name cannot slip past.
		Control: func(_, address string, _ syscall.RawConn) error { return c.checkDial(address) },
	}
	transport := &http.Transport{
		Proxy:                  nil, // a proxy would connect for us, to addresses we never see
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    o.TLSHandshakeTimeout,
		ResponseHeaderTimeout:  o.ResponseHeaderTimeout,
		ExpectContinueTimeout:  time.Second,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 32 << 10,
	}
	c.http = &http.Client{
		Transport: transport,
		Timeout:   o.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			// 301/302/303 would turn a POST into a body-less GET: hand the
			// response back instead of sending something else.
			if req.Response == nil || (req.Response.StatusCode != http.StatusTemporaryRedirect &&
				req.Response.StatusCode != http.StatusPermanentRedirect) {
				return http.ErrUseLastResponse
			}
			if len(via) > o.MaxRedirects {
				return fmt.Errorf("stopped after %d redirects", o.MaxRedirects)
			}
			if req.URL.Scheme != "https" && req.URL.Scheme != "http" {
				return fmt.Errorf("redirect to a %q URL refused", req.URL.Scheme)
			}
			return nil
		},
	}
	return c
}

// Do sends req. A refused address makes it fail with an error matching
// ErrRefused. The response body stops at MaxResponseBody; the caller closes
// it.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	if req.URL == nil || (req.URL.Scheme != "https" && req.URL.Scheme != "http") {
		return nil, errors.New("only http and https URLs can be requested")
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", c.opts.UserAgent)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &capped{r: resp.Body, left: c.opts.MaxResponseBody}
	return resp, nil
}

// checkDial enforces the policy on an address about to be connected.
func (c *Client) checkDial(address string) error {
	if c.opts.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dial %s: %w", address, ErrRefused)
	}
	if c.opts.allowAddr != nil && c.opts.allowAddr(ap) {
		return nil
	}
	return CheckAddr(ap.Addr())
}

// CheckURL checks ahead of time what Do checks when it connects: that raw
// is an absolute http or https URL without credentials and that its host
// resolves only to addresses the policy allows. It returns a *RefusedError
// (matching ErrRefused) for a refused address and a plain error naming the
// problem otherwise. A name that cannot be resolved is an error too.
func (c *Client) CheckURL(ctx context.Context, raw string) error {
	u, err := ParseURL(raw)
	if err != nil {
		return err
	}
	if c.opts.AllowPrivate {
		return nil
	}
	host := u.Hostname()
	if a, err := netip.ParseAddr(host); err == nil {
		if err := CheckAddr(a); err != nil {
			err.(*RefusedError).Host = host
			return err
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.DialTimeout)
	defer cancel()
	addrs, err := c.opts.Resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return fmt.Errorf("host %s does not exist", host)
		}
		return fmt.Errorf("resolve %s: %w", host, err)
	}
	for _, a := range addrs {
		if err := CheckAddr(a); err != nil {
			err.(*RefusedError).Host = host
			return err
		}
	}
	return nil
}

// ParseURL parses raw as an absolute http or https URL with a host and no
// user credentials, at most 2048 bytes long. Errors say what is wrong in
// words a person can act on.
func ParseURL(raw string) (*url.URL, error) {
	if len(raw) > 2048 {
		return nil, errors.New("must be at most 2048 characters")
	}
	if strings.TrimSpace(raw) != raw || raw == "" {
		return nil, errors.New("must be an absolute http or https URL")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return nil, errors.New("must be an absolute http or https URL")
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, fmt.Errorf("scheme %q is not allowed; use https (or http)", u.Scheme)
	}
	if u.Opaque != "" {
		return nil, errors.New("must be an absolute http or https URL")
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, errors.New("must name a host")
	}
	if u.User != nil {
		return nil, errors.New("must not carry a user name or password")
	}
	if p := u.Port(); p != "" {
		if n, err := netip.ParseAddrPort("0.0.0.0:" + p); err != nil || n.Port() == 0 {
			return nil, errors.New("has an invalid port")
		}
	}
	return u, nil
}

// capped is a response body that fails past its limit instead of reading a
// hostile server's endless answer.
type capped struct {
	r    io.ReadCloser
	left int64
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// One more byte tells a body that ends exactly at the cap from
		// one that goes on.
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			return 0, ErrBodyTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

func (c *capped) Close() error { return c.r.Close() }
