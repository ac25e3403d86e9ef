package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// The inbox (docs/inbox.md): one page where a person sees and answers every
// question of theirs, installable as a PWA. Its document is a shell that
// its script (static/inbox.js) fills over the inbox's own routes; each
// question opened in it is rendered by InboxQuestion exactly as the
// feedback page renders it, and run by the page's own script
// (static/feedback.js). The service worker (pwa/sw.js) keeps the shell for
// offline use and shows Web Push notifications.

//go:embed pwa/sw.js
var pwaFS embed.FS

// The inbox's fixed addresses, which the shell, the manifest and the
// service worker name. The edge mounts them.
const (
	// InboxPath is the inbox page, and the scope of its service worker.
	InboxPath = "/inbox"
	// InboxManifestPath is its web app manifest.
	InboxManifestPath = "/inbox/manifest.webmanifest"
	// InboxServiceWorkerPath is its service worker, served with
	// Service-Worker-Allowed: InboxPath so that its scope may be the page
	// itself rather than /inbox/.
	InboxServiceWorkerPath = "/inbox/sw.js"
)

// InboxView is what the inbox shell needs: the person's language and
// theme, and the addresses its script talks to.
type InboxView struct {
	Lang  string // "zh" or "en", from NegotiateLang
	Theme string // "dark", "light" or "auto", from NormalizeTheme
	// SessionURL receives the link's token and sets the session cookie
	// (POST), or signs this browser out (DELETE).
	SessionURL string
	// APIURL is the base of the inbox's own routes (/inbox/api).
	APIURL string
}

// inboxData is the inbox template's data.
type inboxData struct {
	document
	Script inboxScript
	// Manifest and ThemeColor are for the layout's head, which names them
	// as the manifest does.
	Manifest, ThemeColor string
}

// inboxScript is handed to inbox.js as JSON in <script
// type="application/json" id="inbox-data">.
type inboxScript struct {
	Lang          string            `json:"lang"`
	Theme         string            `json:"theme"`
	SessionURL    string            `json:"sessionUrl"`
	APIURL        string            `json:"apiUrl"`
	ServiceWorker string            `json:"serviceWorker"`
	Scope         string            `json:"scope"`
	I18n          map[string]string `json:"i18n"`
}

// Inbox renders the inbox's shell. It holds nothing of the person's: the
// script signs in and fetches the rest, so the same shell can be kept by
// the service worker and shown offline.
func (r *Renderer) Inbox(w io.Writer, v InboxView) error {
	doc := newDocument(v.Lang, v.Theme, "inbox")
	d := inboxData{document: doc, Script: inboxScript{
		Lang: doc.Lang, Theme: doc.Theme, SessionURL: v.SessionURL, APIURL: v.APIURL,
		ServiceWorker: InboxServiceWorkerPath, Scope: InboxPath, I18n: r.catalogs[doc.Lang],
	}, Manifest: InboxManifestPath, ThemeColor: inboxThemeColor}
	return r.execute(w, doc.Lang, d)
}

// InboxQuestion renders the question of v the way the feedback page shows
// it (its notices, its card, its page-data), without the document around
// it, for the inbox to place where the person opened it. The inbox runs
// feedback.js over it, with v's SubmitURL (the inbox's own, owner-checked
// route) and its own socket in place of the page's, so v.WSURL and
// v.StateURL should be empty. The texts that speak of "this page" speak of
// the inbox instead.
func (r *Renderer) InboxQuestion(w io.Writer, v PageView) error {
	d, err := r.pageData(v)
	if err != nil {
		return err
	}
	d.Inbox = true
	return r.question(w, d, "inbox")
}

// manifest is the web app manifest of the inbox.
type manifest struct {
	ID              string         `json:"id"`
	Name            string         `json:"name"`
	ShortName       string         `json:"short_name"`
	Description     string         `json:"description"`
	Lang            string         `json:"lang"`
	StartURL        string         `json:"start_url"`
	Scope           string         `json:"scope"`
	Display         string         `json:"display"`
	BackgroundColor string         `json:"background_color"`
	ThemeColor      string         `json:"theme_color"`
	Icons           []manifestIcon `json:"icons"`
}

type manifestIcon struct {
	Src     string `json:"src"`
	Sizes   string `json:"sizes"`
	Type    string `json:"type"`
	Purpose string `json:"purpose,omitempty"`
}

// inboxThemeColor is the colour of the installed inbox's title bar: the
// brand's blue, as in the icon.
const inboxThemeColor = "#3a56d4"

// pwaIcons are the manifest's icons: square PNGs, drawn with room around
// the mark so that a launcher's mask (a circle, a squircle) keeps it whole.
var pwaIcons = []struct{ name, sizes string }{{"icon-192.png", "192x192"}, {"icon-512.png", "512x512"}}

// InboxManifest returns the inbox's web app manifest (JSON) in lang.
func (r *Renderer) InboxManifest(lang string) ([]byte, error) {
	doc := newDocument(lang, "", "inbox")
	cat := r.catalogs[doc.Lang]
	name, err := cat.translate("inbox.app.name")
	if err != nil {
		return nil, err
	}
	desc, err := cat.translate("inbox.app.description")
	if err != nil {
		return nil, err
	}
	m := manifest{
		ID: InboxPath, Name: name, ShortName: "feedbackd", Description: desc, Lang: doc.HTMLLang,
		StartURL: InboxPath, Scope: InboxPath, Display: "standalone",
		BackgroundColor: "#0f1218", ThemeColor: inboxThemeColor,
	}
	for _, icon := range pwaIcons {
		src, err := r.assets.url(icon.name)
		if err != nil {
			return nil, err
		}
		m.Icons = append(m.Icons, manifestIcon{Src: src, Sizes: icon.sizes, Type: "image/png", Purpose: "any"},
			manifestIcon{Src: src, Sizes: icon.sizes, Type: "image/png", Purpose: "maskable"})
	}
	return json.MarshalIndent(m, "", "  ")
}

// InboxServiceWorker returns the inbox's service worker script: the files
// of the offline shell (by their content-hashed names, so the script
// changes, and browsers update it, whenever one of them does), then
// pwa/sw.js.
func (r *Renderer) InboxServiceWorker() ([]byte, error) {
	src, err := pwaFS.ReadFile("pwa/sw.js")
	if err != nil {
		return nil, fmt.Errorf("read the service worker: %w", err)
	}
	shell := []string{InboxPath, InboxManifestPath}
	for _, name := range []string{"feedback.css", "inbox.css", "feedback.js", "inbox.js", "icon.svg", "icon-192.png", "icon-512.png"} {
		u, err := r.assets.url(name)
		if err != nil {
			return nil, err
		}
		shell = append(shell, u)
	}
	icon, err := r.assets.url("icon-192.png")
	if err != nil {
		return nil, err
	}
	list, err := json.Marshal(shell)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append(append([]byte(nil), list...), src...))
	var b strings.Builder
	fmt.Fprintf(&b, "// Generated by the server: the inbox's offline shell, then web/pwa/sw.js.\n")
	fmt.Fprintf(&b, "const SHELL_VERSION = %q;\nconst SHELL = %s;\nconst INBOX = %q;\nconst ICON = %q;\n\n",
		hex.EncodeToString(sum[:6]), list, InboxPath, icon)
	b.Write(src)
	return []byte(b.String()), nil
}
