package webpush

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
)

// ErrInvalid is wrapped by every error about input refused before anything
// was sent: a bad subscription, key, payload or option.
var ErrInvalid = errors.New("webpush: invalid input")

// MaxEndpoint bounds an endpoint URL; real ones are a few hundred bytes.
const MaxEndpoint = 2048

// Subscription is a browser's push subscription: where to post and the keys
// to encrypt for. Its JSON is what PushSubscription.toJSON() gives:
// {"endpoint":…,"keys":{"p256dh":…,"auth":…}} ("expirationTime" is ignored).
type Subscription struct {
	// Endpoint is the push service URL for this subscription.
	Endpoint string
	// P256dh is the browser's P-256 public key (65 bytes uncompressed),
	// base64url.
	P256dh string
	// Auth is the browser's 16-byte authentication secret, base64url.
	Auth string
}

type subscriptionJSON struct {
	Endpoint string `json:"endpoint"`
	Keys     struct {
		P256dh string `json:"p256dh"`
		Auth   string `json:"auth"`
	} `json:"keys"`
}

// MarshalJSON writes the PushSubscription.toJSON() shape.
func (s Subscription) MarshalJSON() ([]byte, error) {
	var j subscriptionJSON
	j.Endpoint, j.Keys.P256dh, j.Keys.Auth = s.Endpoint, s.P256dh, s.Auth
	return json.Marshal(j)
}

// UnmarshalJSON reads the PushSubscription.toJSON() shape.
func (s *Subscription) UnmarshalJSON(b []byte) error {
	var j subscriptionJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = Subscription{Endpoint: j.Endpoint, P256dh: j.Keys.P256dh, Auth: j.Keys.Auth}
	return nil
}

// Validate checks what would make every push to s fail: the endpoint must be
// an absolute https URL (every push service is), p256dh a point on P-256 and
// auth 16 bytes. The inbox calls it before storing a subscription.
func (s Subscription) Validate() error {
	if len(s.Endpoint) > MaxEndpoint {
		return fmt.Errorf("%w: endpoint longer than %d bytes", ErrInvalid, MaxEndpoint)
	}
	u, err := url.Parse(s.Endpoint)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("%w: endpoint must be an absolute https URL", ErrInvalid)
	}
	dh, err := decodeBase64(s.P256dh)
	if err != nil || !validPublicKey(dh) {
		return fmt.Errorf("%w: keys.p256dh must be an uncompressed P-256 public key, base64url", ErrInvalid)
	}
	auth, err := decodeBase64(s.Auth)
	if err != nil || len(auth) != 16 {
		return fmt.Errorf("%w: keys.auth must be 16 bytes, base64url", ErrInvalid)
	}
	return nil
}

// origin returns the endpoint's scheme://host, the only part of an endpoint
// safe to log: the path identifies the subscription.
func (s Subscription) origin() string {
	u, err := url.Parse(s.Endpoint)
	if err != nil {
		return "(bad endpoint)"
	}
	return u.Scheme + "://" + u.Host
}
