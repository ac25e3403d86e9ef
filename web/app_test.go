package web

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/feedbackd/feedbackd/sessions"
)

// The app is one document that needs nothing from elsewhere: its style and
// script inline, no URL anywhere that a browser would load.
func TestAppDocumentIsSelfContained(t *testing.T) {
	r := newRenderer(t)
	doc, err := r.App()
	if err != nil {
		t.Fatal(err)
	}
	root, err := html.Parse(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	var scripts, styles int
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			for _, a := range n.Attr {
				switch a.Key {
				case "src", "href", "srcset", "action", "poster", "data":
					t.Errorf("<%s %s=%q> would load from elsewhere", n.Data, a.Key, a.Val)
				}
				if strings.HasPrefix(a.Key, "on") {
					t.Errorf("<%s %s> is an event handler attribute", n.Data, a.Key)
				}
			}
			switch n.Data {
			case "script":
				if typ, _ := attr(n, "type"); typ == "" {
					scripts++
				}
			case "style":
				styles++
			case "link", "iframe", "object", "embed", "base":
				t.Errorf("<%s> in the app document", n.Data)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	if scripts != 1 || styles != 1 {
		t.Errorf("want one inline script and one style, got %d and %d", scripts, styles)
	}
	for _, s := range []string{"@import", "url(", "XMLHttpRequest", "EventSource"} {
		if bytes.Contains(doc, []byte(s)) {
			t.Errorf("the app document contains %q", s)
		}
	}
	// Only the page's own network code may fetch, and the app replaces it
	// with its transport; app.js itself never reaches out.
	appJS, _ := appFS.ReadFile("app/app.js")
	for _, s := range []string{"fetch(", "new WebSocket", "XMLHttpRequest", "import(", "<script"} {
		if bytes.Contains(appJS, []byte(s)) {
			t.Errorf("app.js contains %q", s)
		}
	}
	// The page's script and stylesheet are in it, whole.
	for _, name := range []string{"static/feedback.js", "static/feedback.css", "app/app.js", "app/app.css"} {
		fsys := staticFS
		if strings.HasPrefix(name, "app/") {
			fsys = appFS
		}
		src, err := fsys.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(doc, src) {
			t.Errorf("%s is not inlined unchanged", name)
		}
	}
}

// Both languages' shell texts travel with the document, so the app can
// speak the host's language before any question arrives.
func TestAppDocumentCarriesItsTextsInEveryLanguage(t *testing.T) {
	r := newRenderer(t)
	doc, err := r.App()
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)<script type="application/json" id="app-data">(.*?)</script>`).FindSubmatch(doc)
	if m == nil {
		t.Fatal("no app-data")
	}
	var d struct {
		I18n map[string]map[string]string `json:"i18n"`
	}
	if err := json.Unmarshal(m[1], &d); err != nil {
		t.Fatal(err)
	}
	for _, lang := range languages {
		for _, key := range appKeys {
			if d.I18n[lang][key] == "" || d.I18n[lang][key] != r.catalogs[lang][key] {
				t.Errorf("%s %s: %q", lang, key, d.I18n[lang][key])
			}
		}
	}
	// Every app.* key app.js names is one the document carries.
	js, _ := appFS.ReadFile("app/app.js")
	for _, m := range scriptKeyRE.FindAllSubmatch(js, -1) {
		if !slices.Contains(appKeys, string(m[1])) {
			t.Errorf("app.js uses %q, which appKeys does not send", m[1])
		}
	}
}

// Embedded is the page's own question, notices and data, without the
// document around it; the texts that speak of a page speak of the
// conversation; images are named for the app to load.
func TestEmbeddedRendersThePageQuestionWithoutItsDocument(t *testing.T) {
	r := newRenderer(t)
	form, err := sessions.ParseFormSchema(json.RawMessage(`{"type":"object","properties":{"day":{"type":"string","format":"date","title":"Release day"}},"required":["day"]}`))
	if err != nil {
		t.Fatal(err)
	}
	v := PageView{
		Lang: "zh", State: StatePending, SessionID: "0d5a8c0e-2b7e-4f3a-9c1d-2a4b6c8d0e1f", Message: "When?",
		ExpiresAt: time.Now().Add(time.Hour), Form: form,
		Images: []Image{{ID: "img-1", Name: "shot.png", Width: 4, Height: 3}},
	}
	var page, embedded bytes.Buffer
	if err := r.Page(&page, v); err != nil {
		t.Fatal(err)
	}
	if err := r.Embedded(&embedded, v); err != nil {
		t.Fatal(err)
	}
	out := embedded.String()
	for _, absent := range []string{"<html", "<head", "<body", "topbar", "<footer", "<script src", "<link"} {
		if strings.Contains(out, absent) {
			t.Errorf("embedded question contains %q", absent)
		}
	}
	for _, present := range []string{`id="card"`, `id="answer-form"`, `id="page-data"`, `data-view="completed"`, `data-name="day"`,
		`data-image-id="img-1"`} {
		if !strings.Contains(out, present) {
			t.Errorf("embedded question lacks %q", present)
		}
	}
	// The notices speak of the conversation in the app, of the page on it.
	noticeText := func(s, view string) string {
		_, doc := parseDoc(t, s)
		for _, n := range find(doc, func(n *html.Node) bool { v, _ := attr(n, "data-view"); return v == view }) {
			return text(n)
		}
		t.Fatalf("no %s notice", view)
		return ""
	}
	for _, view := range []string{"submitted", "completed", "expired", "cancelled"} {
		app, own := r.catalogs["zh"]["app."+view+".body"], r.catalogs["zh"]["view."+view+".body"]
		if got := noticeText(out, view); !strings.Contains(got, app) || strings.Contains(got, own) {
			t.Errorf("embedded %s notice says %q", view, got)
		}
		if got := noticeText(page.String(), view); !strings.Contains(got, own) {
			t.Errorf("page %s notice says %q", view, got)
		}
	}
	_, doc := parseDoc(t, out)
	data := pageScriptData(t, doc)
	if data["submitUrl"] != nil || data["stateUrl"] != nil || data["wsUrl"] != nil {
		t.Errorf("embedded page-data carries URLs: %v", data)
	}
	if err := r.Embedded(&embedded, PageView{State: "bogus"}); err == nil {
		t.Error("an unknown state rendered")
	}
}
