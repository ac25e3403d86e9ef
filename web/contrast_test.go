package web

import (
	"maps"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var declRE = regexp.MustCompile(`(--[a-z0-9-]+)\s*:\s*(#[0-9a-fA-F]{6})\s*;`)

// themeBlock returns the colour custom properties declared in the CSS rule
// that starts with selector.
func themeBlock(t *testing.T, css, selector string) map[string]string {
	t.Helper()
	i := strings.Index(css, selector)
	if i < 0 {
		t.Fatalf("feedback.css has no %q rule", selector)
	}
	body := css[i+len(selector):]
	body = body[:strings.Index(body, "}")]
	vars := map[string]string{}
	for _, m := range declRE.FindAllStringSubmatch(body, -1) {
		vars[m[1]] = strings.ToLower(m[2])
	}
	return vars
}

func luminance(hex string) float64 {
	channel := func(s string) float64 {
		v, _ := strconv.ParseUint(s, 16, 8)
		c := float64(v) / 255
		if c <= 0.04045 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	return 0.2126*channel(hex[1:3]) + 0.7152*channel(hex[3:5]) + 0.0722*channel(hex[5:7])
}

func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

func TestThemesMeetWCAGAAContrast(t *testing.T) {
	raw, err := staticFS.ReadFile("static/feedback.css")
	if err != nil {
		t.Fatal(err)
	}
	css := string(raw)
	light := themeBlock(t, css, ":root,\n:root[data-theme=\"light\"] {")
	dark := themeBlock(t, css, ":root[data-theme=\"dark\"] {")
	autoDark := themeBlock(t, css[strings.Index(css, "@media (prefers-color-scheme: dark)"):], ":root[data-theme=\"auto\"] {")
	if !maps.Equal(dark, autoDark) {
		t.Errorf("the auto theme's dark colours differ from ?theme=dark:\n%v\n%v", dark, autoDark)
	}
	if !maps.Equal(mapsKeys(light), mapsKeys(dark)) {
		t.Errorf("light and dark themes declare different colours")
	}

	// Text (4.5:1): every foreground on every background it is used on.
	text := [][2]string{
		{"--text", "--bg"}, {"--text", "--surface"}, {"--text", "--surface-2"}, {"--text", "--code-bg"},
		{"--text", "--accent-soft"}, {"--text", "--ok-soft"}, {"--text", "--warn-soft"}, {"--text", "--danger-soft"},
		{"--muted", "--bg"}, {"--muted", "--surface"}, {"--muted", "--surface-2"}, {"--muted", "--ok-soft"},
		{"--muted", "--warn-soft"}, {"--muted", "--code-bg"},
		{"--link", "--surface"}, {"--link", "--bg"}, {"--link", "--ok-soft"}, {"--link", "--surface-2"},
		{"--accent-text", "--accent"}, {"--accent-text", "--accent-hover"},
		{"--danger", "--surface"}, {"--danger", "--danger-soft"},
	}
	// Controls, focus rings and icons (3:1, WCAG 1.4.11).
	ui := [][2]string{
		{"--border-strong", "--surface"}, {"--border-strong", "--surface-2"},
		{"--focus", "--surface"}, {"--focus", "--bg"}, {"--focus", "--surface-2"}, {"--focus", "--accent-soft"},
		{"--accent", "--surface"}, {"--accent", "--accent-soft"}, {"--accent", "--bg"},
		{"--ok", "--ok-soft"}, {"--warn", "--warn-soft"}, {"--danger", "--danger-soft"}, {"--muted", "--surface"},
	}
	for name, theme := range map[string]map[string]string{"light": light, "dark": dark} {
		check := func(pairs [][2]string, min float64) {
			for _, p := range pairs {
				fg, bg := theme[p[0]], theme[p[1]]
				if fg == "" || bg == "" {
					t.Errorf("%s theme lacks %s or %s", name, p[0], p[1])
					continue
				}
				if c := contrast(fg, bg); c < min {
					t.Errorf("%s theme: %s %s on %s %s is %.2f:1, want at least %.1f:1", name, p[0], fg, p[1], bg, c, min)
				}
			}
		}
		check(text, 4.5)
		check(ui, 3)
	}
}

func mapsKeys(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k := range m {
		out[k] = ""
	}
	return out
}
