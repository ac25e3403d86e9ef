package web

import "testing"

func TestNegotiateLang(t *testing.T) {
	cases := []struct {
		query, accept, want string
	}{
		{"", "", "en"},
		{"auto", "", "en"},
		{"", "zh-CN,zh;q=0.9,en;q=0.8", "zh"},
		{"", "zh-TW;q=0.9", "zh"},
		{"", "zh-Hant-TW", "zh"},
		{"", "en-US,en;q=0.9", "en"},
		{"", "en-US;q=0.5, zh-CN;q=0.9", "zh"},
		{"", "zh-CN;q=0.5, en-GB;q=0.9", "en"},
		{"", "fr-FR,fr;q=0.9,zh;q=0.4,en;q=0.3", "zh"},
		{"", "fr-FR, de", "en"},
		{"", "zh;q=0, en;q=0.1", "en"},
		{"", "zh;q=0", "en"},
		{"", "zh;q=garbage, en;q=0.2", "en"},
		{"", "zh;q=2", "en"},
		{"", "*", "en"},
		{"", "zh, en", "zh"},
		{"", "en, zh", "en"},
		{"", "ZH_cn", "zh"},
		{"", ";;;,,,q=1", "en"},
		{"", "garbage", "en"},
		{"", "\xff\xfe", "en"},
		{"zh", "en-US", "zh"},
		{"ZH", "", "zh"},
		{"zh-TW", "en", "zh"},
		{"en", "zh-CN", "en"},
		{"auto", "zh-CN", "zh"},
		{"fr", "zh-CN", "zh"},
		{"garbage", "", "en"},
	}
	for _, c := range cases {
		if got := NegotiateLang(c.query, c.accept); got != c.want {
			t.Errorf("NegotiateLang(%q, %q) = %q, want %q", c.query, c.accept, got, c.want)
		}
	}
}

func TestNormalizeTheme(t *testing.T) {
	cases := map[string]string{
		"": "auto", "auto": "auto", "dark": "dark", "DARK": "dark", " light ": "light",
		"light": "light", "blue": "auto", "dark;": "auto", "\"><script>": "auto",
	}
	for in, want := range cases {
		if got := NormalizeTheme(in); got != want {
			t.Errorf("NormalizeTheme(%q) = %q, want %q", in, got, want)
		}
	}
}
