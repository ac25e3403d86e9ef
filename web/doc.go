// Package web is the person's side of feedbackd: the HTML feedback page in
// every state (pending, just submitted, already answered, expired,
// cancelled), the landing page at /, the not-found and error pages, the
// page's CSS and script, the zh/en translations, and the safe Markdown
// rendering of an agent's message.
// Templates, static files and translations are embedded; nothing is fetched
// from elsewhere, and the pages run under a strict CSP (no inline script or
// style). It also embeds openapi.json, the OpenAPI 3.1 document of the HTTP
// API (docs/api.md is its twin for people), which the edge serves as it is.
//
// A question's richer parts (a single choice, a form, an approval, images) are
// rendered from the domain's own types (sessions.FormSchema); a seed-style
// question renders exactly as it did before they existed.
//
// The same question is also rendered for the MCP App (app.go): Embedded
// renders the page's question without its document, and App the app's one
// self-contained document, the page's stylesheet and script inlined with the
// app's own (app/).
//
// It must not know about routes, sessions storage, NATS or authentication:
// the edge looks the session up, decides the state, fills a PageView with the
// URLs the page talks to, and mounts Static under StaticPrefix.
package web
