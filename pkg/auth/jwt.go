package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"unicode/utf8"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// maxSubjectLen bounds the subject a principal id is made of: it becomes a
// key in storage and a label in logs.
const maxSubjectLen = 256

var (
	errJWTOff      = errors.New("bearer tokens are not enabled")
	errAlgOff      = errors.New("algorithm not accepted with the configured keys")
	errUnknownKey  = errors.New("no usable signing key for this token")
	errNoSubject   = errors.New("token has neither sub nor userId")
	errBadSubject  = errors.New("token subject is empty, too long or not printable")
	errMinRSABits  = errors.New("RSA key shorter than 2048 bits")
	errWrongCurve  = errors.New("EC key is not on P-256")
	errWrongKeyTyp = errors.New("key type does not match the algorithm")
)

// tokenClaims are the claims a token is read into. userId is kept raw: the
// seeds send it as a string, some providers as a number.
type tokenClaims struct {
	jwt.RegisteredClaims
	UserID json.RawMessage `json:"userId,omitempty"`
}

func (a *Authenticator) checkToken(ctx context.Context, token string) (Principal, error) {
	if a.parser == nil {
		return Principal{}, fmt.Errorf("%w: %w", ErrUnauthorized, errJWTOff)
	}
	if err := checkCredential(token); err != nil {
		return Principal{}, fmt.Errorf("%w: token: %w", ErrUnauthorized, err)
	}
	var claims tokenClaims
	if _, err := a.parser.ParseWithClaims(token, &claims, a.keyFor(ctx)); err != nil {
		return Principal{}, fmt.Errorf("%w: %s", ErrUnauthorized, tokenReason(err, &claims))
	}
	subject, err := claims.subject()
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	p := Principal{ID: "jwt:" + subject, Method: "jwt"}
	if claims.ExpiresAt != nil {
		p.Expires = claims.ExpiresAt.Time
	}
	return p, nil
}

// keyFor returns the key that may verify t. The parser has already refused
// any alg outside the configured set; this is the second lock: HS256 is only
// ever checked against the secret, RS256 and ES256 only against JWKS keys of
// the matching type, so one family's key material can never stand in for
// the other's.
func (a *Authenticator) keyFor(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		switch t.Method {
		case jwt.SigningMethodHS256:
			if a.secret == nil {
				return nil, errAlgOff
			}
			return a.secret, nil
		case jwt.SigningMethodRS256, jwt.SigningMethodES256:
			if a.jwks == nil {
				return nil, errAlgOff
			}
			got, err := a.jwks.KeyfuncCtx(ctx)(t)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", errUnknownKey, err)
			}
			return keysFor(t.Method, got)
		default:
			return nil, errAlgOff
		}
	}
}

// keysFor keeps only the keys of got that fit m.
func keysFor(m jwt.SigningMethod, got any) (any, error) {
	set, ok := got.(jwt.VerificationKeySet)
	if !ok {
		if err := fits(m, got); err != nil {
			return nil, err
		}
		return got, nil
	}
	var keep jwt.VerificationKeySet
	for _, k := range set.Keys {
		if fits(m, k) == nil {
			keep.Keys = append(keep.Keys, k)
		}
	}
	if len(keep.Keys) == 0 {
		return nil, errUnknownKey
	}
	return keep, nil
}

func fits(m jwt.SigningMethod, key any) error {
	switch m {
	case jwt.SigningMethodRS256:
		k, ok := key.(*rsa.PublicKey)
		if !ok {
			return errWrongKeyTyp
		}
		if k.N.BitLen() < 2048 {
			return errMinRSABits
		}
		return nil
	case jwt.SigningMethodES256:
		k, ok := key.(*ecdsa.PublicKey)
		if !ok {
			return errWrongKeyTyp
		}
		if k.Curve != elliptic.P256() {
			return errWrongCurve
		}
		return nil
	default:
		return errAlgOff
	}
}

// tokenReason turns a jwt error into a short fixed phrase. The library's own
// messages are not passed on: they may quote header values. c is what the
// parser decoded before it failed.
func tokenReason(err error, c *tokenClaims) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed token"
	case errors.Is(err, errAlgOff):
		return "token algorithm not accepted"
	case errors.Is(err, errUnknownKey):
		return "token signed by an unknown key"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		// Also what the parser says for an alg outside the pinned set.
		return "invalid token signature or algorithm"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "token cannot be verified"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		switch {
		case c.ExpiresAt == nil:
			return "token lacks exp"
		case c.Issuer == "":
			return "token lacks iss"
		case len(c.Audience) == 0:
			return "token lacks aud"
		default:
			return "token lacks a required claim"
		}
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "token not valid yet (nbf)"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "token issued in the future (iat)"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "token has the wrong issuer"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "token has the wrong audience"
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		return "token has invalid claims"
	default:
		return "invalid token"
	}
}

// subject is sub, else userId (a string or an integer).
func (c *tokenClaims) subject() (string, error) {
	s := c.Subject
	if s == "" && len(c.UserID) > 0 {
		var str string
		var num json.Number
		switch {
		case json.Unmarshal(c.UserID, &str) == nil:
			s = str
		case json.Unmarshal(c.UserID, &num) == nil && isInteger(num.String()):
			s = num.String()
		default:
			return "", errBadSubject
		}
	}
	if s == "" {
		return "", errNoSubject
	}
	if len(s) > maxSubjectLen || !utf8.ValidString(s) {
		return "", errBadSubject
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return "", errBadSubject
		}
	}
	return s, nil
}

func isInteger(s string) bool {
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// newJWKS fetches cfg.JWKSURL once and keeps it fresh until ctx ends.
func newJWKS(ctx context.Context, cfg Config) (keyfunc.Keyfunc, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	refresh := cfg.JWKSRefreshInterval
	if refresh <= 0 {
		refresh = defaultJWKSRefresh
	}
	// A limiter with no burst refuses every wait at once: no fetch on
	// unknown kids, only the periodic refresh.
	unknown := rate.NewLimiter(0, 0)
	switch {
	case cfg.JWKSUnknownKIDRefresh == 0:
		unknown = rate.NewLimiter(rate.Every(defaultUnknownKIDRefresh), 1)
	case cfg.JWKSUnknownKIDRefresh > 0:
		unknown = rate.NewLimiter(rate.Every(cfg.JWKSUnknownKIDRefresh), 1)
	}
	url := cfg.JWKSURL
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{url}, keyfunc.Override{
		Client:      boundedClient(cfg.HTTPClient),
		HTTPTimeout: jwksHTTPTimeout,
		// Also bounds the fetch an unknown kid triggers, so it cannot be
		// shorter than one HTTP round trip.
		RateLimitWaitMax:  jwksHTTPTimeout,
		RefreshInterval:   refresh,
		RefreshUnknownKID: unknown,
		RefreshErrorHandlerFunc: func(string) func(context.Context, error) {
			return func(ctx context.Context, err error) {
				logger.WarnContext(ctx, "auth: JWKS fetch failed", "url", url, "err", err)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("auth: start JWKS client: %w", err)
	}
	return kf, nil
}

// boundedClient returns a copy of c (or a default client) whose responses
// are cut off past maxJWKSBytes, so a key set cannot eat the heap.
func boundedClient(c *http.Client) *http.Client {
	var cp http.Client
	if c != nil {
		cp = *c
	} else {
		cp.Timeout = jwksHTTPTimeout
	}
	next := cp.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	cp.Transport = boundedTransport{next: next}
	return &cp
}

type boundedTransport struct{ next http.RoundTripper }

func (t boundedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &boundedBody{r: resp.Body, left: maxJWKSBytes}
	return resp, nil
}

var errJWKSTooLarge = errors.New("JWKS response larger than 1 MiB")

type boundedBody struct {
	r    io.ReadCloser
	left int64
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a body of exactly the limit from a longer one.
		var one [1]byte
		n, err := b.r.Read(one[:])
		if n > 0 {
			return 0, errJWKSTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *boundedBody) Close() error { return b.r.Close() }
