package edge_test

import (
	"encoding/json"
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The pages of a seed-style question ({message, predefinedOptions}) are
// pinned by golden files written from the code before richer questions
// existed (go test -run TestSeedStylePagesAreUnchanged -update, run once on
// that code). Volatile parts are normalised first: the session id, the
// content-hashed asset names, the countdown's text, and the script's data,
// which is compared on its own below.
var updateGolden = flag.Bool("update", false, "rewrite the golden files of TestSeedStylePagesAreUnchanged")

var (
	assetHashRE = regexp.MustCompile(`/static/([a-z]+)\.[0-9a-f]+\.([a-z]+)`)
	pageDataRE  = regexp.MustCompile(`(?s)<script type="application/json" id="page-data">(.*?)</script>`)
	countdownRE = regexp.MustCompile(`<span id="countdown-text">[^<]*</span>`)
)

// seedPage is a page's markup with volatile parts replaced, and its script
// data.
type seedPage struct {
	markup string
	data   map[string]any
}

func normalisePage(t *testing.T, body, id string) seedPage {
	t.Helper()
	m := pageDataRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no page data in %s", body)
	}
	var data map[string]any
	if err := json.Unmarshal([]byte(m[1]), &data); err != nil {
		t.Fatalf("page data %s: %v", m[1], err)
	}
	for _, k := range []string{"sessionId", "expiresAt", "serverNow", "wsToken", "wsUrl", "submitUrl", "stateUrl"} {
		if _, ok := data[k]; ok {
			data[k] = "VOLATILE"
		}
	}
	markup := pageDataRE.ReplaceAllString(body, `<script type="application/json" id="page-data">PAGE-DATA</script>`)
	markup = assetHashRE.ReplaceAllString(markup, "/static/$1.HASH.$2")
	markup = strings.ReplaceAll(markup, id, "SESSION-ID")
	// The time left depends on the moment of the request.
	markup = countdownRE.ReplaceAllString(markup, `<span id="countdown-text">COUNTDOWN</span>`)
	return seedPage{markup: markup, data: data}
}

func TestSeedStylePagesAreUnchanged(t *testing.T) {
	t.Parallel()
	e := shortEdge(t)
	id := e.create(t, keyA, map[string]any{
		"message":           "## Ship **v2** today?\n\nThe release passed every check on *staging*.\n\n- backups: done\n- alerts: on\n\nNotes: https://example.com/notes",
		"predefinedOptions": []string{"Ship it", "Tomorrow", "Hold <the> release & wait"},
		"timeout":           3600,
	})
	textOnly := e.create(t, keyA, map[string]any{"message": "有什么想补充的吗？", "timeout": 3600})
	pages := map[string]seedPage{}
	for name, p := range map[string]struct {
		id, query string
		form      url.Values
	}{
		"options-en-light": {id, "?lang=en&theme=light", nil},
		"options-zh-dark":  {id, "?lang=zh&theme=dark", nil},
		"text-zh-auto":     {textOnly, "?lang=zh", nil},
		"refused-en-light": {id, "?lang=en&theme=light", url.Values{"selectedOptions": {"Nope"}, "freeText": {"typed\r\nbefore"}}},
		"refused-text-zh":  {textOnly, "?lang=zh", url.Values{"freeText": {strings.Repeat("字", 1001)}}},
		"refused-empty-en": {id, "?lang=en", url.Values{"freeText": {""}}},
	} {
		method := "GET"
		if p.form != nil {
			method = "POST"
		}
		page := fetchPage(t, method, e.URL+"/feedback/"+p.id+p.query, nil, p.form)
		if want := map[bool]int{true: 400, false: 200}[p.form != nil]; page.Status != want {
			t.Fatalf("%s: %d, want %d", name, page.Status, want)
		}
		pages[name] = normalisePage(t, page.Body, p.id)
	}
	dir := filepath.Join("testdata", "seed-pages")
	for name, p := range pages {
		path := filepath.Join(dir, name+".html")
		dataPath := filepath.Join(dir, name+".json")
		if *updateGolden {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			data, _ := json.MarshalIndent(p.data, "", "  ")
			if err := os.WriteFile(path, []byte(p.markup), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dataPath, data, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v (write the golden files with -update on the code before richer questions)", name, err)
		}
		if p.markup != string(want) {
			t.Errorf("%s: the page changed; got\n%s\nwant\n%s", name, p.markup, want)
		}
		// The script's data may gain keys (and translations) for new kinds
		// of questions; what it held before must not change.
		raw, err := os.ReadFile(dataPath)
		if err != nil {
			t.Fatal(err)
		}
		var old map[string]any
		if err := json.Unmarshal(raw, &old); err != nil {
			t.Fatal(err)
		}
		for k, v := range old {
			if k == "i18n" {
				oldT, newT := v.(map[string]any), p.data[k].(map[string]any)
				for key, text := range oldT {
					if newT[key] != text {
						t.Errorf("%s: translation %q is %q, was %q", name, key, newT[key], text)
					}
				}
				continue
			}
			if got, _ := json.Marshal(p.data[k]); string(got) != mustJSON(v) {
				t.Errorf("%s: page data %q is %s, was %s", name, k, got, mustJSON(v))
			}
		}
	}
}
