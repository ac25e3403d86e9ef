package web

import (
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// fragmentNodes parses rendered HTML the way a browser would, inside a <div>.
func fragmentNodes(t *testing.T, s string) []*html.Node {
	t.Helper()
	ctx := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
	nodes, err := html.ParseFragment(strings.NewReader(s), ctx)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return nodes
}

// walk calls f for n and every node below it.
func walk(n *html.Node, f func(*html.Node)) {
	f(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

// markdownElements is every element a message may render to.
var markdownElements = map[string]bool{
	"p": true, "br": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true,
	"ul": true, "ol": true, "li": true, "blockquote": true, "pre": true, "code": true,
	"em": true, "strong": true, "del": true, "a": true, "hr": true,
	"table": true, "thead": true, "tbody": true, "tr": true, "th": true, "td": true,
}

// allowedHref is the test's own statement of the link policy, independent
// of the code under test.
func allowedHref(href string) bool {
	h := strings.ToLower(href)
	return strings.HasPrefix(h, "https://") || strings.HasPrefix(h, "http://") || strings.HasPrefix(h, "mailto:")
}

// assertSafeFragment fails if the rendered Markdown holds any element,
// attribute or URL that could run script or load something.
func assertSafeFragment(t *testing.T, src, out string) {
	t.Helper()
	for _, n := range fragmentNodes(t, out) {
		walk(n, func(n *html.Node) {
			switch n.Type {
			case html.ElementNode:
				if !markdownElements[n.Data] {
					t.Errorf("RenderMarkdown(%q) produced <%s>: %s", src, n.Data, out)
				}
				for _, a := range n.Attr {
					switch a.Key {
					case "href":
						if n.Data != "a" || !allowedHref(a.Val) {
							t.Errorf("RenderMarkdown(%q): unsafe href %q on <%s>: %s", src, a.Val, n.Data, out)
						}
					case "rel", "target", "title", "align":
					case "class":
						if a.Val != "md-raw" && a.Val != "md-image" && !strings.HasPrefix(a.Val, "language-") {
							t.Errorf("RenderMarkdown(%q): unexpected class %q", src, a.Val)
						}
					default:
						t.Errorf("RenderMarkdown(%q): unexpected attribute %s=%q on <%s>: %s", src, a.Key, a.Val, n.Data, out)
					}
				}
			case html.CommentNode:
				t.Errorf("RenderMarkdown(%q) produced a comment: %s", src, out)
			}
		})
	}
}

func TestRenderMarkdownNeverProducesScriptOrUnsafeLinks(t *testing.T) {
	hostile := []string{
		"<script>alert(1)</script>",
		"<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
		"<img src=x onerror=alert(1)>",
		"hello <img src=x onerror=alert(1)> inline",
		"<div onclick=\"alert(1)\">\nblock\n</div>",
		"<iframe src=\"javascript:alert(1)\"></iframe>",
		"<style>body{display:none}</style>",
		"<svg><script>alert(1)</script></svg>",
		"<!-- comment --><a href=javascript:alert(1)>x</a>",
		"<a href=\"javascript:alert(1)\">click</a>",
		"[x](javascript:alert(1))",
		"[x](JaVaScRiPt:alert(1))",
		"[x](  javascript:alert(1)  )",
		"[x](&#106;avascript:alert(1))",
		"[x](&#x6A;avascript&#x3A;alert(1))",
		"[x](java\\script:alert(1))",
		"[x](<javascript:alert(1)>)",
		"[x](vbscript:msgbox(1))",
		"[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
		"[x](file:///etc/passwd)",
		"[x](//evil.example/)",
		"[x](/relative)",
		"[x](#fragment)",
		"[x][r]\n\n[r]: javascript:alert(1)",
		"<javascript:alert(1)>",
		"<JAVASCRIPT:alert(1)>",
		"<vbscript:alert(1)>",
		"<data:text/html,<script>alert(1)</script>>",
		"![x](javascript:alert(1))",
		"![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
		"![x\"onerror=alert(1)](https://example.com/i.png)",
		"[x](https://example.com/\"onmouseover=\"alert(1))",
		"[x](https://example.com/ \"title\\\" onmouseover=alert(1)\")",
		"```\"><script>alert(1)</script>\ncode\n```",
		"`<script>alert(1)</script>`",
		"| a |\n|---|\n| <script>alert(1)</script> |",
		"* <img src=x onerror=alert(1)>\n* two",
		"> <script>alert(1)</script>",
		"# <script>alert(1)</script>",
		"www.example.com/<script>alert(1)</script>",
		"</script><script>alert(1)</script>",
		"\xff\xfe<script>alert(1)</script>\xc3\x28",
		"[a](https://ok.example) <b onmouseover=alert(1)>bold</b>",
	}
	for _, src := range hostile {
		out := string(RenderMarkdown(src))
		assertSafeFragment(t, src, out)
		if !utf8.ValidString(out) {
			t.Errorf("RenderMarkdown(%q) is not valid UTF-8: %q", src, out)
		}
	}
}

func TestRenderMarkdownShowsRawHTMLAsText(t *testing.T) {
	out := string(RenderMarkdown("use a <div> here\n\n<script>alert(1)</script>"))
	for _, want := range []string{"use a &lt;div&gt; here", "&lt;script&gt;alert(1)&lt;/script&gt;"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q: %s", want, out)
		}
	}
}

func TestRenderMarkdownKeepsSafeLinksAndHardensThem(t *testing.T) {
	cases := []struct{ src, href string }{
		{"[docs](https://example.com/a?b=1&c=2)", "https://example.com/a?b=1&c=2"},
		{"[plain](http://example.com)", "http://example.com"},
		{"[HTTPS](HTTPS://EXAMPLE.COM/)", "HTTPS://EXAMPLE.COM/"},
		{"[mail](mailto:someone@example.com)", "mailto:someone@example.com"},
		{"<https://example.com/auto>", "https://example.com/auto"},
		{"see www.example.com today", "http://www.example.com"},
		{"write to someone@example.com", "mailto:someone@example.com"},
		{"![diagram](https://example.com/d.png)", "https://example.com/d.png"},
	}
	for _, c := range cases {
		out := string(RenderMarkdown(c.src))
		var links []*html.Node
		for _, n := range fragmentNodes(t, out) {
			walk(n, func(n *html.Node) {
				if n.Type == html.ElementNode && n.Data == "a" {
					links = append(links, n)
				}
			})
		}
		if len(links) != 1 {
			t.Errorf("RenderMarkdown(%q) has %d links, want 1: %s", c.src, len(links), out)
			continue
		}
		attrs := map[string]string{}
		for _, a := range links[0].Attr {
			attrs[a.Key] = a.Val
		}
		if attrs["href"] != c.href {
			t.Errorf("RenderMarkdown(%q) href = %q, want %q", c.src, attrs["href"], c.href)
		}
		if attrs["rel"] != "noopener noreferrer" || attrs["target"] != "_blank" {
			t.Errorf("RenderMarkdown(%q) link lacks rel/target: %s", c.src, out)
		}
	}
}

func TestRenderMarkdownRendersUnsafeLinksAsTheirText(t *testing.T) {
	out := string(RenderMarkdown("[click me](javascript:alert(1)) and ![the chart](vbscript:x)"))
	if strings.Contains(out, "<a") || !strings.Contains(out, "click me") || !strings.Contains(out, "the chart") {
		t.Errorf("unsafe links should render as text: %s", out)
	}
}

func TestRenderMarkdownRendersImagesAsLinks(t *testing.T) {
	out := string(RenderMarkdown("![a chart](https://example.com/c.png \"Q3\")"))
	if strings.Contains(out, "<img") {
		t.Fatalf("an image was rendered: %s", out)
	}
	if !strings.Contains(out, `class="md-image"`) || !strings.Contains(out, ">a chart</a>") || !strings.Contains(out, `title="Q3"`) {
		t.Errorf("image should become a link labelled with its alt text: %s", out)
	}
	// An image inside a link must not nest a second <a>.
	out = string(RenderMarkdown("[![badge](https://example.com/b.svg)](https://example.com/)"))
	if strings.Count(out, "<a ") != 1 || !strings.Contains(out, ">badge</a>") {
		t.Errorf("linked image should be one link labelled with the alt text: %s", out)
	}
}

func TestRenderMarkdownSupportsCommonMarkdown(t *testing.T) {
	src := "# Title\n\nSome *emphasis*, **strong**, ~~gone~~ and `code`.\nNext line.\n\n" +
		"- one\n- two\n\n1. first\n\n```go\nfmt.Println(\"<hi>\")\n```\n\n> quoted\n\n| a | b |\n|:--|--:|\n| 1 | 2 |\n"
	out := string(RenderMarkdown(src))
	for _, want := range []string{
		"<h2>Title</h2>", "<em>emphasis</em>", "<strong>strong</strong>", "<del>gone</del>",
		"<code>code</code>", "<br>", "<ul>", "<ol>", `<code class="language-go">`,
		"fmt.Println(&quot;&lt;hi&gt;&quot;)", "<blockquote>", "<table>", `<th align="left">`, `<td align="right">`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "<h1") {
		t.Errorf("message headings must start at h2, the page owns h1:\n%s", out)
	}
	if strings.Contains(out, "style=") {
		t.Errorf("inline styles break the page's CSP:\n%s", out)
	}
}
