package edge_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/serviceworker"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/notifier/dispatch"
	"github.com/feedbackd/feedbackd/notifier/dispatch/dispatchtest"
	"github.com/feedbackd/feedbackd/notifier/dispatch/telegram/telegramfake"
	"github.com/feedbackd/feedbackd/notifier/dispatch/webpush"
	"github.com/feedbackd/feedbackd/notifier/dispatch/webpush/pushfake"
)

// The inbox in a real headless Chromium (docs/inbox.md), against feedbackd
// serve (edge, notifier, dispatcher) with a local push service
// (webpush/pushfake) standing in for the browser vendor's: a person opens an
// inbox link, questions arrive live and are answered in place, another
// principal's never show, a cross-site request with the cookie is refused,
// a revoked link signs the browser out at once, the service worker
// registers, keeps an offline shell and turns pushes into notifications.

// Principals of their own for the scenarios that change settings or take
// screenshots, so that what the others do never shows in them.
const (
	keyC = "test-key-C-0123456789abcdef0123456789"
	keyD = "test-key-D-0123456789abcdef0123456789"
	keyE = "test-key-E-0123456789abcdef0123456789"
	keyF = "test-key-F-0123456789abcdef0123456789"
)

// inboxStack is serve with a push fake the dispatcher delivers to and a
// Telegram Bot API fake (so the deployment offers Telegram), private
// addresses allowed (the fakes are on loopback).
type inboxStack struct {
	*restEdge
	push     *pushfake.Server
	telegram *telegramfake.Server
}

func startInboxStack(t *testing.T) *inboxStack {
	t.Helper()
	fake := pushfake.Start(t, pushfake.Config{})
	tg := telegramfake.Start(t, telegramfake.Config{Token: botToken})
	m := programtest.MustRunMain(t, programtest.ShortTimeouts(), programtest.Env("WEBHOOK_ALLOW_PRIVATE", "true"),
		programtest.Env("API_KEYS", strings.Join([]string{keyA, keyB, keyC, keyD, keyE, keyF}, ",")),
		programtest.Env("TELEGRAM_BOT_TOKEN", string(botToken)), programtest.Env("TELEGRAM_API_URL", tg.URL),
		programtest.Dispatch(func(c *dispatch.Config) { c.WebPush.HTTPClient = fake.Client() }))
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	return &inboxStack{restEdge: &restEdge{URL: m.URL(), Svc: m.Backend().Service(), m: m}, push: fake, telegram: tg}
}

// newWebhookSecret returns a fresh Standard Webhooks secret.
func newWebhookSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

func TestInboxInBrowser(t *testing.T) {
	start := time.Now()
	b := startBrowser(t)
	s := startInboxStack(t)
	t.Run("scenarios", func(t *testing.T) {
		t.Run("SignInLiveAnswerRevoke", func(t *testing.T) { t.Parallel(); browserInboxFlow(t, b, s) })
		t.Run("CrossSiteRequestIsRefused", func(t *testing.T) { t.Parallel(); browserInboxCSRF(t, b, s) })
		t.Run("ServiceWorkerAndPush", func(t *testing.T) { t.Parallel(); browserInboxPush(t, b, s) })
		t.Run("Settings", func(t *testing.T) { t.Parallel(); browserInboxSettings(t, b, s) })
		t.Run("Paging", func(t *testing.T) { t.Parallel(); browserInboxPaging(t, b, s) })
		t.Run("ImagesInPlace", func(t *testing.T) { t.Parallel(); browserInboxImages(t, b, s) })
		t.Run("Screenshots", func(t *testing.T) { t.Parallel(); browserInboxScreenshots(t, b, s) })
	})
	t.Run("OfflineShell", func(t *testing.T) { browserInboxOffline(t, b) })
	t.Logf("inbox browser suite took %s", time.Since(start).Round(100*time.Millisecond))
}

// inboxTab opens a tab in a browser context of its own: each scenario signs
// in as its own principal, with its own cookie jar, service worker and
// permissions.
func (b *browser) inboxTab(t *testing.T, d time.Duration) *tab {
	t.Helper()
	return b.newTabFor(t, true, d, chromedp.WithNewBrowserContext())
}

// openInbox opens an inbox link in tb and waits until the list is shown.
func (tb *tab) openInbox(linkURL string) {
	tb.t.Helper()
	tb.do("open the inbox link",
		chromedp.Navigate(linkURL),
		chromedp.WaitVisible(chromedp.ID("view-questions")),
		chromedp.Poll[chromedp.Void](`document.getElementById('live').dataset.state === 'live'`, chromedp.WithPollingInterval(50*time.Millisecond)),
	)
}

// waitJS waits until expr is true in the page.
func (tb *tab) waitJS(what, expr string) {
	tb.t.Helper()
	tb.do(what, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second)))
}

// item is the CSS selector of a session's entry in the list.
func item(id string) string { return `li.item[data-session-id="` + id + `"]` }

// openItem opens a question in place and waits for its form.
func (tb *tab) openItem(id string) {
	tb.t.Helper()
	tb.do("open "+id, chromedp.Click(chromedp.CSS(item(id)+" .item-head")), chromedp.WaitVisible(chromedp.CSS(item(id)+" #answer-form")))
}

func browserInboxFlow(t *testing.T, b *browser, s *inboxStack) {
	theirs := s.create(t, keyB, map[string]any{"message": "B's secret question"})
	waiting := s.create(t, keyA, map[string]any{"message": "Already waiting", "predefinedOptions": []string{"ok"}})
	l := mintLink(t, s.restEdge, keyA, `{"name":"browser"}`)

	tb := b.inboxTab(t, time.Minute)
	tb.do("viewport", chromedp.EmulateViewport(1280, 900))
	tb.openInbox(l.URL)

	// The token left the address bar and the history at once; the cookie is
	// there, and script cannot read it.
	if href := eval[string](tb, `location.href`); strings.Contains(href, "#") || strings.Contains(href, l.Token) {
		t.Errorf("the address bar still holds the token: %s", href)
	}
	if got := eval[string](tb, `document.cookie`); got != "" {
		t.Errorf("script reads the cookie: %q", got)
	}
	cookies, err := chromedp.Call(tb.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{s.URL}})
	if err != nil {
		t.Fatal(err)
	}
	var found *network.Cookie
	for _, c := range cookies.Cookies {
		if c.Name == "feedbackd_inbox" {
			found = c
		}
	}
	if found == nil || !found.HTTPOnly || found.SameSite != network.CookieSameSiteStrict || found.Path != "/" || found.Session {
		t.Fatalf("the inbox cookie in the browser: %+v (of %d)", found, len(cookies.Cookies))
	}

	// What was waiting is listed; another principal's question is not.
	tb.do("the waiting question", chromedp.WaitVisible(chromedp.CSS(item(waiting))))
	// A new question appears live, first.
	asked := s.create(t, keyA, map[string]any{"message": "## Ship **v2**?\n\nThe release passed.", "predefinedOptions": []string{"Ship it", "Wait"}, "multiSelect": false})
	tb.do("the new question arrives", chromedp.WaitVisible(chromedp.CSS(item(asked))))
	if first := eval[string](tb, `document.querySelector('#list li').dataset.sessionId`); first != asked {
		t.Errorf("the newest waiting question is not first: %s", first)
	}
	if got := eval[string](tb, `document.querySelector('`+item(asked)+` .item-title').textContent`); got != "Ship v2?" {
		t.Errorf("headline %q", got)
	}

	// Answered in place: a single choice.
	tb.openItem(asked)
	tb.do("choose and send", chromedp.Click(chromedp.CSS(item(asked)+` input[value="Ship it"]`)), chromedp.Click(chromedp.CSS(item(asked)+" #submit")))
	tb.do("submitted", chromedp.WaitVisible(chromedp.CSS(item(asked)+` [data-view="submitted"]`)))
	tb.waitJS("the list says answered", `document.querySelector('`+item(asked)+`').dataset.status === 'completed'`)
	if sel, _ := resultOf(t, s.restEdge, asked); !slices.Equal(sel, []string{"Ship it"}) {
		t.Fatalf("the agent reads %v", sel)
	}

	// A form and an approval, both arriving live, both answered in place.
	form := s.create(t, keyA, map[string]any{"message": "When?", "title": "Release date", "fields": map[string]any{
		"type": "object", "properties": map[string]any{
			"day":    map[string]any{"type": "string", "format": "date", "title": "Day"},
			"copies": map[string]any{"type": "integer", "minimum": 1, "maximum": 5, "title": "Copies"},
			"notify": map[string]any{"type": "boolean", "title": "Tell the team?"},
		}, "required": []string{"day", "copies"}}})
	approval := s.create(t, keyA, map[string]any{"kind": "approval", "action": "Run Bash: npm publish", "details": map[string]any{"command": "npm publish"}})
	later := s.create(t, keyB, map[string]any{"message": "B again"})
	tb.do("both arrive", chromedp.WaitVisible(chromedp.CSS(item(form))), chromedp.WaitVisible(chromedp.CSS(item(approval))))
	if got := eval[string](tb, `document.querySelector('`+item(approval)+` .badge').textContent`); got != "Approval" {
		t.Errorf("the approval's badge: %q", got)
	}
	tb.openItem(form)
	tb.do("fill the form",
		chromedp.SetValue(chromedp.CSS(item(form)+" #f-day"), "2026-12-01"),
		chromedp.SendKeys(chromedp.CSS(item(form)+" #f-copies"), "2"),
		chromedp.Click(chromedp.CSS(item(form)+" #f-notify")),
		chromedp.Click(chromedp.CSS(item(form)+" #submit")),
		chromedp.WaitVisible(chromedp.CSS(item(form)+` [data-view="submitted"]`)),
	)
	if r := do(t, "GET", s.URL+"/api/feedback/"+form+"/result", keyA, "", nil); !strings.Contains(string(r.Raw), `"values":{"copies":2,"day":"2026-12-01","notify":true}`) {
		t.Fatalf("the form's answer: %s", r.Raw)
	}
	tb.openItem(approval)
	tb.do("deny with a reason",
		chromedp.SendKeys(chromedp.CSS(item(approval)+" #reason"), "Not on a Friday."),
		chromedp.Click(chromedp.CSS(item(approval)+" #deny")),
		chromedp.WaitVisible(chromedp.CSS(item(approval)+` [data-view="submitted"]`)),
	)
	if r := do(t, "GET", s.URL+"/api/feedback/"+approval+"/result", keyA, "", nil); !strings.Contains(string(r.Raw), `"decision":"deny","reason":"Not on a Friday."`) {
		t.Fatalf("the approval's answer: %s", r.Raw)
	}
	// An answered question opens with its answer.
	tb.do("open the answered one", chromedp.Click(chromedp.CSS(item(asked)+" .item-head")), chromedp.WaitVisible(chromedp.CSS(item(asked)+" .inbox-answer")))
	if got := eval[string](tb, `document.querySelector('`+item(asked)+` .inbox-answer .sent-text').textContent`); got != "Ship it" {
		t.Errorf("the answer shown: %q", got)
	}
	// Another principal's sessions never appeared, however they arrived.
	for _, id := range []string{theirs, later} {
		if n := eval[int](tb, `document.querySelectorAll('`+item(id)+`').length`); n != 0 {
			t.Errorf("B's session %s is in A's inbox", id)
		}
	}
	if body := eval[string](tb, `document.body.textContent`); strings.Contains(body, "B's") {
		t.Errorf("B's text shows in A's inbox")
	}
	// / leads the signed-in person back to the inbox.
	tb.do("home", chromedp.Navigate(s.URL+"/"), chromedp.WaitVisible(chromedp.ID("view-questions")))
	if p := eval[string](tb, `location.pathname`); p != "/inbox" {
		t.Errorf("/ signed in went to %s", p)
	}
	tb.assertClean()

	// Revoked (by the owner, elsewhere): the open inbox is signed out at
	// once, and its cookie no longer opens anything.
	if r := do(t, "DELETE", s.URL+"/api/inbox/links/"+l.ID, keyA, "", nil); r.Status != 200 {
		t.Fatalf("revoke: %d %s", r.Status, r.Raw)
	}
	tb.do("signed out", chromedp.WaitVisible(chromedp.ID("signin")))
	if got := eval[string](tb, `document.getElementById('signin-text').textContent`); !strings.Contains(got, "revoked") {
		t.Errorf("the signed-out inbox says %q", got)
	}
	if st := evalAsync[int](tb, `fetch('/inbox/api/me', {credentials: 'same-origin'}).then((r) => r.status)`); st != 401 {
		t.Errorf("the revoked cookie: %d", st)
	}
	tb.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("signin")))
	if vis := eval[bool](tb, `!document.getElementById('view-questions').hidden`); vis {
		t.Error("a reload after the revocation shows the questions")
	}
	tb.assertClean()
}

// browserInboxCSRF: a page on another origin of the same site (so the
// SameSite=Strict cookie does go along) posts an answer to the inbox; the
// Origin check refuses it, and the question stays unanswered.
func browserInboxCSRF(t *testing.T, b *browser, s *inboxStack) {
	id := s.create(t, keyA, map[string]any{"message": "Approve the payout?", "predefinedOptions": []string{"yes", "no"}})
	l := mintLink(t, s.restEdge, keyA, `{}`)
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>not the inbox</title><script>
window.results = {};
fetch(%[1]q + '/inbox/api/me', {credentials: 'include', mode: 'no-cors'}).then(() => { window.results.read = 'sent'; });
fetch(%[1]q + '/inbox/api/sessions/%[2]s/submit', {method: 'POST', credentials: 'include', mode: 'no-cors',
  headers: {'Content-Type': 'text/plain'}, body: '{"selectedOptions":["yes"]}'}).then(() => { window.results.post = 'sent'; });
</script>`, s.URL, id)
	}))
	t.Cleanup(evil.Close)

	tb := b.inboxTab(t, time.Minute)
	tb.openInbox(l.URL)
	var mu sync.Mutex
	statuses := map[string]int64{}
	cookieSent := map[string]bool{}
	chromedp.Listen(tb.ctx, func(ev any) {
		switch e := ev.(type) {
		case *network.EventResponseReceived:
			if strings.HasPrefix(e.Response.URL, s.URL+"/inbox/api/") {
				mu.Lock()
				statuses[e.Response.URL] = e.Response.Status
				mu.Unlock()
			}
		case *network.EventRequestWillBeSentExtraInfo:
			for _, c := range e.AssociatedCookies {
				if c.Cookie != nil && c.Cookie.Name == "feedbackd_inbox" && len(c.BlockedReasons) == 0 {
					mu.Lock()
					cookieSent[string(e.RequestID)] = true
					mu.Unlock()
				}
			}
		}
	})
	if _, err := chromedp.Call(tb.ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	tb.do("open the other origin", chromedp.Navigate(evil.URL), chromedp.Poll[chromedp.Void](`window.results.read === 'sent' && window.results.post === 'sent'`,
		chromedp.WithPollingInterval(50*time.Millisecond)))
	submit := s.URL + "/inbox/api/sessions/" + id + "/submit"
	programtest.WaitFor(t, 10*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if statuses[submit] == 0 || statuses[s.URL+"/inbox/api/me"] == 0 {
			return fmt.Errorf("responses seen: %v", statuses)
		}
		return nil
	})
	mu.Lock()
	read, post, sent := statuses[s.URL+"/inbox/api/me"], statuses[submit], len(cookieSent)
	mu.Unlock()
	// The read went with the cookie (same site): only the Origin check
	// stands between the other page and an answer.
	if read != 200 || sent < 2 {
		t.Errorf("the other origin's read got %d with the cookie sent on %d requests: the test would prove nothing", read, sent)
	}
	if post != 403 {
		t.Errorf("the other origin's answer got %d, want 403", post)
	}
	if r := do(t, "GET", s.URL+"/api/feedback/"+id+"/status", keyA, "", nil); !strings.Contains(string(r.Raw), `"status":"pending"`) {
		t.Fatalf("the question after the forged answer: %s", r.Raw)
	}
}

// pushHarness follows the service worker registrations of a tab.
type pushHarness struct {
	mu   sync.Mutex
	regs map[string]serviceworker.RegistrationID // by scope URL
}

func (p *pushHarness) listen(ev any) {
	if e, ok := ev.(*serviceworker.EventWorkerRegistrationUpdated); ok {
		p.mu.Lock()
		for _, r := range e.Registrations {
			if !r.IsDeleted {
				p.regs[r.ScopeURL] = r.RegistrationID
			}
		}
		p.mu.Unlock()
	}
}

func (p *pushHarness) registration(scope string) serviceworker.RegistrationID {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.regs[scope]
}

// browserInboxPush: the service worker registers with the page as its
// scope; "Enable notifications" asks permission (granted through CDP),
// subscribes with the cluster's VAPID key and stores the subscription; a
// question then goes out as a real Web Push to the local push service, which
// decrypts it with the subscription's keys; delivered to the service worker
// (CDP ServiceWorker.deliverPushMessage, the browser's own push service
// being unreachable here), it shows a notification with the session's tag,
// and the push that follows the answer closes it.
func browserInboxPush(t *testing.T, b *browser, s *inboxStack) {
	l := mintLink(t, s.restEdge, keyB, `{"name":"phone"}`)
	tb := b.inboxTab(t, 2*time.Minute)
	tb.do("viewport", chromedp.EmulateViewport(1280, 900))
	h := &pushHarness{regs: map[string]serviceworker.RegistrationID{}}
	chromedp.Listen(tb.ctx, h.listen)
	if _, err := chromedp.Call(tb.ctx, serviceworker.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.CallBrowser(tb.ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
		Permission: &cdpbrowser.PermissionDescriptor{Name: "notifications"}, Setting: cdpbrowser.PermissionSettingGranted, Origin: s.URL,
		BrowserContextID: chromedp.FromContext(tb.ctx).BrowserContextID,
	}); err != nil {
		t.Fatal(err)
	}
	tb.openInbox(l.URL)
	scope := s.URL + "/inbox"
	tb.waitJS("the service worker controls the inbox", `navigator.serviceWorker.getRegistration('/inbox').then((r) => !!r && !!r.active && r.scope === '`+scope+`')`)
	programtest.WaitFor(t, 10*time.Second, programtest.Until("CDP names the registration", func() bool { return h.registration(scope) != "" }))
	// The offline shell is kept.
	tb.waitJS("the shell is cached", `caches.keys().then((ks) => Promise.all(ks.map((k) => caches.open(k).then((c) => c.match('/inbox'))))).then((hits) => hits.some(Boolean))`)
	// The browser's own push service is unreachable here: the real
	// subscribe fails, and the inbox says so instead of pretending.
	tb.do("settings", chromedp.Click(chromedp.ID("tab-settings")), chromedp.WaitVisible(chromedp.ID("push-enable")))
	tb.do("enable with the browser's push service", chromedp.Click(chromedp.ID("push-enable")))
	tb.waitJS("the refusal is shown", `!document.getElementById('push-error').hidden || !document.getElementById('push-result').hidden`)
	realErr := eval[string](tb, `document.getElementById('push-error').textContent`)
	t.Logf("Chromium's own subscribe here: %q", realErr)

	// Stand in for the browser's push service with the local one: the
	// subscription the fake makes (its endpoint and keys) is what
	// PushManager.subscribe returns; everything around it is the inbox's own
	// code.
	var key struct{ PublicKey string }
	do(t, "GET", s.URL+"/api/push/vapid-public-key", keyB, "", nil).data(t, &key)
	sub, err := s.push.Subscribe(key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	tb.do("stand in for the push service", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
  const sub = {endpoint: %q, expirationTime: null, keys: {p256dh: %q, auth: %q}};
  window.__subscribed = [];
  let current = null;
  PushManager.prototype.subscribe = async function (opts) {
    const key = new Uint8Array(opts.applicationServerKey);
    window.__subscribed.push({userVisibleOnly: opts.userVisibleOnly, key: btoa(String.fromCharCode(...key))});
    current = {endpoint: sub.endpoint, toJSON: () => sub, unsubscribe: async () => { current = null; return true; }};
    return current;
  };
  PushManager.prototype.getSubscription = async function () { return current; };
})()`, sub.Endpoint, sub.P256dh, sub.Auth)))
	tb.do("enable", chromedp.Click(chromedp.ID("push-enable")), chromedp.WaitVisible(chromedp.ID("push-disable")))
	calls := eval[[]map[string]any](tb, `window.__subscribed`)
	wantKey, _ := base64.RawURLEncoding.DecodeString(key.PublicKey)
	if len(calls) != 1 || calls[0]["userVisibleOnly"] != true || calls[0]["key"] != base64.StdEncoding.EncodeToString(wantKey) {
		t.Fatalf("subscribe was called with %v, want the cluster's VAPID key %s", calls, key.PublicKey)
	}
	r := do(t, "GET", s.URL+"/api/channels", keyB, "", nil)
	if !strings.Contains(string(r.Raw), `"webPush":[{"id":"wp_`) || !strings.Contains(string(r.Raw), `"host":"127.0.0.1`) {
		t.Fatalf("the subscription is not stored for its principal: %s", r.Raw)
	}

	// A question: the dispatcher pushes it to the subscription the inbox
	// stored; the service worker shows it.
	id := s.create(t, keyB, map[string]any{"message": "Deploy to prod?\nIt is Friday.", "title": "Deploy?", "predefinedOptions": []string{"yes", "no"}})
	payload := waitPush(t, s.push, sub.Endpoint, webpush.TypeQuestion, id)
	tag := "feedbackd-" + id
	deliver(t, tb, h, scope, s.URL, payload, "the notification shows", `navigator.serviceWorker.getRegistration('/inbox').then((r) => r.getNotifications({tag: '`+tag+`'})).then((ns) => ns.length === 1 && ns[0].title === 'Deploy?')`)
	body := evalAsync[string](tb, `navigator.serviceWorker.getRegistration('/inbox').then((r) => r.getNotifications({tag: '`+tag+`'})).then((ns) => ns[0].body)`)
	if !strings.HasPrefix(body, "Deploy to prod?\n⏳") {
		t.Errorf("the notification's body %q", body)
	}
	// Answered elsewhere: the close push takes the notification away.
	if r := s.submit(t, id, map[string]any{"selectedOptions": []string{"no"}}); r.Status != 200 {
		t.Fatal(r.Status)
	}
	deliver(t, tb, h, scope, s.URL, waitPush(t, s.push, sub.Endpoint, webpush.TypeClose, id),
		"the notification closes", `navigator.serviceWorker.getRegistration('/inbox').then((r) => r.getNotifications({tag: '`+tag+`'})).then((ns) => ns.length === 0)`)

	// Another question's notification, clicked while the inbox is open (on
	// its settings): the inbox opens the question in place, and the
	// notification goes. No protocol clicks a notification, so the click is
	// a NotificationEvent dispatched in the worker itself on the
	// notification the push showed; the worker's handler runs as for a real
	// click up to telling the open inbox (event.waitUntil refuses an event
	// the browser did not make, after the handler has done its work).
	next := s.create(t, keyB, map[string]any{"message": "Roll back?", "predefinedOptions": []string{"yes", "no"}})
	nextTag := "feedbackd-" + next
	deliver(t, tb, h, scope, s.URL, waitPush(t, s.push, sub.Endpoint, webpush.TypeQuestion, next),
		"the second notification shows", `navigator.serviceWorker.getRegistration('/inbox').then((r) => r.getNotifications({tag: '`+nextTag+`'})).then((ns) => ns.length === 1)`)
	clickNotification(t, tb, scope, nextTag)
	tb.do("the question opens", chromedp.WaitVisible(chromedp.ID("view-questions")), chromedp.WaitVisible(chromedp.CSS(item(next)+" #answer-form")))
	tb.waitJS("the clicked notification goes", `navigator.serviceWorker.getRegistration('/inbox').then((r) => r.getNotifications({tag: '`+nextTag+`'})).then((ns) => ns.length === 0)`)

	// The push service replaces the subscription: the worker stores the new
	// one, with the inbox's cookie, and removes the old. Chromium never
	// fires pushsubscriptionchange (Firefox does), so the event is made in
	// the worker, carrying the fake's second subscription.
	before := webPushIDs(t, s.URL, keyB)
	renewed, err := s.push.Subscribe(key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if got := inWorker(t, tb, scope, fmt.Sprintf(`(() => {
  const sub = {endpoint: %q, expirationTime: null, keys: {p256dh: %q, auth: %q}};
  const ev = new ExtendableEvent('pushsubscriptionchange');
  Object.defineProperty(ev, 'oldSubscription', {value: {endpoint: %q}});
  Object.defineProperty(ev, 'newSubscription', {value: {endpoint: sub.endpoint, toJSON: () => sub}});
  self.dispatchEvent(ev);
  return 'done';
})()`, renewed.Endpoint, renewed.P256dh, renewed.Auth, sub.Endpoint)); got != "done" {
		t.Fatal(got)
	}
	var after []string
	programtest.WaitFor(t, 10*time.Second, func() error {
		if after = webPushIDs(t, s.URL, keyB); len(after) != 1 || slices.Equal(after, before) {
			return fmt.Errorf("subscriptions %v, before %v", after, before)
		}
		return nil
	})
	// The renewed subscription is the one pushes now go to.
	again := s.create(t, keyB, map[string]any{"message": "Still there?"})
	waitPush(t, s.push, renewed.Endpoint, webpush.TypeQuestion, again)
	tb.do("the page's subscription is the renewed one", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
  const sub = {endpoint: %q, expirationTime: null, keys: {p256dh: %q, auth: %q}};
  let current = null;
  current = {endpoint: sub.endpoint, toJSON: () => sub, unsubscribe: async () => { current = null; return true; }};
  PushManager.prototype.getSubscription = async function () { return current; };
})()`, renewed.Endpoint, renewed.P256dh, renewed.Auth)))

	// Turned off on this device: the subscription is removed.
	tb.do("disable", chromedp.Click(chromedp.ID("tab-settings")), chromedp.Click(chromedp.ID("push-disable")), chromedp.WaitVisible(chromedp.ID("push-enable")))
	if r := do(t, "GET", s.URL+"/api/channels", keyB, "", nil); !strings.Contains(string(r.Raw), `"webPush":[]`) {
		t.Fatalf("after turning notifications off: %s", r.Raw)
	}
	tb.assertClean()
}

// clickNotification dispatches notificationclick in the inbox's service
// worker on its notification of tag.
func clickNotification(t *testing.T, tb *tab, scope, tag string) {
	t.Helper()
	if got := inWorker(t, tb, scope, `self.registration.getNotifications({tag: '`+tag+`'}).then((ns) => {
  if (ns.length !== 1) return 'notifications: ' + ns.length;
  self.dispatchEvent(new NotificationEvent('notificationclick', {notification: ns[0]}));
  return 'done';
})`); got != "done" {
		t.Fatalf("click the notification: %s", got)
	}
}

// inWorker evaluates expr (a string, or a promise of one) in this tab's
// inbox service worker and returns it.
func inWorker(t *testing.T, tb *tab, scope, expr string) string {
	t.Helper()
	// A stopped worker has no target: start it, as an event would.
	if _, err := chromedp.Call(tb.ctx, serviceworker.StartWorker, serviceworker.StartWorkerParams{ScopeURL: scope}); err != nil {
		t.Fatal(err)
	}
	// Every scenario's browser context has a worker of the same URL: this
	// tab's is the one in its context.
	bc := chromedp.FromContext(tb.ctx).BrowserContextID
	var worker target.ID
	programtest.WaitFor(t, 10*time.Second, func() error {
		targets, err := chromedp.Targets(tb.ctx)
		if err != nil {
			return err
		}
		for _, ti := range targets {
			if ti.Type == "service_worker" && strings.HasPrefix(ti.URL, scope+"/sw.js") && ti.BrowserContextID == bc {
				worker = ti.TargetID
				return nil
			}
		}
		return fmt.Errorf("no service worker target among %d", len(targets))
	})
	// Detached, not closed, when done: closing the target stops the worker.
	wctx, cancel := chromedp.NewContext(tb.ctx, chromedp.WithTargetID(worker), chromedp.WithDetachOnCancel())
	defer cancel()
	yes := true
	res, err := chromedp.Call(wctx, runtime.Evaluate, runtime.EvaluateParams{AwaitPromise: &yes, ReturnByValue: &yes, Expression: expr})
	if err != nil {
		t.Fatalf("evaluate in the worker: %v", err)
	}
	var v string
	if res.ExceptionDetails != nil || json.Unmarshal(res.Result.Value, &v) != nil {
		t.Fatalf("evaluate in the worker: %s %v", res.Result.Value, res.ExceptionDetails)
	}
	return v
}

// webPushIDs are the ids of principal key's stored push subscriptions.
func webPushIDs(t *testing.T, url, key string) []string {
	t.Helper()
	var ch struct {
		WebPush []struct{ ID string }
	}
	do(t, "GET", url+"/api/channels", key, "", nil).data(t, &ch)
	var ids []string
	for _, w := range ch.WebPush {
		ids = append(ids, w.ID)
	}
	return ids
}

// waitPush waits for the push of typ about session id at endpoint and
// returns its decrypted payload.
func waitPush(t *testing.T, fake *pushfake.Server, endpoint string, typ webpush.MessageType, id string) []byte {
	t.Helper()
	var payload []byte
	programtest.WaitFor(t, 20*time.Second, func() error {
		for _, m := range fake.Messages(endpoint) {
			if msg, err := webpush.DecodeMessage(m.Payload); err == nil && msg.Type == typ && msg.SessionID == id {
				payload = m.Payload
				return nil
			}
		}
		return fmt.Errorf("no %s push for %s yet (%d messages, rejections %v)", typ, id, len(fake.Messages(endpoint)), fake.Rejections())
	})
	return payload
}

// deliver hands a push's payload to the inbox's service worker, as the
// browser does when its push service delivers one, and waits until what it
// should do is done (then is true in the page).
// ServiceWorker.deliverPushMessage answers before the event is dispatched
// and never says whether it was; with the machine under load, about one
// run in five saw a delivery with no effect at all (no notification after
// 20 s, no worker error). So a delivery that showed no effect in 5 s is
// made again, as a push service retries; each repeat is logged.
func deliver(t *testing.T, tb *tab, h *pushHarness, scope, origin string, payload []byte, what, then string) {
	t.Helper()
	for try := 1; ; try++ {
		if _, err := chromedp.Call(tb.ctx, serviceworker.DeliverPushMessage, serviceworker.DeliverPushMessageParams{
			Origin: origin, RegistrationID: h.registration(scope), Data: string(payload),
		}); err != nil {
			t.Fatalf("deliver the push: %v", err)
		}
		_, err := chromedp.Run(tb.ctx, chromedp.Poll[chromedp.Void](then, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(5*time.Second)))
		if err == nil {
			return
		}
		if try == 3 {
			tb.failShot()
			t.Fatalf("%s: not after %d deliveries: %v", what, try, err)
		}
		t.Logf("%s: not yet after delivery %d (%v); delivering again", what, try, err)
	}
}

// browserInboxOffline: Chromium finds the inbox installable; with the
// server gone, a reload is answered by the service worker's copy of the
// shell, which says it is offline.
func browserInboxOffline(t *testing.T, b *browser) {
	m := programtest.MustRunMain(t)
	e := &restEdge{URL: m.URL(), Svc: m.Backend().Service(), m: m}
	l := mintLink(t, e, keyA, `{}`)
	// The browser's default context, the one scenario here that uses it:
	// Chromium offers no installation in a context of its own (incognito).
	tb := b.newTabFor(t, true, time.Minute)
	tb.openInbox(l.URL)
	tb.waitJS("the shell is cached", `navigator.serviceWorker.getRegistration('/inbox').then((r) => !!r && !!r.active).then((ok) => ok && caches.keys().then((ks) => ks.length > 0))`)
	tb.waitJS("the worker controls the page", `!!navigator.serviceWorker.controller`)
	// Installable: Chromium reads the manifest without a complaint and finds
	// nothing (icons, scope, start URL, worker) that keeps it from offering
	// to install the inbox.
	man, err := chromedp.Call(tb.ctx, page.GetAppManifest, page.GetAppManifestParams{})
	if err != nil {
		t.Fatal(err)
	}
	if man.URL != e.URL+"/inbox/manifest.webmanifest" || len(man.Errors) != 0 || man.Manifest == nil || man.Manifest.Scope != e.URL+"/inbox" {
		t.Errorf("the manifest as Chromium reads it: %s, errors %v", man.URL, man.Errors)
	}
	inst, err := chromedp.Call(tb.ctx, page.GetInstallabilityErrors, cdp.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range inst.InstallabilityErrors {
		t.Errorf("not installable: %s %v", e.ErrorID, e.ErrorArguments)
	}

	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	tb.do("reload offline", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("signin")))
	tb.waitJS("it says offline", `document.getElementById('signin-text').textContent.includes('offline')`)
}

// browserInboxSettings: the settings view saves the channels through the
// inbox's own API, shows a refusal next to its field (and stores nothing),
// sends a test notification per channel, and lists the deliveries.
func browserInboxSettings(t *testing.T, b *browser, s *inboxStack) {
	l := mintLink(t, s.restEdge, keyC, `{"name":"settings"}`)
	secret := newWebhookSecret(t)
	rcv := dispatchtest.NewWebhookReceiver(t, secret)
	tb := b.inboxTab(t, time.Minute)
	tb.do("viewport", chromedp.EmulateViewport(1280, 900))
	tb.openInbox(l.URL)
	// Telegram is offered: the deployment has a bot.
	tb.do("settings", chromedp.Click(chromedp.ID("tab-settings")), chromedp.WaitVisible(chromedp.ID("telegram-chat")))

	// Refused: the reason is next to the field, and nothing is stored.
	tb.do("a chat id that is not one",
		chromedp.SendKeys(chromedp.ID("telegram-chat"), "@my-chat"),
		chromedp.Click(chromedp.ID("channels-save")),
		chromedp.WaitVisible(chromedp.ID("telegram-chat-error")),
		chromedp.WaitVisible(chromedp.ID("channels-error")))
	if invalid := eval[string](tb, `document.getElementById('telegram-chat').getAttribute('aria-invalid') || ''`); invalid != "true" {
		t.Errorf("the refused field is not marked invalid: %q", invalid)
	}
	if text := eval[string](tb, `document.getElementById('telegram-chat-error').textContent`); !strings.Contains(text, "chat") {
		t.Errorf("the field's error says %q", text)
	}
	if r := do(t, "GET", s.URL+"/api/channels", keyC, "", nil); !strings.Contains(string(r.Raw), `"telegram":null`) || !strings.Contains(string(r.Raw), `"webhooks":[]`) {
		t.Fatalf("a refused save stored something: %s", r.Raw)
	}

	// Corrected, with a webhook: saved, the secret never comes back.
	tb.do("fill in",
		chromedp.SetValue(chromedp.ID("telegram-chat"), fmt.Sprint(telegramfake.DefaultChatID)),
		chromedp.Click(chromedp.ID("webhook-add")),
		chromedp.SendKeys(chromedp.CSS(`#webhooks li [data-part="url"]`), rcv.URL),
		chromedp.SendKeys(chromedp.CSS(`#webhooks li [data-part="secret"]`), secret),
		chromedp.Click(chromedp.ID("channels-save")))
	tb.waitJS("saved", `document.getElementById('channels-saved').textContent !== '' && document.getElementById('channels-error').hidden`)
	r := do(t, "GET", s.URL+"/api/channels", keyC, "", nil)
	if raw := string(r.Raw); !strings.Contains(raw, `"telegram":{"chatId":"4242"}`) || !strings.Contains(raw, `"hasSecret":true`) || strings.Contains(raw, secret[6:]) {
		t.Fatalf("the channels stored: %s", raw)
	}
	if v := eval[string](tb, `document.querySelector('#webhooks li [data-part="secret"]').value`); v != "" {
		t.Errorf("the form still holds the secret after saving")
	}

	// A test notification per channel reaches it, and is listed.
	for _, ch := range []string{"webhook", "telegram"} {
		tb.do("test "+ch, chromedp.Click(chromedp.CSS(`[data-test="`+ch+`"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-deliveries="`+ch+`"] .delivery .badge[data-status="delivered"]`)))
		if got := eval[string](tb, `document.querySelector('[data-test-result="`+ch+`"]').textContent`); !strings.HasPrefix(got, "Sent to ") {
			t.Errorf("the %s test says %q", ch, got)
		}
	}
	ds := rcv.Deliveries()
	if len(ds) != 1 || ds[0].VerifyErr != nil || ds[0].Status != 204 {
		t.Errorf("the webhook received %+v", ds)
	}
	if ms := s.telegram.Messages(telegramfake.DefaultChatID); len(ms) == 0 {
		t.Error("the Telegram test reached no chat")
	}
	tb.assertClean()
}

// browserInboxPaging: the list comes 20 at a time, waiting questions
// first; "more" brings the rest, the oldest last.
func browserInboxPaging(t *testing.T, b *browser, s *inboxStack) {
	var ids []string
	for i := range 21 {
		ids = append(ids, s.create(t, keyE, map[string]any{"message": fmt.Sprintf("Question %d", i+1)}))
	}
	do(t, "POST", s.URL+"/api/feedback/"+ids[20]+"/cancel", keyE, "", nil) // the newest, finished: it goes last
	l := mintLink(t, s.restEdge, keyE, `{}`)
	tb := b.inboxTab(t, time.Minute)
	tb.openInbox(l.URL)
	tb.waitJS("a page", `document.querySelectorAll('#list li.item').length === 20 && !document.getElementById('more').hidden`)
	if first := eval[string](tb, `document.querySelector('#list li.item').dataset.sessionId`); first != ids[19] {
		t.Errorf("the first is %s, want the newest waiting %s", first, ids[19])
	}
	tb.do("more", chromedp.Click(chromedp.ID("more")))
	tb.waitJS("the rest", `document.querySelectorAll('#list li.item').length === 21 && document.getElementById('more').hidden`)
	if last := eval[string](tb, `[...document.querySelectorAll('#list li.item')].pop().dataset.sessionId`); last != ids[20] {
		t.Errorf("the last is %s, want the cancelled one %s", last, ids[20])
	}
	tb.assertClean()
}

// browserInboxImages: a question's image shows in place; the person
// attaches one to the answer, the agent gets it, and the answered question
// shows it back through the inbox's own image route.
func browserInboxImages(t *testing.T, b *browser, s *inboxStack) {
	shot, mine := testPNG(t, 7), testPNG(t, 90)
	id := s.create(t, keyF, map[string]any{"message": "Is this right?", "images": []map[string]any{{"data": base64.StdEncoding.EncodeToString(shot), "name": "chart.png"}}})
	photo := filepath.Join(t.TempDir(), "mine.png")
	if err := os.WriteFile(photo, mine, 0o644); err != nil {
		t.Fatal(err)
	}
	l := mintLink(t, s.restEdge, keyF, `{}`)
	tb := b.inboxTab(t, time.Minute)
	tb.do("viewport", chromedp.EmulateViewport(360, 780))
	tb.openInbox(l.URL)
	tb.openItem(id)
	tb.waitJS("the agent's image", `(() => { const i = document.querySelector('`+item(id)+` .shots img'); return !!i && i.complete && i.naturalWidth === 64 && i.alt === 'chart.png'; })()`)
	tb.do("attach", chromedp.SetUploadFiles(chromedp.CSS(item(id)+" #images"), []string{photo}))
	tb.waitJS("the preview", `[...document.querySelectorAll('`+item(id)+` .preview img')].some((i) => i.complete && i.naturalWidth > 0)`)
	tb.do("send", chromedp.SendKeys(chromedp.CSS(item(id)+" #free-text"), "Looks right."), chromedp.Click(chromedp.CSS(item(id)+" #submit")),
		chromedp.WaitVisible(chromedp.CSS(item(id)+` [data-view="submitted"]`)))
	r := do(t, "GET", s.URL+"/api/feedback/"+id+"/result", keyF, "", nil)
	var res struct{ Feedback map[string]any }
	r.data(t, &res)
	fb := res.Feedback
	imgs, _ := fb["images"].([]any)
	if fb["freeText"] != "Looks right." || len(imgs) != 1 || imgs[0].(map[string]any)["name"] != "mine.png" {
		t.Fatalf("the agent reads %v", fb)
	}
	// Closed and opened again: the answer, with the person's image.
	tb.do("close", chromedp.Click(chromedp.CSS(item(id)+" .item-head")))
	tb.waitJS("closed", `document.querySelector('`+item(id)+` .item-body').hidden`)
	tb.do("reopen", chromedp.Click(chromedp.CSS(item(id)+" .item-head")), chromedp.WaitVisible(chromedp.CSS(item(id)+" .inbox-answer")))
	tb.waitJS("the person's image", `(() => { const i = document.querySelector('`+item(id)+` .inbox-answer .shots img'); return !!i && i.complete && i.naturalWidth === 64 && i.alt === 'mine.png' && new URL(i.src).pathname.startsWith('/inbox/api/'); })()`)
	tb.assertClean()
}

func browserInboxScreenshots(t *testing.T, b *browser, s *inboxStack) {
	// A principal of its own, with questions of every kind and state, and
	// channels that have delivered something.
	l := mintLink(t, s.restEdge, keyD, `{"name":"screenshots"}`)
	done := s.create(t, keyD, map[string]any{"message": "Rename the `users` table?", "predefinedOptions": []string{"Yes", "No"}})
	s.submit(t, done, map[string]any{"selectedOptions": []string{"Yes"}, "freeText": "Go ahead."})
	cancelled := s.create(t, keyD, map[string]any{"message": "Restart the staging cluster?"})
	do(t, "POST", s.URL+"/api/feedback/"+cancelled+"/cancel", keyD, "", nil)
	s.create(t, keyD, map[string]any{"kind": "approval", "action": "Run Bash: rm -rf build/", "details": map[string]any{"command": "rm -rf build/", "cwd": "/src/app"}})
	open := s.create(t, keyD, map[string]any{"title": "发布前确认 / Ready to ship?", "message": "## Ready to ship?\n\nThe release passed every check on **staging**.\n\n- the migration is backed up\n- alerts are configured",
		"predefinedOptions": []string{"Ship it now", "Ship tomorrow morning", "Hold the release"}})
	secret := newWebhookSecret(t)
	rcv := dispatchtest.NewWebhookReceiver(t, secret)
	if r := do(t, "PUT", s.URL+"/api/channels", keyD, ctJSON, []byte(mustJSON(map[string]any{
		"telegram": map[string]any{"chatId": fmt.Sprint(telegramfake.DefaultChatID)},
		"webhooks": []map[string]any{{"url": rcv.URL, "secret": secret, "events": []string{"session.created", "session.completed"}}},
	}))); r.Status != 200 {
		t.Fatalf("channels: %d %s", r.Status, r.Raw)
	}
	for _, ch := range []string{"telegram", "webhook"} {
		if r := do(t, "POST", s.URL+"/api/channels/test", keyD, ctJSON, []byte(`{"channel":"`+ch+`"}`)); r.Status != 200 {
			t.Fatalf("test %s: %d %s", ch, r.Status, r.Raw)
		}
	}

	tb := b.inboxTab(t, 3*time.Minute)
	// Transitions finished: a screenshot shows the page at rest.
	if _, err := chromedp.Call(tb.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-reduced-motion", Value: "reduce"}},
	}); err != nil {
		t.Fatal(err)
	}
	tb.do("phone", chromedp.EmulateViewport(360, 780, chromedp.EmulateScale(1)))
	tb.openInbox(l.URL)
	backgrounds := map[string]string{}
	for _, c := range []struct{ theme, lang string }{{"dark", "zh"}, {"light", "en"}} {
		for _, width := range []int64{360, 1280} {
			name := fmt.Sprintf("inbox-%s-%s-%d", c.theme, c.lang, width)
			tb.do("viewport "+name, chromedp.EmulateViewport(width, 900, chromedp.EmulateScale(1)),
				chromedp.Navigate(fmt.Sprintf("%s/inbox?theme=%s&lang=%s", s.URL, c.theme, c.lang)),
				chromedp.WaitVisible(chromedp.CSS(item(open))))
			tb.openItem(open)
			if over := eval[int](tb, `document.documentElement.scrollWidth - window.innerWidth`); over > 0 {
				t.Errorf("%s: %d px wider than the screen", name, over)
			}
			if !regexp.MustCompile(`\d+:\d\d`).MatchString(eval[string](tb, `document.querySelector('`+item(open)+` .item-meta').textContent`)) {
				t.Errorf("%s: no countdown in the list", name)
			}
			backgrounds[c.theme] = eval[string](tb, `getComputedStyle(document.body).backgroundColor`)
			tb.screenshot(name)
			tb.do("settings", chromedp.Click(chromedp.ID("tab-settings")), chromedp.WaitVisible(chromedp.ID("link-list")),
				chromedp.Poll[chromedp.Void](`document.querySelectorAll('#link-list li').length > 0`, chromedp.WithPollingInterval(50*time.Millisecond)),
				chromedp.WaitVisible(chromedp.CSS(`[data-deliveries="telegram"] .delivery`)), chromedp.WaitVisible(chromedp.CSS(`[data-deliveries="webhook"] .delivery`)))
			if over := eval[int](tb, `document.documentElement.scrollWidth - window.innerWidth`); over > 0 {
				t.Errorf("%s settings: %d px wider than the screen", name, over)
			}
			tb.screenshot(name + "-settings")
		}
		tb.assertClean()
	}
	if backgrounds["dark"] == backgrounds["light"] {
		t.Errorf("dark and light look the same: %s", backgrounds["dark"])
	}
}

// evalAsync evaluates expr, a promise, in the page and returns what it
// resolves to.
func evalAsync[T any](tb *tab, expr string) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.failShot()
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}
