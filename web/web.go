package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/feedbackd/feedbackd/sessions"
)

//go:embed templates/*.html
var templateFS embed.FS

// State is what the feedback page shows.
type State string

// The states of the page. Submitted is the view of the person who has just
// answered; Completed is what everyone else sees once an answer exists.
const (
	StatePending   State = "pending"
	StateSubmitted State = "submitted"
	StateCompleted State = "completed"
	StateExpired   State = "expired"
	StateCancelled State = "cancelled"
)

func (s State) valid() bool {
	switch s {
	case StatePending, StateSubmitted, StateCompleted, StateExpired, StateCancelled:
		return true
	}
	return false
}

// DefaultMaxFreeText is the free-text limit (docs/api.md, "Limits"), used
// when a PageView leaves MaxFreeText zero.
const DefaultMaxFreeText = 1000

// Answer is a person's answer: what was sent (PageView.Sent) or what to put
// back into the form after a rejected post (PageView.Draft).
type Answer struct {
	SelectedOptions []string
	FreeText        string
	SubmittedAt     time.Time // zero for a draft
	// Values are a form's answers as posted, by field name.
	Values map[string][]string
	// Reason is an approval's reason as typed.
	Reason string
}

// FormError says why a plain (no-JavaScript) form post was refused, so the
// page can explain it in the person's language.
type FormError struct {
	// Code is an API error code (docs/api.md, "Errors"), e.g.
	// "INVALID_REQUEST", "RATE_LIMITED".
	Code string
	// Field is the offending input for INVALID_REQUEST, as the sessions
	// package names it: "selectedOptions", "selectedOptions[2]", "freeText",
	// "values.day", "images[1]", "decision", "reason".
	Field string
}

// PageView is everything the feedback page shows and talks to.
type PageView struct {
	Lang  string // "zh" or "en", from NegotiateLang; anything else is English
	Theme string // "dark", "light" or "auto", from NormalizeTheme

	State     State
	SessionID string
	Message   string   // the agent's Markdown, rendered by RenderMarkdown
	Options   []string // shown as plain text, as checkboxes when pending

	CreatedAt time.Time // shown on finished pages as when it was asked
	ExpiresAt time.Time
	// ServerNow is the server's clock when the page was rendered; the script
	// corrects the countdown by the difference to the browser's clock. Zero
	// means time.Now().
	ServerNow time.Time

	// Sent is the answer just submitted, shown by StateSubmitted. Nil shows
	// the thanks without repeating the answer (e.g. after a redirect).
	Sent *Answer
	// Draft refills the form when StatePending is shown again with FormError.
	Draft *Answer
	// FormError explains a refused no-JavaScript post (StatePending only).
	FormError *FormError

	MaxFreeText int // characters; zero means DefaultMaxFreeText

	// SubmitURL receives the script's JSON POST (/api/feedback/{id}/submit).
	// Empty leaves submitting to the plain form.
	SubmitURL string
	// FormAction receives the plain form post (/feedback/{id}?lang=…&theme=…)
	// with fields selectedOptions (repeated) and freeText. Empty posts to the
	// page's own URL.
	FormAction string
	// StateURL is polled for {"status","expiresAt"} (/feedback/{id}/state)
	// while no WebSocket is open. Empty disables polling.
	StateURL string
	// WSURL and WSToken open the live socket (docs/api.md, "WebSocket") as
	// WSURL?token=WSToken.
	// Either empty means polling only.
	WSURL   string
	WSToken string

	// Richer questions (question.go). A seed-style question leaves them
	// zero, and its page is exactly what it was before they existed.

	// Title is a short heading above the question.
	Title string
	// SingleSelect makes Options a single choice (radio buttons).
	SingleSelect bool
	// Form is a form to fill in, nil if none.
	Form *sessions.FormSchema
	// Approval makes the page ask to approve or deny.
	Approval *Approval
	// Images are the agent's images, shown as thumbnails that open them.
	Images []Image
	// MaxImages and MaxImageBytes are what the person may attach; zero
	// means the sessions defaults.
	MaxImages     int
	MaxImageBytes int64
}

// rich reports whether the question uses anything beyond a message,
// options and free text.
func (v PageView) rich() bool {
	return v.Title != "" || v.SingleSelect || v.Form != nil || v.Approval != nil || len(v.Images) > 0
}

// Renderer renders the pages. It is safe for concurrent use.
type Renderer struct {
	templates map[string]*template.Template // by language
	catalogs  map[string]catalog
	assets    *assets
}

// New parses the embedded templates and translations. It fails if they are
// inconsistent, e.g. a key translated in one language only.
func New() (*Renderer, error) {
	if builtAssetsErr != nil {
		return nil, builtAssetsErr
	}
	cats, err := loadCatalogs()
	if err != nil {
		return nil, err
	}
	r := &Renderer{templates: map[string]*template.Template{}, catalogs: cats, assets: builtAssets}
	base, err := template.New("").Funcs(r.funcs(nil)).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("parse templates: %w", err)
	}
	for _, lang := range languages {
		t, err := base.Clone()
		if err != nil {
			return nil, fmt.Errorf("clone templates for %s: %w", lang, err)
		}
		r.templates[lang] = t.Funcs(r.funcs(cats[lang]))
	}
	return r, nil
}

// funcs returns the template functions for one language.
func (r *Renderer) funcs(c catalog) template.FuncMap {
	return template.FuncMap{
		"t":        c.translate,
		"asset":    r.assets.url,
		"contains": slices.Contains[[]string],
		"anyChecked": func(cs []choiceView) bool {
			return slices.ContainsFunc(cs, func(c choiceView) bool { return c.Checked })
		},
		"utc":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
		"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	}
}

// document is what every page template gets.
type document struct {
	Lang     string // zh | en
	HTMLLang string // the lang attribute: zh-CN | en
	Theme    string
	Page     string // which body template: page | home | notfound | error
}

func newDocument(lang, theme, page string) document {
	lang, ok := primaryLang(lang)
	if !ok {
		lang = defaultLang
	}
	htmlLang := lang
	if lang == "zh" {
		htmlLang = "zh-CN"
	}
	return document{Lang: lang, HTMLLang: htmlLang, Theme: NormalizeTheme(theme), Page: page}
}

// pageData is the feedback page's template data.
type pageData struct {
	document
	View        PageView
	MessageHTML template.HTML
	Remaining   string // the no-JavaScript countdown text
	ErrorText   string // FormError, translated
	ErrorField  string // "selectedOptions" | "freeText" | "values.<name>" | "images" | "decision" | "reason" | ""
	DraftCount  int    // characters already in the refilled text box
	Script      scriptData

	// Richer questions: Rich is false for a seed-style question, whose
	// page renders exactly as before.
	Rich            bool
	Fields          []fieldView
	Details         string // an approval's details, pretty-printed
	DetailsLong     bool   // fold the details away
	ImageSize       string // the largest image the person may attach, for people
	ImagesError     string // why the images were refused (no-JavaScript post)
	ReasonCount     int    // characters already in the refilled reason
	DatetimeUTCHint string

	// Embedded is set by Renderer.Embedded: the question is shown inside
	// an MCP App, not on a page of its own.
	Embedded bool
	// Inbox is set by Renderer.InboxQuestion: the question is shown in the
	// person's inbox, among their others.
	Inbox bool
}

// scriptData is handed to feedback.js as JSON in <script type="application/json">.
type scriptData struct {
	State       State             `json:"state"`
	Lang        string            `json:"lang"`
	SessionID   string            `json:"sessionId"`
	SubmitURL   string            `json:"submitUrl,omitempty"`
	StateURL    string            `json:"stateUrl,omitempty"`
	WSURL       string            `json:"wsUrl,omitempty"`
	WSToken     string            `json:"wsToken,omitempty"`
	ExpiresAt   string            `json:"expiresAt"`
	ServerNow   string            `json:"serverNow"`
	MaxFreeText int               `json:"maxFreeText"`
	I18n        map[string]string `json:"i18n"`
	// Kind is "question" or "approval"; MaxImages and MaxImageBytes bound
	// what the person may attach.
	Kind          string `json:"kind"`
	MaxImages     int    `json:"maxImages"`
	MaxImageBytes int64  `json:"maxImageBytes"`
}

// Page renders the feedback page for v.
func (r *Renderer) Page(w io.Writer, v PageView) error {
	d, err := r.pageData(v)
	if err != nil {
		return err
	}
	return r.execute(w, d.Lang, d)
}

// Embedded renders the question of v the way the page shows it (its
// notices, its card, its page-data), without the document around it, for
// the MCP App to place in its own document (docs/mcp.md, "MCP Apps"). The
// app runs feedback.js over it with its own transport, so v's URLs are
// left empty; images are named by Image.ID instead of a URL, and the texts
// that speak of "this page" speak of the conversation instead.
func (r *Renderer) Embedded(w io.Writer, v PageView) error {
	d, err := r.pageData(v)
	if err != nil {
		return err
	}
	d.Embedded = true
	return r.question(w, d, "embedded")
}

// question renders d's question without the document around it (the
// "page" template), for Embedded and InboxQuestion. It writes nothing to w
// unless the whole of it rendered.
func (r *Renderer) question(w io.Writer, d pageData, what string) error {
	var buf bytes.Buffer
	if err := r.templates[d.Lang].ExecuteTemplate(&buf, "page", d); err != nil {
		return fmt.Errorf("render %s question: %w", what, err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// pageData is the page template's data for v.
func (r *Renderer) pageData(v PageView) (pageData, error) {
	if !v.State.valid() {
		return pageData{}, fmt.Errorf("render feedback page: unknown state %q", v.State)
	}
	v = v.clean()
	doc := newDocument(v.Lang, v.Theme, "page")
	v.Lang, v.Theme = doc.Lang, doc.Theme
	cat := r.catalogs[doc.Lang]

	d := pageData{
		document:    doc,
		View:        v,
		MessageHTML: RenderMarkdown(v.Message),
		Script: scriptData{
			State:         v.State,
			Lang:          doc.Lang,
			SessionID:     v.SessionID,
			SubmitURL:     v.SubmitURL,
			StateURL:      v.StateURL,
			ExpiresAt:     v.ExpiresAt.UTC().Format(time.RFC3339Nano),
			ServerNow:     v.ServerNow.UTC().Format(time.RFC3339Nano),
			MaxFreeText:   v.MaxFreeText,
			I18n:          cat,
			Kind:          string(sessions.KindQuestion),
			MaxImages:     v.MaxImages,
			MaxImageBytes: v.MaxImageBytes,
		},
		Rich:      v.rich(),
		ImageSize: sizeText(v.MaxImageBytes),
	}
	if v.Approval != nil {
		d.Script.Kind = string(sessions.KindApproval)
		d.Details, d.DetailsLong = approvalDetails(v.Approval.Details)
	}
	if v.WSURL != "" && v.WSToken != "" {
		d.Script.WSURL, d.Script.WSToken = v.WSURL, v.WSToken
	}
	var err error
	if d.Remaining, err = remaining(cat, v.ExpiresAt.Sub(v.ServerNow)); err != nil {
		return pageData{}, err
	}
	if v.Draft != nil {
		d.DraftCount = utf8.RuneCountInString(v.Draft.FreeText)
		d.ReasonCount = utf8.RuneCountInString(v.Draft.Reason)
	}
	if v.State == StatePending && v.FormError != nil {
		d.ErrorField, d.ErrorText, err = formError(cat, *v.FormError, v.MaxFreeText)
		if err != nil {
			return pageData{}, err
		}
		if d.ErrorField == "images" {
			if d.ImagesError, err = cat.translate("images.refused", "count", v.MaxImages, "size", d.ImageSize); err != nil {
				return pageData{}, err
			}
		}
	}
	if v.Form != nil {
		var draft map[string][]string
		if v.Draft != nil {
			draft = v.Draft.Values
		}
		if d.Fields, err = pageFields(cat, v.Form, draft, v.Draft != nil, d.ErrorField); err != nil {
			return pageData{}, err
		}
		if d.DatetimeUTCHint, err = cat.translate("field.utc"); err != nil {
			return pageData{}, err
		}
	}
	return d, nil
}

// NotFound renders the page for an unknown, purged or malformed session id.
// The edge sends it with status 404.
func (r *Renderer) NotFound(w io.Writer, lang, theme string) error {
	return r.execute(w, lang, newDocument(lang, theme, "notfound"))
}

// HomeView is what the landing page at / shows.
type HomeView struct {
	Lang  string // "zh" or "en", from NegotiateLang; anything else is English
	Theme string // "dark", "light" or "auto", from NormalizeTheme
	// BaseURL is where clients reach this server (PUBLIC_URL, or the
	// request's scheme and host), without a trailing slash.
	BaseURL string
	// Version is the server's version; empty leaves it out.
	Version string
}

// homeData is the landing page's template data.
type homeData struct {
	document
	BaseURL string
	Version string
}

// Home renders the landing page at /: what this server is, for a person who
// opens its address, and where an agent or a developer goes next (MCP, the
// OpenAPI document, /health).
func (r *Renderer) Home(w io.Writer, v HomeView) error {
	doc := newDocument(v.Lang, v.Theme, "home")
	fix := func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
	return r.execute(w, doc.Lang, homeData{document: doc, BaseURL: fix(strings.TrimRight(v.BaseURL, "/")), Version: fix(v.Version)})
}

// errorData is the error page's template data.
type errorData struct {
	document
	ErrorText string
}

// Error renders a page for a failure that is not the person's doing, such as
// RATE_LIMITED or SERVICE_UNAVAILABLE, with the code's translated
// explanation and a way to retry. It never shows internal details.
func (r *Renderer) Error(w io.Writer, lang, theme, code string) error {
	doc := newDocument(lang, theme, "error")
	_, text, err := formError(r.catalogs[doc.Lang], FormError{Code: code}, DefaultMaxFreeText)
	if err != nil {
		return err
	}
	return r.execute(w, doc.Lang, errorData{document: doc, ErrorText: text})
}

// execute renders into a buffer first, so that a template failure never
// leaves half a page on the wire.
func (r *Renderer) execute(w io.Writer, lang string, data any) error {
	lang = newDocument(lang, "", "").Lang
	var buf bytes.Buffer
	if err := r.templates[lang].ExecuteTemplate(&buf, "layout", data); err != nil {
		return fmt.Errorf("render page: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// clean fills defaults and replaces invalid UTF-8, which html/template and
// encoding/json would otherwise pass through or mangle differently.
func (v PageView) clean() PageView {
	fix := func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
	fixAll := func(ss []string) []string {
		out := make([]string, len(ss))
		for i, s := range ss {
			out[i] = fix(s)
		}
		return out
	}
	fixAnswer := func(a *Answer) *Answer {
		if a == nil {
			return nil
		}
		values := make(map[string][]string, len(a.Values))
		for k, vs := range a.Values {
			values[fix(k)] = fixAll(vs)
		}
		return &Answer{SelectedOptions: fixAll(a.SelectedOptions), FreeText: fix(a.FreeText), SubmittedAt: a.SubmittedAt,
			Values: values, Reason: fix(a.Reason)}
	}
	v.Message = fix(v.Message)
	v.SessionID = fix(v.SessionID)
	v.SubmitURL, v.FormAction, v.StateURL = fix(v.SubmitURL), fix(v.FormAction), fix(v.StateURL)
	v.WSURL, v.WSToken = fix(v.WSURL), fix(v.WSToken)
	v.Options = fixAll(v.Options)
	v.Sent = fixAnswer(v.Sent)
	v.Draft = fixAnswer(v.Draft)
	if v.ServerNow.IsZero() {
		v.ServerNow = time.Now()
	}
	if v.MaxFreeText <= 0 {
		v.MaxFreeText = DefaultMaxFreeText
	}
	v.Title = fix(v.Title)
	if v.Approval != nil {
		a := *v.Approval
		a.Action = fix(a.Action)
		v.Approval = &a
	}
	images := make([]Image, len(v.Images))
	for i, img := range v.Images {
		images[i] = Image{URL: fix(img.URL), ID: fix(img.ID), Name: fix(img.Name), Width: img.Width, Height: img.Height}
	}
	v.Images = images
	if v.MaxImages <= 0 {
		v.MaxImages = sessions.DefaultMaxImages
	}
	if v.MaxImageBytes <= 0 {
		v.MaxImageBytes = sessions.DefaultMaxImageBytes
	}
	return v
}

// remaining is the countdown shown before the script takes over.
func remaining(c catalog, d time.Duration) (string, error) {
	if d <= 0 {
		return c.translate("countdown.ended")
	}
	var span string
	var err error
	if d < time.Minute {
		span, err = c.translate("countdown.underMinute")
	} else {
		span, err = c.translate("countdown.aboutMinutes", "minutes", int((d+time.Minute-1)/time.Minute))
	}
	if err != nil {
		return "", err
	}
	return c.translate("countdown.left", "time", span)
}

// formError translates a refusal: the most specific of error.CODE.field,
// error.CODE and error.generic that exists (a form field's own errors are
// error.CODE.values). It also returns the field the page should mark,
// without any [index]: a form field as "values.<name>".
func formError(c catalog, fe FormError, maxFreeText int) (field, text string, err error) {
	field, _, _ = strings.Cut(fe.Field, "[")
	group := field
	switch {
	case field == "selectedOptions", field == "freeText", field == "images", field == "decision", field == "reason":
	case strings.HasPrefix(field, "values.") && len(field) > len("values."):
		group = "values"
	case field == "values":
	default:
		field, group = "", ""
	}
	key := "error.generic"
	if specific := "error." + fe.Code + "." + group; group != "" && c.has(specific) {
		key = specific
	} else if c.has("error." + fe.Code) {
		key = "error." + fe.Code
	}
	text, err = c.translate(key, "max", maxFreeText)
	return field, text, err
}
