package pushfake

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/feedbackd/feedbackd/notifier/dispatch/webpush"
)

// maxBody is what push services take: 4096 bytes of encrypted body.
const maxBody = 4096

// Config configures a Server.
type Config struct {
	// Now is the fake's clock for the JWT's exp; default time.Now.
	Now func() time.Time
}

// Message is a push the fake accepted and decrypted.
type Message struct {
	Endpoint string
	// Payload is the decrypted plaintext.
	Payload []byte
	TTL     int
	Urgency string
	Topic   string
	// Subject is the VAPID JWT's sub claim.
	Subject    string
	ReceivedAt time.Time
}

// Rejection is a push the fake refused, and why.
type Rejection struct {
	Endpoint string
	Status   int
	Reason   string
}

// subscription is one browser's subscription, with the keys only the browser
// would hold.
type subscription struct {
	ua        *ecdh.PrivateKey
	auth      []byte
	appKey    []byte // the applicationServerKey it was made with; nil if none
	gone      bool
	status    int // when set, every push is answered with it
	retryWait time.Duration
}

// Server is a fake push service on 127.0.0.1 over TLS. It hands out
// subscriptions as a browser's PushManager.subscribe would (P-256 key pair
// and 16-byte auth secret, generated here and kept here), and for every push
// checks what a push service checks — the VAPID Authorization header (an
// ES256 JWT verified with k, aud the endpoint's origin, exp within 24 hours,
// sub mailto: or https:, k equal to the subscription's
// applicationServerKey), TTL, Urgency, Topic, Content-Encoding aes128gcm, at
// most 4096 bytes — then decrypts the body per RFC 8291 as the browser would,
// and records the plaintext.
type Server struct {
	// URL is the service's base URL; endpoints live under it.
	URL string

	cfg Config
	srv *httptest.Server

	mu         sync.Mutex
	subs       map[string]*subscription // by path id
	messages   []Message
	rejections []Rejection
}

// New starts a fake push service. Close stops it.
func New(cfg Config) (*Server, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("pushfake: listen: %w", err)
	}
	s := &Server{cfg: cfg, subs: map[string]*subscription{}}
	s.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}}
	s.srv.StartTLS()
	s.URL = s.srv.URL
	return s, nil
}

// Start starts a fake for a test and closes it when the test ends.
func Start(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	s, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Close stops the service.
func (s *Server) Close() { s.srv.Close() }

// Client returns an HTTP client that trusts the fake's certificate and
// follows no redirects, for webpush.Config.HTTPClient.
func (s *Server) Client() *http.Client {
	c := s.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.Timeout = 10 * time.Second
	return c
}

// Subscribe makes a subscription as PushManager.subscribe does. With
// applicationServerKey (base64url, as webpush.VAPIDKeys.PublicKey gives it)
// the subscription only takes pushes signed by that key; empty binds none.
func (s *Server) Subscribe(applicationServerKey string) (webpush.Subscription, error) {
	var appKey []byte
	if applicationServerKey != "" {
		k, err := base64.RawURLEncoding.DecodeString(applicationServerKey)
		if err != nil || len(k) != 65 {
			return webpush.Subscription{}, errors.New("pushfake: applicationServerKey must be a base64url P-256 public key")
		}
		if _, err := ecdh.P256().NewPublicKey(k); err != nil {
			return webpush.Subscription{}, fmt.Errorf("pushfake: applicationServerKey: %w", err)
		}
		appKey = k
	}
	ua, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return webpush.Subscription{}, fmt.Errorf("pushfake: generate subscription key: %w", err)
	}
	auth := make([]byte, 16)
	_, _ = rand.Read(auth)
	idb := make([]byte, 16)
	_, _ = rand.Read(idb)
	id := hex.EncodeToString(idb)
	s.mu.Lock()
	s.subs[id] = &subscription{ua: ua, auth: auth, appKey: appKey}
	s.mu.Unlock()
	return webpush.Subscription{
		Endpoint: s.URL + "/push/" + id,
		P256dh:   base64.RawURLEncoding.EncodeToString(ua.PublicKey().Bytes()),
		Auth:     base64.RawURLEncoding.EncodeToString(auth),
	}, nil
}

func (s *Server) lookup(endpoint string) *subscription {
	id, ok := strings.CutPrefix(endpoint, s.URL+"/push/")
	if !ok {
		return nil
	}
	return s.subs[id]
}

// Unsubscribe ends a subscription, as a browser whose user revoked the
// permission: pushes to it get 410 Gone.
func (s *Server) Unsubscribe(endpoint string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sub := s.lookup(endpoint); sub != nil {
		sub.gone = true
	}
}

// FailWith makes every push to endpoint get status (e.g. 404, 410, 429,
// 500), with Retry-After when retryAfter is set; status 0 restores normal
// service.
func (s *Server) FailWith(endpoint string, status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sub := s.lookup(endpoint); sub != nil {
		sub.status, sub.retryWait = status, retryAfter
	}
}

// Messages returns the pushes accepted for endpoint ("" for all), oldest
// first.
func (s *Server) Messages(endpoint string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.messages {
		if endpoint == "" || m.Endpoint == endpoint {
			out = append(out, m)
		}
	}
	return out
}

// Rejections returns the pushes refused, oldest first.
func (s *Server) Rejections() []Rejection {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rejections)
}

// ServeHTTP takes pushes on POST /push/<id>.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	endpoint := s.URL + r.URL.Path
	reject := func(status int, format string, args ...any) {
		reason := fmt.Sprintf(format, args...)
		s.mu.Lock()
		s.rejections = append(s.rejections, Rejection{Endpoint: endpoint, Status: status, Reason: reason})
		s.mu.Unlock()
		http.Error(w, reason, status)
	}
	if !strings.HasPrefix(r.URL.Path, "/push/") {
		reject(http.StatusNotFound, "no such endpoint")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reject(http.StatusMethodNotAllowed, "push with POST")
		return
	}
	s.mu.Lock()
	sub := s.lookup(endpoint)
	var status int
	var wait time.Duration
	var gone bool
	if sub != nil {
		status, wait, gone = sub.status, sub.retryWait, sub.gone
	}
	s.mu.Unlock()
	switch {
	case sub == nil:
		reject(http.StatusNotFound, "no such subscription")
		return
	case gone:
		reject(http.StatusGone, "subscription has expired or was unsubscribed")
		return
	case status != 0:
		if wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)))
		}
		reject(status, "told to answer %d", status)
		return
	}

	subject, status, err := s.checkVAPID(r.Header.Get("Authorization"), sub)
	if err != nil {
		reject(status, "VAPID: %v", err)
		return
	}
	ttlHeader := r.Header.Get("TTL")
	ttl, err := strconv.Atoi(ttlHeader)
	if ttlHeader == "" || err != nil || ttl < 0 {
		reject(http.StatusBadRequest, "TTL header missing or not a non-negative integer: %q", ttlHeader)
		return
	}
	urgency := r.Header.Get("Urgency")
	switch urgency {
	case "", "very-low", "low", "normal", "high":
	default:
		reject(http.StatusBadRequest, "Urgency %q is not very-low, low, normal or high", urgency)
		return
	}
	topic := r.Header.Get("Topic")
	if !validTopic(topic) {
		reject(http.StatusBadRequest, "Topic %q: at most 32 characters of the base64url alphabet", topic)
		return
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "aes128gcm" {
		reject(http.StatusUnsupportedMediaType, "Content-Encoding %q, want aes128gcm", ce)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		reject(http.StatusBadRequest, "read body: %v", err)
		return
	}
	if len(body) > maxBody {
		reject(http.StatusRequestEntityTooLarge, "body over %d bytes", maxBody)
		return
	}
	// A real push service cannot read the body; the browser can, and would
	// drop what it cannot decrypt. The fake does the browser's part and
	// says so at once.
	plain, err := decrypt(body, sub.ua, sub.auth)
	if err != nil {
		reject(http.StatusBadRequest, "the browser could not decrypt the message: %v", err)
		return
	}
	s.mu.Lock()
	s.messages = append(s.messages, Message{
		Endpoint: endpoint, Payload: plain, TTL: ttl, Urgency: urgency, Topic: topic,
		Subject: subject, ReceivedAt: s.cfg.Now(),
	})
	n := len(s.messages)
	s.mu.Unlock()
	w.Header().Set("Location", s.URL+"/message/"+strconv.Itoa(n))
	w.Header().Set("TTL", strconv.Itoa(ttl))
	w.WriteHeader(http.StatusCreated)
}

// checkVAPID checks "vapid t=<JWT>, k=<public key>" (RFC 8292 §3) and returns
// the JWT's subject, or the status to answer and why.
func (s *Server) checkVAPID(header string, sub *subscription) (string, int, error) {
	scheme, rest, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "vapid") {
		return "", http.StatusUnauthorized, fmt.Errorf("Authorization scheme %q, want vapid", scheme)
	}
	params := map[string]string{}
	for _, p := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok {
			return "", http.StatusUnauthorized, fmt.Errorf("malformed parameter %q", p)
		}
		params[strings.ToLower(k)] = v
	}
	t, k := params["t"], params["k"]
	if t == "" || k == "" {
		return "", http.StatusUnauthorized, errors.New("t and k are required")
	}
	kRaw, err := base64.RawURLEncoding.DecodeString(k)
	if err != nil {
		return "", http.StatusUnauthorized, errors.New("k is not base64url without padding")
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), kRaw)
	if err != nil {
		return "", http.StatusUnauthorized, fmt.Errorf("k is not a P-256 public key: %v", err)
	}
	now := s.cfg.Now()
	// The audience is the push resource's origin (RFC 8292 §2).
	aud := s.URL
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(t, claims, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{"ES256"}),
		jwt.WithAudience(aud),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	if err != nil {
		return "", http.StatusUnauthorized, fmt.Errorf("JWT: %v", err)
	}
	exp, _ := claims.GetExpirationTime()
	if exp.After(now.Add(24 * time.Hour)) {
		return "", http.StatusUnauthorized, fmt.Errorf("JWT exp %v is more than 24 hours ahead", exp.Time)
	}
	subject, _ := claims["sub"].(string)
	if !strings.HasPrefix(subject, "mailto:") && !strings.HasPrefix(subject, "https:") {
		return "", http.StatusUnauthorized, fmt.Errorf("JWT sub %q is not a mailto: or https: contact", subject)
	}
	if sub.appKey != nil && string(sub.appKey) != string(kRaw) {
		// RFC 8292 §4.2: a key that is not the subscription's is 403.
		return "", http.StatusForbidden, errors.New("k is not the applicationServerKey of the subscription")
	}
	return subject, 0, nil
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
