package edge

import (
	"mime"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzRouteOf: whatever request line arrives, classifying it never panics,
// only POSTs to the image routes get the large limit, and a credentialed
// route is never taken for a public one.
func FuzzRouteOf(f *testing.F) {
	for _, seed := range [][2]string{
		{"POST", "/api/feedback/create"}, {"POST", "/API/Feedback/Create/?x=1"}, {"POST", "/mcp"}, {"POST", "/sse/message?sessionId=a"},
		{"POST", "/api/feedback/6f0c9a52-3c1e-4d8e-9b7a-2f4d1c8e5a10/submit"}, {"POST", "/feedback/x"}, {"GET", "/feedback/x"},
		{"POST", "/feedback/x/state"}, {"POST", "//feedback//"}, {"POST", "http://h/mcp"}, {"POST", ""}, {"PUT", "/mcp"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, method, uri string) {
		r := routeOf([]byte(method), []byte(uri))
		if r != smallBody && method != "POST" {
			t.Fatalf("%s %q got the large limit", method, uri)
		}
		path, _, _ := strings.Cut(strings.ToLower(uri), "?")
		path = strings.TrimSuffix(path, "/")
		if r == largePublic && (path == "/api/feedback/create" || path == "/mcp" || path == "/sse/message") {
			t.Fatalf("%q is credentialed but classified public", uri)
		}
		if r != smallBody && !strings.HasPrefix(path, "/") {
			t.Fatalf("%q is not a path but got the large limit", uri)
		}
	})
}

// FuzzContentDisposition: any stored name gives a header value a client
// parses back to that name, with nothing that could end the header or the
// quoted string early.
func FuzzContentDisposition(f *testing.F) {
	for _, seed := range []string{"shot.png", "图表 1.png", `a"b.png`, "x\r\nSet-Cookie: y", "50% off;.gif", "é", "a'b.webp", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if !utf8.ValidString(name) {
			t.Skip("stored names are valid UTF-8")
		}
		v := contentDisposition(name)
		if strings.ContainsAny(v, "\r\n\x00") {
			t.Fatalf("header value %q has a control character", v)
		}
		disp, params, err := mime.ParseMediaType(v)
		if err != nil || disp != "inline" {
			t.Fatalf("%q does not parse: %v", v, err)
		}
		// Go's parser prefers filename* when present, as browsers do.
		if params["filename"] != name {
			t.Fatalf("%q parses to %q, want %q", v, params["filename"], name)
		}
	})
}
