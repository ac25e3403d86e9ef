package inbox_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/pkg/auth"
	"github.com/feedbackd/feedbackd/pkg/natsutil/natstest"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/inbox"
	"github.com/feedbackd/feedbackd/sessions/natskv"
)

// newService is a Service over a link store in a real embedded NATS, with a
// clock the test moves.
func newService(t *testing.T, cfg inbox.Config) (*inbox.Service, *atomic.Int64) {
	t.Helper()
	ns := natstest.Start(t)
	store, err := natskv.OpenLinks(context.Background(), ns.JS, natskv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.NewLinkTokens([]byte(strings.Repeat("s", 32)))
	if err != nil {
		t.Fatal(err)
	}
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	return inbox.NewService(store, tokens, cfg, inbox.WithClock(now)), &offset
}

func TestValidIDTakesOnlyTheSpellingOfMintedIDs(t *testing.T) {
	t.Parallel()
	links, _ := newService(t, inbox.Config{})
	l, _, err := links.Mint(context.Background(), "alice", inbox.MintRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !inbox.ValidID(l.ID) || len(l.ID) != len("lnk_")+26 {
		t.Fatalf("a minted id is not valid: %q", l.ID)
	}
	rest := strings.TrimPrefix(l.ID, "lnk_")
	for _, id := range []string{
		"", "lnk_", rest, "LNK_" + rest, "lnk_" + strings.ToUpper(rest), "lnk_" + rest[:25], "lnk_" + rest + "a",
		"lnk_" + rest[:25] + "0", "lnk_" + rest[:25] + "=", "lnk_" + rest[:24] + "/.", "lnk_../../" + rest[:20],
	} {
		if inbox.ValidID(id) {
			t.Errorf("ValidID(%q) = true", id)
		}
	}
}

func TestMintChecksTheNameAndTheLifeNamingTheField(t *testing.T) {
	t.Parallel()
	links, _ := newService(t, inbox.Config{DefaultTTL: 90 * 24 * time.Hour, MaxTTL: 60 * 24 * time.Hour})
	if got := links.Config(); got.DefaultTTL != got.MaxTTL {
		t.Fatalf("a default above the maximum is not capped: %+v", got)
	}
	ctx := context.Background()
	for _, c := range []struct {
		req   inbox.MintRequest
		field string
	}{
		{inbox.MintRequest{Name: strings.Repeat("é", inbox.MaxNameLen+1)}, "name"},
		{inbox.MintRequest{Name: "phone\x00"}, "name"},
		{inbox.MintRequest{Name: "line\nbreak"}, "name"},
		{inbox.MintRequest{Name: "bad \xff utf-8"}, "name"},
		{inbox.MintRequest{TTL: inbox.MinTTL - time.Second}, "ttl"},
		{inbox.MintRequest{TTL: -time.Hour}, "ttl"},
		{inbox.MintRequest{TTL: 60*24*time.Hour + time.Second}, "ttl"},
	} {
		_, token, err := links.Mint(ctx, "alice", c.req)
		var e *sessions.Error
		if !errors.As(err, &e) || e.Code != sessions.CodeInvalidRequest || e.Field != c.field || token != "" {
			t.Errorf("Mint(%+q): %v, want INVALID_REQUEST on %s", c.req, err, c.field)
		}
	}
	if all, err := links.List(ctx, "alice"); err != nil || len(all) != 0 {
		t.Fatalf("refused mints stored links: %d, %v", len(all), err)
	}
	start := time.Now()
	l, token, err := links.Mint(ctx, "alice", inbox.MintRequest{Name: "  Ana's phone \t"})
	if err != nil || token == "" {
		t.Fatal(err)
	}
	if l.Name != "Ana's phone" || l.Owner != "alice" {
		t.Errorf("stored %+v", l)
	}
	if life := l.ExpiresAt.Sub(start); life < 60*24*time.Hour-time.Minute || life > 60*24*time.Hour+time.Minute {
		t.Errorf("a link without a ttl lives %s, want the capped default", life)
	}
	if l, _, err := links.Mint(ctx, "alice", inbox.MintRequest{TTL: inbox.MinTTL, Name: strings.Repeat("名", inbox.MaxNameLen)}); err != nil || l.ExpiresAt.Sub(l.CreatedAt) != inbox.MinTTL {
		t.Errorf("the shortest life and the longest name: %+v, %v", l, err)
	}
}

// A link's token, its cookie and its socket credential each open only
// their own door, and the socket credential ends with the link.
func TestEachCredentialServesOnlyItsPurposeAndNoneOutlivesTheLink(t *testing.T) {
	t.Parallel()
	links, offset := newService(t, inbox.Config{})
	ctx := context.Background()
	l, token, err := links.Mint(ctx, "alice", inbox.MintRequest{TTL: inbox.MinTTL})
	if err != nil {
		t.Fatal(err)
	}
	got, cookie, err := links.Exchange(ctx, token)
	if err != nil || got.ID != l.ID || got.LastUsedAt.IsZero() {
		t.Fatalf("exchange: %+v, %v", got, err)
	}
	socket, until := links.SocketToken(got)
	if d := time.Until(until); d <= 0 || d > inbox.SocketTokenTTL {
		t.Errorf("a socket credential of a live link lasts %s", d)
	}
	for name, use := range map[string]func() error{
		"the link's token as a cookie":   func() error { _, err := links.Cookie(ctx, token); return err },
		"the link's token for a socket":  func() error { _, err := links.Socket(ctx, token); return err },
		"the cookie as a link":           func() error { _, _, err := links.Exchange(ctx, cookie); return err },
		"the cookie for a socket":        func() error { _, err := links.Socket(ctx, cookie); return err },
		"the socket credential a cookie": func() error { _, err := links.Cookie(ctx, socket); return err },
		"an altered cookie":              func() error { _, err := links.Cookie(ctx, cookie[:len(cookie)-2]+"AA"); return err },
	} {
		if err := use(); !errors.Is(err, auth.ErrUnauthorized) {
			t.Errorf("%s: %v, want unauthorized", name, err)
		}
	}
	if _, err := links.Cookie(ctx, cookie); err != nil {
		t.Errorf("the cookie: %v", err)
	}
	if _, err := links.Socket(ctx, socket); err != nil {
		t.Errorf("the socket credential: %v", err)
	}

	// Thirty seconds before the link ends, a socket credential ends with it.
	offset.Store(int64(time.Until(l.ExpiresAt) - 30*time.Second))
	if _, until := links.SocketToken(got); !until.Equal(l.ExpiresAt) {
		t.Errorf("a socket credential minted 30 s before its link ends lasts until %s, the link until %s", until, l.ExpiresAt)
	}
	offset.Store(int64(time.Until(l.ExpiresAt) + time.Second))
	for name, err := range map[string]error{
		"cookie": func() error { _, err := links.Cookie(ctx, cookie); return err }(),
		"socket": func() error { _, err := links.Socket(ctx, socket); return err }(),
	} {
		if !errors.Is(err, auth.ErrUnauthorized) {
			t.Errorf("the %s after the link ended: %v", name, err)
		}
	}
	if _, err := links.Get(ctx, "alice", l.ID); sessions.ErrorCode(err) != inbox.CodeLinkNotFound {
		t.Errorf("Get of an ended link: %v", err)
	}
}

// next records what SocketAuthenticator hands on.
type next struct{ got []auth.Credentials }

func (n *next) Authenticate(_ context.Context, c auth.Credentials) (auth.Principal, error) {
	n.got = append(n.got, c)
	return auth.Principal{ID: "from-next"}, nil
}

func TestSocketAuthenticatorTakesTheSocketCredentialOnlyAlone(t *testing.T) {
	t.Parallel()
	links, _ := newService(t, inbox.Config{})
	ctx := context.Background()
	l, token, err := links.Mint(ctx, "alice", inbox.MintRequest{})
	if err != nil {
		t.Fatal(err)
	}
	socket, _ := links.SocketToken(l)
	n := &next{}
	a := inbox.SocketAuthenticator{Links: links, Next: n}
	for _, c := range []auth.Credentials{{Token: socket}, {Authorization: "Bearer " + socket}, {Authorization: "bearer " + socket}} {
		p, err := a.Authenticate(ctx, c)
		if err != nil || p.ID != "alice" || p.Method != "inbox" || p.Credential != l.Credential() || !p.Expires.Equal(l.ExpiresAt) {
			t.Errorf("%+v: %+v, %v", c, p, err)
		}
	}
	if len(n.got) != 0 {
		t.Fatalf("a socket credential went on to the next authenticator: %+v", n.got)
	}
	// Anything else is not the inbox's to judge: with another credential
	// beside it, as another scheme, or another purpose's token.
	handed := []auth.Credentials{
		{Token: socket, APIKey: "k"},
		{Authorization: "ApiKey " + socket},
		{Token: token},
		{Token: "eyJhbGciOi.x.y"},
		{APIKey: "k"},
	}
	for _, c := range handed {
		if p, err := a.Authenticate(ctx, c); err != nil || p.ID != "from-next" {
			t.Errorf("%+v: %+v, %v", c, p, err)
		}
	}
	if len(n.got) != len(handed) {
		t.Errorf("handed on %d of %d", len(n.got), len(handed))
	}
	if p, err := (inbox.SocketAuthenticator{Next: n}).Authenticate(ctx, auth.Credentials{Token: socket}); err != nil || p.ID != "from-next" {
		t.Errorf("without links: %+v, %v", p, err)
	}
	if err := links.Revoke(ctx, "alice", l.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, auth.Credentials{Token: socket}); !errors.Is(err, auth.ErrUnauthorized) {
		t.Errorf("the socket credential of a revoked link: %v", err)
	}
}
