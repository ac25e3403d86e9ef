package client

import (
	"context"
	"net/http"
	"time"
)

// InboxLink is an inbox link (docs/inbox.md): a credential a person's
// browser holds to open their inbox, where they see and answer every
// question of the principal that made it.
type InboxLink struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// URL opens the inbox; its fragment (#t=…) holds the link's token. It
	// is given once, by CreateInboxLink, and never again.
	URL        string    `json:"url,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
	ExpiresAt  time.Time `json:"expiresAt"`
	LastUsedAt time.Time `json:"lastUsedAt,omitzero"`
}

// inboxLinkRequest is the body of POST /api/inbox/links.
type inboxLinkRequest struct {
	Name string `json:"name,omitempty"`
	TTL  int64  `json:"ttl,omitempty"`
}

// CreateInboxLink mints an inbox link for the caller: POST
// /api/inbox/links. name helps tell links apart; ttl is its life, rounded
// down to whole seconds (zero: the server's default, 30 days unless
// configured). Like Create, it is never retried: a second attempt would mint
// a second link.
func (c *Client) CreateInboxLink(ctx context.Context, name string, ttl time.Duration) (*InboxLink, error) {
	var out InboxLink
	body := inboxLinkRequest{Name: name, TTL: int64(ttl / time.Second)}
	if err := c.do(ctx, call{method: http.MethodPost, path: "/api/inbox/links", body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// InboxLinks lists the caller's live inbox links, newest first: GET
// /api/inbox/links. URL is never set.
func (c *Client) InboxLinks(ctx context.Context) ([]InboxLink, error) {
	var out struct {
		Items []InboxLink `json:"items"`
	}
	if err := c.do(ctx, call{method: http.MethodGet, path: "/api/inbox/links", safe: true}, &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}

// RevokeInboxLink revokes one of the caller's inbox links: DELETE
// /api/inbox/links/{id}. The link, and every browser it signed in, stop
// working at once. An unknown, expired or already revoked link is
// ErrNotFound (LINK_NOT_FOUND).
func (c *Client) RevokeInboxLink(ctx context.Context, id string) error {
	if err := checkSegment("link id", id); err != nil {
		return err
	}
	return c.do(ctx, call{method: http.MethodDelete, path: "/api/inbox/links/" + id, safe: true}, nil)
}
