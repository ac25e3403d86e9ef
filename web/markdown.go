package web

import (
	"bytes"
	"html/template"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/util"
)

// markdown is the one configured converter. Goldmark parsers and renderers
// are safe for concurrent use once built.
var markdown = goldmark.New(
	goldmark.WithExtensions(
		// The align attribute, not style="": the page's CSP forbids inline styles.
		extension.NewTable(extension.WithTableCellAlignMethod(extension.TableCellAlignAttribute)),
		extension.Strikethrough,
		extension.Linkify,
	),
	// Agents write plain text with single newlines and mean them as line
	// breaks, the way chat windows show them.
	goldmark.WithRendererOptions(html.WithHardWraps()),
	goldmark.WithRendererOptions(renderer.WithNodeRenderers(util.Prioritized(safeNodes{}, 100))),
)

// RenderMarkdown renders an agent's message as HTML that cannot run script:
//
//   - raw HTML, inline or in blocks, is shown as the text it is, never as
//     markup, so "use a <div> here" still reads as written;
//   - a link keeps its href only when it is an absolute http, https or mailto
//     URL, and opens in a new tab with rel="noopener noreferrer"; any other
//     link (javascript:, data:, vbscript:, relative, …) is rendered as its
//     text alone;
//   - an image becomes a link to the image, labelled with its alt text: a
//     remote image would tell its host who opened the page and when, and the
//     page's CSP (img-src 'self' data: blob:) would block it anyway;
//   - headings are shifted one level down, so the page keeps the only <h1>.
//
// Invalid UTF-8 is replaced by U+FFFD first. Tables, strikethrough and bare
// URLs (GFM) are supported.
func RenderMarkdown(src string) template.HTML {
	src = strings.ToValidUTF8(src, "\uFFFD")
	var buf bytes.Buffer
	if err := markdown.Convert([]byte(src), &buf); err != nil {
		// Convert fails only when the writer does; a bytes.Buffer does not.
		// Falling back to escaped text keeps the message readable anyway.
		return template.HTML("<p>" + template.HTMLEscapeString(src) + "</p>")
	}
	return template.HTML(buf.String())
}

// safeURL reports whether dest may be used as a link target: an absolute
// http or https URL with a host, or a mailto URL with an address.
func safeURL(dest []byte) bool {
	s := string(dest)
	if !utf8.ValidString(s) {
		return false
	}
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		return u.Host != ""
	case "mailto":
		return u.Opaque != ""
	}
	return false
}

// safeNodes replaces goldmark's renderers for every node that can carry a URL
// or raw markup, and for headings.
type safeNodes struct{}

func (safeNodes) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(ast.KindLink, renderLink)
	reg.Register(ast.KindAutoLink, renderAutoLink)
	reg.Register(ast.KindImage, renderImage)
	reg.Register(ast.KindRawHTML, renderRawHTML)
	reg.Register(ast.KindHTMLBlock, renderHTMLBlock)
	reg.Register(ast.KindHeading, renderHeading)
}

func openLink(w util.BufWriter, dest, title []byte, class string) {
	_, _ = w.WriteString(`<a href="`)
	_, _ = w.Write(util.EscapeHTML(util.URLEscape(dest, true)))
	_ = w.WriteByte('"')
	if len(title) > 0 {
		_, _ = w.WriteString(` title="`)
		_, _ = w.Write(util.EscapeHTML(title))
		_ = w.WriteByte('"')
	}
	if class != "" {
		_, _ = w.WriteString(` class="` + class + `"`)
	}
	_, _ = w.WriteString(` rel="noopener noreferrer" target="_blank">`)
}

// insideLink reports whether n has a link ancestor: a nested <a> is invalid
// HTML, so an image inside a link renders as its alt text only.
func insideLink(n ast.Node) bool {
	for p := n.Parent(); p != nil; p = p.Parent() {
		if p.Kind() == ast.KindLink || p.Kind() == ast.KindAutoLink {
			return true
		}
	}
	return false
}

func renderLink(w util.BufWriter, _ []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	n := node.(*ast.Link)
	if !safeURL(n.Destination) {
		return ast.WalkContinue, nil // children render as plain text
	}
	if entering {
		openLink(w, n.Destination, n.Title, "")
	} else {
		_, _ = w.WriteString("</a>")
	}
	return ast.WalkContinue, nil
}

func renderAutoLink(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkContinue, nil
	}
	n := node.(*ast.AutoLink)
	dest := n.URL(source)
	if n.AutoLinkType == ast.AutoLinkEmail && !bytes.HasPrefix(bytes.ToLower(dest), []byte("mailto:")) {
		dest = append([]byte("mailto:"), dest...)
	}
	label := util.EscapeHTML(n.Label(source))
	if !safeURL(dest) {
		_, _ = w.Write(label)
		return ast.WalkContinue, nil
	}
	openLink(w, dest, nil, "")
	_, _ = w.Write(label)
	_, _ = w.WriteString("</a>")
	return ast.WalkContinue, nil
}

func renderImage(w util.BufWriter, _ []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	n := node.(*ast.Image)
	link := safeURL(n.Destination) && !insideLink(n)
	if entering {
		if link {
			openLink(w, n.Destination, n.Title, "md-image")
		}
		if n.FirstChild() == nil {
			// No alt text: the address is the only label there is.
			_, _ = w.Write(util.EscapeHTML(n.Destination))
		}
	} else if link {
		_, _ = w.WriteString("</a>")
	}
	return ast.WalkContinue, nil
}

func renderRawHTML(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkSkipChildren, nil
	}
	n := node.(*ast.RawHTML)
	for i := range n.Segments.Len() {
		seg := n.Segments.At(i)
		_, _ = w.Write(util.EscapeHTML(seg.Value(source)))
	}
	return ast.WalkSkipChildren, nil
}

func renderHTMLBlock(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	n := node.(*ast.HTMLBlock)
	if entering {
		_, _ = w.WriteString(`<p class="md-raw">`)
		lines := n.Lines()
		for i := range lines.Len() {
			seg := lines.At(i)
			_, _ = w.Write(util.EscapeHTML(seg.Value(source)))
		}
		return ast.WalkContinue, nil
	}
	if n.HasClosure() {
		_, _ = w.Write(util.EscapeHTML(n.ClosureLine.Value(source)))
	}
	_, _ = w.WriteString("</p>\n")
	return ast.WalkContinue, nil
}

func renderHeading(w util.BufWriter, _ []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	n := node.(*ast.Heading)
	level := min(n.Level+1, 6)
	tag := "h" + string(rune('0'+level))
	if entering {
		_, _ = w.WriteString("<" + tag + ">")
	} else {
		_, _ = w.WriteString("</" + tag + ">\n")
	}
	return ast.WalkContinue, nil
}
