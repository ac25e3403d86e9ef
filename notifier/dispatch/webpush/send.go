package webpush

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	webpushgo "github.com/SherClockHolmes/webpush-go"
)

// Urgency is RFC 8030's Urgency header: how soon the device should wake for
// the message.
type Urgency string

// The urgencies of RFC 8030 §5.3.
const (
	UrgencyVeryLow Urgency = "very-low"
	UrgencyLow     Urgency = "low"
	UrgencyNormal  Urgency = "normal"
	UrgencyHigh    Urgency = "high"
)

// Options are the RFC 8030 headers of one push.
type Options struct {
	// TTL is how long the push service keeps the message for an offline
	// device, in whole seconds; 0 means deliver now or never.
	TTL time.Duration
	// Urgency is empty (the service's default, normal) or one of the
	// Urgency constants.
	Urgency Urgency
	// Topic, optional, makes this message replace an undelivered one with
	// the same topic: at most 32 characters of the base64url alphabet.
	Topic string
}

// Outcome is what became of a push.
type Outcome int

// The outcomes of Send.
const (
	// Delivered: the push service accepted the message (2xx).
	Delivered Outcome = iota + 1
	// Gone: the subscription no longer exists (404, 410); delete it.
	Gone
	// Transient: try again later (429, 5xx, network failure), after
	// Result.RetryAfter if the service said.
	Transient
	// Rejected: the message or the request was refused (400, 401, 403,
	// 413, …); sending the same again fails again.
	Rejected
)

// String names the outcome, for logs and metrics labels.
func (o Outcome) String() string {
	switch o {
	case Delivered:
		return "delivered"
	case Gone:
		return "gone"
	case Transient:
		return "transient"
	case Rejected:
		return "rejected"
	}
	return "unknown"
}

// Result is the typed result of Send.
type Result struct {
	Outcome Outcome
	// StatusCode is the push service's HTTP status; 0 if none came.
	StatusCode int
	// RetryAfter is the push service's Retry-After, for Transient.
	RetryAfter time.Duration
}

// Config configures a Sender.
type Config struct {
	// Keys sign every push (VAPID). Required.
	Keys *VAPIDKeys
	// Subject is how a push service reaches the operator: "mailto:…" or
	// an "https:" URL (RFC 8292 §2.1). Required.
	Subject string
	// HTTPClient sends the pushes; nil means a client with a 30 s timeout
	// that follows no redirects. Give it an SSRF-safe dialer (an
	// *egress.Client): endpoints come from browsers, that is, from users.
	HTTPClient Doer
}

// Doer sends an HTTP request: *http.Client, or pkg/egress's client, which
// refuses private addresses.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Sender encrypts payloads for subscriptions (RFC 8291, aes128gcm), signs
// them (RFC 8292, VAPID) and posts them to push services (RFC 8030). It is
// safe for concurrent use and holds no state between pushes.
type Sender struct {
	keys    *VAPIDKeys
	subject string
	http    Doer
}

// NewSender returns a Sender for cfg.
func NewSender(cfg Config) (*Sender, error) {
	if cfg.Keys == nil {
		return nil, fmt.Errorf("%w: VAPID keys are required", ErrInvalid)
	}
	if err := validSubject(cfg.Subject); err != nil {
		return nil, err
	}
	var c Doer = cfg.HTTPClient
	if c == nil {
		c = &http.Client{
			Timeout:       30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &Sender{keys: cfg.Keys, subject: cfg.Subject, http: c}, nil
}

func validSubject(s string) error {
	switch {
	case strings.HasPrefix(s, "mailto:"):
		if _, err := mail.ParseAddress(strings.TrimPrefix(s, "mailto:")); err != nil {
			return fmt.Errorf("%w: VAPID subject %q is not a mailto: address", ErrInvalid, s)
		}
	case strings.HasPrefix(s, "https:"):
		if u, err := url.Parse(s); err != nil || u.Host == "" {
			return fmt.Errorf("%w: VAPID subject %q is not an https URL", ErrInvalid, s)
		}
	default:
		return fmt.Errorf("%w: VAPID subject must start with mailto: or https:", ErrInvalid)
	}
	return nil
}

// Send pushes payload (at most MaxPayload bytes; see Message) to sub. The
// Result says what to do next: nothing (Delivered), delete the subscription
// (Gone), retry (Transient) or give up (Rejected). The error describes any
// outcome but Delivered; it names the push service's origin, never the
// endpoint's path, which identifies the subscription.
func (s *Sender) Send(ctx context.Context, sub Subscription, payload []byte, opts Options) (Result, error) {
	if err := sub.Validate(); err != nil {
		return Result{Outcome: Rejected}, err
	}
	if len(payload) > MaxPayload {
		return Result{Outcome: Rejected}, fmt.Errorf("%w: payload of %d bytes, at most %d", ErrInvalid, len(payload), MaxPayload)
	}
	if err := opts.validate(); err != nil {
		return Result{Outcome: Rejected}, err
	}
	subscriber := s.subject
	// webpush-go adds "mailto:" to any subject not starting with "https:".
	subscriber = strings.TrimPrefix(subscriber, "mailto:")
	resp, err := webpushgo.SendNotificationWithContext(ctx, payload, &webpushgo.Subscription{
		Endpoint: sub.Endpoint,
		Keys:     webpushgo.Keys{P256dh: sub.P256dh, Auth: sub.Auth},
	}, &webpushgo.Options{
		HTTPClient:      s.http,
		Subscriber:      subscriber,
		TTL:             int(opts.TTL / time.Second),
		Urgency:         webpushgo.Urgency(opts.Urgency),
		Topic:           opts.Topic,
		VAPIDPublicKey:  s.keys.PublicKey(),
		VAPIDPrivateKey: s.keys.privateKey(),
	})
	if err != nil {
		return Result{Outcome: Transient}, fmt.Errorf("push to %s: %w", sub.origin(), stripURL(err))
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	r := Result{StatusCode: resp.StatusCode, Outcome: classify(resp.StatusCode)}
	if r.Outcome == Delivered {
		return r, nil
	}
	if r.Outcome == Transient {
		r.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return r, fmt.Errorf("push to %s: %s: %d %s", sub.origin(), r.Outcome, resp.StatusCode, strings.TrimSpace(string(body)))
}

func classify(status int) Outcome {
	switch {
	case status >= 200 && status < 300:
		return Delivered
	case status == http.StatusNotFound || status == http.StatusGone:
		return Gone
	case status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500:
		return Transient
	}
	return Rejected
}

// retryAfter parses Retry-After as seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// stripURL keeps the endpoint's path out of a transport error.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		origin := ue.URL
		if u, perr := url.Parse(ue.URL); perr == nil {
			origin = u.Scheme + "://" + u.Host
		}
		return &url.Error{Op: ue.Op, URL: origin, Err: ue.Err}
	}
	return err
}

// validate checks the options against RFC 8030.
func (o Options) validate() error {
	if o.TTL < 0 {
		return fmt.Errorf("%w: TTL must not be negative", ErrInvalid)
	}
	switch o.Urgency {
	case "", UrgencyVeryLow, UrgencyLow, UrgencyNormal, UrgencyHigh:
	default:
		return fmt.Errorf("%w: urgency %q is not one of very-low, low, normal, high", ErrInvalid, o.Urgency)
	}
	if !validTopic(o.Topic) {
		return fmt.Errorf("%w: topic must be at most 32 characters of A-Z a-z 0-9 - _", ErrInvalid)
	}
	return nil
}

func validTopic(t string) bool {
	if len(t) > 32 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
