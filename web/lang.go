package web

import (
	"cmp"
	"embed"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Languages the page is translated into, in order of preference when a
// browser accepts both equally.
var languages = []string{"en", "zh"}

const defaultLang = "en"

//go:embed i18n/*.json
var i18nFS embed.FS

// catalog maps a translation key to its text. Placeholders are {name}.
type catalog map[string]string

// loadCatalogs reads every language's translations and insists that they
// have the same keys: a key missing in one language would show the key itself
// to a person.
func loadCatalogs() (map[string]catalog, error) {
	cats := make(map[string]catalog, len(languages))
	for _, lang := range languages {
		raw, err := i18nFS.ReadFile("i18n/" + lang + ".json")
		if err != nil {
			return nil, fmt.Errorf("read %s translations: %w", lang, err)
		}
		var c catalog
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("parse %s translations: %w", lang, err)
		}
		cats[lang] = c
	}
	ref := cats[defaultLang]
	for _, lang := range languages {
		if missing := missingKeys(ref, cats[lang]); len(missing) > 0 {
			return nil, fmt.Errorf("%s translations lack %s", lang, strings.Join(missing, ", "))
		}
		if extra := missingKeys(cats[lang], ref); len(extra) > 0 {
			return nil, fmt.Errorf("%s translations lack %s", defaultLang, strings.Join(extra, ", "))
		}
	}
	return cats, nil
}

// missingKeys returns the keys of want that have lacks, sorted.
func missingKeys(want, has catalog) []string {
	var out []string
	for k := range want {
		if _, ok := has[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// translate returns the text of key with its {name} placeholders filled from
// args, given as name, value pairs.
func (c catalog) translate(key string, args ...any) (string, error) {
	text, ok := c[key]
	if !ok {
		return "", fmt.Errorf("no translation for %q", key)
	}
	if len(args)%2 != 0 {
		return "", fmt.Errorf("translation %q: arguments must be name, value pairs", key)
	}
	for i := 0; i < len(args); i += 2 {
		name, ok := args[i].(string)
		if !ok {
			return "", fmt.Errorf("translation %q: argument name %v is not a string", key, args[i])
		}
		text = strings.ReplaceAll(text, "{"+name+"}", fmt.Sprint(args[i+1]))
	}
	return text, nil
}

// has reports whether key is translated.
func (c catalog) has(key string) bool {
	_, ok := c[key]
	return ok
}

// keys returns the catalog's keys, sorted.
func (c catalog) keys() []string {
	return slices.Sorted(maps.Keys(c))
}

// NegotiateLang picks the page's language: "zh" or "en". An explicit query
// value (?lang=zh or ?lang=en, any case, a region such as zh-TW accepted)
// wins; "auto", an empty or unknown value defer to the Accept-Language header,
// whose q-values are honoured (q=0 means "not this one"). Anything that
// matches neither language falls back to English.
func NegotiateLang(query, acceptLanguage string) string {
	if lang, ok := primaryLang(query); ok {
		return lang
	}
	type choice struct {
		lang  string
		q     float64
		order int
	}
	var choices []choice
	for i, part := range strings.Split(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(part, ";")
		lang, ok := primaryLang(tag)
		if !ok {
			continue
		}
		q := 1.0
		for p := range strings.SplitSeq(params, ";") {
			name, value, found := strings.Cut(strings.TrimSpace(p), "=")
			if !found || !strings.EqualFold(strings.TrimSpace(name), "q") {
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
			if err != nil || v < 0 || v > 1 {
				v = 0 // a malformed weight is not a reason to prefer a language
			}
			q = v
		}
		if q > 0 {
			choices = append(choices, choice{lang, q, i})
		}
	}
	if len(choices) == 0 {
		return defaultLang
	}
	best := slices.MinFunc(choices, func(a, b choice) int {
		if c := cmp.Compare(b.q, a.q); c != 0 {
			return c
		}
		return cmp.Compare(a.order, b.order)
	})
	return best.lang
}

// primaryLang maps a language tag (zh, zh-CN, zh-Hant-TW, EN_us, …) to a
// supported language.
func primaryLang(tag string) (string, bool) {
	tag = strings.ToLower(strings.TrimSpace(tag))
	primary, _, _ := strings.Cut(strings.ReplaceAll(tag, "_", "-"), "-")
	if slices.Contains(languages, primary) {
		return primary, true
	}
	return "", false
}

// The themes of the page.
const (
	ThemeAuto  = "auto"
	ThemeDark  = "dark"
	ThemeLight = "light"
)

// NormalizeTheme maps the ?theme= query value to "dark", "light" or "auto"
// (the browser's prefers-color-scheme), the default for anything else.
func NormalizeTheme(query string) string {
	switch t := strings.ToLower(strings.TrimSpace(query)); t {
	case ThemeDark, ThemeLight:
		return t
	}
	return ThemeAuto
}
