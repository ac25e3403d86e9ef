package edge

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/feedbackd/feedbackd/pkg/envelope"
	"github.com/feedbackd/feedbackd/pkg/redact"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/web"
)

// The feedback page (docs/api.md, "Feedback page"), served as
// docs/feedback-page.md describes:
// the HTML a person answers in, its plain form post for browsers without
// JavaScript, the state the page polls, and its static files. None of these
// routes needs credentials: the session id in the link is the capability.

// DefaultWSPath is where the notifier's WebSocket is mounted when
// Config.WSPath is empty.
const DefaultWSPath = "/ws"

// maxPageTokenTTL caps the life of the credential a page gets for its
// socket, whatever the session's timeout: a leaked link then grants a live
// view of one session's status for at most this long.
const maxPageTokenTTL = 2 * time.Hour

// pageTokenGrace keeps the page's socket credential valid a little past the
// session's deadline, so the page can still hear that it expired.
const pageTokenGrace = time.Minute

// pages serves the feedback page's routes.
type pages struct {
	s      *Server
	render *web.Renderer // nil when the embedded templates failed to load
	wsPath string
}

// pageRoutes mounts the feedback page, its form post, its state and its
// static files.
func (s *Server) pageRoutes() {
	p := &pages{s: s, wsPath: strings.TrimRight(s.cfg.WSPath, "/")}
	s.pages = p
	if s.cfg.WSPath == "" {
		p.wsPath = DefaultWSPath
	}
	var err error
	if p.render, err = web.New(); err != nil {
		// The templates are compiled in, so this is a defect of the build
		// (the web package's tests catch it). The API still works; the page
		// says it is broken.
		s.log.Error("feedback page templates do not load", "err", err)
	}
	s.app.All(web.StaticPrefix+"*", s.bridge.Handler(web.Static(), nil))
	s.app.Get("/feedback/:id/state", p.handleState)
	s.app.All("/feedback/:id/state", methodNotAllowed("GET, HEAD"))
	s.app.Get("/feedback/:id/images/:imageId", p.handleImage)
	s.app.All("/feedback/:id/images/:imageId", methodNotAllowed("GET, HEAD"))
	s.app.Get("/feedback/:id", p.handleShow)
	s.app.Post("/feedback/:id", p.handleForm)
	s.app.All("/feedback/:id", methodNotAllowed("GET, HEAD, POST"))
	s.app.All("/feedback/*", p.handleNotFound)
	s.app.Get("/", p.handleHome)
	s.app.All("/", methodNotAllowed("GET, HEAD"))
}

// handleHome is the landing page: someone who opens the server's address
// (the start-up line prints it) learns what it is and where to go. A person
// signed in to the inbox (a cookie whose link still stands) is sent there.
func (p *pages) handleHome(c *fiber.Ctx) error {
	pr := pagePrefs(c)
	if p.s.signedIn(c) {
		c.Set(fiber.HeaderCacheControl, "no-store")
		u := web.InboxPath
		if len(pr.query) > 0 {
			u += "?" + pr.query.Encode()
		}
		return c.Redirect(u, http.StatusSeeOther)
	}
	v := web.HomeView{Lang: pr.lang, Theme: pr.theme, BaseURL: p.s.publicURL(c), Version: p.s.cfg.Version}
	return p.html(c, http.StatusOK, pr, func(w io.Writer) error { return p.render.Home(w, v) })
}

// prefs is the language and theme a request asks for.
type prefs struct {
	lang, theme string
	// query keeps the lang and theme the person chose (as given), for the
	// links and redirects that must keep them.
	query url.Values
}

func pagePrefs(c *fiber.Ctx) prefs {
	q := url.Values{}
	for _, k := range []string{"lang", "theme"} {
		if v := c.Query(k); v != "" {
			q.Set(k, v)
		}
	}
	return prefs{
		lang:  web.NegotiateLang(c.Query("lang"), c.Get(fiber.HeaderAcceptLanguage)),
		theme: web.NormalizeTheme(c.Query("theme")),
		query: q,
	}
}

// pageURL is the relative URL of a session's page with the person's choices
// and extra, e.g. sent=1, added.
func (pr prefs) pageURL(id string, extra ...string) string {
	q := url.Values{}
	for k, v := range pr.query {
		q[k] = v
	}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	u := "/feedback/" + id
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// html sends a page rendered by render with status. If rendering fails
// (nothing has been written then) the person gets the error page instead.
func (p *pages) html(c *fiber.Ctx, status int, pr prefs, render func(w io.Writer) error) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Vary(fiber.HeaderAcceptLanguage)
	if p.render == nil {
		c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
		return c.Status(http.StatusInternalServerError).SendString("The feedback page is unavailable.")
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	if err := render(c); err != nil {
		p.s.log.Error("render feedback page", "path", redact.IDs(c.Path()), "err", err)
		c.Response().ResetBody()
		if err := p.render.Error(c, pr.lang, pr.theme, string(sessions.CodeInternal)); err != nil {
			c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
			return c.Status(http.StatusInternalServerError).SendString("The feedback page is unavailable.")
		}
		status = http.StatusInternalServerError
	}
	c.Status(status)
	return nil
}

// failPage answers a GET (or an unusable POST) whose session could not be
// read: the not-found page for a malformed, unknown or purged id, a friendly
// error page for anything else.
func (p *pages) failPage(c *fiber.Ctx, pr prefs, err error) error {
	code := sessions.CodeInternal
	var e *sessions.Error
	if errors.As(err, &e) {
		code = e.Code
	}
	switch code {
	case sessions.CodeNotFound, sessions.CodeInvalidRequest:
		return p.html(c, http.StatusNotFound, pr, func(w io.Writer) error {
			return p.render.NotFound(w, pr.lang, pr.theme)
		})
	case sessions.CodeServiceUnavailable, envelope.CodeRateLimited:
	default:
		p.s.log.Error("feedback page failed", "method", c.Method(), "path", c.Route().Path, "err", err)
		code = sessions.CodeInternal
	}
	return p.html(c, httpStatus(code), pr, func(w io.Writer) error {
		return p.render.Error(w, pr.lang, pr.theme, string(code))
	})
}

func (p *pages) handleNotFound(c *fiber.Ctx) error {
	return p.failPage(c, pagePrefs(c), sessions.Errorf(sessions.CodeNotFound, "no such page"))
}

// handleShow renders the page in whatever state the session is in. Get
// expires a pending session past its deadline, so such a page says expired.
func (p *pages) handleShow(c *fiber.Ctx) error {
	pr := pagePrefs(c)
	sess, err := p.s.svc.Get(c.UserContext(), c.Params("id"))
	if err != nil {
		return p.failPage(c, pr, err)
	}
	v, err := p.view(sess, pr)
	if err != nil {
		return p.failPage(c, pr, err)
	}
	// The marker the form post redirects with: thank the person who just
	// answered instead of telling them it was answered. It shows nothing of
	// the answer, so a hand-made ?sent=1 reveals nothing either.
	if c.Query("sent") == "1" && sess.Status == sessions.StatusCompleted {
		v.State = web.StateSubmitted
	}
	return p.html(c, http.StatusOK, pr, func(w io.Writer) error { return p.render.Page(w, v) })
}

// view is the page of sess as it stands, with the page's own socket while
// the session is pending.
func (p *pages) view(sess *sessions.Session, pr prefs) (web.PageView, error) {
	v, err := p.question(sess, pr)
	if err != nil {
		return v, err
	}
	if tokens := p.s.cfg.PageTokens; tokens != nil && v.State == web.StatePending {
		ttl := min(sess.ExpiresAt.Sub(v.ServerNow)+pageTokenGrace, maxPageTokenTTL)
		v.WSURL = p.wsPath + "/" + sess.ID
		v.WSToken = tokens.Mint(sess.ID, ttl)
	}
	return v, nil
}

// question is the question of sess as a page shows it, without the page's
// socket (the inbox follows its sessions on a socket of its own).
func (p *pages) question(sess *sessions.Session, pr prefs) (web.PageView, error) {
	state, err := pageState(sess.Status)
	if err != nil {
		return web.PageView{}, err
	}
	now := p.s.svc.Now()
	v := web.PageView{
		Lang:        pr.lang,
		Theme:       pr.theme,
		State:       state,
		SessionID:   sess.ID,
		Message:     sess.Message,
		Options:     sess.PredefinedOptions,
		CreatedAt:   sess.CreatedAt,
		ExpiresAt:   sess.ExpiresAt,
		ServerNow:   now,
		MaxFreeText: p.s.svc.Limits().MaxFreeText,
		SubmitURL:   "/api/feedback/" + sess.ID + "/submit",
		FormAction:  pr.pageURL(sess.ID),
		StateURL:    "/feedback/" + sess.ID + "/state",
	}
	limits := p.s.svc.Limits()
	v.Title, v.SingleSelect, v.Form = sess.Title, !sess.MultiSelect(), sess.Fields
	v.MaxImages, v.MaxImageBytes = limits.MaxImages, limits.MaxImageBytes
	if sess.Approval != nil {
		v.Approval = &web.Approval{Action: sess.Approval.Action, Details: sess.Approval.Details}
	}
	for _, img := range sess.Images {
		v.Images = append(v.Images, web.Image{URL: "/feedback/" + sess.ID + "/images/" + img.ID, Name: img.Name, Width: img.Width, Height: img.Height})
	}
	return v, nil
}

func pageState(st sessions.Status) (web.State, error) {
	switch st {
	case sessions.StatusPending:
		return web.StatePending, nil
	case sessions.StatusCompleted:
		return web.StateCompleted, nil
	case sessions.StatusExpired:
		return web.StateExpired, nil
	case sessions.StatusCancelled:
		return web.StateCancelled, nil
	}
	return "", errors.New("session in unknown status " + string(st))
}

// handleForm takes the plain form post of a browser without JavaScript. A
// refused answer comes back in the form with the reason, so nothing typed is
// lost; a success redirects (303) to the page, so reloading it does not post
// again.
func (p *pages) handleForm(c *fiber.Ctx) error {
	pr := pagePrefs(c)
	id := c.Params("id")
	if err := sessions.CheckID(id); err != nil {
		return p.failPage(c, pr, err)
	}
	// The session says what the form holds (a form's fields, an
	// approval's decision); reading it first also answers an unknown id
	// before the body is looked at.
	sess, err := p.s.svc.Get(c.UserContext(), id)
	if err != nil {
		return p.failPage(c, pr, err)
	}
	req, draft, err := readAnswerForm(c, sess, p.s.svc.Limits().MaxImageBytes)
	if err == nil {
		var answered *sessions.Session
		if answered, err = p.s.svc.Submit(c.UserContext(), id, req); answered != nil {
			sess = answered
		}
	}
	if err == nil {
		return c.Redirect(pr.pageURL(id, "sent", "1"), http.StatusSeeOther)
	}

	var e *sessions.Error
	if !errors.As(err, &e) {
		return p.failPage(c, pr, err)
	}
	switch e.Code {
	case sessions.CodeAlreadySubmitted, sessions.CodeExpired, sessions.CodeCancelled:
		// The question closed before this answer: show how it ended.
	case sessions.CodeInvalidRequest, envelope.CodeRateLimited, envelope.CodePayloadTooLarge, sessions.CodeServiceUnavailable:
	default:
		return p.failPage(c, pr, err)
	}
	v, verr := p.view(sess, pr)
	if verr != nil {
		return p.failPage(c, pr, verr)
	}
	if v.State == web.StatePending {
		v.Draft = draft
		v.FormError = &web.FormError{Code: string(e.Code), Field: e.Field}
	}
	return p.html(c, httpStatus(e.Code), pr, func(w io.Writer) error { return p.render.Page(w, v) })
}

// readAnswerForm reads the form's fields into a submit request, and into a
// draft that refills the form if the answer is refused. A page whose
// question is more than options and text posts multipart/form-data (it has
// a file input for images); the others post urlencoded.
func readAnswerForm(c *fiber.Ctx, sess *sessions.Session, maxImageBytes int64) (*sessions.SubmitRequest, *web.Answer, error) {
	draft := &web.Answer{}
	mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	var get func(name string) []string
	var files []*multipart.FileHeader
	switch {
	case err == nil && mt == fiber.MIMEApplicationForm:
		args := c.Request().PostArgs()
		get = func(name string) []string {
			var out []string
			for _, v := range args.PeekMulti(name) {
				out = append(out, string(v))
			}
			return out
		}
	case err == nil && mt == fiber.MIMEMultipartForm:
		form, ferr := c.MultipartForm()
		if ferr != nil {
			return nil, draft, sessions.Invalid("body", "malformed multipart form")
		}
		get = func(name string) []string { return form.Value[name] }
		files = form.File["images"]
	default:
		return nil, draft, sessions.Invalid("Content-Type", "must be "+fiber.MIMEApplicationForm+" or "+fiber.MIMEMultipartForm)
	}
	first := func(name string) string {
		if vs := get(name); len(vs) > 0 {
			return vs[0]
		}
		return ""
	}
	// Browsers send a textarea's newlines as CRLF; each would count as two
	// characters against the limit.
	crlf := func(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }
	draft.SelectedOptions = get("selectedOptions")
	draft.FreeText = crlf(first("freeText"))
	req := &sessions.SubmitRequest{SelectedOptions: draft.SelectedOptions}
	if draft.FreeText != "" {
		text := draft.FreeText
		req.FreeText = &text
	}
	if sess.Approval != nil {
		req.Decision = sessions.Decision(first("decision"))
		draft.Reason = crlf(first("reason"))
		if draft.Reason != "" {
			reason := draft.Reason
			req.Reason = &reason
		}
	}
	if sess.Fields != nil {
		draft.Values = map[string][]string{}
		fieldValues := func(name string) []string {
			vs := get("values." + name)
			if p, ok := sess.Fields.Property(name); ok && p.Format == sessions.FormatDateTime {
				for i, v := range vs {
					vs[i] = utcDateTime(v)
				}
			}
			draft.Values[name] = vs
			return vs
		}
		values, err := sess.Fields.ValuesFromForm(fieldValues)
		if err != nil {
			return nil, draft, err
		}
		req.Values = values
	}
	for _, fh := range files {
		if fh.Size == 0 && fh.Filename == "" {
			continue // a file input left empty
		}
		img, err := readFormImage(fh, len(req.Images), maxImageBytes)
		if err != nil {
			return nil, draft, err
		}
		req.Images = append(req.Images, img)
	}
	return req, draft, nil
}

// readFormImage reads one posted file as an image input; its size is
// checked before it is read. The sessions service sniffs and checks the
// rest, as for JSON.
func readFormImage(fh *multipart.FileHeader, n int, maxBytes int64) (sessions.ImageInput, error) {
	field := fmt.Sprintf("images[%d]", n)
	if maxBytes <= 0 {
		maxBytes = sessions.DefaultMaxImageBytes
	}
	if fh.Size > maxBytes {
		return sessions.ImageInput{}, sessions.Invalid(field, fmt.Sprintf("is %s; each image may be at most %s", sizeText(fh.Size), sizeText(maxBytes)))
	}
	f, err := fh.Open()
	if err != nil {
		return sessions.ImageInput{}, sessions.Invalid(field, "could not be read")
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxBytes+1))
	if err != nil {
		return sessions.ImageInput{}, sessions.Invalid(field, "could not be read")
	}
	// A browser names the type it guessed from the file name, or none
	// (application/octet-stream); the bytes decide either way, so only an
	// image type is passed on to be checked.
	declared := fh.Header.Get(fiber.HeaderContentType)
	if !strings.HasPrefix(declared, "image/") {
		declared = ""
	}
	return sessions.ImageInput{Data: base64.StdEncoding.EncodeToString(data), MimeType: declared, Name: fh.Filename}, nil
}

// utcDateTime completes a datetime-local input's value ("2026-05-01T14:30",
// seconds optional) as an RFC 3339 time in UTC, which is what the page says
// such a field means without its script. Anything else is left for
// validation to refuse.
func utcDateTime(v string) string {
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC().Format(time.RFC3339)
		}
	}
	return v
}

// stateBody is what the page polls while it has no socket.
type stateBody struct {
	Status    sessions.Status `json:"status"`
	ExpiresAt string          `json:"expiresAt"`
}

// handleState tells an open page where its session stands. It shows nothing
// but the status and the deadline, to anyone holding the id.
func (p *pages) handleState(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	sess, err := p.s.svc.Get(c.UserContext(), c.Params("id"))
	if err != nil {
		return p.s.fail(c, err)
	}
	return c.JSON(stateBody{Status: sess.Status, ExpiresAt: formatTime(sess.ExpiresAt)})
}
