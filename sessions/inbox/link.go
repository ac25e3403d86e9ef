package inbox

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"strings"
	"time"

	"github.com/feedbackd/feedbackd/sessions"
)

// The error codes of inbox links (docs/api.md, "Errors").
const (
	// CodeLinkNotFound: no such link among the caller's (404): unknown,
	// expired, already revoked, or another principal's.
	CodeLinkNotFound sessions.Code = "LINK_NOT_FOUND"
	// CodeTooManyLinks: the owner already holds MaxLinks live links (409);
	// revoke one first.
	CodeTooManyLinks sessions.Code = "TOO_MANY_LINKS"
)

// Limits of links.
const (
	// DefaultTTL is how long a link lives when its owner does not say.
	DefaultTTL = 30 * 24 * time.Hour
	// DefaultMaxTTL is the longest life a link may be given unless the
	// operator sets another (INBOX_LINK_MAX_TTL).
	DefaultMaxTTL = 365 * 24 * time.Hour
	// MinTTL is the shortest.
	MinTTL = 5 * time.Minute
	// MaxLinks is how many live links one owner may hold.
	MaxLinks = 50
	// MaxNameLen bounds a link's name, in characters.
	MaxNameLen = 100
	// SocketTokenTTL is how long the inbox's WebSocket credential may be
	// used to open a socket; the socket itself lives as long as the link.
	SocketTokenTTL = time.Minute
)

// idPrefix begins every link id.
const idPrefix = "lnk_"

// idEncoding spells a link id's random part.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID returns a fresh link id: lnk_ and 26 characters, 128 random bits.
func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return idPrefix + idEncoding.EncodeToString(b)
}

// ValidID reports whether id is spelled as link ids are. Anything else
// names no link.
func ValidID(id string) bool {
	rest, ok := strings.CutPrefix(id, idPrefix)
	if !ok || len(rest) != 26 {
		return false
	}
	_, err := idEncoding.DecodeString(rest)
	return err == nil
}

// Link is one inbox link: who it acts for and until when. It holds no
// secret.
type Link struct {
	ID    string `json:"id"`
	Owner string `json:"owner"`
	// Name helps its owner tell links apart ("phone", "Ana's laptop").
	Name      string    `json:"name,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	// LastUsedAt is when the link, or a cookie or socket it granted, was
	// last used, to the minute; zero if never.
	LastUsedAt time.Time `json:"lastUsedAt,omitzero"`

	// Revision is the record's revision, for compare-and-swap.
	Revision uint64 `json:"-"`
}

// Credential names the link as the principal's revocable credential
// (auth.Principal.Credential): "inbox:<id>".
func (l *Link) Credential() string { return CredentialPrefix + l.ID }

// CredentialPrefix begins the Credential of every link.
const CredentialPrefix = "inbox:"

// Store keeps links. Every write is a compare-and-swap or a create, so two
// replicas never lose each other's writes silently. A store reports a
// missing record with sessions.ErrNotFound and a lost swap with
// sessions.ErrConflict. Records are removed by the store ttl after they
// were last written.
type Store interface {
	// Create stores a new link and returns its revision.
	Create(ctx context.Context, l *Link, ttl time.Duration) (uint64, error)
	// Get returns the link with Revision set, or sessions.ErrNotFound.
	Get(ctx context.Context, id string) (*Link, error)
	// Update replaces the link if it is still at l.Revision.
	Update(ctx context.Context, l *Link, ttl time.Duration) (uint64, error)
	// List returns the owner's links, in no particular order.
	List(ctx context.Context, owner string) ([]*Link, error)
	// Delete removes the link: from then on Get reports it missing.
	Delete(ctx context.Context, l *Link) error
}
