package edge_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/notifier"
	"github.com/feedbackd/feedbackd/pkg/browsertest"
)

// The feedback page in a real headless Chromium: what a person sees and does,
// end to end through the edge and NATS. Without chromium the tests skip,
// except in CI (CI set), where a missing browser is a failure.

// artifactDir is where screenshots go: FEEDBACKD_ARTIFACTS when set, so CI
// can keep them, else the test's temporary directory.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("FEEDBACKD_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// watchScript runs before any of the page's own scripts and records what must
// never happen: CSP violations (inline script or style the page was not
// written to have, or a payload trying to run) and uncaught errors.
const watchScript = `
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);
});
window.__errors = [];
window.addEventListener('error', (e) => { window.__errors.push(String(e.message)); });
`

// browser is one Chromium shared by every scenario, each in its own tab
// (and window, so that no tab is hidden and throttled).
type browser struct {
	ctx       context.Context
	artifacts string
}

func startBrowser(t *testing.T) *browser {
	t.Helper()
	return &browser{ctx: browsertest.Start(t), artifacts: artifactDir(t)}
}

// tab is one browser tab working for one test.
type tab struct {
	t   *testing.T
	b   *browser
	ctx context.Context // with the scenario's deadline
}

// newTab opens a tab. With js false the page's scripts never run, as in a
// browser with JavaScript turned off.
func (b *browser) newTab(t *testing.T, js bool) *tab {
	t.Helper()
	return b.newTabFor(t, js, 45*time.Second)
}

// newTabFor is newTab for a scenario that may take up to d; opts may put
// the tab in a browser context of its own (chromedp.WithNewBrowserContext),
// with its own cookies and service workers.
func (b *browser) newTabFor(t *testing.T, js bool, d time.Duration, opts ...chromedp.ContextOption) *tab {
	t.Helper()
	tabCtx, cancel := chromedp.NewContext(b.ctx, opts...)
	t.Cleanup(cancel)
	if err := chromedp.Do(tabCtx); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	ctx, cancelDeadline := context.WithTimeout(tabCtx, d)
	t.Cleanup(cancelDeadline)
	tb := &tab{t: t, b: b, ctx: ctx}
	if js {
		_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: watchScript})
		if err != nil {
			t.Fatalf("install watch script: %v", err)
		}
	} else {
		if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatalf("disable JavaScript: %v", err)
		}
	}
	return tb
}

// do runs steps; on failure it saves what the tab showed.
func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, steps...); err != nil {
		tb.failShot()
		tb.t.Fatalf("%s: %v", what, err)
	}
}

func (tb *tab) failShot() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(tb.ctx), 5*time.Second)
	defer cancel()
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		name := "FAILED-" + regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(tb.t.Name(), "_") + ".png"
		_ = os.WriteFile(filepath.Join(tb.b.artifacts, name), png, 0o644)
		tb.t.Logf("screenshot of the failure: %s", filepath.Join(tb.b.artifacts, name))
	}
}

// eval evaluates expr in the page.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.failShot()
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// openPending opens a pending page and waits for its script to take over
// (it builds the images area, on every pending page), which also proves the
// script runs under the page's CSP.
func (tb *tab) openPending(url string) {
	tb.t.Helper()
	tb.do("open "+url,
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.ID("answer-form")),
		chromedp.Poll[chromedp.Void](`!!document.getElementById('dropzone')`, chromedp.WithPollingInterval(50*time.Millisecond)),
	)
	if got := eval[string](tb, `document.visibilityState`); got != "visible" {
		tb.t.Fatalf("the tab is %s: its timers would be throttled", got)
	}
}

// waitView waits until the page shows the named finished view.
func (tb *tab) waitView(view string) {
	tb.t.Helper()
	tb.do("wait for the "+view+" view", chromedp.WaitVisible(chromedp.CSS(`[data-view="`+view+`"]`)))
	if got := eval[[]string](tb, `[...document.querySelectorAll('[data-view]')].filter((s) => !s.hidden).map((s) => s.dataset.view)`); !slices.Equal(got, []string{view}) {
		tb.t.Fatalf("visible views %v, want only %s", got, view)
	}
}

// assertClean fails if a payload ran, the CSP blocked anything, or the page
// threw.
func (tb *tab) assertClean() {
	tb.t.Helper()
	if got := eval[string](tb, `typeof window.__xss`); got != "undefined" {
		tb.t.Errorf("a payload ran: window.__xss is %s (%v)", got, eval[any](tb, `window.__xss`))
	}
	if v := eval[[]string](tb, `window.__cspViolations || []`); len(v) > 0 {
		tb.t.Errorf("CSP violations: %v", v)
	}
	if v := eval[[]string](tb, `window.__errors || []`); len(v) > 0 {
		tb.t.Errorf("script errors: %v", v)
	}
}

func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	png, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(tb.b.artifacts, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("screenshot %s", path)
}

// resultOf reads a session's answer through the REST API, as the agent would.
func resultOf(t *testing.T, e *restEdge, id string) (selected []string, freeText string) {
	t.Helper()
	r := do(t, "GET", e.URL+"/api/feedback/"+id+"/result", keyA, "", nil)
	if r.Status != 200 {
		t.Fatalf("result: %d %s", r.Status, r.Raw)
	}
	var res struct {
		Feedback struct {
			SelectedOptions []string
			FreeText        string
		}
	}
	r.data(t, &res)
	return res.Feedback.SelectedOptions, res.Feedback.FreeText
}

func TestPageInBrowser(t *testing.T) {
	start := time.Now()
	b := startBrowser(t)
	// The page gets a socket credential, as in production. This edge has no
	// notifier behind /ws, so the page must fall back to polling by itself.
	e := shortEdge(t)
	// This one is feedbackd serve, with the real notifier on /ws: the page
	// must switch to the socket and take its updates from there.
	live, n := notifiedEdge(t)

	t.Run("scenarios", func(t *testing.T) {
		t.Run("Screenshots", func(t *testing.T) { t.Parallel(); browserScreenshots(t, b, e) })
		t.Run("SubmitByClick", func(t *testing.T) { t.Parallel(); browserSubmitByClick(t, b, e) })
		t.Run("SubmitByCtrlEnter", func(t *testing.T) { t.Parallel(); browserSubmitByCtrlEnter(t, b, e) })
		t.Run("XSSNeverRuns", func(t *testing.T) { t.Parallel(); browserXSS(t, b, e) })
		t.Run("LiveAnsweredElsewhere", func(t *testing.T) { t.Parallel(); browserLive(t, b, e, "completed") })
		t.Run("LiveCancelled", func(t *testing.T) { t.Parallel(); browserLive(t, b, e, "cancelled") })
		t.Run("LiveExpired", func(t *testing.T) { t.Parallel(); browserLive(t, b, e, "expired") })
		t.Run("NoJavaScriptFormPost", func(t *testing.T) { t.Parallel(); browserNoJS(t, b, e) })
		t.Run("LandingPage", func(t *testing.T) { t.Parallel(); browserHome(t, b, e) })
		t.Run("LiveOverWebSocket", func(t *testing.T) {
			t.Parallel()
			browserLive(t, b, live, "completed")
			if st := n.Stats(); st.Accepted == 0 || st.Sent == 0 {
				t.Fatalf("the page never used the notifier's WebSocket: %+v", st)
			}
		})
	})
	t.Logf("browser suite took %s", time.Since(start).Round(100*time.Millisecond))
}

// notifiedEdge is feedbackd serve with short timeouts: the edge with the
// notifier mounted on /ws, checking the page's credential.
func notifiedEdge(t *testing.T) (*restEdge, *notifier.Notifier) {
	m := programtest.MustRunMain(t, programtest.ShortTimeouts())
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	return &restEdge{URL: m.URL(), Svc: m.Backend().Service(), m: m}, m.Notifier()
}

// browserScreenshots opens a pending page in dark/zh and light/en on a phone
// and on a desktop, checks that nothing overflows sideways and that the
// themes differ, and saves what it saw.
func browserScreenshots(t *testing.T, b *browser, e *restEdge) {
	questions := map[string]map[string]any{
		"zh": {
			"message":           "## 发布前确认\n\n新版本已经在**预发环境**通过了全部测试。请确认：\n\n- 数据库迁移已备份\n- 监控告警已配置\n\n```\nmake deploy ENV=prod\n```\n\n详情见 https://example.com/release-notes",
			"predefinedOptions": []string{"现在发布", "明天早上发布", "先不要发布", "需要再讨论一下发布窗口和回滚方案"},
		},
		"en": {
			"message":           "## Ready to ship?\n\nThe release passed every check on **staging**. Please confirm:\n\n- the database migration is backed up\n- alerts are configured\n\n```\nmake deploy ENV=prod\n```\n\nNotes: https://example.com/release-notes",
			"predefinedOptions": []string{"Ship it now", "Ship tomorrow morning", "Hold the release", "Let's discuss the release window and the rollback plan first"},
		},
	}
	tb := b.newTab(t, true)
	backgrounds := map[string]string{}
	for _, c := range []struct{ theme, lang string }{{"dark", "zh"}, {"light", "en"}} {
		id := e.create(t, keyA, questions[c.lang])
		for _, width := range []int64{375, 1280} {
			height := int64(812)
			if width > 800 {
				height = 900
			}
			name := fmt.Sprintf("pending-%s-%s-%d", c.theme, c.lang, width)
			tb.do("viewport "+name, chromedp.EmulateViewport(width, height, chromedp.EmulateScale(1)))
			tb.openPending(fmt.Sprintf("%s/feedback/%s?theme=%s&lang=%s", e.URL, id, c.theme, c.lang))
			if got := eval[string](tb, `document.documentElement.dataset.theme + ' ' + document.documentElement.lang`); got != c.theme+" "+map[string]string{"zh": "zh-CN", "en": "en"}[c.lang] {
				t.Errorf("%s: theme and language %q", name, got)
			}
			if over := eval[int](tb, `document.documentElement.scrollWidth - window.innerWidth`); over > 0 {
				t.Errorf("%s: the page is %d px wider than the screen", name, over)
			}
			if !regexp.MustCompile(`\d+:\d\d`).MatchString(eval[string](tb, `document.getElementById('countdown-text').textContent`)) {
				t.Errorf("%s: no running countdown", name)
			}
			backgrounds[c.theme] = eval[string](tb, `getComputedStyle(document.body).backgroundColor`)
			tb.screenshot(name)
		}
		tb.assertClean()
	}
	if backgrounds["dark"] == backgrounds["light"] {
		t.Errorf("dark and light themes have the same background %s", backgrounds["dark"])
	}
}

// browserHome opens the landing page at / in both themes and languages, on
// a phone and on a desktop: it fits, the themes differ, nothing is blocked,
// and its language links switch the language.
func browserHome(t *testing.T, b *browser, e *restEdge) {
	tb := b.newTab(t, true)
	backgrounds := map[string]string{}
	for _, c := range []struct{ theme, lang string }{{"dark", "zh"}, {"light", "en"}} {
		for _, width := range []int64{375, 1280} {
			name := fmt.Sprintf("home-%s-%s-%d", c.theme, c.lang, width)
			tb.do("open "+name,
				chromedp.EmulateViewport(width, 900, chromedp.EmulateScale(1)),
				chromedp.Navigate(fmt.Sprintf("%s/?theme=%s&lang=%s", e.URL, c.theme, c.lang)),
				chromedp.WaitVisible(chromedp.ID("page-title")),
			)
			if got := eval[string](tb, `document.documentElement.dataset.theme + ' ' + document.documentElement.lang`); got != c.theme+" "+map[string]string{"zh": "zh-CN", "en": "en"}[c.lang] {
				t.Errorf("%s: theme and language %q", name, got)
			}
			if over := eval[int](tb, `document.documentElement.scrollWidth - window.innerWidth`); over > 0 {
				t.Errorf("%s: the page is %d px wider than the screen", name, over)
			}
			if got := eval[string](tb, `document.getElementById('page-title').textContent`); got != tr(c.lang, "home.title") {
				t.Errorf("%s: title %q", name, got)
			}
			backgrounds[c.theme] = eval[string](tb, `getComputedStyle(document.body).backgroundColor`)
			tb.screenshot(name)
		}
		tb.assertClean()
	}
	if backgrounds["dark"] == backgrounds["light"] {
		t.Errorf("dark and light themes have the same background %s", backgrounds["dark"])
	}
	tb.do("switch to English", chromedp.Click(chromedp.CSS(`nav.langs a[hreflang="en"]`)), chromedp.WaitVisible(chromedp.ID("page-title")))
	if got := eval[string](tb, `document.documentElement.lang + ' ' + document.getElementById('page-title').textContent`); got != "en "+tr("en", "home.title") {
		t.Errorf("after the language link: %q", got)
	}
}

func browserSubmitByClick(t *testing.T, b *browser, e *restEdge) {
	id := e.create(t, keyA, map[string]any{"message": "Which **colours**?", "predefinedOptions": []string{"Red", "Green", "Blue"}})
	tb := b.newTab(t, true)
	tb.do("viewport", chromedp.EmulateViewport(1280, 900))
	tb.openPending(e.URL + "/feedback/" + id + "?theme=light&lang=en")
	tb.do("answer",
		chromedp.Click(chromedp.ID("opt-0")),
		chromedp.Click(chromedp.ID("opt-2")),
		chromedp.SendKeys(chromedp.ID("free-text"), "Both, please.\nThanks!"),
	)
	if got := eval[string](tb, `document.getElementById('counter').textContent`); got != "21 / 1000" {
		t.Errorf("character counter %q", got)
	}
	tb.do("submit", chromedp.Click(chromedp.ID("submit")))
	tb.waitView("submitted")
	if got := eval[[]string](tb, `[...document.querySelectorAll('#sent-options li')].map((li) => li.textContent)`); !slices.Equal(got, []string{"Red", "Blue"}) {
		t.Errorf("the page says it sent %v", got)
	}
	tb.screenshot("submitted-light-en-1280")
	tb.assertClean()
	selected, text := resultOf(t, e, id)
	if !slices.Equal(selected, []string{"Red", "Blue"}) || text != "Both, please.\nThanks!" {
		t.Fatalf("REST result: %v %q", selected, text)
	}
}

func browserSubmitByCtrlEnter(t *testing.T, b *browser, e *restEdge) {
	id := e.create(t, keyA, map[string]any{"message": "有什么想补充的吗？"})
	tb := b.newTab(t, true)
	tb.do("viewport", chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile))
	tb.openPending(e.URL + "/feedback/" + id + "?theme=dark&lang=zh")
	tb.do("type and press Ctrl+Enter",
		chromedp.SendKeys(chromedp.ID("free-text"), "好的，继续。"),
		chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(kb.ModifierCtrl)),
	)
	tb.waitView("submitted")
	tb.screenshot("submitted-dark-zh-375")
	tb.assertClean()
	if _, text := resultOf(t, e, id); text != "好的，继续。" {
		t.Fatalf("REST result %q (Ctrl+Enter must submit, not add a line)", text)
	}
}

func browserXSS(t *testing.T, b *browser, e *restEdge) {
	// The payloads, in as few messages as the 1000-character limit allows.
	var messages []string
	cur := "XSS check"
	for _, p := range hostilePayloads {
		if len([]rune(cur+"\n\n"+p)) > 1000 {
			messages = append(messages, cur)
			cur = "XSS check"
		}
		cur += "\n\n" + p
	}
	messages = append(messages, cur)
	var options []string
	for _, p := range hostilePayloads {
		if len([]rune(p)) <= 100 && len(options) < 10 {
			options = append(options, p)
		}
	}
	tb := b.newTab(t, true)
	for i, msg := range messages {
		id := e.create(t, keyA, map[string]any{"message": msg, "predefinedOptions": options})
		tb.openPending(e.URL + "/feedback/" + id + "?lang=en")
		if n := eval[int](tb, `document.querySelectorAll('.message script, .message img, .message iframe, .message svg, .message style, a[href^="javascript:" i], [onerror], [onload]').length`); n != 0 {
			t.Errorf("message %d: %d executable elements in the page", i, n)
		}
		if got := eval[string](tb, `document.querySelector('.message').textContent`); !strings.Contains(got, "__xss") {
			t.Errorf("message %d: the payloads are not shown as text: %q", i, got)
		}
		// Links the person might click go nowhere dangerous.
		for _, href := range eval[[]string](tb, `[...document.querySelectorAll('.message a')].map((a) => a.href)`) {
			if !strings.HasPrefix(href, "http://") && !strings.HasPrefix(href, "https://") && !strings.HasPrefix(href, "mailto:") {
				t.Errorf("message %d: link to %q", i, href)
			}
		}
		tb.assertClean()
		if i > 0 {
			continue
		}
		// Send the hostile options back: the submitted view shows them too.
		tb.do("tick every option", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('input[name="selectedOptions"]').forEach((box) => box.click())`))
		tb.do("type a payload", chromedp.SendKeys(chromedp.ID("free-text"), hostilePayloads[1]))
		tb.do("submit", chromedp.Click(chromedp.ID("submit")))
		tb.waitView("submitted")
		tb.assertClean()
		selected, text := resultOf(t, e, id)
		if !slices.Equal(selected, options) || text != hostilePayloads[1] {
			t.Errorf("the payloads did not come back as the text they are: %q %q", selected, text)
		}
		// And the page the link shows afterwards.
		tb.do("reload finished page", chromedp.Navigate(e.URL+"/feedback/"+id+"?sent=1"), chromedp.WaitVisible(chromedp.CSS(`[data-view="submitted"]`)))
		tb.assertClean()
	}
}

// browserLive leaves a pending page open while the session ends elsewhere,
// and expects the page to follow without a reload.
func browserLive(t *testing.T, b *browser, e *restEdge, end string) {
	ask := map[string]any{"message": "Still there?", "predefinedOptions": []string{"Yes"}}
	if end == "expired" {
		// Long enough to open the page on a slow machine, short enough to wait for.
		ask["timeout"] = 6
	}
	id := e.create(t, keyA, ask)
	tb := b.newTab(t, true)
	tb.openPending(e.URL + "/feedback/" + id + "?lang=en&theme=light")
	tb.do("mark the document", chromedp.Evaluate[chromedp.Void](`window.__sameDocument = true`))
	switch end {
	case "completed":
		if r := e.submit(t, id, map[string]any{"selectedOptions": []string{"Yes"}}); r.Status != 200 {
			t.Fatalf("submit: %d %s", r.Status, r.Raw)
		}
	case "cancelled":
		if r := do(t, "POST", e.URL+"/api/feedback/"+id+"/cancel", keyA, "", nil); r.Status != 200 {
			t.Fatalf("cancel: %d %s", r.Status, r.Raw)
		}
	case "expired":
		first := eval[string](tb, `document.getElementById('countdown-text').textContent`)
		programtest.WaitFor(t, 5*time.Second, func() error {
			if next := eval[string](tb, `document.getElementById('countdown-text').textContent`); next == first {
				return fmt.Errorf("the countdown stands still at %q", first)
			}
			return nil
		})
	}
	tb.waitView(end)
	if !eval[bool](tb, `window.__sameDocument === true`) {
		t.Fatal("the page reloaded instead of updating")
	}
	if n := eval[int](tb, `document.querySelectorAll('#answer-form').length`); n != 0 {
		t.Errorf("the finished page still offers the form")
	}
	tb.assertClean()
	if end == "expired" {
		// The server agrees: the page did not just guess from its clock.
		r := do(t, "GET", e.URL+"/api/feedback/"+id+"/status", keyA, "", nil)
		if !strings.Contains(string(r.Raw), `"status":"expired"`) {
			t.Errorf("status after the page expired: %s", r.Raw)
		}
	}
}

func browserNoJS(t *testing.T, b *browser, e *restEdge) {
	id := e.create(t, keyA, map[string]any{"message": "没有脚本也能回答吗？", "predefinedOptions": []string{"能", "不能"}})
	tb := b.newTab(t, false)
	tb.do("open", chromedp.Navigate(e.URL+"/feedback/"+id+"?lang=zh&theme=dark"), chromedp.WaitVisible(chromedp.ID("submit")))
	// The script's mark: the shortcut hint stays hidden without it.
	if !eval[bool](tb, `document.getElementById('shortcut').hidden`) {
		t.Fatal("the page's script ran: JavaScript is not off")
	}

	// An empty answer comes back from the server with the reason.
	tb.do("submit nothing", chromedp.Click(chromedp.ID("submit")), chromedp.WaitVisible(chromedp.ID("form-error")))
	tb.screenshot("nojs-refused-dark-zh")

	tb.do("answer",
		chromedp.Click(chromedp.ID("opt-1")),
		chromedp.SendKeys(chromedp.ID("free-text"), "第一行\n第二行"),
		chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.CSS(`[data-view="submitted"]`)),
	)
	loc, err := chromedp.Run(tb.ctx, chromedp.Location())
	if err != nil || !strings.Contains(loc, "sent=1") || !strings.Contains(loc, "lang=zh") {
		t.Errorf("landed on %q (%v)", loc, err)
	}
	tb.screenshot("nojs-submitted-dark-zh")
	selected, text := resultOf(t, e, id)
	if !slices.Equal(selected, []string{"不能"}) || text != "第一行\n第二行" {
		t.Fatalf("REST result: %v %q", selected, text)
	}
}
