package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// ErrUnauthorized is wrapped by every error Authenticate returns: the
// credential is missing, malformed or wrong. Callers answer 401. The error
// text is safe to log: it names the reason and at most a Fingerprint, never
// the credential itself.
var ErrUnauthorized = errors.New("unauthorized")

// ErrNoCredentials is wrapped, together with ErrUnauthorized, when a request
// carried no credential at all. An MCP endpoint then answers with a bare
// Bearer challenge instead of error="invalid_token" (RFC 6750 §3.1).
var ErrNoCredentials = errors.New("no credentials")

// ErrAmbiguousCredentials is wrapped, together with ErrUnauthorized, when a
// request carried more than one credential (X-API-Key and Authorization, or
// a query credential beside either): which one speaks for the request must
// never be settled by an order of precedence a proxy and a client may see
// differently.
var ErrAmbiguousCredentials = errors.New("more than one credential")

// ErrWeakJWTSecret is reported by Warnings when JWTSecret is shorter than
// MinSecretLen bytes: HS256 still works, but the secret is guessable offline
// from any token.
var ErrWeakJWTSecret = errors.New("JWT secret is shorter than 32 bytes")

// ErrShortAPIKey is reported by Warnings for every API key shorter than
// MinAPIKeyLen characters: it works, but it can be guessed. feedbackd apikey
// makes keys of APIKeyLen characters.
var ErrShortAPIKey = errors.New("API key is shorter than 32 characters")

// MinAPIKeyLen is the shortest API key New accepts without a warning.
const MinAPIKeyLen = 32

// ErrInsecureJWKSURL is reported by Warnings when JWKSURL is plain http to a
// host other than loopback: whoever sits on the path can substitute keys.
var ErrInsecureJWKSURL = errors.New("JWKS URL is not https")

// MinSecretLen is the shortest JWT secret New accepts without a warning, and
// the shortest secret NewPageTokens accepts at all.
const MinSecretLen = 32

// Leeway is the clock skew tolerated on exp, nbf and iat.
const Leeway = 30 * time.Second

const (
	defaultJWKSRefresh       = time.Hour
	defaultUnknownKIDRefresh = 5 * time.Minute
	jwksHTTPTimeout          = 10 * time.Second
	maxJWKSBytes             = 1 << 20
)

// Principal is who a request acts for. Sessions are owned by ID.
type Principal struct {
	ID     string // stable owner id: "key:"+Fingerprint(key), "jwt:"+subject, or "anonymous"
	Method string // "apikey", "jwt", "none", or "inbox" (an inbox link, sessions/inbox)
	// Expires is when the credential stops being valid (a JWT's exp); zero
	// for one that does not expire (an API key). Whatever outlives the
	// request it authenticated, such as a WebSocket, ends then.
	Expires time.Time `json:"expires,omitzero"`
	// Credential names the revocable credential the principal was
	// established with, when there is one (an inbox link: "inbox:<link
	// id>"); empty for API keys and JWTs. Whatever outlives the request,
	// such as a WebSocket, ends when that credential is revoked.
	Credential string `json:"credential,omitempty"`
}

// Credentials are the raw inputs an Authenticator looks at, copied from a
// request by the caller. At most one field may be set: two are refused with
// ErrAmbiguousCredentials, whatever they hold. The query forms exist for
// WebSocket clients that cannot set headers: the caller decides where they
// are allowed and leaves them empty elsewhere.
type Credentials struct {
	APIKey        string // the X-API-Key header
	Authorization string // the Authorization header: "Bearer T" or "ApiKey K"
	Token         string // the ?token= query parameter (a JWT)
	QueryAPIKey   string // the ?apiKey= query parameter
}

// Config says which credentials are valid. It is filled once from the
// environment by the caller.
type Config struct {
	APIKeys     []string // API_KEYS; blank entries are skipped
	JWTSecret   string   // JWT_SECRET: verifies HS256 tokens; see ErrWeakJWTSecret
	JWTIssuer   string   // JWT_ISSUER: when set, tokens must carry this iss
	JWTAudience string   // JWT_AUDIENCE: when set, tokens must list this aud
	JWKSURL     string   // JWKS_URL: verifies RS256 and ES256 tokens with the keys served there

	// JWKSRefreshInterval is how often the JWKS is fetched again in the
	// background. Zero means one hour.
	JWKSRefreshInterval time.Duration
	// JWKSUnknownKIDRefresh is the least time between extra fetches caused by
	// a token whose kid is not in the cached set (so a rotated key works at
	// once, while junk kids cannot make us hammer the provider). Zero means
	// five minutes; negative turns such fetches off.
	JWKSUnknownKIDRefresh time.Duration
	// HTTPClient fetches the JWKS. Nil means a client with a 10 s timeout.
	// Responses over 1 MiB are refused either way.
	HTTPClient *http.Client
	// Logger receives JWKS refresh failures. Nil means slog.Default().
	Logger *slog.Logger

	Disabled bool // AUTH_DISABLED: every request acts as Anonymous
}

// Authenticator checks credentials. It is safe for concurrent use. When a
// JWKS URL is configured it owns a background refresh goroutine: call Close
// to stop it.
type Authenticator struct {
	keys     [][sha256.Size]byte
	disabled bool

	secret []byte          // HS256 key; nil when HS256 is off
	jwks   keyfunc.Keyfunc // RS256/ES256 keys; nil when JWKS is off
	parser *jwt.Parser     // nil when no JWT verification is configured

	warnings []error
	stop     context.CancelFunc
	once     sync.Once
}

// Anonymous is the principal of every request when auth is disabled.
var Anonymous = Principal{ID: "anonymous", Method: "none"}

// New returns an Authenticator for cfg. It refuses a configuration that
// accepts no credential at all unless cfg.Disabled is set, and API keys a
// header could not carry. Weaknesses that still work (a short JWT secret, a
// plain-http JWKS URL) do not fail New: they are listed by Warnings for the
// caller to log at start.
//
// With a JWKS URL, New fetches the key set once (waiting at most 10 s; a
// failure is logged and retried, not returned, so a provider outage does not
// stop the server from starting) and then refreshes it in the background
// until Close.
func New(cfg Config) (*Authenticator, error) {
	a := &Authenticator{disabled: cfg.Disabled}
	for i, k := range cfg.APIKeys {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		if err := checkCredential(k); err != nil {
			return nil, fmt.Errorf("auth: API key #%d (fingerprint %s): %w", i+1, Fingerprint(k), err)
		}
		a.keys = append(a.keys, sha256.Sum256([]byte(k)))
		if len(k) < MinAPIKeyLen {
			a.warnings = append(a.warnings, fmt.Errorf("auth: API key #%d (fingerprint %s): %w (%d characters; make one with `feedbackd apikey`)",
				i+1, Fingerprint(k), ErrShortAPIKey, len(k)))
		}
	}

	var methods []string
	if cfg.JWTSecret != "" {
		a.secret = []byte(cfg.JWTSecret)
		methods = append(methods, jwt.SigningMethodHS256.Alg())
		if len(a.secret) < MinSecretLen {
			a.warnings = append(a.warnings, fmt.Errorf("auth: %w (%d bytes; make one with `feedbackd apikey`)", ErrWeakJWTSecret, len(a.secret)))
		}
	}
	if cfg.JWKSURL != "" {
		insecure, err := checkJWKSURL(cfg.JWKSURL)
		if err != nil {
			return nil, err
		}
		if insecure {
			a.warnings = append(a.warnings, fmt.Errorf("auth: %w: %s", ErrInsecureJWKSURL, cfg.JWKSURL))
		}
		ctx, cancel := context.WithCancel(context.Background())
		a.stop = cancel
		a.jwks, err = newJWKS(ctx, cfg)
		if err != nil {
			cancel()
			return nil, err
		}
		methods = append(methods, jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg())
	}
	if len(methods) > 0 {
		opts := []jwt.ParserOption{
			jwt.WithValidMethods(methods),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(Leeway),
		}
		if cfg.JWTIssuer != "" {
			opts = append(opts, jwt.WithIssuer(cfg.JWTIssuer))
		}
		if cfg.JWTAudience != "" {
			opts = append(opts, jwt.WithAudience(cfg.JWTAudience))
		}
		a.parser = jwt.NewParser(opts...)
	}

	if !a.disabled && len(a.keys) == 0 && a.parser == nil {
		a.Close()
		return nil, errors.New("auth: no credentials configured (API_KEYS, JWT_SECRET or JWKS_URL) and auth not disabled")
	}
	return a, nil
}

// checkJWKSURL refuses what cannot be fetched and reports whether the URL is
// plain http to a host that is not loopback.
func checkJWKSURL(raw string) (insecure bool, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return false, fmt.Errorf("auth: parse JWKS URL: %w", err)
	}
	switch u.Scheme {
	case "https":
		return false, nil
	case "http":
		return !isLoopback(u.Hostname()), nil
	default:
		return false, fmt.Errorf("auth: JWKS URL %q: scheme must be https (or http)", raw)
	}
}

// Warnings lists what is weak but working in the configuration New was given
// (ErrShortAPIKey, ErrWeakJWTSecret, ErrInsecureJWKSURL, checked with
// errors.Is). The caller logs them once, at start. They never contain a
// secret.
func (a *Authenticator) Warnings() []error {
	return append([]error(nil), a.warnings...)
}

// Close stops the background JWKS refresh, if any. It is safe to call more
// than once; the Authenticator must not be used afterwards for JWKS tokens.
func (a *Authenticator) Close() error {
	a.once.Do(func() {
		if a.stop != nil {
			a.stop()
		}
	})
	return nil
}

// Authenticate returns the principal for c, or an error wrapping
// ErrUnauthorized (and ErrNoCredentials when c is empty, or
// ErrAmbiguousCredentials when it holds more than one credential).
func (a *Authenticator) Authenticate(ctx context.Context, c Credentials) (Principal, error) {
	if a.disabled {
		return Anonymous, nil
	}
	if c.Count() > 1 {
		return Principal{}, fmt.Errorf("%w: %w", ErrUnauthorized, ErrAmbiguousCredentials)
	}
	switch {
	case c.APIKey != "":
		return a.checkKey(c.APIKey)
	case c.Authorization != "":
		scheme, cred, err := ParseAuthorization(c.Authorization)
		if err != nil {
			return Principal{}, err
		}
		switch {
		case strings.EqualFold(scheme, "Bearer"):
			return a.checkToken(ctx, cred)
		case strings.EqualFold(scheme, "ApiKey"):
			return a.checkKey(cred)
		default:
			return Principal{}, fmt.Errorf("%w: unsupported authorization scheme (use Bearer or ApiKey)", ErrUnauthorized)
		}
	case c.Token != "":
		return a.checkToken(ctx, c.Token)
	case c.QueryAPIKey != "":
		return a.checkKey(c.QueryAPIKey)
	}
	return Principal{}, fmt.Errorf("%w: %w", ErrUnauthorized, ErrNoCredentials)
}

// Count is how many credentials c carries; Authenticate refuses more than
// one.
func (c Credentials) Count() int {
	n := 0
	for _, v := range [...]string{c.APIKey, c.Authorization, c.Token, c.QueryAPIKey} {
		if v != "" {
			n++
		}
	}
	return n
}

func (a *Authenticator) checkKey(key string) (Principal, error) {
	if err := checkCredential(key); err != nil {
		return Principal{}, fmt.Errorf("%w: API key: %w", ErrUnauthorized, err)
	}
	if len(a.keys) == 0 {
		return Principal{}, fmt.Errorf("%w: API keys are not enabled", ErrUnauthorized)
	}
	sum := sha256.Sum256([]byte(key))
	match := 0
	// Compare against every key so the time taken says nothing about which
	// key, if any, matched.
	for i := range a.keys {
		match |= subtle.ConstantTimeCompare(sum[:], a.keys[i][:])
	}
	fp := Fingerprint(key)
	if match != 1 {
		return Principal{}, fmt.Errorf("%w: unknown API key (fingerprint %s)", ErrUnauthorized, fp)
	}
	return Principal{ID: "key:" + fp, Method: "apikey"}, nil
}

// Fingerprint is a short, non-reversible name for a secret, safe to log.
func Fingerprint(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:8])
}

// Challenge returns the WWW-Authenticate value for a 401 caused by err:
// `Bearer realm="feedbackd"`, plus `resource_metadata="URL"` when
// resourceMetadata is not empty (RFC 9728, MCP authorization), plus
// `error="invalid_token"` unless the request simply had no credentials
// (RFC 6750 §3.1).
func Challenge(err error, resourceMetadata string) string {
	var b strings.Builder
	b.WriteString(`Bearer realm="feedbackd"`)
	if resourceMetadata != "" {
		b.WriteString(`, resource_metadata="`)
		b.WriteString(quoteEscaper.Replace(resourceMetadata))
		b.WriteString(`"`)
	}
	if err != nil && !errors.Is(err, ErrNoCredentials) {
		b.WriteString(`, error="invalid_token"`)
	}
	return b.String()
}

var quoteEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)
