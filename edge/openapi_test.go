package edge_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/edge"
	"github.com/feedbackd/feedbackd/sessions"
	"github.com/feedbackd/feedbackd/web"
)

// These tests hold the OpenAPI document (web/openapi.json, served at
// /openapi.json) to what the server really does, as docs/api.md promises:
// every documented response of every route is produced by a real request
// and validated against the document (status, declared headers, body), and
// every route the edge registers is documented or excluded here with a
// reason. The document leaves objects open so that clients tolerate fields
// added later; the tests close them, so a field the server sends must be
// documented.

// notInOpenAPI are the routes the document leaves out, and why (docs/api.md
// says the same).
var notInOpenAPI = map[string]string{
	"/mcp":         "MCP Streamable HTTP: JSON-RPC, described by docs/mcp.md and the MCP specification",
	"/sse":         "MCP HTTP+SSE stream: an event stream, described by docs/mcp.md",
	"/sse/message": "MCP HTTP+SSE messages: JSON-RPC, described by docs/mcp.md",
	"/ws":          "WebSocket: described by docs/notifier.md",
	"/ws/{id}":     "WebSocket: described by docs/notifier.md",
	"/static/*":    "the page's CSS, script and icon, under content-hashed names only the page links to",
	"/feedback/*":  "the not-found page for any other path under /feedback/",
}

// startContractEdge runs `feedbackd serve` (the edge with the notifier's
// WebSocket routes mounted beside it, as users run it) against the NATS at
// natsURL, with the edge configuration adjusted by cfg and the program
// options opts. It is the only place these tests start a server.
func startContractEdge(t *testing.T, natsURL string, cfg func(*edge.Config), opts ...programtest.Option) *restEdge {
	t.Helper()
	if cfg == nil {
		cfg = func(*edge.Config) {}
	}
	opts = append([]programtest.Option{programtest.NATS(natsURL), programtest.QuickStorageErrors(), programtest.Edge(cfg)}, opts...)
	m := programtest.MustRunMain(t, opts...)
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	return &restEdge{URL: m.URL(), Svc: m.Backend().Service(), m: m}
}

// offsetClock is the sessions' clock, moved forward by tests that need a
// deadline to pass without waiting for it.
type offsetClock struct{ offset atomic.Int64 }

func (c *offsetClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *offsetClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// contract is the loaded document, a router over it, and which of its
// responses the test has seen.
type contract struct {
	doc    *openapi3.T
	router routers.Router

	mu   sync.Mutex
	seen map[string]bool // "METHOD /path status", or "#Component" for responses used on no operation
}

// loadContract parses the embedded document, validates it as OpenAPI 3.1
// (examples included), and closes its object schemas for the checks.
func loadContract(t *testing.T) *contract {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(web.OpenAPI())
	if err != nil {
		t.Fatalf("parse web/openapi.json: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() || doc.OpenAPI != "3.1.0" {
		t.Fatalf("web/openapi.json is OpenAPI %q, want 3.1.0", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("web/openapi.json is not a valid OpenAPI 3.1 document: %v", err)
	}
	for _, s := range doc.Components.Schemas {
		closeObjects(s)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("route web/openapi.json: %v", err)
	}
	return &contract{doc: doc, router: router, seen: map[string]bool{}}
}

// closeObjects forbids properties an object schema does not declare, in s
// and the inline schemas of its properties and items. Branches of allOf,
// anyOf and oneOf are left alone: there a branch names only the properties
// it refines.
func closeObjects(s *openapi3.SchemaRef) {
	if s == nil || s.Value == nil || s.Ref != "" {
		return
	}
	v := s.Value
	if len(v.Properties) > 0 && v.AdditionalProperties.Has == nil && v.AdditionalProperties.Schema == nil {
		v.AdditionalProperties = openapi3.AdditionalProperties{Has: new(false)}
	}
	for _, p := range v.Properties {
		closeObjects(p)
	}
	closeObjects(v.Items)
}

var fiberParam = regexp.MustCompile(`:([A-Za-z]+)`)

// docPath turns a fiber route pattern into the document's form.
func docPath(fiberPath string) string { return fiberParam.ReplaceAllString(fiberPath, "{$1}") }

// reqCheck says what the document must make of a case's request.
type reqCheck int

const (
	reqUnchecked reqCheck = iota // not checked (credentials missing, a body no schema can describe, …)
	reqConforms                  // a request the document describes: it must pass request validation
	reqBreaks                    // it breaks a rule the document states: request validation must refuse it
)

// apiCase is one request and what the server must answer.
type apiCase struct {
	name   string
	method string
	path   string            // with the query
	key    string            // sent as X-API-Key; "" sends none
	header map[string]string // more headers
	ctype  string
	body   string
	want   int    // status
	code   string // error.code, for an enveloped error
	req    reqCheck
	host   string // the Host header; "" is the server's address
}

// newRequest builds the request of c against base.
func (c apiCase) newRequest(t *testing.T, base string) *http.Request {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, base+c.path, body)
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	if c.key != "" {
		req.Header.Set("X-API-Key", c.key)
	}
	if c.ctype != "" {
		req.Header.Set("Content-Type", c.ctype)
	}
	for k, v := range c.header {
		req.Header.Add(k, v)
	}
	if c.host != "" {
		req.Host = c.host
	}
	return req
}

// run sends c, checks its status and error code, checks the response
// against the document, and checks what the document makes of the request.
// It returns the response body.
func (k *contract) run(t *testing.T, base string, c apiCase) (http.Header, []byte) {
	t.Helper()
	res, err := noRedirects.Do(c.newRequest(t, base))
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatalf("%s: read body: %v", c.name, err)
	}
	if res.StatusCode != c.want {
		t.Errorf("%s: %s %s = %d, want %d: %.300s", c.name, c.method, c.path, res.StatusCode, c.want, body)
		return res.Header, body
	}
	if c.code != "" {
		var env struct {
			Error *struct{ Code string } `json:"error"`
		}
		if err := json.Unmarshal(body, &env); err != nil || env.Error == nil || env.Error.Code != c.code {
			t.Errorf("%s: %s %s: want error code %s, got %.300s", c.name, c.method, c.path, c.code, body)
		}
	}
	k.checkResponse(t, c, res, body)
	k.checkRequest(t, base, c)
	return res.Header, body
}

// route finds the document's operation for req. Requests the document
// answers only in general (a method a path does not list, a path it does
// not list) are given an operation with just that general response.
func (k *contract) route(req *http.Request, status int) (*routers.Route, map[string]string, string, error) {
	if status == http.StatusMisdirectedRequest {
		return k.general(req, "MisdirectedRequest", status), nil, "#MisdirectedRequest", nil
	}
	route, params, err := k.router.FindRoute(req)
	switch {
	case err == nil:
		return route, params, route.Method + " " + route.Path + " " + strconv.Itoa(status), nil
	case errors.Is(err, routers.ErrMethodNotAllowed) && status == http.StatusMethodNotAllowed:
		return k.general(req, "MethodNotAllowed", status), nil, "#MethodNotAllowed", nil
	case errors.Is(err, routers.ErrPathNotFound) && status == http.StatusNotFound:
		return k.general(req, "RouteNotFound", status), nil, "#RouteNotFound", nil
	}
	return nil, nil, "", fmt.Errorf("the document has no operation for %s %s: %w", req.Method, req.URL.Path, err)
}

func (k *contract) general(req *http.Request, response string, status int) *routers.Route {
	r := k.doc.Components.Responses[response]
	return &routers.Route{
		Spec:      k.doc,
		Path:      req.URL.Path,
		Method:    req.Method,
		Operation: &openapi3.Operation{Responses: openapi3.NewResponses(openapi3.WithStatus(status, r))},
	}
}

// validationOptions make a response whose status the operation does not
// list fail, and keep schema errors to the point.
func validationOptions() *openapi3filter.Options {
	o := &openapi3filter.Options{IncludeResponseStatus: true}
	o.WithCustomSchemaErrorFunc(func(err *openapi3.SchemaError) string {
		return "/" + strings.Join(err.JSONPointer(), "/") + ": " + err.Reason
	})
	return o
}

// short keeps an error that quotes a whole schema readable.
func short(err error) string {
	const max = 1500
	s := err.Error()
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

func (k *contract) checkResponse(t *testing.T, c apiCase, res *http.Response, body []byte) {
	t.Helper()
	req := c.newRequest(t, "http://edge.test")
	route, params, seen, err := k.route(req, res.StatusCode)
	if err != nil {
		t.Errorf("%s: %v", c.name, err)
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 res.StatusCode,
		Header:                 res.Header,
		Options:                validationOptions(),
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s: %s %s answered %d, which the document does not describe: %s\nbody: %.500s",
			c.name, c.method, c.path, res.StatusCode, short(err), body)
		return
	}
	k.mu.Lock()
	k.seen[seen] = true
	k.mu.Unlock()
}

// checkRequest holds the document's request rules to the server's: a
// request the server serves must be one the document describes, and a limit
// the server enforces must be stated in the document too.
func (k *contract) checkRequest(t *testing.T, base string, c apiCase) {
	t.Helper()
	if c.req == reqUnchecked {
		return
	}
	req := c.newRequest(t, base)
	route, params, err := k.router.FindRoute(req)
	if err != nil {
		t.Errorf("%s: the document has no operation for %s %s: %v", c.name, c.method, c.path, err)
		return
	}
	err = openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: checkCredentials},
	})
	switch {
	case c.req == reqConforms && err != nil:
		t.Errorf("%s: the server accepts this request but the document refuses it: %s", c.name, short(err))
	case c.req == reqBreaks && err == nil:
		t.Errorf("%s: the server refuses this request (%d) but the document allows it", c.name, c.want)
	}
}

// checkCredentials passes a security requirement when the request carries
// that scheme's credential at all; the server itself judges whether it is
// valid.
func checkCredentials(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	h := in.RequestValidationInput.Request.Header
	var ok bool
	switch in.SecuritySchemeName {
	case "ApiKeyHeader":
		ok = h.Get("X-API-Key") != ""
	case "ApiKeyAuthorization":
		ok = strings.HasPrefix(h.Get("Authorization"), "ApiKey ")
	case "BearerJWT":
		ok = strings.HasPrefix(h.Get("Authorization"), "Bearer ")
	case "InboxCookie":
		ok = strings.Contains(h.Get("Cookie"), "feedbackd_inbox=")
	}
	if !ok {
		return fmt.Errorf("no %s credential", in.SecuritySchemeName)
	}
	return nil
}

// unseen lists documented responses no case produced. A 500 is only for
// bugs and cannot be produced on purpose.
func (k *contract) unseen(skip func(path, method string, status string) bool) []string {
	var out []string
	for path, item := range k.doc.Paths.Map() {
		for method, op := range item.Operations() {
			for status := range op.Responses.Map() {
				if status == "500" || skip(path, method, status) {
					continue
				}
				if key := method + " " + path + " " + status; !k.seen[key] {
					out = append(out, key)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// contractPNG is a small real PNG.
func contractPNG(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 3, 2))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// multipartForm encodes fields and one file as multipart/form-data, as the
// page's form posts them.
func multipartForm(t *testing.T, fields map[string]string, fileField, fileName string, data []byte) (ctype, body string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := w.CreateFormFile(fileField, fileName)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.FormDataContentType(), b.String()
}

// TestOpenAPIDocumentDescribesEveryResponse sends every route its success
// and every error it can produce, and checks each answer against the
// document.
func TestOpenAPIDocumentDescribesEveryResponse(t *testing.T) {
	k := loadContract(t)
	ns := programtest.StartNATS(t)
	clock := &offsetClock{}
	_, hook := withDefaultWebhook(t)
	e := startContractEdge(t, ns.URL, func(c *edge.Config) {
		c.AuthorizationServers = []string{"https://login.example.com"}
		c.Scopes = []string{"feedback"}
	}, append(hook, programtest.Sessions(sessions.WithClock(clock.Now)),
		// Small images keep the image routes' body limit near 150 KiB.
		programtest.Env("IMAGE_MAX_BYTES", "16KiB"))...)

	// The sessions the cases read: pending, answered (with metadata),
	// cancelled and expired.
	pending := e.create(t, keyA, map[string]any{"message": "Pick", "predefinedOptions": []string{"red", "blue"}})
	answered := e.create(t, keyA, map[string]any{"message": "Ship?", "predefinedOptions": []string{"yes", "no"}})
	if r := e.submit(t, answered, map[string]any{"selectedOptions": []string{"yes"}, "freeText": "go", "metadata": map[string]any{"ua": "test"}}); r.Status != 200 {
		t.Fatalf("submit: %d %s", r.Status, r.Raw)
	}
	cancelled := e.create(t, keyA, map[string]any{"message": "Withdrawn"})
	if r := do(t, "POST", e.URL+"/api/feedback/"+cancelled+"/cancel", keyA, "", nil); r.Status != 200 {
		t.Fatalf("cancel: %d %s", r.Status, r.Raw)
	}
	expired := e.create(t, keyA, map[string]any{"message": "Too late", "timeout": 30})
	clock.Advance(31 * time.Second) // past expired's deadline, well before the others'
	toAnswer := e.create(t, keyA, map[string]any{"message": "Answer me", "predefinedOptions": []string{"a", "b"}})
	toAnswerByForm := e.create(t, keyA, map[string]any{"message": "Answer me by form", "predefinedOptions": []string{"a", "b"}})
	toCancel := e.create(t, keyA, map[string]any{"message": "Cancel me"})
	unknown := sessions.NewID()

	// The richer questions: a form, an approval, a single choice, images.
	png := base64.StdEncoding.EncodeToString(contractPNG(t))
	form := map[string]any{"type": "object", "properties": map[string]any{
		"day":  map[string]any{"type": "string", "format": "date", "title": "Day"},
		"n":    map[string]any{"type": "integer", "minimum": 1, "maximum": 5},
		"ok":   map[string]any{"type": "boolean", "default": true},
		"pick": map[string]any{"type": "string", "oneOf": []map[string]string{{"const": "a", "title": "A"}, {"const": "b", "title": "B"}}},
		"tags": map[string]any{"type": "array", "items": map[string]any{"type": "string", "enum": []string{"x", "y"}}, "maxItems": 2},
	}, "required": []string{"day"}}
	formQ := e.create(t, keyA, map[string]any{"message": "Fill in", "title": "A form", "fields": form, "metadata": map[string]any{"k": "v"}})
	approvalQ := e.create(t, keyA, map[string]any{"kind": "approval", "action": "Run Bash", "details": map[string]any{"command": "ls"}})
	formByPage := e.create(t, keyA, map[string]any{"message": "Fill in by form", "fields": form})
	withImage := e.create(t, keyA, map[string]any{"message": "See", "images": []map[string]any{{"data": png, "name": "chart.png"}}})
	answeredRich := e.create(t, keyA, map[string]any{"message": "Which?", "predefinedOptions": []string{"one", "two"}, "multiSelect": false})
	if r := e.submit(t, answeredRich, map[string]any{"selectedOptions": []string{"two"}, "images": []map[string]any{{"data": png, "name": "mine.png"}}}); r.Status != 200 {
		t.Fatalf("submit with an image: %d %s", r.Status, r.Raw)
	}
	var richStatus struct {
		Question struct{ Images []struct{ ID, URL string } }
	}
	do(t, "GET", e.URL+"/api/feedback/"+withImage+"/status", keyA, "", nil).data(t, &richStatus)
	imageID := richStatus.Question.Images[0].ID
	img := func(id, imageID string) string { return "/api/feedback/" + id + "/images/" + imageID }
	pageImg := func(id, imageID string) string { return "/feedback/" + id + "/images/" + imageID }
	r := do(t, "GET", e.URL+img(withImage, imageID), keyA, "", nil)
	etag := r.Header.Get("ETag")
	svg := base64.StdEncoding.EncodeToString([]byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`))
	overLarge := fmt.Sprintf(`{"message":%q}`, strings.Repeat("a", 160<<10))

	api := func(id, what string) string { return "/api/feedback/" + id + "/" + what }
	const formType = "application/x-www-form-urlencoded"
	big := fmt.Sprintf(`{"message":%q}`, strings.Repeat("a", 70*1024))
	multipartType, multipartBody := multipartForm(t, map[string]string{"values.day": "2026-12-01", "values.n": "3", "values.ok": "true", "freeText": "by page"}, "images", "shot.png", contractPNG(t))
	options := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("option %d", i)
		}
		return out
	}
	create := func(name string, body any, want int, code string, req reqCheck) apiCase {
		return apiCase{name: "create: " + name, method: "POST", path: "/api/feedback/create", key: keyA, ctype: ctJSON, body: mustJSON(body), want: want, code: code, req: req}
	}
	submit := func(name, id string, body any, want int, code string, req reqCheck) apiCase {
		return apiCase{name: "submit: " + name, method: "POST", path: api(id, "submit"), ctype: ctJSON, body: mustJSON(body), want: want, code: code, req: req}
	}
	const invalid = "INVALID_REQUEST"

	cases := []apiCase{
		// POST /api/feedback/create
		create("full", map[string]any{"message": "Ship **v2**?", "predefinedOptions": []string{"Yes", "No"}, "timeout": 600, "metadata": map[string]any{"ticket": "OPS-1"}}, 201, "", reqConforms),
		create("message only", map[string]any{"message": "问题"}, 201, "", reqConforms),
		{name: "create: Authorization: ApiKey", method: "POST", path: "/api/feedback/create", header: map[string]string{"Authorization": "ApiKey " + keyB}, ctype: ctJSON, body: `{"message":"q"}`, want: 201, req: reqConforms},
		{name: "create: malformed JSON", method: "POST", path: "/api/feedback/create", key: keyA, ctype: ctJSON, body: `{"message":`, want: 400, code: invalid},
		{name: "create: trailing JSON", method: "POST", path: "/api/feedback/create", key: keyA, ctype: ctJSON, body: `{"message":"a"} {}`, want: 400, code: invalid},
		{name: "create: invalid UTF-8", method: "POST", path: "/api/feedback/create", key: keyA, ctype: ctJSON, body: "{\"message\":\"\xff\"}", want: 400, code: invalid},
		{name: "create: empty body", method: "POST", path: "/api/feedback/create", key: keyA, ctype: ctJSON, want: 400, code: invalid},
		{name: "create: not JSON", method: "POST", path: "/api/feedback/create", key: keyA, ctype: "text/plain", body: `{"message":"a"}`, want: 400, code: invalid},
		{name: "create: not an object", method: "POST", path: "/api/feedback/create", key: keyA, ctype: ctJSON, body: `["a"]`, want: 400, code: invalid, req: reqBreaks},
		create("message of the wrong type", map[string]any{"message": 5}, 400, invalid, reqBreaks),
		create("no message", map[string]any{"predefinedOptions": []string{"a"}}, 400, invalid, reqBreaks),
		create("1001-character message", map[string]any{"message": strings.Repeat("字", 1001)}, 400, invalid, reqBreaks),
		create("blank message", map[string]any{"message": " \n "}, 400, invalid, reqUnchecked),
		create("control character", map[string]any{"message": "a\x00b"}, 400, invalid, reqUnchecked),
		create("11 options", map[string]any{"message": "q", "predefinedOptions": options(11)}, 400, invalid, reqBreaks),
		create("101-character option", map[string]any{"message": "q", "predefinedOptions": []string{strings.Repeat("o", 101)}}, 400, invalid, reqBreaks),
		create("empty option", map[string]any{"message": "q", "predefinedOptions": []string{""}}, 400, invalid, reqBreaks),
		create("duplicate option", map[string]any{"message": "q", "predefinedOptions": []string{"a", "a"}}, 400, invalid, reqBreaks),
		create("timeout below 30", map[string]any{"message": "q", "timeout": 29}, 400, invalid, reqBreaks),
		create("timeout above MAX_TIMEOUT", map[string]any{"message": "q", "timeout": 3601}, 400, invalid, reqUnchecked),
		create("fractional timeout", map[string]any{"message": "q", "timeout": 60.5}, 400, invalid, reqBreaks),
		create("timeout as a string", map[string]any{"message": "q", "timeout": "60"}, 400, invalid, reqBreaks),
		create("metadata not an object", map[string]any{"message": "q", "metadata": []int{1}}, 400, invalid, reqBreaks),
		create("metadata over 4 KiB", map[string]any{"message": "q", "metadata": map[string]string{"k": strings.Repeat("m", 4096)}}, 400, invalid, reqUnchecked),
		{name: "create: no credentials", method: "POST", path: "/api/feedback/create", ctype: ctJSON, body: `{"message":"q"}`, want: 401, code: "UNAUTHORIZED", req: reqBreaks},
		{name: "create: wrong key", method: "POST", path: "/api/feedback/create", key: "not-a-key", ctype: ctJSON, body: `{"message":"q"}`, want: 401, code: "UNAUTHORIZED"},
		{name: "create: key in the query", method: "POST", path: "/api/feedback/create?apiKey=" + keyA, ctype: ctJSON, body: `{"message":"q"}`, want: 401, code: "UNAUTHORIZED"},
		{name: "create: two key headers", method: "POST", path: "/api/feedback/create", key: keyA, header: map[string]string{"X-API-Key": keyB}, ctype: ctJSON, body: `{"message":"q"}`, want: 401, code: "UNAUTHORIZED"},
		{name: "create: Basic", method: "POST", path: "/api/feedback/create", header: map[string]string{"Authorization": "Basic " + keyA}, ctype: ctJSON, body: `{"message":"q"}`, want: 401, code: "UNAUTHORIZED"},
		{name: "create: body over the image routes' limit", method: "POST", path: "/api/feedback/create", key: keyA, ctype: ctJSON, body: overLarge, want: 413, code: "PAYLOAD_TOO_LARGE"},
		{name: "create: body over 64 KiB without credentials", method: "POST", path: "/api/feedback/create", ctype: ctJSON, body: big, want: 401, code: "UNAUTHORIZED"},
		create("title, single choice", map[string]any{"message": "Pick one", "title": "Colour", "predefinedOptions": []string{"red", "blue"}, "multiSelect": false}, 201, "", reqConforms),
		create("a form", map[string]any{"message": "Fill in", "fields": form}, 201, "", reqConforms),
		create("an approval", map[string]any{"kind": "approval", "action": "Deploy", "details": []any{1, "two"}}, 201, "", reqConforms),
		create("an image", map[string]any{"message": "See", "images": []map[string]any{{"data": png, "mimeType": "image/png", "name": "a.png"}}}, 201, "", reqConforms),
		create("options and fields", map[string]any{"message": "q", "predefinedOptions": []string{"a"}, "fields": form}, 400, invalid, reqUnchecked),
		create("a nested field", map[string]any{"message": "q", "fields": map[string]any{"type": "object", "properties": map[string]any{"o": map[string]any{"type": "object"}}}}, 400, invalid, reqBreaks),
		create("a field keyword elicitation lacks", map[string]any{"message": "q", "fields": map[string]any{"type": "object", "properties": map[string]any{"s": map[string]any{"type": "string", "pattern": "x"}}}}, 400, invalid, reqBreaks),
		create("an approval without action", map[string]any{"kind": "approval"}, 400, invalid, reqBreaks),
		create("an unknown kind", map[string]any{"message": "q", "kind": "poll"}, 400, invalid, reqBreaks),
		create("a 201-character title", map[string]any{"message": "q", "title": strings.Repeat("t", 201)}, 400, invalid, reqBreaks),
		create("an SVG image", map[string]any{"message": "q", "images": []map[string]any{{"data": svg}}}, 400, invalid, reqUnchecked),
		create("five images", map[string]any{"message": "q", "images": []map[string]any{{"data": png}, {"data": png}, {"data": png}, {"data": png}, {"data": png}}}, 400, invalid, reqBreaks),
		create("an image that is not base64", map[string]any{"message": "q", "images": []map[string]any{{"data": "***"}}}, 400, invalid, reqUnchecked),

		// GET /api/feedback
		{name: "list", method: "GET", path: "/api/feedback", key: keyA, want: 200, req: reqConforms},
		{name: "home", method: "GET", path: "/", want: 200, req: reqConforms},
		{name: "home: Chinese, dark", method: "GET", path: "/?lang=zh&theme=dark", want: 200, req: reqConforms},
		{name: "home: POST", method: "POST", path: "/", want: 405, code: "METHOD_NOT_ALLOWED"},
		{name: "list: a host this server does not answer", method: "GET", path: "/api/feedback", key: keyA, host: "evil.example.com", want: 421, code: "MISDIRECTED_REQUEST"},
		{name: "page: a host this server does not answer", method: "GET", path: "/feedback/" + pending, host: "evil.example.com", want: 421, code: "MISDIRECTED_REQUEST"},
		{name: "list: filtered page", method: "GET", path: "/api/feedback?status=completed&limit=1", key: keyA, want: 200, req: reqConforms},
		{name: "list: limit not a number", method: "GET", path: "/api/feedback?limit=ten", key: keyA, want: 400, code: invalid, req: reqBreaks},
		{name: "list: limit over 100", method: "GET", path: "/api/feedback?limit=101", key: keyA, want: 400, code: invalid, req: reqBreaks},
		{name: "list: limit 0", method: "GET", path: "/api/feedback?limit=0", key: keyA, want: 400, code: invalid, req: reqBreaks},
		{name: "list: unknown status", method: "GET", path: "/api/feedback?status=done", key: keyA, want: 400, code: invalid, req: reqBreaks},
		{name: "list: forged cursor", method: "GET", path: "/api/feedback?cursor=Zm9v", key: keyA, want: 400, code: invalid},
		{name: "list: no credentials", method: "GET", path: "/api/feedback", want: 401, code: "UNAUTHORIZED", req: reqBreaks},

		// GET /api/feedback/{id}/status
		{name: "status: pending", method: "GET", path: api(pending, "status"), key: keyA, want: 200, req: reqConforms},
		{name: "status: answered", method: "GET", path: api(answered, "status"), key: keyA, want: 200, req: reqConforms},
		{name: "status: expired", method: "GET", path: api(expired, "status"), key: keyA, want: 200, req: reqConforms},
		{name: "status: a form with metadata", method: "GET", path: api(formQ, "status"), key: keyA, want: 200, req: reqConforms},
		{name: "status: an approval", method: "GET", path: api(approvalQ, "status"), key: keyA, want: 200, req: reqConforms},
		{name: "status: with an image", method: "GET", path: api(withImage, "status"), key: keyA, want: 200, req: reqConforms},
		{name: "status: Authorization: ApiKey", method: "GET", path: api(pending, "status"), header: map[string]string{"Authorization": "ApiKey " + keyA}, want: 200, req: reqConforms},
		{name: "status: not a UUID", method: "GET", path: api("nope", "status"), key: keyA, want: 400, code: invalid, req: reqBreaks},
		{name: "status: uppercase UUID", method: "GET", path: api(strings.ToUpper(pending), "status"), key: keyA, want: 400, code: invalid, req: reqBreaks},
		{name: "status: no credentials", method: "GET", path: api(pending, "status"), want: 401, code: "UNAUTHORIZED", req: reqBreaks},
		{name: "status: unknown session", method: "GET", path: api(unknown, "status"), key: keyA, want: 404, code: "SESSION_NOT_FOUND", req: reqConforms},
		{name: "status: another principal's", method: "GET", path: api(pending, "status"), key: keyB, want: 404, code: "SESSION_NOT_FOUND", req: reqConforms},

		// POST /api/feedback/{id}/submit
		submit("options and text", toAnswer, map[string]any{"selectedOptions": []string{"a", "b"}, "freeText": "both", "metadata": map[string]any{"ua": "x"}}, 200, "", reqConforms),
		submit("neither options nor text", pending, map[string]any{}, 400, invalid, reqBreaks),
		submit("blank text", pending, map[string]any{"freeText": "   "}, 400, invalid, reqUnchecked),
		submit("unknown option", pending, map[string]any{"selectedOptions": []string{"green"}}, 400, invalid, reqUnchecked),
		submit("option twice", pending, map[string]any{"selectedOptions": []string{"red", "red"}}, 400, invalid, reqBreaks),
		submit("1001-character text", pending, map[string]any{"freeText": strings.Repeat("字", 1001)}, 400, invalid, reqBreaks),
		submit("text of the wrong type", pending, map[string]any{"freeText": 7}, 400, invalid, reqBreaks),
		{name: "submit: not JSON", method: "POST", path: api(pending, "submit"), ctype: "text/plain", body: `{"freeText":"x"}`, want: 400, code: invalid},
		submit("not a UUID", "5e16ed4d_e404_4882_876e_af768f85ae7c", map[string]any{"freeText": "x"}, 400, invalid, reqBreaks),
		submit("unknown session", unknown, map[string]any{"freeText": "x"}, 404, "SESSION_NOT_FOUND", reqConforms),
		submit("answered already", answered, map[string]any{"freeText": "again"}, 409, "ALREADY_SUBMITTED", reqConforms),
		submit("cancelled", cancelled, map[string]any{"freeText": "late"}, 410, "SESSION_CANCELLED", reqConforms),
		submit("expired", expired, map[string]any{"freeText": "late"}, 410, "SESSION_EXPIRED", reqConforms),
		{name: "submit: body over the image routes' limit", method: "POST", path: api(pending, "submit"), ctype: ctJSON, body: overLarge, want: 413, code: "PAYLOAD_TOO_LARGE"},
		submit("a form's values", formQ, map[string]any{"values": map[string]any{"day": "2026-12-01", "n": 2, "ok": false, "pick": "b", "tags": []string{"y"}}, "freeText": "and a note"}, 200, "", reqConforms),
		submit("an approval's decision", approvalQ, map[string]any{"decision": "deny", "reason": "not now", "images": []map[string]any{{"data": png}}}, 200, "", reqConforms),
		submit("values that break the form", pending, map[string]any{"values": map[string]any{"x": 1}}, 400, invalid, reqUnchecked),
		submit("a decision to a question", pending, map[string]any{"decision": "approve"}, 400, invalid, reqUnchecked),
		submit("a decision that is neither", pending, map[string]any{"decision": "maybe"}, 400, invalid, reqBreaks),
		submit("an SVG image", pending, map[string]any{"freeText": "x", "images": []map[string]any{{"data": svg, "mimeType": "image/png"}}}, 400, invalid, reqUnchecked),

		// GET /api/feedback/{id}/images/{imageId} and the page's
		{name: "image: the owner's", method: "GET", path: img(withImage, imageID), key: keyA, want: 200, req: reqConforms},
		{name: "image: not modified", method: "GET", path: img(withImage, imageID), key: keyA, header: map[string]string{"If-None-Match": etag}, want: 304, req: reqConforms},
		{name: "image: not a UUID", method: "GET", path: img(withImage, "nope"), key: keyA, want: 400, code: invalid},
		{name: "image: no credentials", method: "GET", path: img(withImage, imageID), want: 401, code: "UNAUTHORIZED", req: reqBreaks},
		{name: "image: another principal's", method: "GET", path: img(withImage, imageID), key: keyB, want: 404, code: "SESSION_NOT_FOUND", req: reqConforms},
		{name: "image: not the session's", method: "GET", path: img(pending, imageID), key: keyA, want: 404, code: "IMAGE_NOT_FOUND", req: reqConforms},
		{name: "page image", method: "GET", path: pageImg(withImage, imageID), want: 200, req: reqConforms},
		{name: "page image: not modified", method: "GET", path: pageImg(withImage, imageID), header: map[string]string{"If-None-Match": etag}, want: 304, req: reqConforms},
		{name: "page image: not a UUID", method: "GET", path: pageImg("nope", imageID), want: 400, code: invalid},
		{name: "page image: unknown session", method: "GET", path: pageImg(unknown, imageID), want: 404, code: "SESSION_NOT_FOUND", req: reqConforms},
		{name: "page image: not the session's", method: "GET", path: pageImg(pending, imageID), want: 404, code: "IMAGE_NOT_FOUND", req: reqConforms},

		// GET /api/feedback/{id}/result
		{name: "result: answered with metadata", method: "GET", path: api(answered, "result"), key: keyA, want: 200, req: reqConforms},
		{name: "result: a single choice with an image", method: "GET", path: api(answeredRich, "result"), key: keyA, want: 200, req: reqConforms},
		{name: "result: waiting for an answer already there", method: "GET", path: api(answered, "result") + "?wait=30", key: keyA, want: 200, req: reqConforms},
		{name: "result: wait over 60", method: "GET", path: api(answered, "result") + "?wait=61", key: keyA, want: 400, code: invalid, req: reqBreaks},
		{name: "result: wait not a number", method: "GET", path: api(answered, "result") + "?wait=soon", key: keyA, want: 400, code: invalid, req: reqBreaks},
		{name: "result: not a UUID", method: "GET", path: api("123", "result"), key: keyA, want: 400, code: invalid, req: reqBreaks},
		{name: "result: no credentials", method: "GET", path: api(answered, "result"), want: 401, code: "UNAUTHORIZED", req: reqBreaks},
		{name: "result: unknown session", method: "GET", path: api(unknown, "result"), key: keyA, want: 404, code: "SESSION_NOT_FOUND", req: reqConforms},
		{name: "result: another principal's", method: "GET", path: api(answered, "result"), key: keyB, want: 404, code: "SESSION_NOT_FOUND", req: reqConforms},
		{name: "result: pending", method: "GET", path: api(pending, "result"), key: keyA, want: 404, code: "NO_FEEDBACK_AVAILABLE", req: reqConforms},
		{name: "result: pending after a wait", method: "GET", path: api(pending, "result") + "?wait=1", key: keyA, want: 404, code: "NO_FEEDBACK_AVAILABLE", req: reqConforms},
		{name: "result: expired", method: "GET", path: api(expired, "result"), key: keyA, want: 410, code: "SESSION_EXPIRED", req: reqConforms},
		{name: "result: cancelled", method: "GET", path: api(cancelled, "result"), key: keyA, want: 410, code: "SESSION_CANCELLED", req: reqConforms},

		// POST /api/feedback/{id}/cancel
		{name: "cancel: pending", method: "POST", path: api(toCancel, "cancel"), key: keyA, want: 200, req: reqConforms},
		{name: "cancel: not a UUID", method: "POST", path: api("x", "cancel"), key: keyA, want: 400, code: invalid, req: reqBreaks},
		{name: "cancel: no credentials", method: "POST", path: api(pending, "cancel"), want: 401, code: "UNAUTHORIZED", req: reqBreaks},
		{name: "cancel: unknown session", method: "POST", path: api(unknown, "cancel"), key: keyA, want: 404, code: "SESSION_NOT_FOUND", req: reqConforms},
		{name: "cancel: another principal's", method: "POST", path: api(pending, "cancel"), key: keyB, want: 404, code: "SESSION_NOT_FOUND", req: reqConforms},
		{name: "cancel: answered", method: "POST", path: api(answered, "cancel"), key: keyA, want: 409, code: "ALREADY_SUBMITTED", req: reqConforms},
		{name: "cancel: cancelled", method: "POST", path: api(cancelled, "cancel"), key: keyA, want: 410, code: "SESSION_CANCELLED", req: reqConforms},
		{name: "cancel: expired", method: "POST", path: api(expired, "cancel"), key: keyA, want: 410, code: "SESSION_EXPIRED", req: reqConforms},

		// GET /feedback/{id}/state
		{name: "state", method: "GET", path: "/feedback/" + pending + "/state", want: 200, req: reqConforms},
		{name: "state: not a UUID", method: "GET", path: "/feedback/nope/state", want: 400, code: invalid, req: reqBreaks},
		{name: "state: unknown session", method: "GET", path: "/feedback/" + unknown + "/state", want: 404, code: "SESSION_NOT_FOUND", req: reqConforms},

		// GET and POST /feedback/{id}
		{name: "page: pending", method: "GET", path: "/feedback/" + pending + "?lang=zh&theme=dark", want: 200, req: reqConforms},
		{name: "page: answered", method: "GET", path: "/feedback/" + answered, want: 200, req: reqConforms},
		{name: "page: unknown session", method: "GET", path: "/feedback/" + unknown, want: 404, req: reqConforms},
		{name: "page: not a UUID", method: "GET", path: "/feedback/nope", want: 404, req: reqBreaks},
		{name: "form: answer", method: "POST", path: "/feedback/" + toAnswerByForm + "?lang=en", ctype: formType, body: "selectedOptions=a&selectedOptions=b&freeText=by+form", want: 303, req: reqConforms},
		{name: "form: unknown option", method: "POST", path: "/feedback/" + pending, ctype: formType, body: "selectedOptions=green", want: 400, req: reqConforms},
		{name: "form: JSON", method: "POST", path: "/feedback/" + pending, ctype: ctJSON, body: `{"freeText":"x"}`, want: 400},
		{name: "form: unknown session", method: "POST", path: "/feedback/" + unknown, ctype: formType, body: "freeText=x", want: 404, req: reqConforms},
		{name: "form: answered already", method: "POST", path: "/feedback/" + answered, ctype: formType, body: "freeText=x", want: 409, req: reqConforms},
		{name: "form: expired", method: "POST", path: "/feedback/" + expired, ctype: formType, body: "freeText=x", want: 410, req: reqConforms},
		{name: "form: body over the image routes' limit", method: "POST", path: "/feedback/" + pending, ctype: formType, body: "freeText=" + strings.Repeat("a", 160<<10), want: 413, code: "PAYLOAD_TOO_LARGE"},
		{name: "form: multipart with a form's values", method: "POST", path: "/feedback/" + formByPage + "?lang=en", ctype: multipartType, body: multipartBody, want: 303, req: reqConforms},

		// Operations and discovery.
		{name: "health", method: "GET", path: "/health", want: 200, req: reqConforms},
		{name: "ready", method: "GET", path: "/ready", want: 200, req: reqConforms},
		{name: "metrics", method: "GET", path: "/metrics", want: 200, req: reqConforms},
		{name: "openapi.json", method: "GET", path: "/openapi.json", want: 200, req: reqConforms},
		{name: "resource metadata", method: "GET", path: "/.well-known/oauth-protected-resource", want: 200, req: reqConforms},
		{name: "resource metadata of /mcp", method: "GET", path: "/.well-known/oauth-protected-resource/mcp", want: 200, req: reqConforms},
		{name: "resource metadata of /sse", method: "GET", path: "/.well-known/oauth-protected-resource/sse", want: 200, req: reqConforms},

		// Paths nothing is routed to.
		{name: "unknown API route", method: "GET", path: "/api/nothing-here", key: keyA, want: 404, code: "NOT_FOUND"},
		{name: "unknown route", method: "GET", path: "/nothing-here", want: 404, code: "NOT_FOUND"},
	}
	inboxK := newInboxContract(t, e, pending, answered, expired, withImage, imageID, png, overLarge)
	for _, c := range append(append(cases, channelCases()...), inboxK.cases(t)...) {
		k.run(t, e.URL, c)
	}

	// What the cases above changed happened exactly as documented.
	if r := do(t, "GET", e.URL+api(formByPage, "result"), keyA, "", nil); !strings.Contains(string(r.Raw), `"values":{"day":"2026-12-01","n":3,"ok":true}`) ||
		!strings.Contains(string(r.Raw), `"name":"shot.png"`) {
		t.Errorf("the multipart form's answer: %s", r.Raw)
	}
	if r := do(t, "GET", e.URL+api(toAnswerByForm, "result"), keyA, "", nil); !strings.Contains(string(r.Raw), `"combinedFeedback":"a\nb\n\nby form"`) {
		t.Errorf("the form's answer: %s", r.Raw)
	}

	// The list's cursor is what the document says it is.
	h, body := k.run(t, e.URL, apiCase{name: "list: first page", method: "GET", path: "/api/feedback?limit=2", key: keyA, want: 200, req: reqConforms})
	var page struct {
		Data struct{ NextCursor string } `json:"data"`
	}
	if err := json.Unmarshal(body, &page); err != nil || page.Data.NextCursor == "" {
		t.Fatalf("list of more than two sessions gave no cursor: %s", body)
	}
	k.run(t, e.URL, apiCase{name: "list: next page", method: "GET", path: "/api/feedback?limit=2&cursor=" + url.QueryEscape(page.Data.NextCursor), key: keyA, want: 200, req: reqConforms})

	// The document is cacheable and revalidated by its ETag.
	h, _ = k.run(t, e.URL, apiCase{name: "openapi.json again", method: "GET", path: "/openapi.json", want: 200})
	k.run(t, e.URL, apiCase{name: "openapi.json: not modified", method: "GET", path: "/openapi.json", header: map[string]string{"If-None-Match": h.Get("ETag")}, want: 304})

	// Rate limits, /metrics and the resource metadata off: a second edge on
	// its own NATS, configured so.
	ns2 := programtest.StartNATS(t)
	once := edge.RateLimit{Requests: 1, Per: time.Hour, Burst: 1}
	limited := startContractEdge(t, ns2.URL, func(c *edge.Config) {
		c.CreateLimit, c.SubmitLimit, c.PageLimit = once, once, once
	}, programtest.Env("METRICS_ADDR", "127.0.0.1:0"), programtest.Env("MAX_WAITS_PER_PRINCIPAL", "1"))
	lp := limited.create(t, keyA, map[string]any{"message": "q"})
	// A's one wait, answered by "limited: first answer" below. (The hub's
	// subscribers include the notifier's.)
	subscribed := limited.m.Backend().Hub().Subscribers()
	waited := make(chan struct{})
	go func() {
		defer close(waited)
		k.run(t, limited.URL, apiCase{name: "limited: the one wait", method: "GET", path: api(lp, "result") + "?wait=30", key: keyA, want: 200, req: reqConforms})
	}()
	programtest.WaitFor(t, 10*time.Second, programtest.Until("the wait", func() bool { return limited.m.Backend().Hub().Subscribers() == subscribed+1 }))
	for _, c := range []apiCase{
		{name: "limited: a second wait", method: "GET", path: api(lp, "result") + "?wait=30", key: keyA, want: 429, code: "RATE_LIMITED", req: reqConforms},
		{name: "limited: create over the limit", method: "POST", path: "/api/feedback/create", key: keyA, ctype: ctJSON, body: `{"message":"again"}`, want: 429, code: "RATE_LIMITED", req: reqConforms},
		{name: "limited: first answer", method: "POST", path: api(lp, "submit"), ctype: ctJSON, body: `{"freeText":"x"}`, want: 200, req: reqConforms},
		{name: "limited: second answer", method: "POST", path: api(lp, "submit"), ctype: ctJSON, body: `{"freeText":"x"}`, want: 429, code: "RATE_LIMITED", req: reqConforms},
		{name: "limited: state", method: "GET", path: "/feedback/" + lp + "/state", want: 200, req: reqConforms},
		{name: "limited: state over the limit", method: "GET", path: "/feedback/" + lp + "/state", want: 429, code: "RATE_LIMITED", req: reqConforms},
		{name: "limited: page over the limit", method: "GET", path: "/feedback/" + lp, want: 429, req: reqConforms},
		{name: "limited: form over the limit", method: "POST", path: "/feedback/" + lp, ctype: formType, body: "freeText=x", want: 429, req: reqConforms},
		{name: "limited: page image over the limit", method: "GET", path: "/feedback/" + lp + "/images/" + sessions.NewID(), want: 429, code: "RATE_LIMITED", req: reqConforms},
		{name: "limited: metrics elsewhere", method: "GET", path: "/metrics", want: 404, code: "NOT_FOUND", req: reqConforms},
		{name: "limited: no resource metadata", method: "GET", path: "/.well-known/oauth-protected-resource", want: 404, code: "NOT_FOUND", req: reqConforms},
		{name: "limited: no resource metadata of /mcp", method: "GET", path: "/.well-known/oauth-protected-resource/mcp", want: 404, code: "NOT_FOUND", req: reqConforms},
		{name: "limited: no resource metadata of /sse", method: "GET", path: "/.well-known/oauth-protected-resource/sse", want: 404, code: "NOT_FOUND", req: reqConforms},
	} {
		h, _ := k.run(t, limited.URL, c)
		if strings.Contains(c.name, "answer") && c.want == 429 {
			// Answering in the inbox counts against the same limit.
			for _, ic := range inboxLimitedCases(t, limited, lp) {
				if h, _ := k.run(t, limited.URL, ic); h.Get("Retry-After") == "" {
					t.Errorf("%s: no Retry-After", ic.name)
				}
			}
		}
		if c.want == 429 && (h.Get("Retry-After") == "" || (h.Get("X-RateLimit-Limit") != "1") != (c.name == "limited: a second wait")) {
			t.Errorf("%s: Retry-After %q, X-RateLimit-Limit %q", c.name, h.Get("Retry-After"), h.Get("X-RateLimit-Limit"))
		}
	}
	<-waited

	// A wait cut short by shutdown: 503 at once, with Retry-After.
	ns3 := programtest.StartNATS(t)
	closing := startContractEdge(t, ns3.URL, nil)
	cp := closing.create(t, keyA, map[string]any{"message": "q"})
	subscribed = closing.m.Backend().Hub().Subscribers()
	cut := make(chan http.Header, 1)
	go func() {
		defer close(cut)
		h, _ := k.run(t, closing.URL, apiCase{name: "shutdown: waiting", method: "GET", path: api(cp, "result") + "?wait=30", key: keyA, want: 503, code: "SERVICE_UNAVAILABLE", req: reqConforms})
		cut <- h
	}()
	programtest.WaitFor(t, 10*time.Second, programtest.Until("the wait", func() bool { return closing.m.Backend().Hub().Subscribers() == subscribed+1 }))
	if err := closing.m.Close(); err != nil {
		t.Fatal(err)
	}
	if h, ok := <-cut; !ok || h.Get("Retry-After") == "" {
		t.Errorf("a wait cut by shutdown: Retry-After %q", h.Get("Retry-After"))
	}

	// NATS gone: every route that reads sessions says so with 503.
	outage(t, ns, e.m)
	for _, c := range append([]apiCase{
		{name: "down: create", method: "POST", path: "/api/feedback/create", key: keyA, ctype: ctJSON, body: `{"message":"q"}`, want: 503, code: "SERVICE_UNAVAILABLE"},
		{name: "down: list", method: "GET", path: "/api/feedback", key: keyA, want: 503, code: "SERVICE_UNAVAILABLE"},
		{name: "down: status", method: "GET", path: api(pending, "status"), key: keyA, want: 503, code: "SERVICE_UNAVAILABLE"},
		{name: "down: submit", method: "POST", path: api(pending, "submit"), ctype: ctJSON, body: `{"freeText":"x"}`, want: 503, code: "SERVICE_UNAVAILABLE"},
		{name: "down: result", method: "GET", path: api(pending, "result"), key: keyA, want: 503, code: "SERVICE_UNAVAILABLE"},
		{name: "down: cancel", method: "POST", path: api(pending, "cancel"), key: keyA, want: 503, code: "SERVICE_UNAVAILABLE"},
		{name: "down: state", method: "GET", path: "/feedback/" + pending + "/state", want: 503, code: "SERVICE_UNAVAILABLE"},
		{name: "down: image", method: "GET", path: img(withImage, imageID), key: keyA, want: 503, code: "SERVICE_UNAVAILABLE"},
		{name: "down: page image", method: "GET", path: pageImg(withImage, imageID), want: 503, code: "SERVICE_UNAVAILABLE"},
		{name: "down: page", method: "GET", path: "/feedback/" + pending, want: 503},
		{name: "down: form", method: "POST", path: "/feedback/" + pending, ctype: formType, body: "freeText=x", want: 503},
		{name: "down: health", method: "GET", path: "/health", want: 503},
		{name: "down: ready", method: "GET", path: "/ready", want: 503},
	}, append(channelDownCases(), inboxK.downCases()...)...) {
		k.run(t, e.URL, c)
	}

	if missing := k.unseen(func(string, string, string) bool { return false }); len(missing) > 0 {
		t.Errorf("documented responses no request produced (produce them above, or drop them from web/openapi.json):\n%s", strings.Join(missing, "\n"))
	}
	if !k.seen["#RouteNotFound"] {
		t.Error("the general RouteNotFound response was never produced")
	}
	if !k.seen["#MisdirectedRequest"] {
		t.Error("the general MisdirectedRequest response was never produced")
	}
}

// TestOpenAPIDocumentListsEveryRoute walks the routes registered on the
// edge: each is documented or excluded with a reason, each documented path
// is registered, and every method a path does not document is answered 405
// with the documented methods in Allow.
func TestOpenAPIDocumentListsEveryRoute(t *testing.T) {
	k := loadContract(t)
	ns := programtest.StartNATS(t)
	e := startContractEdge(t, ns.URL, func(c *edge.Config) { c.AuthorizationServers = []string{"https://login.example.com"} })

	registered := map[string]bool{}
	for _, r := range e.m.Edge().App().GetRoutes(true) {
		registered[docPath(r.Path)] = true
	}
	for path := range registered {
		if k.doc.Paths.Value(path) == nil && notInOpenAPI[path] == "" {
			t.Errorf("route %s is registered on the edge but not in web/openapi.json: document it (and in docs/api.md), or add it to notInOpenAPI with the reason", path)
		}
	}
	for path := range notInOpenAPI {
		if !registered[path] {
			t.Errorf("notInOpenAPI lists %s, which the edge does not register: remove it", path)
		}
	}
	for path := range k.doc.Paths.Map() {
		if !registered[path] {
			t.Errorf("web/openapi.json documents %s, which the edge does not register", path)
		}
	}

	id := sessions.NewID()
	var paths []string
	for path := range registered {
		if notInOpenAPI[path] == "" {
			paths = append(paths, path)
		}
	}
	sort.Strings(paths)
	for _, path := range paths {
		item := k.doc.Paths.Value(path)
		if item == nil {
			continue
		}
		var allow []string
		for method := range item.Operations() {
			allow = append(allow, method)
			if method == http.MethodGet {
				allow = append(allow, http.MethodHead)
			}
		}
		slices.Sort(allow)
		for _, method := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
			if item.GetOperation(method) != nil {
				continue
			}
			h, _ := k.run(t, e.URL, apiCase{
				name: "method not documented", method: method, path: strings.NewReplacer("{id}", id, "{imageId}", id).Replace(path),
				want: http.StatusMethodNotAllowed, code: "METHOD_NOT_ALLOWED",
			})
			got := strings.Split(h.Get("Allow"), ", ")
			slices.Sort(got)
			if !slices.Equal(got, allow) {
				t.Errorf("%s %s: Allow %q, but the document lists %v", method, path, h.Get("Allow"), allow)
			}
		}
	}
	if !k.seen["#MethodNotAllowed"] {
		t.Error("the general MethodNotAllowed response was never produced")
	}
}

// TestOpenAPIDocumentIsServed checks that /openapi.json is the embedded
// document, byte for byte, and readable from any origin.
func TestOpenAPIDocumentIsServed(t *testing.T) {
	ns := programtest.StartNATS(t)
	e := startContractEdge(t, ns.URL, nil)
	req, err := http.NewRequest("GET", e.URL+"/openapi.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", "https://tools.example.org")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !bytes.Equal(body, web.OpenAPI()) {
		t.Fatalf("GET /openapi.json: %d, %d bytes; want the %d bytes of web/openapi.json", res.StatusCode, len(body), len(web.OpenAPI()))
	}
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("Access-Control-Allow-Origin %q, want * (the document is public)", got)
	}
	if got := res.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type %q", got)
	}
}

// TestOpenAPIChecksHaveTeeth makes sure the checks above can fail: a body
// with an undocumented field, a wrong error code or a missing required
// header is refused.
func TestOpenAPIChecksHaveTeeth(t *testing.T) {
	k := loadContract(t)
	validate := func(method, path string, status int, header http.Header, body string) error {
		req, _ := http.NewRequest(method, "http://edge.test"+path, nil)
		route, params, _, err := k.route(req, status)
		if err != nil {
			return err
		}
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
			Status:                 status, Header: header,
			Options: validationOptions(),
		}
		in.SetBodyBytes([]byte(body))
		return openapi3filter.ValidateResponse(context.Background(), in)
	}
	h := http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"abc"}, "Cache-Control": {"no-store"}}
	id := sessions.NewID()
	good := `{"success":true,"data":{"sessionId":"` + id + `","status":"cancelled"},"error":null,"timestamp":"2026-11-22T04:39:57.040Z"}`
	if err := validate("POST", "/api/feedback/"+id+"/cancel", 200, h, good); err != nil {
		t.Fatalf("a correct answer is refused: %v", err)
	}
	for name, tc := range map[string]struct {
		status int
		header http.Header
		body   string
	}{
		"undocumented field":  {200, h, strings.Replace(good, `"status"`, `"extra":1,"status"`, 1)},
		"wrong time format":   {200, h, strings.Replace(good, `04:39:57.040Z`, `04:39:57Z`, 1)},
		"no request id":       {200, http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}}, good},
		"cacheable":           {200, http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"abc"}, "Cache-Control": {"max-age=60"}}, good},
		"undocumented code":   {404, h, `{"success":false,"data":null,"error":{"code":"NO_FEEDBACK_AVAILABLE","message":"m"},"timestamp":"2026-11-22T04:39:57.040Z"}`},
		"undocumented status": {418, h, `{}`},
	} {
		if err := validate("POST", "/api/feedback/"+id+"/cancel", tc.status, tc.header, tc.body); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := validate("PUT", "/health", 405, h, `{"success":false,"data":null,"error":{"code":"METHOD_NOT_ALLOWED","message":"m"},"timestamp":"2026-11-22T04:39:57.040Z"}`); err == nil {
		t.Error("a 405 without Allow is accepted")
	}
}
