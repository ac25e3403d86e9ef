package edge_test

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/edge"
	"github.com/feedbackd/feedbackd/pkg/auth"
	"github.com/feedbackd/feedbackd/sessions"
)

// noRedirects sees a redirect instead of following it.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// htmlPage is one response of a page route, parsed.
type htmlPage struct {
	Status int
	Header http.Header
	Body   string
	Doc    *html.Node
}

// fetchPage sends a request to a page route; body, when given, is posted as
// a form.
func fetchPage(t testing.TB, method, url string, header http.Header, form url.Values) *htmlPage {
	t.Helper()
	var rd io.Reader
	if form != nil {
		rd = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if form != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	p := &htmlPage{Status: res.StatusCode, Header: res.Header, Body: string(b)}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		if p.Doc, err = html.Parse(strings.NewReader(p.Body)); err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
	}
	return p
}

func getPage(t testing.TB, url string) *htmlPage { return fetchPage(t, "GET", url, nil, nil) }

func walkNodes(n *html.Node, f func(*html.Node)) {
	f(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walkNodes(c, f)
	}
}

func nodeAttr(n *html.Node, key string) (string, bool) {
	if n == nil {
		return "", false
	}
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func findNodes(doc *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	walkNodes(doc, func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
	})
	return out
}

func (p *htmlPage) byID(id string) *html.Node {
	nodes := findNodes(p.Doc, func(n *html.Node) bool { v, _ := nodeAttr(n, "id"); return v == id })
	if len(nodes) == 0 {
		return nil
	}
	return nodes[0]
}

func nodeText(n *html.Node) string {
	var b strings.Builder
	walkNodes(n, func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
	})
	return b.String()
}

// state is what the card says the page shows.
func (p *htmlPage) state() string {
	v, _ := nodeAttr(p.byID("card"), "data-state")
	return v
}

// views lists the notice sections that are not hidden.
func (p *htmlPage) views() []string {
	var out []string
	for _, n := range findNodes(p.Doc, func(n *html.Node) bool { _, ok := nodeAttr(n, "data-view"); return ok }) {
		if _, hidden := nodeAttr(n, "hidden"); !hidden {
			v, _ := nodeAttr(n, "data-view")
			out = append(out, v)
		}
	}
	return out
}

func (p *htmlPage) root() *html.Node {
	return findNodes(p.Doc, func(n *html.Node) bool { return n.Data == "html" })[0]
}

// scriptData is the JSON the page hands its script.
func (p *htmlPage) scriptData(t testing.TB) map[string]any {
	t.Helper()
	n := p.byID("page-data")
	if n == nil {
		t.Fatalf("no page-data in %s", p.Body)
	}
	var data map[string]any
	if err := json.Unmarshal([]byte(nodeText(n)), &data); err != nil {
		t.Fatalf("page-data: %v", err)
	}
	return data
}

// translations are the page's texts, read from the web package's files so
// the tests follow the wording.
var translations = sync.OnceValue(func() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, lang := range []string{"en", "zh"} {
		b, err := os.ReadFile("../web/i18n/" + lang + ".json")
		if err != nil {
			panic(err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			panic(err)
		}
		out[lang] = m
	}
	return out
})

func tr(lang, key string) string {
	s, ok := translations()[lang][key]
	if !ok {
		panic("no translation " + lang + " " + key)
	}
	return s
}

// assertHTMLHeaders checks what every HTML page must carry.
func assertHTMLHeaders(t testing.TB, label string, p *htmlPage) {
	t.Helper()
	want := map[string]string{
		"Content-Type":           "text/html; charset=utf-8",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
	}
	for k, v := range want {
		if got := p.Header.Get(k); got != v {
			t.Errorf("%s: %s = %q, want %q", label, k, got, v)
		}
	}
	if !strings.Contains(p.Header.Get("Vary"), "Accept-Language") {
		t.Errorf("%s: Vary = %q", label, p.Header.Get("Vary"))
	}
	csp := p.Header.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("%s: CSP %q lacks %q", label, csp, d)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("%s: CSP allows inline script: %q", label, csp)
	}
}

// assertNoLeaks fails on internals a person must never see.
func assertNoLeaks(t testing.TB, label string, p *htmlPage) {
	t.Helper()
	for _, s := range []string{"goroutine ", ".go:", "panic", "nats:", "jetstream", "runtime error"} {
		if strings.Contains(p.Body, s) {
			t.Errorf("%s: page shows %q: %s", label, s, p.Body)
		}
	}
}

// shortEdge serves sessions that may be as short as one second (and as long
// as four hours).
func shortEdge(t testing.TB, opts ...programtest.Option) *restEdge {
	e, _ := newREST(t, append([]programtest.Option{programtest.ShortTimeouts()}, opts...)...)
	return e
}

func TestPageShowsEveryState(t *testing.T) {
	t.Parallel()
	clk := newClock()
	e := shortEdge(t, programtest.Sessions(sessions.WithClock(clk.Now)))
	ask := map[string]any{"message": "Ship **v2** today?", "predefinedOptions": []string{"Yes", "No"}}
	pending := e.create(t, keyA, ask)
	completed := e.create(t, keyA, ask)
	if r := e.submit(t, completed, map[string]any{"selectedOptions": []string{"Yes"}, "freeText": "secret answer"}); r.Status != 200 {
		t.Fatalf("submit: %d %s", r.Status, r.Raw)
	}
	cancelled := e.create(t, keyA, ask)
	if r := do(t, "POST", e.URL+"/api/feedback/"+cancelled+"/cancel", keyA, "", nil); r.Status != 200 {
		t.Fatalf("cancel: %d %s", r.Status, r.Raw)
	}
	expired := e.create(t, keyA, map[string]any{"message": "Quick", "timeout": 1})
	clk.Add(2 * time.Second) // no expirer runs: the page itself must see the deadline

	cases := []struct {
		name, path, state string
		views             []string
		title             string
	}{
		{"pending", "/feedback/" + pending, "pending", nil, ""},
		{"completed", "/feedback/" + completed, "completed", []string{"completed"}, "view.completed.title"},
		{"submitted after the redirect", "/feedback/" + completed + "?sent=1", "submitted", []string{"submitted"}, "view.submitted.title"},
		{"cancelled", "/feedback/" + cancelled, "cancelled", []string{"cancelled"}, "view.cancelled.title"},
		{"pending past its deadline", "/feedback/" + expired, "expired", []string{"expired"}, "view.expired.title"},
		{"sent=1 on a pending session changes nothing", "/feedback/" + pending + "?sent=1", "pending", nil, ""},
	}
	for _, lang := range []string{"en", "zh"} {
		for _, tc := range cases {
			label := tc.name + "/" + lang
			p := getPage(t, e.URL+tc.path+sep(tc.path)+"lang="+lang)
			if p.Status != 200 {
				t.Fatalf("%s: status %d: %s", label, p.Status, p.Body)
			}
			assertHTMLHeaders(t, label, p)
			assertNoLeaks(t, label, p)
			if p.state() != tc.state {
				t.Errorf("%s: card state %q, want %q", label, p.state(), tc.state)
			}
			if tc.state == "pending" {
				if len(p.views()) != 0 || p.byID("answer-form") == nil {
					t.Errorf("%s: pending page shows %v, form %v", label, p.views(), p.byID("answer-form") != nil)
				}
				if !strings.Contains(p.Body, "<strong>v2</strong>") {
					t.Errorf("%s: message not rendered as Markdown", label)
				}
				continue
			}
			if fmt.Sprint(p.views()) != fmt.Sprint(tc.views) {
				t.Errorf("%s: views %v, want %v", label, p.views(), tc.views)
			}
			if !strings.Contains(nodeText(p.Doc), tr(lang, tc.title)) {
				t.Errorf("%s: page lacks %q", label, tr(lang, tc.title))
			}
			if p.byID("answer-form") != nil {
				t.Errorf("%s: a finished page must not offer the form", label)
			}
			if strings.Contains(p.Body, "secret answer") {
				t.Errorf("%s: the page shows the answer to whoever holds the link", label)
			}
		}
	}
}

func sep(path string) string {
	if strings.Contains(path, "?") {
		return "&"
	}
	return "?"
}

func TestPageUnknownAndMalformedIDsAreFriendly404s(t *testing.T) {
	t.Parallel()
	e, _ := newREST(t)
	paths := []string{
		"/feedback/" + sessions.NewID(),
		"/feedback/nope",
		"/feedback/5E16ED4D-E404-4882-876E-AF768F85AE7C",
		"/feedback/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
		"/feedback/" + strings.Repeat("a", 4000),
		"/feedback/" + sessions.NewID() + "/nothing-here",
		"/feedback/",
	}
	for _, lang := range []struct{ query, header, want string }{
		{"lang=zh", "", "zh"},
		{"lang=en", "zh-CN,zh;q=0.9", "en"},
		{"", "zh-TW,zh;q=0.9,en;q=0.5", "zh"},
		{"", "", "en"},
	} {
		for _, path := range paths {
			label := path + "?" + lang.query + " Accept-Language: " + lang.header
			h := http.Header{}
			if lang.header != "" {
				h.Set("Accept-Language", lang.header)
			}
			p := fetchPage(t, "GET", e.URL+path+"?"+lang.query, h, nil)
			if p.Status != 404 || p.Doc == nil {
				t.Fatalf("%s: %d %s %s", label, p.Status, p.Header.Get("Content-Type"), p.Body)
			}
			assertHTMLHeaders(t, label, p)
			assertNoLeaks(t, label, p)
			if !strings.Contains(nodeText(p.Doc), tr(lang.want, "notfound.title")) {
				t.Errorf("%s: no not-found text in %s", label, lang.want)
			}
			if strings.Contains(p.Body, "<script>alert") {
				t.Errorf("%s: the id is echoed as markup", label)
			}
		}
	}
	// A form post to an id that is not there is the same friendly page.
	for _, path := range paths[:2] {
		p := fetchPage(t, "POST", e.URL+path+"?lang=zh", nil, url.Values{"freeText": {"hi"}})
		if p.Status != 404 || !strings.Contains(nodeText(p.Doc), tr("zh", "notfound.title")) {
			t.Errorf("POST %s: %d %s", path, p.Status, p.Body)
		}
	}
}

func TestPageLanguageAndTheme(t *testing.T) {
	t.Parallel()
	e, _ := newREST(t)
	id := e.create(t, keyA, map[string]any{"message": "Which?", "predefinedOptions": []string{"A", "B"}})
	cases := []struct {
		query, acceptLanguage string
		lang, htmlLang, theme string
	}{
		{"lang=zh&theme=dark", "", "zh", "zh-CN", "dark"},
		{"lang=en&theme=light", "zh-CN", "en", "en", "light"},
		{"theme=light", "zh-CN,zh;q=0.9,en;q=0.8", "zh", "zh-CN", "light"},
		{"theme=dark", "en-GB,en;q=0.9", "en", "en", "dark"},
		{"lang=auto&theme=auto", "zh", "zh", "zh-CN", "auto"},
		{"lang=fr&theme=purple", "", "en", "en", "auto"},
		{"", "", "en", "en", "auto"},
	}
	for _, tc := range cases {
		label := tc.query + " / " + tc.acceptLanguage
		h := http.Header{}
		if tc.acceptLanguage != "" {
			h.Set("Accept-Language", tc.acceptLanguage)
		}
		p := fetchPage(t, "GET", e.URL+"/feedback/"+id+"?"+tc.query, h, nil)
		if p.Status != 200 {
			t.Fatalf("%s: %d", label, p.Status)
		}
		assertHTMLHeaders(t, label, p)
		root := p.root()
		if l, _ := nodeAttr(root, "lang"); l != tc.htmlLang {
			t.Errorf("%s: <html lang=%q>, want %q", label, l, tc.htmlLang)
		}
		if th, _ := nodeAttr(root, "data-theme"); th != tc.theme {
			t.Errorf("%s: data-theme %q, want %q", label, th, tc.theme)
		}
		if got := nodeText(p.byID("submit")); got != tr(tc.lang, "form.submit") {
			t.Errorf("%s: submit button %q, want %q", label, got, tr(tc.lang, "form.submit"))
		}
		data := p.scriptData(t)
		if data["lang"] != tc.lang {
			t.Errorf("%s: script language %v", label, data["lang"])
		}
		// The form posts back to the page with the person's choices.
		action, _ := nodeAttr(p.byID("answer-form"), "action")
		u, err := url.Parse(action)
		if err != nil || u.Path != "/feedback/"+id || u.Host != "" {
			t.Errorf("%s: form action %q", label, action)
		}
		q, _ := url.ParseQuery(tc.query)
		for _, k := range []string{"lang", "theme"} {
			if u.Query().Get(k) != q.Get(k) {
				t.Errorf("%s: form action %q does not keep %s", label, action, k)
			}
		}
	}
}

// hostilePayloads try to get script into the page through the message (as
// Markdown) and through the options.
var hostilePayloads = []string{
	"<script>window.__xss=1</script>",
	`<img src=x onerror="window.__xss=2">`,
	"[click me](javascript:window.__xss=3)",
	"[click me](  JaVaScRiPt:window.__xss=3)",
	"<a href=\"javascript:window.__xss=3\">x</a>",
	"![pic](javascript:window.__xss=4)",
	"![pic](x\" onerror=\"window.__xss=4)",
	"[x](data:text/html;base64,PHNjcmlwdD53aW5kb3cuX194c3M9NTwvc2NyaXB0Pg==)",
	"<svg onload=window.__xss=6>",
	"<iframe srcdoc=\"<script>parent.__xss=7</script>\"></iframe>",
	"<div>\n<script>window.__xss=8</script>\n</div>",
	"```\n</code></pre><script>window.__xss=9</script>\n```",
	"<details open ontoggle=window.__xss=10>",
	"</script><script>window.__xss=11</script>",
	"<style>body{display:none}</style>",
	"<!-- <script>window.__xss=12</script> -->",
	"[a]: javascript:window.__xss=13\n\n[a]",
	"<base href=\"https://evil.example/\"><meta http-equiv=refresh content=\"0;url=javascript:window.__xss=14\">",
	"\u2028\u2029<textarea></textarea><form action=https://evil.example>",
}

// assertNoExecutableMarkup fails if the page holds anything a payload could
// have brought: scripts other than the page's own, event handlers, inline
// styles, images, frames, script URLs, base or refresh elements.
func assertNoExecutableMarkup(t *testing.T, label string, p *htmlPage) {
	t.Helper()
	forbidden := map[string]bool{"img": true, "iframe": true, "object": true, "embed": true, "style": true, "base": true, "frame": true, "details": true, "video": true, "audio": true, "math": true}
	forms := 0
	walkNodes(p.Doc, func(n *html.Node) {
		if n.Type == html.CommentNode {
			t.Errorf("%s: comment in page: %q", label, n.Data)
		}
		if n.Type != html.ElementNode {
			return
		}
		if forbidden[n.Data] {
			t.Errorf("%s: <%s> in page", label, n.Data)
		}
		switch n.Data {
		case "script":
			src, _ := nodeAttr(n, "src")
			typ, _ := nodeAttr(n, "type")
			id, _ := nodeAttr(n, "id")
			own := (strings.HasPrefix(src, "/static/feedback.") && strings.HasSuffix(src, ".js") && nodeText(n) == "") ||
				(src == "" && typ == "application/json" && id == "page-data")
			if !own {
				t.Errorf("%s: foreign <script src=%q type=%q>%s", label, src, typ, nodeText(n))
			}
		case "svg":
			if h, _ := nodeAttr(n, "aria-hidden"); h != "true" {
				t.Errorf("%s: an <svg> that is not one of the page's icons", label)
			}
		case "meta":
			if _, ok := nodeAttr(n, "http-equiv"); ok {
				t.Errorf("%s: <meta http-equiv> in page", label)
			}
		case "form":
			forms++
		}
		for _, a := range n.Attr {
			key := strings.ToLower(a.Key)
			val := strings.ToLower(strings.Join(strings.Fields(a.Val), ""))
			if strings.HasPrefix(key, "on") || key == "style" || key == "srcdoc" {
				t.Errorf("%s: attribute %s=%q on <%s>", label, a.Key, a.Val, n.Data)
			}
			switch key {
			case "href", "src", "action", "formaction", "xlink:href":
				if strings.HasPrefix(val, "javascript:") || strings.HasPrefix(val, "data:") || strings.HasPrefix(val, "vbscript:") {
					t.Errorf("%s: %s=%q on <%s>", label, a.Key, a.Val, n.Data)
				}
				if strings.Contains(val, "evil.example") {
					t.Errorf("%s: %s=%q on <%s>", label, a.Key, a.Val, n.Data)
				}
			}
		}
	})
	if forms > 1 {
		t.Errorf("%s: %d forms in page", label, forms)
	}
}

func TestPageNeverRunsHostileInput(t *testing.T) {
	t.Parallel()
	e, _ := newREST(t)
	for i, payload := range hostilePayloads {
		opts := []string{payload, fmt.Sprintf("ok %d", i)}
		if len([]rune(payload)) > 100 {
			opts[0] = string([]rune(payload)[:100])
		}
		id := e.create(t, keyA, map[string]any{"message": "Question " + payload, "predefinedOptions": opts})
		for _, view := range []struct{ name, query string }{{"pending", ""}, {"refused post", ""}, {"completed", ""}} {
			label := fmt.Sprintf("%s %q", view.name, payload)
			var p *htmlPage
			switch view.name {
			case "pending":
				p = getPage(t, e.URL+"/feedback/"+id+"?lang=zh&theme=dark")
			case "refused post":
				// The payload comes back as the draft too.
				p = fetchPage(t, "POST", e.URL+"/feedback/"+id, nil, url.Values{"selectedOptions": {opts[0], payload + "x"}, "freeText": {payload}})
				if p.Status != 400 {
					t.Fatalf("%s: %d", label, p.Status)
				}
				if got := nodeText(p.byID("free-text")); got != payload {
					t.Errorf("%s: draft text %q", label, got)
				}
			case "completed":
				if r := e.submit(t, id, map[string]any{"selectedOptions": []string{opts[0]}, "freeText": payload}); r.Status != 200 {
					t.Fatalf("submit: %d %s", r.Status, r.Raw)
				}
				p = getPage(t, e.URL+"/feedback/"+id+"?sent=1&lang=en&theme=light")
			}
			assertNoExecutableMarkup(t, label, p)
			data := p.scriptData(t)
			if data["sessionId"] != id {
				t.Errorf("%s: page-data sessionId %v", label, data["sessionId"])
			}
			if view.name != "completed" {
				// The option is shown as the text it is and posts back unchanged.
				box := p.byID("opt-0")
				if v, _ := nodeAttr(box, "value"); v != opts[0] {
					t.Errorf("%s: option value %q, want %q", label, v, opts[0])
				}
			}
		}
	}
}

func TestPageFormPostSubmitsAndRedirects(t *testing.T) {
	t.Parallel()
	e, _ := newREST(t)
	id := e.create(t, keyA, map[string]any{"message": "Pick", "predefinedOptions": []string{"red", "blue", "green"}})
	// 300 lines of "ab": 1200 characters as the browser sends them (CRLF),
	// 900 as the person typed them.
	text := strings.Repeat("ab\r\n", 299) + "ab"
	p := fetchPage(t, "POST", e.URL+"/feedback/"+id+"?lang=zh&theme=dark", nil,
		url.Values{"selectedOptions": {"red", "green"}, "freeText": {text}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("post: %d %s", p.Status, p.Body)
	}
	loc, err := url.Parse(p.Header.Get("Location"))
	if err != nil || loc.Host != "" || loc.Path != "/feedback/"+id ||
		loc.Query().Get("sent") != "1" || loc.Query().Get("lang") != "zh" || loc.Query().Get("theme") != "dark" {
		t.Fatalf("Location %q", p.Header.Get("Location"))
	}
	p = getPage(t, e.URL+loc.String())
	if p.Status != 200 || p.state() != "submitted" || fmt.Sprint(p.views()) != "[submitted]" {
		t.Fatalf("after redirect: %d state %q views %v", p.Status, p.state(), p.views())
	}
	if !strings.Contains(nodeText(p.Doc), tr("zh", "view.submitted.title")) {
		t.Errorf("after redirect: no thanks in zh")
	}

	r := do(t, "GET", e.URL+"/api/feedback/"+id+"/result", keyA, "", nil)
	var res struct {
		Feedback struct {
			SelectedOptions  []string
			FreeText         string
			CombinedFeedback string
		}
	}
	r.data(t, &res)
	want := strings.ReplaceAll(text, "\r\n", "\n")
	if fmt.Sprint(res.Feedback.SelectedOptions) != "[red green]" || res.Feedback.FreeText != want ||
		res.Feedback.CombinedFeedback != "red\ngreen\n\n"+want {
		t.Fatalf("result: %s", r.Raw)
	}

	// Text only, no options at all.
	id2 := e.create(t, keyA, map[string]any{"message": "Say something"})
	if p := fetchPage(t, "POST", e.URL+"/feedback/"+id2, nil, url.Values{"freeText": {"hello"}}); p.Status != 303 || p.Header.Get("Location") != "/feedback/"+id2+"?sent=1" {
		t.Fatalf("text-only post: %d %q", p.Status, p.Header.Get("Location"))
	}
	r = do(t, "GET", e.URL+"/api/feedback/"+id2+"/result", keyA, "", nil)
	if !strings.Contains(string(r.Raw), `"combinedFeedback":"hello"`) {
		t.Fatalf("text-only result: %s", r.Raw)
	}
}

func TestPageFormPostRefusedKeepsDraft(t *testing.T) {
	t.Parallel()
	e, _ := newREST(t)
	id := e.create(t, keyA, map[string]any{"message": "Pick", "predefinedOptions": []string{"red", "blue"}})
	long := strings.Repeat("字", 1001)
	cases := []struct {
		name    string
		ctype   string
		form    url.Values
		field   string // the control marked invalid
		errText string
	}{
		{"nothing chosen or written", "", url.Values{"freeText": {"  "}}, "", "error.INVALID_REQUEST.selectedOptions"},
		{"text too long", "", url.Values{"selectedOptions": {"blue"}, "freeText": {long}}, "freeText", "error.INVALID_REQUEST.freeText"},
		{"an option that is not offered", "", url.Values{"selectedOptions": {"blue", "purple"}, "freeText": {"keep me"}}, "", "error.INVALID_REQUEST.selectedOptions"},
		{"control characters", "", url.Values{"freeText": {"a\x07b"}}, "freeText", "error.INVALID_REQUEST.freeText"},
		{"not a form", "text/plain", url.Values{"freeText": {"x"}}, "", "error.INVALID_REQUEST"},
	}
	for _, lang := range []string{"en", "zh"} {
		for _, tc := range cases {
			label := tc.name + "/" + lang
			h := http.Header{}
			if tc.ctype != "" {
				h.Set("Content-Type", tc.ctype)
			}
			p := fetchPage(t, "POST", e.URL+"/feedback/"+id+"?lang="+lang, h, tc.form)
			if p.Status != 400 {
				t.Fatalf("%s: %d %s", label, p.Status, p.Body)
			}
			assertHTMLHeaders(t, label, p)
			if p.state() != "pending" || p.byID("answer-form") == nil {
				t.Fatalf("%s: state %q", label, p.state())
			}
			errBox := p.byID("form-error")
			if _, hidden := nodeAttr(errBox, "hidden"); hidden {
				t.Errorf("%s: error box hidden", label)
			}
			if got, want := nodeText(p.byID("form-error-text")), strings.ReplaceAll(tr(lang, tc.errText), "{max}", "1000"); got != want {
				t.Errorf("%s: error %q, want %q", label, got, want)
			}
			invalid, _ := nodeAttr(p.byID("free-text"), "aria-invalid")
			if (invalid == "true") != (tc.field == "freeText") {
				t.Errorf("%s: free-text aria-invalid=%q", label, invalid)
			}
			if tc.ctype != "" {
				continue
			}
			// What was typed and ticked is still there.
			if got := nodeText(p.byID("free-text")); got != tc.form.Get("freeText") {
				t.Errorf("%s: draft text %q, want %q", label, got, tc.form.Get("freeText"))
			}
			for i, opt := range []string{"red", "blue"} {
				_, checked := nodeAttr(p.byID(fmt.Sprintf("opt-%d", i)), "checked")
				wantChecked := false
				for _, s := range tc.form["selectedOptions"] {
					wantChecked = wantChecked || s == opt
				}
				if checked != wantChecked {
					t.Errorf("%s: option %s checked=%v", label, opt, checked)
				}
			}
		}
	}
	// None of it was taken as an answer.
	if r := do(t, "GET", e.URL+"/api/feedback/"+id+"/status", keyA, "", nil); !strings.Contains(string(r.Raw), `"pending"`) {
		t.Fatalf("status after refusals: %s", r.Raw)
	}
}

func TestPageFormPostOnFinishedSessionShowsHowItEnded(t *testing.T) {
	t.Parallel()
	clk := newClock()
	e := shortEdge(t, programtest.Sessions(sessions.WithClock(clk.Now)))
	done := e.create(t, keyA, map[string]any{"message": "q"})
	if r := e.submit(t, done, map[string]any{"freeText": "first"}); r.Status != 200 {
		t.Fatal(r.Status)
	}
	cancelled := e.create(t, keyA, map[string]any{"message": "q"})
	if r := do(t, "POST", e.URL+"/api/feedback/"+cancelled+"/cancel", keyA, "", nil); r.Status != 200 {
		t.Fatal(r.Status)
	}
	expired := e.create(t, keyA, map[string]any{"message": "q", "timeout": 1})
	clk.Add(2 * time.Second)
	for _, tc := range []struct {
		id     string
		status int
		state  string
	}{{done, 409, "completed"}, {cancelled, 410, "cancelled"}, {expired, 410, "expired"}} {
		p := fetchPage(t, "POST", e.URL+"/feedback/"+tc.id+"?lang=zh", nil, url.Values{"freeText": {"late answer"}})
		if p.Status != tc.status || p.state() != tc.state || fmt.Sprint(p.views()) != "["+tc.state+"]" {
			t.Errorf("%s: %d state %q views %v", tc.state, p.Status, p.state(), p.views())
		}
		assertHTMLHeaders(t, tc.state, p)
		if !strings.Contains(nodeText(p.Doc), tr("zh", "view."+tc.state+".title")) {
			t.Errorf("%s: not the finished view in zh", tc.state)
		}
	}
	r := do(t, "GET", e.URL+"/api/feedback/"+done+"/result", keyA, "", nil)
	if !strings.Contains(string(r.Raw), `"first"`) {
		t.Fatalf("the first answer must stand: %s", r.Raw)
	}
}

func TestPageStateJSON(t *testing.T) {
	t.Parallel()
	e, _ := newREST(t)
	id := e.create(t, keyA, map[string]any{"message": "q"})
	get := func(id string) (int, http.Header, map[string]any) {
		res, err := http.Get(e.URL + "/feedback/" + id + "/state")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
			t.Fatalf("state of %s: %v", id, err)
		}
		return res.StatusCode, res.Header, body
	}
	status, h, body := get(id)
	if status != 200 || body["status"] != "pending" || len(body) != 2 {
		t.Fatalf("pending: %d %v", status, body)
	}
	exp, err := time.Parse(time.RFC3339, body["expiresAt"].(string))
	if err != nil || time.Until(exp) < 4*time.Minute {
		t.Fatalf("expiresAt %v", body["expiresAt"])
	}
	if h.Get("Cache-Control") != "no-store" || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Fatalf("headers: %v", h)
	}
	e.submit(t, id, map[string]any{"freeText": "x"})
	if status, _, body = get(id); status != 200 || body["status"] != "completed" {
		t.Fatalf("completed: %d %v", status, body)
	}
	if status, _, body = get(sessions.NewID()); status != 404 {
		t.Fatalf("unknown: %d %v", status, body)
	}
	if status, _, _ = get("not-a-uuid"); status != 400 {
		t.Fatalf("malformed: %d", status)
	}
	if r := do(t, "POST", e.URL+"/feedback/"+id+"/state", "", "", nil); r.Status != 405 || r.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST state: %d %v", r.Status, r.Header)
	}
}

func TestPageStaticFilesAreCachedForever(t *testing.T) {
	t.Parallel()
	e, _ := newREST(t)
	id := e.create(t, keyA, map[string]any{"message": "q"})
	p := getPage(t, e.URL+"/feedback/"+id)
	var assets []string
	for _, n := range findNodes(p.Doc, func(n *html.Node) bool { return n.Data == "link" || n.Data == "script" }) {
		for _, k := range []string{"href", "src"} {
			if v, ok := nodeAttr(n, k); ok {
				assets = append(assets, v)
			}
		}
	}
	if len(assets) != 3 {
		t.Fatalf("assets %v", assets)
	}
	types := map[string]string{".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
	for _, a := range assets {
		if !regexp.MustCompile(`^/static/[a-z]+\.[0-9a-f]{10}\.(css|js|svg)$`).MatchString(a) {
			t.Fatalf("asset %q is not a content-hashed static path", a)
		}
		res, err := http.Get(e.URL + a)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || len(b) == 0 || res.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" ||
			res.Header.Get("X-Content-Type-Options") != "nosniff" ||
			!strings.HasPrefix(res.Header.Get("Content-Type"), types[a[strings.LastIndex(a, "."):]]) {
			t.Errorf("%s: %d %v", a, res.StatusCode, res.Header)
		}
		// A revalidation is answered without the body.
		req, _ := http.NewRequest("GET", e.URL+a, nil)
		req.Header.Set("If-None-Match", res.Header.Get("ETag"))
		if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 304 {
			t.Errorf("%s revalidated: %v %v", a, res.StatusCode, err)
		} else {
			res.Body.Close()
		}
	}
	for path, want := range map[string]int{"/static/feedback.css": 200, "/static/nope.js": 404, "/static/../go.mod": 404, "/static/": 404} {
		res, err := http.Get(e.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("%s: %d, want %d", path, res.StatusCode, want)
		}
		if want == 200 && res.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s: Cache-Control %q", path, res.Header.Get("Cache-Control"))
		}
	}
	if r := do(t, "POST", e.URL+assets[0], "", "", nil); r.Status != 405 {
		t.Errorf("POST static: %d", r.Status)
	}
}

func TestPageGetsASocketCredentialForItsOwnSession(t *testing.T) {
	t.Parallel()
	tokens, err := auth.NewPageTokens([]byte(strings.Repeat("s", 32)))
	if err != nil {
		t.Fatal(err)
	}
	ns := programtest.StartNATS(t)
	withWS := runEdge(t, ns.URL, withEdge(func(c *edge.Config) { c.PageTokens = tokens }))
	custom := runEdge(t, ns.URL, withEdge(func(c *edge.Config) { c.PageTokens, c.WSPath = tokens, "https://live.example.com/ws/" }))
	polling := runEdge(t, ns.URL, withEdge(func(c *edge.Config) { c.PageTokens = nil }))

	id := withWS.create(t, keyA, map[string]any{"message": "q", "timeout": 60})
	data := getPage(t, withWS.URL+"/feedback/"+id).scriptData(t)
	if data["wsUrl"] != "/ws/"+id || data["stateUrl"] != "/feedback/"+id+"/state" || data["submitUrl"] != "/api/feedback/"+id+"/submit" {
		t.Fatalf("page-data URLs: %v", data)
	}
	token, _ := data["wsToken"].(string)
	if err := tokens.VerifySession(token, id); err != nil {
		t.Fatalf("page token: %v", err)
	}
	if err := tokens.VerifySession(token, sessions.NewID()); err == nil {
		t.Fatal("the page token works for another session")
	}
	if d := getPage(t, custom.URL+"/feedback/"+id).scriptData(t); d["wsUrl"] != "https://live.example.com/ws/"+id {
		t.Fatalf("custom WSPath: %v", d["wsUrl"])
	}
	if d := getPage(t, polling.URL+"/feedback/"+id).scriptData(t); d["wsUrl"] != nil || d["wsToken"] != nil || d["stateUrl"] == nil {
		t.Fatalf("without PageTokens the page polls: %v", d)
	}

	// A finished session's page has nothing left to watch.
	withWS.submit(t, id, map[string]any{"freeText": "x"})
	if d := getPage(t, withWS.URL+"/feedback/"+id).scriptData(t); d["wsToken"] != nil {
		t.Fatalf("finished page got a token: %v", d)
	}
}

func TestPageTokenLivesUntilJustAfterTheDeadline(t *testing.T) {
	t.Parallel()
	tokens, _ := auth.NewPageTokens([]byte(strings.Repeat("k", 32)))
	e := shortEdge(t, withEdge(func(c *edge.Config) { c.PageTokens = tokens }))
	for _, tc := range []struct {
		timeout int
		want    time.Duration // token life beyond now
	}{
		{5, 5*time.Second + time.Minute},
		{3 * 3600, 2 * time.Hour}, // capped, not the session's three hours and a minute
	} {
		id := e.create(t, keyA, map[string]any{"message": "q", "timeout": tc.timeout})
		token, _ := getPage(t, e.URL+"/feedback/"+id).scriptData(t)["wsToken"].(string)
		if left := time.Until(tokenExpiry(t, token)); left > tc.want || left < tc.want-5*time.Second {
			t.Errorf("timeout %ds: token valid for %s more, want about %s", tc.timeout, left, tc.want)
		}
	}
}

// tokenExpiry reads the expiry a page token carries (pkg/auth: base64url of
// an 8-byte big-endian Unix millisecond deadline and the session id, a dot,
// the MAC).
func tokenExpiry(t testing.TB, token string) time.Time {
	t.Helper()
	payload, _, _ := strings.Cut(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil || len(b) < 8 {
		t.Fatalf("page token %q: %v", token, err)
	}
	return time.UnixMilli(int64(binary.BigEndian.Uint64(b)))
}

func TestPageRoutesAndMethods(t *testing.T) {
	t.Parallel()
	e, _ := newREST(t)
	id := e.create(t, keyA, map[string]any{"message": "q"})
	r := do(t, "DELETE", e.URL+"/feedback/"+id, "", "", nil)
	if r.Status != 405 || r.Header.Get("Allow") != "GET, HEAD, POST" {
		t.Fatalf("DELETE page: %d %v", r.Status, r.Header)
	}
	res, err := http.Head(e.URL + "/feedback/" + id)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("HEAD page: %v %v", res.StatusCode, err)
	}
	res.Body.Close()
	// The API and health still answer as before.
	if r := do(t, "GET", e.URL+"/health", "", "", nil); r.Status != 200 {
		t.Fatalf("health: %d", r.Status)
	}
	if r := do(t, "GET", e.URL+"/api/nothing", keyA, "", nil); r.Status != 404 || r.Body.Success {
		t.Fatalf("api 404: %d %s", r.Status, r.Raw)
	}
}

func TestPageWithStorageDownIsAFriendly503(t *testing.T) {
	t.Parallel()
	e, ns := newREST(t)
	id := e.create(t, keyA, map[string]any{"message": "q"})
	outage(t, ns, e.m)
	for _, lang := range []string{"en", "zh"} {
		p := getPage(t, e.URL+"/feedback/"+id+"?lang="+lang)
		if p.Status != 503 || p.Doc == nil {
			t.Fatalf("%s: %d %s", lang, p.Status, p.Body)
		}
		assertHTMLHeaders(t, "503 "+lang, p)
		assertNoLeaks(t, "503 "+lang, p)
		if !strings.Contains(nodeText(p.Doc), tr(lang, "errorpage.title")) {
			t.Errorf("%s: not the error page: %s", lang, p.Body)
		}
		// A form post that cannot be stored gets the error page too; the
		// browser's Back button still holds what was typed.
		p = fetchPage(t, "POST", e.URL+"/feedback/"+id+"?lang="+lang, nil, url.Values{"freeText": {"hello"}})
		if p.Status != 503 {
			t.Fatalf("post %s: %d %s", lang, p.Status, p.Body)
		}
		assertNoLeaks(t, "503 post "+lang, p)
	}
}
