package edge_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/feedbackd/feedbackd/cmd/feedbackd/program"
	"github.com/feedbackd/feedbackd/cmd/feedbackd/program/programtest"
	"github.com/feedbackd/feedbackd/pkg/httpbridge"
	"github.com/feedbackd/feedbackd/pkg/requestid"
)

// logBuffer collects every log line of an edge, safely across goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// lines decodes the JSON log lines.
func (l *logBuffer) lines(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		out = append(out, m)
	}
	return out
}

// observedEdge is an edge with its JSON log at debug level captured in
// Logs.
type observedEdge struct {
	URL  string
	Logs *logBuffer
	m    *program.Main
}

// runObserved runs an edge against natsURL whose log the test reads.
func runObserved(t testing.TB, natsURL string, opts ...programtest.Option) *observedEdge {
	t.Helper()
	logs := &logBuffer{}
	opts = append([]programtest.Option{programtest.Logs(logs), programtest.Env("LOG_FORMAT", "json"), programtest.Env("LOG_LEVEL", "debug")}, opts...)
	e := runEdge(t, natsURL, opts...)
	return &observedEdge{URL: e.URL, Logs: logs, m: e.m}
}

func newObserved(t testing.TB) (*observedEdge, *programtest.Server) {
	ns := programtest.StartNATS(t)
	return runObserved(t, ns.URL), ns
}

// send sends a request with the given headers.
func sendMap(t testing.TB, method, url string, hdr map[string]string, body []byte) *reply {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	r := &reply{Status: res.StatusCode, Header: res.Header}
	r.Raw, _ = io.ReadAll(res.Body)
	return r
}

// scrape reads /metrics and parses it.
func scrape(t testing.TB, base string) map[string]*dto.MetricFamily {
	t.Helper()
	r := do(t, "GET", base+"/metrics", "", "", nil)
	if r.Status != 200 {
		t.Fatalf("/metrics: %d %s", r.Status, r.Raw)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(r.Raw))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// sample is the value of the series of name whose labels include want: a
// counter's or gauge's value, a histogram's observation count. Series that
// do not exist yet read as 0.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
	var sum float64
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, lp := range m.GetLabel() {
			labels[lp.GetName()] = lp.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		}
	}
	return sum
}

func TestMetricsMoveAsRequestsAreServed(t *testing.T) {
	e, _ := newObserved(t)
	rest := &restEdge{URL: e.URL}
	requests := func(route, method, status string) map[string]string {
		return map[string]string{"route": route, "method": method, "status": status}
	}
	type probe struct {
		name   string
		labels map[string]string
		delta  float64
	}
	probes := []probe{
		{"feedbackd_http_requests_total", requests("/api/feedback/create", "POST", "201"), 2},
		{"feedbackd_http_requests_total", requests("/api/feedback/:id/submit", "POST", "200"), 1},
		{"feedbackd_http_requests_total", requests("/api/feedback/:id/submit", "POST", "409"), 1},
		{"feedbackd_http_requests_total", requests("/api/feedback/:id/status", "GET", "200"), 1},
		{"feedbackd_http_requests_total", requests("/api/feedback/:id/cancel", "POST", "200"), 1},
		{"feedbackd_http_requests_total", requests("/api/feedback/:id/result", "GET", "200"), 1},
		{"feedbackd_http_requests_total", requests("/api/feedback/create", "POST", "401"), 1},
		{"feedbackd_http_requests_total", requests("/api/feedback/create", "DELETE", "405"), 1},
		{"feedbackd_http_requests_total", requests("/api/*", "GET", "404"), 1},
		{"feedbackd_http_requests_total", requests("/*", "GET", "404"), 1},
		{"feedbackd_http_request_duration_seconds", map[string]string{"route": "/api/feedback/create", "method": "POST"}, 3},
		{"feedbackd_sessions_created_total", nil, 2},
		{"feedbackd_sessions_finished_total", map[string]string{"status": "completed"}, 1},
		{"feedbackd_sessions_finished_total", map[string]string{"status": "cancelled"}, 1},
		{"feedbackd_sessions_time_to_answer_seconds", nil, 1},
	}
	before := scrape(t, e.URL)

	answered := rest.create(t, keyA, map[string]any{"message": "metrics?", "predefinedOptions": []string{"yes"}})
	cancelled := rest.create(t, keyA, map[string]any{"message": "cancel me"})
	if r := rest.submit(t, answered, map[string]any{"selectedOptions": []string{"yes"}}); r.Status != 200 {
		t.Fatalf("submit: %d %s", r.Status, r.Raw)
	}
	if r := rest.submit(t, answered, map[string]any{"freeText": "again"}); r.Status != 409 {
		t.Fatalf("second submit: %d %s", r.Status, r.Raw)
	}
	for _, c := range []struct {
		method, path, key string
		status            int
	}{
		{"GET", "/api/feedback/" + answered + "/status", keyA, 200},
		{"GET", "/api/feedback/" + answered + "/result?wait=5", keyA, 200},
		{"POST", "/api/feedback/" + cancelled + "/cancel", keyA, 200},
		{"POST", "/api/feedback/create", "", 401},
		{"DELETE", "/api/feedback/create", keyA, 405},
		{"GET", "/api/no/such/route", keyA, 404},
		{"GET", "/no-such-page-" + answered, "", 404},
	} {
		if r := do(t, c.method, e.URL+c.path, c.key, ctJSON, nil); r.Status != c.status {
			t.Fatalf("%s %s: %d %s", c.method, c.path, r.Status, r.Raw)
		}
	}

	after := scrape(t, e.URL)
	for _, p := range probes {
		if got := sample(after, p.name, p.labels) - sample(before, p.name, p.labels); got != p.delta {
			t.Errorf("%s%v moved by %v, want %v", p.name, p.labels, got, p.delta)
		}
	}
	if got := sample(after, "feedbackd_sessions_waits_in_flight", nil); got != 0 {
		t.Errorf("waits in flight after every wait ended: %v", got)
	}
	// Labels are route patterns: no raw path, so no session id, ever.
	raw := do(t, "GET", e.URL+"/metrics", "", "", nil).Raw
	for _, id := range []string{answered, cancelled} {
		if bytes.Contains(raw, []byte(id)) {
			t.Fatalf("a session id leaked into /metrics")
		}
	}
}

func TestMetricsWaitInFlightIsCountedWhileALongPollWaits(t *testing.T) {
	e, _ := newObserved(t)
	rest := &restEdge{URL: e.URL}
	id := rest.create(t, keyA, map[string]any{"message": "wait for me"})
	base := sample(scrape(t, e.URL), "feedbackd_sessions_waits_in_flight", nil)
	done := make(chan *reply, 1)
	go func() { done <- do(t, "GET", e.URL+"/api/feedback/"+id+"/result?wait=20", keyA, "", nil) }()
	programtest.WaitFor(t, 10*time.Second, programtest.Until("the long poll to show as a wait in flight", func() bool {
		return sample(scrape(t, e.URL), "feedbackd_sessions_waits_in_flight", nil) == base+1
	}))
	if r := rest.submit(t, id, map[string]any{"freeText": "here"}); r.Status != 200 {
		t.Fatalf("submit: %d %s", r.Status, r.Raw)
	}
	if r := <-done; r.Status != 200 {
		t.Fatalf("long poll: %d %s", r.Status, r.Raw)
	}
	if got := sample(scrape(t, e.URL), "feedbackd_sessions_waits_in_flight", nil); got != base {
		t.Fatalf("waits in flight after the poll returned: %v, want %v", got, base)
	}
}

func TestMetricsEndpointHasNoCORSAndCanBeTurnedOff(t *testing.T) {
	t.Parallel()
	e, ns := newObserved(t)
	r := sendMap(t, "GET", e.URL+"/metrics", map[string]string{"Origin": "https://evil.example"}, nil)
	if r.Status != 200 || r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("/metrics: %d, ACAO %q", r.Status, r.Header.Get("Access-Control-Allow-Origin"))
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics content type %q", r.Header.Get("Content-Type"))
	}
	if r := do(t, "POST", e.URL+"/metrics", "", ctJSON, nil); r.Status != 405 {
		t.Fatalf("POST /metrics: %d", r.Status)
	}
	// With METRICS_ADDR, /metrics is served there and not on the public
	// listener.
	off := runObserved(t, ns.URL, programtest.Env("METRICS_ADDR", "127.0.0.1:0"))
	if r := do(t, "GET", off.URL+"/metrics", "", "", nil); r.Status != 404 {
		t.Fatalf("/metrics on the public listener with METRICS_ADDR: %d", r.Status)
	}
	if r := do(t, "GET", off.m.OpsURL()+"/metrics", "", "", nil); r.Status != 200 || !bytes.Contains(r.Raw, []byte("feedbackd_http_requests_total")) {
		t.Fatalf("/metrics on METRICS_ADDR: %d", r.Status)
	}
}

func TestReadyFollowsNATSAwayAndBack(t *testing.T) {
	ns := programtest.StartNATS(t)
	e := runObserved(t, ns.URL)

	ready := func() (int, map[string]string) {
		r := do(t, "GET", e.URL+"/ready", "", "", nil)
		var body map[string]string
		if err := json.Unmarshal(r.Raw, &body); err != nil {
			t.Fatalf("/ready body %q", r.Raw)
		}
		return r.Status, body
	}
	waitReady := func(want int) map[string]string {
		t.Helper()
		var body map[string]string
		programtest.WaitFor(t, 20*time.Second, func() error {
			var status int
			if status, body = ready(); status != want {
				return fmt.Errorf("/ready is %d %v, want %d", status, body, want)
			}
			return nil
		})
		return body
	}

	if body := waitReady(200); body["status"] != "ready" {
		t.Fatalf("ready body %v", body)
	}
	if got := sample(scrape(t, e.URL), "feedbackd_nats_connected", nil); got != 1 {
		t.Fatalf("nats_connected %v while connected", got)
	}

	ns.Stop()
	body := waitReady(503)
	if body["status"] != "not ready" || body["reason"] == "" {
		t.Fatalf("not-ready body %v", body)
	}
	if got := sample(scrape(t, e.URL), "feedbackd_nats_connected", nil); got != 0 {
		t.Fatalf("nats_connected %v while NATS is down", got)
	}
	// Liveness stays what docs/api.md, "Health and operations", says:
	// degraded, not a different contract.
	if r := do(t, "GET", e.URL+"/health", "", "", nil); r.Status != 503 {
		t.Fatalf("/health while NATS is down: %d", r.Status)
	}

	ns.Start()
	if body := waitReady(200); body["status"] != "ready" || body["reason"] != "" {
		t.Fatalf("ready again: %v", body)
	}
	fams := scrape(t, e.URL)
	if sample(fams, "feedbackd_nats_connected", nil) != 1 || sample(fams, "feedbackd_nats_reconnects_total", nil) < 1 {
		t.Fatalf("after reconnect: connected %v, reconnects %v",
			sample(fams, "feedbackd_nats_connected", nil), sample(fams, "feedbackd_nats_reconnects_total", nil))
	}
}

func TestRequestIDIsEchoedOrGenerated(t *testing.T) {
	t.Parallel()
	e, _ := newObserved(t)
	cases := []struct {
		name, offered string
		kept          bool
	}{
		{"valid id is echoed", "trace-01.abc_DEF", true},
		{"128 characters are kept", strings.Repeat("a", 128), true},
		{"absent", "", false},
		{"129 characters are replaced", strings.Repeat("a", 129), false},
		{"spaces are replaced", "a b", false},
		{"markup is replaced", "<script>", false},
		{"quotes are replaced", `x"y`, false},
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tc.offered != "" {
				hdr["X-Request-ID"] = tc.offered
			}
			r := sendMap(t, "GET", e.URL+"/health", hdr, nil)
			got := r.Header.Get("X-Request-ID")
			if tc.kept {
				if got != tc.offered {
					t.Fatalf("echoed %q, want %q", got, tc.offered)
				}
				return
			}
			if got == tc.offered || len(got) != 32 || strings.Trim(got, "0123456789abcdef") != "" {
				t.Fatalf("generated id %q", got)
			}
			if seen[got] {
				t.Fatalf("id %q generated twice", got)
			}
			seen[got] = true
		})
	}
	// Error responses carry it too.
	r := sendMap(t, "POST", e.URL+"/api/feedback/create", map[string]string{"X-Request-ID": "rid-401"}, nil)
	if r.Status != 401 || r.Header.Get("X-Request-ID") != "rid-401" {
		t.Fatalf("401: %d id %q", r.Status, r.Header.Get("X-Request-ID"))
	}
}

func TestRequestIDAppearsInAccessAndHandlerLogs(t *testing.T) {
	t.Parallel()
	e, ns := newObserved(t)
	r := sendMap(t, "POST", e.URL+"/api/feedback/create",
		map[string]string{"X-Request-ID": "rid-created", "X-API-Key": keyA, "Content-Type": ctJSON}, []byte(`{"message":"log me"}`))
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	// Storage unreachable: the handler logs the cause, at error, with the id.
	outage(t, ns, e.m)
	r = sendMap(t, "POST", e.URL+"/api/feedback/create",
		map[string]string{"X-Request-ID": "rid-failed", "X-API-Key": keyA, "Content-Type": ctJSON}, []byte(`{"message":"log me"}`))
	if r.Status != 503 {
		t.Fatalf("create without NATS: %d %s", r.Status, r.Raw)
	}

	var access, failed map[string]any
	for _, l := range e.Logs.lines(t) {
		switch {
		case l["msg"] == "http request" && l["request_id"] == "rid-created":
			access = l
		case l["msg"] == "request failed" && l["request_id"] == "rid-failed":
			failed = l
		}
	}
	if access == nil {
		t.Fatalf("no access line with the request id in:\n%s", e.Logs)
	}
	if access["method"] != "POST" || access["route"] != "/api/feedback/create" || access["status"] != float64(201) ||
		access["client_ip"] != "127.0.0.1" || access["bytes"].(float64) <= 0 || access["duration_ms"] == nil {
		t.Fatalf("access line %v", access)
	}
	if failed == nil {
		t.Fatalf("no handler error line with the request id in:\n%s", e.Logs)
	}
}

func TestLogsNeverContainCredentials(t *testing.T) {
	t.Parallel()
	e, ns := newObserved(t)
	rest := &restEdge{URL: e.URL}
	const (
		wrongKey = "wrong-key-5f3a9c1e7b2d4f6a8c0e1b3d5f7a9c1e"
		jwt      = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXRoYXQtbXVzdC1ub3QtbGVhaw"
		wsToken  = "ws-token-0f1e2d3c4b5a69788796a5b4c3d2e1f0"
	)
	secrets := []string{keyA, keyB, wrongKey, jwt, wsToken}
	id := rest.create(t, keyA, map[string]any{"message": "secrets?"})
	body := []byte(`{"message":"q"}`)
	requests := []struct {
		method, path string
		hdr          map[string]string
		body         []byte
	}{
		{"POST", "/api/feedback/create", map[string]string{"X-API-Key": keyA, "Content-Type": ctJSON}, body},
		{"POST", "/api/feedback/create", map[string]string{"Authorization": "ApiKey " + keyB, "Content-Type": ctJSON}, body},
		{"POST", "/api/feedback/create", map[string]string{"X-API-Key": wrongKey, "Content-Type": ctJSON}, body},
		{"POST", "/api/feedback/create", map[string]string{"Authorization": "ApiKey " + wrongKey, "Content-Type": ctJSON}, body},
		{"POST", "/api/feedback/create", map[string]string{"Authorization": "Bearer " + jwt, "Content-Type": ctJSON}, body},
		{"POST", "/api/feedback/create", map[string]string{"Authorization": jwt, "Content-Type": ctJSON}, body},
		{"GET", "/api/feedback?apiKey=" + keyA, nil, nil},
		{"GET", "/api/feedback?limit=5&api_key=" + keyB + "&token=" + wsToken, map[string]string{"X-API-Key": keyA}, nil},
		{"GET", "/api/feedback/" + id + "/status?apiKey=" + wrongKey, map[string]string{"X-API-Key": keyA}, nil},
		{"GET", "/ws/" + id + "?apiKey=" + keyA + "&clientType=app", nil, nil},
		{"GET", "/ws?token=" + wsToken, nil, nil},
		{"GET", "/feedback/" + id + "?access_token=" + jwt + "&lang=en", nil, nil},
		{"GET", "/api/feedback?APIKEY=" + keyB, map[string]string{"X-API-Key": keyB}, nil},
		{"POST", "/api/feedback/" + id + "/cancel", map[string]string{"X-API-Key": keyA}, nil},
	}
	run := func() {
		for _, rq := range requests {
			sendMap(t, rq.method, e.URL+rq.path, rq.hdr, rq.body)
		}
	}
	run()
	// And again while storage is down, when handlers log errors.
	outage(t, ns, e.m)
	run()

	logs := e.Logs.String()
	if !strings.Contains(logs, `"msg":"http request"`) || !strings.Contains(logs, "REDACTED") {
		t.Fatalf("expected access lines with redacted queries, got:\n%s", logs)
	}
	if !strings.Contains(logs, "clientType=app") || !strings.Contains(logs, "limit=5") {
		t.Fatalf("harmless query values should stay readable:\n%s", logs)
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("a credential (%.12s…) appears in the logs", s)
		}
	}
}

func TestRequestIDReachesNetHTTPHandlersMountedThroughTheBridge(t *testing.T) {
	t.Parallel()
	seen := make(chan string, 1)
	mountedLogs := &logBuffer{}
	bridge := httpbridge.New()
	t.Cleanup(bridge.Close)
	e := runObserved(t, programtest.StartNATS(t).URL, programtest.EdgeApp(func(app *fiber.App) {
		app.Get("/mounted", bridge.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen <- requestid.FromContext(r.Context())
			slog.New(requestid.NewHandler(slog.NewJSONHandler(mountedLogs, nil))).InfoContext(r.Context(), "mounted handler")
			w.WriteHeader(http.StatusNoContent)
		}), nil))
	}))
	r := sendMap(t, "GET", e.URL+"/mounted", map[string]string{"X-Request-ID": "rid-mounted"}, nil)
	if id := <-seen; r.Status != 204 || id != "rid-mounted" {
		t.Fatalf("status %d, id seen by the net/http handler %q", r.Status, id)
	}
	if !strings.Contains(mountedLogs.String(), `"request_id":"rid-mounted"`) {
		t.Fatalf("the mounted handler's log line lacks the id: %s", mountedLogs)
	}
}
