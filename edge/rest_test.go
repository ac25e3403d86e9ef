package edge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program"
	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/pkg/auth"
	"github.com/feedbackd/feedbackd/sessions"
)

const (
	keyA = programtest.KeyA
	keyB = programtest.KeyB
)

// restEdge is one edge replica: the real program's edge role, serving on
// 127.0.0.1.
type restEdge struct {
	URL string
	Svc *sessions.Service
	m   *program.Main
}

// hub is the edge's in-process fan-out of the change feed.
func (e *restEdge) hub() *sessions.Hub { return e.m.Backend().Hub() }

// runEdge runs an edge against the NATS at natsURL, as a separate process
// would: its own connection, change feed and hub. Storage errors are 503 at
// once, for tests that stop NATS.
func runEdge(t testing.TB, natsURL string, opts ...programtest.Option) *restEdge {
	t.Helper()
	opts = append([]programtest.Option{programtest.Role("edge"), programtest.NATS(natsURL), programtest.QuickStorageErrors()}, opts...)
	m := programtest.MustRunMain(t, opts...)
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	return &restEdge{URL: m.URL(), Svc: m.Backend().Service(), m: m}
}

// newREST runs an edge on a NATS of its own, which the test may stop.
func newREST(t testing.TB, opts ...programtest.Option) (*restEdge, *programtest.Server) {
	ns := programtest.StartNATS(t)
	return runEdge(t, ns.URL, opts...), ns
}

// outage stops ns and waits until m's connection has noticed: what a
// request meets from then on is an outage, not a race with it.
func outage(t testing.TB, ns *programtest.Server, m *program.Main) {
	t.Helper()
	ns.Stop()
	programtest.WaitFor(t, 10*time.Second, programtest.Until("the edge to notice that NATS is gone", func() bool {
		return !m.Backend().Conn().IsConnected()
	}))
}

// waitingOn waits until n requests wait on e's hub (a long poll, an MCP
// call): whatever happens next is sure to be seen by them.
func waitingOn(t testing.TB, e *restEdge, n int) {
	t.Helper()
	programtest.WaitFor(t, 10*time.Second, programtest.Until(fmt.Sprintf("%d waiting on the hub", n), func() bool {
		return e.hub().Subscribers() == n
	}))
}

type reply struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   struct {
		Success bool            `json:"success"`
		Data    json.RawMessage `json:"data"`
		Error   *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Details *struct {
				Field  string `json:"field"`
				Reason string `json:"reason"`
			} `json:"details"`
		} `json:"error"`
		Timestamp string `json:"timestamp"`
	}
}

func (r *reply) code() string {
	if r.Body.Error == nil {
		return ""
	}
	return r.Body.Error.Code
}

func (r *reply) data(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body.Data, v); err != nil {
		t.Fatalf("decode data %s: %v", r.Raw, err)
	}
}

// do sends a request; key "" sends no credentials; body string is sent as
// application/json unless ctype says otherwise.
func do(t testing.TB, method, url, key, ctype string, body []byte) *reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	r := &reply{Status: res.StatusCode, Header: res.Header}
	r.Raw, _ = io.ReadAll(res.Body)
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") && len(r.Raw) > 0 {
		if err := json.Unmarshal(r.Raw, &r.Body); err != nil {
			t.Fatalf("%s %s: body is not JSON: %s", method, url, r.Raw)
		}
	}
	return r
}

const ctJSON = "application/json"

func (e *restEdge) create(t testing.TB, key string, body any) string {
	t.Helper()
	b, _ := json.Marshal(body)
	r := do(t, "POST", e.URL+"/api/feedback/create", key, ctJSON, b)
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	var d struct{ SessionID string }
	r.data(t, &d)
	return d.SessionID
}

func (e *restEdge) submit(t testing.TB, id string, body any) *reply {
	t.Helper()
	b, _ := json.Marshal(body)
	return do(t, "POST", e.URL+"/api/feedback/"+id+"/submit", "", ctJSON, b)
}

func TestCreateReturnsLinksAndEnvelope(t *testing.T) {
	t.Parallel()
	e, _ := newREST(t)
	r := do(t, "POST", e.URL+"/api/feedback/create", keyA, ctJSON, []byte(`{"message":"Deploy?","predefinedOptions":["yes","no"],"timeout":120,"metadata":{"source":"ci"}}`))
	if r.Status != 201 || !r.Body.Success || r.Body.Error != nil {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	if _, err := time.Parse(time.RFC3339, r.Body.Timestamp); err != nil {
		t.Fatalf("timestamp %q: %v", r.Body.Timestamp, err)
	}
	var d struct{ SessionID, FeedbackURL, StatusURL, ExpiresAt string }
	r.data(t, &d)
	if sessions.CheckID(d.SessionID) != nil {
		t.Fatalf("session id %q", d.SessionID)
	}
	if d.FeedbackURL != e.URL+"/feedback/"+d.SessionID || d.StatusURL != e.URL+"/api/feedback/"+d.SessionID+"/status" {
		t.Fatalf("links: %+v", d)
	}
	exp, err := time.Parse(time.RFC3339, d.ExpiresAt)
	if err != nil || time.Until(exp) < 100*time.Second || time.Until(exp) > 121*time.Second {
		t.Fatalf("expiresAt %q", d.ExpiresAt)
	}
}

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	e, _ := newREST(t)
	opts := func(n int) []string {
		o := make([]string, n)
		for i := range o {
			o[i] = fmt.Sprintf("option %d", i)
		}
		return o
	}
	cases := []struct {
		name   string
		body   string
		ctype  string
		status int
		field  string
	}{
		{"1000 characters", fmt.Sprintf(`{"message":%q}`, strings.Repeat("a", 1000)), ctJSON, 201, ""},
		{"1001 characters", fmt.Sprintf(`{"message":%q}`, strings.Repeat("a", 1001)), ctJSON, 400, "message"},
		{"1000 CJK characters (3000 bytes)", fmt.Sprintf(`{"message":%q}`, strings.Repeat("问", 1000)), ctJSON, 201, ""},
		{"1000 emoji (4000 bytes)", fmt.Sprintf(`{"message":%q}`, strings.Repeat("🙂", 1000)), ctJSON, 201, ""},
		{"1001 emoji", fmt.Sprintf(`{"message":%q}`, strings.Repeat("🙂", 1001)), ctJSON, 400, "message"},
		{"empty message", `{"message":""}`, ctJSON, 400, "message"},
		{"blank message", `{"message":"   "}`, ctJSON, 400, "message"},
		{"missing message", `{}`, ctJSON, 400, "message"},
		{"10 options", mustJSON(map[string]any{"message": "q", "predefinedOptions": opts(10)}), ctJSON, 201, ""},
		{"11 options", mustJSON(map[string]any{"message": "q", "predefinedOptions": opts(11)}), ctJSON, 400, "predefinedOptions"},
		{"duplicate options", `{"message":"q","predefinedOptions":["a","b","a"]}`, ctJSON, 400, "predefinedOptions[2]"},
		{"empty option", `{"message":"q","predefinedOptions":["a",""]}`, ctJSON, 400, "predefinedOptions[1]"},
		{"101-character option", mustJSON(map[string]any{"message": "q", "predefinedOptions": []string{strings.Repeat("x", 101)}}), ctJSON, 400, "predefinedOptions[0]"},
		{"100-character option", mustJSON(map[string]any{"message": "q", "predefinedOptions": []string{strings.Repeat("x", 100)}}), ctJSON, 201, ""},
		{"timeout 29", `{"message":"q","timeout":29}`, ctJSON, 400, "timeout"},
		{"timeout 30", `{"message":"q","timeout":30}`, ctJSON, 201, ""},
		{"timeout 3600", `{"message":"q","timeout":3600}`, ctJSON, 201, ""},
		{"timeout 3601", `{"message":"q","timeout":3601}`, ctJSON, 400, "timeout"},
		{"timeout huge", `{"message":"q","timeout":1e400}`, ctJSON, 400, "timeout"},
		{"timeout huge integer", `{"message":"q","timeout":99999999999999999999999999}`, ctJSON, 400, "timeout"},
		{"timeout fractional", `{"message":"q","timeout":30.5}`, ctJSON, 400, "timeout"},
		{"timeout negative", `{"message":"q","timeout":-30}`, ctJSON, 400, "timeout"},
		{"timeout wrong type", `{"message":"q","timeout":true}`, ctJSON, 400, "timeout"},
		{"timeout as a quoted number", `{"message":"q","timeout":"60"}`, ctJSON, 400, "timeout"},
		{"timeout as a quoted fraction", `{"message":"q","timeout":"60.0"}`, ctJSON, 400, "timeout"},
		{"timeout as an object", `{"message":"q","timeout":{"s":60}}`, ctJSON, 400, "timeout"},
		{"timeout null is the default", `{"message":"q","timeout":null}`, ctJSON, 201, ""},
		{"message wrong type", `{"message":42}`, ctJSON, 400, "message"},
		{"options wrong type", `{"message":"q","predefinedOptions":"a"}`, ctJSON, 400, "predefinedOptions"},
		{"metadata not an object", `{"message":"q","metadata":[1,2]}`, ctJSON, 400, "metadata"},
		{"metadata over 4 KiB", fmt.Sprintf(`{"message":"q","metadata":{"x":%q}}`, strings.Repeat("m", 4100)), ctJSON, 400, "metadata"},
		{"wrong content type", `{"message":"q"}`, "text/plain", 400, "Content-Type"},
		{"no content type", `{"message":"q"}`, "", 400, "Content-Type"},
		{"json with charset", `{"message":"q"}`, "application/json; charset=utf-8", 201, ""},
		{"empty body", ``, ctJSON, 400, "body"},
		{"malformed JSON", `{"message":`, ctJSON, 400, "body"},
		{"trailing garbage", `{"message":"q"} garbage`, ctJSON, 400, "body"},
		{"two values", `{"message":"q"}{"message":"r"}`, ctJSON, 400, "body"},
		{"array body", `["q"]`, ctJSON, 400, "body"},
		{"invalid UTF-8", "{\"message\":\"\xff\xfe\"}", ctJSON, 400, "body"},
		{"control characters", `{"message":"a\u0000b"}`, ctJSON, 400, "message"},
		{"script tags are stored as text", `{"message":"<script>alert(1)</script>"}`, ctJSON, 201, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, "POST", e.URL+"/api/feedback/create", keyA, tc.ctype, []byte(tc.body))
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Raw)
			}
			if tc.status == 400 {
				if r.code() != "INVALID_REQUEST" || r.Body.Error.Details == nil || r.Body.Error.Details.Field != tc.field {
					t.Fatalf("error = %s, want INVALID_REQUEST on %q", r.Raw, tc.field)
				}
				if r.Body.Success || string(r.Body.Data) != "null" {
					t.Fatalf("failed envelope must have success false and data null: %s", r.Raw)
				}
			}
		})
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// Not parallel: fasthttp answers 413 and closes while the client may still be
// sending the body, and on a loaded machine the client can see the reset
// before the answer.
func TestOversizedBodyIs413(t *testing.T) {
	e, _ := newREST(t, smallImages(4*testLargeLimit)...)
	id := e.create(t, keyA, map[string]any{"message": "q"})
	big := fmt.Sprintf(`{"message":%q}`, strings.Repeat("a", 70*1024))
	r := do(t, "POST", e.URL+"/api/feedback/"+id+"/cancel", keyA, ctJSON, []byte(big))
	if r.Status != 413 || r.code() != "PAYLOAD_TOO_LARGE" {
		t.Fatalf("cancel with 70 KiB: %d %s", r.Status, r.Raw)
	}
	// The create route takes images, so a long message is read and refused
	// for what it is; a body over the route's own limit is still 413.
	r = do(t, "POST", e.URL+"/api/feedback/create", keyA, ctJSON, []byte(big))
	if r.Status != 400 || r.Body.Error.Details.Field != "message" {
		t.Fatalf("create with a 70 KiB message: %d %s", r.Status, r.Raw)
	}
	huge := fmt.Sprintf(`{"message":%q}`, strings.Repeat("a", int(testLargeLimit)))
	r = do(t, "POST", e.URL+"/api/feedback/create", keyA, ctJSON, []byte(huge))
	if r.Status != 413 || r.code() != "PAYLOAD_TOO_LARGE" {
		t.Fatalf("create over the large limit: %d %s", r.Status, r.Raw)
	}
}

func TestStatusSubmitResultCancelFlow(t *testing.T) {
	t.Parallel()
	e, _ := newREST(t)
	id := e.create(t, keyA, map[string]any{"message": "Pick", "predefinedOptions": []string{"red", "blue"}})
	base := e.URL + "/api/feedback/" + id

	r := do(t, "GET", base+"/status", keyA, "", nil)
	var st struct{ SessionID, Status, CreatedAt, ExpiresAt, SubmittedAt string }
	r.data(t, &st)
	if r.Status != 200 || st.Status != "pending" || st.SubmittedAt != "" || strings.Contains(string(r.Raw), "submittedAt") {
		t.Fatalf("status: %d %s", r.Status, r.Raw)
	}
	if r := do(t, "GET", base+"/result", keyA, "", nil); r.Status != 404 || r.code() != "NO_FEEDBACK_AVAILABLE" {
		t.Fatalf("early result: %d %s", r.Status, r.Raw)
	}

	// Invalid answers lose nothing: the session stays pending.
	for name, body := range map[string]any{
		"neither":             map[string]any{},
		"unknown option":      map[string]any{"selectedOptions": []string{"green"}},
		"option twice":        map[string]any{"selectedOptions": []string{"red", "red"}},
		"blank text":          map[string]any{"freeText": "   "},
		"1001-character text": map[string]any{"freeText": strings.Repeat("字", 1001)},
	} {
		if r := e.submit(t, id, body); r.Status != 400 || r.code() != "INVALID_REQUEST" {
			t.Fatalf("%s: %d %s", name, r.Status, r.Raw)
		}
	}
	if r := do(t, "POST", base+"/submit", "", "text/plain", []byte(`{"freeText":"x"}`)); r.Status != 400 {
		t.Fatalf("wrong content type on submit: %d", r.Status)
	}

	r = e.submit(t, id, map[string]any{"selectedOptions": []string{"red", "blue"}, "freeText": "  <b>both</b>  ", "metadata": map[string]any{"ua": "test"}})
	var sub struct{ SessionID, Status, SubmittedAt string }
	r.data(t, &sub)
	if r.Status != 200 || sub.Status != "completed" || sub.SubmittedAt == "" {
		t.Fatalf("submit: %d %s", r.Status, r.Raw)
	}
	if r := e.submit(t, id, map[string]any{"freeText": "again"}); r.Status != 409 || r.code() != "ALREADY_SUBMITTED" {
		t.Fatalf("second submit: %d %s", r.Status, r.Raw)
	}

	r = do(t, "GET", base+"/result", keyA, "", nil)
	var res struct {
		SessionID string
		Feedback  struct {
			SelectedOptions  []string
			FreeText         string
			CombinedFeedback string
		}
		SubmittedAt string
		Metadata    map[string]any
	}
	r.data(t, &res)
	if r.Status != 200 || res.Feedback.CombinedFeedback != "red\nblue\n\n<b>both</b>" || res.Metadata["ua"] != "test" || res.SubmittedAt != sub.SubmittedAt {
		t.Fatalf("result: %d %s", r.Status, r.Raw)
	}
	if r := do(t, "POST", base+"/cancel", keyA, "", nil); r.Status != 409 || r.code() != "ALREADY_SUBMITTED" {
		t.Fatalf("cancel after submit: %d %s", r.Status, r.Raw)
	}

	id2 := e.create(t, keyA, map[string]any{"message": "Cancel me"})
	r = do(t, "POST", e.URL+"/api/feedback/"+id2+"/cancel", keyA, "", nil)
	var c struct{ SessionID, Status string }
	r.data(t, &c)
	if r.Status != 200 || c.Status != "cancelled" {
		t.Fatalf("cancel: %d %s", r.Status, r.Raw)
	}
	if r := e.submit(t, id2, map[string]any{"freeText": "late"}); r.Status != 410 || r.code() != "SESSION_CANCELLED" {
		t.Fatalf("submit after cancel: %d %s", r.Status, r.Raw)
	}
	if r := do(t, "GET", e.URL+"/api/feedback/"+id2+"/result", keyA, "", nil); r.Status != 410 || r.code() != "SESSION_CANCELLED" {
		t.Fatalf("result after cancel: %d %s", r.Status, r.Raw)
	}
}

func TestExpiredSessionStaysVisibleAndRefusesAnswers(t *testing.T) {
	t.Parallel()
	clk := newClock()
	e, _ := newREST(t, programtest.Sessions(sessions.WithClock(clk.Now)))
	id := e.create(t, keyA, map[string]any{"message": "Quick", "timeout": 30})
	clk.Add(31 * time.Second) // no expirer runs: reads must see the deadline
	if r := e.submit(t, id, map[string]any{"freeText": "too late"}); r.Status != 410 || r.code() != "SESSION_EXPIRED" {
		t.Fatalf("late submit: %d %s", r.Status, r.Raw)
	}
	r := do(t, "GET", e.URL+"/api/feedback/"+id+"/status", keyA, "", nil)
	if r.Status != 200 || !strings.Contains(string(r.Body.Data), `"status":"expired"`) {
		t.Fatalf("status after expiry: %d %s", r.Status, r.Raw)
	}
	if r := do(t, "GET", e.URL+"/api/feedback/"+id+"/result", keyA, "", nil); r.Status != 410 || r.code() != "SESSION_EXPIRED" {
		t.Fatalf("result after expiry: %d %s", r.Status, r.Raw)
	}
	if r := do(t, "POST", e.URL+"/api/feedback/"+id+"/cancel", keyA, "", nil); r.Status != 410 || r.code() != "SESSION_EXPIRED" {
		t.Fatalf("cancel after expiry: %d %s", r.Status, r.Raw)
	}
}

func TestIDsAndRoutes(t *testing.T) {
	t.Parallel()
	e, _ := newREST(t)
	for _, id := range []string{"nope", "123", "5E16ED4D-E404-4882-876E-AF768F85AE7C", "5e16ed4d-e404-4882-876e-af768f85ae7", "5e16ed4d_e404_4882_876e_af768f85ae7c", "%3Cscript%3E"} {
		if r := do(t, "GET", e.URL+"/api/feedback/"+id+"/status", keyA, "", nil); r.Status != 400 || r.code() != "INVALID_REQUEST" {
			t.Fatalf("id %q: %d %s", id, r.Status, r.Raw)
		}
		if r := do(t, "POST", e.URL+"/api/feedback/"+id+"/submit", "", ctJSON, []byte(`{"freeText":"x"}`)); r.Status != 400 {
			t.Fatalf("submit id %q: %d %s", id, r.Status, r.Raw)
		}
	}
	unknown := sessions.NewID()
	for _, path := range []string{"/status", "/result", "/cancel"} {
		method := "GET"
		if path == "/cancel" {
			method = "POST"
		}
		if r := do(t, method, e.URL+"/api/feedback/"+unknown+path, keyA, "", nil); r.Status != 404 || r.code() != "SESSION_NOT_FOUND" {
			t.Fatalf("%s unknown: %d %s", path, r.Status, r.Raw)
		}
	}
	if r := e.submit(t, unknown, map[string]any{"freeText": "x"}); r.Status != 404 || r.code() != "SESSION_NOT_FOUND" {
		t.Fatalf("submit unknown: %d %s", r.Status, r.Raw)
	}
	methods := map[string]string{
		"/api/feedback/create":                 "PUT",
		"/api/feedback":                        "POST",
		"/api/feedback/" + unknown + "/status": "DELETE",
		"/api/feedback/" + unknown + "/submit": "GET",
		"/api/feedback/" + unknown + "/result": "POST",
		"/api/feedback/" + unknown + "/cancel": "GET",
		"/health":                              "POST",
	}
	for path, m := range methods {
		r := do(t, m, e.URL+path, keyA, "", nil)
		if r.Status != 405 || r.code() != "METHOD_NOT_ALLOWED" || r.Header.Get("Allow") == "" {
			t.Fatalf("%s %s: %d allow=%q %s", m, path, r.Status, r.Header.Get("Allow"), r.Raw)
		}
	}
	if r := do(t, "GET", e.URL+"/api/nothing-here", keyA, "", nil); r.Status != 404 || r.Body.Success {
		t.Fatalf("unknown route: %d %s", r.Status, r.Raw)
	}
}

func TestUnauthorized(t *testing.T) {
	t.Parallel()
	e, _ := newREST(t)
	id := e.create(t, keyA, map[string]any{"message": "q"})
	for name, h := range map[string]map[string]string{
		"no header":             {},
		"wrong key":             {"X-API-Key": "not-a-key"},
		"empty key":             {"X-API-Key": ""},
		"key with spaces":       {"X-API-Key": " " + keyA + " x"},
		"ApiKey scheme, wrong":  {"Authorization": "ApiKey nope"},
		"unknown scheme":        {"Authorization": "Basic " + keyA},
		"scheme without key":    {"Authorization": "ApiKey"},
		"script in header":      {"X-API-Key": "<script>alert(1)</script>"},
		"huge header":           {"X-API-Key": strings.Repeat("k", 10*1024)},
		"key in query string":   {"_query": "?apiKey=" + keyA},
		"valid key, wrong case": {"X-API-Key": strings.ToUpper(keyA)},
	} {
		for _, route := range []struct{ method, path string }{
			{"POST", "/api/feedback/create"}, {"GET", "/api/feedback"}, {"GET", "/api/feedback/" + id + "/status"},
			{"GET", "/api/feedback/" + id + "/result"}, {"POST", "/api/feedback/" + id + "/cancel"},
		} {
			url := e.URL + route.path + h["_query"]
			req, _ := http.NewRequest(route.method, url, strings.NewReader(`{"message":"q"}`))
			req.Header.Set("Content-Type", ctJSON)
			for k, v := range h {
				if k != "_query" {
					req.Header.Set(k, v)
				}
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 401 || !strings.Contains(string(b), `"UNAUTHORIZED"`) {
				t.Fatalf("%s %s %s: %d %s", name, route.method, route.path, res.StatusCode, b)
			}
		}
	}
	// Both documented forms work.
	req, _ := http.NewRequest("GET", e.URL+"/api/feedback/"+id+"/status", nil)
	req.Header.Set("Authorization", "ApiKey "+keyA)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("Authorization: ApiKey: %v %v", res.StatusCode, err)
	}
	res.Body.Close()
}

func TestTenancy(t *testing.T) {
	t.Parallel()
	e, _ := newREST(t)
	a := e.create(t, keyA, map[string]any{"message": "A's question"})
	b := e.create(t, keyB, map[string]any{"message": "B's question"})
	for _, rt := range []struct{ method, path string }{{"GET", "/status"}, {"GET", "/result"}, {"POST", "/cancel"}} {
		r := do(t, rt.method, e.URL+"/api/feedback/"+a+rt.path, keyB, "", nil)
		if r.Status != 404 || r.code() != "SESSION_NOT_FOUND" {
			t.Fatalf("B on A's %s: %d %s", rt.path, r.Status, r.Raw)
		}
	}
	if r := do(t, "GET", e.URL+"/api/feedback/"+a+"/result?wait=1", keyB, "", nil); r.Status != 404 {
		t.Fatalf("B waiting on A's result: %d %s", r.Status, r.Raw)
	}
	// B's failed cancel did not touch A's session.
	r := do(t, "GET", e.URL+"/api/feedback/"+a+"/status", keyA, "", nil)
	if !strings.Contains(string(r.Body.Data), `"pending"`) {
		t.Fatalf("A's session after B's cancel: %s", r.Raw)
	}
	r = do(t, "GET", e.URL+"/api/feedback", keyA, "", nil)
	if strings.Contains(string(r.Raw), b) || !strings.Contains(string(r.Raw), a) {
		t.Fatalf("A's list: %s", r.Raw)
	}
}

func TestListPaginationAndStatusFilter(t *testing.T) {
	t.Parallel()
	e, _ := newREST(t)
	var ids []string
	for i := range 5 {
		ids = append(ids, e.create(t, keyA, map[string]any{"message": fmt.Sprintf("q%d", i)}))
	}
	if r := e.submit(t, ids[1], map[string]any{"freeText": "done"}); r.Status != 200 {
		t.Fatal(r.Status)
	}
	type page struct {
		Items []struct {
			SessionID, Message, Status, CreatedAt, ExpiresAt, SubmittedAt string
		}
		NextCursor string
	}
	var got []string
	url := e.URL + "/api/feedback?limit=2"
	for range 10 {
		r := do(t, "GET", url, keyA, "", nil)
		var p page
		r.data(t, &p)
		for _, it := range p.Items {
			got = append(got, it.SessionID)
		}
		if p.NextCursor == "" {
			break
		}
		url = e.URL + "/api/feedback?limit=2&cursor=" + p.NextCursor
	}
	want := []string{ids[4], ids[3], ids[2], ids[1], ids[0]}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pages: got %v want %v", got, want)
	}
	r := do(t, "GET", e.URL+"/api/feedback?status=completed", keyA, "", nil)
	var p page
	r.data(t, &p)
	if len(p.Items) != 1 || p.Items[0].SessionID != ids[1] || p.Items[0].SubmittedAt == "" {
		t.Fatalf("completed filter: %s", r.Raw)
	}
	for _, q := range []string{"?limit=0", "?limit=00", "?limit=0x", "?limit=101", "?limit=-1", "?status=done", "?cursor=%%%", "?cursor=Zm9v", "?limit=99999999999999999999"} {
		r := do(t, "GET", e.URL+"/api/feedback"+q, keyA, "", nil)
		if r.Status != 400 || r.code() != "INVALID_REQUEST" {
			t.Fatalf("list %s: %d %s", q, r.Status, r.Raw)
		}
		if strings.HasPrefix(q, "?limit=") && r.Body.Error.Details.Field != "limit" {
			t.Fatalf("list %s names field %q", q, r.Body.Error.Details.Field)
		}
	}
}

func TestResultWaitQueryValidation(t *testing.T) {
	t.Parallel()
	e, _ := newREST(t)
	id := e.create(t, keyA, map[string]any{"message": "q"})
	for _, w := range []string{"-1", "61", "abc", "1.5", "1e3", "99999999999999999999"} {
		if r := do(t, "GET", e.URL+"/api/feedback/"+id+"/result?wait="+w, keyA, "", nil); r.Status != 400 || r.Body.Error.Details.Field != "wait" {
			t.Fatalf("wait=%s: %d %s", w, r.Status, r.Raw)
		}
	}
	start := time.Now()
	if r := do(t, "GET", e.URL+"/api/feedback/"+id+"/result?wait=1", keyA, "", nil); r.Status != 404 || r.code() != "NO_FEEDBACK_AVAILABLE" || time.Since(start) < time.Second {
		t.Fatalf("wait=1 without answer: %d %s after %s", r.Status, r.Raw, time.Since(start))
	}
}

func TestLongPollIsAnsweredBySubmitFromAnotherGoroutine(t *testing.T) {
	t.Parallel()
	e, _ := newREST(t)
	id := e.create(t, keyA, map[string]any{"message": "q"})
	got := make(chan *reply, 1)
	go func() { got <- do(t, "GET", e.URL+"/api/feedback/"+id+"/result?wait=30", keyA, "", nil) }()
	waitingOn(t, e, 1)
	if r := e.submit(t, id, map[string]any{"freeText": "answer"}); r.Status != 200 {
		t.Fatal(r.Status)
	}
	select {
	case r := <-got:
		if r.Status != 200 || !strings.Contains(string(r.Raw), `"combinedFeedback":"answer"`) {
			t.Fatalf("long poll: %d %s", r.Status, r.Raw)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("long poll was not woken by the submit")
	}
}

func TestFiftyConcurrentSubmitsExactlyOneWins(t *testing.T) {
	t.Parallel()
	e, _ := newREST(t)
	id := e.create(t, keyA, map[string]any{"message": "q", "predefinedOptions": []string{"a", "b"}})
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[int]int{}
	for i := range 50 {
		wg.Go(func() {
			r := e.submit(t, id, map[string]any{"selectedOptions": []string{[]string{"a", "b"}[i%2]}})
			mu.Lock()
			counts[r.Status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if counts[200] != 1 || counts[409] != 49 {
		t.Fatalf("statuses: %v", counts)
	}
}

func TestSubmitRacingCancelHasOneWinner(t *testing.T) {
	t.Parallel()
	e, _ := newREST(t)
	for range 10 {
		id := e.create(t, keyA, map[string]any{"message": "q"})
		var sub, can *reply
		var wg sync.WaitGroup
		wg.Go(func() { sub = e.submit(t, id, map[string]any{"freeText": "x"}) })
		wg.Go(func() { can = do(t, "POST", e.URL+"/api/feedback/"+id+"/cancel", keyA, "", nil) })
		wg.Wait()
		switch {
		case sub.Status == 200 && can.Status == 409 && can.code() == "ALREADY_SUBMITTED":
		case can.Status == 200 && sub.Status == 410 && sub.code() == "SESSION_CANCELLED":
		default:
			t.Fatalf("submit %d %s / cancel %d %s", sub.Status, sub.Raw, can.Status, can.Raw)
		}
	}
}

func TestTwoEdgesOnOneNATS(t *testing.T) {
	t.Parallel()
	ns := programtest.StartNATS(t)
	e1, e2 := runEdge(t, ns.URL), runEdge(t, ns.URL)
	id := e1.create(t, keyA, map[string]any{"message": "across replicas"})
	got := make(chan *reply, 1)
	go func() { got <- do(t, "GET", e1.URL+"/api/feedback/"+id+"/result?wait=30", keyA, "", nil) }()
	waitingOn(t, e1, 1)
	if r := e2.submit(t, id, map[string]any{"freeText": "from edge 2"}); r.Status != 200 {
		t.Fatalf("submit on edge 2: %d %s", r.Status, r.Raw)
	}
	select {
	case r := <-got:
		if r.Status != 200 || !strings.Contains(string(r.Raw), "from edge 2") {
			t.Fatalf("result on edge 1: %d %s", r.Status, r.Raw)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("edge 1's wait never saw edge 2's submit")
	}
}

// feedbackd serve stopped and started again on its data directory, as on a
// laptop: nothing answered or asked is lost.
func TestPersistenceAcrossRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := programtest.MustRunMain(t, programtest.DataDir(dir))
	e := &restEdge{URL: m.URL()}
	id := e.create(t, keyA, map[string]any{"message": "survive a restart"})
	if r := e.submit(t, id, map[string]any{"freeText": "kept"}); r.Status != 200 {
		t.Fatal(r.Status)
	}
	pending := e.create(t, keyA, map[string]any{"message": "still pending"})
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	http.DefaultClient.CloseIdleConnections()

	e2 := &restEdge{URL: programtest.MustRunMain(t, programtest.DataDir(dir)).URL()}
	if r := do(t, "GET", e2.URL+"/api/feedback/"+id+"/result", keyA, "", nil); r.Status != 200 || !strings.Contains(string(r.Raw), "kept") {
		t.Fatalf("after restart: %d %s", r.Status, r.Raw)
	}
	if r := e2.submit(t, pending, map[string]any{"freeText": "after restart"}); r.Status != 200 {
		t.Fatalf("submit after restart: %d %s", r.Status, r.Raw)
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	e, ns := newREST(t)
	r := do(t, "GET", e.URL+"/health", "", "", nil)
	var h struct{ Status, Timestamp, Service, Version string }
	if err := json.Unmarshal(r.Raw, &h); err != nil || r.Status != 200 || h.Status != "ok" || h.Service == "" || h.Version != "test" {
		t.Fatalf("health: %d %s", r.Status, r.Raw)
	}
	if strings.Contains(string(r.Raw), `"success"`) {
		t.Fatalf("health must be flat: %s", r.Raw)
	}
	outage(t, ns, e.m)
	r = do(t, "GET", e.URL+"/health", "", "", nil)
	if r.Status != 503 || !strings.Contains(string(r.Raw), `"degraded"`) {
		t.Fatalf("health without NATS: %d %s", r.Status, r.Raw)
	}
	// Storage errors are 503 SERVICE_UNAVAILABLE, never 500.
	r = do(t, "POST", e.URL+"/api/feedback/create", keyA, ctJSON, []byte(`{"message":"q"}`))
	if r.Status != 503 || r.code() != "SERVICE_UNAVAILABLE" {
		t.Fatalf("create without NATS: %d %s", r.Status, r.Raw)
	}
}

// A session cancelled with a reason (a person declining an MCP client's
// form) says why in its status, its list entry and its result's error; a
// plain cancel says nothing more than before.
func TestCancelReasonShowsInStatusListAndResult(t *testing.T) {
	t.Parallel()
	e, _ := newREST(t)
	declined := e.create(t, keyA, map[string]any{"message": "Declined"})
	plain := e.create(t, keyA, map[string]any{"message": "Plain"})
	if _, err := e.Svc.CancelFor(context.Background(), "key:"+auth.Fingerprint(keyA), declined, "declined by the person"); err != nil {
		t.Fatal(err)
	}
	if r := do(t, "POST", e.URL+"/api/feedback/"+plain+"/cancel", keyA, "", nil); r.Status != 200 || strings.Contains(string(r.Raw), "cancelReason") {
		t.Fatalf("plain cancel: %d %s", r.Status, r.Raw)
	}
	var st struct{ Status, CancelReason string }
	r := do(t, "GET", e.URL+"/api/feedback/"+declined+"/status", keyA, "", nil)
	r.data(t, &st)
	if st.Status != "cancelled" || st.CancelReason != "declined by the person" {
		t.Fatalf("status: %s", r.Raw)
	}
	if r := do(t, "GET", e.URL+"/api/feedback/"+plain+"/status", keyA, "", nil); strings.Contains(string(r.Raw), "cancelReason") {
		t.Fatalf("plain status: %s", r.Raw)
	}
	var list struct {
		Items []struct{ SessionID, CancelReason string }
	}
	r = do(t, "GET", e.URL+"/api/feedback?status=cancelled", keyA, "", nil)
	r.data(t, &list)
	reasons := map[string]string{}
	for _, it := range list.Items {
		reasons[it.SessionID] = it.CancelReason
	}
	if len(reasons) != 2 || reasons[declined] != "declined by the person" || reasons[plain] != "" {
		t.Fatalf("list: %s", r.Raw)
	}
	if r := do(t, "GET", e.URL+"/api/feedback/"+declined+"/result", keyA, "", nil); r.Status != 410 || r.code() != "SESSION_CANCELLED" ||
		!strings.Contains(string(r.Raw), "declined by the person") {
		t.Fatalf("result: %d %s", r.Status, r.Raw)
	}
}
