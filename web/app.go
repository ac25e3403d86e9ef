package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"strings"
)

// The MCP App: the question form rendered inside an MCP host's conversation
// (docs/mcp.md, "MCP Apps"). Its document is one self-contained HTML file,
// the page's stylesheet and script inlined with the app's own (app/), because
// a host renders it in a sandboxed iframe that may load nothing from
// elsewhere. The question itself comes later, over the host, rendered by
// Embedded exactly as the page renders it.

//go:embed app
var appFS embed.FS

// appKeys are the translations the app document needs before a question is
// rendered (the question brings the rest in its page-data).
var appKeys = []string{"app.loading", "app.unavailable", "app.failed", "app.openLink", "app.answer"}

// appDocument is the app template's data.
type appDocument struct {
	CSS     template.CSS
	Script  template.JS
	Loading string
	Data    appData
}

// appData is handed to app.js as JSON in <script type="application/json">.
type appData struct {
	// I18n holds appKeys in every language, by language.
	I18n map[string]map[string]string `json:"i18n"`
}

// App renders the MCP App's document. It is the same for every question and
// every caller, so a server renders it once.
func (r *Renderer) App() ([]byte, error) {
	css, err := concatFiles(staticFS, "static/feedback.css", appFS, "app/app.css")
	if err != nil {
		return nil, err
	}
	js, err := concatFiles(staticFS, "static/feedback.js", appFS, "app/app.js")
	if err != nil {
		return nil, err
	}
	// Inlined into <script> and <style>, neither may end its element early.
	if strings.Contains(strings.ToLower(js), "</script") || strings.Contains(strings.ToLower(css), "</style") {
		return nil, fmt.Errorf("render app: a stylesheet or script closes its element")
	}
	d := appDocument{CSS: template.CSS(css), Script: template.JS(js), Data: appData{I18n: map[string]map[string]string{}}}
	for _, lang := range languages {
		texts := map[string]string{}
		for _, key := range appKeys {
			if texts[key], err = r.catalogs[lang].translate(key); err != nil {
				return nil, err
			}
		}
		d.Data.I18n[lang] = texts
	}
	d.Loading = d.Data.I18n[defaultLang]["app.loading"]
	var buf bytes.Buffer
	if err := r.templates[defaultLang].ExecuteTemplate(&buf, "app", d); err != nil {
		return nil, fmt.Errorf("render app: %w", err)
	}
	return buf.Bytes(), nil
}

// concatFiles joins two embedded files, the first from a, the second from b.
func concatFiles(a embed.FS, nameA string, b embed.FS, nameB string) (string, error) {
	first, err := a.ReadFile(nameA)
	if err != nil {
		return "", fmt.Errorf("render app: %w", err)
	}
	second, err := b.ReadFile(nameB)
	if err != nil {
		return "", fmt.Errorf("render app: %w", err)
	}
	return string(first) + "\n" + string(second), nil
}
