package edge_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/sessions"
)

// The richer questions through REST: what is refused names the field and
// leaves nothing behind (no session, no image, no answer), what is accepted
// reads back in full, and images are served only to whom they belong, with
// headers that keep a browser from running them, across a restart.

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// sessionsOf counts the principal's sessions.
func sessionsOf(t *testing.T, e *restEdge, key string) int {
	t.Helper()
	r := do(t, "GET", e.URL+"/api/feedback?limit=100", key, "", nil)
	var page struct{ Items []json.RawMessage }
	r.data(t, &page)
	return len(page.Items)
}

// storedObjects is how many image objects the edge's store holds.
func storedObjects(t *testing.T, e *restEdge) int {
	t.Helper()
	list, err := e.m.Backend().Images().ObjectStore().List(context.Background())
	if err != nil {
		return 0 // jetstream.ErrNoObjectsFound: none
	}
	return len(list)
}

func TestRESTRefusedQuestionsNameTheFieldAndStoreNothing(t *testing.T) {
	t.Parallel()
	e, _ := newREST(t)
	good := b64(testPNG(t, 1))
	html := b64([]byte("<!doctype html><script>alert(1)</script>"))
	deep := strings.Repeat(`{"type":"object","properties":{"a":`, 200) + `{"type":"string"}` + strings.Repeat(`}}`, 200)
	var manyEnum []string
	for i := range 10000 {
		manyEnum = append(manyEnum, fmt.Sprint(i))
	}
	for _, c := range []struct {
		name  string
		body  string
		field string
	}{
		{"nested form", `{"message":"q","fields":{"type":"object","properties":{"o":` + deep + `}}}`, "fields.properties.o.type"},
		{"10,000 choices", `{"message":"q","fields":{"type":"object","properties":{"e":{"type":"string","enum":` + mustJSON(manyEnum) + `}}}}`, "fields"},
		{"101 choices", `{"message":"q","fields":{"type":"object","properties":{"e":{"type":"string","enum":` + mustJSON(manyEnum[:101]) + `}}}}`, "fields.properties.e.enum"},
		{"huge default", `{"message":"q","fields":{"type":"object","properties":{"s":{"type":"string","maxLength":10,"default":"` + strings.Repeat("x", 500) + `"}}}}`, "fields.properties.s.default"},
		{"minimum above maximum", `{"message":"q","fields":{"type":"object","properties":{"n":{"type":"number","minimum":5,"maximum":1}}}}`, "fields.properties.n.minimum"},
		{"a field of the wrong JSON type", `{"message":"q","fields":{"type":"object","properties":{"n":"number"}}}`, "fields.properties.n"},
		{"fields not an object", `{"message":"q","fields":[1,2]}`, "fields"},
		{"required names no field", `{"message":"q","fields":{"type":"object","properties":{"a":{"type":"boolean"}},"required":["b"]}}`, "fields.required[0]"},
		{"options and fields", `{"message":"q","predefinedOptions":["a"],"fields":{"type":"object","properties":{"a":{"type":"boolean"}}}}`, "fields"},
		{"approval with options", `{"kind":"approval","action":"x","predefinedOptions":["a"]}`, "predefinedOptions"},
		{"approval without action", `{"kind":"approval"}`, "action"},
		{"action on a question", `{"message":"q","action":"x"}`, "action"},
		{"two-line title", `{"message":"q","title":"a\nb"}`, "title"},
		{"details over 32 KiB", `{"kind":"approval","action":"x","details":{"s":"` + strings.Repeat("d", 33<<10) + `"}}`, "details"},
		{"third image is HTML", `{"message":"q","images":[{"data":"` + good + `"},{"data":"` + good + `"},{"data":"` + html + `","mimeType":"image/png"}]}`, "images[2]"},
		{"a data: URL", `{"message":"q","images":[{"data":"data:image/png;base64,` + good + `"}]}`, "images[0].data"},
		{"a declared SVG", `{"message":"q","images":[{"data":"` + good + `","mimeType":"image/svg+xml"}]}`, "images[0].mimeType"},
	} {
		r := do(t, "POST", e.URL+"/api/feedback/create", keyA, ctJSON, []byte(c.body))
		if r.Status != 400 || r.code() != "INVALID_REQUEST" || r.Body.Error.Details == nil || r.Body.Error.Details.Field != c.field {
			t.Errorf("%s: %d %.300s, want 400 naming %s", c.name, r.Status, r.Raw, c.field)
		}
	}
	if n := sessionsOf(t, e, keyA); n != 0 {
		t.Errorf("refused creates left %d sessions", n)
	}
	if n := storedObjects(t, e); n != 0 {
		t.Errorf("refused creates left %d images in the object store", n)
	}

	// Answers: each is checked against what the session asks; a refused one
	// leaves the session pending and its images unstored.
	form := e.create(t, keyA, map[string]any{"message": "q", "fields": map[string]any{"type": "object", "properties": map[string]any{
		"day":  map[string]any{"type": "string", "format": "date"},
		"n":    map[string]any{"type": "integer", "minimum": 1, "maximum": 3},
		"pick": map[string]any{"type": "array", "items": map[string]any{"type": "string", "enum": []string{"a", "b"}}, "maxItems": 1},
	}, "required": []string{"day"}}})
	approval := e.create(t, keyA, map[string]any{"kind": "approval", "action": "Deploy"})
	single := e.create(t, keyA, map[string]any{"message": "q", "predefinedOptions": []string{"a", "b"}, "multiSelect": false})
	img := []map[string]any{{"data": good}}
	for _, c := range []struct {
		name, id string
		body     map[string]any
		field    string
	}{
		{"no values", form, map[string]any{"freeText": "x", "images": img}, "values"},
		{"required missing", form, map[string]any{"values": map[string]any{"n": 2}, "images": img}, "values.day"},
		{"not a calendar date", form, map[string]any{"values": map[string]any{"day": "2026-02-30"}, "images": img}, "values.day"},
		{"not a whole number", form, map[string]any{"values": map[string]any{"day": "2026-02-03", "n": 1.5}, "images": img}, "values.n"},
		{"a string for a number", form, map[string]any{"values": map[string]any{"day": "2026-02-03", "n": "2"}}, "values.n"},
		{"out of range", form, map[string]any{"values": map[string]any{"day": "2026-02-03", "n": 4}}, "values.n"},
		{"too many choices", form, map[string]any{"values": map[string]any{"day": "2026-02-03", "pick": []string{"a", "b"}}}, "values.pick"},
		{"an unknown field", form, map[string]any{"values": map[string]any{"day": "2026-02-03", "zzz": 1}}, "values.zzz"},
		{"options to a form", form, map[string]any{"values": map[string]any{"day": "2026-02-03"}, "selectedOptions": []string{"a"}}, "selectedOptions[0]"},
		{"no decision", approval, map[string]any{"reason": "x", "images": img}, "decision"},
		{"free text to an approval", approval, map[string]any{"decision": "approve", "freeText": "x"}, "freeText"},
		{"values to an approval", approval, map[string]any{"decision": "approve", "values": map[string]any{"a": 1}}, "values"},
		{"two options to a single choice", single, map[string]any{"selectedOptions": []string{"a", "b"}, "images": img}, "selectedOptions"},
		{"a decision to a question", single, map[string]any{"decision": "approve"}, "decision"},
		{"five images", single, map[string]any{"freeText": "x", "images": []map[string]any{{"data": good}, {"data": good}, {"data": good}, {"data": good}, {"data": good}}}, "images"},
	} {
		r := e.submit(t, c.id, c.body)
		if r.Status != 400 || r.Body.Error.Details == nil || r.Body.Error.Details.Field != c.field {
			t.Errorf("%s: %d %.300s, want 400 naming %s", c.name, r.Status, r.Raw, c.field)
		}
	}
	for _, id := range []string{form, approval, single} {
		if r := do(t, "GET", e.URL+"/api/feedback/"+id+"/status", keyA, "", nil); !strings.Contains(string(r.Raw), `"status":"pending"`) {
			t.Errorf("a refused answer changed the session: %s", r.Raw)
		}
	}
	if n := storedObjects(t, e); n != 0 {
		t.Errorf("refused answers left %d images in the object store", n)
	}
}

// What the owner created reads back in full: title, kind, the question,
// the creation metadata, the agent's images with URLs; and the answer.
func TestRESTRicherQuestionReadsBackWhole(t *testing.T) {
	t.Parallel()
	e, _ := newREST(t)
	shot, mine := testPNG(t, 9), testJPEG(t)
	fields := json.RawMessage(`{"type":"object","properties":{"day":{"type":"string","format":"date","title":"Day"},"ok":{"type":"boolean","title":"OK?"}},"required":["day"]}`)
	id := e.create(t, keyA, map[string]any{"message": "When?", "title": "Planning", "fields": fields,
		"metadata": map[string]any{"ticket": "OPS-9"}, "images": []map[string]any{{"data": b64(shot), "name": "../../etc/plan\u202e.png"}}})
	if r := e.submit(t, id, map[string]any{"values": map[string]any{"day": "2026-01-02", "ok": true}, "images": []map[string]any{{"data": b64(mine), "mimeType": "image/png", "name": "photo"}}}); r.Status != 200 {
		t.Fatalf("submit: %d %s", r.Status, r.Raw)
	}
	var st struct {
		Question struct {
			Kind, Title, Message string
			Fields               json.RawMessage
			Metadata             map[string]string
			Images               []struct{ ID, Name, MimeType, URL, SHA256 string }
		}
	}
	do(t, "GET", e.URL+"/api/feedback/"+id+"/status", keyA, "", nil).data(t, &st)
	q := st.Question
	var gotFields, wantFields any
	_ = json.Unmarshal(q.Fields, &gotFields)
	_ = json.Unmarshal(fields, &wantFields)
	if q.Kind != "question" || q.Title != "Planning" || q.Message != "When?" || mustJSON(gotFields) != mustJSON(wantFields) || q.Metadata["ticket"] != "OPS-9" {
		t.Errorf("question %+v, fields %s", q, q.Fields)
	}
	if len(q.Images) != 1 || q.Images[0].Name != "plan.png" || q.Images[0].MimeType != "image/png" || q.Images[0].URL != e.URL+"/api/feedback/"+id+"/images/"+q.Images[0].ID {
		t.Errorf("the agent's image %+v", q.Images)
	}
	var res struct {
		Feedback struct {
			CombinedFeedback string
			Values           map[string]any
			Images           []struct{ Name, MimeType, URL string }
		}
		Question struct{ Metadata map[string]string }
	}
	do(t, "GET", e.URL+"/api/feedback/"+id+"/result", keyA, "", nil).data(t, &res)
	if res.Feedback.CombinedFeedback != "Day: 2026-01-02\nOK?: yes\n\n[1 image attached]" || res.Feedback.Values["ok"] != true ||
		res.Question.Metadata["ticket"] != "OPS-9" {
		t.Errorf("result %+v", res)
	}
	// The bytes decide the type, whatever was declared; the name gets the
	// extension that fits.
	if im := res.Feedback.Images; len(im) != 1 || im[0].MimeType != "image/jpeg" || im[0].Name != "photo.jpg" || !bytes.Equal(getImage(t, im[0].URL), mine) {
		t.Errorf("the answer's image %+v", im)
	}
	var list struct {
		Items []struct {
			Kind, Title string
			Metadata    map[string]string
		}
	}
	do(t, "GET", e.URL+"/api/feedback", keyA, "", nil).data(t, &list)
	if len(list.Items) != 1 || list.Items[0].Kind != "question" || list.Items[0].Title != "Planning" || list.Items[0].Metadata["ticket"] != "OPS-9" {
		t.Errorf("list %+v", list)
	}
}

// Images are served with their sniffed type and headers that forbid
// running anything, to their owner and to the page; survive a restart of
// serve; and are refused to another principal as if they did not exist.
func TestRESTImagesSurviveARestartAndBelongToTheirOwner(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := programtest.MustRunMain(t, programtest.DataDir(dir))
	e := &restEdge{URL: m.URL()}
	shot, mine := testPNG(t, 3), testPNG(t, 150)
	id := e.create(t, keyA, map[string]any{"message": "See", "images": []map[string]any{{"data": b64(shot), "name": "图表 \"1\".png"}}})
	if r := e.submit(t, id, map[string]any{"freeText": "ok", "images": []map[string]any{{"data": b64(mine)}}}); r.Status != 200 {
		t.Fatalf("submit: %d %s", r.Status, r.Raw)
	}
	var st struct {
		Question struct{ Images []struct{ ID, SHA256 string } }
	}
	do(t, "GET", e.URL+"/api/feedback/"+id+"/status", keyA, "", nil).data(t, &st)
	imageID := st.Question.Images[0].ID
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	http.DefaultClient.CloseIdleConnections()

	e = &restEdge{URL: programtest.MustRunMain(t, programtest.DataDir(dir)).URL()}
	get := func(path, key string, header map[string]string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, e.URL+path, nil)
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res, body
	}
	owner, page := "/api/feedback/"+id+"/images/"+imageID, "/feedback/"+id+"/images/"+imageID
	for _, c := range []struct{ path, key string }{{owner, keyA}, {page, ""}} {
		res, body := get(c.path, c.key, nil)
		if res.StatusCode != 200 || !bytes.Equal(body, shot) {
			t.Fatalf("%s after a restart: %d, %d bytes", c.path, res.StatusCode, len(body))
		}
		for h, want := range map[string]string{
			"Content-Type":            "image/png",
			"X-Content-Type-Options":  "nosniff",
			"Content-Security-Policy": "default-src 'none'; img-src 'self'; sandbox",
			"Cache-Control":           "private, max-age=3600, immutable",
			// The stored name lost its quotes; the header keeps the rest.
			"Content-Disposition": `inline; filename="__ 1.png"; filename*=UTF-8''%E5%9B%BE%E8%A1%A8%201.png`,
			"Etag":                `"` + st.Question.Images[0].SHA256 + `"`,
		} {
			if got := res.Header.Get(h); got != want {
				t.Errorf("%s: %s %q, want %q", c.path, h, got, want)
			}
		}
		if res, _ := get(c.path, c.key, map[string]string{"If-None-Match": res.Header.Get("ETag")}); res.StatusCode != 304 {
			t.Errorf("%s with its ETag: %d", c.path, res.StatusCode)
		}
	}
	// Another principal, an image of another session, an unknown image.
	other := e.create(t, keyB, map[string]any{"message": "B's"})
	for _, c := range []struct {
		path, key, code string
	}{
		{owner, keyB, "SESSION_NOT_FOUND"},
		{"/api/feedback/" + other + "/images/" + imageID, keyB, "IMAGE_NOT_FOUND"},
		{"/feedback/" + other + "/images/" + imageID, "", "IMAGE_NOT_FOUND"},
		{"/api/feedback/" + id + "/images/" + sessions.NewID(), keyA, "IMAGE_NOT_FOUND"},
	} {
		res, body := get(c.path, c.key, nil)
		if res.StatusCode != 404 || !strings.Contains(string(body), c.code) {
			t.Errorf("%s as %q: %d %s, want 404 %s", c.path, c.key, res.StatusCode, body, c.code)
		}
	}
}

// A seed-style question's answer is exactly today's: the same feedback
// object, key for key, and the same combinedFeedback.
func TestRESTSeedStyleAnswerIsUnchanged(t *testing.T) {
	t.Parallel()
	e, _ := newREST(t)
	id := e.create(t, keyA, map[string]any{"message": "Ship?", "predefinedOptions": []string{"Yes", "No", "Later"}})
	if r := e.submit(t, id, map[string]any{"selectedOptions": []string{"Yes", "Later"}, "freeText": "  after lunch\n", "metadata": map[string]any{"ua": "x"}}); r.Status != 200 {
		t.Fatalf("submit: %d %s", r.Status, r.Raw)
	}
	var res struct {
		Feedback json.RawMessage
		Metadata json.RawMessage
	}
	do(t, "GET", e.URL+"/api/feedback/"+id+"/result", keyA, "", nil).data(t, &res)
	if want := `{"selectedOptions":["Yes","Later"],"freeText":"  after lunch\n","combinedFeedback":"Yes\nLater\n\nafter lunch"}`; string(res.Feedback) != want || string(res.Metadata) != `{"ua":"x"}` {
		t.Fatalf("feedback %s, metadata %s\nwant     %s", res.Feedback, res.Metadata, want)
	}
}
