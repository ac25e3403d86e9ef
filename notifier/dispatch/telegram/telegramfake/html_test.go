package telegramfake

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParseHTML(f *testing.F) {
	for _, s := range []string{"<b>x</b>", "a < b", "&lt;&#65;&#x1F600;", `<a href="x">y</a>`, "<b><i>x</b>", "&#0;&#xD800;", "<span class='tg-spoiler'>s</span>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		plain, err := parseHTML(s)
		if err != nil {
			return
		}
		if utf8.ValidString(s) && !utf8.ValidString(plain) {
			t.Fatalf("valid %q parsed to invalid UTF-8 %q", s, plain)
		}
		// Escaping any text with the four entities Telegram documents
		// gives back exactly that text.
		esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(plain)
		again, err := parseHTML("<b>" + esc + "</b>")
		if err != nil || again != plain {
			t.Fatalf("escaped %q parsed to %q, %v", plain, again, err)
		}
	})
}
