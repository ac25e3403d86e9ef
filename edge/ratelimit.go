package edge

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/feedbackd/feedbackd/pkg/auth"
	"github.com/feedbackd/feedbackd/pkg/envelope"
	"github.com/feedbackd/feedbackd/pkg/ratelimit"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/web"
)

// RateLimit is how many requests one key (a principal, a client address)
// may make: Requests per Per on average, up to Burst at once. The zero value
// turns the limit off. Limits are counted by each replica on its own.
type RateLimit struct {
	Requests int           // requests per Per, on average
	Per      time.Duration // the period Requests are spread over
	Burst    int           // requests allowed at once; 0 means Requests
}

// Bounds of a RateLimit, so that a typo cannot turn a limit into something
// the limiter cannot count or that admits nothing.
const (
	maxRateRequests = 1_000_000
	maxRateBurst    = 10_000
	minRatePer      = time.Second
	maxRatePer      = 24 * time.Hour
)

// ParseRateLimit reads "N/PERIOD" or "N/PERIOD,burst=B", where PERIOD is a
// Go duration (30s, 1m, 1h) or one of s, sec, second, m, min, minute, h,
// hour; the burst defaults to N. "off" or "" turns the limit off.
func ParseRateLimit(s string) (RateLimit, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "off") {
		return RateLimit{}, nil
	}
	spec, burst, hasBurst := strings.Cut(s, ",")
	n, per, ok := strings.Cut(spec, "/")
	if !ok {
		return RateLimit{}, fmt.Errorf("rate limit %q: want N/PERIOD[,burst=B], e.g. 60/1m,burst=20, or off", s)
	}
	var r RateLimit
	var err error
	if r.Requests, err = strconv.Atoi(strings.TrimSpace(n)); err != nil {
		return RateLimit{}, fmt.Errorf("rate limit %q: %q is not a whole number of requests", s, n)
	}
	if r.Per, err = parsePeriod(strings.TrimSpace(per)); err != nil {
		return RateLimit{}, fmt.Errorf("rate limit %q: %w", s, err)
	}
	r.Burst = r.Requests
	if hasBurst {
		k, v, ok := strings.Cut(burst, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "burst") {
			return RateLimit{}, fmt.Errorf("rate limit %q: after the comma, want burst=B", s)
		}
		if r.Burst, err = strconv.Atoi(strings.TrimSpace(v)); err != nil || r.Burst < 1 {
			return RateLimit{}, fmt.Errorf("rate limit %q: burst %q is not a whole number from 1", s, v)
		}
	}
	if err := r.validate(); err != nil {
		return RateLimit{}, fmt.Errorf("rate limit %q: %w", s, err)
	}
	return r, nil
}

func parsePeriod(s string) (time.Duration, error) {
	switch strings.ToLower(s) {
	case "s", "sec", "second":
		return time.Second, nil
	case "m", "min", "minute":
		return time.Minute, nil
	case "h", "hour":
		return time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("period %q is neither a duration (1m) nor a unit (min)", s)
	}
	return d, nil
}

// String is the ParseRateLimit form of r.
func (r RateLimit) String() string {
	if !r.enabled() {
		return "off"
	}
	per := r.Per.String()
	switch r.Per {
	case time.Second:
		per = "s"
	case time.Minute:
		per = "min"
	case time.Hour:
		per = "h"
	}
	return fmt.Sprintf("%d/%s,burst=%d", r.Requests, per, r.burst())
}

func (r RateLimit) enabled() bool { return r.Requests > 0 }

func (r RateLimit) burst() int {
	if r.Burst == 0 {
		return r.Requests
	}
	return r.Burst
}

func (r RateLimit) validate() error {
	switch {
	case r.Requests < 1 || r.Requests > maxRateRequests:
		return fmt.Errorf("requests must be from 1 to %d", maxRateRequests)
	case r.Per < minRatePer || r.Per > maxRatePer:
		return fmt.Errorf("period must be from %s to %s", minRatePer, maxRatePer)
	case r.burst() < 1 || r.burst() > maxRateBurst:
		return fmt.Errorf("burst must be from 1 to %d", maxRateBurst)
	}
	return nil
}

// rateLimits are the edge's limiters; a nil one is off.
type rateLimits struct {
	create *ratelimit.Limiter // sessions created, per principal
	submit *ratelimit.Limiter // answers submitted, per client address
	page   *ratelimit.Limiter // feedback page requests, per client address
}

// newRateLimits builds the limiters of cfg. The limits were checked when
// the configuration was parsed; one that is still invalid is a programming
// error.
func newRateLimits(cfg Config) rateLimits {
	now := cfg.Clock
	if now == nil {
		now = time.Now
	}
	build := func(name string, r RateLimit) *ratelimit.Limiter {
		if !r.enabled() {
			return nil
		}
		if err := r.validate(); err != nil {
			panic(fmt.Sprintf("edge: %s rate limit %+v: %v", name, r, err))
		}
		l, err := ratelimit.New(float64(r.Requests)/r.Per.Seconds(), r.burst(), ratelimit.WithClock(now))
		if err != nil {
			panic(fmt.Sprintf("edge: %s rate limit: %v", name, err))
		}
		return l
	}
	return rateLimits{
		create: build("create", cfg.CreateLimit),
		submit: build("submit", cfg.SubmitLimit),
		page:   build("page", cfg.PageLimit),
	}
}

// close stops the limiters' sweepers.
func (r rateLimits) close() {
	for _, l := range []*ratelimit.Limiter{r.create, r.submit, r.page} {
		if l != nil {
			_ = l.Close()
		}
	}
}

// errRateLimited is what a refused request is told.
func errRateLimited(what string, d ratelimit.Decision) error {
	return sessions.Errorf(envelope.CodeRateLimited, "too many %s; try again in %d seconds", what, d.RetryAfterSeconds())
}

// allowCreate charges one session creation to key (see createKey). It
// returns RATE_LIMITED, with the decision for the response headers, when the
// key has used up its allowance. Every way of creating a session (REST, the
// MCP tools) charges it, so that they share one budget per principal.
func (s *Server) allowCreate(key string) (ratelimit.Decision, error) {
	if s.limits.create == nil {
		return ratelimit.Decision{Allowed: true}, nil
	}
	d := s.limits.create.Allow(key)
	if !d.Allowed {
		return d, errRateLimited("sessions created", d)
	}
	return d, nil
}

// createKey is whom session creations are counted against: the principal,
// or, with auth disabled (every caller is Anonymous), the client address.
func (s *Server) createKey(c *fiber.Ctx) string {
	if p := principal(c); p.ID != "" && p.ID != auth.Anonymous.ID {
		return p.ID
	}
	return "addr:" + s.clientKey(c)
}

// limitCreate runs after requireAuth on the create route.
func (s *Server) limitCreate(c *fiber.Ctx) error {
	d, err := s.allowCreate(s.createKey(c))
	return s.answerLimit(c, s.limits.create != nil, d, err)
}

// limitSubmit counts answers per client address: the session id is the only
// credential on submit, so this is what slows down guessing and flooding.
func (s *Server) limitSubmit(c *fiber.Ctx) error {
	return s.limitBy(c, s.limits.submit, "answers")
}

// limitPages counts feedback page requests per client address. It is global
// middleware so that it covers every route mounted under /feedback/.
func (s *Server) limitPages(c *fiber.Ctx) error {
	if !hasPathPrefix(c.Path(), "/feedback") {
		return c.Next()
	}
	return s.limitBy(c, s.limits.page, "page requests")
}

func (s *Server) limitBy(c *fiber.Ctx, l *ratelimit.Limiter, what string) error {
	if l == nil {
		return c.Next()
	}
	d := l.Allow(s.clientKey(c))
	var err error
	if !d.Allowed {
		err = errRateLimited(what, d)
	}
	return s.answerLimit(c, true, d, err)
}

// answerLimit puts d in the X-RateLimit-* headers (when a limit is on) and
// either refuses the request with 429 and Retry-After or lets it through.
// Reset is the Unix time at which the key is back to a full burst.
func (s *Server) answerLimit(c *fiber.Ctx, on bool, d ratelimit.Decision, err error) error {
	if on {
		c.Set("X-RateLimit-Limit", strconv.Itoa(d.Limit))
		c.Set("X-RateLimit-Remaining", strconv.Itoa(d.Remaining))
		c.Set("X-RateLimit-Reset", strconv.FormatInt(ceilUnix(d.Reset), 10))
	}
	if err == nil {
		return c.Next()
	}
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(d.RetryAfterSeconds()))
	if hasPathPrefix(c.Path(), "/api") || hasPathPrefix(c.Path(), web.InboxPath) {
		return s.fail(c, err)
	}
	if strings.HasSuffix(c.Path(), "/state") || strings.Contains(c.Path(), "/images/") || s.pages == nil || s.pages.render == nil {
		// The page's own polling reads JSON; an <img> shows no page.
		return s.fail(c, err)
	}
	// Pages are for people: the translated error page, not JSON.
	return s.pages.failPage(c, pagePrefs(c), err)
}

func ceilUnix(t time.Time) int64 {
	sec := t.Unix()
	if t.Nanosecond() > 0 {
		sec++
	}
	return sec
}

// Retry-After, in seconds, of a wait refused over the per-principal cap and
// of a long poll ended by shutdown: a slot frees as soon as a waiter leaves,
// and another replica (or this one, restarted) answers within moments.
const (
	retryWaitAfter     = "1"
	retryAfterShutdown = "1"
)

// acquireWait takes one of the principal's wait slots (MaxWaitsPerPrincipal,
// per replica), or says why not.
func (s *Server) acquireWait(who string) (release func(), err error) {
	release, ok := s.waits.Acquire(who)
	if !ok {
		return nil, sessions.Errorf(envelope.CodeRateLimited,
			"too many waits in flight: at most %d at once per principal on this server; try again when one has ended", s.waits.Max())
	}
	return release, nil
}
