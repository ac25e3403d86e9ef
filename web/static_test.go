package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

func get(t *testing.T, h http.Handler, method, path string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestEveryAssetThePagesLinkIsServedAndCachedForever(t *testing.T) {
	r := newRenderer(t)
	var buf bytes.Buffer
	if err := r.Page(&buf, sampleView(StatePending, "en", "dark")); err != nil {
		t.Fatal(err)
	}
	_, doc := parseDoc(t, buf.String())
	var urls []string
	for _, n := range find(doc, func(n *html.Node) bool { return n.Data == "link" || n.Data == "script" }) {
		for _, key := range []string{"href", "src"} {
			if u, ok := attr(n, key); ok {
				urls = append(urls, u)
			}
		}
	}
	if len(urls) != 3 {
		t.Fatalf("page links %v, want the icon, the stylesheet and the script", urls)
	}
	wantType := map[string]string{".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
	h := Static()
	for _, u := range urls {
		rec := get(t, h, http.MethodGet, u, nil)
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s = %d", u, rec.Code)
			continue
		}
		if cc := rec.Header().Get("Cache-Control"); !strings.Contains(cc, "immutable") || !strings.Contains(cc, "max-age=31536000") {
			t.Errorf("GET %s Cache-Control = %q", u, cc)
		}
		ext := u[strings.LastIndex(u, "."):]
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, wantType[ext]) {
			t.Errorf("GET %s Content-Type = %q", u, ct)
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Body.Len() == 0 {
			t.Errorf("GET %s: nosniff %q, %d bytes", u, rec.Header().Get("X-Content-Type-Options"), rec.Body.Len())
		}
		etag := rec.Header().Get("ETag")
		if again := get(t, h, http.MethodGet, u, http.Header{"If-None-Match": {etag}}); etag == "" || again.Code != http.StatusNotModified {
			t.Errorf("GET %s with If-None-Match %q = %d, want 304", u, etag, again.Code)
		}
	}
}

func TestStaticNamesCarryTheirContentHash(t *testing.T) {
	a, err := loadAssets()
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range a.byName {
		sum := sha256.Sum256(f.body)
		ext := path.Ext(name)
		want := StaticPrefix + strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:5]) + ext
		if got, err := a.url(name); err != nil || got != want {
			t.Errorf("url(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
	if _, err := a.url("missing.css"); err == nil {
		t.Error("a missing asset has a URL")
	}
}

func TestStaticServesPlainNamesRevalidatedAndRefusesTheRest(t *testing.T) {
	h := Static()
	if rec := get(t, h, http.MethodGet, "/static/feedback.js", nil); rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != "no-cache" {
		t.Errorf("plain name: %d %q", rec.Code, rec.Header().Get("Cache-Control"))
	}
	for _, p := range []string{"/static/nope.js", "/static/", "/static/../web.go", "/static/feedback.0000000000.js", "/static/i18n/en.json"} {
		if rec := get(t, h, http.MethodGet, p, nil); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, rec.Code)
		}
	}
	rec := get(t, h, http.MethodPost, "/static/feedback.js", nil)
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST = %d Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
	if rec := get(t, h, http.MethodHead, "/static/feedback.css", nil); rec.Code != http.StatusOK {
		t.Errorf("HEAD = %d", rec.Code)
	}
}
