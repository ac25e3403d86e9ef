package webpush

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
)

// VAPIDKeys is the application server's key pair (RFC 8292): push services
// accept a message for a subscription only if it is signed by the key the
// subscription was made with, so a cluster keeps one pair for good. The
// private half never prints or logs.
type VAPIDKeys struct {
	priv *ecdsa.PrivateKey
}

// GenerateVAPIDKeys returns a new P-256 key pair.
func GenerateVAPIDKeys() (*VAPIDKeys, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate VAPID keys: %w", err)
	}
	return &VAPIDKeys{priv: priv}, nil
}

// ParseVAPIDKeys loads a key pair from what MarshalBinary returned: the
// 32-byte private scalar. The public key is derived from it.
func ParseVAPIDKeys(raw []byte) (*VAPIDKeys, error) {
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), raw)
	if err != nil {
		return nil, fmt.Errorf("%w: VAPID private key must be a 32-byte P-256 scalar: %v", ErrInvalid, err)
	}
	return &VAPIDKeys{priv: priv}, nil
}

// ParseVAPIDPrivateKey loads a key pair from the base64url private key that
// web-push's generate-vapid-keys and webpush-go print, for operators who
// bring their own pair.
func ParseVAPIDPrivateKey(s string) (*VAPIDKeys, error) {
	raw, err := decodeBase64(s)
	if err != nil {
		return nil, fmt.Errorf("%w: VAPID private key is not base64url: %v", ErrInvalid, err)
	}
	return ParseVAPIDKeys(raw)
}

// MarshalBinary returns the 32-byte private scalar, for storage (in the
// cluster's config bucket, as the page-token secret is kept).
func (k *VAPIDKeys) MarshalBinary() ([]byte, error) {
	return k.priv.Bytes()
}

// PublicKey returns the public key as the browser's
// PushManager.subscribe({applicationServerKey}) wants it: the 65-byte
// uncompressed point, base64url without padding.
func (k *VAPIDKeys) PublicKey() string {
	b, _ := k.priv.PublicKey.Bytes()
	return base64.RawURLEncoding.EncodeToString(b)
}

// privateKey returns the private scalar base64url-encoded, as webpush-go
// takes it.
func (k *VAPIDKeys) privateKey() string {
	b, _ := k.priv.Bytes()
	return base64.RawURLEncoding.EncodeToString(b)
}

// String names the pair by its public key only.
func (k *VAPIDKeys) String() string { return "VAPID key pair " + k.PublicKey() }

// LogValue logs the public key only.
func (k *VAPIDKeys) LogValue() slog.Value { return slog.StringValue(k.String()) }

// decodeBase64 decodes base64url or standard base64, padded or not, as
// browsers and libraries hand keys around in either.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	if strings.ContainsAny(s, "+/") {
		return base64.RawStdEncoding.DecodeString(s)
	}
	return base64.RawURLEncoding.DecodeString(s)
}

// validPublicKey reports whether raw is an uncompressed P-256 point on the
// curve.
func validPublicKey(raw []byte) bool {
	if len(raw) != 65 || raw[0] != 4 {
		return false
	}
	_, err := ecdh.P256().NewPublicKey(raw)
	return err == nil
}
