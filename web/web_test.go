package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/net/html"
)

var (
	testNow   = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	allStates = []State{StatePending, StateSubmitted, StateCompleted, StateExpired, StateCancelled}
	themes    = []string{ThemeDark, ThemeLight, ThemeAuto}
)

func newRenderer(t *testing.T) *Renderer {
	t.Helper()
	r, err := New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

func sampleView(state State, lang, theme string) PageView {
	id := "6f1c1a52-1d8e-4c47-9a53-0d2f1b8e5c11"
	v := PageView{
		Lang: lang, Theme: theme, State: state, SessionID: id,
		Message:   "## Release\nShip **v2** now?",
		Options:   []string{"Ship it", "Wait a day"},
		CreatedAt: testNow.Add(-time.Minute), ExpiresAt: testNow.Add(4*time.Minute + 30*time.Second), ServerNow: testNow,
		SubmitURL: "/api/feedback/" + id + "/submit", FormAction: "/feedback/" + id + "?lang=" + lang + "&theme=" + theme,
		StateURL: "/feedback/" + id + "/state", WSURL: "/ws/" + id, WSToken: "tok",
	}
	if state == StateSubmitted {
		v.Sent = &Answer{SelectedOptions: []string{"Ship it"}, FreeText: "Watch the error rate.", SubmittedAt: testNow}
	}
	return v
}

func renderPage(t *testing.T, r *Renderer, v PageView) (string, *html.Node) {
	t.Helper()
	var buf bytes.Buffer
	if err := r.Page(&buf, v); err != nil {
		t.Fatalf("Page(%s/%s/%s): %v", v.State, v.Lang, v.Theme, err)
	}
	return parseDoc(t, buf.String())
}

func parseDoc(t *testing.T, s string) (string, *html.Node) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(s))
	if err != nil {
		t.Fatalf("parse page: %v", err)
	}
	return s, doc
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// find returns the elements for which match is true.
func find(doc *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	walk(doc, func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
	})
	return out
}

func byID(doc *html.Node, id string) *html.Node {
	nodes := find(doc, func(n *html.Node) bool { v, _ := attr(n, "id"); return v == id })
	if len(nodes) == 0 {
		return nil
	}
	return nodes[0]
}

func text(n *html.Node) string {
	var b strings.Builder
	walk(n, func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
	})
	return b.String()
}

// visibleViews returns the data-view sections that are not hidden.
func visibleViews(doc *html.Node) []string {
	var out []string
	for _, n := range find(doc, func(n *html.Node) bool { _, ok := attr(n, "data-view"); return ok }) {
		if _, hidden := attr(n, "hidden"); !hidden {
			v, _ := attr(n, "data-view")
			out = append(out, v)
		}
	}
	return out
}

func tr(t *testing.T, r *Renderer, lang, key string, args ...any) string {
	t.Helper()
	s, err := r.catalogs[lang].translate(key, args...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPageRendersEveryStateInBothLanguagesAndAllThemes(t *testing.T) {
	r := newRenderer(t)
	titles := map[State]string{
		StateSubmitted: "view.submitted.title", StateCompleted: "view.completed.title",
		StateExpired: "view.expired.title", StateCancelled: "view.cancelled.title",
	}
	for _, state := range allStates {
		for _, lang := range languages {
			for _, theme := range themes {
				name := fmt.Sprintf("%s/%s/%s", state, lang, theme)
				out, doc := renderPage(t, r, sampleView(state, lang, theme))
				root := find(doc, func(n *html.Node) bool { return n.Data == "html" })[0]
				if got, _ := attr(root, "data-theme"); got != theme {
					t.Errorf("%s: data-theme = %q", name, got)
				}
				wantLang := map[string]string{"en": "en", "zh": "zh-CN"}[lang]
				if got, _ := attr(root, "lang"); got != wantLang {
					t.Errorf("%s: lang = %q, want %q", name, got, wantLang)
				}
				if !strings.Contains(out, tr(t, r, lang, "meta.heading")) {
					t.Errorf("%s: heading not in %s", name, lang)
				}
				if !strings.Contains(out, "<strong>v2</strong>") {
					t.Errorf("%s: message not rendered as Markdown", name)
				}
				form := byID(doc, "answer-form")
				views := visibleViews(doc)
				if state == StatePending {
					if form == nil {
						t.Errorf("%s: no form", name)
					}
					if len(views) != 0 {
						t.Errorf("%s: finished views visible: %v", name, views)
					}
					if !strings.Contains(out, tr(t, r, lang, "form.submit")) {
						t.Errorf("%s: submit button not translated", name)
					}
					if byID(doc, "countdown") == nil {
						t.Errorf("%s: no countdown", name)
					}
				} else {
					if form != nil {
						t.Errorf("%s: a finished page must not offer the form", name)
					}
					if len(views) != 1 || views[0] != string(state) {
						t.Errorf("%s: visible views = %v, want [%s]", name, views, state)
					}
					if !strings.Contains(out, htmlEscape(tr(t, r, lang, titles[state]))) {
						t.Errorf("%s: title %q missing", name, titles[state])
					}
				}
				if other := map[string]string{"en": "zh", "zh": "en"}[lang]; strings.Contains(out, htmlEscape(tr(t, r, other, titles[StateExpired]))) {
					t.Errorf("%s: text of the other language leaked in", name)
				}
				if !utf8.ValidString(out) {
					t.Errorf("%s: output is not valid UTF-8", name)
				}
			}
		}
	}
}

func htmlEscape(s string) string { return html.EscapeString(s) }

func TestSubmittedPageShowsWhatWasSent(t *testing.T) {
	r := newRenderer(t)
	_, doc := renderPage(t, r, sampleView(StateSubmitted, "en", "light"))
	sent := byID(doc, "sent")
	if _, hidden := attr(sent, "hidden"); hidden {
		t.Fatal("the sent answer is hidden")
	}
	got := text(sent)
	for _, want := range []string{"Ship it", "Watch the error rate.", "2026-03-04 10:00 UTC"} {
		if !strings.Contains(got, want) {
			t.Errorf("sent block lacks %q: %q", want, got)
		}
	}
	if when, _ := attr(byID(doc, "sent-at"), "datetime"); when != "2026-03-04T10:00:00Z" {
		t.Errorf("sent-at datetime = %q", when)
	}
	if strings.Contains(got, "Wait a day") {
		t.Error("an option that was not chosen is listed as sent")
	}
}

func TestSubmittedPageWithoutTheAnswerStillThanks(t *testing.T) {
	r := newRenderer(t)
	v := sampleView(StateSubmitted, "zh", "dark")
	v.Sent = nil
	out, doc := renderPage(t, r, v)
	if _, hidden := attr(byID(doc, "sent"), "hidden"); !hidden {
		t.Error("an empty sent block is shown")
	}
	if !strings.Contains(out, tr(t, r, "zh", "view.submitted.title")) {
		t.Error("no thanks")
	}
}

func TestCompletedPageNeverShowsTheAnswer(t *testing.T) {
	r := newRenderer(t)
	v := sampleView(StateCompleted, "en", "light")
	v.Sent = &Answer{SelectedOptions: []string{"Wait a day"}, FreeText: "secret reasons", SubmittedAt: testNow}
	v.Draft = &Answer{FreeText: "draft reasons"}
	out, _ := renderPage(t, r, v)
	for _, leak := range []string{"secret reasons", "draft reasons"} {
		if strings.Contains(out, leak) {
			t.Errorf("completed page shows %q", leak)
		}
	}
}

func TestPendingPageHasAnAccessiblePlainForm(t *testing.T) {
	r := newRenderer(t)
	v := sampleView(StatePending, "en", "auto")
	_, doc := renderPage(t, r, v)
	form := byID(doc, "answer-form")
	if m, _ := attr(form, "method"); m != "post" {
		t.Errorf("form method = %q", m)
	}
	if a, _ := attr(form, "action"); a != v.FormAction {
		t.Errorf("form action = %q, want %q", a, v.FormAction)
	}
	if len(find(form, func(n *html.Node) bool { return n.Data == "fieldset" })) != 1 ||
		len(find(form, func(n *html.Node) bool { return n.Data == "legend" })) != 1 {
		t.Error("options are not grouped in a fieldset with a legend")
	}
	boxes := find(form, func(n *html.Node) bool { typ, _ := attr(n, "type"); return n.Data == "input" && typ == "checkbox" })
	if len(boxes) != len(v.Options) {
		t.Fatalf("%d checkboxes for %d options", len(boxes), len(v.Options))
	}
	for i, box := range boxes {
		name, _ := attr(box, "name")
		value, _ := attr(box, "value")
		id, _ := attr(box, "id")
		if name != "selectedOptions" || value != v.Options[i] {
			t.Errorf("checkbox %d: name=%q value=%q", i, name, value)
		}
		labels := find(doc, func(n *html.Node) bool { f, _ := attr(n, "for"); return n.Data == "label" && f == id })
		if len(labels) != 1 || !strings.Contains(text(labels[0]), v.Options[i]) {
			t.Errorf("checkbox %d has no label with its text", i)
		}
	}
	area := byID(doc, "free-text")
	if name, _ := attr(area, "name"); area.Data != "textarea" || name != "freeText" {
		t.Errorf("free text is <%s name=%q>", area.Data, name)
	}
	if len(find(doc, func(n *html.Node) bool { f, _ := attr(n, "for"); return n.Data == "label" && f == "free-text" })) != 1 {
		t.Error("textarea has no label")
	}
	if _, ok := attr(area, "maxlength"); ok {
		t.Error("maxlength counts UTF-16 units, not characters; the counter and server enforce the limit")
	}
	submit := find(form, func(n *html.Node) bool { typ, _ := attr(n, "type"); return n.Data == "button" && typ == "submit" })
	if len(submit) != 1 {
		t.Error("no submit button")
	}
	if got := text(byID(doc, "counter")); got != "0 / 1000" {
		t.Errorf("counter = %q", got)
	}
	if got := text(byID(doc, "countdown-text")); got != "about 5 min left" {
		t.Errorf("countdown = %q", got)
	}
}

func TestPendingPageWithoutOptionsAsksForTextOnly(t *testing.T) {
	r := newRenderer(t)
	v := sampleView(StatePending, "zh", "light")
	v.Options = nil
	out, doc := renderPage(t, r, v)
	if len(find(doc, func(n *html.Node) bool { return n.Data == "fieldset" })) != 0 {
		t.Error("an empty fieldset is rendered")
	}
	if !strings.Contains(out, tr(t, r, "zh", "form.answerLabel")) {
		t.Error("the text box is not labelled as the answer")
	}
}

func TestRefusedFormPostExplainsAndKeepsTheDraft(t *testing.T) {
	r := newRenderer(t)
	cases := []struct {
		err       FormError
		key       string
		wantField string
	}{
		{FormError{Code: "INVALID_REQUEST", Field: "freeText"}, "error.INVALID_REQUEST.freeText", "freeText"},
		{FormError{Code: "INVALID_REQUEST", Field: "selectedOptions[1]"}, "error.INVALID_REQUEST.selectedOptions", ""},
		{FormError{Code: "INVALID_REQUEST", Field: "metadata"}, "error.INVALID_REQUEST", ""},
		{FormError{Code: "RATE_LIMITED"}, "error.RATE_LIMITED", ""},
		{FormError{Code: "SERVICE_UNAVAILABLE"}, "error.SERVICE_UNAVAILABLE", ""},
		{FormError{Code: "SOMETHING_NEW"}, "error.generic", ""},
		{FormError{Code: "</p><script>alert(1)</script>"}, "error.generic", ""},
	}
	for _, lang := range languages {
		for _, c := range cases {
			v := sampleView(StatePending, lang, "dark")
			v.FormError = &c.err
			v.Draft = &Answer{SelectedOptions: []string{"Wait a day"}, FreeText: "héllo 🌍"}
			out, doc := renderPage(t, r, v)
			box := byID(doc, "form-error")
			if _, hidden := attr(box, "hidden"); hidden {
				t.Errorf("%s %v: error hidden", lang, c.err)
			}
			if want := tr(t, r, lang, c.key, "max", 1000); text(byID(doc, "form-error-text")) != want {
				t.Errorf("%s %v: error text %q, want %q", lang, c.err, text(byID(doc, "form-error-text")), want)
			}
			if strings.Contains(out, "<script>alert") {
				t.Errorf("%s: the error code was rendered as markup", lang)
			}
			invalid, _ := attr(byID(doc, "free-text"), "aria-invalid")
			if (invalid == "true") != (c.wantField == "freeText") {
				t.Errorf("%s %v: aria-invalid=%q", lang, c.err, invalid)
			}
			if got := text(byID(doc, "free-text")); got != "héllo 🌍" {
				t.Errorf("draft text = %q", got)
			}
			if got := text(byID(doc, "counter")); got != "7 / 1000" {
				t.Errorf("counter counts %q, want characters", got)
			}
			checked := find(doc, func(n *html.Node) bool { _, ok := attr(n, "checked"); return ok })
			if len(checked) != 1 {
				t.Fatalf("%d boxes checked, want 1", len(checked))
			}
			if val, _ := attr(checked[0], "value"); val != "Wait a day" {
				t.Errorf("checked %q", val)
			}
		}
	}
}

func TestNoErrorBoxWithoutAnError(t *testing.T) {
	r := newRenderer(t)
	_, doc := renderPage(t, r, sampleView(StatePending, "en", "dark"))
	if _, hidden := attr(byID(doc, "form-error"), "hidden"); !hidden {
		t.Error("an empty error box is shown")
	}
}

// pageScriptData returns the JSON the page hands to feedback.js, and fails if
// the page holds any other script than that block and the external file.
func pageScriptData(t *testing.T, doc *html.Node) map[string]any {
	t.Helper()
	var data map[string]any
	for _, s := range find(doc, func(n *html.Node) bool { return n.Data == "script" }) {
		typ, _ := attr(s, "type")
		src, hasSrc := attr(s, "src")
		switch {
		case hasSrc && strings.HasPrefix(src, StaticPrefix) && text(s) == "":
		case typ == "application/json":
			if id, _ := attr(s, "id"); id != "page-data" || data != nil {
				t.Fatalf("unexpected JSON script %q", id)
			}
			if err := json.Unmarshal([]byte(text(s)), &data); err != nil {
				t.Fatalf("page-data is not JSON: %v\n%s", err, text(s))
			}
		default:
			t.Fatalf("unexpected script element: type=%q src=%q body=%q", typ, src, text(s))
		}
	}
	return data
}

func TestPageDataCarriesWhatTheScriptNeeds(t *testing.T) {
	r := newRenderer(t)
	v := sampleView(StatePending, "zh", "auto")
	_, doc := renderPage(t, r, v)
	data := pageScriptData(t, doc)
	want := map[string]any{
		"state": "pending", "lang": "zh", "sessionId": v.SessionID,
		"submitUrl": v.SubmitURL, "stateUrl": v.StateURL, "wsUrl": v.WSURL, "wsToken": v.WSToken,
		"expiresAt": "2026-03-04T10:04:30Z", "serverNow": "2026-03-04T10:00:00Z", "maxFreeText": float64(1000),
	}
	for k, w := range want {
		if data[k] != w {
			t.Errorf("page-data %s = %#v, want %#v", k, data[k], w)
		}
	}
	i18n, _ := data["i18n"].(map[string]any)
	if i18n["form.submit"] != tr(t, r, "zh", "form.submit") {
		t.Errorf("page-data lacks the zh translations")
	}

	// A socket URL without its token is useless: poll instead.
	v.WSToken = ""
	_, doc = renderPage(t, r, v)
	if data := pageScriptData(t, doc); data["wsUrl"] != nil {
		t.Errorf("wsUrl without a token: %v", data["wsUrl"])
	}
}

// hostile are payloads that must never become markup or script anywhere.
var hostile = []string{
	"<script>alert(1)</script>",
	"</script><script>alert(1)</script>",
	"</SCRIPT ><script>alert(1)</script>",
	"<!--<script>alert(1)//-->",
	"<img src=x onerror=alert(1)>",
	"\"><img src=x onerror=alert(1)>",
	"'><svg onload=alert(1)>",
	"[x](javascript:alert(1))",
	"[x](JaVaScRiPt:alert(1))",
	"<javascript:alert(1)>",
	"javascript:alert(1)",
	" JavaScript:alert(1)",
	"data:text/html,<script>alert(1)</script>",
	"<div onmouseover=\"alert(1)\">\nhi\n</div>",
	"inline <b onclick=alert(1)>x</b> html",
	"{{.SessionID}} ${alert(1)} `alert(1)`",
	"\u2028\u2029</script>",
	"\xff\xfe\xc3(<script>alert(1)</script>",
}

// assertNoInjectedMarkup fails if the document holds anything a payload
// could have brought: scripts other than the page's own, event handlers,
// inline styles, images, frames, or script URLs.
func assertNoInjectedMarkup(t *testing.T, label, out string, doc *html.Node) {
	t.Helper()
	pageScriptData(t, doc)
	forbidden := map[string]bool{"img": true, "iframe": true, "object": true, "embed": true, "style": true, "base": true, "frame": true, "form": false}
	walk(doc, func(n *html.Node) {
		if n.Type == html.CommentNode {
			t.Errorf("%s: comment in page: %q", label, n.Data)
		}
		if n.Type != html.ElementNode {
			return
		}
		if forbidden[n.Data] {
			t.Errorf("%s: <%s> in page", label, n.Data)
		}
		if n.Data == "svg" {
			if h, _ := attr(n, "aria-hidden"); h != "true" {
				t.Errorf("%s: an <svg> that is not one of the page's icons", label)
			}
		}
		for _, a := range n.Attr {
			key := strings.ToLower(a.Key)
			val := strings.ToLower(strings.TrimSpace(a.Val))
			if strings.HasPrefix(key, "on") || key == "style" || key == "srcdoc" {
				t.Errorf("%s: attribute %s=%q on <%s>", label, a.Key, a.Val, n.Data)
			}
			if (key == "href" || key == "src" || key == "action" || key == "formaction") &&
				(strings.HasPrefix(val, "javascript:") || strings.HasPrefix(val, "data:") || strings.HasPrefix(val, "vbscript:")) {
				t.Errorf("%s: %s=%q on <%s>", label, a.Key, a.Val, n.Data)
			}
		}
	})
	if !utf8.ValidString(out) {
		t.Errorf("%s: page is not valid UTF-8", label)
	}
}

func TestHostileInputNeverBecomesMarkup(t *testing.T) {
	r := newRenderer(t)
	for _, state := range allStates {
		for i, payload := range hostile {
			v := sampleView(state, languages[i%2], themes[i%3])
			v.Message = "Question: " + payload
			v.Options = []string{payload, "ok " + payload}
			v.SessionID = payload
			v.SubmitURL, v.StateURL, v.WSURL, v.WSToken = payload, payload, payload, payload
			v.FormAction = payload
			v.Sent = &Answer{SelectedOptions: []string{payload}, FreeText: payload, SubmittedAt: testNow}
			v.Draft = &Answer{SelectedOptions: []string{payload}, FreeText: payload}
			v.FormError = &FormError{Code: payload, Field: payload}
			label := fmt.Sprintf("%s/%q", state, payload)
			out, doc := renderPage(t, r, v)
			assertNoInjectedMarkup(t, label, out, doc)

			// The payload survives as the text it is, where it is shown.
			data := pageScriptData(t, doc)
			if want := strings.ToValidUTF8(payload, "\uFFFD"); data["sessionId"] != want {
				t.Errorf("%s: sessionId in page-data = %q, want %q", label, data["sessionId"], want)
			}
			if state == StatePending {
				box := byID(doc, "opt-0")
				if val, _ := attr(box, "value"); val != strings.ToValidUTF8(payload, "\uFFFD") {
					t.Errorf("%s: option value = %q", label, val)
				}
			}
		}
	}
}

func TestPageDataCannotEndItsScriptElement(t *testing.T) {
	r := newRenderer(t)
	v := sampleView(StatePending, "en", "dark")
	v.SessionID = "</script><script>alert(1)</script><!--"
	var buf bytes.Buffer
	if err := r.Page(&buf, v); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	start := strings.Index(out, `<script type="application/json" id="page-data">`)
	body := out[start:]
	body = body[strings.Index(body, ">")+1:]
	end := strings.Index(strings.ToLower(body), "</script")
	if strings.Contains(body[:end], "<") {
		t.Errorf("page-data contains a raw '<': %s", body[:end])
	}
	var data map[string]any
	if err := json.Unmarshal([]byte(body[:end]), &data); err != nil || data["sessionId"] != v.SessionID {
		t.Errorf("page-data = %v (%v)", data, err)
	}
}

func TestPageIsCSPCompatible(t *testing.T) {
	r := newRenderer(t)
	pages := map[string]func(*bytes.Buffer) error{
		"notfound": func(b *bytes.Buffer) error { return r.NotFound(b, "zh", "dark") },
		"error":    func(b *bytes.Buffer) error { return r.Error(b, "en", "light", "SERVICE_UNAVAILABLE") },
		"home": func(b *bytes.Buffer) error {
			return r.Home(b, HomeView{Lang: "en", Theme: "auto", BaseURL: "https://feedback.example.com"})
		},
	}
	for _, state := range allStates {
		v := sampleView(state, "en", "auto")
		pages[string(state)] = func(b *bytes.Buffer) error { return r.Page(b, v) }
	}
	for name, render := range pages {
		var buf bytes.Buffer
		if err := render(&buf); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out, doc := parseDoc(t, buf.String())
		assertNoInjectedMarkup(t, name, out, doc)
		for _, n := range find(doc, func(n *html.Node) bool { return n.Data == "link" || n.Data == "script" }) {
			for _, key := range []string{"href", "src"} {
				if u, ok := attr(n, key); ok && !strings.HasPrefix(u, StaticPrefix) {
					t.Errorf("%s: <%s %s=%q> loads from outside /static/", name, n.Data, key, u)
				}
			}
		}
	}
}

func TestNotFoundPageIsFriendlyInTheChosenLanguage(t *testing.T) {
	r := newRenderer(t)
	for _, lang := range languages {
		var buf bytes.Buffer
		if err := r.NotFound(&buf, lang, "dark"); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		for _, key := range []string{"notfound.title", "notfound.body"} {
			if !strings.Contains(out, htmlEscape(tr(t, r, lang, key))) {
				t.Errorf("%s not-found page lacks %s", lang, key)
			}
		}
		if strings.Contains(out, "feedback.js") {
			t.Errorf("%s not-found page loads the form script", lang)
		}
	}
	// Unknown language and theme values fall back instead of failing.
	var buf bytes.Buffer
	if err := r.NotFound(&buf, "\"><script>", "\"><script>"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `<html lang="en" data-theme="auto">`) {
		t.Errorf("fallbacks not applied: %.200s", buf.String())
	}
}

func TestErrorPageTranslatesTheCodeAndHidesDetails(t *testing.T) {
	r := newRenderer(t)
	for _, lang := range languages {
		for code, key := range map[string]string{
			"SERVICE_UNAVAILABLE": "error.SERVICE_UNAVAILABLE", "RATE_LIMITED": "error.RATE_LIMITED",
			"INTERNAL_ERROR": "error.INTERNAL_ERROR", "panic: runtime error": "error.generic",
		} {
			var buf bytes.Buffer
			if err := r.Error(&buf, lang, "light", code); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			if !strings.Contains(out, htmlEscape(tr(t, r, lang, key))) {
				t.Errorf("%s %s: lacks %s", lang, code, key)
			}
			if strings.Contains(out, "panic") {
				t.Errorf("%s: the raw code leaked into the page", lang)
			}
		}
	}
}

func TestPageRejectsAnUnknownState(t *testing.T) {
	r := newRenderer(t)
	v := sampleView("answered", "en", "dark")
	var buf bytes.Buffer
	if err := r.Page(&buf, v); err == nil {
		t.Fatal("no error for an unknown state")
	}
	if buf.Len() != 0 {
		t.Errorf("half a page was written: %q", buf.String())
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("client went away") }

func TestPageReportsWriteFailures(t *testing.T) {
	r := newRenderer(t)
	if err := r.Page(failingWriter{}, sampleView(StatePending, "en", "dark")); err == nil {
		t.Error("a failed write was not reported")
	}
}

func TestPageDefaultsAndFallbacks(t *testing.T) {
	r := newRenderer(t)
	v := sampleView(StatePending, "fr", "sepia")
	v.MaxFreeText = 0
	v.ServerNow = time.Time{}
	v.ExpiresAt = time.Now().Add(30 * time.Second)
	out, doc := renderPage(t, r, v)
	if !strings.Contains(out, `<html lang="en" data-theme="auto">`) {
		t.Errorf("unknown lang/theme not defaulted: %.120s", out)
	}
	if got := text(byID(doc, "countdown-text")); got != "under a minute left" {
		t.Errorf("countdown = %q", got)
	}
	if data := pageScriptData(t, doc); data["maxFreeText"] != float64(DefaultMaxFreeText) {
		t.Errorf("maxFreeText = %v", data["maxFreeText"])
	}

	v.ExpiresAt = v.ServerNow.Add(-time.Second)
	v.ServerNow = testNow
	v.ExpiresAt = testNow.Add(-time.Second)
	_, doc = renderPage(t, r, v)
	if got := text(byID(doc, "countdown-text")); got != "Time's up" {
		t.Errorf("countdown past the deadline = %q", got)
	}
}

func TestRendererIsSafeForConcurrentUse(t *testing.T) {
	r := newRenderer(t)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := sampleView(allStates[i%len(allStates)], languages[i%2], themes[i%3])
			if err := r.Page(new(bytes.Buffer), v); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

func TestFinishedPagesSayWhenTheQuestionWasAsked(t *testing.T) {
	r := newRenderer(t)
	for _, state := range allStates {
		out, doc := renderPage(t, r, sampleView(state, "en", "light"))
		asked := find(doc, func(n *html.Node) bool { k, _ := attr(n, "data-key"); return k == "meta.asked" })
		if state == StatePending {
			if len(asked) != 0 {
				t.Errorf("pending page shows when it was asked; the countdown matters there")
			}
			continue
		}
		if len(asked) != 1 || !strings.Contains(out, "Asked 2026-03-04 09:59 UTC") {
			t.Errorf("%s: no asked time", state)
			continue
		}
		if dt, _ := attr(asked[0], "datetime"); dt != "2026-03-04T09:59:00Z" {
			t.Errorf("%s: asked datetime = %q", state, dt)
		}
	}
}

// The landing page at / says what the server is and where to go, in the
// chosen language and theme, with no script and nothing from elsewhere.
func TestHomePageInBothLanguagesAndAllThemes(t *testing.T) {
	r := newRenderer(t)
	for _, lang := range languages {
		for _, theme := range themes {
			var buf bytes.Buffer
			if err := r.Home(&buf, HomeView{Lang: lang, Theme: theme, BaseURL: "https://feedback.example.com/", Version: "1.2.3"}); err != nil {
				t.Fatal(err)
			}
			out, doc := parseDoc(t, buf.String())
			htmlLang := map[string]string{"en": "en", "zh": "zh-CN"}[lang]
			if !strings.Contains(out, `<html lang="`+htmlLang+`" data-theme="`+theme+`">`) {
				t.Errorf("%s/%s: wrong html element: %.200s", lang, theme, out)
			}
			for _, key := range []string{"home.title", "home.what", "home.people", "home.openapi", "home.health", "home.mcp"} {
				if !strings.Contains(text(doc), tr(t, r, lang, key)) {
					t.Errorf("%s/%s: lacks %s", lang, theme, key)
				}
			}
			if !strings.Contains(text(doc), tr(t, r, lang, "home.version", "version", "1.2.3")) {
				t.Errorf("%s/%s: no version", lang, theme)
			}
			links := map[string]bool{}
			for _, a := range find(doc, func(n *html.Node) bool { return n.Data == "a" }) {
				href, _ := attr(a, "href")
				links[href] = true
			}
			for _, want := range []string{"/openapi.json", "/health", "?lang=en&theme=" + theme, "?lang=zh&theme=" + theme} {
				if !links[want] {
					t.Errorf("%s/%s: no link to %s (links %v)", lang, theme, want, links)
				}
			}
			if !strings.Contains(text(doc), "https://feedback.example.com/mcp") {
				t.Errorf("%s/%s: the MCP address is not shown", lang, theme)
			}
			if strings.Contains(out, "<script") {
				t.Errorf("%s/%s: the landing page loads a script", lang, theme)
			}
		}
	}
	// What comes from the request is text, never markup.
	var buf bytes.Buffer
	if err := r.Home(&buf, HomeView{BaseURL: `http://"><script>alert(1)</script>`, Version: "<b>x</b>"}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "<script>") || strings.Contains(buf.String(), "<b>") {
		t.Errorf("request data became markup: %s", buf.String())
	}
}
