package edge_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
)

// The richer questions in a real Chromium: every field type, approvals,
// images by paste, drop and file input, refusals before upload, the page
// without JavaScript, and phones in both themes. Each answer is read back
// through the REST API, as the agent would.

// everyField is a form with one field of every type the form language has,
// in the order a person should see them (written as JSON: a Go map would
// sort the keys).
var everyField = json.RawMessage(`{"type":"object","properties":{
	"name":{"type":"string","title":"Your name","minLength":2,"maxLength":40,"description":"As on your badge."},
	"email":{"type":"string","format":"email","title":"Email"},
	"site":{"type":"string","format":"uri","title":"Web site"},
	"day":{"type":"string","format":"date","title":"Release day"},
	"at":{"type":"string","format":"date-time","title":"Start time"},
	"copies":{"type":"integer","minimum":1,"maximum":10,"title":"Copies"},
	"ratio":{"type":"number","minimum":0,"maximum":1,"title":"Ratio"},
	"notify":{"type":"boolean","title":"Tell the team","default":true},
	"size":{"type":"string","title":"Size","enum":["S","M","L"]},
	"country":{"type":"string","title":"Country","oneOf":[{"const":"de","title":"Germany"},{"const":"fr","title":"France"},
		{"const":"jp","title":"Japan"},{"const":"cn","title":"China"},{"const":"br","title":"Brazil"},{"const":"ke","title":"Kenya"},{"const":"ca","title":"Canada"}]},
	"tags":{"type":"array","title":"Tags","minItems":1,"maxItems":2,
		"items":{"anyOf":[{"const":"ui","title":"Interface"},{"const":"api","title":"API"},{"const":"docs","title":"Docs"}]}}
},"required":["name","email","day","copies","size","tags"]}`)

// submitAndWait clicks a submit button of a page without script and waits
// for the page the server answers with to show the element want.
func (tb *tab) submitAndWait(button, want string) {
	tb.t.Helper()
	tb.do("mark the old page", chromedp.Evaluate[chromedp.Void](`document.documentElement.dataset.old = '1'`))
	tb.do("submit", chromedp.Click(chromedp.ID(button)))
	cond := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return document.readyState === 'complete' && !document.documentElement.dataset.old && !!e && !e.hidden; })()`, want)
	programtest.WaitFor(tb.t, 20*time.Second, func() error {
		// Evaluating while the page navigates fails; that is "not yet".
		ok, err := chromedp.Run(tb.ctx, chromedp.Evaluate[bool](cond))
		if err != nil || !ok {
			return fmt.Errorf("no new page showing %s yet (%v)", want, err)
		}
		return nil
	})
}

// resultBody reads a session's result through REST.
func resultBody(t *testing.T, e *restEdge, id string) map[string]any {
	t.Helper()
	r := do(t, "GET", e.URL+"/api/feedback/"+id+"/result", keyA, "", nil)
	if r.Status != 200 {
		t.Fatalf("result: %d %s", r.Status, r.Raw)
	}
	var res map[string]any
	r.data(t, &res)
	return res
}

// testPNG and testJPEG are small real images whose pixels depend on seed.
func testPNG(t testing.TB, seed uint8) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 64, 48))
	for y := range 48 {
		for x := range 64 {
			img.Set(x, y, color.NRGBA{R: seed + uint8(x*3), G: uint8(y * 5), B: 200, A: 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func testJPEG(t testing.TB) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 80, 60))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// fileJS is a JavaScript expression making a File of data.
func fileJS(data []byte, name, typ string) string {
	return fmt.Sprintf(`new File([Uint8Array.from(atob(%q), (c) => c.charCodeAt(0))], %q, {type: %q})`,
		base64.StdEncoding.EncodeToString(data), name, typ)
}

// paste dispatches a real paste event carrying a file, as the clipboard
// does when a screenshot is pasted.
func (tb *tab) paste(data []byte, name, typ string) {
	tb.t.Helper()
	tb.do("paste "+name, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const dt = new DataTransfer();
		dt.items.add(%s);
		document.getElementById('free-text').focus();
		document.dispatchEvent(new ClipboardEvent('paste', {clipboardData: dt, bubbles: true, cancelable: true}));
	})()`, fileJS(data, name, typ))))
}

// drop dispatches dragover and drop events carrying a file onto the card.
func (tb *tab) drop(data []byte, name, typ string) {
	tb.t.Helper()
	tb.do("drop "+name, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const dt = new DataTransfer();
		dt.items.add(%s);
		const card = document.getElementById('card');
		for (const type of ['dragenter', 'dragover', 'drop']) {
			card.dispatchEvent(new DragEvent(type, {dataTransfer: dt, bubbles: true, cancelable: true}));
		}
	})()`, fileJS(data, name, typ))))
}

func (tb *tab) previews(n int) {
	tb.t.Helper()
	tb.do(fmt.Sprintf("wait for %d previews", n), chromedp.Poll[chromedp.Void](
		fmt.Sprintf(`document.querySelectorAll('#previews .preview img').length === %d && [...document.querySelectorAll('#previews .preview img')].every((i) => i.complete && i.naturalWidth > 0)`, n),
		chromedp.WithPollingInterval(50*time.Millisecond)))
}

// waitText waits until the element id shows text, and fails saying what it
// showed instead.
func (tb *tab) waitText(id, text string) {
	tb.t.Helper()
	err := chromedp.Do(tb.ctx, chromedp.Poll[chromedp.Void](fmt.Sprintf(`(() => { const e = document.getElementById(%q); return !!e && !e.hidden && e.textContent === %q; })()`, id, text),
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		tb.failShot()
		tb.t.Fatalf("#%s shows %q, want %q: %v", id, eval[string](tb, `(document.getElementById('`+id+`') || {}).textContent`), text, err)
	}
}

// getImage fetches an image URL with the owner's key.
func getImage(t *testing.T, url string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("X-API-Key", keyA)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, res.StatusCode, b)
	}
	return b
}

func TestRicherQuestionsInBrowser(t *testing.T) {
	// The edge first, so that the browser (and every connection it holds)
	// is gone before the edge shuts down: cleanups run last first.
	e := shortEdge(t)
	b := startBrowser(t)
	t.Run("scenarios", func(t *testing.T) {
		t.Run("FormWithEveryFieldType", func(t *testing.T) { t.Parallel(); browserEveryField(t, b, e) })
		t.Run("ApproveAndDeny", func(t *testing.T) { t.Parallel(); browserApproval(t, b, e) })
		t.Run("ImagesByPasteAndDrop", func(t *testing.T) { t.Parallel(); browserImages(t, b, e) })
		t.Run("ImagesRefusedBeforeUpload", func(t *testing.T) { t.Parallel(); browserImagesRefused(t, b, e) })
		t.Run("SingleChoice", func(t *testing.T) { t.Parallel(); browserSingleChoice(t, b, e) })
		t.Run("NoJavaScriptEveryFieldType", func(t *testing.T) { t.Parallel(); browserNoJSForm(t, b, e) })
		t.Run("NoJavaScriptApprovalAndImage", func(t *testing.T) { t.Parallel(); browserNoJSApproval(t, b, e) })
		t.Run("PhoneScreenshots", func(t *testing.T) { t.Parallel(); browserPhoneScreenshots(t, b, e) })
	})
}

func browserEveryField(t *testing.T, b *browser, e *restEdge) {
	id := e.create(t, keyA, map[string]any{"message": "Tell us about the **release**.", "title": "Release form", "fields": everyField})
	tb := b.newTab(t, true)
	tb.do("viewport", chromedp.EmulateViewport(1280, 1000))
	tb.openPending(e.URL + "/feedback/" + id + "?lang=en&theme=light")

	// Every field has a label, and its hint and error are tied to it.
	if n := eval[int](tb, `[...document.querySelectorAll('.form-field input:not([type=radio]):not([type=checkbox]), .form-field select')].filter((i) => !document.querySelector('label[for="' + i.id + '"]')).length`); n != 0 {
		t.Errorf("%d inputs without a label", n)
	}
	if got := eval[string](tb, `document.getElementById('f-name').getAttribute('aria-describedby')`); got != "f-name-hint f-name-error" {
		t.Errorf("aria-describedby %q", got)
	}
	if got := eval[string](tb, `document.querySelector('[data-name=country] select') ? 'select' : 'radios'`); got != "select" {
		t.Errorf("seven choices render as %s, want a drop-down", got)
	}
	if got := eval[int](tb, `document.querySelectorAll('[data-name=size] input[type=radio]').length`); got != 3 {
		t.Errorf("size has %d radios", got)
	}

	// Sent empty: every required field says so, next to itself, and focus
	// goes to the first.
	tb.do("submit empty", chromedp.Click(chromedp.ID("submit")), chromedp.WaitVisible(chromedp.ID("f-name-error")))
	for _, f := range []string{"name", "email", "day", "copies", "size", "tags"} {
		if got := eval[string](tb, `document.getElementById('f-`+f+`-error').textContent`); got != "This field is required." {
			t.Errorf("%s error %q", f, got)
		}
	}
	if got := eval[string](tb, `document.activeElement.id`); got != "f-name" {
		t.Errorf("focus on %q after the refusal", got)
	}
	if got := eval[string](tb, `document.getElementById('f-name').getAttribute('aria-invalid')`); got != "true" {
		t.Errorf("aria-invalid %q", got)
	}

	// A value out of bounds is refused with the field's own words.
	tb.do("out of bounds", chromedp.SendKeys(chromedp.ID("f-copies"), "11"), chromedp.SendKeys(chromedp.ID("f-name"), "A"), chromedp.Click(chromedp.ID("submit")))
	if got := eval[string](tb, `document.getElementById('f-copies-error').textContent`); got != "Enter a number from 1 to 10." {
		t.Errorf("copies error %q", got)
	}
	if got := eval[string](tb, `document.getElementById('f-name-error').textContent`); got != "Use 2 to 40 characters." {
		t.Errorf("name error %q", got)
	}
	tb.screenshot("form-errors-light-en-1280")

	set := func(id, value string) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const i = document.getElementById(%q); i.value = %q; i.dispatchEvent(new Event('input', {bubbles: true})); })()`, id, value))
	}
	tb.do("fill the form",
		chromedp.SendKeys(chromedp.ID("f-name"), "da"),
		chromedp.SendKeys(chromedp.ID("f-email"), "ada@example.com"),
		chromedp.SendKeys(chromedp.ID("f-site"), "https://example.com/ada"),
		set("f-day", "2026-12-01"),
		set("f-at", "2026-12-01T09:30:00"),
		set("f-copies", "3"),
		chromedp.SendKeys(chromedp.ID("f-ratio"), "0.25"),
		chromedp.Click(chromedp.ID("f-notify")), // on by default: now off
		chromedp.Click(chromedp.ID("f-size-1")),
		chromedp.SetValue(chromedp.ID("f-country"), "jp"),
		chromedp.Click(chromedp.ID("f-tags-0")),
		chromedp.Click(chromedp.ID("f-tags-2")),
		chromedp.SendKeys(chromedp.ID("free-text"), "All set."),
	)
	if shown := eval[[]string](tb, `[...document.querySelectorAll('.field-error')].filter((e) => !e.hidden).map((e) => e.id + ': ' + e.textContent)`); len(shown) != 0 {
		t.Errorf("errors still shown after fixing every field: %q", shown)
	}
	// What the browser will send for the local time.
	wantAt := eval[string](tb, `new Date('2026-12-01T09:30:00').toISOString()`)
	tb.do("submit", chromedp.Click(chromedp.ID("submit")))
	tb.waitView("submitted")
	if got := eval[string](tb, `document.querySelector('.sent-values').textContent`); !strings.Contains(got, "JapanTags") && !strings.Contains(got, "Interface, Docs") {
		t.Errorf("the submitted view shows %q", got)
	}
	tb.screenshot("form-submitted-light-en-1280")
	tb.assertClean()

	res := resultBody(t, e, id)
	fb := res["feedback"].(map[string]any)
	want := map[string]any{"name": "Ada", "email": "ada@example.com", "site": "https://example.com/ada", "day": "2026-12-01",
		"at": wantAt, "copies": float64(3), "ratio": 0.25, "notify": false, "size": "M", "country": "jp", "tags": []any{"ui", "docs"}}
	got, _ := json.Marshal(fb["values"])
	wantJSON, _ := json.Marshal(want)
	if string(got) != string(wantJSON) || fb["freeText"] != "All set." {
		t.Fatalf("values %s\nwant   %s (free text %v)", got, wantJSON, fb["freeText"])
	}
}

func browserApproval(t *testing.T, b *browser, e *restEdge) {
	var long []string
	for i := range 30 {
		long = append(long, fmt.Sprintf("step %d", i))
	}
	deny := e.create(t, keyA, map[string]any{"kind": "approval", "action": "Run Bash: rm -rf build", "details": map[string]any{"command": "rm -rf build", "steps": long}})
	approve := e.create(t, keyA, map[string]any{"kind": "approval", "action": "Deploy to production", "details": map[string]any{"service": "api"}, "message": "The **canary** is healthy."})
	tb := b.newTab(t, true)
	tb.do("viewport", chromedp.EmulateViewport(1280, 900))
	tb.openPending(e.URL + "/feedback/" + deny + "?lang=en&theme=dark")
	// Long details fold away; the toggle is a real <details>.
	if !eval[bool](tb, `!document.querySelector('details.approval-details').open`) {
		t.Error("long details are not folded")
	}
	tb.do("unfold", chromedp.Click(chromedp.CSS("details.approval-details summary")))
	if !eval[bool](tb, `document.querySelector('details.approval-details pre').textContent.includes('"step 29"')`) {
		t.Error("details are not the pretty-printed JSON")
	}
	if eval[bool](tb, `!!document.getElementById('submit') || !!document.getElementById('free-text')`) {
		t.Error("an approval offers a submit button or free text")
	}
	tb.do("deny with a reason", chromedp.SendKeys(chromedp.ID("reason"), "Not before the release."), chromedp.Click(chromedp.ID("deny")))
	tb.waitView("submitted")
	if got := eval[string](tb, `document.getElementById('sent').textContent`); !strings.Contains(got, "Denied") || !strings.Contains(got, "Not before the release.") {
		t.Errorf("submitted view %q", got)
	}
	tb.screenshot("approval-denied-dark-en-1280")
	tb.assertClean()
	if fb := resultBody(t, e, deny)["feedback"].(map[string]any); fb["decision"] != "deny" || fb["reason"] != "Not before the release." ||
		fb["combinedFeedback"] != "Denied: Not before the release." {
		t.Fatalf("deny: %v", fb)
	}

	tb.openPending(e.URL + "/feedback/" + approve + "?lang=zh&theme=light")
	if got := eval[string](tb, `document.getElementById('approve').textContent + '/' + document.getElementById('deny').textContent`); got != "批准/拒绝" {
		t.Errorf("buttons %q", got)
	}
	if !eval[bool](tb, `!!document.querySelector('pre.approval-details')`) {
		t.Error("short details should show unfolded")
	}
	tb.do("approve by keyboard", chromedp.Focus(chromedp.ID("approve")), chromedp.KeyEvent("\r"))
	tb.waitView("submitted")
	tb.assertClean()
	if fb := resultBody(t, e, approve)["feedback"].(map[string]any); fb["decision"] != "approve" || fb["combinedFeedback"] != "Approved." {
		t.Fatalf("approve: %v", fb)
	}
}

func browserImages(t *testing.T, b *browser, e *restEdge) {
	shot := testPNG(t, 1)
	// A seed-style question: the script adds the images area by itself.
	plain := e.create(t, keyA, map[string]any{"message": "What does it look like on your screen?"})
	withShot := e.create(t, keyA, map[string]any{"message": "Is this right?", "images": []map[string]any{{"data": base64.StdEncoding.EncodeToString(shot), "name": "chart.png"}}})
	pasted, dropped := testPNG(t, 90), testJPEG(t)

	tb := b.newTab(t, true)
	tb.do("viewport", chromedp.EmulateViewport(1280, 900))
	tb.openPending(e.URL + "/feedback/" + withShot + "?lang=en&theme=light")
	// The agent's image is a thumbnail linking to the full image.
	href := eval[string](tb, `document.querySelector('.shots a').href`)
	if !eval[bool](tb, `(() => { const i = document.querySelector('.shots img'); return i.complete && i.naturalWidth === 64 && i.alt === 'chart.png'; })()`) {
		t.Error("the agent's image is not shown as a thumbnail")
	}
	res, err := http.Get(href)
	if err != nil {
		t.Fatal(err)
	}
	full, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !bytes.Equal(full, shot) || res.Header.Get("Content-Type") != "image/png" {
		t.Errorf("the thumbnail's link serves %d bytes of %s", len(full), res.Header.Get("Content-Type"))
	}

	tb.openPending(e.URL + "/feedback/" + plain + "?lang=en&theme=light")
	tb.paste(pasted, "pasted.png", "image/png")
	tb.previews(1)
	tb.drop(dropped, "photo.jpg", "image/jpeg")
	tb.previews(2)
	// Remove one and put it back: the remove button works by keyboard.
	tb.do("remove the pasted one", chromedp.Focus(chromedp.CSS(`#previews .preview-remove`)), chromedp.KeyEvent("\r"))
	tb.previews(1)
	tb.paste(pasted, "pasted.png", "image/png")
	tb.previews(2)
	tb.screenshot("images-attached-light-en-1280")
	tb.do("type and submit", chromedp.SendKeys(chromedp.ID("free-text"), "See the two images."), chromedp.Click(chromedp.ID("submit")))
	tb.waitView("submitted")
	if n := eval[int](tb, `document.querySelectorAll('.sent-images img').length`); n != 2 {
		t.Errorf("the submitted view shows %d images", n)
	}
	tb.assertClean()

	fb := resultBody(t, e, plain)["feedback"].(map[string]any)
	imgs, _ := fb["images"].([]any)
	if len(imgs) != 2 || fb["combinedFeedback"] != "See the two images.\n\n[2 images attached]" {
		t.Fatalf("answer %v", fb)
	}
	for i, want := range [][]byte{dropped, pasted} {
		ref := imgs[i].(map[string]any)
		if got := getImage(t, ref["url"].(string)); !bytes.Equal(got, want) {
			t.Errorf("image %d (%v) read back as %d bytes, want the %d sent", i, ref["name"], len(got), len(want))
		}
	}
}

func browserImagesRefused(t *testing.T, b *browser, e *restEdge) {
	id := e.create(t, keyA, map[string]any{"message": "Send a picture", "title": "Pictures"})
	svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>window.__xss = 1</script><rect width="10" height="10"/></svg>`)
	html := []byte(`<!doctype html><html><body><script>window.__xss = 1</script></body></html>`)
	tb := b.newTab(t, true)
	tb.openPending(e.URL + "/feedback/" + id + "?lang=en")
	for _, c := range []struct {
		data       []byte
		name, typ  string
		wantPhrase string
	}{
		{svg, "evil.svg", "image/svg+xml", "evil.svg isn't a PNG, JPEG, WebP or GIF image."},
		{html, "cat.png", "image/png", "cat.png isn't a PNG, JPEG, WebP or GIF image."},
	} {
		tb.paste(c.data, c.name, c.typ)
		tb.waitText("images-error", c.wantPhrase)
		if n := eval[int](tb, `document.querySelectorAll('#previews .preview').length`); n != 0 {
			t.Errorf("%s was added", c.name)
		}
	}
	// Too big, by the server's limit the page was told.
	big := make([]byte, 6<<20)
	copy(big, testPNG(t, 3))
	tb.drop(big, "huge.png", "image/png")
	tb.waitText("images-error", "huge.png is 6 MB: each image may be at most 5 MB.")
	if n := eval[int](tb, `document.querySelectorAll('#previews .preview').length`); n != 0 {
		t.Errorf("huge.png was added")
	}
	tb.assertClean()
	// The server refuses them too, whatever a client claims.
	for _, data := range [][]byte{svg, html} {
		r := e.submit(t, id, map[string]any{"freeText": "x", "images": []map[string]any{{"data": base64.StdEncoding.EncodeToString(data), "mimeType": "image/png"}}})
		if r.Status != 400 || r.Body.Error.Details.Field != "images[0]" {
			t.Errorf("REST submit of %.20q: %d %s", data, r.Status, r.Raw)
		}
	}
}

func browserSingleChoice(t *testing.T, b *browser, e *restEdge) {
	id := e.create(t, keyA, map[string]any{"message": "Which one?", "predefinedOptions": []string{"Red", "Green", "Blue"}, "multiSelect": false})
	tb := b.newTab(t, true)
	tb.openPending(e.URL + "/feedback/" + id + "?lang=en")
	if n := eval[int](tb, `document.querySelectorAll('input[type=radio][name=selectedOptions]').length`); n != 3 {
		t.Fatalf("%d radios", n)
	}
	// Arrow keys move the choice, as in any radio group.
	tb.do("pick by keyboard", chromedp.Click(chromedp.ID("opt-0")), chromedp.KeyEvent(kb.ArrowDown), chromedp.Click(chromedp.ID("submit")))
	tb.waitView("submitted")
	if selected, _ := resultOf(t, e, id); !slices.Equal(selected, []string{"Green"}) {
		t.Fatalf("selected %v", selected)
	}
}

func browserNoJSForm(t *testing.T, b *browser, e *restEdge) {
	id := e.create(t, keyA, map[string]any{"message": "没有脚本也能填表吗？", "fields": everyField})
	tb := b.newTab(t, false)
	tb.do("open", chromedp.Navigate(e.URL+"/feedback/"+id+"?lang=zh&theme=dark"), chromedp.WaitVisible(chromedp.ID("submit")))
	// The server refuses what is missing, and says so next to the field.
	// The server names the first field at fault, next to it.
	tb.submitAndWait("submit", "#form-error")
	if got := eval[string](tb, `document.getElementById('f-name-error').textContent`); got != "此项必填。" {
		t.Errorf("name error %q", got)
	}
	if got := eval[string](tb, `document.getElementById('f-name').getAttribute('aria-invalid')`); got != "true" {
		t.Errorf("aria-invalid %q", got)
	}
	tb.screenshot("nojs-form-refused-dark-zh")
	tb.do("fill the form",
		chromedp.SendKeys(chromedp.ID("f-name"), "Ada"),
		chromedp.SendKeys(chromedp.ID("f-email"), "ada@example.com"),
		chromedp.SetValue(chromedp.ID("f-day"), "2026-12-01"),
		chromedp.SetValue(chromedp.ID("f-at"), "2026-12-01T09:30"),
		chromedp.SetValue(chromedp.ID("f-copies"), "12"), // out of bounds: the server says so
		chromedp.Click(chromedp.ID("f-size-2")),
		chromedp.Click(chromedp.ID("f-tags-1")),
	)
	tb.submitAndWait("submit", "#f-copies-error")
	if got := eval[string](tb, `document.getElementById('f-copies-error').textContent`); got != "请输入 1 到 10 之间的数字。" {
		t.Errorf("copies error %q", got)
	}
	// What was typed came back.
	if got := eval[string](tb, `document.getElementById('f-name').value + '|' + document.getElementById('f-at').value + '|' + document.getElementById('f-size-2').checked`); got != "Ada|2026-12-01T09:30|true" {
		t.Errorf("draft %q", got)
	}
	tb.do("fix", chromedp.SetValue(chromedp.ID("f-copies"), "2"))
	tb.submitAndWait("submit", `[data-view="submitted"]`)
	fb := resultBody(t, e, id)["feedback"].(map[string]any)
	got, _ := json.Marshal(fb["values"])
	if want := `{"at":"2026-12-01T09:30:00Z","copies":2,"day":"2026-12-01","email":"ada@example.com","name":"Ada","notify":true,"size":"L","tags":["api"]}`; string(got) != want {
		t.Fatalf("values %s\nwant   %s", got, want)
	}
}

func browserNoJSApproval(t *testing.T, b *browser, e *restEdge) {
	id := e.create(t, keyA, map[string]any{"kind": "approval", "action": "Merge PR #42"})
	photo := filepath.Join(t.TempDir(), "evidence.png")
	img := testPNG(t, 40)
	if err := os.WriteFile(photo, img, 0o644); err != nil {
		t.Fatal(err)
	}
	tb := b.newTab(t, false)
	tb.do("open", chromedp.Navigate(e.URL+"/feedback/"+id+"?lang=en"), chromedp.WaitVisible(chromedp.ID("approve")))
	tb.do("deny with a reason and an image",
		chromedp.SendKeys(chromedp.ID("reason"), "Tests fail\non CI."),
		chromedp.SetUploadFiles(chromedp.ID("images"), []string{photo}),
	)
	tb.submitAndWait("deny", `[data-view="submitted"]`)
	fb := resultBody(t, e, id)["feedback"].(map[string]any)
	imgs, _ := fb["images"].([]any)
	if fb["decision"] != "deny" || fb["reason"] != "Tests fail\non CI." || len(imgs) != 1 {
		t.Fatalf("answer %v", fb)
	}
	ref := imgs[0].(map[string]any)
	if ref["name"] != "evidence.png" || !bytes.Equal(getImage(t, ref["url"].(string)), img) {
		t.Errorf("image %v", ref)
	}
}

// browserPhoneScreenshots opens a form, an approval and a question with
// images on a 360 px phone in both themes and languages: nothing may be
// wider than the screen. The screenshots are for people to look at.
func browserPhoneScreenshots(t *testing.T, b *browser, e *restEdge) {
	shot := base64.StdEncoding.EncodeToString(testPNG(t, 7))
	pages := map[string]string{
		"form": e.create(t, keyA, map[string]any{"message": "A few details, please.", "title": "Release checklist", "fields": everyField}),
		"approval": e.create(t, keyA, map[string]any{"kind": "approval", "action": "Run Bash: npm publish --access public",
			"details": map[string]any{"command": "npm publish --access public", "cwd": "/home/ada/projects/very-long-directory-name/packages/client"}}),
		"images": e.create(t, keyA, map[string]any{"message": "Which layout is better?", "predefinedOptions": []string{"Left", "Right"}, "multiSelect": false,
			"images": []map[string]any{{"data": shot, "name": "left.png"}, {"data": shot, "name": "right.png"}}}),
	}
	tb := b.newTab(t, true)
	tb.do("phone", chromedp.EmulateViewport(360, 740, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	for _, theme := range []struct{ name, lang string }{{"dark", "zh"}, {"light", "en"}} {
		for kind, id := range pages {
			name := fmt.Sprintf("phone-%s-%s-%s-360", kind, theme.name, theme.lang)
			tb.openPending(fmt.Sprintf("%s/feedback/%s?theme=%s&lang=%s", e.URL, id, theme.name, theme.lang))
			if kind == "images" {
				tb.paste(testPNG(t, 200), "mine.png", "image/png")
				tb.previews(1)
			}
			if over := eval[int](tb, `document.documentElement.scrollWidth - window.innerWidth`); over > 0 {
				t.Errorf("%s: the page is %d px wider than the screen", name, over)
			}
			tb.screenshot(name)
			tb.assertClean()
		}
	}
}
