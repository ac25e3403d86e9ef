package edge

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/feedbackd/feedbackd/pkg/auth"
	"github.com/feedbackd/feedbackd/pkg/envelope"
	"github.com/feedbackd/feedbackd/pkg/redact"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/sessions/inbox"
	"github.com/feedbackd/feedbackd/web"
)

// The inbox (docs/inbox.md): inbox links minted by an owner on the API, the
// page at /inbox with its manifest and service worker, the exchange of a
// link's token for a session cookie, and the inbox's own routes under
// /inbox/api, which take that cookie and nothing else. The cookie is never
// accepted under /api, on MCP or on the WebSocket (the inbox opens the
// socket with a short-lived token it mints here), so an inbox can read and
// answer its owner's questions and manage their notifications, never act as
// an agent. Every request the cookie authorises that changes something must
// come from the inbox's own origin (Origin, else Sec-Fetch-Site); the cookie
// is SameSite=Strict besides.

// InboxAPI is what the edge needs to serve inbox links and the inbox.
type InboxAPI struct {
	// Links mints, lists and revokes links and checks the credentials
	// they grant.
	Links *inbox.Service
}

// Names of the inbox's session cookie: with the __Host- prefix (Secure,
// Path=/, no Domain, enforced by browsers) wherever the cookie is Secure;
// plain on loopback http, where a browser would refuse a __Host- cookie.
const (
	inboxCookieSecure = "__Host-feedbackd_inbox"
	inboxCookiePlain  = "feedbackd_inbox"
)

// inboxAPIPrefix is where the inbox's own routes live.
const inboxAPIPrefix = web.InboxPath + "/api"

// inboxSessionPath takes a link's token (POST) and signs out (DELETE).
const inboxSessionPath = web.InboxPath + "/session"

const linkKey = "feedbackd.inbox.link"

// inboxLink is the link a request's cookie belongs to (requireInbox).
func inboxLink(c *fiber.Ctx) *inbox.Link {
	l, _ := c.Locals(linkKey).(*inbox.Link)
	return l
}

// inboxLinkRoutes mounts the owner's API for links under /api.
func (s *Server) inboxLinkRoutes(api fiber.Router) {
	if s.cfg.Inbox == nil {
		return
	}
	api.Post("/inbox/links", s.requireAuth, s.handleMintLink)
	api.Get("/inbox/links", s.requireAuth, s.handleListLinks)
	api.All("/inbox/links", methodNotAllowed("GET, HEAD, POST"))
	api.Delete("/inbox/links/:id", s.requireAuth, s.handleRevokeLink)
	api.All("/inbox/links/:id", methodNotAllowed("DELETE"))
}

// inboxRoutes mounts the inbox page and its own routes.
func (s *Server) inboxRoutes() {
	if s.cfg.Inbox == nil {
		return
	}
	s.app.Get(web.InboxPath, s.handleInboxPage)
	s.app.All(web.InboxPath, methodNotAllowed("GET, HEAD"))
	s.app.Get(web.InboxManifestPath, s.handleInboxManifest)
	s.app.All(web.InboxManifestPath, methodNotAllowed("GET, HEAD"))
	s.app.Get(web.InboxServiceWorkerPath, s.handleInboxWorker)
	s.app.All(web.InboxServiceWorkerPath, methodNotAllowed("GET, HEAD"))
	s.app.Post(inboxSessionPath, s.sameOrigin, s.limitSignIn, s.handleInboxSignIn)
	s.app.Delete(inboxSessionPath, s.sameOrigin, s.handleInboxSignOut)
	s.app.All(inboxSessionPath, methodNotAllowed("DELETE, POST"))

	ib := s.app.Group(inboxAPIPrefix)
	ib.Get("/me", s.requireInbox, s.handleInboxMe)
	ib.All("/me", methodNotAllowed("GET, HEAD"))
	ib.Get("/sessions", s.requireInbox, s.handleInboxSessions)
	ib.All("/sessions", methodNotAllowed("GET, HEAD"))
	ib.Get("/sessions/:id", s.requireInbox, s.handleInboxSession)
	ib.All("/sessions/:id", methodNotAllowed("GET, HEAD"))
	ib.Post("/sessions/:id/submit", s.requireInbox, s.limitSubmit, s.handleInboxSubmit)
	ib.All("/sessions/:id/submit", methodNotAllowed("POST"))
	ib.Get("/sessions/:id/images/:imageId", s.requireInbox, s.handleOwnerImage)
	ib.All("/sessions/:id/images/:imageId", methodNotAllowed("GET, HEAD"))
	ib.Post("/socket", s.requireInbox, s.handleInboxSocket)
	ib.All("/socket", methodNotAllowed("POST"))
	ib.Get("/links", s.requireInbox, s.handleListLinks)
	ib.All("/links", methodNotAllowed("GET, HEAD"))
	ib.Delete("/links/:id", s.requireInbox, s.handleRevokeLink)
	ib.All("/links/:id", methodNotAllowed("DELETE"))
	// The settings API itself, with the cookie's principal.
	s.channelRoutes(ib, s.requireInbox)
	ib.Use(func(c *fiber.Ctx) error { return fiber.NewError(fiber.StatusNotFound) })
}

// ---- Links, for owners --------------------------------------------------

// mintLinkRequest is the body of POST /api/inbox/links.
type mintLinkRequest struct {
	Name string `json:"name"`
	// TTL is the link's life in seconds; zero or absent takes the default.
	TTL *int64 `json:"ttl"`
}

// linkData is a link as the API shows it: never its token.
type linkData struct {
	ID         string `json:"id"`
	Name       string `json:"name,omitempty"`
	CreatedAt  string `json:"createdAt"`
	ExpiresAt  string `json:"expiresAt"`
	LastUsedAt string `json:"lastUsedAt,omitempty"`
	// Current marks, in the inbox's own list, the link its cookie came
	// from.
	Current bool `json:"current,omitempty"`
}

func linkDataOf(l *inbox.Link) linkData {
	d := linkData{ID: l.ID, Name: l.Name, CreatedAt: formatTime(l.CreatedAt), ExpiresAt: formatTime(l.ExpiresAt)}
	if !l.LastUsedAt.IsZero() {
		d.LastUsedAt = formatTime(l.LastUsedAt)
	}
	return d
}

// mintedLinkData is the answer to minting: the link and its URL, which
// holds the token in its fragment. It is shown this once.
type mintedLinkData struct {
	linkData
	URL string `json:"url"`
}

type linksData struct {
	Items []linkData `json:"items"`
}

type revokedData struct {
	ID      string `json:"id"`
	Revoked bool   `json:"revoked"`
}

func (s *Server) handleMintLink(c *fiber.Ctx) error {
	var req mintLinkRequest
	if len(c.Body()) > 0 || c.Get(fiber.HeaderContentType) != "" {
		if err := decodeStrictJSON(c, &req); err != nil {
			return s.fail(c, err)
		}
	}
	var ttl time.Duration
	if req.TTL != nil {
		max := int64(s.cfg.Inbox.Links.Config().MaxTTL / time.Second)
		if *req.TTL < int64(inbox.MinTTL/time.Second) || *req.TTL > max {
			return s.fail(c, sessions.Invalid("ttl", fmt.Sprintf("must be from %d to %d seconds", int64(inbox.MinTTL/time.Second), max)))
		}
		ttl = time.Duration(*req.TTL) * time.Second
	}
	l, token, err := s.cfg.Inbox.Links.Mint(c.UserContext(), principal(c).ID, inbox.MintRequest{Name: req.Name, TTL: ttl})
	if err != nil {
		return s.fail(c, err)
	}
	return ok(c, fiber.StatusCreated, mintedLinkData{linkData: linkDataOf(l), URL: s.publicURL(c) + web.InboxPath + "#t=" + token})
}

func (s *Server) handleListLinks(c *fiber.Ctx) error {
	links, err := s.cfg.Inbox.Links.List(c.UserContext(), principal(c).ID)
	if err != nil {
		return s.fail(c, err)
	}
	current := inboxLink(c)
	data := linksData{Items: make([]linkData, 0, len(links))}
	for _, l := range links {
		d := linkDataOf(l)
		d.Current = current != nil && current.ID == l.ID
		data.Items = append(data.Items, d)
	}
	return ok(c, fiber.StatusOK, data)
}

func (s *Server) handleRevokeLink(c *fiber.Ctx) error {
	id := c.Params("id")
	if err := s.cfg.Inbox.Links.Revoke(c.UserContext(), principal(c).ID, id); err != nil {
		return s.fail(c, err)
	}
	if current := inboxLink(c); current != nil && current.ID == id {
		// The inbox revoked its own link: its cookie is worthless now.
		s.clearInboxCookie(c)
	}
	return ok(c, fiber.StatusOK, revokedData{ID: id, Revoked: true})
}

// decodeStrictJSON reads a JSON body as decodeJSON does, and refuses a
// field the request does not have: a misspelt "tll" must not silently mint
// a link with the default life.
func decodeStrictJSON(c *fiber.Ctx, v any) error {
	if err := decodeJSON(c, v); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(c.Body()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return sessions.Invalid(strings.Trim(name, `"`), "is not a field of this request")
		}
		return sessions.Invalid("body", "malformed JSON")
	}
	return nil
}

// ---- The page -----------------------------------------------------------

func (s *Server) handleInboxPage(c *fiber.Ctx) error {
	pr := pagePrefs(c)
	v := web.InboxView{Lang: pr.lang, Theme: pr.theme, SessionURL: inboxSessionPath, APIURL: inboxAPIPrefix}
	err := s.pages.html(c, http.StatusOK, pr, func(w io.Writer) error { return s.pages.render.Inbox(w, v) })
	// The shell is the same for everyone and holds nothing of theirs; the
	// service worker keeps a copy for offline use.
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return err
}

func (s *Server) handleInboxManifest(c *fiber.Ctx) error {
	if s.pages.render == nil {
		return s.fail(c, errors.New("the inbox's templates do not load"))
	}
	body, err := s.pages.render.InboxManifest(pagePrefs(c).lang)
	if err != nil {
		return s.fail(c, err)
	}
	c.Set(fiber.HeaderContentType, "application/manifest+json")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Vary(fiber.HeaderAcceptLanguage)
	return c.Send(body)
}

func (s *Server) handleInboxWorker(c *fiber.Ctx) error {
	if s.pages.render == nil {
		return s.fail(c, errors.New("the inbox's templates do not load"))
	}
	body, err := s.pages.render.InboxServiceWorker()
	if err != nil {
		return s.fail(c, err)
	}
	c.Set(fiber.HeaderContentType, "text/javascript; charset=utf-8")
	// Its scope is the page itself (/inbox), which lies outside /inbox/,
	// the script's own directory.
	c.Set("Service-Worker-Allowed", web.InboxPath)
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.Send(body)
}

// ---- Signing in ---------------------------------------------------------

type signInRequest struct {
	Token string `json:"token"`
}

type signInData struct {
	Link linkData `json:"link"`
}

type signedOutData struct {
	SignedOut bool `json:"signedOut"`
}

// limitSignIn counts sign-ins per client address, with the answers' limit:
// both are what anyone may try without a credential.
func (s *Server) limitSignIn(c *fiber.Ctx) error {
	return s.limitBy(c, s.limits.submit, "sign-ins")
}

// handleInboxSignIn trades a link's token, read by the page from the URL
// fragment, for the session cookie.
func (s *Server) handleInboxSignIn(c *fiber.Ctx) error {
	var req signInRequest
	if err := decodeStrictJSON(c, &req); err != nil {
		return s.fail(c, err)
	}
	if req.Token == "" {
		return s.fail(c, sessions.Invalid("token", "is required: the t= part of the inbox link"))
	}
	l, value, err := s.cfg.Inbox.Links.Exchange(c.UserContext(), req.Token)
	if errors.Is(err, auth.ErrUnauthorized) {
		return s.inboxUnauthorized(c, err)
	}
	if err != nil {
		return s.fail(c, err)
	}
	s.setInboxCookie(c, value, l.ExpiresAt)
	return ok(c, fiber.StatusOK, signInData{Link: linkDataOf(l)})
}

// handleInboxSignOut forgets this browser's cookie; the link stays valid
// (revoking it is a separate act).
func (s *Server) handleInboxSignOut(c *fiber.Ctx) error {
	s.clearInboxCookie(c)
	return ok(c, fiber.StatusOK, signedOutData{SignedOut: true})
}

// secureRequest reports whether the inbox cookie must be Secure: always,
// but on plain http to a loopback address, where browsers would not keep a
// Secure cookie (and treat the origin as secure anyway).
func (s *Server) secureRequest(c *fiber.Ctx) bool {
	if c.Protocol() == "https" {
		return true
	}
	host := c.Hostname()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

func (s *Server) inboxCookieName(c *fiber.Ctx) string {
	if s.secureRequest(c) {
		return inboxCookieSecure
	}
	return inboxCookiePlain
}

func (s *Server) setInboxCookie(c *fiber.Ctx, value string, expires time.Time) {
	s.writeInboxCookie(c, value, expires, int(time.Until(expires)/time.Second))
}

func (s *Server) clearInboxCookie(c *fiber.Ctx) {
	s.writeInboxCookie(c, "", time.Unix(0, 0), -1)
}

// writeInboxCookie sets the inbox's cookie with the attributes that must
// be the same whether it is set or cleared, or the browser keeps the old
// one.
func (s *Server) writeInboxCookie(c *fiber.Ctx, value string, expires time.Time, maxAge int) {
	secure := s.secureRequest(c)
	name := inboxCookiePlain
	if secure {
		name = inboxCookieSecure
	}
	c.Cookie(&fiber.Cookie{
		Name: name, Value: value, Path: "/", Expires: expires, MaxAge: maxAge,
		Secure: secure, HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode,
	})
}

// sameOrigin refuses a request that changes something unless the browser
// says it comes from the inbox's own origin: Origin (the request's own
// scheme and host, or PUBLIC_URL's), else Sec-Fetch-Site: same-origin. A
// request with neither is refused too: every browser that can run the
// inbox sends one of them, and a request that did not come from a browser
// has no business holding the cookie. With SameSite=Strict this is the
// inbox's defence against cross-site request forgery. ALLOWED_ORIGINS does
// not count here: other sites may call the API, never the inbox.
func (s *Server) sameOrigin(c *fiber.Ctx) error {
	if err := s.checkInboxOrigin(c); err != nil {
		return s.fail(c, err)
	}
	return c.Next()
}

func (s *Server) checkInboxOrigin(c *fiber.Ctx) error {
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead:
		return nil
	}
	if origin := c.Get(fiber.HeaderOrigin); origin != "" {
		o := normalizeOrigin(origin)
		if o != "" && (o == normalizeOrigin(c.Protocol()+"://"+string(c.Request().Host())) ||
			o == normalizeOrigin(c.Protocol()+"://"+c.Hostname()) || o == originOf(s.cfg.PublicURL)) {
			return nil
		}
	} else if c.Get("Sec-Fetch-Site") == "same-origin" {
		return nil
	}
	s.log.Debug("inbox request from another origin refused", "method", c.Method(), "path", redact.IDs(c.Path()),
		"origin", c.Get(fiber.HeaderOrigin), "fetchSite", c.Get("Sec-Fetch-Site"))
	return sessions.Errorf(envelope.CodeForbiddenOrigin, "this request must come from the inbox itself")
}

// requireInbox lets a request to the inbox's own routes through with a
// valid session cookie whose link still stands (read on every request, so a
// revoked link stops working at once on every replica), and puts the link's
// owner where handlers find the principal. A request that changes something
// must come from the inbox's origin. Nothing else is accepted here: no API
// key, no JWT.
func (s *Server) requireInbox(c *fiber.Ctx) error {
	if err := s.checkInboxOrigin(c); err != nil {
		return s.fail(c, err)
	}
	l, err := s.cookieLink(c)
	if errors.Is(err, auth.ErrUnauthorized) {
		return s.inboxUnauthorized(c, err)
	}
	if err != nil {
		return s.fail(c, err)
	}
	c.Locals(principalKey, l.Principal())
	c.Locals(linkKey, l)
	return c.Next()
}

// inboxUnauthorized answers 401 and drops the cookie that failed.
func (s *Server) inboxUnauthorized(c *fiber.Ctx, err error) error {
	s.log.Debug("inbox authentication failed", "method", c.Method(), "path", redact.IDs(c.Path()), "reason", err)
	if c.Cookies(s.inboxCookieName(c)) != "" {
		s.clearInboxCookie(c)
	}
	return s.fail(c, sessions.Errorf(envelope.CodeUnauthorized, "not signed in to the inbox: open your inbox link again"))
}

// ---- The inbox's own routes ---------------------------------------------

type meData struct {
	Principal  string   `json:"principal"`
	Link       linkData `json:"link"`
	ServerTime string   `json:"serverTime"`
}

func (s *Server) handleInboxMe(c *fiber.Ctx) error {
	return ok(c, fiber.StatusOK, meData{Principal: principal(c).ID, Link: linkDataOf(inboxLink(c)), ServerTime: formatTime(s.svc.Now())})
}

// inboxOrder is the order of the inbox's list: what awaits the person
// first.
var inboxOrder = []sessions.Status{sessions.StatusPending, sessions.StatusCompleted, sessions.StatusExpired, sessions.StatusCancelled}

// inboxCursor continues the inbox's list: the status group it stopped in
// and the list's own cursor within it.
type inboxCursor struct {
	Group  int    `json:"g"`
	Cursor string `json:"c,omitempty"`
}

func decodeInboxCursor(v string) (inboxCursor, error) {
	var cur inboxCursor
	if v == "" {
		return cur, nil
	}
	bad := sessions.Invalid("cursor", "is not a cursor from a previous page")
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(raw) > 1024 {
		return cur, bad
	}
	if err := envelope.Decode(raw, &cur); err != nil || cur.Group < 0 || cur.Group >= len(inboxOrder) {
		return cur, bad
	}
	return cur, nil
}

func (cur inboxCursor) String() string {
	b, _ := json.Marshal(cur)
	return base64.RawURLEncoding.EncodeToString(b)
}

// inboxItem is one of the person's sessions in the inbox's list.
type inboxItem struct {
	SessionID   string          `json:"sessionId"`
	Status      sessions.Status `json:"status"`
	Kind        sessions.Kind   `json:"kind"`
	Title       string          `json:"title,omitempty"`
	Message     string          `json:"message"`
	Action      string          `json:"action,omitempty"`
	CreatedAt   string          `json:"createdAt"`
	ExpiresAt   string          `json:"expiresAt"`
	SubmittedAt string          `json:"submittedAt,omitempty"`
}

func inboxItemOf(sess *sessions.Session) inboxItem {
	it := inboxItem{
		SessionID: sess.ID, Status: sess.Status, Kind: sess.Kind(), Title: sess.Title, Message: sess.Message,
		CreatedAt: formatTime(sess.CreatedAt), ExpiresAt: formatTime(sess.ExpiresAt), SubmittedAt: formatOptTime(sess.SubmittedAt),
	}
	if sess.Approval != nil {
		it.Action = sess.Approval.Action
	}
	return it
}

type inboxListData struct {
	Items      []inboxItem `json:"items"`
	NextCursor string      `json:"nextCursor,omitempty"`
}

// handleInboxSessions lists the owner's sessions, pending first, then
// answered, expired and cancelled, newest first within each.
func (s *Server) handleInboxSessions(c *fiber.Ctx) error {
	limit, err := listLimit(c)
	if err != nil {
		return s.fail(c, err)
	}
	if limit == 0 {
		// The list is filled from several of the service's pages: it needs
		// the number itself.
		limit = sessions.DefaultListLimit
	}
	cur, err := decodeInboxCursor(c.Query("cursor"))
	if err != nil {
		return s.fail(c, err)
	}
	owner := principal(c).ID
	data := inboxListData{Items: make([]inboxItem, 0, limit)}
	for g := cur.Group; g < len(inboxOrder); g++ {
		room := limit - len(data.Items)
		if room == 0 {
			data.NextCursor = inboxCursor{Group: g}.String()
			break
		}
		q := sessions.ListQuery{Status: inboxOrder[g], Limit: room}
		if g == cur.Group {
			q.Cursor = cur.Cursor
		}
		page, err := s.svc.List(c.UserContext(), owner, q)
		if err != nil {
			return s.fail(c, err)
		}
		for _, sess := range page.Items {
			data.Items = append(data.Items, inboxItemOf(sess))
		}
		if page.NextCursor != "" {
			data.NextCursor = inboxCursor{Group: g, Cursor: page.NextCursor}.String()
			break
		}
	}
	return ok(c, fiber.StatusOK, data)
}

// inboxAnswer is a finished question's answer, for the inbox to show under
// it.
type inboxAnswer struct {
	CombinedFeedback string          `json:"combinedFeedback"`
	SubmittedAt      string          `json:"submittedAt,omitempty"`
	Images           []inboxImageRef `json:"images,omitempty"`
}

type inboxImageRef struct {
	URL  string `json:"url"`
	Name string `json:"name,omitempty"`
}

type inboxSessionData struct {
	Session inboxItem    `json:"session"`
	Answer  *inboxAnswer `json:"answer,omitempty"`
	// HTML is the question as the feedback page renders it, for the inbox
	// to place and run the page's script over.
	HTML string `json:"html"`
}

// handleInboxSession is one of the owner's sessions: its list item, its
// answer when it has one, and the question rendered as the page renders it.
func (s *Server) handleInboxSession(c *fiber.Ctx) error {
	sess, err := s.svc.GetOwned(c.UserContext(), principal(c).ID, c.Params("id"))
	if err != nil {
		return s.fail(c, err)
	}
	pr := pagePrefs(c)
	// The inbox's socket follows every session of the owner, and its own
	// route checks ownership before it takes an answer.
	v, err := s.pages.question(sess, pr)
	if err != nil {
		return s.fail(c, err)
	}
	v.StateURL = ""
	v.SubmitURL = inboxAPIPrefix + "/sessions/" + sess.ID + "/submit"
	var b strings.Builder
	if s.pages.render == nil {
		return s.fail(c, errors.New("the inbox's templates do not load"))
	}
	if err := s.pages.render.InboxQuestion(&b, v); err != nil {
		return s.fail(c, err)
	}
	data := inboxSessionData{Session: inboxItemOf(sess), HTML: b.String()}
	if sess.Status == sessions.StatusCompleted && sess.Feedback != nil {
		a := &inboxAnswer{CombinedFeedback: sess.Feedback.CombinedFeedback, SubmittedAt: formatOptTime(sess.SubmittedAt)}
		for _, img := range sess.Feedback.Images {
			a.Images = append(a.Images, inboxImageRef{URL: inboxAPIPrefix + "/sessions/" + sess.ID + "/images/" + img.ID, Name: img.Name})
		}
		data.Answer = a
	}
	return ok(c, fiber.StatusOK, data)
}

// handleInboxSubmit answers one of the owner's sessions, as the page's
// submit does, after checking that it is theirs.
func (s *Server) handleInboxSubmit(c *fiber.Ctx) error {
	if _, err := s.svc.GetOwned(c.UserContext(), principal(c).ID, c.Params("id")); err != nil {
		return s.fail(c, err)
	}
	return s.handleSubmit(c)
}

type socketData struct {
	Token     string `json:"token"`
	ExpiresAt string `json:"expiresAt"`
	// URL is where the notifier's WebSocket is, a path on this host or an
	// absolute URL.
	URL string `json:"url"`
}

// handleInboxSocket mints the credential the inbox opens the notifier's
// WebSocket with: the cookie cannot be read by script, and the socket may
// live on another host.
func (s *Server) handleInboxSocket(c *fiber.Ctx) error {
	token, exp := s.cfg.Inbox.Links.SocketToken(inboxLink(c))
	return ok(c, fiber.StatusOK, socketData{Token: token, ExpiresAt: formatTime(exp), URL: s.pages.wsPath})
}

var errNoInboxCookie = fmt.Errorf("%w: no inbox cookie", auth.ErrUnauthorized)

// cookieLink is the link whose cookie the request carries, read from the
// store: auth.ErrUnauthorized when there is no cookie, it is not valid or
// its link no longer stands; another error when the store cannot say.
func (s *Server) cookieLink(c *fiber.Ctx) (*inbox.Link, error) {
	value := c.Cookies(s.inboxCookieName(c))
	if value == "" {
		return nil, errNoInboxCookie
	}
	return s.cfg.Inbox.Links.Cookie(c.UserContext(), value)
}

// signedIn reports whether the request carries the cookie of an inbox link
// that still stands.
func (s *Server) signedIn(c *fiber.Ctx) bool {
	if s.cfg.Inbox == nil {
		return false
	}
	_, err := s.cookieLink(c)
	return err == nil
}
