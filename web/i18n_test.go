package web

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/feedbackd/feedbackd/pkg/envelope"
	"github.com/feedbackd/feedbackd/sessions"
)

var (
	templateKeyRE = regexp.MustCompile(`\bt\s+"([^"]+)"`)
	scriptKeyRE   = regexp.MustCompile(`\bt\(\s*'([^']+)'`)
	goKeyRE       = regexp.MustCompile(`translate\(\s*"([^"]+)"`)
	placeholderRE = regexp.MustCompile(`\{[a-zA-Z]+\}`)
)

// usedKeys returns every translation key named literally by the templates,
// the script and the Go code, and where each was found.
func usedKeys(t *testing.T) map[string]string {
	t.Helper()
	used := map[string]string{}
	collect := func(re *regexp.Regexp, name string, src []byte) {
		for _, m := range re.FindAllSubmatch(src, -1) {
			used[string(m[1])] = name
		}
	}
	tmpls, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil || len(tmpls) == 0 {
		t.Fatalf("no templates: %v", err)
	}
	for _, name := range tmpls {
		src, _ := templateFS.ReadFile(name)
		collect(templateKeyRE, name, src)
	}
	js, err := staticFS.ReadFile("static/feedback.js")
	if err != nil {
		t.Fatal(err)
	}
	collect(scriptKeyRE, "feedback.js", js)
	appJS, err := appFS.ReadFile("app/app.js")
	if err != nil {
		t.Fatal(err)
	}
	collect(scriptKeyRE, "app/app.js", appJS)
	inboxJS, err := staticFS.ReadFile("static/inbox.js")
	if err != nil {
		t.Fatal(err)
	}
	collect(scriptKeyRE, "inbox.js", inboxJS)
	goFiles, _ := filepath.Glob("*.go")
	for _, name := range goFiles {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		collect(goKeyRE, name, src)
	}
	return used
}

func TestTranslationsHaveTheSameKeysAndPlaceholders(t *testing.T) {
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	ref := cats[defaultLang]
	for _, lang := range languages {
		c := cats[lang]
		if missing := missingKeys(ref, c); len(missing) > 0 {
			t.Errorf("%s lacks %v", lang, missing)
		}
		if extra := missingKeys(c, ref); len(extra) > 0 {
			t.Errorf("%s has keys %s lacks: %v", lang, defaultLang, extra)
		}
		for key, text := range c {
			if strings.TrimSpace(text) == "" {
				t.Errorf("%s %q is empty", lang, key)
			}
			want := placeholderRE.FindAllString(ref[key], -1)
			got := placeholderRE.FindAllString(text, -1)
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(want, got) {
				t.Errorf("%s %q has placeholders %v, %s has %v", lang, key, got, defaultLang, want)
			}
		}
	}
}

func TestEveryKeyTheTemplatesAndScriptUseIsTranslated(t *testing.T) {
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	used := usedKeys(t)
	// Guard against a regexp that silently stops matching.
	if len(used) < 40 {
		t.Fatalf("found only %d used keys; the scan is broken", len(used))
	}
	for key, where := range used {
		for _, lang := range languages {
			if !cats[lang].has(key) {
				t.Errorf("%s uses %q, missing from i18n/%s.json", where, key, lang)
			}
		}
	}
}

func TestEveryTranslationIsUsed(t *testing.T) {
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	used := usedKeys(t)
	for _, key := range cats[defaultLang].keys() {
		// error.CODE and error.CODE.field are looked up by the server's code.
		if strings.HasPrefix(key, "error.") && strings.ToUpper(key[6:7]) == key[6:7] {
			continue
		}
		if _, ok := used[key]; !ok {
			t.Errorf("%q is translated but never used", key)
		}
	}
}

func TestEveryErrorTheSubmitPathReturnsIsTranslated(t *testing.T) {
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	codes := []sessions.Code{
		sessions.CodeInvalidRequest, sessions.CodeNotFound, sessions.CodeAlreadySubmitted,
		sessions.CodeExpired, sessions.CodeCancelled, envelope.CodePayloadTooLarge,
		envelope.CodeRateLimited, sessions.CodeServiceUnavailable, sessions.CodeInternal,
	}
	for _, lang := range languages {
		for _, code := range codes {
			if !cats[lang].has("error." + string(code)) {
				t.Errorf("i18n/%s.json lacks error.%s", lang, code)
			}
		}
		for _, field := range []string{"selectedOptions", "freeText"} {
			if !cats[lang].has("error.INVALID_REQUEST." + field) {
				t.Errorf("i18n/%s.json lacks error.INVALID_REQUEST.%s", lang, field)
			}
		}
	}
}
