package inbox

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/feedbackd/feedbackd/pkg/auth"
	"github.com/feedbackd/feedbackd/sessions"
)

// touchEvery is how stale LastUsedAt may get before a use writes it again:
// a busy inbox writes its link at most once a minute.
const touchEvery = time.Minute

// Config bounds the links a Service mints.
type Config struct {
	// DefaultTTL is a link's life when its owner does not say
	// [DefaultTTL].
	DefaultTTL time.Duration
	// MaxTTL is the longest life a link may be given [DefaultMaxTTL].
	MaxTTL time.Duration
}

// Service mints, lists and revokes links and checks the credentials they
// grant. It is safe for concurrent use and holds nothing another replica
// needs.
type Service struct {
	store  Store
	tokens *auth.LinkTokens
	cfg    Config
	now    func() time.Time
}

// Option configures a Service.
type Option func(*Service)

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// NewService returns a Service over store, signing with tokens (whose secret
// every replica shares).
func NewService(store Store, tokens *auth.LinkTokens, cfg Config, opts ...Option) *Service {
	if cfg.DefaultTTL <= 0 {
		cfg.DefaultTTL = DefaultTTL
	}
	if cfg.MaxTTL <= 0 {
		cfg.MaxTTL = DefaultMaxTTL
	}
	cfg.DefaultTTL = min(cfg.DefaultTTL, cfg.MaxTTL)
	s := &Service{store: store, tokens: tokens, cfg: cfg, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	s.tokens = s.tokens.WithClock(s.now)
	return s
}

// Config returns the bounds the service applies, defaults filled in.
func (s *Service) Config() Config { return s.cfg }

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// MintRequest is what an owner asks for: a name, and a life (zero: the
// default).
type MintRequest struct {
	Name string
	TTL  time.Duration
}

// Mint makes a new link for owner and returns it with its token, the only
// time the token is handed out. Invalid input is INVALID_REQUEST naming the
// field; an owner with MaxLinks live links gets TOO_MANY_LINKS.
func (s *Service) Mint(ctx context.Context, owner string, req MintRequest) (*Link, string, error) {
	name, err := checkName(req.Name)
	if err != nil {
		return nil, "", err
	}
	ttl := req.TTL
	if ttl == 0 {
		ttl = s.cfg.DefaultTTL
	}
	if ttl < MinTTL || ttl > s.cfg.MaxTTL {
		return nil, "", sessions.Invalid("ttl", fmt.Sprintf("must be from %d to %d seconds", int64(MinTTL/time.Second), int64(s.cfg.MaxTTL/time.Second)))
	}
	links, err := s.List(ctx, owner)
	if err != nil {
		return nil, "", err
	}
	if len(links) >= MaxLinks {
		return nil, "", sessions.Errorf(CodeTooManyLinks, "you already have %d inbox links: revoke one first", len(links))
	}
	now := s.clock()
	l := &Link{ID: newID(), Owner: owner, Name: name, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if l.Revision, err = s.store.Create(ctx, l, ttl); err != nil {
		return nil, "", sessions.Unavailable("create inbox link", err)
	}
	return l, s.tokens.Mint(auth.PurposeInboxLink, l.ID, l.ExpiresAt), nil
}

// checkName trims a link's name and refuses one that is too long or holds
// control characters.
func checkName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if !utf8.ValidString(name) {
		return "", sessions.Invalid("name", "must be valid UTF-8")
	}
	if utf8.RuneCountInString(name) > MaxNameLen {
		return "", sessions.Invalid("name", fmt.Sprintf("must be at most %d characters", MaxNameLen))
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return "", sessions.Invalid("name", "must not contain control characters")
	}
	return name, nil
}

// List returns the owner's live links, newest first.
func (s *Service) List(ctx context.Context, owner string) ([]*Link, error) {
	all, err := s.store.List(ctx, owner)
	if err != nil {
		return nil, sessions.Unavailable("list inbox links", err)
	}
	now := s.now()
	live := all[:0]
	for _, l := range all {
		if l.Owner == owner && now.Before(l.ExpiresAt) {
			live = append(live, l)
		}
	}
	slices.SortFunc(live, func(a, b *Link) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return live, nil
}

// Revoke removes the owner's link id: the link, and every cookie and socket
// it granted, stop working at once. Another principal's link, an unknown
// one and one already revoked or expired are LINK_NOT_FOUND.
func (s *Service) Revoke(ctx context.Context, owner, id string) error {
	l, err := s.Get(ctx, owner, id)
	if err != nil {
		return err
	}
	if err := s.store.Delete(ctx, l); err != nil {
		return sessions.Unavailable("revoke inbox link", err)
	}
	return nil
}

// Get returns the owner's live link id, or LINK_NOT_FOUND.
func (s *Service) Get(ctx context.Context, owner, id string) (*Link, error) {
	notFound := sessions.Errorf(CodeLinkNotFound, "no such inbox link")
	if !ValidID(id) {
		return nil, notFound
	}
	l, err := s.store.Get(ctx, id)
	switch {
	case errors.Is(err, sessions.ErrNotFound):
		return nil, notFound
	case err != nil:
		return nil, sessions.Unavailable("read inbox link", err)
	case l.Owner != owner || !s.now().Before(l.ExpiresAt):
		return nil, notFound
	}
	return l, nil
}

// Exchange checks a link's token (from its URL fragment) and returns the
// link with the value of the session cookie it grants, which expires with
// the link. A token that is forged, expired or whose link was revoked is an
// error wrapping auth.ErrUnauthorized.
func (s *Service) Exchange(ctx context.Context, token string) (*Link, string, error) {
	l, err := s.resolve(ctx, auth.PurposeInboxLink, token, true)
	if err != nil {
		return nil, "", err
	}
	return l, s.tokens.Mint(auth.PurposeInboxCookie, l.ID, l.ExpiresAt), nil
}

// Cookie checks the value of an inbox session cookie and returns its link,
// as Exchange checks a link's token.
func (s *Service) Cookie(ctx context.Context, value string) (*Link, error) {
	return s.resolve(ctx, auth.PurposeInboxCookie, value, false)
}

// SocketToken mints the credential the inbox of l opens the notifier's
// WebSocket with, and when it stops opening one (SocketTokenTTL, or the
// link's end if sooner).
func (s *Service) SocketToken(l *Link) (string, time.Time) {
	exp := s.clock().Add(SocketTokenTTL)
	if l.ExpiresAt.Before(exp) {
		exp = l.ExpiresAt
	}
	return s.tokens.Mint(auth.PurposeInboxSocket, l.ID, exp), exp
}

// Socket checks a socket credential and returns its link, as Exchange
// checks a link's token.
func (s *Service) Socket(ctx context.Context, token string) (*Link, error) {
	return s.resolve(ctx, auth.PurposeInboxSocket, token, false)
}

// resolve verifies a token of purpose, then reads its link: the link must
// still exist and be live. It notes the use (always when touch is set, else
// when the last one is over a minute old); failing to note it fails nothing.
func (s *Service) resolve(ctx context.Context, purpose, token string, touch bool) (*Link, error) {
	id, _, err := s.tokens.Verify(purpose, token)
	if err != nil {
		return nil, err
	}
	l, err := s.store.Get(ctx, id)
	switch {
	case errors.Is(err, sessions.ErrNotFound):
		return nil, fmt.Errorf("%w: the inbox link was revoked", auth.ErrUnauthorized)
	case err != nil:
		return nil, sessions.Unavailable("read inbox link", err)
	}
	now := s.clock()
	if !now.Before(l.ExpiresAt) {
		return nil, fmt.Errorf("%w: the inbox link expired", auth.ErrUnauthorized)
	}
	if touch || now.Sub(l.LastUsedAt) >= touchEvery {
		next := *l
		next.LastUsedAt = now.Truncate(time.Second)
		if rev, err := s.store.Update(ctx, &next, l.ExpiresAt.Sub(now)); err == nil {
			next.Revision = rev
			l = &next
		}
		// A lost swap means another request noted a use just now; a
		// storage failure here is not worth refusing the person for.
	}
	return l, nil
}

// Principal is the principal a link acts for: its owner, until it expires,
// revocable by the link's Credential.
func (l *Link) Principal() auth.Principal {
	return auth.Principal{ID: l.Owner, Method: "inbox", Expires: l.ExpiresAt, Credential: l.Credential()}
}
